//! [`Crm`]: runs commands against a store, atomically and idempotently.
//! For each command: load the customer (and whether its key was used),
//! apply the rules to a copy, commit with the version it was computed
//! from. A replayed key answers its first outcome; a version conflict
//! (someone else wrote) runs the command again on the new state, at most
//! [`ROUNDS_MAX`] times. Batches go to the store together: one round trip
//! for the loads and one for the commits, however many customers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::CrmError;
use super::config::CrmConfig;
use super::coupons::{CouponKind, CouponTemplate};
use super::crypto::FieldCipher;
use super::customer::IndexHint;
use super::customer::{Command, Ctx, CustomerState, Outcome, apply};
use super::feedback::Review;
use super::loyalty::Entry;
use super::marketing::Facts;
use super::store::{Commit, Committed, CrmStore, Docs, Loaded, StoreError};
use crate::base::CityTime;

/// Attempts of one command against concurrent writers before giving up.
pub const ROUNDS_MAX: usize = 32;
/// Groups of a batch run in parallel at most (the Redis store has a
/// connection for each).
const PARALLEL_MAX: usize = 4;
/// Customers one job call looks at.
pub const JOB_BATCH_MAX: usize = 10_000;

/// A command for one customer, with its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub customer: String,
    pub key: String,
    pub command: Command,
}

/// What is kept under an idempotency key.
#[derive(Serialize, Deserialize)]
struct Stored {
    fingerprint: String,
    outcome: Outcome,
}

/// The CRM: rules, templates and a store.
pub struct Crm {
    store: Arc<dyn CrmStore>,
    cfg: CrmConfig,
    /// Replaced whole on a change, so a batch takes a snapshot for free.
    templates: RwLock<Arc<BTreeMap<String, CouponTemplate>>>,
    /// Told of every negative review as it is written (the merchants'
    /// real-time alerts); must not block.
    alerts: RwLock<Option<AlertSink>>,
    /// Seals contact details before the store sees them.
    cipher: FieldCipher,
    /// The city's civil time: birthdays, meal times, quota periods and
    /// report days are local to it.
    pub(super) city: CityTime,
}

/// Where negative reviews go the moment they are stored.
pub type AlertSink = Arc<dyn Fn(&Review) + Send + Sync>;

/// Reviews one statistics or alerts query reads at most.
pub const REVIEWS_MAX: usize = 100_000;

/// A result, and whether this call wrote it (not a replay).
pub(super) type Ran = (Result<Outcome, CrmError>, bool);

impl Crm {
    /// Opens the CRM over `store`, adding the configured templates.
    /// Personal fields are sealed with `cfg.encryption_keys` (required).
    pub fn open(cfg: CrmConfig, store: Arc<dyn CrmStore>) -> Result<Self, CrmError> {
        let cipher = FieldCipher::from_spec(&cfg.encryption_keys)?;
        for t in &cfg.templates {
            store.put_template(t)?;
        }
        let templates = store
            .templates()?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        Ok(Crm {
            store,
            cfg,
            templates: RwLock::new(Arc::new(templates)),
            alerts: RwLock::new(None),
            cipher,
            city: CityTime::utc(),
        })
    }

    /// The CRM with its days and hours in `city`'s time zone (UTC until
    /// told).
    pub fn in_city(mut self, city: CityTime) -> Self {
        self.city = city;
        self
    }

    /// The rules in force.
    pub fn config(&self) -> &CrmConfig {
        &self.cfg
    }

    /// The store underneath (reads for the API, jobs).
    pub fn store(&self) -> &dyn CrmStore {
        self.store.as_ref()
    }

    /// Runs one command.
    pub fn execute(&self, now_secs: i64, request: &Request) -> Result<Outcome, CrmError> {
        self.execute_batch(now_secs, std::slice::from_ref(request))
            .pop()
            .unwrap_or_else(|| Err(CrmError::Contended(request.customer.clone())))
    }

    /// Runs many commands, in order per customer, with one round trip for
    /// loads and one for commits per round.
    pub fn execute_batch(&self, now_secs: i64, requests: &[Request]) -> Vec<Result<Outcome, CrmError>> {
        let ran = self.ran_batch(now_secs, requests);
        let sink = self.alerts.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(sink) = sink {
            for (r, wrote) in &ran {
                if let (Ok(Outcome::Feedback(review)), true) = (r, wrote)
                    && review.class.negative
                {
                    sink(review);
                }
            }
        }
        ran.into_iter().map(|(r, _)| r).collect()
    }

