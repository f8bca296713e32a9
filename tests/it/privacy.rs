//! Nothing personal in clear text: the real binary on a real Redis, with
//! its most verbose logs, handles a customer's contact details, an order,
//! a review and bad input; then every Redis key and value under the
//! deployment's prefix and every log line are searched for the details.

use crate::common;

use common::redis::TestRedis;
use serde_json::{Value, json};
use waimai::crm::crypto::FieldCipher;
use waimai::wire::auth::{Role, Tokens};

const NAME: &str = "Zhang Xiaoming";
const PHONE: &str = "13912345678";
const EMAIL: &str = "xiaoming@example.com";
const ADDRESS: &str = "88 Boulevard des Moulins";

/// Every key and value under `prefix`, as text.
fn dump(redis: &TestRedis) -> String {
    let mut conn = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", redis.prefix))
        .query(&mut conn)
        .unwrap();
    assert!(!keys.is_empty(), "the CRM wrote nothing under {}", redis.prefix);
    let mut out = String::new();
    for k in keys {
        let kind: String = redis::cmd("TYPE").arg(&k).query(&mut conn).unwrap();
        let values: Vec<String> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&k).query(&mut conn).unwrap()],
            "hash" => redis::cmd("HGETALL").arg(&k).query(&mut conn).unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap(),
            "set" => redis::cmd("SMEMBERS").arg(&k).query(&mut conn).unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap(),
            other => panic!("{k}: unexpected type {other}"),
        };
        out.push_str(&k);
        out.push('\n');
        for v in values {
            out.push_str(&v);
            out.push('\n');
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_details_appear_neither_in_redis_nor_in_the_logs() {
    let redis = TestRedis::start("privacy");
    let dir = std::env::temp_dir().join(format!("waimai-privacy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log_path = dir.with_extension("log");
    let _ = std::fs::remove_file(&log_path);
    let keys = FieldCipher::generate_spec("k1");
    let served = common::process::serve_binary(
        &dir,
        &[
            ("WAIMAI_CRM__STORE", "redis"),
            ("WAIMAI_CRM__REDIS_URL", &redis.url),
            ("WAIMAI_CRM__REDIS_PREFIX", &redis.prefix),
            ("WAIMAI_CRM__ENCRYPTION_KEYS", &keys),
            ("RUST_LOG", "trace"),
        ],
    );
    let addr = served.addr.clone();

    // A loopback server with the shipped config signs with the secret it
    // made in its data dir (as `waimai token --data-dir` reads it).
    let secret = std::fs::read_to_string(dir.join("token.secret")).unwrap();
    let tokens = Tokens::new(secret.trim());
    let r1 = tokens.issue(&Role::Merchant("r1".into())).unwrap();
    let support = tokens.issue(&Role::Support).unwrap();
    let client = reqwest::Client::new();
    let call = |token: &str, key: &str, body: Value| {
        client
            .post(format!("http://{addr}/v1/customers/c1/commands"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let contact = json!({"type": "contact", "contact": {"name": NAME, "phone": PHONE, "email": EMAIL,
        "birthday": {"month": 11, "day": 18}, "addresses": [{"label": "home", "text": ADDRESS}]}});
    assert_eq!(call(&r1, "contact-1", contact).await.unwrap().status(), 200);
    let bad = json!({"type": "contact", "contact": {"name": NAME, "phone": format!("{PHONE}x")}});
    assert_eq!(call(&r1, "contact-2", bad).await.unwrap().status(), 400);
    let checkout = json!({"type": "checkout", "order": "o1", "merchant": "r1", "amount_cents": 3500});
    assert_eq!(call(&r1, "checkout-o1", checkout).await.unwrap().status(), 200);
    let review = json!({"type": "feedback", "order": "o1", "merchant": "r1", "channel": "support_chat",
        "rating": 1, "text": "cold food"});
    assert_eq!(call(&support, "chat-1", review).await.unwrap().status(), 200);
    // The API still shows the details to those who may see them.
    let seen: Value = client
        .get(format!("http://{addr}/v1/customers/c1"))
        .bearer_auth(&r1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["contact"]["phone"], PHONE, "{seen}");

    served.kill_9();
    let stored = dump(&redis);
    // The data dir's name holds the process id, whose digits may hold
    // "5678": paths are not personal data.
    let logs = std::fs::read_to_string(&log_path)
        .unwrap()
        .replace(dir.to_str().unwrap(), "<data dir>");
    assert!(logs.contains("serving"), "the log was written: {logs}");
    for secret in [NAME, PHONE, EMAIL, ADDRESS, "Moulins", "5678"] {
        assert!(!stored.contains(secret), "{secret:?} in Redis:\n{stored}");
        assert!(!logs.contains(secret), "{secret:?} in the logs");
    }
    assert!(!stored.contains(":1118"), "a birthday in a key:\n{stored}");
    let _ = std::fs::remove_dir_all(&dir);
}
