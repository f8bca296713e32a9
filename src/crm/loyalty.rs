//! Points and tiers: an account of expiring lots, holds at checkout and
//! what each order earned and spent, changed only by the operations here,
//! each of which returns the immutable ledger entries that explain it.
//!
//! Pure: time comes in as `now_secs`, rules as [`CrmConfig`].
//!
//! **Invariant:** the available balance is the sum of the lots, never
//! negative (points are unsigned and a take never exceeds a lot), and
//! equals earned + voided + restored − held − expired − clawed back as
//! the ledger entries add up ([`Ledger::balance`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::CrmError;
use super::config::{CrmConfig, TierRules};

const DAY_SECS: i64 = 86_400;

/// A quantity of loyalty points.
pub type Points = u64;

/// Points earned together, expiring together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub id: u64,
    pub expires_at_secs: i64,
    pub remaining: Points,
}

/// Points taken from one lot (by a hold or a clawback), remembered so they
/// can be given back to the lot they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Take {
    pub lot: u64,
    pub expires_at_secs: i64,
    pub points: Points,
}

/// Points set aside at checkout for an order not yet delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub at_secs: i64,
    pub taken: Vec<Take>,
}

/// What one order did to the account, kept for the refund window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPoints {
    pub at_secs: i64,
    pub spend_cents: i64,
    pub earned: Points,
    pub lot: Option<u64>,
    pub spent: Vec<Take>,
    pub refunded: bool,
}

/// Member tier: a points multiplier and the merchant's regard.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Regular,
    Silver,
    Gold,
}

/// Spend and orders of one day, for the tier window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySpend {
    pub day: i64,
    pub spend_cents: i64,
    pub orders: u32,
}

/// One customer's points and tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Sorted by (expiry, id): the soonest-expiring lot is spent first.
    pub lots: Vec<Lot>,
    pub holds: BTreeMap<String, Hold>,
    pub orders: BTreeMap<String, OrderPoints>,
    /// Points a refund could not claw back (already spent); paid from the
    /// next earnings before they become available.
    pub debt: Points,
    pub next_lot: u64,
    pub tier: Tier,
    pub tier_since_secs: i64,
    pub days: Vec<DaySpend>,
}

/// What a ledger entry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    /// New lot: available + points.
    Earn { lot: u64, expires_at_secs: i64 },
    /// Checkout: available − points, held + points.
    Hold,
    /// Delivered: held − points, spent + points.
    Post,
    /// Cancelled: held − points, available + points.
    Void,
    /// A lot ran out of time: available − points.
    Expire { lot: u64 },
    /// A refund (or debt payment) took earned points back: available − points.
    Clawback,
    /// Refund could not take these back: owed, not available.
    Debt,
    /// Refund gave back points spent on the order: available + points.
    Restore { lot: u64, expires_at_secs: i64 },
    /// Tier changed (no points move).
    Tier { from: Tier, to: Tier },
}

/// An immutable line of the points ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at_secs: i64,
    /// The idempotency key of the write that made it.
    pub key: String,
    pub order: Option<String>,
    pub points: Points,
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// Sums over ledger entries: what the account must agree with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    pub earned: Points,
    pub spent: Points,
    pub expired: Points,
    pub held: Points,
    pub clawed_back: Points,
    pub restored: Points,
    pub debt: Points,
}

