//! Where CRM state lives: one trait, [`CrmStore`], with a Redis backend
//! (production, Cluster-ready layout) and an embedded redb backend (one
//! machine, no server). Both pass the same conformance suite
//! (tests/it/crm_store.rs).
//!
//! A store knows nothing of the rules: it loads a customer's state with
//! its version and a key's earlier outcome, and commits a new state, its
//! ledger entries and the key's outcome in one atomic step that checks
//! the version and the key. Index hints (merchant lists, birthdays,
//! expiry times) are written with the commit; jobs treat them as hints
//! and check the customer's own state.

mod embedded;
mod redis_store;

pub use embedded::EmbeddedStore;
pub use redis_store::RedisStore;

use thiserror::Error;

use super::analytics::Sale;
use super::coupons::CouponTemplate;
use super::crypto::FieldCipher;
use super::customer::{CustomerState, IndexHint};
use super::feedback::Review;
use super::loyalty::Entry;
use super::managers::{AuditEntry, Ownership, Team};
use super::marketing::{Campaign, Facts, Member, Message};

/// What the embedded store's database (or its folder) said: redb has an
/// error type per operation, io another. Shared, so that one failed round
/// can answer each request of a batch.
pub type BackendError = std::sync::Arc<dyn std::error::Error + Send + Sync>;

/// Errors of a CRM store. The backend's own error is kept as the source.
#[derive(Debug, Error, Clone)]
pub enum StoreError {
    #[error("redis at {url}: {source}")]
    Redis {
        url: String,
        source: std::sync::Arc<redis::RedisError>,
    },
    #[error("redis_url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The write ran on the master, but no replica confirmed it in time.
    #[error("{0}")]
    NotReplicated(String),
    #[error("embedded CRM store {path}: {source}")]
    Embedded { path: String, source: BackendError },
    #[error("stored CRM data is damaged ({what}): {reason}")]
    Corrupt { what: String, reason: String },
}

/// Two failures are the same when they say the same: a backend's error
/// has no equality of its own, and a replayed or fanned-out failure
/// (`CrmError` is compared in tests and by idempotent replays) must
/// still equal the first.
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.to_string() == other.to_string()
    }
}

/// A customer as stored: its version (0: never written), its documents
/// (the service opens them: personal fields are sealed), and what an
/// idempotency key already produced, if anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub version: u64,
    /// The stored outcome of the key asked about (JSON), if it was used.
    pub prior: Option<String>,
    /// The documents as stored (empty for a new customer), so a commit
    /// can skip those it did not change.
    pub raw: Docs,
}

/// One atomic change to one customer.
#[derive(Debug, Clone)]
pub struct Commit {
    pub customer: String,
    /// The version the change was computed from; a different current
    /// version means someone else wrote first.
    pub expected_version: u64,
    pub key: String,
    /// The outcome to keep under `key` (JSON, with the command's
    /// fingerprint).
    pub stored: String,
    pub docs: Changes,
    pub entries: Vec<Entry>,
    pub index: Vec<IndexHint>,
    /// The customer's marketing facts after the change (segments read
    /// them, not the sealed profile).
    pub facts: Facts,
}

/// One atomic change to a merchant's team: its document, the ownerships
/// that changed (with their manager before, to move them in the
/// manager's index) and the audit lines.
#[derive(Debug, Clone)]
pub struct TeamCommit {
    pub expected_version: u64,
    pub team: Team,
    pub owners: Vec<(Ownership, Option<String>)>,
    pub audit: Vec<AuditEntry>,
}

/// One read or write of a customer's personal data, by whom.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AccessEntry {
    pub at_secs: i64,
    /// `role` or `role:subject` of the token.
    pub who: String,
    pub customer: String,
    /// read, write or erase.
    pub action: String,
    /// What was touched (`contact`, `contact (masked)`, ...).
    pub what: String,
}

/// What became of a commit.
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    /// Written; the customer is now at this version.
    Done(u64),
    /// The key was used already: its stored outcome, nothing written.
    Replayed(String),
    /// The customer changed since it was loaded: nothing written.
    Conflict,
}

