//! A master of the Redis Cluster dies under load: merchants post orders,
//! riders take and deliver them, and the master that holds the zone's
//! journal slot is killed (SIGKILL). A replica is promoted, the dead node
//! comes back as a replica, and the same process goes on serving; then the
//! process itself is killed and restarted on the journal. Nothing
//! acknowledged may be lost: every order answered 2xx exists, and every
//! order a rider was sent is still that rider's.
//!
//! Rounds: `FAILOVER_ROUNDS` (default 2). Each prints the time from the
//! master's SIGKILL to the first new order answered 2xx.

use crate::common;
use crate::common::load::*;
use crate::common::process::Served;
use crate::common::redis::{OwnCluster, kill_9, node, pid_of, slot_nodes};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use waimai::wire::auth::{Role, Tokens};

const JOURNAL_KEY: &str = "waimai:{journal:failover}";

/// Keys sealing customers' contact details, the same for every start.
static CRM_KEYS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| waimai::crm::crypto::FieldCipher::generate_spec("failover"));

fn start(dir: &Path, cluster: &str, tick_secs: u64) -> Served {
    let tick = tick_secs.to_string();
    common::process::serve_binary(
        dir,
        &[
            ("WAIMAI_CRM__STORE", "redis"),
            ("WAIMAI_CRM__REDIS_URL", cluster),
            ("WAIMAI_CRM__REDIS_PREFIX", "waimai:failover:crm"),
            ("WAIMAI_CRM__REDIS_WAIT_REPLICAS", "1"),
            ("WAIMAI_CRM__ENCRYPTION_KEYS", &CRM_KEYS),
            ("WAIMAI_SERVER__TICK_SECS", &tick),
            // Engine time 30x the wall, as in the kill -9 test.
            ("WAIMAI_SERVER__CLOCK_SPEED", "30"),
            ("WAIMAI_SERVER__SECRET", SECRET),
            ("WAIMAI_SERVER__STORE", "redis"),
            ("WAIMAI_SERVER__REDIS_URL", cluster),
            ("WAIMAI_SERVER__REDIS_KEY", JOURNAL_KEY),
            ("WAIMAI_SERVER__REDIS_WAIT_REPLICAS", "1"),
            ("WAIMAI_SERVER__REDIS_WAIT_MS", "1000"),
        ],
    )
}

async fn start_on(dir: &Path, cluster: &str, tick_secs: u64) -> Served {
    let (dir, cluster) = (dir.to_path_buf(), cluster.to_string());
    tokio::task::spawn_blocking(move || start(&dir, &cluster, tick_secs))
        .await
        .unwrap()
}

/// The journal slot's master as a live node other than `dead` sees it.
fn journal_master(cluster: &OwnCluster, dead: &str) -> Option<String> {
    cluster
        .nodes()
        .iter()
        .filter(|n| n.as_str() != dead)
        .find_map(|n| node(n).ok())
        .map(|mut c| slot_nodes(&mut c, JOURNAL_KEY).0)
}

/// Kills the journal's master; returns its address.
fn kill_journal_master(cluster: &OwnCluster) -> String {
    let dead = journal_master(cluster, "").expect("a master");
    kill_9(pid_of(&dead));
    dead
}