impl Ledger {
    /// Totals of `entries`, in order.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Self {
        let mut t = Ledger::default();
        for e in entries {
            let p = e.points;
            match e.kind {
                EntryKind::Earn { .. } => t.earned += p,
                EntryKind::Hold => t.held += p,
                EntryKind::Post => {
                    t.held -= p.min(t.held);
                    t.spent += p;
                }
                EntryKind::Void => t.held -= p.min(t.held),
                EntryKind::Expire { .. } => t.expired += p,
                EntryKind::Clawback => t.clawed_back += p,
                EntryKind::Debt => t.debt += p,
                EntryKind::Restore { .. } => t.restored += p,
                EntryKind::Tier { .. } => {}
            }
        }
        t
    }

    /// The available balance the entries imply (earned + restored − spent
    /// − held − expired − clawed back); `None` if they would make it
    /// negative, which no account can.
    pub fn balance(&self) -> Option<Points> {
        (self.earned + self.restored)
            .checked_sub(self.spent)?
            .checked_sub(self.held)?
            .checked_sub(self.expired)?
            .checked_sub(self.clawed_back)
    }
}

/// Context every operation needs.
pub struct Op<'a> {
    pub now_secs: i64,
    pub key: &'a str,
    pub cfg: &'a CrmConfig,
}

impl Op<'_> {
    fn entry(&self, order: Option<&str>, points: Points, kind: EntryKind) -> Entry {
        Entry {
            at_secs: self.now_secs,
            key: self.key.to_string(),
            order: order.map(str::to_string),
            points,
            kind,
        }
    }
}

impl Account {
    /// Points available to spend now.
    pub fn balance(&self) -> Points {
        self.lots.iter().map(|l| l.remaining).sum()
    }

    /// Points available at `now_secs`: the stored balance less lots that
    /// expired since the last write (expiry is applied on the next one).
    pub fn balance_at(&self, now_secs: i64) -> Points {
        self.lots
            .iter()
            .filter(|l| l.expires_at_secs > now_secs)
            .map(|l| l.remaining)
            .sum()
    }

    /// Points held by checkouts not yet delivered or cancelled.
    pub fn held(&self) -> Points {
        self.holds.values().flat_map(|h| &h.taken).map(|t| t.points).sum()
    }

    /// The points multiplier of the current tier, in percent.
    pub fn multiplier_pct(&self, rules: &TierRules) -> u64 {
        rules.multiplier_pct[self.tier as usize]
    }

    /// Expires every lot whose time has come, and forgets orders past the
    /// refund window. Run before every other operation, and by the
    /// scheduled sweep.
    pub fn expire_due(&mut self, op: &Op) -> Vec<Entry> {
        let now = op.now_secs;
        let (gone, kept): (Vec<Lot>, Vec<Lot>) = std::mem::take(&mut self.lots)
            .into_iter()
            .partition(|l| l.expires_at_secs <= now);
        self.lots = kept;
        let window = op.cfg.points.refund_window_days * DAY_SECS;
        self.orders.retain(|_, o| o.at_secs + window > now);
        gone.into_iter()
            .filter(|l| l.remaining > 0)
            .map(|l| op.entry(None, l.remaining, EntryKind::Expire { lot: l.id }))
            .collect()
    }

    /// The soonest time a lot expires: when the sweep must next look.
    pub fn next_expiry_secs(&self) -> Option<i64> {
        self.lots.first().map(|l| l.expires_at_secs)
    }

    /// Sets `points` aside for `order` at checkout, soonest-expiring lots
    /// first.
    pub fn hold(&mut self, op: &Op, order: &str, points: Points) -> Result<Vec<Entry>, CrmError> {
        if self.holds.contains_key(order) || self.orders.get(order).is_some_and(|o| !o.spent.is_empty()) {
            return Err(CrmError::AlreadyDone(format!(
                "points already held for order {order}"
            )));
        }
        let available = self.balance();
        if points > available {
            return Err(CrmError::InsufficientPoints {
                wanted: points,
                available,
            });
        }
        if points == 0 {
            return Ok(Vec::new());
        }
        let taken = self.take(points);
        self.holds.insert(
            order.to_string(),
            Hold {
                at_secs: op.now_secs,
                taken,
            },
        );
        Ok(vec![op.entry(Some(order), points, EntryKind::Hold)])
    }

