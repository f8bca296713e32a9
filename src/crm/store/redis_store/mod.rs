//! The Redis backend. Every key of one customer carries the hash tag
//! `{c:<id>}`, so on Redis Cluster they share a slot and one Lua script
//! can change them atomically; loads are a Lua script too, so a state is
//! never read half-written. Requests are pipelined: a batch of loads or
//! commits costs one round trip.
//!
//! Keys (prefix `waimai:crm` by default):
//! - `{p}:{c:<id>}:meta` hash, `v` = version
//! - `{p}:{c:<id>}:profile|account|wallet` JSON documents
//! - `{p}:{c:<id>}:ledger` list of JSON entries (append-only)
//! - `{p}:{c:<id>}:idem` hash, idempotency key → stored outcome
//! - `{p}:{m:<merchant>}:customers` set; `{p}:{idx:birthday}:<label>` sets
//!   (the label is a keyed hash of the day: no birthday in clear);
//!   `{p}:{idx:expiry}` sorted set (hints, outside the atomic commit)
//! - `{p}:{t:<template>}:issued` counter; `{p}:{templates}` hash
//! - `{p}:{mgr:<merchant>}:team` hash (`v`, `doc`), `:owners` hash
//!   customer → ownership, `:of:<manager>` sets, `:audit` list: one Lua
//!   script changes them together, checking the team's version
//! - `{p}:{audit}:access` list: who read or wrote personal data
//! - `{p}:{fb}:reviews` hash, review id → JSON; `{p}:{fb}:by_time` sorted
//!   set of review ids by time (written with the commit, keyed by the
//!   review's id, so a retried command writes the same review again)
//! - `{p}:{seg:<n>}:facts` hashes, customer → `<customer>\t<facts>`, in
//!   16 shards read side by side (HVALS: the value names its customer)
//! - `{p}:{cmp}:campaigns` hash; `{p}:{cmp:<id>}:members` hash customer
//!   → member; `{p}:{cmp:<id>}:redeemed` set of redeemed coupons
//! - `{p}:{an:<merchant>}:<day>` hash order → sale line; `{p}:{demand}:<day>`
//!   hash `<merchant>/<order>` → `<zone>\t<hour>` (keyed by order: a
//!   sale written twice counts once)
//! - `{p}:{out:<merchant>}:ids` hash message id → seq, `:log` sorted set
//!   of messages by seq, `:seq` counter: one script appends
//!
//! Index hints and facts are written after the commit script answered,
//! and only for commits it wrote: a conflicting or replayed command
//! leaves no trace of the state it computed.

mod backup;
mod coupons;
mod customers;
mod marketing;
mod sales;
mod teams;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis::Value;

use super::{
    AccessEntry, BackupStore, Commit, Committed, CouponStore, CustomerStore, Docs, FactsVisitor, Loaded,
    MarketingStore, Record, SalesStore, StoreError, TeamCommit, TeamStore, count_demand, decode_facts,
    demand_line, parse_doc, parse_entry, parse_template, to_json,
};
use crate::crm::analytics::Sale;
use crate::crm::coupons::CouponTemplate;
use crate::crm::customer::IndexHint;
use crate::crm::feedback::Review;
use crate::crm::loyalty::Entry;
use crate::crm::managers::{AuditEntry, Ownership, Team};
use crate::crm::marketing::{Campaign, Facts, Member, Message};
use crate::kv::{Acks, Batch, KvError, Link};

/// Shards of the facts hash: read side by side over the pool.
const FACT_SHARDS: usize = 16;

const LOAD_LUA: &str = r"
local v = redis.call('HGET', KEYS[1], 'v') or '0'
local prior = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local docs = redis.call('MGET', KEYS[3], KEYS[4], KEYS[5])
return {v, prior, docs[1] or '', docs[2] or '', docs[3] or ''}
";