/// Waits until another node holds the journal's slot, and starts the dead
/// master again (it rejoins as a replica).
async fn promote_and_restart(cluster: &OwnCluster, dead: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while journal_master(cluster, dead).is_none_or(|m| m == dead) {
        if Instant::now() > deadline {
            let view = cluster
                .nodes()
                .iter()
                .filter(|n| n.as_str() != dead)
                .find_map(|n| node(n).ok())
                .and_then(|mut c| redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut c).ok());
            panic!("no replica of {dead} was promoted; the cluster says:\n{view:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.restart(dead);
}

/// Posts one order every 50 ms until one is answered 2xx; how long that took.
async fn first_served(addr: &str, tokens: &Tokens, round: usize, told: &Mutex<Told>) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let (r, lat, lng) = restaurants().swap_remove(0);
    let token = tokens.issue(&Role::Merchant(r.clone())).unwrap();
    for n in 0.. {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not serving a minute after the failover"
        );
        let body = json!({"restaurant": r, "customer": {"lat": lat - 0.004, "lng": lng + 0.002}, "ready_in_secs": 0});
        let res = client
            .post(format!("http://{addr}/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("probe{round}-{n}"))
            .timeout(Duration::from_secs(30))
            .json(&body)
            .send()
            .await;
        if let Ok(res) = res
            && res.status().is_success()
        {
            let card: serde_json::Value = res.json().await.unwrap();
            told.lock()
                .unwrap()
                .acked
                .insert(card["id"].as_u64().unwrap(), r.clone());
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_the_journal_master_dies() {
    let rounds: usize = std::env::var("FAILOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let cluster = OwnCluster::start("failover");
    let dir = common::serve::tempdir("failover");
    let tokens = Tokens::new(SECRET);
    let operator = tokens.issue(&Role::Operator).unwrap();
    let told = Arc::new(Mutex::new(Told::default()));
    let mut served_after = Vec::new();
    let mut points = 0;
    for round in 0..rounds {
        let mut server = start_on(&dir, &cluster.url, 1).await;
        let mut tasks = load(&server.addr, &tokens, round, &told);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let dead = kill_journal_master(&cluster);
        let probe = {
            let (addr, tokens, told) = (server.addr.clone(), tokens.clone(), told.clone());
            tokio::spawn(async move { first_served(&addr, &tokens, round, &told).await })
        };
        promote_and_restart(&cluster, &dead).await;
        served_after.push(probe.await.unwrap());
        // The same process goes on serving the load, then dies itself.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(server.child.try_wait().unwrap().is_none(), "the server exited");
        server.child.kill().expect("kill -9");
        let _ = server.child.wait();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let check = start_on(&dir, &cluster.url, 3600).await;
        verify(&check.addr, &operator, &told).await;
        points = verify_points(&check.addr, &operator).await;
        check.kill_9();
    }
    let (orders, sent) = {
        let t = told.lock().unwrap();
        (t.acked.len(), t.to_rider.len())
    };
    served_after.sort();
    println!(
        "{rounds} failovers: {orders} acknowledged orders, {sent} sent to riders, none lost; \
         {points} points earned, every ledger adds up to its balance; \
         SIGKILL of the journal's master to a new order served: {:?} (p50 {:?})",
        served_after,
        served_after[served_after.len() / 2]
    );
    assert!(orders > rounds * 5, "the load placed only {orders} orders");
    assert!(sent > 0, "riders were sent no order");
    assert!(points > 0, "no delivered order earned points");
}

/// The node ids and addresses of the masters, as `c` sees them.
fn masters(c: &mut redis::Connection) -> Vec<(String, String)> {
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(c).unwrap();
    nodes
        .lines()
        .filter(|l| l.contains("master") && !l.contains("fail"))
        .map(|l| {
            let mut f = l.split_whitespace();
            let id = f.next().unwrap().to_string();
            let addr = f.next().unwrap().split('@').next().unwrap().to_string();
            (id, addr)
        })
        .collect()
}

/// Moves `key`'s slot, with its keys, from its master to another, the way
/// `redis-cli --cluster reshard` does (IMPORTING, MIGRATING, MIGRATE,
/// SETSLOT NODE): clients see ASK while it moves and MOVED after.
fn move_slot(nodes: &[String], key: &str) {
    let mut any = node(&nodes[0]).unwrap();
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut any)
        .unwrap();
    let (from_addr, _) = slot_nodes(&mut any, key);
    let all = masters(&mut any);
    let from = all.iter().find(|(_, a)| *a == from_addr).unwrap().clone();
    let to = all.iter().find(|(_, a)| *a != from_addr).unwrap().clone();
    let (mut src, mut dst) = (node(&from.1).unwrap(), node(&to.1).unwrap());
    let setslot = |c: &mut redis::Connection, how: &str, id: &str| {
        let () = redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg(how)
            .arg(id)
            .query(c)
            .unwrap();
    };
    setslot(&mut dst, "IMPORTING", &from.0);
    setslot(&mut src, "MIGRATING", &to.0);
    let (host, port) = to.1.rsplit_once(':').unwrap();
    // Bounded: each pass moves up to 100 keys of a slot that only shrinks.
    for _ in 0..10_000 {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(100)
            .query(&mut src)
            .unwrap();
        if keys.is_empty() {
            break;
        }
        let () = redis::cmd("MIGRATE")
            .arg(host)
            .arg(port)
            .arg("")
            .arg(0)
            .arg(5_000)
            .arg("KEYS")
            .arg(&keys)
            .query(&mut src)
            .unwrap();
    }
    for (_, addr) in &all {
        let mut c = node(addr).unwrap();
        setslot(&mut c, "NODE", &to.0);
    }
}

/// The journal's slot moves to another master under load: the process
/// follows the redirects (no 5xx beyond a retry, no stop), and after a
/// kill -9 and a restart nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_the_journal_slot_moves() {
    let cluster = OwnCluster::start("reshard");
    let dir = common::serve::tempdir("reshard");
    let tokens = Tokens::new(SECRET);
    let operator = tokens.issue(&Role::Operator).unwrap();
    let told = Arc::new(Mutex::new(Told::default()));
    let mut server = start_on(&dir, &cluster.url, 1).await;
    let mut tasks = load(&server.addr, &tokens, 0, &told);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = told.lock().unwrap().acked.len();
    let nodes = cluster.nodes();
    tokio::task::spawn_blocking(move || move_slot(&nodes, JOURNAL_KEY))
        .await
        .unwrap();
    // Orders keep being acknowledged after the move.
    let deadline = Instant::now() + Duration::from_secs(20);
    while told.lock().unwrap().acked.len() < before + 20 {
        assert!(
            Instant::now() < deadline,
            "no orders acknowledged after the slot moved"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health: serde_json::Value = reqwest::get(format!("http://{}/health", server.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        health["journal"]["redis"]["redirects"].as_u64() > Some(0),
        "the move was never seen: {health}"
    );
    assert!(server.child.try_wait().unwrap().is_none(), "the server exited");
    server.child.kill().unwrap();
    let _ = server.child.wait();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let check = start_on(&dir, &cluster.url, 3600).await;
    let (orders, _) = verify(&check.addr, &operator, &told).await;
    verify_points(&check.addr, &operator).await;
    check.kill_9();
    println!("journal slot moved under load: {orders} acknowledged orders, none lost; {health}");
}
