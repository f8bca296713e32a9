//! The Redis store, by area: whole-store dump and restore for backups.

use super::*;

/// Keys read per round trip when dumping.
const DUMP_PAGE_KEYS: usize = 1000;

impl BackupStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn link_stats(&self) -> Option<crate::kv::LinkStats> {
        Some(self.pooled_stats())
    }

    fn dump(&self, out: &mut dyn FnMut(Record) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let own = format!("{}:", self.prefix);
        let pattern = format!("{}*", glob_escape(&own));
        let all = self.with_link(|link| link.scan(&pattern))?;
        for keys in all.chunks(DUMP_PAGE_KEYS) {
            let mut types = Batch::new();
            for k in keys {
                types.cmd("TYPE").arg(k);
            }
            let kinds: Vec<String> = self.run(&types)?;
            let mut fetch = Batch::new();
            for (k, kind) in keys.iter().zip(&kinds) {
                match kind.as_str() {
                    "string" => fetch.cmd("GET").arg(k),
                    "hash" => fetch.cmd("HGETALL").arg(k),
                    "set" => fetch.cmd("SMEMBERS").arg(k),
                    "zset" => fetch.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
                    "list" => fetch.cmd("LRANGE").arg(k).arg(0).arg(-1),
                    // Gone since the scan, or not ours to copy.
                    _ => fetch.cmd("ECHO").arg(""),
                };
            }
            let values: Vec<Value> = self.run(&fetch)?;
            for ((k, kind), v) in keys.iter().zip(&kinds).zip(values) {
                let Some(value) = record_value(kind, v) else {
                    continue;
                };
                out(Record {
                    space: kind.clone(),
                    key: serde_json::Value::String(k[own.len()..].to_string()),
                    value,
                })?;
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        let pattern = format!("{}*", glob_escape(&format!("{}:", self.prefix)));
        Ok(self.with_link(|link| link.scan(&pattern))?.is_empty())
    }

    fn restore(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let bad = |r: &Record, why: &str| StoreError::Corrupt {
            what: format!("backup record {}", r.key),
            reason: why.to_string(),
        };
        let mut pipe = Batch::new();
        for r in records {
            let key = format!(
                "{}:{}",
                self.prefix,
                r.key.as_str().ok_or_else(|| bad(r, "key is not a string"))?
            );
            let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
                v.as_array()?
                    .iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect()
            };
            let pairs = |v: &serde_json::Value| -> Option<Vec<(String, serde_json::Value)>> {
                v.as_array()?
                    .iter()
                    .map(|p| Some((p.get(0)?.as_str()?.to_string(), p.get(1)?.clone())))
                    .collect()
            };
            match r.space.as_str() {
                "string" => {
                    let v = r.value.as_str().ok_or_else(|| bad(r, "not a string"))?;
                    pipe.cmd("SET").arg(&key).arg(v).ignore();
                }
                "hash" => {
                    let p = pairs(&r.value).ok_or_else(|| bad(r, "not [field, value] pairs"))?;
                    pipe.cmd("HSET").arg(&key);
                    for (f, v) in &p {
                        pipe.arg(f)
                            .arg(v.as_str().ok_or_else(|| bad(r, "hash value not a string"))?);
                    }
                    pipe.ignore();
                }
                "set" | "list" => {
                    let items = strings(&r.value).ok_or_else(|| bad(r, "not a list of strings"))?;
                    pipe.cmd(if r.space == "set" { "SADD" } else { "RPUSH" })
                        .arg(&key)
                        .arg(items)
                        .ignore();
                }
                "zset" => {
                    let p = pairs(&r.value).ok_or_else(|| bad(r, "not [member, score] pairs"))?;
                    pipe.cmd("ZADD").arg(&key);
                    for (m, score) in &p {
                        pipe.arg(score.to_string()).arg(m);
                    }
                    pipe.ignore();
                }
                other => return Err(bad(r, &format!("unknown Redis type {other}"))),
            }
        }
        self.run(&pipe)
    }
}