    /// The order was delivered: its held points are spent.
    pub fn post(&mut self, op: &Op, order: &str) -> Vec<Entry> {
        let Some(hold) = self.holds.remove(order) else {
            return Vec::new();
        };
        let points = hold.taken.iter().map(|t| t.points).sum();
        self.orders.entry(order.to_string()).or_default().spent = hold.taken;
        vec![op.entry(Some(order), points, EntryKind::Post)]
    }

    /// The order was cancelled: its held points come back.
    pub fn void(&mut self, op: &Op, order: &str) -> Vec<Entry> {
        let Some(hold) = self.holds.remove(order) else {
            return Vec::new();
        };
        let points = hold.taken.iter().map(|t| t.points).sum();
        self.give_back(op, &hold.taken);
        vec![op.entry(Some(order), points, EntryKind::Void)]
    }

    /// The order was delivered: it earns points at the tier's multiplier,
    /// after any debt is paid, and counts towards the tier.
    pub fn earn(&mut self, op: &Op, order: &str, spend_cents: i64) -> Result<Vec<Entry>, CrmError> {
        if self
            .orders
            .get(order)
            .is_some_and(|o| o.lot.is_some() || o.refunded)
        {
            return Err(CrmError::AlreadyDone(format!(
                "order {order} already earned points"
            )));
        }
        let rules = &op.cfg.points;
        let units = spend_cents.max(0) as u64 / 100;
        let points = units * rules.per_unit * self.multiplier_pct(&op.cfg.tiers) / 100;
        let mut entries = Vec::new();
        let lot = self.next_lot;
        self.next_lot += 1;
        let expires_at_secs = op.now_secs + rules.expire_days * DAY_SECS;
        let record = self.orders.entry(order.to_string()).or_default();
        record.at_secs = op.now_secs;
        record.spend_cents = spend_cents;
        record.earned = points;
        record.lot = Some(lot);
        if points > 0 {
            entries.push(op.entry(Some(order), points, EntryKind::Earn { lot, expires_at_secs }));
            let paid = points.min(self.debt);
            self.debt -= paid;
            if paid > 0 {
                entries.push(op.entry(Some(order), paid, EntryKind::Clawback));
            }
            if points > paid {
                self.insert_lot(Lot {
                    id: lot,
                    expires_at_secs,
                    remaining: points - paid,
                });
            }
        }
        self.add_day(op.now_secs, spend_cents, 1);
        entries.extend(self.review_tier(op));
        Ok(entries)
    }

    /// The order was refunded: what it earned is taken back (from its own
    /// lot first, then the soonest-expiring; what is already spent becomes
    /// debt), what it spent is given back, and a hold is voided.
    pub fn refund(&mut self, op: &Op, order: &str) -> Result<Vec<Entry>, CrmError> {
        let mut entries = self.void(op, order);
        let Some(record) = self.orders.get(order).cloned() else {
            return if entries.is_empty() {
                Err(CrmError::UnknownOrder(order.to_string()))
            } else {
                Ok(entries)
            };
        };
        if record.refunded {
            return Err(CrmError::AlreadyDone(format!("order {order} already refunded")));
        }
        let mut owed = record.earned;
        if let Some(i) = record
            .lot
            .and_then(|id| self.lots.iter().position(|l| l.id == id))
        {
            let from_lot = owed.min(self.lots[i].remaining);
            self.lots[i].remaining -= from_lot;
            owed -= from_lot;
        }
        let others = self.take(owed.min(self.balance()));
        owed -= others.iter().map(|t| t.points).sum::<Points>();
        let clawed = record.earned - owed;
        if clawed > 0 {
            entries.push(op.entry(Some(order), clawed, EntryKind::Clawback));
        }
        if owed > 0 {
            self.debt += owed;
            entries.push(op.entry(Some(order), owed, EntryKind::Debt));
        }
        entries.extend(self.give_back_entries(op, order, &record.spent));
        if let Some(r) = self.orders.get_mut(order) {
            r.refunded = true;
            r.spent.clear();
        }
        if record.lot.is_some() {
            self.add_day(record.at_secs, -record.spend_cents, -1);
        }
        entries.extend(self.review_tier(op));
        Ok(entries)
    }

