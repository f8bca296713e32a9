//! The CRM over HTTP against a real server on port 0 (embedded store):
//! a customer's day through the API, and what each role may see and do.

use crate::common;

use common::serve::{get, metric, post, spawn, tempdir, token, wait_for_metric};
use serde_json::{Value, json};
use waimai::engine::RiderId;
use waimai::wire::auth::Role;

fn delivered() -> Value {
    json!({"type": "delivered", "order": "o1", "merchant": "r1", "amount_cents": 3500,
           "items": [{"dish": "dan dan noodles", "category": "spicy", "quantity": 2, "price_cents": 1750}],
           "region": "monte-carlo"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_through_the_api_with_role_checks() {
    let dir = tempdir("crm-api");
    let server = spawn(&dir).await;
    let r1 = token(&server, Role::Merchant("r1".into()));
    let r2 = token(&server, Role::Merchant("r2".into()));
    let support = token(&server, Role::Support);
    let finance = token(&server, Role::Finance);
    let rider = token(&server, Role::Rider(RiderId(1)));
    let cmd = "/v1/customers/c1/commands";

    let contact = json!({"type": "contact", "contact": {"name": "Li Wei", "phone": "13812345678"}});
    let (status, body, _) = post(&server, &r1, cmd, contact.clone(), None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("Idempotency-Key")),
        "{body}"
    );
    let (status, out, _) = post(&server, &r1, cmd, contact, Some("contact-1")).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        json!({"type": "contact", "created": true, "coupons": ["welcome-1"]})
    );

    // 35.00 with the welcome coupon (5.00 off from 20.00) and the 30-5
    // threshold discount: 25.00 to pay.
    let checkout = json!({"type": "checkout", "order": "o1", "merchant": "r1", "amount_cents": 3500, "coupon": "welcome-1"});
    let (status, price, _) = post(&server, &r1, cmd, checkout, Some("checkout-o1")).await;
    assert_eq!(status, 200, "{price}");
    assert_eq!(
        (
            price["threshold_off_cents"].as_i64(),
            price["coupon_off_cents"].as_i64()
        ),
        (Some(500), Some(500))
    );
    assert_eq!(price["payable_cents"], 2500);

    let as_r2 = json!({"type": "checkout", "order": "o9", "merchant": "r2", "amount_cents": 3500});
    let (status, body, _) = post(&server, &r1, cmd, as_r2, Some("x")).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (403, Some("merchant")),
        "{body}"
    );

    let (status, first, _) = post(&server, &r1, cmd, delivered(), Some("delivered-o1")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (first["earned"].as_u64(), first["coupon"].as_str()),
        (Some(35), Some("welcome-1"))
    );
    let (status, again, _) = post(&server, &r1, cmd, delivered(), Some("delivered-o1")).await;
    assert_eq!(
        (status, &again),
        (200, &first),
        "a retry answers the first outcome"
    );
    let mut other = delivered();
    other["amount_cents"] = json!(9900);
    let (status, body, _) = post(&server, &r1, cmd, other, Some("delivered-o1")).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (409, Some("Idempotency-Key")),
        "{body}"
    );

    for (bad, field) in [
        (
            json!({"type": "checkout", "order": "o2", "merchant": "r1", "amount_cents": -5}),
            "amount_cents",
        ),
        (
            json!({"type": "checkout", "order": "o2", "merchant": "r1", "amount_cents": 500, "points": 99}),
            "points",
        ),
        (
            json!({"type": "contact", "contact": {"phone": "call me"}}),
            "phone",
        ),
        (
            json!({"type": "contact", "contact": {"birthday": {"month": 2, "day": 30}}}),
            "birthday",
        ),
    ] {
        let (status, body, _) = post(&server, &r1, cmd, bad.clone(), Some(&format!("bad-{field}"))).await;
        assert_eq!(body["error"]["field"].as_str(), Some(field), "{bad} -> {body}");
        assert!([400, 409, 422].contains(&status), "{bad} -> {status}");
    }
    let (status, body, _) = post(&server, &r1, cmd, json!({"type": "teleport"}), Some("t")).await;
    assert_eq!(status, 400, "{body}");

    let (status, seen) = get(&server, &r1, "/v1/customers/c1").await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(
        (seen["contact"]["phone"].as_str(), seen["points"].as_u64()),
        (Some("13812345678"), Some(35))
    );
    assert_eq!(seen["orders"]["count"], 1);
    assert_eq!(seen["favourite_categories"][0], json!(["spicy", 2]));
    let (status, masked) = get(&server, &support, "/v1/customers/c1").await;
    assert_eq!(
        (status, masked["contact"]["phone"].as_str()),
        (200, Some("138****5678"))
    );
    assert_eq!(
        get(&server, &r2, "/v1/customers/c1").await.0,
        404,
        "another merchant's customer"
    );
    assert_eq!(get(&server, &rider, "/v1/customers/c1").await.0, 403);

    assert_eq!(get(&server, &support, "/v1/customers/c1/ledger").await.0, 403);
    assert_eq!(get(&server, &r1, "/v1/customers/c1/ledger").await.0, 403);
    let (status, ledger) = get(&server, &finance, "/v1/customers/c1/ledger").await;
    assert_eq!(status, 200, "{ledger}");
    let earned = earned_in(&ledger);
    assert_eq!(earned, 35);

    let (_, coupons) = get(&server, &r1, "/v1/customers/c1/coupons").await;
    assert_eq!(coupons[0]["state"], "redeemed", "{coupons}");
    let (_, mine) = get(&server, &r1, "/v1/merchants/me/customers").await;
    assert_eq!(mine, json!(["c1"]));
    let (_, theirs) = get(&server, &r2, "/v1/merchants/me/customers").await;
    assert_eq!(theirs, json!([]));

    // Finance refunds: the 35 points the order earned go back.
    let (status, refund, _) = post(
        &server,
        &finance,
        cmd,
        json!({"type": "refunded", "order": "o1"}),
        Some("refund-o1"),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["clawed_back"], 35);
    assert_eq!(
        post(
            &server,
            &support,
            cmd,
            json!({"type": "refunded", "order": "o1"}),
            Some("r")
        )
        .await
        .0,
        403
    );

    let (_, doc) = get(&server, &r1, "/openapi.json").await;
    for path in [
        "/v1/customers/{id}",
        "/v1/customers/{id}/commands",
        "/v1/customers/{id}/ledger",
        "/v1/coupon-templates",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not documented");
    }
    server.stop().await;
}