/// The storage every CRM backend offers. Calls take slices so a backend
/// can pipeline (Redis) or batch in one transaction (redb).
pub trait CrmStore:
    CustomerStore + TeamStore + CouponStore + MarketingStore + SalesStore + BackupStore + Send + Sync
{
}

impl<T> CrmStore for T where
    T: CustomerStore + TeamStore + CouponStore + MarketingStore + SalesStore + BackupStore + Send + Sync
{
}

/// Customers: their documents, points ledger, the indexes the jobs walk, and reviews.
pub trait CustomerStore {
    /// Loads each (customer, idempotency key).
    fn load(&self, requests: &[(&str, &str)]) -> Result<Vec<Loaded>, StoreError>;
    /// Commits in order; each is atomic on its own. Several commits of one
    /// customer may follow each other with consecutive versions.
    fn commit(&self, commits: &[Commit]) -> Result<Vec<Committed>, StoreError>;
    /// Ledger entries of a customer, oldest first, from `offset`.
    fn ledger(&self, customer: &str, offset: u64, limit: usize) -> Result<Vec<Entry>, StoreError>;
    /// Customers of a merchant, in id order, at most `limit`.
    fn customers_of(&self, merchant: &str, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Customers under a (blinded) birthday label.
    fn born_on(&self, label: &str, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Customers with a lot expiring at or before `secs`.
    fn expiring(&self, secs: i64, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Reviews with `from_secs <= at_secs < to_secs`, oldest first, at most
    /// `limit`.
    fn reviews(&self, from_secs: i64, to_secs: i64, limit: usize) -> Result<Vec<Review>, StoreError>;
}

/// Account managers: teams, ownerships, their audit, and the access log of personal data.
pub trait TeamStore {
    /// A merchant's team and its version (0 and None: no team yet).
    fn team(&self, merchant: &str) -> Result<(u64, Option<Team>), StoreError>;
    /// Who owns each of these customers of a merchant.
    fn owners(&self, merchant: &str, customers: &[&str]) -> Result<Vec<Option<Ownership>>, StoreError>;
    /// Customers a manager owns, in id order, at most `limit`.
    fn owned_by(&self, merchant: &str, manager: &str, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Writes a team change atomically if the team is still at its
    /// expected version; false (nothing written) if someone wrote first.
    fn commit_team(&self, change: &TeamCommit) -> Result<bool, StoreError>;
    /// The merchant's ownership audit trail, oldest first, from `offset`.
    fn audit(&self, merchant: &str, offset: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// Appends to the personal-data access log.
    fn append_access(&self, entries: &[AccessEntry]) -> Result<(), StoreError>;
    /// The access log, oldest first, from `offset`.
    fn access_log(&self, offset: u64, limit: usize) -> Result<Vec<AccessEntry>, StoreError>;
}

/// Coupon templates and their issue caps.
pub trait CouponStore {
    /// Takes one unit of a template's total cap; false when none is left.
    fn reserve_total(&self, template: &str, cap: u64) -> Result<bool, StoreError>;
    /// Gives back a unit taken by [`CrmStore::reserve_total`].
    fn release_total(&self, template: &str) -> Result<(), StoreError>;
    /// Units of a template's total cap taken so far.
    fn total_used(&self, template: &str) -> Result<u64, StoreError>;
    /// Adds or replaces a coupon template.
    fn put_template(&self, template: &CouponTemplate) -> Result<(), StoreError>;
    /// Every coupon template.
    fn templates(&self) -> Result<Vec<CouponTemplate>, StoreError>;
}

/// Marketing: customer facts for segments, campaigns, their members and redemptions, and the merchant outbox.
pub trait MarketingStore {
    /// Hands every customer's marketing facts as stored, (customer, JSON),
    /// to `visit` in chunks, in no particular order; chunks may be visited
    /// side by side, so reading the next overlaps matching this one.
    fn scan_facts(&self, visit: &FactsVisitor) -> Result<(), StoreError>;
    /// The facts of these customers (None: never written).
    fn facts_of(&self, customers: &[&str]) -> Result<Vec<Option<Facts>>, StoreError>;
    /// Adds or replaces a campaign.
    fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError>;
    fn campaign(&self, id: &str) -> Result<Option<Campaign>, StoreError>;
    /// A merchant's campaigns, in id order.
    fn campaigns(&self, merchant: &str) -> Result<Vec<Campaign>, StoreError>;
    /// Adds members to a campaign (a member written again is replaced).
    fn put_members(&self, campaign: &str, members: &[(String, Member)]) -> Result<(), StoreError>;
    /// Forgets a campaign's members (what a first run cut short left).
    fn clear_members(&self, campaign: &str) -> Result<(), StoreError>;
    /// A campaign's members, in customer id order.
    fn members(&self, campaign: &str) -> Result<Vec<(String, Member)>, StoreError>;
    /// How many of a campaign's coupons were redeemed.
    fn redemptions(&self, campaign: &str) -> Result<u64, StoreError>;
    /// Appends to a merchant's outbox the messages whose id it never held
    /// (numbered in order); returns how many were new.
    fn outbox_append(&self, merchant: &str, messages: &[Message]) -> Result<usize, StoreError>;
    /// A merchant's outbox after `after_seq`, in order, at most `limit`.
    fn outbox(&self, merchant: &str, after_seq: u64, limit: usize) -> Result<Vec<Message>, StoreError>;
    /// Drops the messages up to `upto_seq` (the consumer has them);
    /// returns how many went. Their ids stay known, so none comes back.
    fn outbox_ack(&self, merchant: &str, upto_seq: u64) -> Result<u64, StoreError>;
}

/// Sale lines and zone demand for analytics.
pub trait SalesStore {
    /// A merchant's sale lines of days `from_day..=to_day` (Unix days).
    fn sales(&self, merchant: &str, from_day: i64, to_day: i64) -> Result<Vec<Sale>, StoreError>;
    /// Orders per (zone, Unix hour) of days `from_day..=to_day`, all
    /// merchants.
    fn demand(&self, from_day: i64, to_day: i64) -> Result<Vec<(String, i64, u64)>, StoreError>;
}

/// Whole-store dump and restore for backups.
pub trait BackupStore {
    /// `redis` or `embedded`: a backup restores into its own kind only.
    fn backend(&self) -> &'static str;
    /// What the store's Redis connections have seen (redirects, replica
    /// confirmations), for operators; None on the embedded store.
    fn link_stats(&self) -> Option<crate::kv::LinkStats> {
        None
    }
    /// Hands every stored record to `out` (see [`Record`]).
    fn dump(&self, out: &mut dyn FnMut(Record) -> Result<(), StoreError>) -> Result<(), StoreError>;
    /// Whether the store holds nothing yet (a restore's target must not).
    fn is_empty(&self) -> Result<bool, StoreError>;
    /// Writes records as [`CrmStore::dump`] gave them.
    fn restore(&self, records: &[Record]) -> Result<(), StoreError>;
}

/// One stored record, as its backend keeps it: for Redis, `space` is the
/// key's type and `key` the key without its prefix; for the embedded store,
/// `space` is the table and `key` its key. `value` is the content.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub space: String,
    pub key: serde_json::Value,
    pub value: serde_json::Value,
}

/// The store `cfg` names: Redis, or the redb file `<data_dir>/crm.redb`.
pub fn open_configured(
    cfg: &super::CrmConfig,
    data_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn CrmStore>, StoreError> {
    Ok(if cfg.store == "redis" {
        let acks = crate::kv::Acks {
            replicas: cfg.redis_wait_replicas,
            timeout_ms: cfg.redis_wait_ms,
        };
        std::sync::Arc::new(RedisStore::open_with(&cfg.redis_url, &cfg.redis_prefix, acks)?)
    } else {
        std::sync::Arc::new(EmbeddedStore::open(&data_dir.join("crm.redb"))?)
    })
}

/// What [`CrmStore::scan_facts`] calls with each chunk.
pub type FactsVisitor<'a> = dyn Fn(Vec<(String, String)>) -> Result<(), StoreError> + Sync + 'a;

/// The parts of a customer's state as stored, one JSON document each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Docs {
    pub profile: String,
    pub account: String,
    pub wallet: String,
}

/// The documents a commit writes; `None` leaves the stored one as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub profile: Option<String>,
    pub account: Option<String>,
    pub wallet: Option<String>,
}

impl Docs {
    /// The documents that differ from `old` (only those are copied).
    pub fn changes_from(&self, old: &Docs) -> Changes {
        let changed = |new: &String, old: &String| (new != old).then(|| new.clone());
        Changes {
            profile: changed(&self.profile, &old.profile),
            account: changed(&self.account, &old.account),
            wallet: changed(&self.wallet, &old.wallet),
        }
    }

    /// Serialises a state, the contact details sealed for `customer`.
    pub fn of(state: &CustomerState, customer: &str, cipher: &FieldCipher) -> Self {
        let mut profile = crate::base::json_value(&state.profile);
        let contact = to_json(&state.profile.contact);
        profile["contact"] = serde_json::Value::String(cipher.seal(customer, "contact", &contact));
        Docs {
            profile: profile.to_string(),
            account: to_json(&state.account),
            wallet: to_json(&state.wallet),
        }
    }

    /// Parses the stored documents back into a state, opening the contact
    /// details (a contact stored in clear by an older version is read as
    /// it is, and sealed at the next write).
    pub fn parse(&self, customer: &str, cipher: &FieldCipher) -> Result<CustomerState, StoreError> {
        let corrupt = |part: &str, e: String| StoreError::Corrupt {
            what: format!("customer {customer} {part}"),
            reason: e,
        };
        let mut profile: serde_json::Value =
            serde_json::from_str(&self.profile).map_err(|e| corrupt("profile", e.to_string()))?;
        if let Some(sealed) = profile.get("contact").and_then(|c| c.as_str()) {
            let clear = cipher
                .open(customer, "contact", sealed)
                .map_err(|e| corrupt("contact", e.to_string()))?;
            profile["contact"] =
                serde_json::from_str(&clear).map_err(|e| corrupt("contact", e.to_string()))?;
        }
        Ok(CustomerState {
            profile: serde_json::from_value(profile).map_err(|e| corrupt("profile", e.to_string()))?,
            account: serde_json::from_str(&self.account).map_err(|e| corrupt("account", e.to_string()))?,
            wallet: serde_json::from_str(&self.wallet).map_err(|e| corrupt("wallet", e.to_string()))?,
        })
    }
}

pub(super) use crate::base::json_string as to_json;

pub(super) fn parse_entry(customer: &str, text: &str) -> Result<Entry, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: format!("ledger entry of customer {customer}"),
        reason: e.to_string(),
    })
}

