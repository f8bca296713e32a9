//! Durable storage at the edge of the core: an append-only journal of what
//! the engine was told and what it decided, so a restarted process rebuilds
//! exactly the state it had (see ARCHITECTURE.md, "Durability").
//!
//! Owns: file formats and crash recovery, and the same journal in a Redis
//! list. May call: `kv` (Redis connections) and the shared checksum; callers
//! pass their own record types.

mod journal;
mod redis_journal;

use std::path::PathBuf;

use thiserror::Error;

pub use crate::kv::LinkStats;
use crate::kv::{Acks, KvError};

pub use journal::Journal;
pub use redis_journal::RedisJournal;

/// Why the store could not read or write.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot encode a record: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("{path}:{line}: damaged record ({reason}); the journal is not replayed past it")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("redis journal {key}: {source}")]
    Redis { key: String, source: KvError },
    /// The append is on the master; no replica confirmed it in time.
    #[error("redis journal {key}: {source}")]
    NotReplicated { key: String, source: KvError },
    #[error(
        "redis journal {key} holds {found} records where this process wrote {expected}: \
         records were lost in a failover or another process writes to it; restart to rebuild from it"
    )]
    Diverged { key: String, expected: u64, found: u64 },
    #[error("redis journal {key}, entry {index}: damaged record ({reason}); not replayed past it")]
    CorruptEntry {
        key: String,
        index: usize,
        reason: String,
    },
}

/// Where the journal lives: a file (the embedded default) or a Redis list.
pub enum Log {
    File(Journal),
    Redis(Box<RedisJournal>),
}

/// How to open a [`Log`].
#[derive(Debug, Clone, PartialEq)]
pub enum LogLocation {
    File(PathBuf),
    Redis { url: String, key: String, acks: Acks },
}

impl Log {
    /// Opens the log and returns its records, in order.
    pub fn open<R: serde::de::DeserializeOwned>(at: &LogLocation) -> Result<(Self, Vec<R>), StoreError> {
        Ok(match at {
            LogLocation::File(path) => {
                let (j, r) = Journal::open(path)?;
                (Log::File(j), r)
            }
            LogLocation::Redis { url, key, acks } => {
                let (j, r) = RedisJournal::open(url, key, *acks)?;
                (Log::Redis(Box::new(j)), r)
            }
        })
    }

    /// Appends `records`, durably, before returning.
    pub fn append<R: serde::Serialize>(&mut self, records: &[R]) -> Result<(), StoreError> {
        match self {
            Log::File(j) => j.append(records),
            Log::Redis(j) => j.append(records),
        }
    }

    /// Waits again until replicas hold every append (a file journal is
    /// already on disk).
    pub fn confirm(&mut self) -> Result<(), StoreError> {
        match self {
            Log::File(_) => Ok(()),
            Log::Redis(j) => j.confirm(),
        }
    }

    /// What the log's Redis connection has seen (None: a file).
    pub fn link_stats(&self) -> Option<LinkStats> {
        match self {
            Log::File(_) => None,
            Log::Redis(j) => Some(j.link_stats()),
        }
    }

    /// Whether the error is only that replicas did not confirm in time:
    /// the records are in the log, their acknowledgement must wait.
    pub fn unconfirmed(e: &StoreError) -> bool {
        matches!(e, StoreError::NotReplicated { .. })
    }

    /// How many records the log holds.
    pub fn len(&self) -> u64 {
        match self {
            Log::File(j) => j.len(),
            Log::Redis(j) => j.len(),
        }
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
