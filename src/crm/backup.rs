//! Backup and restore of all CRM data to one file: JSON lines, a header,
//! every stored record as the backend keeps it (personal fields stay
//! sealed: the file is no more readable than the store), and a footer with
//! the record count and a SHA-256 of the record lines, so a truncated or
//! edited file is refused before anything is written.
//!
//! A backup restores into an empty store of the same backend kind (a
//! Redis backup under any key prefix). The encryption keys are not in the
//! file: keep them, or the restored contact details cannot be opened.
//!
//! Consistency: the embedded store is read in one transaction (a point in
//! time). Redis is read key by key: stop writers first for an exact copy.

use crate::base::json_string as json;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use thiserror::Error;

use super::store::{CrmStore, Record, StoreError};

/// What the first line says.
pub const FORMAT: &str = "waimai-crm-backup";
pub const VERSION: u32 = 1;
/// Records restored per store call.
const RESTORE_BATCH: usize = 5_000;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    backend: String,
    created_at_secs: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Footer {
    end: bool,
    records: u64,
    sha256: String,
}

/// Why a backup or restore did not happen.
#[derive(Debug, Error)]
pub enum BackupError {
    /// The file is not a whole, unchanged backup (nothing was written).
    #[error("{0}")]
    BadFile(String),
    /// The store cannot take this backup (nothing was written).
    #[error("{0}")]
    Target(String),
    #[error("cannot {what} the file: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a backup or restore handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub backend: String,
    pub records: u64,
}

/// Writes every record of `store` to `out`.
pub fn backup(store: &dyn CrmStore, now_secs: i64, out: &mut dyn Write) -> Result<Summary, BackupError> {
    let io = |e: std::io::Error| io_error("write", e);
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        backend: store.backend().into(),
        created_at_secs: now_secs,
    };
    writeln!(out, "{}", json(&header)).map_err(io)?;
    let mut hash = Sha256::new();
    let mut records = 0u64;
    store.dump(&mut |r: Record| {
        let line = json(&r);
        hash.update(line.as_bytes());
        hash.update(b"\n");
        records += 1;
        writeln!(out, "{line}").map_err(|e| StoreError::Corrupt {
            what: "backup file".into(),
            reason: format!("cannot write: {e}"),
        })
    })?;
    let footer = Footer {
        end: true,
        records,
        sha256: hex(&hash.finalize()),
    };
    writeln!(out, "{}", json(&footer)).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(Summary {
        backend: header.backend,
        records,
    })
}

/// Checks the whole file (`open` gives it from the start), then restores
/// it into `store`, which must be empty.
pub fn restore<R: BufRead>(
    store: &dyn CrmStore,
    open: impl Fn() -> std::io::Result<R>,
) -> Result<Summary, BackupError> {
    let header = verify(open().map_err(|e| io_error("read", e))?)?;
    if header.backend != store.backend() {
        return Err(BackupError::Target(format!(
            "a {} backup cannot restore into the {} store",
            header.backend,
            store.backend()
        )));
    }
    if !store.is_empty()? {
        return Err(BackupError::Target(
            "the target store is not empty: restore into a new data dir or Redis prefix".into(),
        ));
    }
    let mut batch = Vec::with_capacity(RESTORE_BATCH);
    let mut records = 0;
    for (n, line) in open()
        .map_err(|e| io_error("read", e))?
        .lines()
        .enumerate()
        .skip(1)
    {
        let line = line.map_err(|e| io_error("read", e))?;
        if footer(&line).is_some() {
            break;
        }
        batch.push(serde_json::from_str::<Record>(&line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?);
        if batch.len() == RESTORE_BATCH {
            store.restore(&batch)?;
            records += batch.len() as u64;
            batch.clear();
        }
    }
    store.restore(&batch)?;
    records += batch.len() as u64;
    Ok(Summary {
        backend: header.backend,
        records,
    })
}

/// The header, once every line parsed and the footer's count and hash
/// match.
fn verify(reader: impl BufRead) -> Result<Header, BackupError> {
    let mut lines = reader.lines().enumerate();
    let first = match lines.next() {
        Some((_, l)) => l.map_err(|e| io_error("read", e))?,
        None => return Err(bad("the file is empty".into())),
    };
    let header: Header =
        serde_json::from_str(&first).map_err(|e| bad(format!("line 1: not a backup header: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(bad(format!(
            "line 1: {} version {}, expected {FORMAT} version {VERSION}",
            header.format, header.version
        )));
    }
    let mut hash = Sha256::new();
    // Line n (0-based) is the n-th record, the header being line 0.
    for (n, line) in lines {
        let line = line.map_err(|e| io_error("read", e))?;
        let records = n as u64 - 1;
        if let Some(footer) = footer(&line) {
            if footer.records != records || footer.sha256 != hex(&hash.finalize()) {
                return Err(bad(format!(
                    "line {}: the footer says {} records, the file holds {records} or differs: damaged",
                    n + 1,
                    footer.records
                )));
            }
            return Ok(header);
        }
        serde_json::from_str::<Record>(&line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
        hash.update(line.as_bytes());
        hash.update(b"\n");
    }
    Err(bad("no footer: the file was cut short".into()))
}

/// The footer, if `line` is it: it starts with its `end` field (as
/// [`backup`] writes it), so record lines are not parsed twice.
fn footer(line: &str) -> Option<Footer> {
    line.starts_with("{\"end\"")
        .then(|| serde_json::from_str(line).ok())
        .flatten()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad(reason: String) -> BackupError {
    BackupError::BadFile(reason)
}

fn io_error(what: &'static str, e: std::io::Error) -> BackupError {
    BackupError::Io { what, source: e }
}
