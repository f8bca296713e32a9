//! Riders' records: `PUT /v1/riders/{id}` says what a rider rides and how
//! many orders it carries; the planner times each rider on its own
//! vehicle's roads and never bundles beyond its capacity. Records survive
//! a restart; riders without one ride the default vehicle.

use crate::common;
use crate::common::serve::{self, CUSTOMER, R2};

use serde_json::{Value, json};
use waimai::base::Clock;
use waimai::engine::RiderId;
use waimai::map::LatLng;
use waimai::wire::auth::Role;

/// 03:00 UTC: outside every profile's rush hours.
const NIGHT: i64 = 1_796_601_600 + 3 * 3600;
/// Where the rider waits: a few hundred metres from R2.
const START: (f64, f64) = (43.7372, 7.4215);

/// A server that also loads the walking network.
fn config() -> waimai::config::Config {
    let mut config = serve::server_config();
    config.server.vehicles = vec!["walk".into()];
    config
}

/// The first assignment rider 1 gets, with `record` PUT for it (if any),
/// after `orders` orders to CUSTOMER are posted at r2 with food ready now.
async fn first_assignment(name: &str, record: Option<Value>, orders: usize) -> Value {
    let dir = serve::tempdir(name);
    let clock = Clock::manual(NIGHT);
    let server = serve::spawn_at(&config(), &dir, &clock).await;
    let operator = serve::token(&server, Role::Operator);
    if let Some(body) = record {
        let (s, b) = serve::put(&server, &operator, "/v1/riders/1", body).await;
        assert_eq!(s, 201, "{b}");
    }
    let mut ws = serve::rider(&server, 1, 0).await;
    serve::go_online(&mut ws, START).await;
    let merchant = serve::token(&server, Role::Merchant("r2".into()));
    for _ in 0..orders {
        let (s, b, _) = serve::post(&server, &merchant, "/v1/orders", serve::order_body(), None).await;
        assert_eq!(s, 201, "{b}");
    }
    for _ in 0..20 {
        let m = serve::next_advancing(&mut ws, &clock).await;
        if m["type"] == "assignment" {
            server.stop().await;
            return m;
        }
    }
    panic!("no assignment in 20 messages");
}

fn eta(m: &Value, kind: &str) -> i64 {
    m["stops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .and_then(|s| s["eta_secs"].as_i64())
        .unwrap_or_else(|| panic!("no {kind} stop in {m}"))
}

/// The ride from R2 to the customer on `profile`'s roads, by plain
/// Dijkstra, in whole seconds.
fn ride_secs(profile: &str) -> i64 {
    let net = common::network("monaco", profile);
    let a = net.snap(LatLng::new(R2.0, R2.1).unwrap()).unwrap();
    let b = net.snap(LatLng::new(CUSTOMER.0, CUSTOMER.1).unwrap()).unwrap();
    (common::oracle_ms(&net, &a, &b) as i64 + 999) / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rider_is_timed_on_its_own_vehicle() {
    let walker = json!({"vehicle": "walk", "capacity_orders": 2, "home_zone": "centre"});
    let on_foot = first_assignment("vehicle-walk", Some(walker), 1).await;
    let on_ebike = first_assignment("vehicle-ebike", None, 1).await;
    // Pickup to drop-off is the ride plus the same service either way.
    let walked = eta(&on_foot, "dropoff") - eta(&on_foot, "pickup");
    let biked = eta(&on_ebike, "dropoff") - eta(&on_ebike, "pickup");
    let (walk, ebike) = (ride_secs("walk"), ride_secs("ebike"));
    assert!(walk > ebike + 60, "walking is slower: {walk} s vs {ebike} s");
    assert_eq!(
        walked - biked,
        walk - ebike,
        "on foot {on_foot}\non an ebike {on_ebike}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rider_never_carries_more_than_its_capacity() {
    let stops = |m: &Value| {
        m["stops"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == "pickup")
            .count()
    };
    let unlimited = first_assignment("capacity-default", None, 3).await;
    assert!(
        stops(&unlimited) >= 2,
        "without a record the orders are bundled: {unlimited}"
    );
    let one = json!({"vehicle": "ebike", "capacity_orders": 1});
    let single = first_assignment("capacity-one", Some(one), 3).await;
    assert_eq!(stops(&single), 1, "{single}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rider_records_are_checked_journaled_and_read_back() {
    let dir = serve::tempdir("rider-records");
    let clock = Clock::manual(NIGHT);
    let server = serve::spawn_at(&config(), &dir, &clock).await;
    let operator = serve::token(&server, Role::Operator);
    let body = json!({"vehicle": "walk", "capacity_orders": 3});
    assert_eq!(
        serve::put(&server, &operator, "/v1/riders/7", body.clone())
            .await
            .0,
        201
    );
    assert_eq!(
        serve::put(&server, &operator, "/v1/riders/7", body.clone())
            .await
            .0,
        200
    );
    let cases = [
        (json!({"vehicle": "car", "capacity_orders": 3}), 422, "vehicle"),
        (
            json!({"vehicle": "walk", "capacity_orders": 0}),
            400,
            "capacity_orders",
        ),
        (
            json!({"vehicle": "walk", "capacity_orders": 21}),
            400,
            "capacity_orders",
        ),
        (
            json!({"vehicle": "walk", "capacity_orders": 2, "home_zone": "a b"}),
            400,
            "home_zone",
        ),
        (json!({"capacity_orders": 2}), 400, "vehicle"),
    ];
    for (body, status, field) in cases {
        let (s, e) = serve::put(&server, &operator, "/v1/riders/7", body.clone()).await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (status, Some(field)),
            "{body} -> {e}"
        );
    }
    let (s, e) = serve::put(&server, &operator, "/v1/riders/x", body.clone()).await;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("id")));
    let rider = serve::token(&server, Role::Rider(RiderId(7)));
    let (s, _) = serve::put(&server, &rider, "/v1/riders/7", body.clone()).await;
    assert_eq!(s, 403, "riders do not set their own record");
    server.stop().await;

    let server = serve::spawn_at(&config(), &dir, &clock).await;
    let (s, got) = serve::get(&server, &operator, "/v1/riders/7").await;
    assert_eq!(
        (s, got),
        (200, json!({"id": 7, "vehicle": "walk", "capacity_orders": 3}))
    );
    let (_, all) = serve::get(&server, &operator, "/v1/riders").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    assert_eq!(serve::get(&server, &operator, "/v1/riders/8").await.0, 404);
    server.stop().await;
}
