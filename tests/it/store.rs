//! One conformance suite for the journal stores: the file (embedded
//! default), a list on a real Redis (127.0.0.1:6379, started by
//! scripts/ensure-redis) and a list on a local Redis Cluster (started by
//! scripts/ensure-redis-cluster).

use crate::common::redis::{PausedReplica, cluster_url, raw_connection};
use waimai::kv::Acks;
use waimai::store::{Log, LogLocation, StoreError};

/// On the cluster every append waits for the master's replica.
const ONE_REPLICA: Acks = Acks {
    replicas: 1,
    timeout_ms: 5_000,
};

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
            acks: Acks::default(),
        },
        LogLocation::Redis {
            url: cluster_url(),
            key: format!("waimai:{{journal:{unique}}}"),
            acks: ONE_REPLICA,
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
            LogLocation::Redis { url, key, .. } => {
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
        acks: Acks::default(),
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

fn unique_key(name: &str) -> String {
    format!("waimai:{{journal:{}}}", crate::common::redis::unique(name))
}

/// A replica that does not answer makes an append fail as not replicated
/// (the record is on the master and comes back on reopening); once it
/// answers again, `confirm` succeeds and appending goes on.
#[test]
fn an_append_no_replica_confirms_fails_as_not_replicated_then_confirms() {
    let url = cluster_url();
    let key = unique_key("unconfirmed");
    let at = LogLocation::Redis {
        url: url.clone(),
        key: key.clone(),
        acks: Acks {
            replicas: 1,
            timeout_ms: 300,
        },
    };
    let (mut log, _) = Log::open::<u32>(&at).unwrap();
    log.append(&[1u32]).unwrap();
    {
        let _paused = PausedReplica::of_key(&url, &key);
        let started = std::time::Instant::now();
        match log.append(&[2u32]) {
            Err(e @ StoreError::NotReplicated { .. }) => assert!(Log::unconfirmed(&e), "{e}"),
            other => panic!("an append no replica holds was acknowledged: {other:?}"),
        }
        assert!(started.elapsed() >= std::time::Duration::from_millis(250));
        assert_eq!(log.len(), 2, "the record is on the master");
    }
    log.confirm().unwrap();
    log.append(&[3u32]).unwrap();
    drop(log);
    let (_, back) = Log::open::<u32>(&at).unwrap();
    assert_eq!(back, [1, 2, 3]);
}

/// Two writers on one list (or records lost in a failover) are an error
/// at the next append, and nothing of that append is pushed.
#[test]
fn a_list_that_changed_behind_the_journal_is_divergence_not_a_fork() {
    for at in locations("diverged").into_iter().skip(1) {
        let (mut first, _) = Log::open::<u32>(&at).unwrap();
        let (mut second, _) = Log::open::<u32>(&at).unwrap();
        first.append(&[1u32, 2]).unwrap();
        match second.append(&[9u32]) {
            Err(StoreError::Diverged {
                expected: 0,
                found: 2,
                ..
            }) => {}
            other => panic!("{at:?}: a second writer appended: {other:?}"),
        }
        first.append(&[3u32]).unwrap();
        let (_, back) = Log::open::<u32>(&at).unwrap();
        assert_eq!(back, [1, 2, 3], "{at:?}");
    }
}

/// An append that ran but whose reply was lost (a connection cut, a
/// master that died after replicating) is run again by the journal: the
/// second run finds its records at the tail and pushes nothing.
#[test]
fn an_append_run_twice_is_kept_once() {
    for at in locations("twice").into_iter().skip(1) {
        let LogLocation::Redis { url, key, acks } = &at else {
            unreachable!()
        };
        let scratch = LogLocation::Redis {
            url: url.clone(),
            key: format!("{key}:scratch"),
            acks: *acks,
        };
        let (mut other, _) = Log::open::<u32>(&scratch).unwrap();
        other.append(&[7u32]).unwrap();
        let mut c = raw_connection(url);
        let line: String = redis::cmd("LINDEX")
            .arg(format!("{key}:scratch"))
            .arg(0)
            .query(&mut *c)
            .unwrap();
        let (mut log, _) = Log::open::<u32>(&at).unwrap();
        // The first run, as if its reply never came back.
        let _: () = redis::cmd("RPUSH").arg(key).arg(&line).query(&mut *c).unwrap();
        log.append(&[7u32]).unwrap();
        log.append(&[8u32]).unwrap();
        let (_, back) = Log::open::<u32>(&at).unwrap();
        assert_eq!(back, [7, 8], "{at:?}");
    }
}