/// Points the ledger's `earn` entries add up to.
fn earned_in(ledger: &Value) -> u64 {
    ledger
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "earn")
        .map(|e| e["points"].as_u64().unwrap())
        .sum()
}

/// Polls a customer until `ready` holds (the CRM is told after the
/// engine's journal write, on its own thread); panics after 10 s.
async fn customer_when(
    server: &waimai::app::Application,
    token: &str,
    id: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..100 {
        let (status, c) = get(server, token, &format!("/v1/customers/{id}")).await;
        if status == 200 && ready(&c) {
            return c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("customer {id} never reached the expected state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_order_earns_points_once_and_a_cancelled_one_frees_its_hold() {
    use common::serve::{CUSTOMER, R2, go_online, rider, send};
    let dir = tempdir("crm-engine");
    let server = spawn(&dir).await;
    let merchant = token(&server, Role::Merchant("r2".into()));
    let operator = token(&server, Role::Operator);
    let order = |amount: i64, order_ref: &str| {
        json!({"restaurant": "r2", "customer": {"lat": CUSTOMER.0, "lng": CUSTOMER.1}, "ready_in_secs": 0,
               "crm": {"customer_id": "alice", "order_ref": order_ref, "amount_cents": amount,
                       "items": [{"dish": "pho", "category": "noodles", "quantity": 1, "price_cents": amount}]}})
    };
    let (status, body, _) = post(&server, &merchant, "/v1/orders", json!({"restaurant": "r2",
        "customer": {"lat": CUSTOMER.0, "lng": CUSTOMER.1}, "crm": {"customer_id": "a b", "amount_cents": 1}}), None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("crm.customer_id")),
        "{body}"
    );

    let mut ws = rider(&server, 1, 0).await;
    go_online(&mut ws, R2).await;
    let (status, card, _) = post(&server, &merchant, "/v1/orders", order(4200, "pos-1"), Some("p1")).await;
    assert_eq!(status, 201, "{card}");
    let id = card["id"].as_u64().unwrap().to_string();
    common::serve::accept_and_pick_up(&mut ws, &id).await;
    send(&mut ws, json!({"v": 1, "type": "delivered", "order": id})).await;

    // 42.00 delivered: 42 points, and the profile learned the order.
    let c = customer_when(&server, &operator, "alice", |c| c["points"] == 42).await;
    assert_eq!(
        (c["orders"]["count"].as_u64(), c["merchants"][0].as_str()),
        (Some(1), Some("r2"))
    );

    // Hold 30 points at checkout for a second order, then cancel the
    // order: the hold is voided by the engine's cancellation.
    let checkout =
        json!({"type": "checkout", "order": "pos-2", "merchant": "r2", "amount_cents": 2000, "points": 30});
    let (status, price, _) = post(
        &server,
        &merchant,
        "/v1/customers/alice/commands",
        checkout,
        Some("pos-2:checkout"),
    )
    .await;
    assert_eq!(status, 200, "{price}");
    let (status, card, _) = post(&server, &merchant, "/v1/orders", order(2000, "pos-2"), Some("p2")).await;
    assert_eq!(status, 201, "{card}");
    let path = format!("/v1/orders/{}/cancel", card["id"]);
    let (status, _, _) = post(
        &server,
        &merchant,
        &path,
        json!({"reason": "customer changed their mind"}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    customer_when(&server, &operator, "alice", |c| {
        c["points"] == 42 && c["points_held"] == 0
    })
    .await;
    server.stop().await;

    // After a restart every delivered order is sent to the CRM again: the
    // keys make it a no-op, so the points are not doubled.
    let server = spawn(&dir).await;
    // Both ended orders (one delivered, one cancelled) are applied again.
    common::serve::wait_for_metric(&server, "waimai_crm_order_events_applied_total", 2).await;
    let finance = token(&server, Role::Finance);
    let (_, ledger) = get(&server, &finance, "/v1/customers/alice/ledger").await;
    let earned = earned_in(&ledger);
    assert_eq!(earned, 42, "{ledger}");
    let metrics = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("waimai_crm_order_events_applied_total"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_gives_birthday_coupons_on_the_day_and_only_once() {
    use common::serve::{server_config, spawn_at};
    let dir = tempdir("crm-jobs");
    let mut config = server_config();
    config.crm.jobs_every_secs = 1;
    // Engine time is 14 July 2026, 20:00 UTC, whatever the wall says:
    // already 15 July, 04:00, in the city.
    config.city.time_zone = "Asia/Shanghai".into();
    let clock = waimai::base::Clock::manual(1_784_059_200);
    let server = spawn_at(&config, &dir, &clock).await;
    let operator = token(&server, Role::Operator);
    let (month, day) = (7, 15);
    let contact =
        json!({"type": "contact", "contact": {"name": "Bo", "birthday": {"month": month, "day": day}}});
    let (status, out, _) = post(
        &server,
        &operator,
        "/v1/customers/bo/commands",
        contact,
        Some("c"),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let birthday_coupons = |coupons: &Value| {
        coupons
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["template"] == "birthday")
            .count()
    };
    let mut found = 0;
    for _ in 0..50 {
        let (_, coupons) = get(&server, &operator, "/v1/customers/bo/coupons").await;
        found = birthday_coupons(&coupons);
        if found > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found, 1, "a birthday coupon within 5 s");
    // Two more runs of the jobs: still one.
    let runs = metric(&server, "waimai_crm_job_runs_total").await;
    wait_for_metric(&server, "waimai_crm_job_runs_total", runs + 2).await;
    assert_eq!(metric(&server, "waimai_crm_job_failures_total").await, 0);
    let (_, coupons) = get(&server, &operator, "/v1/customers/bo/coupons").await;
    assert_eq!(birthday_coupons(&coupons), 1, "{coupons}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_and_write_of_contact_details_is_in_the_access_log() {
    let dir = tempdir("crm-access");
    let server = spawn(&dir).await;
    let r1 = token(&server, Role::Merchant("r1".into()));
    let support = token(&server, Role::Support);
    let operator = token(&server, Role::Operator);
    let contact = json!({"type": "contact", "contact": {"name": "Li Wei", "phone": "13812345678"}});
    let (status, _, _) = post(&server, &r1, "/v1/customers/c7/commands", contact, Some("c7-1")).await;
    assert_eq!(status, 200);
    let (status, seen) = get(&server, &support, "/v1/customers/c7").await;
    assert_eq!(
        (status, seen["contact"]["phone"].as_str()),
        (200, Some("138****5678"))
    );
    let (status, _) = get(&server, &r1, "/v1/audit/access").await;
    assert_eq!(status, 403);
    let (status, log) = get(&server, &operator, "/v1/audit/access").await;
    assert_eq!(status, 200, "{log}");
    let lines: Vec<(&str, &str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["what"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("merchant:r1", "write", "contact"),
            ("support", "read", "contact (phone masked)")
        ]
    );

    // Export, then erase on the customer's request (operators only).
    let (status, _) = get(&server, &r1, "/v1/customers/c7/export").await;
    assert_eq!(status, 403);
    let (status, all) = get(&server, &operator, "/v1/customers/c7/export").await;
    assert_eq!(
        (status, all["profile"]["contact"]["phone"].as_str()),
        (200, Some("13812345678")),
        "{all}"
    );
    let erase = json!({"type": "erase"});
    let (status, _, _) = post(
        &server,
        &r1,
        "/v1/customers/c7/commands",
        erase.clone(),
        Some("erase-1"),
    )
    .await;
    assert_eq!(status, 403, "a merchant cannot erase");
    let (status, out, _) = post(
        &server,
        &operator,
        "/v1/customers/c7/commands",
        erase,
        Some("erase-1"),
    )
    .await;
    assert_eq!((status, out["type"].as_str()), (200, Some("erased")), "{out}");
    let (_, after) = get(&server, &operator, "/v1/customers/c7/export").await;
    assert_eq!(
        after["profile"]["contact"],
        json!({"name": null, "phone": null, "email": null, "birthday": null, "addresses": []})
    );
    let (_, log) = get(&server, &operator, "/v1/audit/access?offset=2").await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["export", "erase", "export"]);
    server.stop().await;
}
