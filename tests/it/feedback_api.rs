//! Feedback against a real server on port 0 (embedded store): reviews
//! submitted over HTTP, negative ones pushed to the merchant's WebSocket
//! and listed for polling, statistics, role checks, and late deliveries
//! reported by the engine itself.

use crate::common;

use std::time::{Duration, Instant};

use common::serve::{Ws, get, post, quiet, server_config, spawn, tempdir, token, wait_for_metric};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use waimai::app::Application;
use waimai::base::Clock;
use waimai::wire::auth::Role;

async fn merchant_socket(server: &Application, merchant: &str) -> Ws {
    let t = token(server, Role::Merchant(merchant.into()));
    let u = format!("ws://{}/v1/merchants/ws?token={t}", server.addr);
    tokio_tungstenite::connect_async(u)
        .await
        .expect("merchant connects")
        .0
}

/// The next text frame, within `secs`.
async fn frame(ws: &mut Ws, secs: u64) -> Value {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a frame in time")
}

fn review(merchant: &str, rating: u8, text: &str) -> Value {
    json!({"type": "feedback", "order": "o1", "merchant": merchant, "rider": "7",
           "channel": "order_rating", "rating": rating, "text": text})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_review_reaches_its_merchant_at_once_and_nobody_else() {
    let dir = tempdir("feedback-api");
    let server = spawn(&dir).await;
    let r1 = token(&server, Role::Merchant("r1".into()));
    let r2 = token(&server, Role::Merchant("r2".into()));
    let support = token(&server, Role::Support);
    let mut r1_ws = merchant_socket(&server, "r1").await;
    let mut r2_ws = merchant_socket(&server, "r2").await;
    let cmd = "/v1/customers/c1/commands";

    // Bad input and other merchants' reviews are refused, naming the field.
    let (status, body, _) = post(&server, &r1, cmd, review("r1", 9, "x"), Some("k0")).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("rating")),
        "{body}"
    );
    let (status, body, _) = post(&server, &r2, cmd, review("r1", 1, "bad"), Some("k1")).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (403, Some("merchant")),
        "{body}"
    );
    let late =
        json!({"type": "feedback", "order": "o1", "merchant": "r1", "channel": "dispatch", "late_secs": 60});
    let (status, body, _) = post(&server, &support, cmd, late, Some("k2")).await;
    assert_eq!(status, 403, "only the engine reports lateness: {body}");

    let mut latencies_ms = Vec::new();
    for k in 0..5 {
        let text = "冷了，而且骑手态度很差";
        let sent = Instant::now();
        let key = format!("chat-{k}");
        let (status, out, _) = post(&server, &support, cmd, review("r1", 1, text), Some(&key)).await;
        assert_eq!(status, 200, "{out}");
        let alert = frame(&mut r1_ws, 5).await;
        latencies_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(alert["type"], "alert", "{alert}");
        assert_eq!(alert["review"]["id"], format!("c1/{key}"));
        assert_eq!(
            alert["review"]["categories"],
            json!(["food_quality", "service_attitude"])
        );
        assert!(
            alert["review"]["coupon"]
                .as_str()
                .is_some_and(|c| c.starts_with("apology"))
        );
    }
    eprintln!("alert latency ms (post to frame): {latencies_ms:?}");
    // A replay alerts nobody again; a positive review alerts nobody.
    let (status, _, _) = post(
        &server,
        &support,
        cmd,
        review("r1", 1, "冷了，而且骑手态度很差"),
        Some("chat-0"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = post(
        &server,
        &r1,
        cmd,
        review("r1", 5, "Great spicy noodles"),
        Some("rate-o2"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        quiet(&mut r1_ws, 300).await,
        "no alert for a replay or a 5-star review"
    );
    assert!(quiet(&mut r2_ws, 100).await, "r2 hears nothing of r1's reviews");

    // Polling sees the same alerts; statistics count by category.
    let (status, polled) = get(&server, &r1, "/v1/merchants/me/alerts").await;
    assert_eq!(
        (status, polled.as_array().map(Vec::len)),
        (200, Some(5)),
        "{polled}"
    );
    let (_, none) = get(&server, &r2, "/v1/merchants/me/alerts").await;
    assert_eq!(none, json!([]));
    let (status, stats) = get(&server, &r1, "/v1/feedback/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(
        (
            stats["total"]["reviews"].as_u64(),
            stats["total"]["negative"].as_u64()
        ),
        (Some(6), Some(5))
    );
    assert_eq!(stats["by_category"]["service_attitude"]["reviews"], 5);
    assert_eq!(stats["by_category"]["food_quality"]["reviews"], 6);
    assert_eq!(stats["by_rider"]["7"]["rating_sum"], 10);
    let (status, _) = get(&server, &r2, "/v1/feedback/stats?merchant=r1").await;
    assert_eq!(status, 403);
    let (_, r2_stats) = get(&server, &r2, "/v1/feedback/stats").await;
    assert_eq!(r2_stats["total"]["reviews"], 0);
    let (status, listed) = get(
        &server,
        &support,
        "/v1/feedback?category=food_quality&negative=false",
    )
    .await;
    assert_eq!(
        (status, listed.as_array().map(Vec::len)),
        (200, Some(1)),
        "{listed}"
    );

    // The liked thing became an interest tag; each bad review one apology.
    let operator = token(&server, Role::Operator);
    let (_, c) = get(&server, &operator, "/v1/customers/c1").await;
    assert!(
        c["tags"].as_array().unwrap().contains(&json!("likes:spicy")),
        "{c}"
    );
    let (_, coupons) = get(&server, &operator, "/v1/customers/c1/coupons").await;
    let apologies = coupons
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["template"] == "apology")
        .count();
    assert_eq!(apologies, 5);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_delivery_is_reported_by_the_engine_as_delivery_speed() {
    use common::serve::{CUSTOMER, R2, go_online, next, next_advancing, rider, send, spawn_at};
    let dir = tempdir("feedback-late");
    let mut config = server_config();
    // Promised in 30 minutes; an apology from 10 minutes late.
    config.crm.feedback.promise_secs = 1800;
    config.crm.feedback.late_apology_secs = 600;
    let clock = Clock::manual(1_796_000_000);
    let server = spawn_at(&config, &dir, &clock).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let mut alerts = merchant_socket(&server, "r2").await;
    let mut ws = rider(&server, 1, 0).await;
    go_online(&mut ws, R2).await;
    let order = json!({"restaurant": "r2", "customer": {"lat": CUSTOMER.0, "lng": CUSTOMER.1}, "ready_in_secs": 0,
        "crm": {"customer_id": "bob", "order_ref": "pos-9", "amount_cents": 1500}});
    let (status, card, _) = post(&server, &merchant, "/v1/orders", order, Some("p9")).await;
    assert_eq!(status, 201, "{card}");
    let id = card["id"].as_u64().unwrap().to_string();
    let m = next_advancing(&mut ws, &clock).await;
    assert_eq!(m["type"], "assignment", "{m}");
    send(
        &mut ws,
        json!({"v": 1, "type": "accept", "assignment": m["assignment"]}),
    )
    .await;
    send(&mut ws, json!({"v": 1, "type": "picked_up", "order": id})).await;
    assert_eq!(next(&mut ws).await["type"], "route_update");
    // 50 minutes on the road: 20 minutes past the promise.
    clock.advance(3000);
    send(&mut ws, json!({"v": 1, "type": "delivered", "order": id})).await;

    let alert = frame(&mut alerts, 10).await;
    let r = &alert["review"];
    assert_eq!(
        (r["channel"].as_str(), r["order"].as_str()),
        (Some("dispatch"), Some("pos-9")),
        "{alert}"
    );
    assert_eq!(r["categories"], json!(["delivery_speed"]));
    assert_eq!(
        (r["rider"].as_str(), r["customer"].as_str()),
        (Some("1"), Some("bob"))
    );
    let late = r["late_secs"].as_i64().unwrap_or(0);
    assert!(
        (1200..1300).contains(&late),
        "late by 20 minutes and the tick or two before pickup: {r}"
    );
    server.stop().await;

    // After a restart the delivery is sent to the CRM again (both of its
    // requests): still one review.
    let server = spawn_at(&config, &dir, &clock).await;
    wait_for_metric(&server, "waimai_crm_order_events_applied_total", 2).await;
    let operator = token(&server, Role::Operator);
    let (_, listed) = get(&server, &operator, "/v1/feedback?merchant=r2").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    server.stop().await;
}

/// Found by schemathesis: a time at the end of i64 overflowed the window
/// arithmetic and dropped the connection. Time in a query is bounded Unix
/// seconds, and anything else is a 400 naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_out_of_range_are_named_not_overflowed() {
    let dir = tempdir("feedback-range");
    let server = spawn(&dir).await;
    let operator = token(&server, Role::Operator);
    for (path, field) in [
        ("/v1/feedback?to_secs=-9223372036854775808", "to_secs"),
        ("/v1/feedback/stats?to_secs=-9223372036854775808", "to_secs"),
        ("/v1/feedback?from_secs=9223372036854775807", "from_secs"),
    ] {
        let (status, body) = get(&server, &operator, path).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some(field)),
            "{path}: {body}"
        );
    }
    let merchant = token(&server, Role::Merchant("r2".into()));
    let (status, body) = get(&server, &merchant, "/v1/merchants/me/alerts?since_secs=-1").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("since_secs")),
        "{body}"
    );
    let (status, _) = get(
        &server,
        &operator,
        "/v1/feedback?from_secs=0&to_secs=253402300799",
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}
