//! Per-message hot paths of the server, each next to a baseline measured in
//! the same run: verifying a token (every HTTP request and WebSocket
//! upgrade) against a bare HashMap lookup of the token; parsing a rider's
//! location frame against serde_json's parse into a `Value` (the floor);
//! an outbox push + ack against a bare VecDeque push + pop.
//!
//! Run: `cargo bench --bench serve`. The end-to-end figures (10k riders,
//! ETA polling with wrk) come from `waimai load` and benches/serve/poll.sh.

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;

use criterion::Criterion;
use waimai::engine::RiderId;
use waimai::wire::auth::{Role, Tokens};
use waimai::wire::outbox::Outbox;
use waimai::wire::protocol::{ServerMessage, StopView, parse_rider_message};

fn tokens(c: &mut Criterion) {
    let t = Tokens::new("a-benchmark-secret-of-length");
    let token = t.issue(&Role::Merchant("r17".into())).unwrap();
    let table: HashMap<String, Role> = (0..10_000)
        .map(|i| (format!("token-{i}"), Role::Rider(RiderId(i))))
        .chain([(token.clone(), Role::Merchant("r17".into()))])
        .collect();
    let mut g = c.benchmark_group("token");
    g.bench_function("verify_hmac", |b| b.iter(|| t.verify(black_box(&token))));
    g.bench_function("baseline_hashmap_lookup", |b| {
        b.iter(|| table.get(black_box(&token)).cloned())
    });
    g.finish();
}

fn frames(c: &mut Criterion) {
    let frame = r#"{"v":1,"type":"location","lat":43.7351,"lng":7.4181,"heading_deg":90.5,"speed_mps":4.2,"at_ms":1795382400000}"#;
    let mut g = c.benchmark_group("rider_frame");
    g.bench_function("parse_location", |b| {
        b.iter(|| parse_rider_message(black_box(frame)))
    });
    g.bench_function("baseline_json_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(frame)))
    });
    g.finish();
}

fn outbox(c: &mut Criterion) {
    let stop = StopView {
        order: "17".into(),
        kind: "dropoff".into(),
        lat: 43.73,
        lng: 7.42,
        eta_secs: 1_795_383_540,
    };
    let message = ServerMessage::RouteUpdate {
        assignment: 3,
        stops: vec![stop.clone(), stop],
    };
    let mut g = c.benchmark_group("outbox");
    let mut o = Outbox::new(1024);
    g.bench_function("push_serialise_ack", |b| {
        b.iter(|| {
            let frame = o.push(black_box(message.clone())).unwrap();
            let json = serde_json::to_string(frame).unwrap();
            let seq = frame.seq;
            o.ack(seq).unwrap();
            json
        })
    });
    let mut q = VecDeque::new();
    g.bench_function("baseline_clone_serialise_vecdeque", |b| {
        b.iter(|| {
            q.push_back(black_box(message.clone()));
            let json = serde_json::to_string(&q[0]).unwrap();
            q.pop_front();
            json
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    tokens(&mut c);
    frames(&mut c);
    outbox(&mut c);
    c.final_summary();
}
