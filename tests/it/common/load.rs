//! Load for tests that kill things: merchants posting orders and riders
//! taking, picking up and delivering them over real sockets, recording
//! what each was told, and the check that none of it was lost.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use waimai::engine::RiderId;
use waimai::sim::fixture::{Fixture, Line};
use waimai::wire::auth::{Role, Tokens};

pub const RIDERS: u64 = 10;
/// Customers the load's orders are for.
pub const CUSTOMERS: usize = 10;

/// The operator's secret, as production gives one (a loopback server would
/// otherwise make its own in the data dir).
pub const SECRET: &str = "durability-test-secret-of-at-least-32-bytes";

/// The first RIDERS restaurants of the fixture (riders wait at them).
pub fn restaurants() -> Vec<(String, f64, f64)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/monaco-lunch.jsonl");
    let fixture = Fixture::read(&path).unwrap();
    fixture
        .lines
        .iter()
        .filter_map(|(_, l)| match l {
            Line::Restaurant { id, lat, lng } => Some((id.clone(), *lat, *lng)),
            _ => None,
        })
        .take(RIDERS as usize)
        .collect()
}

/// What clients were told before a kill: acknowledged orders (id →
/// restaurant) and orders sent to riders (id → rider).
#[derive(Default)]
pub struct Told {
    pub acked: HashMap<u64, String>,
    pub to_rider: HashMap<u64, u64>,
    pub last_seq: HashMap<u64, u64>,
}

/// Merchants posting and every rider riding against the server at `addr`,
/// until the tasks are aborted.
pub fn load(addr: &str, tokens: &Tokens, round: usize, told: &Arc<Mutex<Told>>) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(post_orders(addr.to_string(), tokens.clone(), round, told.clone()));
    for (i, (_, lat, lng)) in restaurants().iter().enumerate() {
        tasks.spawn(ride(
            addr.to_string(),
            tokens.clone(),
            i as u64 + 1,
            (*lat, *lng),
            told.clone(),
        ));
    }
    tasks
}

pub async fn post_orders(addr: String, tokens: Tokens, round: usize, told: Arc<Mutex<Told>>) {
    let client = reqwest::Client::new();
    let rs = restaurants();
    for n in 0.. {
        // About 50 orders a second: a busy lunch for six riders.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (r, lat, lng) = &rs[n % rs.len()];
        let token = tokens.issue(&Role::Merchant(r.clone())).unwrap();
        // Ten regular customers: a delivered order earns them points.
        let body = json!({"restaurant": r, "customer": {"lat": lat - 0.004, "lng": lng + 0.002}, "ready_in_secs": 0,
                          "crm": {"customer_id": format!("c{}", n % CUSTOMERS), "order_ref": format!("round{round}-{n}"),
                                  "amount_cents": 1_000}});
        let res = client
            .post(format!("http://{addr}/v1/orders"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("round{round}-{n}"))
            .json(&body)
            .send()
            .await;
        let Ok(res) = res else { return };
        if res.status().is_success()
            && let Ok(card) = res.json::<Value>().await
        {
            told.lock()
                .unwrap()
                .acked
                .insert(card["id"].as_u64().unwrap(), r.clone());
        }
    }
}

pub async fn ride(addr: String, tokens: Tokens, rider: u64, at: (f64, f64), told: Arc<Mutex<Told>>) {
    let token = tokens.issue(&Role::Rider(RiderId(rider))).unwrap();
    let last = told.lock().unwrap().last_seq.get(&rider).copied().unwrap_or(0);
    let url = format!("ws://{addr}/v1/riders/ws?token={token}&last_seq={last}");
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
        return;
    };
    let send = |v: Value| Message::Text(v.to_string().into());
    let _ = ws
        .send(send(
            json!({"v": 1, "type": "location", "lat": at.0, "lng": at.1, "at_ms": 0}),
        ))
        .await;
    let _ = ws
        .send(send(json!({"v": 1, "type": "status", "status": "online"})))
        .await;
    while let Some(Ok(frame)) = ws.next().await {
        let Message::Text(t) = frame else { continue };
        let m: Value = serde_json::from_str(&t).unwrap();
        let seq = m["seq"].as_u64().unwrap();
        {
            let mut told = told.lock().unwrap();
            if seq <= told.last_seq.get(&rider).copied().unwrap_or(0) {
                continue;
            }
            told.last_seq.insert(rider, seq);
            if m["type"] == "assignment" || m["type"] == "route_update" {
                // A stop without an order is a move (repositioning).
                for s in m["stops"].as_array().unwrap() {
                    if let Some(order) = s["order"].as_str().and_then(|o| o.parse().ok()) {
                        told.to_rider.insert(order, rider);
                    }
                }
            }
        }
        let _ = ws.send(send(json!({"v": 1, "type": "ack", "seq": seq}))).await;
        // Odd riders pick up and deliver at once, to keep orders flowing;
        // even ones keep their trips assigned (on the way to the kitchen).
        if rider.is_multiple_of(2) {
            continue;
        }
        let stops = m["stops"].as_array().cloned().unwrap_or_default();
        if let Some(p) = stops.iter().find(|s| s["kind"] == "pickup") {
            let _ = ws
                .send(send(json!({"v": 1, "type": "picked_up", "order": p["order"]})))
                .await;
        }
        if stops.iter().all(|s| s["kind"] == "dropoff") {
            for s in &stops {
                let _ = ws
                    .send(send(json!({"v": 1, "type": "delivered", "order": s["order"]})))
                    .await;
            }
        }
    }
}

