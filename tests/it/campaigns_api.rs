//! Marketing against a real server on port 0 (embedded store): a segment
//! previewed, a campaign defined, run twice (nothing issued twice), its
//! messages read from the outbox page by page and acknowledged, its
//! effect, and who may do what.

use crate::common;

use common::serve::{get, post, put, spawn, tempdir, token};
use serde_json::{Value, json};
use waimai::wire::auth::Role;

fn delivered(order: &str, category: &str) -> Value {
    json!({"type": "delivered", "order": order, "merchant": "r1", "amount_cents": 3000,
           "items": [{"dish": "d", "category": category, "quantity": 3, "price_cents": 3000}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_runs_once_per_customer_and_its_messages_page_through_the_outbox() {
    let dir = tempdir("campaigns-api");
    let server = spawn(&dir).await;
    let r1 = token(&server, Role::Merchant("r1".into()));
    let r2 = token(&server, Role::Merchant("r2".into()));
    // 12 customers: the 8 first like spicy food, the rest sweet.
    for i in 0..12 {
        let category = if i < 8 { "spicy" } else { "sweet" };
        let path = format!("/v1/customers/c{i:02}/commands");
        let (status, body, _) = post(
            &server,
            &r1,
            &path,
            delivered(&format!("o{i}"), category),
            Some("d1"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let template = json!({"id": "r1-spicy", "kind": "festival", "merchant": "r1", "min_spend_cents": 0,
                          "off_cents": 300, "valid_days": 14, "per_customer_cap": 0});
    let (status, body, _) = post(&server, &r1, "/v1/coupon-templates", template, None).await;
    assert_eq!(status, 201, "{body}");

    let segment = json!({"tags_any": ["likes:spicy"]});
    let (status, body, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/segments/preview",
        segment.clone(),
        None,
    )
    .await;
    assert_eq!((status, body["count"].as_u64()), (200, Some(8)), "{body}");
    let bad = json!({"last_order_days_min": 30, "last_order_days_max": 5});
    let (status, body, _) = post(&server, &r1, "/v1/merchants/r1/segments/preview", bad, None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("segment.last_order_days_min")),
        "{body}"
    );

    let spec = json!({"id": "hot", "purpose": "festival", "segment": segment,
                      "template": "r1-spicy", "message": "Chili week: 3 off"});
    let (status, body) = put(&server, &r2, "/v1/merchants/r1/campaigns/hot", spec.clone()).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (403, Some("merchant")),
        "{body}"
    );
    let (status, body) = put(&server, &r1, "/v1/merchants/r1/campaigns/other", spec.clone()).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("id")),
        "{body}"
    );
    let (status, body) = put(&server, &r1, "/v1/merchants/r1/campaigns/hot", spec.clone()).await;
    assert_eq!(status, 200, "{body}");

    let (status, first, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/campaigns/hot/run",
        json!({}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (first["treated"].as_u64(), first["holdout"].as_u64()),
        (Some(8), Some(0))
    );
    assert_eq!(
        (first["issued_now"].as_u64(), first["messages_new"].as_u64()),
        (Some(8), Some(8))
    );
    let (status, again, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/campaigns/hot/run",
        json!({}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (
            again["issued_now"].as_u64(),
            again["already_issued"].as_u64(),
            again["messages_new"].as_u64()
        ),
        (Some(0), Some(8), Some(0)),
        "{again}"
    );
    let (_, coupons) = get(&server, &r1, "/v1/customers/c00/coupons").await;
    let ours = coupons
        .as_array()
        .map(|a| a.iter().filter(|c| c["template"] == "r1-spicy").count());
    assert_eq!(ours, Some(1), "{coupons}");

    // The integration reads 3 at a time, resuming after the last seq.
    let mut seen = Vec::new();
    let mut after = 0;
    for _ in 0..10 {
        let (status, page) = get(
            &server,
            &r1,
            &format!("/v1/merchants/r1/outbox?after={after}&limit=3"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let messages = page["messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        seen.extend(
            messages
                .iter()
                .map(|m| m["customer"].as_str().unwrap_or("").to_string()),
        );
        after = page["next_after"].as_u64().unwrap_or(0);
    }
    let expected: Vec<String> = (0..8).map(|i| format!("c{i:02}")).collect();
    seen.sort();
    assert_eq!(seen, expected);
    let (status, body, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/outbox/ack",
        json!({"upto_seq": after}),
        None,
    )
    .await;
    assert_eq!((status, body["removed"].as_u64()), (200, Some(8)), "{body}");
    let (_, page) = get(&server, &r1, "/v1/merchants/r1/outbox").await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(0), "{page}");

    let (status, effect) = get(&server, &r1, "/v1/merchants/r1/campaigns/hot/effect").await;
    assert_eq!(
        (status, effect["issued"].as_u64(), effect["redeemed"].as_u64()),
        (200, Some(8), Some(0))
    );
    let (status, body) = get(&server, &r2, "/v1/merchants/r1/campaigns/hot").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = get(&server, &r1, "/v1/merchants/r1/campaigns/nope").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (404, Some("campaign")),
        "{body}"
    );
    let (status, list) = get(&server, &r1, "/v1/merchants/r1/campaigns").await;
    assert_eq!((status, list[0]["runs"].as_u64()), (200, Some(2)), "{list}");
    let mut changed = spec;
    changed["holdout_percent"] = json!(10);
    let (status, body) = put(&server, &r1, "/v1/merchants/r1/campaigns/hot", changed).await;
    assert_eq!(status, 409, "a campaign that ran cannot change: {body}");
}
