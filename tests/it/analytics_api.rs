//! Analytics against a real server on port 0 (embedded store): delivered
//! orders with their dishes, riders and lateness, and reviews, become the
//! merchant's report; who may read it; the demand forecast is operators'.

use crate::common;

use common::serve::{get, post, spawn, tempdir, token};
use serde_json::{Value, json};
use waimai::wire::auth::Role;

/// (order, dish, quantity, rider, seconds late)
const ORDERS: [(&str, &str, u64, &str, i64); 5] = [
    ("o1", "noodles", 3, "7", -120),
    ("o2", "noodles", 2, "7", 300),
    ("o3", "dumplings", 4, "8", 0),
    ("o4", "rice", 1, "8", -60),
    ("o5", "noodles", 1, "8", 900),
];

fn delivered(order: &str, dish: &str, qty: u64, rider: &str, late_secs: i64) -> Value {
    json!({"type": "delivered", "order": order, "merchant": "r1", "amount_cents": 1000 * qty,
           "items": [{"dish": dish, "category": "mains", "quantity": qty, "price_cents": 1000}],
           "region": "north", "rider": rider, "late_secs": late_secs})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_orders_and_reviews_become_the_merchants_report() {
    let dir = tempdir("analytics-api");
    let server = spawn(&dir).await;
    let r1 = token(&server, Role::Merchant("r1".into()));
    let r2 = token(&server, Role::Merchant("r2".into()));
    let operator = token(&server, Role::Operator);
    for (i, (order, dish, qty, rider, late)) in ORDERS.iter().enumerate() {
        let path = format!("/v1/customers/c{i}/commands");
        let body = delivered(order, dish, *qty, rider, *late);
        let (status, b, _) = post(&server, &r1, &path, body.clone(), Some("d")).await;
        assert_eq!(status, 200, "{b}");
        // Sent again (a retry): counted once.
        post(&server, &r1, &path, body, Some("d")).await;
    }
    let review = json!({"type": "feedback", "order": "o1", "merchant": "r1", "rider": "7",
                        "channel": "order_rating", "rating": 4, "text": "good"});
    let (status, b, _) = post(&server, &r1, "/v1/customers/c0/commands", review, Some("f")).await;
    assert_eq!(status, 200, "{b}");

    let (status, r) = get(&server, &r1, "/v1/merchants/r1/analytics?days=7").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["total"]["orders"], 5, "{r}");
    assert_eq!(r["total"]["revenue_cents"], 11_000);
    let by_hour: u64 = r["by_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["orders"].as_u64().unwrap())
        .sum();
    assert_eq!(by_hour, 5);
    let dishes: Vec<(&str, u64)> = r["dishes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["dish"].as_str().unwrap(), d["quantity"].as_u64().unwrap()))
        .collect();
    assert_eq!(dishes, [("noodles", 6), ("dumplings", 4), ("rice", 1)]);
    // Rider 7: one of two on time, rated 4; rider 8: two of three on time.
    let riders = r["riders"].as_array().unwrap();
    assert_eq!(riders[0]["rider"], "7");
    assert_eq!(
        (
            riders[0]["deliveries"].as_u64(),
            riders[0]["on_time_rate"].as_f64()
        ),
        (Some(2), Some(0.5))
    );
    assert_eq!(riders[0]["mean_rating"].as_f64(), Some(4.0));
    assert_eq!(riders[1]["on_time_rate"].as_f64(), Some(2.0 / 3.0));

    let (status, b) = get(&server, &r2, "/v1/merchants/r1/analytics").await;
    assert_eq!(status, 403, "{b}");
    let (status, b) = get(&server, &r1, "/v1/merchants/r1/analytics?days=0").await;
    assert_eq!((status, b["error"]["field"].as_str()), (400, Some("days")), "{b}");
    let (status, b) = get(&server, &r1, "/v1/analytics/demand").await;
    assert_eq!(status, 403, "{b}");
    let (status, b) = get(&server, &operator, "/v1/analytics/demand?hours=99").await;
    assert_eq!(
        (status, b["error"]["field"].as_str()),
        (400, Some("hours")),
        "{b}"
    );
    // Today's orders are not history yet: the forecast is from earlier days.
    let (status, b) = get(&server, &operator, "/v1/analytics/demand?days=7&hours=3").await;
    assert_eq!(status, 200, "{b}");
    for zone in b.as_array().unwrap() {
        assert_eq!(zone["orders"].as_array().map(Vec::len), Some(3), "{zone}");
    }
}
