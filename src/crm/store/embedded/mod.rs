//! The embedded backend: one redb file, for a single machine with no
//! server. redb allows one write transaction at a time, which makes every
//! commit atomic; a batch of commits shares one transaction (one fsync).

mod backup;
mod coupons;
mod customers;
mod marketing;
mod sales;
mod teams;

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle};

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

/// customer → (version, profile, account, wallet) as one JSON array.
const CUSTOMERS: TableDefinition<&str, &str> = TableDefinition::new("customers");
/// (customer, seq) → ledger entry JSON.
const LEDGER: TableDefinition<(&str, u64), &str> = TableDefinition::new("ledger");
/// (customer, idempotency key) → stored outcome.
const IDEM: TableDefinition<(&str, &str), &str> = TableDefinition::new("idem");
const MERCHANTS: TableDefinition<(&str, &str), u8> = TableDefinition::new("merchant_customers");
/// (blinded birthday label, customer).
const BIRTHDAYS: TableDefinition<(&str, &str), u8> = TableDefinition::new("birthday_labels");
const EXPIRY: TableDefinition<(i64, &str), u8> = TableDefinition::new("expiry");
const EXPIRY_OF: TableDefinition<&str, i64> = TableDefinition::new("expiry_of");
const TOTALS: TableDefinition<&str, u64> = TableDefinition::new("template_totals");
const TEMPLATES: TableDefinition<&str, &str> = TableDefinition::new("templates");
/// merchant → (version, team) JSON.
const TEAMS: TableDefinition<&str, &str> = TableDefinition::new("teams");
/// (merchant, customer) → ownership JSON.
const OWNERS: TableDefinition<(&str, &str), &str> = TableDefinition::new("owners");
/// (merchant, manager, customer): the customers a manager owns.
const OWNED: TableDefinition<(&str, &str, &str), u8> = TableDefinition::new("owned");
/// (merchant, seq) → audit entry JSON.
const AUDIT: TableDefinition<(&str, u64), &str> = TableDefinition::new("ownership_audit");
/// seq → access log entry JSON.
const ACCESS: TableDefinition<u64, &str> = TableDefinition::new("access_log");
/// (at_secs, review id) → review JSON.
const REVIEWS: TableDefinition<(i64, &str), &str> = TableDefinition::new("reviews");
/// (merchant, day, order) → sale JSON.
const SALES: TableDefinition<(&str, i64, &str), &str> = TableDefinition::new("sales");
/// (day, `<merchant>/<order>`) → `<zone>\t<hour>`.
const DEMAND: TableDefinition<(i64, &str), &str> = TableDefinition::new("demand");
/// customer → marketing facts.
const FACTS: TableDefinition<&str, &str> = TableDefinition::new("facts");
/// campaign id → campaign JSON.
const CAMPAIGNS: TableDefinition<&str, &str> = TableDefinition::new("campaigns");
/// (campaign, customer) → member JSON.
const MEMBERS: TableDefinition<(&str, &str), &str> = TableDefinition::new("campaign_members");
/// (campaign, `<customer>/<coupon>`): redeemed coupons.
const REDEEMED: TableDefinition<(&str, &str), u8> = TableDefinition::new("campaign_redeemed");
/// (merchant, seq) → message JSON.
const OUTBOX: TableDefinition<(&str, u64), &str> = TableDefinition::new("outbox");
/// (merchant, message id) → seq: every id ever appended.
const OUTBOX_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("outbox_ids");
/// merchant → last seq.
const OUTBOX_SEQ: TableDefinition<&str, u64> = TableDefinition::new("outbox_seq");

/// CRM state in a redb file.
pub struct EmbeddedStore {
    path: String,
    db: Database,
}

type Row = (u64, String, String, String, u64);

impl EmbeddedStore {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Embedded {
                path: shown.clone(),
                source: std::sync::Arc::new(e),
            })?;
        }
        let db = Database::create(path).map_err(|e| StoreError::Embedded {
            path: shown.clone(),
            source: std::sync::Arc::new(e),
        })?;
        let store = EmbeddedStore { path: shown, db };
        // Create every table up front, so reads never meet a missing one.
        store.write(|tx| {
            tx.open_table(CUSTOMERS)?;
            tx.open_table(LEDGER)?;
            tx.open_table(IDEM)?;
            tx.open_table(MERCHANTS)?;
            tx.open_table(BIRTHDAYS)?;
            tx.open_table(EXPIRY)?;
            tx.open_table(EXPIRY_OF)?;
            tx.open_table(TOTALS)?;
            tx.open_table(TEMPLATES)?;
            tx.open_table(REVIEWS)?;
            tx.open_table(TEAMS)?;
            tx.open_table(OWNERS)?;
            tx.open_table(OWNED)?;
            tx.open_table(AUDIT)?;
            tx.open_table(ACCESS)?;
            tx.open_table(FACTS)?;
            tx.open_table(SALES)?;
            tx.open_table(DEMAND)?;
            tx.open_table(CAMPAIGNS)?;
            tx.open_table(MEMBERS)?;
            tx.open_table(REDEEMED)?;
            tx.open_table(OUTBOX)?;
            tx.open_table(OUTBOX_IDS)?;
            tx.open_table(OUTBOX_SEQ)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn fail(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError::Embedded {
            path: self.path.clone(),
            source: std::sync::Arc::from(e.into()),
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.fail(e))?;
        let out = f(&tx).map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(out)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.fail(e))?;
        f(&tx).map_err(|e| self.fail(e))
    }

    fn row(&self, customer: &str, text: &str) -> Result<Row, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            what: format!("customer {customer}"),
            reason: e.to_string(),
        })
    }
}

