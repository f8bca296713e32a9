//! Durable storage at the edge of the core: an append-only journal of what
//! the engine was told and what it decided, so a restarted process rebuilds
//! exactly the state it had (see ARCHITECTURE.md, "Durability").
//!
//! Owns: file formats and crash recovery. May call: nothing in the crate
//! but the shared checksum; callers pass their own record types.

mod journal;

use std::path::PathBuf;

use thiserror::Error;

pub use journal::Journal;

/// Why the store could not read or write.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot read or write {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path}:{line}: damaged record ({reason}); the journal is not replayed past it")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}
