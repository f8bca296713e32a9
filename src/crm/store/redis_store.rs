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

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis::{Connection, Pipeline, Value};

use super::{
    AccessEntry, Commit, Committed, CrmStore, Docs, FactsVisitor, Loaded, Record, StoreError, TeamCommit,
    count_demand, decode_facts, demand_line, parse_doc, parse_entry, parse_template, to_json,
};
use crate::crm::analytics::Sale;
use crate::crm::coupons::CouponTemplate;
use crate::crm::customer::IndexHint;
use crate::crm::feedback::Review;
use crate::crm::loyalty::Entry;
use crate::crm::managers::{AuditEntry, Ownership, Team};
use crate::crm::marketing::{Campaign, Facts, Member, Message};

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
    url: String,
    prefix: String,
    pool: Vec<Mutex<Connection>>,
    next: AtomicUsize,
    load_sha: String,
    commit_sha: String,
    reserve_sha: String,
    team_sha: String,
    outbox_sha: String,
}

impl RedisStore {
    /// Connects to `url` and loads the scripts. Keys start with `prefix`.
    pub fn open(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| err(url, e))?;
        let mut pool = Vec::with_capacity(POOL_SIZE);
        for _ in 0..POOL_SIZE {
            pool.push(Mutex::new(client.get_connection().map_err(|e| err(url, e))?));
        }
        let store = RedisStore {
            url: url.to_string(),
            prefix: prefix.to_string(),
            pool,
            next: AtomicUsize::new(0),
            load_sha: redis::Script::new(LOAD_LUA).get_hash().to_string(),
            commit_sha: redis::Script::new(COMMIT_LUA).get_hash().to_string(),
            reserve_sha: redis::Script::new(RESERVE_LUA).get_hash().to_string(),
            team_sha: redis::Script::new(TEAM_LUA).get_hash().to_string(),
            outbox_sha: redis::Script::new(OUTBOX_LUA).get_hash().to_string(),
        };
        let _: Vec<String> = store.run(&script_loads())?;
        Ok(store)
    }

    /// Runs a pipeline; if the server lost the scripts (a restart), loads
    /// them and runs it once more.
    fn run<T: redis::FromRedisValue>(&self, pipe: &Pipeline) -> Result<T, StoreError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        let mut conn = self.pool[i].lock().unwrap_or_else(|e| e.into_inner());
        match pipe.query(&mut *conn) {
            Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                let _: Vec<String> = script_loads().query(&mut *conn).map_err(|e| err(&self.url, e))?;
                pipe.query(&mut *conn).map_err(|e| err(&self.url, e))
            }
            other => other.map_err(|e| err(&self.url, e)),
        }
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

    fn add_index(&self, pipe: &mut Pipeline, customer: &str, hint: &IndexHint) {
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

/// Loads the scripts (their SHA1s are computed locally).
fn script_loads() -> Pipeline {
    let mut pipe = redis::pipe();
    for lua in [LOAD_LUA, COMMIT_LUA, RESERVE_LUA, TEAM_LUA, OUTBOX_LUA] {
        pipe.cmd("SCRIPT").arg("LOAD").arg(lua);
    }
    pipe
}

fn err(url: &str, e: redis::RedisError) -> StoreError {
    StoreError::Redis {
        url: url.to_string(),
        reason: e.to_string(),
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

impl CrmStore for RedisStore {
    fn load(&self, requests: &[(&str, &str)]) -> Result<Vec<Loaded>, StoreError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (customer, key) in requests {
            let [meta, idem, profile, account, wallet, _] = self.customer_keys(customer);
            pipe.cmd("EVALSHA")
                .arg(&self.load_sha)
                .arg(5)
                .arg(meta)
                .arg(idem)
                .arg(profile)
                .arg(account)
                .arg(wallet)
                .arg(*key);
        }
        let replies: Vec<Vec<Value>> = self.run(&pipe)?;
        requests
            .iter()
            .zip(replies)
            .map(|((customer, _), reply)| {
                let [v, prior, profile, account, wallet]: [String; 5] = reply
                    .iter()
                    .map(text)
                    .collect::<Vec<_>>()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt {
                        what: format!("customer {customer}"),
                        reason: "load script answered a different shape".into(),
                    })?;
                let version = v.parse().map_err(|_| StoreError::Corrupt {
                    what: format!("customer {customer} version"),
                    reason: format!("{v:?} is not a number"),
                })?;
                let raw = Docs {
                    profile,
                    account,
                    wallet,
                };
                Ok(Loaded {
                    version,
                    prior: (!prior.is_empty()).then_some(prior),
                    raw,
                })
            })
            .collect()
    }

    fn commit(&self, commits: &[Commit]) -> Result<Vec<Committed>, StoreError> {
        if commits.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for c in commits {
            let docs = &c.docs;
            pipe.cmd("EVALSHA")
                .arg(&self.commit_sha)
                .arg(6)
                .arg(&self.customer_keys(&c.customer))
                .arg(c.expected_version)
                .arg(&c.key)
                .arg(&c.stored)
                .arg(docs.profile.as_deref().unwrap_or(""))
                .arg(docs.account.as_deref().unwrap_or(""))
                .arg(docs.wallet.as_deref().unwrap_or(""));
            for e in &c.entries {
                pipe.arg(to_json(e));
            }
        }
        let replies: Vec<Vec<Value>> = self.run(&pipe)?;
        let committed: Vec<Committed> = replies
            .iter()
            .map(|r| {
                let word = r.first().map(text).unwrap_or_default();
                let arg = r.get(1).map(text).unwrap_or_default();
                match word.as_str() {
                    "committed" => Committed::Done(arg.parse().unwrap_or(0)),
                    "replayed" => Committed::Replayed(arg),
                    _ => Committed::Conflict,
                }
            })
            .collect();
        let mut hints = redis::pipe();
        let mut any = false;
        for (c, done) in commits.iter().zip(&committed) {
            if matches!(done, Committed::Done(_)) {
                any = true;
                for hint in &c.index {
                    self.add_index(&mut hints, &c.customer, hint);
                }
                hints
                    .cmd("HSET")
                    .arg(self.facts_key(fact_shard(&c.customer)))
                    .arg(&c.customer)
                    .arg(format!("{}\t{}", c.customer, c.facts.encode()))
                    .ignore();
            }
        }
        if any {
            let () = self.run(&hints)?;
        }
        Ok(committed)
    }

    fn ledger(&self, customer: &str, offset: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("LRANGE")
            .arg(self.key(customer, "ledger"))
            .arg(offset)
            .arg(offset + limit as u64 - 1);
        let (lines,): (Vec<String>,) = self.run(&pipe)?;
        lines.iter().map(|l| parse_entry(customer, l)).collect()
    }

    fn customers_of(&self, merchant: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(self.merchant_key(merchant));
        let (mut ids,): (Vec<String>,) = self.run(&pipe)?;
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn born_on(&self, label: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(self.birthday_key(label));
        let (mut ids,): (Vec<String>,) = self.run(&pipe)?;
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn expiring(&self, secs: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGEBYSCORE")
            .arg(self.expiry_key())
            .arg("-inf")
            .arg(secs)
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let (ids,): (Vec<String>,) = self.run(&pipe)?;
        Ok(ids)
    }

    fn reviews(&self, from_secs: i64, to_secs: i64, limit: usize) -> Result<Vec<Review>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGE")
            .arg(self.reviews_by_time_key())
            .arg(from_secs)
            .arg(format!("({to_secs}"))
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let (ids,): (Vec<String>,) = self.run(&pipe)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET").arg(self.reviews_key()).arg(&ids);
        let (texts,): (Vec<Option<String>>,) = self.run(&pipe)?;
        texts.iter().flatten().map(|t| parse_doc("review", t)).collect()
    }

    fn team(&self, merchant: &str) -> Result<(u64, Option<Team>), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(self.team_key(merchant, "team"))
            .arg("v")
            .arg("doc");
        let ((v, doc),): ((Option<u64>, Option<String>),) = self.run(&pipe)?;
        match doc {
            None => Ok((0, None)),
            Some(d) => Ok((
                v.unwrap_or(0),
                Some(parse_doc(&format!("team of {merchant}"), &d)?),
            )),
        }
    }

    fn owners(&self, merchant: &str, customers: &[&str]) -> Result<Vec<Option<Ownership>>, StoreError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(self.team_key(merchant, "owners"))
            .arg(customers);
        let (texts,): (Vec<Option<String>>,) = self.run(&pipe)?;
        texts
            .iter()
            .map(|t| t.as_deref().map(|t| parse_doc("ownership", t)).transpose())
            .collect()
    }

    fn owned_by(&self, merchant: &str, manager: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS")
            .arg(self.team_key(merchant, &format!("of:{manager}")));
        let (mut ids,): (Vec<String>,) = self.run(&pipe)?;
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn commit_team(&self, change: &TeamCommit) -> Result<bool, StoreError> {
        let m = change.team.merchant.as_str();
        let set = |manager: &str| self.team_key(m, &format!("of:{manager}"));
        let mut keys = vec![
            self.team_key(m, "team"),
            self.team_key(m, "owners"),
            self.team_key(m, "audit"),
        ];
        let mut args = vec![
            change.expected_version.to_string(),
            to_json(&change.team),
            change.owners.len().to_string(),
        ];
        for (o, before) in &change.owners {
            keys.push(set(before.as_deref().unwrap_or(&o.manager)));
            keys.push(set(&o.manager));
            args.push(o.customer.clone());
            args.push(to_json(o));
        }
        args.extend(change.audit.iter().map(to_json));
        let mut pipe = redis::pipe();
        pipe.cmd("EVALSHA")
            .arg(&self.team_sha)
            .arg(keys.len())
            .arg(&keys)
            .arg(&args);
        let (done,): (i64,) = self.run(&pipe)?;
        Ok(done == 1)
    }

    fn audit(&self, merchant: &str, offset: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("LRANGE")
            .arg(self.team_key(merchant, "audit"))
            .arg(offset)
            .arg(offset + limit as u64 - 1);
        let (lines,): (Vec<String>,) = self.run(&pipe)?;
        lines
            .iter()
            .map(|l| parse_doc("ownership audit entry", l))
            .collect()
    }

    fn append_access(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("RPUSH")
            .arg(self.access_key())
            .arg(entries.iter().map(to_json).collect::<Vec<_>>())
            .ignore();
        let () = self.run(&pipe)?;
        Ok(())
    }

    fn access_log(&self, offset: u64, limit: usize) -> Result<Vec<AccessEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("LRANGE")
            .arg(self.access_key())
            .arg(offset)
            .arg(offset + limit as u64 - 1);
        let (lines,): (Vec<String>,) = self.run(&pipe)?;
        lines.iter().map(|l| parse_doc("access log entry", l)).collect()
    }

    fn reserve_total(&self, template: &str, cap: u64) -> Result<bool, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("EVALSHA")
            .arg(&self.reserve_sha)
            .arg(1)
            .arg(self.total_key(template))
            .arg(cap);
        let (ok,): (i64,) = self.run(&pipe)?;
        Ok(ok == 1)
    }

    fn release_total(&self, template: &str) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("DECR").arg(self.total_key(template)).ignore();
        let () = self.run(&pipe)?;
        Ok(())
    }

    fn total_used(&self, template: &str) -> Result<u64, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(self.total_key(template));
        let (n,): (Option<u64>,) = self.run(&pipe)?;
        Ok(n.unwrap_or(0))
    }

    fn put_template(&self, template: &CouponTemplate) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HSET")
            .arg(self.templates_key())
            .arg(&template.id)
            .arg(to_json(template))
            .ignore();
        let () = self.run(&pipe)?;
        Ok(())
    }

    fn templates(&self) -> Result<Vec<CouponTemplate>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HVALS").arg(self.templates_key());
        let (texts,): (Vec<String>,) = self.run(&pipe)?;
        let mut all = texts
            .iter()
            .map(|t| parse_template(t))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    fn scan_facts(&self, visit: &FactsVisitor) -> Result<(), StoreError> {
        use rayon::prelude::*;
        (0..FACT_SHARDS).into_par_iter().try_for_each(|shard| {
            let mut pipe = redis::pipe();
            // Values carry their customer id: half the strings to parse.
            pipe.cmd("HVALS").arg(self.facts_key(shard));
            let (values,): (Vec<String>,) = self.run(&pipe)?;
            let pairs = values
                .into_iter()
                .map(|mut v| match v.find('\t') {
                    Some(tab) => {
                        let facts = v.split_off(tab + 1);
                        v.truncate(tab);
                        (v, facts)
                    }
                    // Damaged: no customer to name; decoding reports it.
                    None => (String::new(), v),
                })
                .collect();
            visit(pairs)
        })
    }

    fn facts_of(&self, customers: &[&str]) -> Result<Vec<Option<Facts>>, StoreError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for c in customers {
            pipe.cmd("HGET").arg(self.facts_key(fact_shard(c))).arg(*c);
        }
        let texts: Vec<Option<String>> = self.run(&pipe)?;
        texts
            .iter()
            .zip(customers)
            .map(|(t, c)| {
                t.as_deref()
                    .map(|t| decode_facts(c, t.split_once('\t').map_or(t, |(_, f)| f)))
                    .transpose()
            })
            .collect()
    }

    fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HSET")
            .arg(self.campaigns_key())
            .arg(&campaign.spec.id)
            .arg(to_json(campaign))
            .ignore();
        self.run(&pipe)
    }

    fn campaign(&self, id: &str) -> Result<Option<Campaign>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HGET").arg(self.campaigns_key()).arg(id);
        let (text,): (Option<String>,) = self.run(&pipe)?;
        text.map(|t| parse_doc(&format!("campaign {id}"), &t)).transpose()
    }

    fn campaigns(&self, merchant: &str) -> Result<Vec<Campaign>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(self.campaigns_key());
        let (pairs,): (Vec<(String, String)>,) = self.run(&pipe)?;
        let mut all: Vec<Campaign> = pairs
            .iter()
            .map(|(id, t)| parse_doc::<Campaign>(&format!("campaign {id}"), t))
            .filter(|c| c.as_ref().map_or(true, |c| c.merchant == merchant))
            .collect::<Result<_, _>>()?;
        all.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
        Ok(all)
    }

    fn put_members(&self, campaign: &str, members: &[(String, Member)]) -> Result<(), StoreError> {
        for chunk in members.chunks(10_000) {
            let mut pipe = redis::pipe();
            pipe.cmd("HSET").arg(self.campaign_key(campaign, "members"));
            for (customer, m) in chunk {
                pipe.arg(customer).arg(to_json(m));
            }
            pipe.ignore();
            let () = self.run(&pipe)?;
        }
        Ok(())
    }

    fn clear_members(&self, campaign: &str) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL")
            .arg(self.campaign_key(campaign, "members"))
            .ignore();
        self.run(&pipe)
    }

    fn members(&self, campaign: &str) -> Result<Vec<(String, Member)>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(self.campaign_key(campaign, "members"));
        let (pairs,): (Vec<(String, String)>,) = self.run(&pipe)?;
        let mut members: Vec<(String, Member)> = pairs
            .into_iter()
            .map(|(c, t)| Ok((c, parse_doc(&format!("member of campaign {campaign}"), &t)?)))
            .collect::<Result<_, StoreError>>()?;
        members.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(members)
    }

    fn redemptions(&self, campaign: &str) -> Result<u64, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SCARD").arg(self.campaign_key(campaign, "redeemed"));
        let (n,): (u64,) = self.run(&pipe)?;
        Ok(n)
    }

    fn outbox_append(&self, merchant: &str, messages: &[Message]) -> Result<usize, StoreError> {
        let mut added = 0;
        for chunk in messages.chunks(1000) {
            let mut pipe = redis::pipe();
            pipe.cmd("EVALSHA")
                .arg(&self.outbox_sha)
                .arg(3)
                .arg(self.outbox_key(merchant, "ids"))
                .arg(self.outbox_key(merchant, "log"))
                .arg(self.outbox_key(merchant, "seq"));
            for m in chunk {
                pipe.arg(&m.id).arg(to_json(m));
            }
            let (n,): (usize,) = self.run(&pipe)?;
            added += n;
        }
        Ok(added)
    }

    fn outbox(&self, merchant: &str, after_seq: u64, limit: usize) -> Result<Vec<Message>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGEBYSCORE")
            .arg(self.outbox_key(merchant, "log"))
            .arg(format!("({after_seq}"))
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let (pairs,): (Vec<(String, u64)>,) = self.run(&pipe)?;
        pairs
            .iter()
            .map(|(t, seq)| {
                let mut m: Message = parse_doc(&format!("outbox message {seq} of {merchant}"), t)?;
                m.seq = *seq;
                Ok(m)
            })
            .collect()
    }

    fn outbox_ack(&self, merchant: &str, upto_seq: u64) -> Result<u64, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(self.outbox_key(merchant, "log"))
            .arg("-inf")
            .arg(upto_seq);
        let (n,): (u64,) = self.run(&pipe)?;
        Ok(n)
    }

    fn sales(&self, merchant: &str, from_day: i64, to_day: i64) -> Result<Vec<Sale>, StoreError> {
        let mut pipe = redis::pipe();
        for day in from_day..=to_day {
            pipe.cmd("HVALS").arg(self.sales_key(merchant, day));
        }
        let days: Vec<Vec<String>> = self.run(&pipe)?;
        days.iter()
            .flatten()
            .map(|t| parse_doc(&format!("sale of {merchant}"), t))
            .collect()
    }

    fn demand(&self, from_day: i64, to_day: i64) -> Result<Vec<(String, i64, u64)>, StoreError> {
        let mut pipe = redis::pipe();
        for day in from_day..=to_day {
            pipe.cmd("HVALS").arg(self.demand_key(day));
        }
        let days: Vec<Vec<String>> = self.run(&pipe)?;
        Ok(count_demand(days.into_iter().flatten()))
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    fn dump(&self, out: &mut dyn FnMut(Record) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let own = format!("{}:", self.prefix);
        let mut cursor = 0u64;
        loop {
            let mut pipe = redis::pipe();
            pipe.cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", glob_escape(&own)))
                .arg("COUNT")
                .arg(1000);
            let ((next, keys),): ((u64, Vec<String>),) = self.run(&pipe)?;
            let mut types = redis::pipe();
            for k in &keys {
                types.cmd("TYPE").arg(k);
            }
            let kinds: Vec<String> = if keys.is_empty() {
                Vec::new()
            } else {
                self.run(&types)?
            };
            let mut fetch = redis::pipe();
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
            let values: Vec<Value> = if keys.is_empty() {
                Vec::new()
            } else {
                self.run(&fetch)?
            };
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
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        let pattern = format!("{}*", glob_escape(&format!("{}:", self.prefix)));
        let mut cursor = 0u64;
        loop {
            let mut pipe = redis::pipe();
            pipe.cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(10_000);
            let ((next, keys),): ((u64, Vec<String>),) = self.run(&pipe)?;
            if !keys.is_empty() {
                return Ok(false);
            }
            if next == 0 {
                return Ok(true);
            }
            cursor = next;
        }
    }

    fn restore(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let bad = |r: &Record, why: &str| StoreError::Corrupt {
            what: format!("backup record {}", r.key),
            reason: why.to_string(),
        };
        let mut pipe = redis::pipe();
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