    /// Sends every negative review, once it is stored (never a replay), to
    /// `sink`: how merchants hear of them in real time.
    pub fn set_alert_sink(&self, sink: AlertSink) {
        *self.alerts.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// Reviews of `[from_secs, to_secs)`, oldest first, that `keep` wants
    /// (at most [`REVIEWS_MAX`] read).
    pub fn reviews(
        &self,
        from_secs: i64,
        to_secs: i64,
        keep: impl Fn(&Review) -> bool,
    ) -> Result<Vec<Review>, CrmError> {
        let all = self.store.reviews(from_secs, to_secs, REVIEWS_MAX)?;
        Ok(all.into_iter().filter(|r| keep(r)).collect())
    }

    /// [`Crm::execute_batch`], also saying which commands this call wrote
    /// (not replays).
    pub(super) fn ran_batch(&self, now_secs: i64, requests: &[Request]) -> Vec<Ran> {
        let mut results: Vec<Option<Ran>> = vec![None; requests.len()];
        let mut plain = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            if let Err(e) = check_id("customer", &r.customer).and_then(|_| check_id("key", &r.key)) {
                results[i] = Some((Err(e), false));
            } else if let Some(t) = self.capped_template(&r.command) {
                results[i] = Some(self.issue_capped(now_secs, r, &t));
            } else {
                plain.push(i);
            }
        }
        // Customers split into groups that run side by side (each its own
        // round trips); one customer's commands stay in one group, in order.
        let groups_n = rayon::current_num_threads().clamp(1, PARALLEL_MAX);
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); groups_n];
        for i in plain {
            groups[group_of(&requests[i].customer, groups_n)].push(i);
        }
        let ran: Vec<(Vec<usize>, Vec<Ran>)> = groups
            .into_par_iter()
            .map(|group| {
                let picked: Vec<&Request> = group.iter().map(|&i| &requests[i]).collect();
                let ran = self.run(now_secs, &picked);
                (group, ran)
            })
            .collect();
        for (group, ran) in ran {
            for (i, r) in group.into_iter().zip(ran) {
                results[i] = Some(r);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| (Err(CrmError::Contended(String::new())), false)))
            .collect()
    }

    /// A coupon template with a total cap is reserved across customers
    /// before the customer's wallet changes, and given back if it does not.
    fn issue_capped(&self, now_secs: i64, request: &Request, template: &CouponTemplate) -> Ran {
        let loaded = match self.store.load(&[(&request.customer, &request.key)]) {
            Ok(l) => l,
            Err(e) => return (Err(e.into()), false),
        };
        if let Some(prior) = loaded.first().and_then(|l| l.prior.as_deref()) {
            return (decode(prior, &request.command, &request.key), false);
        }
        let cap = template.total_cap.unwrap_or(u64::MAX);
        match self.store.reserve_total(&template.id, cap) {
            Ok(true) => {}
            Ok(false) => {
                let full = format!("all {cap} coupons of {} are issued", template.id);
                return (Err(CrmError::CapReached(full)), false);
            }
            Err(e) => return (Err(e.into()), false),
        }
        let (result, wrote) = self
            .run(now_secs, &[request])
            .pop()
            .unwrap_or((Err(CrmError::Contended(request.customer.clone())), false));
        if !wrote && let Err(e) = self.store.release_total(&template.id) {
            return (Err(e.into()), false);
        }
        (result, wrote)
    }

    fn capped_template(&self, command: &Command) -> Option<CouponTemplate> {
        let Command::IssueCoupon { template, .. } = command else {
            return None;
        };
        self.snapshot()
            .get(template)
            .filter(|t| t.total_cap.is_some())
            .cloned()
    }

    fn snapshot(&self) -> Arc<BTreeMap<String, CouponTemplate>> {
        self.templates.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn run(&self, now_secs: i64, requests: &[&Request]) -> Vec<Ran> {
        let mut results: Vec<Option<Ran>> = vec![None; requests.len()];
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let templates = self.snapshot();
        for _ in 0..ROUNDS_MAX {
            if pending.is_empty() {
                break;
            }
            match self.round(now_secs, requests, &pending, &templates, &mut results) {
                Ok(again) => pending = again,
                Err(e) => {
                    for &i in &pending {
                        results[i] = Some((Err(e.clone().into()), false));
                    }
                    pending.clear();
                }
            }
        }
        for i in pending {
            results[i] = Some((Err(CrmError::Contended(requests[i].customer.clone())), false));
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or((Err(CrmError::Contended(String::new())), false)))
            .collect()
    }

    /// One load-apply-commit round over `pending`; returns what must run
    /// again (version conflicts, a key repeated within the batch).
    fn round(
        &self,
        now_secs: i64,
        requests: &[&Request],
        pending: &[usize],
        templates: &BTreeMap<String, CouponTemplate>,
        results: &mut [Option<Ran>],
    ) -> Result<Vec<usize>, StoreError> {
        let asks: Vec<(&str, &str)> = pending
            .iter()
            .map(|&i| (requests[i].customer.as_str(), requests[i].key.as_str()))
            .collect();
        let loads = self.store.load(&asks)?;
        let mut states: HashMap<&str, (u64, Option<CustomerState>, Docs)> = HashMap::new();
        let mut keys_seen: HashSet<(&str, &str)> = HashSet::new();
        let mut again = Vec::new();
        let mut commits = Vec::new();
        let mut made: Vec<(usize, Outcome)> = Vec::new();
        for (&i, loaded) in pending.iter().zip(loads) {
            let r = &requests[i];
            if let Some(prior) = &loaded.prior {
                results[i] = Some((decode(prior, &r.command, &r.key), false));
                continue;
            }
            if !keys_seen.insert((&r.customer, &r.key)) {
                again.push(i);
                continue;
            }
            let (version, state, raw) = match states.entry(r.customer.as_str()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let state = self.open_state(&r.customer, &loaded)?;
                    e.insert((loaded.version, state, loaded.raw))
                }
            };
            let mut next = state.clone();
            let ctx = Ctx {
                now_secs,
                customer: &r.customer,
                key: &r.key,
                cfg: &self.cfg,
                city: &self.city,
                templates,
            };
            match apply(&mut next, &r.command, &ctx) {
                Err(e) => results[i] = Some((Err(e), false)),
                Ok(applied) => {
                    let Some(new_state) = &next else {
                        // A sweep of a customer never written: nothing to commit.
                        results[i] = Some((Ok(applied.outcome), false));
                        continue;
                    };
                    let stored = Stored {
                        fingerprint: r.command.fingerprint(),
                        outcome: applied.outcome.clone(),
                    };
                    let docs = Docs::of(new_state, &r.customer, &self.cipher);
                    let changes = docs.changes_from(raw);
                    *raw = docs;
                    commits.push(Commit {
                        customer: r.customer.clone(),
                        expected_version: *version,
                        key: r.key.clone(),
                        stored: crate::base::json_string(&stored),
                        docs: changes,
                        entries: applied.entries,
                        index: applied.index.into_iter().map(|h| self.blinded(h)).collect(),
                        facts: Facts::of(new_state),
                    });
                    *version += 1;
                    *state = next;
                    made.push((i, applied.outcome));
                }
            }
        }
        let committed = self.store.commit(&commits)?;
        for ((i, outcome), c) in made.into_iter().zip(committed) {
            let r = &requests[i];
            match c {
                Committed::Done(_) => results[i] = Some((Ok(outcome), true)),
                Committed::Replayed(prior) => results[i] = Some((decode(&prior, &r.command, &r.key), false)),
                Committed::Conflict => again.push(i),
            }
        }
        again.sort_unstable();
        Ok(again)
    }

    /// The state in `loaded`, contact details opened (None: never written).
    fn open_state(&self, customer: &str, loaded: &Loaded) -> Result<Option<CustomerState>, StoreError> {
        if loaded.version == 0 {
            return Ok(None);
        }
        loaded.raw.parse(customer, &self.cipher).map(Some)
    }

    /// An index hint as the store may see it: birthdays blinded.
    fn blinded(&self, hint: IndexHint) -> IndexHint {
        match hint {
            IndexHint::Birthday(day) => IndexHint::Birthday(self.cipher.blind("birthday", &day)),
            other => other,
        }
    }

    /// A customer's state and version (None: never seen).
    pub fn customer(&self, id: &str) -> Result<Option<(u64, CustomerState)>, CrmError> {
        check_id("customer", id)?;
        let Some(loaded) = self.store.load(&[(id, "")])?.pop() else {
            return Ok(None);
        };
        Ok(self.open_state(id, &loaded)?.map(|s| (loaded.version, s)))
    }

    /// Ledger entries of a customer, oldest first.
    pub fn ledger(&self, id: &str, offset: u64, limit: usize) -> Result<Vec<Entry>, CrmError> {
        check_id("customer", id)?;
        Ok(self.store.ledger(id, offset, limit)?)
    }

    /// Adds or replaces a coupon template (a festival campaign, say).
    pub fn put_template(&self, template: CouponTemplate) -> Result<(), CrmError> {
        template.check()?;
        self.store.put_template(&template)?;
        let mut templates = self.templates.write().unwrap_or_else(|e| e.into_inner());
        Arc::make_mut(&mut templates).insert(template.id.clone(), template);
        Ok(())
    }

    /// Every coupon template.
    pub fn templates(&self) -> Vec<CouponTemplate> {
        self.snapshot().values().cloned().collect()
    }

    /// Scheduled expiry: sweeps customers whose soonest lot is due.
    /// Returns how many were swept.
    pub fn sweep(&self, now_secs: i64) -> Result<usize, CrmError> {
        let ids = self.store.expiring(now_secs, JOB_BATCH_MAX)?;
        let requests: Vec<Request> = ids
            .into_iter()
            .map(|customer| Request {
                customer,
                key: format!("sweep:{now_secs}"),
                command: Command::Sweep {},
            })
            .collect();
        let done = self.execute_batch(now_secs, &requests);
        Ok(done.iter().filter(|r| r.is_ok()).count())
    }

    /// Issues today's birthday coupons (28 February also serves 29
    /// February in common years). Keyed by year: running it twice a day,
    /// or on every instance, issues each coupon once. Returns how many
    /// were issued by this call.
    pub fn birthdays(&self, now_secs: i64) -> Result<usize, CrmError> {
        let (year, _, _) = self.city.date(now_secs);
        let born_today = self.born_today(now_secs)?;
        let birthday: Vec<String> = self
            .templates()
            .into_iter()
            .filter(|t| t.kind == CouponKind::Birthday)
            .map(|t| t.id)
            .collect();
        let requests: Vec<Request> = born_today
            .iter()
            .flat_map(|c| {
                birthday.iter().map(move |t| Request {
                    customer: c.clone(),
                    key: format!("birthday:{t}:{year}"),
                    command: Command::IssueCoupon {
                        template: t.clone(),
                        campaign: None,
                    },
                })
            })
            .collect();
        let mut issued = 0;
        for chunk in requests.chunks(1024) {
            let ran = self.ran_batch(now_secs, chunk);
            issued += ran.iter().filter(|(r, wrote)| r.is_ok() && *wrote).count();
        }
        Ok(issued)
    }

    /// Customers whose birthday is the day of `now_secs` (28 February
    /// also serves 29 February in common years), at most
    /// [`JOB_BATCH_MAX`] per day label, checked against their own record.
    pub(super) fn born_today(&self, now_secs: i64) -> Result<Vec<String>, CrmError> {
        let (year, month, day) = self.city.date(now_secs);
        let label = |m: u8, d: u8| self.cipher.blind("birthday", &format!("{m:02}{d:02}"));
        let mut ids = self.store.born_on(&label(month, day), JOB_BATCH_MAX)?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if (month, day) == (2, 28) && !leap {
            ids.extend(self.store.born_on(&label(2, 29), JOB_BATCH_MAX)?);
        }
        // The index is a hint: only customers whose own record says today
        // (a changed or erased birthday leaves an old label behind).
        let today = |b: &super::profile::Birthday| {
            (b.month, b.day) == (month, day)
                || (!leap && (month, day) == (2, 28) && (b.month, b.day) == (2, 29))
        };
        let asks: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "")).collect();
        let mut born_today = Vec::with_capacity(ids.len());
        for (id, loaded) in ids.iter().zip(self.store.load(&asks)?) {
            if let Some(c) = self.open_state(id, &loaded)?
                && c.profile.contact.birthday.as_ref().is_some_and(today)
            {
                born_today.push(id.clone());
            }
        }
        Ok(born_today)
    }
}

fn group_of(customer: &str, groups: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    customer.hash(&mut h);
    (h.finish() % groups as u64) as usize
}

fn decode(stored: &str, command: &Command, key: &str) -> Result<Outcome, CrmError> {
    let s: Stored = serde_json::from_str(stored).map_err(|e| {
        CrmError::Store(StoreError::Corrupt {
            what: format!("outcome of key {key}"),
            reason: e.to_string(),
        })
    })?;
    if s.fingerprint != command.fingerprint() {
        return Err(CrmError::KeyReused(key.to_string()));
    }
    Ok(s.outcome)
}

/// Ids and keys become parts of store keys: bounded, no hash-tag braces,
/// nothing invisible.
pub(super) fn check_id(field: &str, id: &str) -> Result<(), CrmError> {
    if !super::valid_id(id) {
        return Err(CrmError::BadField {
            field: field.into(),
            reason: super::ID_RULE.into(),
        });
    }
    Ok(())
}
