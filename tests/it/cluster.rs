//! The server on the local Redis Cluster (scripts/ensure-redis-cluster):
//! what a merchant is told when replicas do not confirm a write.

use crate::common::redis::{PausedReplica, cluster_url};
use crate::common::serve::*;

use crate::common::redis::unique;

/// With `redis_wait_replicas = 1`, an order whose journal record no
/// replica confirms is answered 503 (not 201: a failover could lose it);
/// a retry with the same idempotency key once the replica is back gets
/// that very order, and a restart finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_no_replica_confirms_is_refused_and_its_retry_finds_it() {
    let url = cluster_url();
    let key = format!("waimai:{{journal:{}}}", unique("wait"));
    let mut config = server_config();
    config.server.store = "redis".into();
    config.server.redis_url = url.clone();
    config.server.redis_key = key.clone();
    config.server.redis_wait_replicas = 1;
    config.server.redis_wait_ms = 300;
    let server = spawn_with(&config, None).await;
    let merchant = token(&server, waimai::wire::auth::Role::Merchant("r2".into()));
    let (status, _, _) = post(&server, &merchant, "/v1/orders", order_body(), Some("w-1")).await;
    assert_eq!(status, 201);

    let refused = {
        let _paused = PausedReplica::of_key(&url, &key);
        post(&server, &merchant, "/v1/orders", order_body(), Some("w-2")).await
    };
    assert_eq!(refused.0, 503, "{:?}", refused.1);
    assert_eq!(refused.1["error"]["code"], "not_replicated", "{:?}", refused.1);
    assert_eq!(metric(&server, "waimai_journal_unconfirmed_total").await, 1);
    // Operators see the cluster as the journal's connection sees it.
    let health: serde_json::Value = reqwest::get(crate::common::serve::url(&server, "/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let journal = &health["journal"];
    assert_eq!(
        (&journal["store"], &journal["redis"]["mode"]),
        (&"redis".into(), &"cluster".into()),
        "{health}"
    );
    assert_eq!(
        journal["redis"]["masters"].as_array().map(Vec::len),
        Some(3),
        "{health}"
    );
    assert_eq!(journal["redis"]["wait_timeouts"], 1, "{health}");
    assert_eq!(health["crm"]["store"], "embedded", "{health}");
    assert_eq!(metric(&server, "waimai_journal_redis_masters").await, 3);

    let (status, retried, _) = post(&server, &merchant, "/v1/orders", order_body(), Some("w-2")).await;
    assert_eq!(status, 200, "{retried}");
    let (status, third, _) = post(&server, &merchant, "/v1/orders", order_body(), Some("w-3")).await;
    assert_eq!(status, 201);
    assert_ne!(third["id"], retried["id"]);
    server.stop().await;

    let server = spawn_with(&config, None).await;
    assert_eq!(server.restored.orders, 3);
    server.stop().await;
}

/// A CRM write no replica confirms fails as not replicated (HTTP 503
/// upstream); it did run on the master, and reads see it once the replica
/// is back.
#[test]
fn a_crm_write_no_replica_confirms_is_an_error_naming_it() {
    use waimai::crm::store::{CouponStore, RedisStore, StoreError};
    let url = cluster_url();
    let prefix = format!("waimai-test:{}", unique("crm-wait"));
    let acks = waimai::kv::Acks {
        replicas: 1,
        timeout_ms: 300,
    };
    let store = RedisStore::open_with(&url, &prefix, acks).unwrap();
    assert!(store.reserve_total("t1", 5).unwrap());
    {
        let _paused = PausedReplica::of_key(&url, &format!("{prefix}:{{t:t1}}:used"));
        match store.reserve_total("t1", 5) {
            Err(StoreError::NotReplicated(why)) => assert!(why.contains("0 of 1 replica"), "{why}"),
            other => panic!("a write no replica holds was acknowledged: {other:?}"),
        }
    }
    assert_eq!(store.total_used("t1").unwrap(), 2);
}
