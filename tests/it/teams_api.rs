//! Account managers against a real server on port 0 (embedded store): a
//! merchant's team, ownership by its rule, a manager leaving, the audit
//! trail, and who may do what.

use crate::common;

use common::serve::{get, post, put, spawn, tempdir, token};
use serde_json::json;
use waimai::wire::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_assigns_by_its_rule_and_hands_a_leaving_book_over() {
    let dir = tempdir("teams-api");
    let server = spawn(&dir).await;
    let r1 = token(&server, Role::Merchant("r1".into()));
    let r2 = token(&server, Role::Merchant("r2".into()));
    let team = json!({"members": ["ann", "bo"], "rule": "even_split_daily"});

    let (status, body) = put(
        &server,
        &r1,
        "/v1/merchants/r1/team",
        json!({"members": ["ann"], "rule": "coin_toss"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("rule")),
        "{body}"
    );
    let (status, body) = put(
        &server,
        &r1,
        "/v1/merchants/r1/team",
        json!({"members": ["ann", "ann"], "rule": "least_busy"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("members")),
        "{body}"
    );
    let (status, body) = put(&server, &r2, "/v1/merchants/r1/team", team.clone()).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (403, Some("merchant")),
        "{body}"
    );
    let (status, body, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/customers/c1/owner",
        json!({"event": "assign"}),
        None,
    )
    .await;
    assert_eq!(status, 409, "no team yet: {body}");
    let (status, body) = put(&server, &r1, "/v1/merchants/r1/team", team).await;
    assert_eq!(status, 200, "{body}");

    let mut owners = Vec::new();
    for c in ["c1", "c2", "c3", "c4"] {
        let path = format!("/v1/merchants/r1/customers/{c}/owner");
        let (status, o, _) = post(&server, &r1, &path, json!({"event": "assign"}), None).await;
        assert_eq!(status, 200, "{o}");
        owners.push(o["manager"].as_str().unwrap().to_string());
    }
    assert_eq!(
        owners,
        ["ann", "bo", "ann", "bo"],
        "an even split in member order"
    );
    let (status, body, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/customers/c1/owner",
        json!({"event": "touch", "manager": "zed"}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("manager")),
        "{body}"
    );

    // ann leaves: her two customers go to bo, audited.
    let (status, body, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/managers/ann/leave",
        json!({}),
        None,
    )
    .await;
    assert_eq!((status, body["moved"].as_u64()), (200, Some(2)), "{body}");
    let (_, o) = get(&server, &r1, "/v1/merchants/r1/customers/c3/owner").await;
    assert_eq!(o["manager"], "bo");
    let (_, t) = get(&server, &r1, "/v1/merchants/r1/team").await;
    assert_eq!(
        (t["members"].clone(), t["owned"]["bo"].as_u64()),
        (json!(["bo"]), Some(4)),
        "{t}"
    );
    let (status, audit) = get(&server, &r1, "/v1/merchants/r1/ownership-audit?offset=4").await;
    assert_eq!(status, 200);
    let whys: Vec<(&str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["customer"].as_str().unwrap(), a["why"].as_str().unwrap()))
        .collect();
    assert_eq!(whys, [("c1", "transfer"), ("c3", "transfer")]);
    let (status, body, _) = post(
        &server,
        &r1,
        "/v1/merchants/r1/managers/bo/leave",
        json!({}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("manager")),
        "the last one stays: {body}"
    );
    let (status, _) = get(&server, &r2, "/v1/merchants/r1/ownership-audit").await;
    assert_eq!(status, 403);
    server.stop().await;
}
