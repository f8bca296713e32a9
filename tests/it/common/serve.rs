//! A real server on an ephemeral port, and real HTTP and WebSocket
//! clients for it.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use waimai::app::{Application, StartOptions};
use waimai::base::Clock;
use waimai::engine::RiderId;
use waimai::wire::auth::Role;

/// Restaurant r2 of the Monaco fixture, and a customer 1 km away.
pub const R2: (f64, f64) = (43.7350999, 7.4180868);
pub const CUSTOMER: (f64, f64) = (43.7311, 7.4197);

/// The embedded config with a 1 s tick, on the repository's Monaco files.
pub fn server_config() -> waimai::config::Config {
    let mut config = super::config();
    config.server.tick_secs = 1;
    config.server.restaurants = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/monaco-lunch.jsonl");
    config.map.path = super::map_path("monaco");
    config
}

/// A server journaling to a file in `data_dir`.
pub async fn spawn(data_dir: &Path) -> Application {
    spawn_with(&server_config(), Some(data_dir)).await
}

/// A server on `config`; `data_dir` overrides its store with a file.
pub async fn spawn_with(config: &waimai::config::Config, data_dir: Option<&Path>) -> Application {
    let options = StartOptions {
        listen: Some("127.0.0.1:0".into()),
        data_dir: data_dir.map(Path::to_path_buf),
        clock: None,
        zone: None,
    };
    Application::build(config, options).await.expect("server starts")
}

/// A server for `zone` of `config`'s `[zones]`, listening at `listen`.
pub async fn spawn_zone(config: &waimai::config::Config, zone: &str, listen: &str) -> Application {
    let options = StartOptions {
        listen: Some(listen.into()),
        data_dir: Some(tempdir(&format!("zone-{zone}"))),
        clock: None,
        zone: Some(zone.into()),
    };
    Application::build(config, options)
        .await
        .expect("zone server starts")
}

/// A server whose engine time is `clock` (a manual one: it moves when
/// the test says).
pub async fn spawn_at(config: &waimai::config::Config, data_dir: &Path, clock: &Clock) -> Application {
    let options = StartOptions {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.to_path_buf()),
        clock: Some(clock.clone()),
        zone: None,
    };
    Application::build(config, options).await.expect("server starts")
}

pub fn token(server: &Application, role: Role) -> String {
    server.tokens.issue(&role).unwrap()
}

pub fn url(server: &Application, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

pub async fn post(
    server: &Application,
    token: &str,
    path: &str,
    body: Value,
    key: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new()
        .post(url(server, path))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

pub async fn put(server: &Application, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .put(url(server, path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

pub async fn get(server: &Application, token: &str, path: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(url(server, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub fn order_body() -> Value {
    json!({"restaurant": "r2", "customer": {"lat": CUSTOMER.0, "lng": CUSTOMER.1}, "ready_in_secs": 0})
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn rider(server: &Application, id: u64, last_seq: u64) -> Ws {
    let t = token(server, Role::Rider(RiderId(id)));
    let u = format!("ws://{}/v1/riders/ws?token={t}&last_seq={last_seq}", server.addr);
    tokio_tungstenite::connect_async(u)
        .await
        .expect("rider connects")
        .0
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next protocol message, skipping pings; panics after 10 s.
/// The rider's next message, moving a manual clock a second at a time
/// until one comes (a tick plans only when engine time reaches it).
pub async fn next_advancing(ws: &mut Ws, clock: &Clock) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            clock.advance(1);
            match tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).unwrap(),
                Ok(Some(Ok(Message::Close(c)))) => panic!("closed: {c:?}"),
                Ok(Some(Ok(_))) | Err(_) => continue,
                Ok(other) => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a message within 10 s")
}

pub async fn next(ws: &mut Ws) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(Message::Close(c))) => panic!("closed: {c:?}"),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a message within 10 s")
}

/// Nothing arrives for `ms`.
pub async fn quiet(ws: &mut Ws, ms: u64) -> bool {
    tokio::time::timeout(Duration::from_millis(ms), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return t.to_string(),
                Some(Ok(_)) => continue,
                _ => return String::new(),
            }
        }
    })
    .await
    .is_err()
}

/// The rider accepts its next assignment and picks up order `id`.
pub async fn accept_and_pick_up(ws: &mut Ws, id: &str) {
    let m = next(ws).await;
    assert_eq!(m["type"], "assignment", "{m}");
    send(
        ws,
        json!({"v": 1, "type": "accept", "assignment": m["assignment"]}),
    )
    .await;
    send(ws, json!({"v": 1, "type": "picked_up", "order": id})).await;
    assert_eq!(next(ws).await["type"], "route_update");
}

pub async fn go_online(ws: &mut Ws, at: (f64, f64)) {
    send(
        ws,
        json!({"v": 1, "type": "location", "lat": at.0, "lng": at.1, "at_ms": 0}),
    )
    .await;
    send(ws, json!({"v": 1, "type": "status", "status": "online"})).await;
}

pub fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("waimai-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A counter or gauge of `/metrics` (0 when it is not there).
pub async fn metric(server: &Application, name: &str) -> u64 {
    let text = reqwest::get(url(server, "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0)
}

/// Waits until a counter of `/metrics` reaches `at_least` (10 s at most).
pub async fn wait_for_metric(server: &Application, name: &str, at_least: u64) {
    for _ in 0..200 {
        if metric(server, name).await >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} did not reach {at_least} within 10 s");
}