const COMMIT_LUA: &str = r"
local prior = redis.call('HGET', KEYS[2], ARGV[2])
if prior then return {'replayed', prior} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {'conflict', tostring(v)} end
redis.call('HSET', KEYS[1], 'v', v + 1)
for i = 0, 2 do
  if ARGV[4 + i] ~= '' then redis.call('SET', KEYS[3 + i], ARGV[4 + i]) end
end
for i = 7, #ARGV do redis.call('RPUSH', KEYS[6], ARGV[i]) end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return {'committed', tostring(v + 1)}
";

/// KEYS: team, owners, audit, then (set before, set after) per ownership.
/// ARGV: expected version, team JSON, n, n × (customer, ownership JSON),
/// audit lines.
const TEAM_LUA: &str = r"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'doc', ARGV[2])
local n = tonumber(ARGV[3])
for i = 1, n do
  local customer = ARGV[2 + 2 * i]
  redis.call('HSET', KEYS[2], customer, ARGV[3 + 2 * i])
  redis.call('SREM', KEYS[2 + 2 * i], customer)
  redis.call('SADD', KEYS[3 + 2 * i], customer)
end
for i = 4 + 2 * n, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
return 1
";

/// KEYS: ids, log, seq. ARGV: (id, message JSON) pairs. A known id is
/// skipped, so appending again is harmless.
const OUTBOX_LUA: &str = r"
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], '0') == 1 then
    local s = redis.call('INCR', KEYS[3])
    redis.call('HSET', KEYS[1], ARGV[i], s)
    redis.call('ZADD', KEYS[2], s, ARGV[i + 1])
    added = added + 1
  end
end
return added
";

const RESERVE_LUA: &str = r"
local n = redis.call('INCR', KEYS[1])
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return 1
";

/// Connections used round-robin, so concurrent callers rarely wait on one
/// another's round trip.
const POOL_SIZE: usize = 4;

/// CRM state in Redis.
pub struct RedisStore {
    prefix: String,
    pool: Vec<Mutex<Link>>,
    next: AtomicUsize,
    load_sha: String,
    commit_sha: String,
    reserve_sha: String,
    team_sha: String,
    outbox_sha: String,
}

impl RedisStore {
    /// Connects to `url` (one server, or a cluster's seeds: see `kv`) and
    /// loads the scripts. Keys start with `prefix`. Writes are acknowledged
    /// by the master alone.
    pub fn open(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Self::open_with(url, prefix, Acks::default())
    }

    /// Like `open`, and a write returns only once `acks` replicas hold it.
    pub fn open_with(url: &str, prefix: &str, acks: Acks) -> Result<Self, StoreError> {
        let mut pool = Vec::with_capacity(POOL_SIZE);
        for _ in 0..POOL_SIZE {
            pool.push(Mutex::new(Link::open(url, acks).map_err(kv_err)?));
        }
        let store = RedisStore {
            prefix: prefix.to_string(),
            pool,
            next: AtomicUsize::new(0),
            load_sha: redis::Script::new(LOAD_LUA).get_hash().to_string(),
            commit_sha: redis::Script::new(COMMIT_LUA).get_hash().to_string(),
            reserve_sha: redis::Script::new(RESERVE_LUA).get_hash().to_string(),
            team_sha: redis::Script::new(TEAM_LUA).get_hash().to_string(),
            outbox_sha: redis::Script::new(OUTBOX_LUA).get_hash().to_string(),
        };
        store.with_link(|link| link.load_scripts(&SCRIPTS))?;
        Ok(store)
    }

    /// Runs a batch; if the server lost the scripts (a restart, a replica
    /// promoted), loads them and runs it once more.
    fn run<T: redis::FromRedisValue>(&self, batch: &Batch) -> Result<T, StoreError> {
        self.with_link(|link| match link.run(batch) {
            Err(e)
                if e.redis()
                    .is_some_and(|r| r.kind() == redis::ErrorKind::NoScriptError) =>
            {
                link.load_scripts(&SCRIPTS)?;
                link.run(batch)
            }
            other => other,
        })
    }

