//! The connection to Redis, one server or a Redis Cluster, for every store
//! that keeps its state there (the journal, the CRM). A `redis_url` of the
//! form `redis+cluster://host:port[,host:port...]` names seed nodes of a
//! cluster; anything else is one server's URL, as the redis crate reads it.
//!
//! On a cluster every command is routed by its key's hash slot; the redis
//! crate follows MOVED and ASK redirects and reconnects after a node
//! restart or a failover, up to [`CLUSTER_RETRIES`] times with a bounded
//! back-off, before a command fails. A batch is pipelined on one server,
//! and on a cluster pipelined per master (see `cluster`); it is never
//! atomic on either: atomic changes are Lua scripts whose keys share one
//! hash tag.
//!
//! Owns: URL parsing, connections, batches. May call: nothing in the crate.

mod batch;
mod cluster;

use std::time::Duration;

use redis::cluster::ClusterClientBuilder;
use redis::{Connection, ConnectionLike, FromRedisValue, Value};
use thiserror::Error;

pub use batch::Batch;
use cluster::ClusterLink;
pub use cluster::slot;

/// Attempts of one command on a cluster (redirects, reconnects) before it fails.
pub const CLUSTER_RETRIES: u32 = 8;
/// Longest wait between two attempts, in milliseconds.
const CLUSTER_RETRY_WAIT_MS_MAX: u64 = 1_000;
/// Scheme of a cluster's seed list.
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// Why a Redis could not be reached or named.
#[derive(Debug, Error)]
pub enum KvError {
    #[error("redis_url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("redis at {url}: {source}")]
    Redis { url: String, source: redis::RedisError },
}

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One server (or a server behind a proxy), by the redis crate's URL.
    Single(String),
    /// A cluster, by seed nodes (`redis://host:port` each).
    Cluster(Vec<String>),
}

impl Target {
    /// Reads a `redis_url`.
    pub fn parse(url: &str) -> Result<Self, KvError> {
        let bad = |reason: &str| KvError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let Some(seeds) = url.strip_prefix(CLUSTER_SCHEME) else {
            redis::parse_redis_url(url).ok_or_else(|| bad("not a redis:// URL"))?;
            return Ok(Target::Single(url.to_string()));
        };
        let seeds: Vec<String> = seeds
            .trim_end_matches('/')
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| format!("redis://{s}"))
            .collect();
        if seeds.is_empty() {
            return Err(bad("a cluster URL names at least one seed node (host:port)"));
        }
        for s in &seeds {
            let ok = redis::parse_redis_url(s).is_some_and(|u| u.port().is_some() && u.host().is_some());
            if !ok {
                return Err(bad("every seed node is host:port"));
            }
        }
        Ok(Target::Cluster(seeds))
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster(_))
    }
}

/// One open connection (on a cluster: to every node it needs).
pub enum Link {
    Single(Connection),
    Cluster(Box<ClusterLink>),
}

impl Link {
    /// Connects to `url`.
    pub fn open(url: &str) -> Result<Self, KvError> {
        let fail = |source| KvError::Redis {
            url: url.to_string(),
            source,
        };
        match Target::parse(url)? {
            Target::Single(u) => {
                let client = redis::Client::open(u.as_str()).map_err(fail)?;
                Ok(Link::Single(client.get_connection().map_err(fail)?))
            }
            Target::Cluster(seeds) => {
                let client = ClusterClientBuilder::new(seeds)
                    .retries(CLUSTER_RETRIES)
                    .max_retry_wait(CLUSTER_RETRY_WAIT_MS_MAX)
                    .connection_timeout(Duration::from_secs(2))
                    .response_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(fail)?;
                let conn = client.get_connection().map_err(fail)?;
                Ok(Link::Cluster(Box::new(ClusterLink::new(conn).map_err(fail)?)))
            }
        }
    }

    /// Runs `batch` and returns its unignored replies as `T` (an array).
    pub fn run<T: FromRedisValue>(&mut self, batch: &Batch) -> redis::RedisResult<T> {
        match self {
            Link::Single(c) => batch.pipeline().query(c),
            Link::Cluster(c) => {
                let replies = c
                    .run(batch)?
                    .into_iter()
                    .zip(batch.commands())
                    .filter(|(_, (_, ignored))| !ignored)
                    .map(|(v, _)| v)
                    .collect();
                redis::from_owned_redis_value(Value::Array(replies))
            }
        }
    }

    /// Loads Lua scripts on every server that may run them (every master
    /// of a cluster), so `EVALSHA` finds them.
    pub fn load_scripts(&mut self, scripts: &[&str]) -> redis::RedisResult<()> {
        for lua in scripts {
            // On a cluster SCRIPT LOAD is routed to every master.
            let _: Value = self.req(redis::cmd("SCRIPT").arg("LOAD").arg(*lua))?;
        }
        Ok(())
    }

    /// Every key matching `pattern` (a SCAN MATCH glob), on every master.
    pub fn scan(&mut self, pattern: &str) -> redis::RedisResult<Vec<String>> {
        let mut keys = Vec::new();
        match self {
            Link::Single(c) => scan_node(c, pattern, &mut keys)?,
            Link::Cluster(c) => {
                for addr in c.masters() {
                    scan_node(c.node(&addr)?, pattern, &mut keys)?;
                }
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn req(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
        match self {
            Link::Single(c) => c.req_command(cmd),
            Link::Cluster(c) => c.client.req_command(cmd),
        }
    }
}

/// SCAN over one server, every page.
fn scan_node(c: &mut dyn ConnectionLike, pattern: &str, keys: &mut Vec<String>) -> redis::RedisResult<()> {
    let mut cursor = 0u64;
    // Bounded: SCAN returns to cursor 0 after a full pass over the keyspace.
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(c)?;
        keys.extend(page);
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_names_its_seeds() {
        assert_eq!(
            Target::parse("redis+cluster://127.0.0.1:7000,10.0.0.2:7001").ok(),
            Some(Target::Cluster(vec![
                "redis://127.0.0.1:7000".into(),
                "redis://10.0.0.2:7001".into()
            ]))
        );
        assert_eq!(
            Target::parse("redis://127.0.0.1:6379").ok(),
            Some(Target::Single("redis://127.0.0.1:6379".into()))
        );
        for bad in ["redis+cluster://", "redis+cluster://nohostport", "http://x", ""] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
