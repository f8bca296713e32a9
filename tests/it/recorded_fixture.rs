//! A served day recorded as a fixture and replayed: every order the
//! server accepted appears in the replay exactly once.

use crate::common;

use std::collections::HashMap;

use serde_json::{Value, json};
use waimai::wire::auth::Role;

use common::serve::*;
use common::waimai_run as waimai;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_day_recorded_and_simulated_keeps_every_order_once() {
    let dir = tempdir("record");
    let server = spawn(&dir).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut ws = rider(&server, 1, 0).await;
    go_online(&mut ws, R2).await;
    let mut ids = Vec::new();
    for k in 0..4 {
        let body = json!({"restaurant": "r2", "customer": {"lat": CUSTOMER.0 + 0.001 * k as f64, "lng": CUSTOMER.1}, "ready_in_secs": 300 * k});
        let (status, card, _) = post(&server, &merchant, "/v1/orders", body, None).await;
        assert_eq!(status, 201, "{card}");
        ids.push(card["id"].as_u64().unwrap());
        if k == 0 {
            // The first order is ready now: its assignment shows the rider
            // is on shift (and journaled) before the day goes on.
            let m = next(&mut ws).await;
            assert_eq!(m["type"], "assignment", "{m}");
        }
    }
    let (status, card, _) = post(
        &server,
        &merchant,
        &format!("/v1/orders/{}/cancel", ids[3]),
        json!({"reason": "changed mind"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{card}");
    server.stop().await;

    let fixture = dir.join("day.jsonl");
    let out = waimai(&[
        "fixture",
        "record",
        "--journal",
        dir.to_str().unwrap(),
        "--out",
        fixture.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replay = dir.join("replay");
    let out = waimai(&[
        "simulate",
        "--quiet",
        "--fixture",
        fixture.to_str().unwrap(),
        "--out",
        replay.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(replay.join("orders.jsonl")).unwrap();
    let mut seen: HashMap<String, Value> = HashMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let name = v["order"].as_str().unwrap().to_string();
        assert!(
            seen.insert(name.clone(), v["status"].clone()).is_none(),
            "{name} twice"
        );
    }
    let want: Vec<String> = ids.iter().map(|id| format!("order{id}")).collect();
    let mut got: Vec<&String> = seen.keys().collect();
    got.sort();
    let mut want_sorted: Vec<&String> = want.iter().collect();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    assert_eq!(seen[&want[3]]["state"], "cancelled", "{:?}", seen[&want[3]]);
    assert_eq!(seen[&want[0]]["state"], "delivered", "{:?}", seen[&want[0]]);

    // A folder without a journal is a usage error, not a crash.
    let out = waimai(&[
        "fixture",
        "record",
        "--journal",
        "/nonexistent-waimai",
        "--out",
        "/tmp/x.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--journal"));
}