    /// The pool's connections' stats, added up; a connection busy with a
    /// command (maybe a WAIT) is skipped rather than waited for.
    fn pooled_stats(&self) -> crate::kv::LinkStats {
        let mut all = crate::kv::LinkStats::default();
        for link in &self.pool {
            let link = match link.try_lock() {
                Ok(link) => link,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            let s = link.stats();
            all.mode = s.mode;
            if all.masters.is_empty() {
                all.masters = s.masters;
            }
            all.redirects += s.redirects;
            all.wait_timeouts += s.wait_timeouts;
            if s.last_redirect.is_some() {
                all.last_redirect = s.last_redirect;
            }
        }
        all
    }

    /// Calls `f` with the next connection of the pool.
    fn with_link<T>(&self, f: impl FnOnce(&mut Link) -> Result<T, KvError>) -> Result<T, StoreError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        let mut link = self.pool[i].lock().unwrap_or_else(|e| e.into_inner());
        f(&mut link).map_err(kv_err)
    }

    fn key(&self, customer: &str, part: &str) -> String {
        format!("{}:{{c:{customer}}}:{part}", self.prefix)
    }

    fn customer_keys(&self, customer: &str) -> [String; 6] {
        ["meta", "idem", "profile", "account", "wallet", "ledger"].map(|p| self.key(customer, p))
    }

    fn merchant_key(&self, merchant: &str) -> String {
        format!("{}:{{m:{merchant}}}:customers", self.prefix)
    }

    fn birthday_key(&self, label: &str) -> String {
        format!("{}:{{idx:birthday}}:{label}", self.prefix)
    }

    fn expiry_key(&self) -> String {
        format!("{}:{{idx:expiry}}", self.prefix)
    }

    fn total_key(&self, template: &str) -> String {
        format!("{}:{{t:{template}}}:issued", self.prefix)
    }

    /// Every key of a merchant's team shares the tag `{mgr:<merchant>}`.
    fn team_key(&self, merchant: &str, part: &str) -> String {
        format!("{}:{{mgr:{merchant}}}:{part}", self.prefix)
    }

    fn access_key(&self) -> String {
        format!("{}:{{audit}}:access", self.prefix)
    }

    fn reviews_key(&self) -> String {
        format!("{}:{{fb}}:reviews", self.prefix)
    }

    fn reviews_by_time_key(&self) -> String {
        format!("{}:{{fb}}:by_time", self.prefix)
    }

    fn facts_key(&self, shard: usize) -> String {
        format!("{}:{{seg:{shard}}}:facts", self.prefix)
    }

    fn campaigns_key(&self) -> String {
        format!("{}:{{cmp}}:campaigns", self.prefix)
    }

    fn campaign_key(&self, campaign: &str, part: &str) -> String {
        format!("{}:{{cmp:{campaign}}}:{part}", self.prefix)
    }

    fn outbox_key(&self, merchant: &str, part: &str) -> String {
        format!("{}:{{out:{merchant}}}:{part}", self.prefix)
    }

    fn sales_key(&self, merchant: &str, day: i64) -> String {
        format!("{}:{{an:{merchant}}}:{day}", self.prefix)
    }

    fn demand_key(&self, day: i64) -> String {
        format!("{}:{{demand}}:{day}", self.prefix)
    }

    fn templates_key(&self) -> String {
        format!("{}:{{templates}}", self.prefix)
    }

