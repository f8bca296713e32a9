//! An append-only journal: one record per line, `<fnv1a-64 hex> <json>`,
//! flushed to disk (fsync) before `append` returns, so whatever the caller
//! acknowledged after an append survives a crash or kill -9.
//!
//! Recovery on open: a last line cut short by a crash (no newline, or a
//! checksum that does not match) was never acknowledged and is dropped; a
//! damaged line followed by good ones means the file itself is damaged,
//! and opening fails naming the line rather than silently losing records.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use crate::base::fnv1a;

/// An open journal, positioned at its end.
pub struct Journal {
    path: PathBuf,
    file: File,
    records: u64,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and returns every record
    /// in it, in order.
    pub fn open<R: DeserializeOwned>(path: &Path) -> Result<(Self, Vec<R>), StoreError> {
        let io = |e: std::io::Error| StoreError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let (records, good_len) = parse(path, &bytes)?;
        if good_len < bytes.len() {
            // Drop the torn tail so the next append starts on a clean line.
            file.set_len(good_len as u64).map_err(io)?;
            file.seek(SeekFrom::End(0)).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let journal = Self {
            path: path.to_path_buf(),
            file,
            records: records.len() as u64,
        };
        Ok((journal, records))
    }

    /// Every whole record of the journal at `path`, read only: a server
    /// may still be appending, so a torn last line is skipped, not cut.
    pub fn read<R: DeserializeOwned>(path: &Path) -> Result<Vec<R>, StoreError> {
        let bytes = std::fs::read(path).map_err(|e| StoreError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(parse(path, &bytes)?.0)
    }

    /// Appends `records` and flushes them to disk before returning.
    pub fn append<R: Serialize>(&mut self, records: &[R]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in records {
            let line = encode(r)?;
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        let io = |e: std::io::Error| StoreError::Io {
            path: self.path.clone(),
            source: e,
        };
        self.file.write_all(&buf).map_err(io)?;
        self.file.sync_data().map_err(io)?;
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

/// Decodes every good line; returns the records and the length of the
/// good prefix. Only the last line may be bad.
fn parse<R: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<(Vec<R>, usize), StoreError> {
    let mut records = Vec::new();
    let mut good = 0;
    let mut line_no = 0;
    let mut rest = bytes;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            // No newline: a write cut short. Never acknowledged.
            break;
        };
        let line = &rest[..end];
        let is_last = end + 1 == rest.len();
        match decode(line) {
            Ok(r) => records.push(r),
            Err(_) if is_last => break,
            Err(reason) => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    line: line_no,
                    reason,
                });
            }
        }
        good += end + 1;
        rest = &rest[end + 1..];
    }
    Ok((records, good))
}

/// One record as a line (without the newline): `<fnv1a-64 hex> <json>`.
pub(super) fn encode<R: Serialize>(record: &R) -> Result<String, StoreError> {
    let json = serde_json::to_string(record).map_err(StoreError::Encode)?;
    Ok(format!("{:016x} {json}", fnv1a(json.as_bytes())))
}

/// A line back to its record, if its checksum holds.
pub(super) fn decode<R: DeserializeOwned>(line: &[u8]) -> Result<R, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
    let (sum, json) = text.split_once(' ').ok_or("no checksum")?;
    let sum = u64::from_str_radix(sum, 16).map_err(|_| "bad checksum field".to_owned())?;
    if sum != fnv1a(json.as_bytes()) {
        return Err("checksum mismatch".into());
    }
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("waimai-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn records_survive_reopening_in_order() {
        let p = temp("order");
        let (mut j, none) = Journal::open::<(u32, String)>(&p).unwrap();
        assert!(none.is_empty());
        j.append(&[(1, "a".to_owned()), (2, "b".to_owned())]).unwrap();
        j.append(&[(3, "c".to_owned())]).unwrap();
        drop(j);
        let (j, back) = Journal::open::<(u32, String)>(&p).unwrap();
        assert_eq!(back, [(1, "a".into()), (2, "b".into()), (3, "c".into())]);
        assert_eq!(j.len(), 3);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_appending_goes_on_cleanly() {
        let p = temp("torn");
        let (mut j, _) = Journal::open::<u32>(&p).unwrap();
        j.append(&[1u32, 2]).unwrap();
        drop(j);
        // A crash mid-write: half a line, no newline.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"00000000deadbeef 3").unwrap();
        drop(f);
        let (mut j, back) = Journal::open::<u32>(&p).unwrap();
        assert_eq!(back, [1, 2]);
        j.append(&[4u32]).unwrap();
        drop(j);
        let (_, back) = Journal::open::<u32>(&p).unwrap();
        assert_eq!(back, [1, 2, 4]);
    }

    #[test]
    fn damage_in_the_middle_is_an_error_naming_the_line() {
        let p = temp("damaged");
        let (mut j, _) = Journal::open::<u32>(&p).unwrap();
        j.append(&[10u32, 20, 30]).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&p).unwrap().replacen(" 20", " 21", 1);
        std::fs::write(&p, text).unwrap();
        match Journal::open::<u32>(&p) {
            Err(StoreError::Corrupt { line: 2, .. }) => {}
            Err(e) => panic!("wrong error {e}"),
            Ok((_, r)) => panic!("opened a damaged journal: {r:?}"),
        }
    }
}
