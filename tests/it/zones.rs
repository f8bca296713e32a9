//! One city, two zones: two processes (`--zone north`, `--zone south`)
//! journal to their own keys on the local Redis Cluster and share the CRM
//! there. Each owns its restaurants and riders; a request for the other's
//! is answered 307 to it; one customer who orders in both has one profile
//! and one points balance.

use crate::common::load::restaurants;
use crate::common::redis::{cluster_url, unique};
use crate::common::serve::*;

use serde_json::{Value, json};
use waimai::config::ZoneConfig;
use waimai::engine::{OrderId, RiderId};
use waimai::wire::auth::Role;

/// A free loopback address: the zone table names each process's URL
/// before it starts.
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn rider_in_zone(server: &waimai::app::Application, id: u64, zone: Option<&str>) -> Result<Ws, u16> {
    let t = match zone {
        Some(zone) => server.tokens.issue_rider_in_zone(RiderId(id), zone).unwrap(),
        None => server.tokens.issue(&Role::Rider(RiderId(id))).unwrap(),
    };
    let u = format!("ws://{}/v1/riders/ws?token={t}", server.addr);
    match tokio_tungstenite::connect_async(u).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn order(restaurant: &(String, f64, f64), order_ref: &str, cents: i64) -> Value {
    json!({"restaurant": restaurant.0, "customer": {"lat": restaurant.1 - 0.004, "lng": restaurant.2 + 0.002},
           "ready_in_secs": 0,
           "crm": {"customer_id": "both-zones", "order_ref": order_ref, "amount_cents": cents}})
}

/// The rider takes its next assignment, which must be `id`, and delivers it.
async fn deliver(ws: &mut Ws, id: u64) {
    let m = next(ws).await;
    assert_eq!(m["type"], "assignment", "{m}");
    let orders: Vec<&str> = m["stops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["order"].as_str())
        .collect();
    assert!(
        orders.iter().all(|o| *o == id.to_string()),
        "another order in {m}"
    );
    send(
        ws,
        json!({"v": 1, "type": "accept", "assignment": m["assignment"]}),
    )
    .await;
    send(ws, json!({"v": 1, "type": "picked_up", "order": id.to_string()})).await;
    assert_eq!(next(ws).await["type"], "route_update");
    send(ws, json!({"v": 1, "type": "delivered", "order": id.to_string()})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zones_of_one_city_share_customers_and_redirect_to_each_other() {
    let rs = restaurants();
    let (north_r, south_r) = (rs[0].clone(), rs[5].clone());
    let (north_addr, south_addr) = (free_addr(), free_addr());
    let run = unique("zones");
    let mut config = server_config();
    config.server.store = "redis".into();
    config.server.redis_url = cluster_url();
    config.server.redis_key = format!("waimai-test:{run}");
    config.crm.store = "redis".into();
    config.crm.redis_url = cluster_url();
    config.crm.redis_prefix = format!("waimai-test:{run}:crm");
    config.crm.encryption_keys = waimai::crm::crypto::FieldCipher::generate_spec("test");
    config.server.secret = "zones-share-this-secret-of-32-bytes-or-more".into();
    let zone = |id, addr: &str, owned: &[(String, f64, f64)]| ZoneConfig {
        id,
        url: format!("http://{addr}"),
        restaurants: owned.iter().map(|r| r.0.clone()).collect(),
    };
    config
        .zones
        .insert("north".into(), zone(1, &north_addr, &rs[..5]));
    config
        .zones
        .insert("south".into(), zone(2, &south_addr, &rs[5..]));
    let north = spawn_zone(&config, "north", &north_addr).await;
    let south = spawn_zone(&config, "south", &south_addr).await;
    let operator = token(&north, Role::Operator);

    // Riders work in the zone their token names, and only there.
    assert_eq!(rider_in_zone(&south, 1, Some("north")).await.err(), Some(403));
    assert_eq!(
        rider_in_zone(&north, 1, None).await.err(),
        Some(403),
        "a token without a zone"
    );
    let mut north_rider = rider_in_zone(&north, 1, Some("north")).await.unwrap();
    let mut south_rider = rider_in_zone(&south, 2, Some("south")).await.unwrap();
    go_online(&mut north_rider, (north_r.1, north_r.2)).await;
    go_online(&mut south_rider, (south_r.1, south_r.2)).await;

    // An order for a south restaurant sent to north is redirected (307:
    // same method, same body; clients send their token again, as HTTP
    // clients drop it on a redirect to another origin).
    let south_merchant = token(&north, Role::Merchant(south_r.0.clone()));
    let res = no_redirects()
        .post(url(&north, "/v1/orders"))
        .bearer_auth(&south_merchant)
        .json(&order(&south_r, "s-1", 3000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 307);
    assert_eq!(
        res.headers()["location"],
        format!("http://{south_addr}/v1/orders").as_str()
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (Some("other_zone"), Some("restaurant"))
    );
    let (status, south_card, _) = post(
        &south,
        &south_merchant,
        "/v1/orders",
        order(&south_r, "s-1", 3000),
        Some("s-1"),
    )
    .await;
    assert_eq!(status, 201, "{south_card}");
    let north_merchant = token(&north, Role::Merchant(north_r.0.clone()));
    let (status, north_card, _) = post(
        &north,
        &north_merchant,
        "/v1/orders",
        order(&north_r, "n-1", 2000),
        Some("n-1"),
    )
    .await;
    assert_eq!(status, 201, "{north_card}");

    // Ids carry their zone: unique across zones, and an id finds its owner.
    let (north_id, south_id) = (
        north_card["id"].as_u64().unwrap(),
        south_card["id"].as_u64().unwrap(),
    );
    assert_eq!((OrderId(north_id).zone_id(), OrderId(south_id).zone_id()), (1, 2));
    let res = no_redirects()
        .get(url(&north, &format!("/v1/orders/{south_id}")))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 307);
    assert_eq!(
        res.headers()["location"],
        format!("http://{south_addr}/v1/orders/{south_id}").as_str()
    );

    // Each rider gets its own zone's order, and delivers it.
    deliver(&mut north_rider, north_id).await;
    deliver(&mut south_rider, south_id).await;

    // One customer, one balance: 20 + 30 points, seen alike from both zones.
    for server in [&north, &south] {
        let mut seen = Value::Null;
        for _ in 0..100 {
            let (status, c) = get(server, &operator, "/v1/customers/both-zones").await;
            if status == 200 && c["points"] == 50 {
                seen = c;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(seen["points"], 50, "the balance from {}: {seen}", server.addr);
        assert_eq!(seen["orders"]["count"], 2, "{seen}");
    }
    let health: Value = reqwest::get(url(&north, "/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&health["crm"]["store"], &health["crm"]["redis"]["mode"]),
        (&json!("redis"), &json!("cluster")),
        "{health}"
    );
    north.stop().await;
    south.stop().await;
}

/// `--zone` with a store a zone cannot use, or a zone the table does not
/// have, is a CLI error (exit 2) naming the flag and the setting.
#[test]
fn a_zone_flag_that_contradicts_the_config_exits_2_naming_both() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/zones.toml");
    let run = |zone: &str, env: &[(&str, &str)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_waimai"))
            .args([
                "--config",
                config,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--zone",
                zone,
            ])
            .env(
                "WAIMAI_SERVER__SECRET",
                "zones-share-this-secret-of-32-bytes-or-more",
            )
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("north", &[("WAIMAI_CRM__STORE", "embedded")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--zone") && err.contains("crm.store"), "{err}");
    let (code, err) = run("west", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("not in [zones]") && err.contains("north, south"),
        "{err}"
    );
}
