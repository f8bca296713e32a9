//! The server end to end: a real server on an ephemeral port over the
//! Monaco road network, real HTTP requests and real WebSocket clients.

use crate::common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use waimai::engine::RiderId;
use waimai::wire::auth::Role;

use common::serve::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_goes_from_post_to_delivered_with_etas_along_the_way() {
    let dir = tempdir("lifecycle");
    let server = spawn(&dir).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut ws = rider(&server, 1, 0).await;
    go_online(&mut ws, R2).await;

    let (status, card, headers) = post(&server, &merchant, "/v1/orders", order_body(), None).await;
    assert_eq!(status, 201, "{card}");
    let id = card["id"].as_u64().unwrap();
    assert_eq!(headers["location"], format!("/v1/orders/{id}").as_str());
    assert_eq!(card["state"], "open");
    let placed = card["placed_at"].as_i64().unwrap();

    // The only rider stands at the restaurant and the food is ready: it is
    // sent at the next tick.
    let m = next(&mut ws).await;
    assert_eq!(m["type"], "assignment", "{m}");
    assert_eq!(m["seq"], 1);
    let stops = m["stops"].as_array().unwrap();
    assert_eq!(stops.len(), 2);
    assert_eq!(
        (stops[0]["kind"].as_str(), stops[1]["kind"].as_str()),
        (Some("pickup"), Some("dropoff"))
    );
    assert_eq!(stops[1]["order"], id.to_string());
    assert!(stops[1]["eta_secs"].as_i64().unwrap() > stops[0]["eta_secs"].as_i64().unwrap());
    send(&mut ws, json!({"v": 1, "type": "ack", "seq": 1})).await;
    send(
        &mut ws,
        json!({"v": 1, "type": "accept", "assignment": m["assignment"]}),
    )
    .await;

    let (status, card) = get(&server, &merchant, &format!("/v1/orders/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(card["state"], "assigned");
    assert_eq!(card["rider"], 1);
    let pickup = card["pickup_eta"]["at"].as_i64().unwrap();
    let dropoff = card["dropoff_eta"]["at"].as_i64().unwrap();
    assert!(placed <= pickup && pickup < dropoff, "{card}");
    assert!(card["dropoff_eta"]["p90"].as_i64().unwrap() > dropoff);

    // An unchanged poll is a 304.
    let client = reqwest::Client::new();
    let first = client
        .get(url(&server, &format!("/v1/orders/{id}")))
        .bearer_auth(&merchant)
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].clone();
    let again = client
        .get(url(&server, &format!("/v1/orders/{id}")))
        .bearer_auth(&merchant)
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);

    send(
        &mut ws,
        json!({"v": 1, "type": "picked_up", "order": id.to_string()}),
    )
    .await;
    let m = next(&mut ws).await;
    assert_eq!(m["type"], "route_update", "{m}");
    assert_eq!(m["stops"].as_array().unwrap().len(), 1);
    assert_eq!(m["stops"][0]["kind"], "dropoff");
    let (_, card) = get(&server, &merchant, &format!("/v1/orders/{id}")).await;
    assert_eq!(card["state"], "picked_up");
    assert!(card["dropoff_eta"]["at"].as_i64().is_some());
    let changed = client
        .get(url(&server, &format!("/v1/orders/{id}")))
        .bearer_auth(&merchant)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 200, "a changed order is sent again");

    send(
        &mut ws,
        json!({"v": 1, "type": "delivered", "order": id.to_string()}),
    )
    .await;
    let m = next(&mut ws).await;
    assert_eq!(m["type"], "route_update");
    assert!(m["stops"].as_array().unwrap().is_empty());
    let (_, card) = get(&server, &merchant, &format!("/v1/orders/{id}")).await;
    assert_eq!(card["state"], "delivered");
    assert!(card["delivered_at"].as_i64().unwrap() >= card["picked_up_at"].as_i64().unwrap());
    let (_, active) = get(&server, &merchant, "/v1/orders?state=active").await;
    assert_eq!(active, json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_posts_never_create_a_second_order_and_bad_requests_name_the_field() {
    let dir = tempdir("idempotency");
    let server = spawn(&dir).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let (s1, a, _) = post(&server, &merchant, "/v1/orders", order_body(), Some("k-1")).await;
    let (s2, b, h2) = post(&server, &merchant, "/v1/orders", order_body(), Some("k-1")).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(h2["idempotent-replayed"], "true");
    let (_, list) = get(&server, &merchant, "/v1/orders").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let mut other = order_body();
    other["ready_in_secs"] = json!(600);
    let (s, e, _) = post(&server, &merchant, "/v1/orders", other, Some("k-1")).await;
    assert_eq!(
        (s, e["error"]["code"].as_str(), e["error"]["field"].as_str()),
        (409, Some("conflict"), Some("Idempotency-Key"))
    );

    let id = a["id"].as_u64().unwrap();
    // Another merchant does not see it; a rider cannot use the API; no
    // token is a 401.
    let stranger = token(&server, Role::Merchant("r3".into()));
    assert_eq!(get(&server, &stranger, &format!("/v1/orders/{id}")).await.0, 404);
    let (s, e, _) = post(&server, &stranger, "/v1/orders", order_body(), None).await;
    assert_eq!((s, e["error"]["field"].as_str()), (403, Some("restaurant")));
    let rider_token = token(&server, Role::Rider(RiderId(5)));
    assert_eq!(get(&server, &rider_token, "/v1/orders").await.0, 403);
    assert_eq!(
        get(&server, "rider.5.00000000000000000000000000000000", "/v1/orders")
            .await
            .0,
        401
    );
    let res = reqwest::Client::new()
        .get(url(&server, "/v1/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);

    for (body, field) in [
        (json!({"customer": {"lat": 43.73, "lng": 7.42}}), "restaurant"),
        (
            json!({"restaurant": "r2", "customer": {"lat": 95.0, "lng": 7.42}}),
            "customer.lat",
        ),
        (
            json!({"restaurant": "r2", "customer": {"lat": 43.73, "lng": "east"}}),
            "customer.lng",
        ),
        (
            json!({"restaurant": "r2", "customer": {"lat": 43.73, "lng": 7.42}, "tip": 3}),
            "tip",
        ),
        (
            json!({"restaurant": "nope", "customer": {"lat": 43.73, "lng": 7.42}}),
            "restaurant",
        ),
        (
            json!({"restaurant": "r2", "customer": {"lat": 43.73, "lng": 7.42}, "ready_in_secs": -5}),
            "ready_in_secs",
        ),
        (
            json!({"restaurant": "r2", "customer": {"lat": 48.85, "lng": 2.35}}),
            "customer",
        ),
    ] {
        let (s, e, _) = post(&server, &merchant, "/v1/orders", body.clone(), None).await;
        // Off the city's map, or an unknown restaurant: well-formed but
        // refused (422).
        let refused = field == "customer" || body["restaurant"] == "nope";
        let expected = if refused { 422 } else { 400 };
        assert_eq!(s, expected, "{body} -> {e}");
        assert_eq!(e["error"]["field"], field, "{body} -> {e}");
    }
    let res = reqwest::Client::new()
        .post(url(&server, "/v1/orders"))
        .bearer_auth(&merchant)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(get(&server, &merchant, "/v1/orders/abc").await.0, 400);
    assert_eq!(get(&server, &merchant, "/v1/orders/999").await.0, 404);

    // Cancel once; cancelling again is a conflict, not a 500.
    let (s, c, _) = post(
        &server,
        &merchant,
        &format!("/v1/orders/{id}/cancel"),
        json!({"reason": "customer called"}),
        None,
    )
    .await;
    assert_eq!(
        (s, c["state"].as_str(), c["cancel_reason"].as_str()),
        (200, Some("cancelled"), Some("customer called"))
    );
    let (s, e, _) = post(
        &server,
        &merchant,
        &format!("/v1/orders/{id}/cancel"),
        json!({}),
        None,
    )
    .await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("invalid_state")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_typed_errors_and_the_connection_stays_up() {
    let dir = tempdir("frames");
    let server = spawn(&dir).await;
    let mut ws = rider(&server, 7, 0).await;
    let cases = [
        ("not json", "not_json", None),
        (r#"{"v":2,"type":"ack","seq":0}"#, "bad_version", Some("v")),
        (r#"{"v":1,"type":"teleport"}"#, "bad_message", Some("type")),
        (
            r#"{"v":1,"type":"location","lat":99,"lng":7.4,"at_ms":0}"#,
            "bad_field",
            Some("lat"),
        ),
        (r#"{"v":1,"type":"ack","seq":40}"#, "bad_ack", Some("seq")),
        (
            r#"{"v":1,"type":"status","status":"online"}"#,
            "not_allowed",
            Some("status"),
        ),
        (
            r#"{"v":1,"type":"delivered","order":"12"}"#,
            "not_allowed",
            Some("order"),
        ),
    ];
    for (i, (frame, code, field)) in cases.iter().enumerate() {
        ws.send(Message::Text((*frame).into())).await.unwrap();
        let m = next(&mut ws).await;
        assert_eq!(m["type"], "error", "{frame}");
        assert_eq!(m["code"], *code, "{frame} -> {m}");
        if let Some(f) = field {
            assert!(m["field"].as_str().unwrap_or("").contains(f), "{frame} -> {m}");
        }
        assert_eq!(m["seq"], i as u64 + 1, "errors are numbered like every message");
    }
    // Still up: a good location and status are taken without complaint.
    go_online(&mut ws, R2).await;
    assert!(quiet(&mut ws, 500).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_messages_are_replayed_after_a_reconnect_and_after_a_restart() {
    let dir = tempdir("replay");
    let server = spawn(&dir).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut ws = rider(&server, 3, 0).await;
    go_online(&mut ws, R2).await;
    let (_, card, _) = post(&server, &merchant, "/v1/orders", order_body(), None).await;
    let id = card["id"].as_u64().unwrap();
    let first = next(&mut ws).await;
    assert_eq!(
        (first["type"].as_str(), first["seq"].as_u64()),
        (Some("assignment"), Some(1))
    );
    drop(ws);

    // The app lost the connection before processing seq 1: it comes again.
    let mut ws = rider(&server, 3, 0).await;
    assert_eq!(next(&mut ws).await, first);
    drop(ws);
    // Processed it: nothing is replayed, and numbering goes on.
    let mut ws = rider(&server, 3, 1).await;
    assert!(quiet(&mut ws, 300).await);
    post(
        &server,
        &merchant,
        &format!("/v1/orders/{id}/cancel"),
        json!({"reason": "out of stock"}),
        None,
    )
    .await;
    let m = next(&mut ws).await;
    assert_eq!(
        (m["type"].as_str(), m["seq"].as_u64(), m["reason"].as_str()),
        (Some("order_cancelled"), Some(2), Some("out of stock"))
    );
    let m = next(&mut ws).await;
    assert_eq!(
        (m["type"].as_str(), m["seq"].as_u64()),
        (Some("route_update"), Some(3))
    );
    drop(ws);

    // A second order to the same rider, then a restart: the new process
    // never sent seq 1-4, so it goes on after the app's number with the
    // rider's whole current work.
    let (_, card, _) = post(&server, &merchant, "/v1/orders", order_body(), None).await;
    let second = card["id"].as_u64().unwrap();
    let mut ws = rider(&server, 3, 3).await;
    let m = next(&mut ws).await;
    // A new trip, or joined to the emptied one still heading to r2.
    assert!(
        matches!(m["type"].as_str(), Some("assignment" | "route_update")),
        "{m}"
    );
    assert_eq!(m["seq"], 4);
    assert!(
        m["stops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["order"].as_str() == Some(second.to_string().as_str())),
        "{m}"
    );
    drop(ws);
    server.stop().await;

    let server = spawn(&dir).await;
    assert_eq!(server.restored.orders, 2);
    let mut ws = rider(&server, 3, 4).await;
    let m = next(&mut ws).await;
    assert_eq!(
        (m["type"].as_str(), m["seq"].as_u64()),
        (Some("assignment"), Some(5)),
        "{m}"
    );
    assert!(
        m["stops"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["order"].as_str() == Some(second.to_string().as_str()))
    );
    let (_, card) = get(&server, &merchant, &format!("/v1/orders/{id}")).await;
    assert_eq!(
        (card["state"].as_str(), card["cancel_reason"].as_str()),
        (Some("cancelled"), Some("out of stock"))
    );
    let (_, card) = get(&server, &merchant, &format!("/v1/orders/{second}")).await;
    assert_eq!(
        (card["state"].as_str(), card["rider"].as_u64()),
        (Some("assigned"), Some(3))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi_are_served() {
    let dir = tempdir("ops");
    let server = spawn(&dir).await;
    let health: Value = reqwest::get(url(&server, "/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let metrics = reqwest::get(url(&server, "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "waimai_orders{state=\"open\"}",
        "waimai_dispatch_tick_seconds_bucket",
        "waimai_riders_connected",
        "waimai_ws_messages_in_total",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }
    let doc: Value = reqwest::get(url(&server, "/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/cancel",
        "/v1/orders/{id}/ready",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not documented");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_survive_a_restart_with_the_redis_store() {
    let key = format!("waimai:test:serve:{}:{}", std::process::id(), rand_suffix());
    let mut config = server_config();
    config.server.store = "redis".into();
    config.server.redis_key = key.clone();
    config.crm.store = "redis".into();
    config.crm.redis_prefix = format!("{key}:crm");
    config.crm.encryption_keys = waimai::crm::crypto::FieldCipher::generate_spec("test");
    let server = spawn_with(&config, None).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let (status, card, _) = post(&server, &merchant, "/v1/orders", order_body(), Some("redis-1")).await;
    assert_eq!(status, 201);
    server.stop().await;

    let server = spawn_with(&config, None).await;
    assert_eq!(server.restored.orders, 1);
    let id = card["id"].as_u64().unwrap();
    let (status, again) = get(&server, &merchant, &format!("/v1/orders/{id}")).await;
    assert_eq!(
        (status, &again["restaurant"], &again["placed_at"]),
        (200, &card["restaurant"], &card["placed_at"])
    );
    // The key survived too: a retry finds the order.
    let (status, retried, _) = post(&server, &merchant, "/v1/orders", order_body(), Some("redis-1")).await;
    assert_eq!((status, &retried["id"]), (200, &card["id"]));
    server.stop().await;
    let mut c = redis::Client::open(config.server.redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("DEL").arg(&key).query(&mut c).unwrap();
}

/// `--data-dir` places the data folder; with `[server] store = "redis"`
/// the journal still goes to Redis, never quietly to a file there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_flag_does_not_move_a_redis_journal_into_a_file() {
    let key = format!("waimai:test:serve-dir:{}:{}", std::process::id(), rand_suffix());
    let mut config = server_config();
    config.server.store = "redis".into();
    config.server.redis_key = key.clone();
    let dir = tempdir("redis-with-data-dir");
    let server = spawn_with(&config, Some(&dir)).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let (status, card, _) = post(&server, &merchant, "/v1/orders", order_body(), None).await;
    assert_eq!(status, 201, "{card}");
    server.stop().await;
    let mut c = redis::Client::open(config.server.redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let records: u64 = redis::cmd("LLEN").arg(&key).query(&mut c).unwrap();
    assert!(records >= 1, "the order is journaled in Redis");
    assert!(!dir.join("journal.jsonl").exists(), "no journal file beside it");
    let _: () = redis::cmd("DEL").arg(&key).query(&mut c).unwrap();
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_rider_goes_offline_and_its_order_goes_to_another() {
    let dir = tempdir("timeout");
    let mut config = server_config();
    config.server.rider_timeout_secs = 1;
    config.server.heartbeat_secs = 1;
    let server = spawn_with(&config, Some(&dir)).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut first = rider(&server, 1, 0).await;
    go_online(&mut first, R2).await;
    let (_, card, _) = post(&server, &merchant, "/v1/orders", order_body(), None).await;
    let id = card["id"].as_u64().unwrap();
    let m = next(&mut first).await;
    assert_eq!(m["type"], "assignment");
    // The first rider's phone dies; a second rider is there and online.
    drop(first);
    let mut second = rider(&server, 2, 0).await;
    go_online(&mut second, R2).await;
    let m = next(&mut second).await;
    assert_eq!(m["type"], "assignment", "{m}");
    assert!(
        m["stops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["order"].as_str() == Some(id.to_string().as_str()))
    );
    let (_, card) = get(&server, &merchant, &format!("/v1/orders/{id}")).await;
    assert_eq!(
        (card["state"].as_str(), card["rider"].as_u64()),
        (Some("assigned"), Some(2))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_locations_is_rate_limited_and_the_connection_stays_up() {
    let dir = tempdir("ratelimit");
    let server = spawn(&dir).await;
    let mut ws = rider(&server, 9, 0).await;
    let burst = common::config().server.location_burst as usize;
    for _ in 0..burst + 10 {
        send(
            &mut ws,
            json!({"v": 1, "type": "location", "lat": R2.0, "lng": R2.1, "at_ms": 0}),
        )
        .await;
    }
    let m = next(&mut ws).await;
    assert_eq!(
        (m["type"].as_str(), m["code"].as_str()),
        (Some("error"), Some("rate_limited")),
        "{m}"
    );
    // One complaint, not one per dropped fix; and the socket still works.
    send(&mut ws, json!({"v": 1, "type": "ack", "seq": 1})).await;
    send(&mut ws, json!({"v": 1, "type": "teleport"})).await;
    let m = next(&mut ws).await;
    assert_eq!(
        (m["seq"].as_u64(), m["code"].as_str()),
        (Some(2), Some("bad_message")),
        "{m}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_an_order_ready_moves_its_ready_time_to_now() {
    let dir = tempdir("ready");
    let server = spawn(&dir).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut body = order_body();
    body["ready_in_secs"] = json!(3600);
    let (_, card, _) = post(&server, &merchant, "/v1/orders", body, None).await;
    let id = card["id"].as_u64().unwrap();
    assert_eq!(
        card["ready_at"].as_i64().unwrap() - card["placed_at"].as_i64().unwrap(),
        3600
    );
    let (status, ready, _) = post(
        &server,
        &merchant,
        &format!("/v1/orders/{id}/ready"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let placed = card["placed_at"].as_i64().unwrap();
    let ready_at = ready["ready_at"].as_i64().unwrap();
    assert!((placed..placed + 60).contains(&ready_at), "{ready}");
    post(
        &server,
        &merchant,
        &format!("/v1/orders/{id}/cancel"),
        json!({}),
        None,
    )
    .await;
    let (status, e, _) = post(
        &server,
        &merchant,
        &format!("/v1/orders/{id}/ready"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("invalid_state"))
    );
    server.stop().await;
}

/// Journal before acknowledgement, at the actor: when the journal refuses
/// a batch (here a real Redis answering WRONGTYPE), the merchant waiting on
/// it hears 503, the rider hears nothing of it, and the read model never
/// shows the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_journal_write_fails_answers_nobody_and_tells_no_rider() {
    let key = format!(
        "waimai:test:serve-broken:{}:{}",
        std::process::id(),
        rand_suffix()
    );
    let mut config = server_config();
    config.server.store = "redis".into();
    config.server.redis_key = key.clone();
    config.server.data_dir = tempdir("broken-journal");
    let server = spawn_with(&config, None).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut ws = rider(&server, 1, 0).await;
    go_online(&mut ws, R2).await;
    let (status, card, _) = post(&server, &merchant, "/v1/orders", order_body(), None).await;
    assert_eq!(status, 201, "{card}");
    let id = card["id"].as_u64().unwrap();
    let m = next(&mut ws).await;
    assert_eq!(m["type"], "assignment", "{m}");

    // The journal's list becomes a string: every later RPUSH fails.
    let mut redis = redis::Client::open(config.server.redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("DEL").arg(&key).query(&mut redis).unwrap();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("not a list")
        .query(&mut redis)
        .unwrap();

    let cancel = json!({"reason": "customer changed their mind"});
    let (status, body, _) = post(
        &server,
        &merchant,
        &format!("/v1/orders/{id}/cancel"),
        cancel,
        None,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    // The engine stopped: the rider's socket is closed, and nothing of the
    // cancellation reached it first.
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        let mut heard = Vec::new();
        while let Some(Ok(message)) = ws.next().await {
            match message {
                Message::Text(t) => heard.push(t.to_string()),
                Message::Close(_) => break,
                _ => {}
            }
        }
        heard
    })
    .await
    .expect("the rider's socket closes when the engine stops");
    assert!(
        heard
            .iter()
            .all(|t| !t.contains("order_cancelled") && !t.contains("cancel")),
        "the rider was told of an unjournaled change: {heard:?}"
    );
    let (_, seen) = get(&server, &merchant, &format!("/v1/orders/{id}")).await;
    assert_ne!(seen["state"], "cancelled", "{seen}");
    server.stop().await;
    let _: () = redis::cmd("DEL").arg(&key).query(&mut redis).unwrap();
}