/// Owned forms of table keys and values, lent to redb on insert.
trait Lend {
    type Lent<'a>
    where
        Self: 'a;
    fn lend(&self) -> Self::Lent<'_>;
}

macro_rules! lend_copy {
    ($($t:ty),*) => {$(
        impl Lend for $t {
            type Lent<'a> = $t;
            fn lend(&self) -> $t {
                *self
            }
        }
    )*};
}
lend_copy!(u8, u64, i64);

impl Lend for String {
    type Lent<'a> = &'a str;
    fn lend(&self) -> &str {
        self
    }
}

impl Lend for (String, u64) {
    type Lent<'a> = (&'a str, u64);
    fn lend(&self) -> (&str, u64) {
        (&self.0, self.1)
    }
}

impl Lend for (String, String) {
    type Lent<'a> = (&'a str, &'a str);
    fn lend(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl Lend for (i64, String) {
    type Lent<'a> = (i64, &'a str);
    fn lend(&self) -> (i64, &str) {
        (self.0, &self.1)
    }
}

impl Lend for (String, i64, String) {
    type Lent<'a> = (&'a str, i64, &'a str);
    fn lend(&self) -> (&str, i64, &str) {
        (&self.0, self.1, &self.2)
    }
}

impl Lend for (String, String, String) {
    type Lent<'a> = (&'a str, &'a str, &'a str);
    fn lend(&self) -> (&str, &str, &str) {
        (&self.0, &self.1, &self.2)
    }
}

/// Every table with the owned types of its key and value: the backup's
/// whole reach (a table missing here would be missing from backups).
macro_rules! tables {
    ($($def:ident: $k:ty => $v:ty),* $(,)?) => {
        fn dump_tables(
            tx: &redb::ReadTransaction,
            out: &mut dyn FnMut(Record) -> Result<(), StoreError>,
            fail: &dyn Fn(redb::Error) -> StoreError,
        ) -> Result<(), StoreError> {
            $(
                let t = tx.open_table($def).map_err(|e| fail(e.into()))?;
                for row in t.iter().map_err(|e| fail(e.into()))? {
                    let (k, v) = row.map_err(|e| fail(e.into()))?;
                    out(Record {
                        space: $def.name().to_string(),
                        key: crate::base::json_value(&k.value()),
                        value: crate::base::json_value(&v.value()),
                    })?;
                }
            )*
            Ok(())
        }

        fn rows_in_tables(
            tx: &redb::ReadTransaction,
            fail: &dyn Fn(redb::Error) -> StoreError,
        ) -> Result<u64, StoreError> {
            let mut rows = 0;
            $(
                let t = tx.open_table($def).map_err(|e| fail(e.into()))?;
                rows += t.len().map_err(|e| fail(e.into()))?;
            )*
            Ok(rows)
        }

        fn restore_record(
            tx: &redb::WriteTransaction,
            r: &Record,
            fail: &dyn Fn(redb::Error) -> StoreError,
        ) -> Result<(), StoreError> {
            let bad = |e: String| StoreError::Corrupt {
                what: format!("backup record {}/{}", r.space, r.key),
                reason: e,
            };
            $(
                if r.space == $def.name() {
                    let k: $k = serde_json::from_value(r.key.clone()).map_err(|e| bad(e.to_string()))?;
                    let v: $v = serde_json::from_value(r.value.clone()).map_err(|e| bad(e.to_string()))?;
                    let mut t = tx.open_table($def).map_err(|e| fail(e.into()))?;
                    t.insert(k.lend(), v.lend()).map_err(|e| fail(e.into()))?;
                    return Ok(());
                }
            )*
            Err(bad("no such table".into()))
        }
    };
}

tables! {
    CUSTOMERS: String => String,
    LEDGER: (String, u64) => String,
    IDEM: (String, String) => String,
    MERCHANTS: (String, String) => u8,
    BIRTHDAYS: (String, String) => u8,
    EXPIRY: (i64, String) => u8,
    EXPIRY_OF: String => i64,
    TOTALS: String => u64,
    TEMPLATES: String => String,
    TEAMS: String => String,
    OWNERS: (String, String) => String,
    OWNED: (String, String, String) => u8,
    AUDIT: (String, u64) => String,
    ACCESS: u64 => String,
    REVIEWS: (i64, String) => String,
    FACTS: String => String,
    SALES: (String, i64, String) => String,
    DEMAND: (i64, String) => String,
    CAMPAIGNS: String => String,
    MEMBERS: (String, String) => String,
    REDEEMED: (String, String) => u8,
    OUTBOX: (String, u64) => String,
    OUTBOX_IDS: (String, String) => u64,
    OUTBOX_SEQ: String => u64,
}
