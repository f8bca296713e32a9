//! The journal in Redis, for a deployment that keeps its state there: one
//! list per city (or zone), one checksummed line per record (the file
//! journal's format), appended by one script per batch (atomic: all of a
//! batch's records or none). It is as durable as the server's AOF
//! setting: with `appendonly yes` and `appendfsync always`, a record is on
//! disk before `append` returns, like the file journal. On a Redis
//! Cluster (`redis+cluster://` seeds, see `kv`) the list lives on the
//! master of its key's slot, and with `Acks` an append returns only once
//! replicas hold it too.
//!
//! **Invariant:** the list holds exactly the records this journal read
//! and appended. The append script pushes only when the list's length is
//! the one this process expects, so records lost in a failover (written
//! to a master, never to the replica promoted in its place) or a second
//! process appending to the same key is an error, not a silent fork.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::journal::{decode, encode};
use crate::kv::{Acks, Batch, KvError, Link};

/// Pushes ARGV[2..] when the list holds ARGV[1] entries. When it already
/// ends with exactly them (an earlier attempt ran, its reply was lost), it
/// pushes nothing, so an append may be retried, and rewrites the last
/// entry as it is: that write follows every entry in the replication
/// stream, so `WAIT` on this connection confirms them all. Anything else
/// fails with the length found.
const APPEND_LUA: &str = r"
local expected = tonumber(ARGV[1])
local lines = #ARGV - 1
local n = redis.call('LLEN', KEYS[1])
if n == expected and lines > 0 then
  for i = 2, #ARGV do n = redis.call('RPUSH', KEYS[1], ARGV[i]) end
  return n
end
if n == expected + lines then
  local tail = redis.call('LRANGE', KEYS[1], expected, -1)
  for i = 1, lines do
    if tail[i] ~= ARGV[i + 1] then return redis.error_reply('DIVERGED ' .. n) end
  end
  if n > 0 then redis.call('LSET', KEYS[1], -1, redis.call('LINDEX', KEYS[1], -1)) end
  return n
end
return redis.error_reply('DIVERGED ' .. n)
";
/// How long an append keeps retrying a Redis that does not answer (a
/// master restarting, a failover: node timeout plus election), before the
/// engine stops.
const APPEND_RETRY_MS_MAX: u64 = 15_000;
/// Longest pause between two attempts.
const APPEND_RETRY_WAIT_MS_MAX: u64 = 500;
/// An open journal in a Redis list.
pub struct RedisJournal {
    connection: Link,
    key: String,
    records: u64,
}

impl RedisJournal {
    /// Connects to `url` and returns every record of the list `key`, in
    /// order. Any damaged entry is an error naming its position (a list
    /// has no torn tail: a push is atomic).
    pub fn open<R: DeserializeOwned>(url: &str, key: &str, acks: Acks) -> Result<(Self, Vec<R>), StoreError> {
        let err = |source| StoreError::Redis {
            key: key.to_string(),
            source,
        };
        let mut connection = Link::open(url, acks).map_err(err)?;
        let mut read = Batch::new();
        read.cmd("LRANGE").arg(key).arg(0).arg(-1);
        let (lines,): (Vec<Vec<u8>>,) = connection.run(&read).map_err(err)?;
        let mut records = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let record = decode(line).map_err(|reason| StoreError::CorruptEntry {
                key: key.to_string(),
                index: i,
                reason,
            })?;
            records.push(record);
        }
        let journal = Self {
            connection,
            key: key.to_string(),
            records: records.len() as u64,
        };
        Ok((journal, records))
    }

    /// Appends `records` in one atomic push, and returns once the replicas
    /// `Acks` asks for hold them.
    pub fn append<R: Serialize>(&mut self, records: &[R]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let lines = records
            .iter()
            .map(encode)
            .collect::<Result<Vec<String>, StoreError>>()?;
        self.push(lines)
    }

    /// Waits again for the replicas to hold every append so far (after an
    /// append that failed as not replicated, maybe on a connection lost
    /// since: the script rewrites the last entry so this connection has a
    /// write that follows all of them).
    pub fn confirm(&mut self) -> Result<(), StoreError> {
        self.push(Vec::new())
    }

    /// Runs the append script, again while Redis cannot be reached (it is
    /// safe to: see `APPEND_LUA`), for at most `APPEND_RETRY_MS_MAX`.
    fn push(&mut self, lines: Vec<String>) -> Result<(), StoreError> {
        let count = lines.len();
        let mut script = Batch::new();
        script
            .cmd("EVAL")
            .arg(APPEND_LUA)
            .arg(1)
            .arg(&self.key)
            .arg(self.records)
            .arg(lines);
        let started = std::time::Instant::now();
        let mut wait_ms = 20;
        loop {
            match self.connection.run::<(u64,)>(&script) {
                Ok(_) => break,
                Err(e)
                    if retryable(&e) && started.elapsed().as_millis() < u128::from(APPEND_RETRY_MS_MAX) =>
                {
                    tracing::warn!(key = %self.key, error = %e, "journal append: redis unreachable, retrying");
                    std::thread::sleep(std::time::Duration::from_millis(wait_ms));
                    wait_ms = (wait_ms * 2).min(APPEND_RETRY_WAIT_MS_MAX);
                    self.connection.reset();
                }
                Err(e) => return Err(self.fail(e, count)),
            }
        }
        self.records += count as u64;
        Ok(())
    }

    fn fail(&mut self, e: KvError, pushed: usize) -> StoreError {
        let key = self.key.clone();
        if let KvError::NotReplicated { .. } = e {
            // The push ran on the master: the list holds the records.
            self.records += pushed as u64;
            return StoreError::NotReplicated { key, source: e };
        }
        let found = e
            .redis()
            .filter(|r| r.code() == Some("DIVERGED"))
            .and_then(|r| r.detail())
            .and_then(|d| d.trim().parse().ok());
        match found {
            Some(found) => StoreError::Diverged {
                key,
                expected: self.records,
                found,
            },
            None => StoreError::Redis { key, source: e },
        }
    }

    /// What the connection has seen of redirects and replicas.
    pub fn link_stats(&self) -> crate::kv::LinkStats {
        self.connection.stats()
    }

    /// How many records the journal holds.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

/// Whether the server could not be asked (a connection lost, a cluster
/// without a master for the slot): the script is safe to run again.
fn retryable(e: &KvError) -> bool {
    e.redis().is_some_and(|r| {
        r.is_io_error()
            || r.is_connection_dropped()
            || r.is_connection_refusal()
            || r.is_timeout()
            || r.is_cluster_error()
            || matches!(
                r.code(),
                Some("CLUSTERDOWN" | "TRYAGAIN" | "MASTERDOWN" | "LOADING" | "READONLY")
            )
    })
}
