//! The journal in Redis, for a deployment that keeps its state there: one
//! list per city, one checksummed line per record (the file journal's
//! format), appended with a single `RPUSH` per batch (atomic: all of a
//! batch's records or none). It is as durable as the server's AOF
//! setting: with `appendonly yes` and `appendfsync always`, a record is on
//! disk before `append` returns, like the file journal. On a Redis
//! Cluster (`redis+cluster://` seeds, see `kv`) the list lives on the
//! master of its key's slot.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::journal::{decode, encode};
use crate::kv::{Batch, KvError, Link};

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
    pub fn open<R: DeserializeOwned>(url: &str, key: &str) -> Result<(Self, Vec<R>), StoreError> {
        let err = |e: redis::RedisError| StoreError::Redis {
            key: key.to_string(),
            source: e,
        };
        let mut connection = Link::open(url).map_err(|e| match e {
            KvError::Redis { source, .. } => err(source),
            KvError::BadUrl { url, reason } => StoreError::BadUrl { url, reason },
        })?;
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

    /// Appends `records` in one atomic push.
    pub fn append<R: Serialize>(&mut self, records: &[R]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let lines = records
            .iter()
            .map(encode)
            .collect::<Result<Vec<String>, StoreError>>()?;
        let mut push = Batch::new();
        push.cmd("RPUSH").arg(&self.key).arg(lines).ignore();
        let () = self.connection.run(&push).map_err(|e| StoreError::Redis {
            key: self.key.clone(),
            source: e,
        })?;
        self.records += records.len() as u64;
        Ok(())
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
