//! Journal append latency: one merchant's batch (one record) made durable,
//! on the embedded file (fsync), a single Redis, and a Redis Cluster with
//! and without `WAIT 1` (the replica's confirmation before the 2xx), all
//! in the same run. Criterion reports the means; the p50/p99 of 2,000
//! plain appends each are printed after it, since the tail is the point.
//!
//! Run: `scripts/ensure-redis && scripts/ensure-redis-cluster`, then
//! `WAIMAI_BENCH_CLUSTER=$(scripts/ensure-redis-cluster) cargo bench --bench journal`.
//! Redis at `WAIMAI_BENCH_REDIS` (default redis://127.0.0.1:6379/); keys
//! `waimai:bench:{journal:*}` are deleted by nothing: a scratch server.

use std::time::{Duration, Instant};

use criterion::Criterion;
use waimai::kv::Acks;
use waimai::store::{Log, LogLocation};

const SAMPLES: usize = 2_000;

fn locations() -> Vec<(&'static str, LogLocation)> {
    let run = format!("{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    let dir = std::env::temp_dir().join(format!("waimai-bench-journal-{run}"));
    let key = |name: &str| format!("waimai:bench:{{journal:{name}-{run}}}");
    let single = std::env::var("WAIMAI_BENCH_REDIS").unwrap_or("redis://127.0.0.1:6379/".into());
    let mut at = vec![
        ("file_fsync", LogLocation::File(dir.join("journal.jsonl"))),
        (
            "redis_single",
            LogLocation::Redis {
                url: single,
                key: key("single"),
                acks: Acks::default(),
            },
        ),
    ];
    if let Ok(cluster) = std::env::var("WAIMAI_BENCH_CLUSTER") {
        at.push((
            "cluster_no_wait",
            LogLocation::Redis {
                url: cluster.clone(),
                key: key("nowait"),
                acks: Acks::default(),
            },
        ));
        at.push((
            "cluster_wait_1",
            LogLocation::Redis {
                url: cluster,
                key: key("wait"),
                acks: Acks {
                    replicas: 1,
                    timeout_ms: 1_000,
                },
            },
        ));
    }
    at
}

/// A record the size of an order's (about 300 bytes of JSON).
fn record(i: u64) -> serde_json::Value {
    serde_json::json!({"type": "placed", "order": i, "restaurant": "r17", "at_secs": 1_795_000_000 + i,
        "customer": {"lat": 43.7384, "lng": 7.4246}, "ready_in_secs": 600, "idempotency_key": format!("bench-{i}"),
        "crm": {"customer": "c-123456", "merchant": "m-17", "cents": 2_350}})
}

fn appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_append");
    g.measurement_time(Duration::from_secs(5));
    let mut tails = Vec::new();
    for (name, at) in locations() {
        let Ok((mut log, _)) = Log::open::<serde_json::Value>(&at) else {
            eprintln!("{name}: cannot open {at:?}, skipped");
            continue;
        };
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                log.append(&[record(i)]).expect("append")
            })
        });
        let mut micros: Vec<u128> = (0..SAMPLES as u64)
            .map(|n| {
                let started = Instant::now();
                log.append(&[record(1_000_000 + n)]).expect("append");
                started.elapsed().as_micros()
            })
            .collect();
        micros.sort_unstable();
        tails.push((name, micros[SAMPLES / 2], micros[SAMPLES * 99 / 100]));
    }
    g.finish();
    for (name, p50, p99) in tails {
        println!("journal_append/{name}: p50 {p50} us, p99 {p99} us over {SAMPLES} appends");
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    appends(&mut c);
    c.final_summary();
}
