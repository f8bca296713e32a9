//! kill -9 under load: the real binary serves merchants posting orders
//! and riders taking, picking up and delivering them; it is killed at a
//! random moment and restarted on the same journal, again and again.
//! Nothing acknowledged may be lost: every order a merchant got a 2xx for
//! exists, and every order a rider was sent is still that rider's.
//!
//! Rounds: `KILL_ROUNDS` (default 5; scripts/kill-restart runs 20).

use crate::common;
use crate::common::process::Served;

use crate::common::load::*;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use waimai::wire::auth::{Role, Tokens};

/// Starts the binary on `dir` with `tick_secs` between dispatch ticks.
fn start(dir: &Path, tick_secs: u64) -> Served {
    let tick = tick_secs.to_string();
    common::process::serve_binary(
        dir,
        &[
            ("WAIMAI_SERVER__TICK_SECS", &tick),
            // Engine time 30x the wall: a round of seconds is minutes of
            // lunch, so trips are committed, picked up and delivered in it.
            ("WAIMAI_SERVER__CLOCK_SPEED", "30"),
            ("WAIMAI_SERVER__SECRET", SECRET),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_across_kill_9_restarts() {
    let rounds: usize = std::env::var("KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = common::serve::tempdir("kill9");
    let tokens = Tokens::new(SECRET);
    let operator = tokens.issue(&Role::Operator).unwrap();
    let told = Arc::new(Mutex::new(Told::default()));
    let mut delivered_total = 0;
    for round in 0..rounds {
        // Everything told before the previous kill is still there, as the
        // journal left it: this server plans nothing (its first tick is an
        // hour away), so nothing lost could be quietly redone.
        let mut check = start_on(&dir, 3600).await;
        verify(&check.addr, &operator, &told).await;
        check.child.kill().unwrap();
        let _ = check.child.wait();
        let mut server = start_on(&dir, 1).await;
        let mut tasks = load(&server.addr, &tokens, round, &told);
        // Kill at a moment that varies from round to round.
        tokio::time::sleep(Duration::from_millis(1500 + (round as u64 * 577) % 1500)).await;
        server.child.kill().expect("kill -9");
        let _ = server.child.wait();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        delivered_total = told.lock().unwrap().to_rider.len();
    }
    let server = start_on(&dir, 3600).await;
    let (orders, sent) = verify(&server.addr, &operator, &told).await;
    let mut child = server.child;
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "{rounds} kill -9 rounds: {orders} acknowledged orders and {sent} orders sent to riders, none lost"
    );
    assert!(orders > rounds * 5, "the load placed only {orders} orders");
    assert!(
        sent > rounds,
        "riders were sent only {sent} orders ({delivered_total})"
    );
}

async fn start_on(dir: &Path, tick_secs: u64) -> Served {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || start(&dir, tick_secs))
        .await
        .unwrap()
}