    /// Re-evaluates the tier: up at once, down only after `keep_days`.
    pub fn review_tier(&mut self, op: &Op) -> Vec<Entry> {
        let rules = &op.cfg.tiers;
        let since = op.now_secs / DAY_SECS - rules.window_days;
        self.days.retain(|d| d.day > since);
        let spend: i64 = self.days.iter().map(|d| d.spend_cents).sum();
        let orders: i64 = self.days.iter().map(|d| i64::from(d.orders)).sum();
        let reaches = |cents: i64, count: u32| spend >= cents || orders >= i64::from(count);
        let target = if reaches(rules.gold_spend_cents, rules.gold_orders) {
            Tier::Gold
        } else if reaches(rules.silver_spend_cents, rules.silver_orders) {
            Tier::Silver
        } else {
            Tier::Regular
        };
        let kept_long_enough = op.now_secs - self.tier_since_secs >= rules.keep_days * DAY_SECS;
        if target == self.tier || (target < self.tier && !kept_long_enough) {
            return Vec::new();
        }
        let from = self.tier;
        self.tier = target;
        self.tier_since_secs = op.now_secs;
        vec![op.entry(None, 0, EntryKind::Tier { from, to: target })]
    }

    /// Adds to (or, for a refund, takes from) the day's spend and orders.
    fn add_day(&mut self, at_secs: i64, spend_cents: i64, orders: i32) {
        let day = at_secs / DAY_SECS;
        let at = self.days.partition_point(|d| d.day < day);
        if self.days.get(at).is_none_or(|d| d.day != day) {
            let empty = DaySpend {
                day,
                spend_cents: 0,
                orders: 0,
            };
            self.days.insert(at, empty);
        }
        let d = &mut self.days[at];
        d.spend_cents = (d.spend_cents + spend_cents).max(0);
        d.orders = d.orders.saturating_add_signed(orders);
    }

    /// Takes `points` (at most the balance) from the soonest-expiring lots.
    fn take(&mut self, mut points: Points) -> Vec<Take> {
        let mut taken = Vec::new();
        for lot in &mut self.lots {
            if points == 0 {
                break;
            }
            let n = points.min(lot.remaining);
            if n > 0 {
                lot.remaining -= n;
                points -= n;
                taken.push(Take {
                    lot: lot.id,
                    expires_at_secs: lot.expires_at_secs,
                    points: n,
                });
            }
        }
        self.lots.retain(|l| l.remaining > 0);
        taken
    }

    /// Returns taken points to their lots; a lot whose time has passed
    /// gets the restore grace, so giving back never gives nothing.
    fn give_back(&mut self, op: &Op, taken: &[Take]) -> Vec<(u64, i64, Points)> {
        let grace_until = op.now_secs + op.cfg.points.restore_grace_days * DAY_SECS;
        let mut back = Vec::new();
        for t in taken {
            let expires = if t.expires_at_secs <= op.now_secs {
                grace_until
            } else {
                t.expires_at_secs
            };
            match self.lots.iter_mut().find(|l| l.id == t.lot) {
                Some(lot) => lot.remaining += t.points,
                None => self.insert_lot(Lot {
                    id: t.lot,
                    expires_at_secs: expires,
                    remaining: t.points,
                }),
            }
            let expires = self
                .lots
                .iter()
                .find(|l| l.id == t.lot)
                .map_or(expires, |l| l.expires_at_secs);
            back.push((t.lot, expires, t.points));
        }
        back
    }

    fn give_back_entries(&mut self, op: &Op, order: &str, taken: &[Take]) -> Vec<Entry> {
        self.give_back(op, taken)
            .into_iter()
            .map(|(lot, expires_at_secs, points)| {
                op.entry(Some(order), points, EntryKind::Restore { lot, expires_at_secs })
            })
            .collect()
    }

