//! Restaurants onboarded while the city runs: `PUT /v1/restaurants/{id}`
//! by operators, read by operators (all) and merchants (their own); a
//! closed restaurant or one outside its hours refuses orders and finishes
//! the ones it has; its delivery area refuses far customers; everything
//! (riders' records too) survives kill -9.

use crate::common;
use crate::common::serve::{self, CUSTOMER, R2};

use serde_json::{Value, json};
use waimai::base::Clock;
use waimai::map::LatLng;
use waimai::wire::auth::{Role, Tokens};

/// A customer on the other side of Monaco from R2.
const FAR: (f64, f64) = (43.7445, 7.4300);
/// Monday 2026-12-07 11:00 UTC: noon in Monaco (UTC+1 in December).
const MONDAY_NOON_LOCAL: i64 = 1_796_601_600 + 11 * 3600;

fn onboarding(merchant: &str) -> Value {
    json!({"merchant": merchant, "name": "Chez Nous", "lat": R2.0, "lng": R2.1, "prep_secs": 600})
}

fn order_at(restaurant: &str, at: (f64, f64)) -> Value {
    json!({"restaurant": restaurant, "customer": {"lat": at.0, "lng": at.1}})
}

/// The ride from R2 to `to` in whole seconds, by plain Dijkstra on the
/// server's map and profile (rounded up, as a ride is counted).
fn ride_secs(to: (f64, f64)) -> i64 {
    let config = serve::server_config();
    let net = common::network("monaco", &config.map.profile);
    let from = net.snap(LatLng::new(R2.0, R2.1).unwrap()).unwrap();
    let to = net.snap(LatLng::new(to.0, to.1).unwrap()).unwrap();
    (common::oracle_ms(&net, &from, &to) as i64 + 999) / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restaurant_is_onboarded_changed_and_closed_over_http() {
    let dir = serve::tempdir("restaurants-life");
    let clock = Clock::manual(MONDAY_NOON_LOCAL);
    let server = serve::spawn_at(&serve::server_config(), &dir, &clock).await;
    let operator = serve::token(&server, Role::Operator);
    let m9 = serve::token(&server, Role::Merchant("m9".into()));
    let r1 = serve::token(&server, Role::Merchant("r1".into()));

    // Seeds are listed; a new restaurant is created once, then changed.
    let (s, all) = serve::get(&server, &operator, "/v1/restaurants").await;
    assert_eq!(s, 200);
    let seeds = all.as_array().unwrap().len();
    assert!(seeds >= 2, "{all}");
    let (s, body) = serve::put(&server, &operator, "/v1/restaurants/n1", onboarding("m9")).await;
    assert_eq!((s, body["open_now"].as_bool()), (201, Some(true)), "{body}");
    let (s, _) = serve::put(&server, &operator, "/v1/restaurants/n1", onboarding("m9")).await;
    assert_eq!(s, 200, "an unchanged PUT is not a second restaurant");
    let (_, all) = serve::get(&server, &operator, "/v1/restaurants").await;
    assert_eq!(all.as_array().unwrap().len(), seeds + 1);
    let (_, mine) = serve::get(&server, &m9, "/v1/restaurants").await;
    assert_eq!(mine, json!([body]), "a merchant sees its own restaurant only");
    let (s, _) = serve::get(&server, &r1, "/v1/restaurants/n1").await;
    assert_eq!(s, 404, "another merchant's restaurant is not found");
    let (s, _) = serve::put(&server, &m9, "/v1/restaurants/n1", onboarding("m9")).await;
    assert_eq!(s, 403, "merchants do not onboard");

    // Its typical preparation is the ready time of an order that gives none.
    let (s, card, _) = serve::post(&server, &m9, "/v1/orders", order_at("n1", CUSTOMER), None).await;
    assert_eq!(s, 201, "{card}");
    assert_eq!(
        card["ready_at"].as_i64().unwrap() - card["placed_at"].as_i64().unwrap(),
        600
    );
    assert_eq!(card["restaurant"], "n1");
    let first = card["id"].as_u64().unwrap();

    // A delivery area between the near and the far customer's rides.
    let (near, far) = (ride_secs(CUSTOMER), ride_secs(FAR));
    assert!(near + 60 < far, "the far customer is further: {near} vs {far}");
    let mut limited = onboarding("m9");
    limited["max_ride_secs"] = json!(((near + far) / 2).max(60));
    assert_eq!(
        serve::put(&server, &operator, "/v1/restaurants/n1", limited.clone())
            .await
            .0,
        200
    );
    let (s, _, _) = serve::post(&server, &m9, "/v1/orders", order_at("n1", CUSTOMER), None).await;
    assert_eq!(s, 201);
    let (s, e, _) = serve::post(&server, &m9, "/v1/orders", order_at("n1", FAR), None).await;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("customer")), "{e}");

    // It does not move while its orders wait for pickup.
    let mut moved = limited.clone();
    moved["lat"] = json!(CUSTOMER.0);
    moved["lng"] = json!(CUSTOMER.1);
    let (s, e) = serve::put(&server, &operator, "/v1/restaurants/n1", moved).await;
    assert_eq!((s, e["error"]["field"].as_str()), (409, Some("lat")), "{e}");

    // Closed: it refuses new orders and keeps the ones it has.
    let mut closed = limited.clone();
    closed["open"] = json!(false);
    let (s, body) = serve::put(&server, &operator, "/v1/restaurants/n1", closed).await;
    assert_eq!((s, body["open_now"].as_bool()), (200, Some(false)));
    let (s, e, _) = serve::post(&server, &m9, "/v1/orders", order_at("n1", CUSTOMER), None).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (409, Some("restaurant")),
        "{e}"
    );
    let (s, card) = serve::get(&server, &m9, &format!("/v1/orders/{first}")).await;
    assert_eq!(s, 200);
    assert_ne!(card["state"], "cancelled");

    // Opening hours are the city's: Monday 11:00-14:00 in Monaco.
    let mut lunch = limited.clone();
    lunch["hours"] = json!([{"days": ["mon"], "open": "11:00", "close": "14:00"}]);
    let (s, body) = serve::put(&server, &operator, "/v1/restaurants/n1", lunch).await;
    assert_eq!((s, body["open_now"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(
        serve::post(&server, &m9, "/v1/orders", order_at("n1", CUSTOMER), None)
            .await
            .0,
        201
    );
    clock.advance(3 * 3600);
    let (s, e, _) = serve::post(&server, &m9, "/v1/orders", order_at("n1", CUSTOMER), None).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (409, Some("restaurant")),
        "15:00 local: {e}"
    );
    let (_, body) = serve::get(&server, &operator, "/v1/restaurants/n1").await;
    assert_eq!(body["open_now"], false);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_restaurant_bodies_are_each_a_400_naming_the_field() {
    let dir = serve::tempdir("restaurants-bad");
    let server = serve::spawn(&dir).await;
    let operator = serve::token(&server, Role::Operator);
    let with = |k: &str, v: Value| {
        let mut b = onboarding("m9");
        b[k] = v;
        b
    };
    let mut no_lat = onboarding("m9");
    no_lat.as_object_mut().unwrap().remove("lat");
    let cases = [
        (with("lat", json!(91.0)), "lat"),
        (with("lng", json!(-181.0)), "lng"),
        (no_lat, "lat"),
        (with("prep_secs", json!(-1)), "prep_secs"),
        (with("max_ride_secs", json!(10)), "max_ride_secs"),
        (with("name", json!("")), "name"),
        (with("merchant", json!("two words")), "merchant"),
        (
            with(
                "hours",
                json!([{"days": ["mon"], "open": "25:00", "close": "14:00"}]),
            ),
            "hours[].open",
        ),
        (
            with("hours", json!([{"days": [], "open": "11:00", "close": "14:00"}])),
            "hours[].days",
        ),
    ];
    for (body, field) in cases {
        let (s, e) = serve::put(&server, &operator, "/v1/restaurants/n1", body.clone()).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{body} -> {e}"
        );
    }
    let (s, e) = serve::put(&server, &operator, "/v1/restaurants/bad.id", onboarding("m9")).await;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("id")), "{e}");
    let (s, e) = serve::put(&server, &operator, "/v1/restaurants/n1", with("lat", json!(0.0))).await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("lat")),
        "off the map: {e}"
    );
    let (_, all) = serve::get(&server, &operator, "/v1/restaurants").await;
    assert!(
        all.as_array().unwrap().iter().all(|r| r["id"] != "n1"),
        "nothing refused was kept"
    );
    server.stop().await;
}