/// Checks every acknowledged order and every order sent to a rider;
/// returns how many of each.
pub async fn verify(addr: &str, operator: &str, told: &Mutex<Told>) -> (usize, usize) {
    let (acked, to_rider) = {
        let t = told.lock().unwrap();
        (t.acked.clone(), t.to_rider.clone())
    };
    let client = reqwest::Client::new();
    for (id, restaurant) in &acked {
        let res = client
            .get(format!("http://{addr}/v1/orders/{id}"))
            .bearer_auth(operator)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "acknowledged order {id} lost");
        let card: Value = res.json().await.unwrap();
        assert_eq!(card["restaurant"], restaurant.as_str());
    }
    for (id, rider) in &to_rider {
        let card = get_json(&client, &format!("http://{addr}/v1/orders/{id}"), operator).await;
        assert_ne!(
            card["state"], "open",
            "order {id} was sent to rider {rider} but is open again"
        );
        assert_eq!(card["rider"].as_u64(), Some(*rider), "order {id}: {card}");
    }
    (acked.len(), to_rider.len())
}

/// Every customer's points ledger adds up to its balance, and no order
/// earned twice: each delivered order was applied exactly once. Returns
/// the points earned in all.
pub async fn verify_points(addr: &str, operator: &str) -> i64 {
    let client = reqwest::Client::new();
    let mut earned_total = 0;
    for c in 0..CUSTOMERS {
        let customer = get_json(&client, &format!("http://{addr}/v1/customers/c{c}"), operator).await;
        let Some(balance) = customer["points"].as_i64() else {
            continue; // never delivered to
        };
        let mut sum = 0;
        let mut earned_by_order = HashMap::new();
        for page in 0.. {
            let url = format!(
                "http://{addr}/v1/customers/c{c}/ledger?offset={}&limit=500",
                page * 500
            );
            let entries: Vec<Value> =
                serde_json::from_value(get_json(&client, &url, operator).await).unwrap();
            for e in &entries {
                let points = e["points"].as_i64().unwrap();
                sum += points;
                if points > 0
                    && let Some(order) = e["order"].as_str()
                {
                    *earned_by_order.entry(order.to_string()).or_insert(0) += 1;
                }
            }
            if entries.len() < 500 {
                break;
            }
        }
        assert_eq!(
            sum, balance,
            "customer c{c}: ledger {sum} != balance {balance}: {customer}"
        );
        let twice: Vec<_> = earned_by_order.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "customer c{c}: orders that earned twice: {twice:?}"
        );
        earned_total += balance;
    }
    earned_total
}

/// The JSON body of a GET with `token`.
async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