    fn insert_lot(&mut self, lot: Lot) {
        let at = self
            .lots
            .partition_point(|l| (l.expires_at_secs, l.id) < (lot.expires_at_secs, lot.id));
        self.lots.insert(at, lot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const T0: i64 = 1_795_000_000;

    fn cfg() -> CrmConfig {
        Config::load_with_env(None, Vec::new())
            .expect("embedded config")
            .crm
    }

    fn op<'a>(cfg: &'a CrmConfig, now_secs: i64, key: &'a str) -> Op<'a> {
        Op { now_secs, key, cfg }
    }

    #[test]
    fn twenty_orders_make_silver_at_once_and_it_drops_only_after_keep_days() {
        let cfg = cfg();
        let mut a = Account::default();
        for i in 0..19 {
            a.earn(&op(&cfg, T0 + i, "k"), &format!("o{i}"), 1000).unwrap();
        }
        assert_eq!(a.tier, Tier::Regular, "19 orders and 190.00 reach nothing");
        let entries = a.earn(&op(&cfg, T0 + 19, "k"), "o19", 1000).unwrap();
        assert_eq!(a.tier, Tier::Silver);
        assert!(entries.iter().any(|e| e.kind
            == EntryKind::Tier {
                from: Tier::Regular,
                to: Tier::Silver
            }));
        // Silver earns 125%: 10.00 gives 12 points, not 10.
        let e = a.earn(&op(&cfg, T0 + 20, "k"), "o20", 1000).unwrap();
        assert_eq!(e[0].points, 12);
        // A year and a day later the window is empty: down, since the tier
        // is older than keep_days.
        assert!(!a.review_tier(&op(&cfg, T0 + 366 * DAY_SECS, "k")).is_empty());
        assert_eq!(a.tier, Tier::Regular);
    }

    #[test]
    fn a_new_tier_is_kept_for_keep_days() {
        let mut cfg = cfg();
        cfg.tiers.window_days = 10;
        let mut a = Account::default();
        a.earn(&op(&cfg, T0, "k"), "big", 400_000).unwrap();
        assert_eq!(a.tier, Tier::Gold);
        // The 10-day window is empty after 11 days, but gold was reached
        // 11 days ago, less than keep_days (30): kept.
        a.review_tier(&op(&cfg, T0 + 11 * DAY_SECS, "k"));
        assert_eq!(a.tier, Tier::Gold);
        a.review_tier(&op(&cfg, T0 + 31 * DAY_SECS, "k"));
        assert_eq!(a.tier, Tier::Regular);
    }

    #[test]
    fn a_refund_of_spent_points_becomes_debt_paid_by_the_next_earnings() {
        let cfg = cfg();
        let mut a = Account::default();
        a.earn(&op(&cfg, T0, "k"), "o1", 5000).unwrap(); // 50
        a.hold(&op(&cfg, T0, "k"), "o2", 50).unwrap();
        a.post(&op(&cfg, T0, "k"), "o2");
        let refund = a.refund(&op(&cfg, T0 + 1, "k"), "o1").unwrap();
        assert_eq!(
            refund
                .iter()
                .find(|e| e.kind == EntryKind::Debt)
                .map(|e| e.points),
            Some(50)
        );
        assert_eq!((a.balance(), a.debt), (0, 50));
        // 80 earned next: 50 pay the debt, 30 are available.
        a.earn(&op(&cfg, T0 + 2, "k"), "o3", 8000).unwrap();
        assert_eq!((a.balance(), a.debt), (30, 0));
        assert_eq!(
            a.refund(&op(&cfg, T0 + 3, "k"), "o1"),
            Err(CrmError::AlreadyDone("order o1 already refunded".into()))
        );
    }
}
