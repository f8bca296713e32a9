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
//! A write is acknowledged to the caller only once `Acks::replicas`
//! replicas hold it as well (`WAIT`, sent on the connection that wrote,
//! after every batch with a write); when they do not confirm within
//! `Acks::timeout_ms` the batch fails with [`KvError::NotReplicated`]: it
//! did run on the master, but a failover could lose it.
//!
//! Owns: URL parsing, connections, batches, replica acknowledgement. May
//! call: nothing in the crate.

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
    #[error(
        "redis at {url}: {acked} of {wanted} replica(s) confirmed a write within {timeout_ms} ms; \
         it is on the master but a failover could lose it"
    )]
    NotReplicated {
        url: String,
        acked: u32,
        wanted: u32,
        timeout_ms: u64,
    },
}

impl KvError {
    /// The server's error, if the failure is one.
    pub fn redis(&self) -> Option<&redis::RedisError> {
        match self {
            KvError::Redis { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// How many replicas must hold a write before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Acks {
    /// 0: the master's reply is enough (no `WAIT`).
    pub replicas: u32,
    /// How long `WAIT` may block before the write fails as not replicated.
    pub timeout_ms: u64,
}

/// What one connection has seen of the cluster, for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// "single" or "cluster".
    pub mode: &'static str,
    /// `host:port` of every master in the slot map (on one server: none).
    pub masters: Vec<String>,
    /// Commands a node refused as not its own (MOVED, ASK, ...), run again.
    pub redirects: u64,
    /// The last such reply, e.g. `MOVED 3999 127.0.0.1:7002`.
    pub last_redirect: Option<String>,
    /// Writes that no replica confirmed in time.
    pub wait_timeouts: u64,
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
pub struct Link {
    url: String,
    acks: Acks,
    conn: Conn,
    /// Writes that no replica confirmed in time.
    wait_timeouts: u64,
}

enum Conn {
    Single(Connection),
    Cluster(Box<ClusterLink>),
}

impl Link {
    /// Connects to `url`; writes wait for `acks`.
    pub fn open(url: &str, acks: Acks) -> Result<Self, KvError> {
        let fail = |source| KvError::Redis {
            url: url.to_string(),
            source,
        };
        let conn = match Target::parse(url)? {
            Target::Single(u) => Conn::Single(connect(&u).map_err(fail)?),
            Target::Cluster(seeds) => {
                let client = ClusterClientBuilder::new(seeds)
                    .retries(CLUSTER_RETRIES)
                    .max_retry_wait(CLUSTER_RETRY_WAIT_MS_MAX)
                    .connection_timeout(Duration::from_secs(2))
                    .response_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(fail)?;
                let conn = client.get_connection().map_err(fail)?;
                Conn::Cluster(Box::new(ClusterLink::new(conn).map_err(fail)?))
            }
        };
        Ok(Link {
            url: url.to_string(),
            acks,
            conn,
            wait_timeouts: 0,
        })
    }

    /// Runs `batch` and returns its unignored replies as `T` (an array).
    /// A batch with a write returns only once `acks` replicas hold it.
    pub fn run<T: FromRedisValue>(&mut self, batch: &Batch) -> Result<T, KvError> {
        let values = match &mut self.conn {
            Conn::Single(c) => batch.pipeline().query(c).map_err(|e| self.fail(e))?,
            Conn::Cluster(c) => {
                let replies = c
                    .run(batch)
                    .map_err(|e| KvError::Redis {
                        url: self.url.clone(),
                        source: e,
                    })?
                    .into_iter()
                    .zip(batch.commands())
                    .filter(|(_, (_, ignored))| !ignored)
                    .map(|(v, _)| v)
                    .collect();
                redis::from_owned_redis_value(Value::Array(replies)).map_err(|e| self.fail(e))?
            }
        };
        if batch.writes() {
            self.confirm()?;
        }
        Ok(values)
    }

    /// Waits until `acks` replicas hold every write this link made.
    pub fn confirm(&mut self) -> Result<(), KvError> {
        let Acks { replicas, timeout_ms } = self.acks;
        if replicas == 0 {
            return Ok(());
        }
        let acked = match &mut self.conn {
            Conn::Single(c) => {
                let n: u32 = redis::cmd("WAIT")
                    .arg(replicas)
                    .arg(timeout_ms)
                    .query(c)
                    .map_err(|e| KvError::Redis {
                        url: self.url.clone(),
                        source: e,
                    })?;
                n
            }
            Conn::Cluster(c) => c.wait(replicas, timeout_ms).map_err(|e| KvError::Redis {
                url: self.url.clone(),
                source: e,
            })?,
        };
        if acked < replicas {
            self.wait_timeouts += 1;
            return Err(KvError::NotReplicated {
                url: self.url.clone(),
                acked,
                wanted: replicas,
                timeout_ms,
            });
        }
        Ok(())
    }

    /// Loads Lua scripts on every server that may run them (every master
    /// of a cluster), so `EVALSHA` finds them.
    pub fn load_scripts(&mut self, scripts: &[&str]) -> Result<(), KvError> {
        for lua in scripts {
            // On a cluster SCRIPT LOAD is routed to every master.
            let cmd = redis::cmd("SCRIPT").arg("LOAD").arg(*lua).clone();
            let _: Value = match &mut self.conn {
                Conn::Single(c) => c.req_command(&cmd),
                Conn::Cluster(c) => c.client.req_command(&cmd),
            }
            .map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    /// Every key matching `pattern` (a SCAN MATCH glob), on every master.
    pub fn scan(&mut self, pattern: &str) -> Result<Vec<String>, KvError> {
        let mut keys = Vec::new();
        let scanned = match &mut self.conn {
            Conn::Single(c) => scan_node(c, pattern, &mut keys),
            Conn::Cluster(c) => c
                .masters()
                .iter()
                .try_for_each(|addr| scan_node(c.node(addr)?, pattern, &mut keys)),
        };
        scanned.map_err(|e| self.fail(e))?;
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Drops connections that may be broken (after a server restart or a
    /// failover), so the next command connects again; on a cluster the
    /// slot map is read again as well. Failing to reconnect now is not an
    /// error: the next command reports it.
    pub fn reset(&mut self) {
        match &mut self.conn {
            Conn::Single(c) => {
                if let Ok(fresh) = connect(&self.url) {
                    *c = fresh;
                }
            }
            Conn::Cluster(c) => c.reset(),
        }
    }

    /// What this link has seen of redirects and replica confirmations.
    pub fn stats(&self) -> LinkStats {
        let mut stats = LinkStats {
            mode: "single",
            wait_timeouts: self.wait_timeouts,
            ..LinkStats::default()
        };
        if let Conn::Cluster(c) = &self.conn {
            stats.mode = "cluster";
            stats.masters = c.masters();
            stats.redirects = c.redirects;
            stats.last_redirect.clone_from(&c.last_redirect);
        }
        stats
    }

    fn fail(&self, source: redis::RedisError) -> KvError {
        KvError::Redis {
            url: self.url.clone(),
            source,
        }
    }
}

/// A connection to one server.
fn connect(url: &str) -> redis::RedisResult<Connection> {
    redis::Client::open(url)?.get_connection()
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
