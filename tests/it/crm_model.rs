//! Property test of the loyalty ledger against a reference model: random
//! sequences of deliveries, checkouts, cancels, refunds, replays and clock
//! jumps run through the real `Crm` over the embedded store; after every
//! step the account agrees with a model that tracks every single point
//! (its lot and expiry), and the ledger adds up.
//!
//! Checked: balance = earned − spent − expired − held (+ restored −
//! clawed back) from the ledger; never negative; held points match; a
//! replayed key answers the same and changes nothing; a refund takes back
//! what the order earned (debt when already spent) and gives back what it
//! spent. Concurrent spends are in tests/it/crm_store.rs.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use waimai::config::Config;
use waimai::crm::loyalty::Ledger;
use waimai::crm::profile::Delivered;
use waimai::crm::store::EmbeddedStore;
use waimai::crm::{Command, Crm, CrmConfig, CrmError, Outcome, Request};

const START: i64 = 1_795_000_000;
const DAY: i64 = 86_400;

#[derive(Debug, Clone)]
enum Step {
    Deliver { order: u8, cents: i64 },
    Checkout { order: u8, points: u64 },
    Cancel { order: u8 },
    Refund { order: u8 },
    Wait { hours: i64 },
    Jump { days: i64 },
    Replay { back: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..6, 0i64..6000).prop_map(|(order, cents)| Step::Deliver { order, cents }),
        4 => (0u8..6, 0u64..80).prop_map(|(order, points)| Step::Checkout { order, points }),
        2 => (0u8..6).prop_map(|order| Step::Cancel { order }),
        2 => (0u8..6).prop_map(|order| Step::Refund { order }),
        2 => (1i64..72).prop_map(|hours| Step::Wait { hours }),
        1 => (80i64..400).prop_map(|days| Step::Jump { days }),
        2 => (0usize..20).prop_map(|back| Step::Replay { back }),
    ]
}

/// One point: which lot it belongs to and when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Unit {
    expires: i64,
    lot: u64,
}

#[derive(Debug, Clone, Default)]
struct Record {
    at: i64,
    lot: u64,
    earned: u64,
    spent: Vec<Unit>,
    refunded: bool,
}

/// The reference: every point as a unit, the rules written plainly.
#[derive(Debug, Default)]
struct Model {
    units: Vec<Unit>,
    held: BTreeMap<String, Vec<Unit>>,
    records: BTreeMap<String, Record>,
    debt: u64,
    next_lot: u64,
}

impl Model {
    fn balance(&self) -> u64 {
        self.units.len() as u64
    }

    fn held(&self) -> u64 {
        self.held.values().map(|h| h.len() as u64).sum()
    }

    fn upkeep(&mut self, now: i64, cfg: &CrmConfig) {
        self.units.retain(|u| u.expires > now);
        let window = cfg.points.refund_window_days * DAY;
        self.records.retain(|_, r| r.at + window > now);
    }

    /// The n soonest-expiring units, from lots matching `first` first.
    fn take(&mut self, n: u64, first: Option<u64>) -> Vec<Unit> {
        self.units.sort();
        let mut order: Vec<usize> = (0..self.units.len()).collect();
        order.sort_by_key(|&i| (Some(self.units[i].lot) != first, self.units[i]));
        let picked: Vec<usize> = order.into_iter().take(n as usize).collect();
        let taken: Vec<Unit> = picked.iter().map(|&i| self.units[i]).collect();
        let mut keep = vec![true; self.units.len()];
        for i in picked {
            keep[i] = false;
        }
        let mut k = keep.iter();
        self.units.retain(|_| *k.next().unwrap_or(&true));
        taken
    }

    fn give_back(&mut self, units: Vec<Unit>, now: i64, cfg: &CrmConfig) {
        for u in units {
            let existing = self.units.iter().find(|x| x.lot == u.lot).map(|x| x.expires);
            let expires = existing.unwrap_or(if u.expires <= now {
                now + cfg.points.restore_grace_days * DAY
            } else {
                u.expires
            });
            self.units.push(Unit { expires, lot: u.lot });
        }
    }