    fn add_index(&self, pipe: &mut Batch, customer: &str, hint: &IndexHint) {
        match hint {
            IndexHint::Merchant(m) => {
                pipe.cmd("SADD").arg(self.merchant_key(m)).arg(customer).ignore();
            }
            IndexHint::Birthday(label) => {
                pipe.cmd("SADD")
                    .arg(self.birthday_key(label))
                    .arg(customer)
                    .ignore();
            }
            IndexHint::Expiry(Some(secs)) => {
                pipe.cmd("ZADD")
                    .arg(self.expiry_key())
                    .arg(*secs)
                    .arg(customer)
                    .ignore();
            }
            IndexHint::Expiry(None) => {
                pipe.cmd("ZREM").arg(self.expiry_key()).arg(customer).ignore();
            }
            IndexHint::Sale(s) => {
                let day = s.at_secs.div_euclid(86_400);
                pipe.cmd("HSET")
                    .arg(self.sales_key(&s.merchant, day))
                    .arg(&s.order)
                    .arg(to_json(s))
                    .ignore();
                if let Some(line) = demand_line(s) {
                    pipe.cmd("HSET")
                        .arg(self.demand_key(day))
                        .arg(format!("{}/{}", s.merchant, s.order))
                        .arg(line)
                        .ignore();
                }
            }
            IndexHint::Redeemed { campaign, coupon } => {
                pipe.cmd("SADD")
                    .arg(self.campaign_key(campaign, "redeemed"))
                    .arg(coupon)
                    .ignore();
            }
            IndexHint::Review(r) => {
                pipe.cmd("HSET")
                    .arg(self.reviews_key())
                    .arg(&r.id)
                    .arg(to_json(r))
                    .ignore();
                pipe.cmd("ZADD")
                    .arg(self.reviews_by_time_key())
                    .arg(r.at_secs)
                    .arg(&r.id)
                    .ignore();
            }
        }
    }
}

/// Every script, loaded at start and again when a server lost them
/// (their SHA1s are computed locally).
const SCRIPTS: [&str; 5] = [LOAD_LUA, COMMIT_LUA, RESERVE_LUA, TEAM_LUA, OUTBOX_LUA];

fn err(url: &str, e: redis::RedisError) -> StoreError {
    StoreError::Redis {
        url: url.to_string(),
        source: std::sync::Arc::new(e),
    }
}

fn kv_err(e: KvError) -> StoreError {
    match e {
        KvError::Redis { url, source } => err(&url, source),
        KvError::BadUrl { url, reason } => StoreError::BadUrl { url, reason },
        KvError::NotReplicated { .. } => StoreError::NotReplicated(e.to_string()),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

/// A Redis reply as a backup record's value (None: nothing to copy).
fn record_value(kind: &str, v: Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    let items = |v: &Value| match v {
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [text(k), text(v)]).collect(),
        _ => Vec::new(),
    };
    match kind {
        "string" => Some(J::String(text(&v))),
        // Sets and hashes sorted: the same data always backs up the same.
        "list" => Some(J::Array(items(&v).into_iter().map(J::String).collect())),
        "set" => {
            let mut members = items(&v);
            members.sort();
            Some(J::Array(members.into_iter().map(J::String).collect()))
        }
        "hash" => {
            let mut pairs: Vec<Vec<String>> = items(&v).chunks(2).map(<[String]>::to_vec).collect();
            pairs.sort();
            Some(J::Array(
                pairs
                    .into_iter()
                    .map(|p| J::Array(p.into_iter().map(J::String).collect()))
                    .collect(),
            ))
        }
        "zset" => Some(J::Array(
            items(&v)
                .chunks(2)
                .map(|p| {
                    let score: f64 = p.get(1).and_then(|s| s.parse().ok()).unwrap_or(0.0);
                    let n = serde_json::Number::from_f64(score).map_or(J::Null, J::Number);
                    let n = if score.fract() == 0.0 && score.abs() < 9e15 {
                        J::from(score as i64)
                    } else {
                        n
                    };
                    J::Array(vec![J::String(p[0].clone()), n])
                })
                .collect(),
        )),
        _ => None,
    }
}

/// `s` with Redis glob characters escaped, for SCAN MATCH.
fn glob_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "*?[]\\".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The facts shard of a customer (FNV-1a: stable across builds).
fn fact_shard(customer: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in customer.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % FACT_SHARDS as u64) as usize
}