const SECRET: &str = "restaurants-test-secret-of-at-least-32-bytes";

async fn call(
    method: reqwest::Method,
    addr: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarded_restaurants_survive_kill_9() {
    use reqwest::Method;
    let dir = serve::tempdir("restaurants-kill9");
    let start = |dir: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            common::process::serve_binary(&dir, &[("WAIMAI_SERVER__SECRET", SECRET)])
        })
    };
    let tokens = Tokens::new(SECRET);
    let operator = tokens.issue(&Role::Operator).unwrap();
    let m9 = tokens.issue(&Role::Merchant("m9".into())).unwrap();

    let served = start(dir.clone()).await.unwrap();
    let a = served.addr.clone();
    let (s, seeds) = call(Method::GET, &a, &operator, "/v1/restaurants", None).await;
    assert_eq!(s, 200);
    let seeds = seeds.as_array().unwrap().len();
    let mut n1 = onboarding("m9");
    n1["prep_secs"] = json!(300);
    assert_eq!(
        call(Method::PUT, &a, &operator, "/v1/restaurants/n1", Some(n1.clone()))
            .await
            .0,
        201
    );
    let (s, card) = call(
        Method::POST,
        &a,
        &m9,
        "/v1/orders",
        Some(order_at("n1", CUSTOMER)),
    )
    .await;
    assert_eq!(s, 201, "{card}");
    let order = card["id"].as_u64().unwrap();
    n1["open"] = json!(false);
    assert_eq!(
        call(Method::PUT, &a, &operator, "/v1/restaurants/n1", Some(n1.clone()))
            .await
            .0,
        200
    );
    let n2 = json!({"merchant": "m9", "lat": CUSTOMER.0, "lng": CUSTOMER.1, "prep_secs": 0});
    assert_eq!(
        call(Method::PUT, &a, &operator, "/v1/restaurants/n2", Some(n2))
            .await
            .0,
        201
    );
    let rider = json!({"vehicle": "ebike", "capacity_orders": 2, "home_zone": "port"});
    assert_eq!(
        call(Method::PUT, &a, &operator, "/v1/riders/5", Some(rider))
            .await
            .0,
        201
    );
    served.kill_9();

    let served = start(dir.clone()).await.unwrap();
    let a = served.addr.clone();
    let (_, all) = call(Method::GET, &a, &operator, "/v1/restaurants", None).await;
    assert_eq!(all.as_array().unwrap().len(), seeds + 2, "{all}");
    let (_, five) = call(Method::GET, &a, &operator, "/v1/riders/5", None).await;
    assert_eq!(
        five,
        json!({"id": 5, "vehicle": "ebike", "capacity_orders": 2, "home_zone": "port"})
    );
    let (_, back) = call(Method::GET, &a, &operator, "/v1/restaurants/n1", None).await;
    assert_eq!(
        (back["open"].as_bool(), back["prep_secs"].as_i64()),
        (Some(false), Some(300)),
        "{back}"
    );
    let (s, card) = call(Method::GET, &a, &m9, &format!("/v1/orders/{order}"), None).await;
    assert_eq!((s, card["restaurant"].as_str()), (200, Some("n1")), "{card}");
    let (s, e) = call(
        Method::POST,
        &a,
        &m9,
        "/v1/orders",
        Some(order_at("n1", CUSTOMER)),
    )
    .await;
    assert_eq!((s, e["error"]["field"].as_str()), (409, Some("restaurant")));
    n1["open"] = json!(true);
    assert_eq!(
        call(Method::PUT, &a, &operator, "/v1/restaurants/n1", Some(n1))
            .await
            .0,
        200
    );
    let (s, card) = call(Method::POST, &a, &m9, "/v1/orders", Some(order_at("n2", R2))).await;
    assert_eq!((s, card["restaurant"].as_str()), (201, Some("n2")), "{card}");
    let (_, before) = call(Method::GET, &a, &operator, "/v1/restaurants", None).await;
    served.kill_9();

    // A third start replays the same journal to the same restaurants, and
    // journals the seeds only once.
    let served = start(dir.clone()).await.unwrap();
    let (_, again) = call(Method::GET, &served.addr, &operator, "/v1/restaurants", None).await;
    assert_eq!(again, before);
    served.kill_9();
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let restaurant_lines = journal
        .lines()
        .filter(|l| l.contains("\"record\":\"restaurant\""))
        .count();
    assert_eq!(
        restaurant_lines,
        seeds + 4,
        "seeds once, then two PUTs of n1, one of n2, one reopening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_seed_file_starts_empty_and_takes_onboarded_restaurants() {
    let dir = serve::tempdir("restaurants-noseed");
    let mut config = serve::server_config();
    config.server.restaurants = std::path::PathBuf::new();
    let server = serve::spawn_with(&config, Some(&dir)).await;
    let operator = serve::token(&server, Role::Operator);
    assert_eq!(
        serve::get(&server, &operator, "/v1/restaurants").await,
        (200, json!([]))
    );
    let (s, _, _) = serve::post(&server, &operator, "/v1/orders", order_at("r2", CUSTOMER), None).await;
    assert_eq!(s, 422, "no seed: r2 is unknown");
    assert_eq!(
        serve::put(&server, &operator, "/v1/restaurants/r2", onboarding("m9"))
            .await
            .0,
        201
    );
    let (s, card, _) = serve::post(&server, &operator, "/v1/orders", order_at("r2", CUSTOMER), None).await;
    assert_eq!((s, card["merchant"].as_str()), (201, Some("m9")), "{card}");
    server.stop().await;
}