pub(super) fn parse_template(text: &str) -> Result<CouponTemplate, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: "coupon template".into(),
        reason: e.to_string(),
    })
}

/// A sale's day and its zone line for the demand index
/// (`<zone>\t<unix hour>`), if it has a zone.
pub(super) fn demand_line(s: &Sale) -> Option<String> {
    s.zone
        .as_ref()
        .map(|z| format!("{z}\t{}", s.at_secs.div_euclid(3600)))
}

/// Counts demand lines per (zone, hour).
pub(super) fn count_demand(lines: impl Iterator<Item = String>) -> Vec<(String, i64, u64)> {
    let mut counts: std::collections::BTreeMap<(String, i64), u64> = Default::default();
    for l in lines {
        if let Some((zone, hour)) = l.split_once('\t')
            && let Ok(hour) = hour.parse()
        {
            *counts.entry((zone.to_string(), hour)).or_default() += 1;
        }
    }
    counts.into_iter().map(|((z, h), n)| (z, h, n)).collect()
}

/// Stored facts, or why they cannot be read.
pub(crate) fn decode_facts(customer: &str, text: &str) -> Result<Facts, StoreError> {
    Facts::decode(text).ok_or_else(|| StoreError::Corrupt {
        what: format!("facts of {customer}"),
        reason: format!("{text:?} is not in the facts form"),
    })
}

pub(super) fn parse_doc<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what.into(),
        reason: e.to_string(),
    })
}
