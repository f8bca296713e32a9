//! One conformance suite for the journal stores: the file (embedded
//! default), a list on a real Redis (127.0.0.1:6379, started by
//! scripts/ensure-redis) and a list on a local Redis Cluster (started by
//! scripts/ensure-redis-cluster).

use crate::common::redis::{cluster_url, raw_connection};
use waimai::store::{Log, LogLocation, StoreError};

fn locations(name: &str) -> Vec<LogLocation> {
    let unique = format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let file = std::env::temp_dir().join(format!("waimai-store-{unique}.jsonl"));
    vec![
        LogLocation::File(file),
        LogLocation::Redis {
            url: "redis://127.0.0.1:6379".into(),
            key: format!("waimai:test:{unique}"),
        },
        LogLocation::Redis {
            url: cluster_url(),
            key: format!("waimai:{{journal:{unique}}}"),
        },
    ]
}

#[test]
fn records_come_back_in_order_after_reopening() {
    for at in locations("order") {
        let (mut log, none) = Log::open::<(u32, String)>(&at).unwrap();
        assert!(none.is_empty(), "{at:?}");
        log.append(&[(1, "a".to_string()), (2, "b".to_string())]).unwrap();
        log.append::<(u32, String)>(&[]).unwrap();
        log.append(&[(3, "c".to_string())]).unwrap();
        assert_eq!(log.len(), 3);
        drop(log);
        let (log, back) = Log::open::<(u32, String)>(&at).unwrap();
        assert_eq!(
            back,
            [(1, "a".into()), (2, "b".into()), (3, "c".into())],
            "{at:?}"
        );
        assert_eq!(log.len(), 3);
    }
}

#[test]
fn a_damaged_record_is_an_error_not_a_silent_loss() {
    for at in locations("damaged") {
        let (mut log, _) = Log::open::<u32>(&at).unwrap();
        log.append(&[10u32, 20, 30]).unwrap();
        drop(log);
        match &at {
            LogLocation::File(p) => {
                let text = std::fs::read_to_string(p).unwrap().replacen(" 20", " 21", 1);
                std::fs::write(p, text).unwrap();
            }
            LogLocation::Redis { url, key } => {
                let mut c = raw_connection(url);
                let line: String = redis::cmd("LINDEX").arg(key).arg(1).query(&mut *c).unwrap();
                let _: () = redis::cmd("LSET")
                    .arg(key)
                    .arg(1)
                    .arg(line.replacen(" 20", " 21", 1))
                    .query(&mut *c)
                    .unwrap();
            }
        }
        match Log::open::<u32>(&at) {
            Err(StoreError::Corrupt { line: 2, .. }) | Err(StoreError::CorruptEntry { index: 1, .. }) => {}
            Err(e) => panic!("{at:?}: wrong error {e}"),
            Ok((_, r)) => panic!("{at:?}: opened a damaged journal: {r:?}"),
        }
    }
}

#[test]
fn an_unreachable_redis_is_a_clear_error() {
    let at = LogLocation::Redis {
        url: "redis://127.0.0.1:1".into(),
        key: "waimai:none".into(),
    };
    match Log::open::<u32>(&at) {
        Err(StoreError::Redis { key, .. }) => assert_eq!(key, "waimai:none"),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

/// Our slot of a key (batches on a cluster are grouped by it) is the slot
/// the cluster itself gives it.
#[test]
fn key_slots_agree_with_the_cluster() {
    let mut c = raw_connection(&cluster_url());
    for key in [
        "foo",
        "waimai:crm:{c:42}:meta",
        "{journal:z1}",
        "a{}b",
        "x{}{y}",
        "{",
        "naïve",
    ] {
        let theirs: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut *c)
            .unwrap();
        assert_eq!(waimai::kv::slot(key.as_bytes()), theirs, "{key}");
    }
}
