//! The embedded backend: one redb file, for a single machine with no
//! server. redb allows one write transaction at a time, which makes every
//! commit atomic; a batch of commits shares one transaction (one fsync).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle};

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
                reason: e.to_string(),
            })?;
        }
        let db = Database::create(path).map_err(|e| StoreError::Embedded {
            path: shown.clone(),
            reason: e.to_string(),
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

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Embedded {
            path: self.path.clone(),
            reason: e.to_string(),
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

impl CrmStore for EmbeddedStore {
    fn load(&self, requests: &[(&str, &str)]) -> Result<Vec<Loaded>, StoreError> {
        let raw: Vec<(Option<String>, Option<String>)> = self.read(|tx| {
            let customers = tx.open_table(CUSTOMERS)?;
            let idem = tx.open_table(IDEM)?;
            requests
                .iter()
                .map(|(c, k)| {
                    let row = customers.get(*c)?.map(|g| g.value().to_string());
                    let prior = idem.get((*c, *k))?.map(|g| g.value().to_string());
                    Ok((row, prior))
                })
                .collect()
        })?;
        requests
            .iter()
            .zip(raw)
            .map(|((customer, _), (row, prior))| {
                let Some(row) = row else {
                    return Ok(Loaded {
                        version: 0,
                        prior,
                        raw: Docs::default(),
                    });
                };
                let (version, profile, account, wallet, _) = self.row(customer, &row)?;
                let raw = Docs {
                    profile,
                    account,
                    wallet,
                };
                Ok(Loaded { version, prior, raw })
            })
            .collect()
    }

    fn commit(&self, commits: &[Commit]) -> Result<Vec<Committed>, StoreError> {
        if commits.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Result<Vec<Result<Committed, StoreError>>, StoreError> = self.write(|tx| {
            let mut customers = tx.open_table(CUSTOMERS)?;
            let mut ledger = tx.open_table(LEDGER)?;
            let mut idem = tx.open_table(IDEM)?;
            let mut merchants = tx.open_table(MERCHANTS)?;
            let mut birthdays = tx.open_table(BIRTHDAYS)?;
            let mut expiry = tx.open_table(EXPIRY)?;
            let mut expiry_of = tx.open_table(EXPIRY_OF)?;
            let mut reviews = tx.open_table(REVIEWS)?;
            let mut facts = tx.open_table(FACTS)?;
            let mut redeemed = tx.open_table(REDEEMED)?;
            let mut sales = tx.open_table(SALES)?;
            let mut demand = tx.open_table(DEMAND)?;
            let mut out = Vec::with_capacity(commits.len());
            for c in commits {
                let customer = c.customer.as_str();
                if let Some(prior) = idem.get((customer, c.key.as_str()))? {
                    out.push(Ok(Committed::Replayed(prior.value().to_string())));
                    continue;
                }
                let old = customers.get(customer)?.map(|g| g.value().to_string());
                let (version, old_docs, ledger_len) = match old.map(|t| self.row(customer, &t)) {
                    None => (0, Docs::default(), 0),
                    Some(Ok((v, profile, account, wallet, n))) => (
                        v,
                        Docs {
                            profile,
                            account,
                            wallet,
                        },
                        n,
                    ),
                    Some(Err(e)) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                if version != c.expected_version {
                    out.push(Ok(Committed::Conflict));
                    continue;
                }
                let pick = |new: &Option<String>, old: String| new.clone().unwrap_or(old);
                let len = ledger_len + c.entries.len() as u64;
                let row: Row = (
                    version + 1,
                    pick(&c.docs.profile, old_docs.profile),
                    pick(&c.docs.account, old_docs.account),
                    pick(&c.docs.wallet, old_docs.wallet),
                    len,
                );
                customers.insert(customer, to_json(&row).as_str())?;
                for (i, e) in c.entries.iter().enumerate() {
                    ledger.insert((customer, ledger_len + i as u64), to_json(e).as_str())?;
                }
                idem.insert((customer, c.key.as_str()), c.stored.as_str())?;
                for hint in &c.index {
                    match hint {
                        IndexHint::Merchant(m) => {
                            merchants.insert((m.as_str(), customer), 1)?;
                        }
                        IndexHint::Birthday(label) => {
                            birthdays.insert((label.as_str(), customer), 1)?;
                        }
                        IndexHint::Expiry(at) => {
                            let before = expiry_of.get(customer)?.map(|g| g.value());
                            if let Some(b) = before {
                                expiry.remove((b, customer))?;
                                expiry_of.remove(customer)?;
                            }
                            if let Some(at) = at {
                                expiry.insert((*at, customer), 1)?;
                                expiry_of.insert(customer, *at)?;
                            }
                        }
                        IndexHint::Review(r) => {
                            reviews.insert((r.at_secs, r.id.as_str()), to_json(r).as_str())?;
                        }
                        IndexHint::Sale(s) => {
                            let day = s.at_secs.div_euclid(86_400);
                            sales
                                .insert((s.merchant.as_str(), day, s.order.as_str()), to_json(s).as_str())?;
                            if let Some(line) = demand_line(s) {
                                let key = format!("{}/{}", s.merchant, s.order);
                                demand.insert((day, key.as_str()), line.as_str())?;
                            }
                        }
                        IndexHint::Redeemed { campaign, coupon } => {
                            redeemed.insert((campaign.as_str(), coupon.as_str()), 1)?;
                        }
                    }
                }
                facts.insert(customer, c.facts.encode().as_str())?;
                out.push(Ok(Committed::Done(version + 1)));
            }
            Ok(out)
        });
        rows?.into_iter().collect()
    }

    fn ledger(&self, customer: &str, offset: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(LEDGER)?;
            t.range((customer, offset)..=(customer, u64::MAX))?
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_entry(customer, t)).collect()
    }

    fn customers_of(&self, merchant: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(MERCHANTS)?;
            t.range((merchant, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 == merchant))
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().1.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn born_on(&self, label: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(BIRTHDAYS)?;
            t.range((label, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 == label))
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().1.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn expiring(&self, secs: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(EXPIRY)?;
            t.range((i64::MIN, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 <= secs))
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().1.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn reviews(&self, from_secs: i64, to_secs: i64, limit: usize) -> Result<Vec<Review>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(REVIEWS)?;
            t.range((from_secs, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 < to_secs))
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_doc("review", t)).collect()
    }

    fn team(&self, merchant: &str) -> Result<(u64, Option<Team>), StoreError> {
        let text = self.read(|tx| {
            Ok(tx
                .open_table(TEAMS)?
                .get(merchant)?
                .map(|g| g.value().to_string()))
        })?;
        match text {
            None => Ok((0, None)),
            Some(t) => {
                let (v, team): (u64, Team) = parse_doc(&format!("team of {merchant}"), &t)?;
                Ok((v, Some(team)))
            }
        }
    }

    fn owners(&self, merchant: &str, customers: &[&str]) -> Result<Vec<Option<Ownership>>, StoreError> {
        let texts: Vec<Option<String>> = self.read(|tx| {
            let t = tx.open_table(OWNERS)?;
            customers
                .iter()
                .map(|c| Ok(t.get((merchant, *c))?.map(|g| g.value().to_string())))
                .collect()
        })?;
        texts
            .iter()
            .map(|t| t.as_deref().map(|t| parse_doc("ownership", t)).transpose())
            .collect()
    }

    fn owned_by(&self, merchant: &str, manager: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(OWNED)?;
            t.range((merchant, manager, "")..)?
                .take_while(|r| {
                    r.as_ref()
                        .map_or(true, |(k, _)| k.value().0 == merchant && k.value().1 == manager)
                })
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().2.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn commit_team(&self, change: &TeamCommit) -> Result<bool, StoreError> {
        let merchant = change.team.merchant.as_str();
        let done: Result<bool, StoreError> = self.write(|tx| {
            let mut teams = tx.open_table(TEAMS)?;
            let stored = teams.get(merchant)?.map(|g| g.value().to_string());
            let version = match stored.map(|t| parse_doc::<(u64, serde::de::IgnoredAny)>("team", &t)) {
                None => 0,
                Some(Ok((v, _))) => v,
                // A damaged team document is an error, not an endless conflict.
                Some(Err(e)) => return Ok(Err(e)),
            };
            if version != change.expected_version {
                return Ok(Ok(false));
            }
            teams.insert(merchant, to_json(&(version + 1, &change.team)).as_str())?;
            let mut owners = tx.open_table(OWNERS)?;
            let mut owned = tx.open_table(OWNED)?;
            for (o, before) in &change.owners {
                if let Some(b) = before {
                    owned.remove((merchant, b.as_str(), o.customer.as_str()))?;
                }
                owned.insert((merchant, o.manager.as_str(), o.customer.as_str()), 1)?;
                owners.insert((merchant, o.customer.as_str()), to_json(o).as_str())?;
            }
            let mut audit = tx.open_table(AUDIT)?;
            let next = audit
                .range((merchant, 0)..=(merchant, u64::MAX))?
                .next_back()
                .transpose()?
                .map_or(0, |(k, _)| k.value().1 + 1);
            for (seq, a) in (next..).zip(&change.audit) {
                audit.insert((merchant, seq), to_json(a).as_str())?;
            }
            Ok(Ok(true))
        })?;
        done
    }

    fn audit(&self, merchant: &str, offset: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(AUDIT)?;
            t.range((merchant, offset)..=(merchant, u64::MAX))?
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts
            .iter()
            .map(|t| parse_doc("ownership audit entry", t))
            .collect()
    }

    fn append_access(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(ACCESS)?;
            let next = t.last()?.map_or(0, |(k, _)| k.value() + 1);
            for (seq, e) in (next..).zip(entries) {
                t.insert(seq, to_json(e).as_str())?;
            }
            Ok(())
        })
    }

    fn access_log(&self, offset: u64, limit: usize) -> Result<Vec<AccessEntry>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            tx.open_table(ACCESS)?
                .range(offset..)?
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_doc("access log entry", t)).collect()
    }

    fn reserve_total(&self, template: &str, cap: u64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(TOTALS)?;
            let n = t.get(template)?.map_or(0, |g| g.value());
            if n >= cap {
                return Ok(false);
            }
            t.insert(template, n + 1)?;
            Ok(true)
        })
    }

    fn release_total(&self, template: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(TOTALS)?;
            let n = t.get(template)?.map_or(0, |g| g.value());
            t.insert(template, n.saturating_sub(1))?;
            Ok(())
        })
    }

    fn total_used(&self, template: &str) -> Result<u64, StoreError> {
        self.read(|tx| Ok(tx.open_table(TOTALS)?.get(template)?.map_or(0, |g| g.value())))
    }

    fn put_template(&self, template: &CouponTemplate) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(TEMPLATES)?
                .insert(template.id.as_str(), to_json(template).as_str())?;
            Ok(())
        })
    }

    fn templates(&self) -> Result<Vec<CouponTemplate>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            tx.open_table(TEMPLATES)?
                .iter()?
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_template(t)).collect()
    }

    fn scan_facts(&self, visit: &FactsVisitor) -> Result<(), StoreError> {
        const CHUNK: usize = 50_000;
        let (tx_out, rx) = std::sync::mpsc::sync_channel::<Vec<(String, String)>>(2);
        // Read on this thread, match on another: one read transaction.
        std::thread::scope(|s| {
            let matcher = s.spawn(move || rx.into_iter().try_for_each(visit));
            let read = self.read(|tx| {
                let t = tx.open_table(FACTS)?;
                let mut chunk = Vec::with_capacity(CHUNK);
                for r in t.iter()? {
                    let (k, v) = r?;
                    chunk.push((k.value().to_string(), v.value().to_string()));
                    if chunk.len() == CHUNK && tx_out.send(std::mem::take(&mut chunk)).is_err() {
                        break;
                    }
                }
                let _ = tx_out.send(chunk);
                Ok(())
            });
            drop(tx_out);
            let matched = matcher.join().unwrap_or_else(|_| {
                Err(StoreError::Corrupt {
                    what: "facts".into(),
                    reason: "the matching thread panicked".into(),
                })
            });
            read.and(matched)
        })
    }

    fn facts_of(&self, customers: &[&str]) -> Result<Vec<Option<Facts>>, StoreError> {
        let texts: Vec<Option<String>> = self.read(|tx| {
            let t = tx.open_table(FACTS)?;
            customers
                .iter()
                .map(|c| Ok(t.get(*c)?.map(|g| g.value().to_string())))
                .collect()
        })?;
        texts
            .iter()
            .zip(customers)
            .map(|(t, c)| t.as_deref().map(|t| decode_facts(c, t)).transpose())
            .collect()
    }

    fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(CAMPAIGNS)?;
            t.insert(campaign.spec.id.as_str(), to_json(campaign).as_str())?;
            Ok(())
        })
    }

    fn campaign(&self, id: &str) -> Result<Option<Campaign>, StoreError> {
        let text = self.read(|tx| Ok(tx.open_table(CAMPAIGNS)?.get(id)?.map(|g| g.value().to_string())))?;
        text.map(|t| parse_doc(&format!("campaign {id}"), &t)).transpose()
    }

    fn campaigns(&self, merchant: &str) -> Result<Vec<Campaign>, StoreError> {
        let texts: Vec<(String, String)> = self.read(|tx| {
            let t = tx.open_table(CAMPAIGNS)?;
            t.iter()?
                .map(|r| {
                    r.map(|(k, v)| (k.value().to_string(), v.value().to_string()))
                        .map_err(redb::Error::from)
                })
                .collect()
        })?;
        texts
            .iter()
            .map(|(id, t)| parse_doc::<Campaign>(&format!("campaign {id}"), t))
            .filter(|c| c.as_ref().map_or(true, |c| c.merchant == merchant))
            .collect()
    }

    fn put_members(&self, campaign: &str, members: &[(String, Member)]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(MEMBERS)?;
            for (customer, m) in members {
                t.insert((campaign, customer.as_str()), to_json(m).as_str())?;
            }
            Ok(())
        })
    }

    fn clear_members(&self, campaign: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(MEMBERS)?;
            let customers: Vec<String> = t
                .range((campaign, "")..)?
                .map(|r| r.map(|(k, _)| (k.value().0.to_string(), k.value().1.to_string())))
                .take_while(|r| r.as_ref().map_or(true, |(c, _)| c == campaign))
                .map(|r| r.map(|(_, customer)| customer).map_err(redb::Error::from))
                .collect::<Result<_, _>>()?;
            for c in &customers {
                t.remove((campaign, c.as_str()))?;
            }
            Ok(())
        })
    }

    fn members(&self, campaign: &str) -> Result<Vec<(String, Member)>, StoreError> {
        let texts: Vec<(String, String)> = self.read(|tx| {
            let t = tx.open_table(MEMBERS)?;
            t.range((campaign, "")..)?
                .map(|r| {
                    r.map(|(k, v)| {
                        (
                            k.value().0.to_string(),
                            k.value().1.to_string(),
                            v.value().to_string(),
                        )
                    })
                    .map_err(redb::Error::from)
                })
                .take_while(|r| r.as_ref().map_or(true, |(c, _, _)| c == campaign))
                .map(|r| r.map(|(_, customer, v)| (customer, v)))
                .collect()
        })?;
        texts
            .into_iter()
            .map(|(c, t)| Ok((c, parse_doc(&format!("member of campaign {campaign}"), &t)?)))
            .collect()
    }

    fn redemptions(&self, campaign: &str) -> Result<u64, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(REDEEMED)?;
            let mut n = 0;
            for r in t.range((campaign, "")..)? {
                let (k, _) = r?;
                if k.value().0 != campaign {
                    break;
                }
                n += 1;
            }
            Ok(n)
        })
    }

    fn outbox_append(&self, merchant: &str, messages: &[Message]) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut log = tx.open_table(OUTBOX)?;
            let mut ids = tx.open_table(OUTBOX_IDS)?;
            let mut seqs = tx.open_table(OUTBOX_SEQ)?;
            let mut seq = seqs.get(merchant)?.map_or(0, |g| g.value());
            let mut added = 0;
            for m in messages {
                if ids.get((merchant, m.id.as_str()))?.is_some() {
                    continue;
                }
                seq += 1;
                ids.insert((merchant, m.id.as_str()), seq)?;
                log.insert((merchant, seq), to_json(m).as_str())?;
                added += 1;
            }
            seqs.insert(merchant, seq)?;
            Ok(added)
        })
    }

    fn outbox(&self, merchant: &str, after_seq: u64, limit: usize) -> Result<Vec<Message>, StoreError> {
        let texts: Vec<(u64, String)> = self.read(|tx| {
            let t = tx.open_table(OUTBOX)?;
            t.range((merchant, after_seq.saturating_add(1))..=(merchant, u64::MAX))?
                .take(limit)
                .map(|r| {
                    r.map(|(k, v)| (k.value().1, v.value().to_string()))
                        .map_err(redb::Error::from)
                })
                .collect()
        })?;
        texts
            .iter()
            .map(|(seq, t)| {
                let mut m: Message = parse_doc(&format!("outbox message {seq} of {merchant}"), t)?;
                m.seq = *seq;
                Ok(m)
            })
            .collect()
    }

    fn outbox_ack(&self, merchant: &str, upto_seq: u64) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(OUTBOX)?;
            let seqs: Vec<u64> = t
                .range((merchant, 0)..=(merchant, upto_seq))?
                .map(|r| r.map(|(k, _)| k.value().1).map_err(redb::Error::from))
                .collect::<Result<_, _>>()?;
            for s in &seqs {
                t.remove((merchant, *s))?;
            }
            Ok(seqs.len() as u64)
        })
    }

    fn sales(&self, merchant: &str, from_day: i64, to_day: i64) -> Result<Vec<Sale>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(SALES)?;
            t.range((merchant, from_day, "")..(merchant, to_day.saturating_add(1), ""))?
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts
            .iter()
            .map(|t| parse_doc(&format!("sale of {merchant}"), t))
            .collect()
    }

    fn demand(&self, from_day: i64, to_day: i64) -> Result<Vec<(String, i64, u64)>, StoreError> {
        let lines: Vec<String> = self.read(|tx| {
            let t = tx.open_table(DEMAND)?;
            t.range((from_day, "")..(to_day.saturating_add(1), ""))?
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        Ok(count_demand(lines.into_iter()))
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn dump(&self, out: &mut dyn FnMut(Record) -> Result<(), StoreError>) -> Result<(), StoreError> {
        // One read transaction: the backup is one point in time.
        let tx = self.db.begin_read().map_err(|e| self.fail(e))?;
        dump_tables(&tx, out, &|e| self.fail(e))
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.fail(e))?;
        Ok(rows_in_tables(&tx, &|e| self.fail(e))? == 0)
    }

    fn restore(&self, records: &[Record]) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.fail(e))?;
        for r in records {
            restore_record(&tx, r, &|e| self.fail(e))?;
        }
        tx.commit().map_err(|e| self.fail(e))
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