    /// Applies a step; Err(()) when the rules refuse it (nothing changes).
    fn apply(&mut self, step: &Step, now: i64, cfg: &CrmConfig) -> Result<(), ()> {
        self.upkeep(now, cfg);
        match step {
            Step::Checkout { order, points } => {
                let o = format!("o{order}");
                let spent = self.records.get(&o).is_some_and(|r| !r.spent.is_empty());
                if self.held.contains_key(&o) || spent || *points > self.balance() {
                    return Err(());
                }
                if *points > 0 {
                    let units = self.take(*points, None);
                    self.held.insert(o, units);
                }
                Ok(())
            }
            Step::Deliver { order, cents } => {
                let o = format!("o{order}");
                if self
                    .records
                    .get(&o)
                    .is_some_and(|r| r.earned > 0 || r.refunded || r.at > 0)
                {
                    return Err(());
                }
                let spent = self.held.remove(&o).unwrap_or_default();
                let points = (*cents as u64) / 100 * cfg.points.per_unit;
                let lot = self.next_lot;
                self.next_lot += 1;
                let paid = points.min(self.debt);
                self.debt -= paid;
                let expires = now + cfg.points.expire_days * DAY;
                for _ in 0..points - paid {
                    self.units.push(Unit { expires, lot });
                }
                self.records.insert(
                    o,
                    Record {
                        at: now,
                        lot,
                        earned: points,
                        spent,
                        refunded: false,
                    },
                );
                Ok(())
            }
            Step::Cancel { order } => {
                if let Some(units) = self.held.remove(&format!("o{order}")) {
                    self.give_back(units, now, cfg);
                }
                Ok(())
            }
            Step::Refund { order } => {
                let o = format!("o{order}");
                let voided = self.held.get(&o).cloned();
                let Some(record) = self.records.get(&o).cloned() else {
                    return match voided {
                        Some(units) => {
                            self.held.remove(&o);
                            self.give_back(units, now, cfg);
                            Ok(())
                        }
                        None => Err(()),
                    };
                };
                if record.refunded {
                    return Err(());
                }
                if let Some(units) = self.held.remove(&o) {
                    self.give_back(units, now, cfg);
                }
                let clawed = self.take(record.earned.min(self.balance()), Some(record.lot));
                self.debt += record.earned - clawed.len() as u64;
                self.give_back(record.spent.clone(), now, cfg);
                let r = self.records.get_mut(&o).expect("present above");
                r.refunded = true;
                r.spent.clear();
                Ok(())
            }
            Step::Wait { .. } | Step::Jump { .. } | Step::Replay { .. } => Ok(()),
        }
    }
}

fn command(step: &Step) -> Option<Command> {
    let o = |n: &u8| format!("o{n}");
    Some(match step {
        Step::Deliver { order, cents } => Command::Delivered {
            order: o(order),
            delivered: Delivered {
                merchant: "m".into(),
                amount_cents: *cents,
                items: Vec::new(),
                region: None,
                rider: None,
                late_secs: None,
            },
        },
        Step::Checkout { order, points } => Command::Checkout {
            order: o(order),
            merchant: "m".into(),
            amount_cents: 100_000,
            points: *points,
            coupon: None,
        },
        Step::Cancel { order } => Command::Cancelled { order: o(order) },
        Step::Refund { order } => Command::Refunded { order: o(order) },
        _ => return None,
    })
}

fn config() -> CrmConfig {
    let mut cfg = Config::load_with_env(None, Vec::new()).unwrap().crm;
    // The model has no tiers: keep everyone regular (tiers have unit tests).
    cfg.tiers.silver_spend_cents = i64::MAX / 4;
    cfg.tiers.gold_spend_cents = i64::MAX / 4;
    cfg.tiers.silver_orders = u32::MAX;
    cfg.tiers.gold_orders = u32::MAX;
    cfg.templates.clear();
    cfg.encryption_keys = waimai::crm::crypto::FieldCipher::generate_spec("model");
    cfg
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_agrees_with_a_point_by_point_model(steps in proptest::collection::vec(step(), 1..40)) {
        let cfg = config();
        let dir = std::env::temp_dir().join(format!("waimai-crm-model-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&dir);
        let crm = Crm::open(cfg.clone(), Arc::new(EmbeddedStore::open(&dir.join("crm.redb")).unwrap())).unwrap();
        let mut model = Model::default();
        let mut now = START;
        let mut history: Vec<(Request, Result<Outcome, CrmError>)> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            match step {
                Step::Wait { hours } => now += hours * 3600,
                Step::Jump { days } => now += days * DAY,
                Step::Replay { back } if !history.is_empty() => {
                    let (request, first) = &history[history.len() - 1 - back % history.len()];
                    if first.is_ok() {
                        let before = crm.customer("c").unwrap();
                        let again = crm.execute(now, request);
                        prop_assert_eq!(&again, first, "replay of {:?}", request);
                        prop_assert_eq!(crm.customer("c").unwrap(), before, "a replay changes nothing");
                    }
                }
                _ => {}
            }
            let Some(cmd) = command(step) else { continue };
            let request = Request { customer: "c".into(), key: format!("k{n}"), command: cmd };
            let got = crm.execute(now, &request);
            let want = model.apply(step, now, &cfg);
            prop_assert_eq!(got.is_ok(), want.is_ok(), "step {:?} gave {:?}", step, got);
            if let Err(e) = &got {
                prop_assert!(!matches!(e, CrmError::Store(_) | CrmError::Contended(_)), "{e}");
            }
            history.push((request, got));
            let Some((_, state)) = crm.customer("c").unwrap() else { continue };
            let a = &state.account;
            // The system expires lazily, on its next command: compare at
            // the same moment.
            prop_assert_eq!(a.balance_at(now), model.balance(), "balance after {:?}", step);
            prop_assert_eq!(a.held(), model.held(), "held after {:?}", step);
            prop_assert_eq!(a.debt, model.debt, "debt after {:?}", step);
            prop_assert!(a.lots.iter().all(|l| l.remaining > 0), "no empty or negative lot");
            let sums = Ledger::of(&crm.ledger("c", 0, 10_000).unwrap());
            prop_assert_eq!(sums.balance(), Some(a.balance()), "ledger {:?}", sums);
            prop_assert_eq!(sums.held, a.held());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
