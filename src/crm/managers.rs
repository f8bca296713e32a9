//! Account managers: which member of a merchant's team owns each of its
//! customers, by the ownership rules of restaurant CRMs. Pure: a team's
//! state (members, rule, counters) and a customer's ownership in, the new
//! ones and an audit entry out; the service commits them atomically.
//!
//! Rules for a customer without an owner: even split per day or per month
//! (the member with the fewest new customers this period, by an explicit
//! per-period counter), daily rotation (one member on duty per day, by the
//! day's number), least busy (fewest customers owned, by an explicit
//! counter) or last touch (whoever serves them). Whatever the rule, a
//! touch by another member moves an unlocked customer under last touch
//! only; a customer whose spend reaches the team's value threshold is
//! locked to its owner (only a member leaving moves them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::CrmError;
use crate::base::CityTime;

/// Members a team may have at most.
pub const MEMBERS_MAX: usize = 200;

/// How a customer without an owner gets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The member who last served the customer owns them.
    LastTouch,
    /// New customers spread evenly over the members, counted per day.
    EvenSplitDaily,
    /// The same, counted per calendar month (UTC).
    EvenSplitMonthly,
    /// One member on duty per day takes every new customer.
    DailyRotation,
    /// The member owning the fewest customers takes the next one.
    LeastBusy,
}

/// A merchant's team, its rule and the counters the rule needs. Stored
/// as one versioned document: every ownership change of the merchant
/// commits against its version, which makes assignment atomic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Team {
    pub merchant: String,
    /// Current members, in rotation order.
    pub members: Vec<String>,
    pub rule: Rule,
    /// A customer who has spent this much (all merchants, cents) is locked
    /// to their owner; 0 never locks.
    pub value_lock_cents: i64,
    /// The period `assigned` counts (day or month number).
    pub period: i64,
    /// New customers per member in `period`.
    pub assigned: BTreeMap<String, u64>,
    /// Customers owned per member.
    pub owned: BTreeMap<String, u64>,
}

/// Who owns one customer of one merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ownership {
    pub customer: String,
    pub manager: String,
    pub locked: bool,
    pub since_secs: i64,
    /// The member who last served the customer, and when.
    pub touched_by: Option<String>,
    pub touched_at_secs: Option<i64>,
}

/// What happened to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A customer to be given an owner by the team's rule (a no-op when
    /// they have one).
    Assign,
    /// `manager` served the customer.
    Touch {
        #[schema(value_type = super::Id)]
        manager: String,
    },
    /// An operator moves the customer to `manager`, lock or not.
    Move {
        #[schema(value_type = super::Id)]
        manager: String,
    },
}

/// One line of the ownership audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at_secs: i64,
    pub customer: String,
    pub from: Option<String>,
    pub to: String,
    /// assign, touch, lock, move or transfer.
    pub why: String,
}

/// The outcome of one event: the ownership now, and the audit line when
/// anything changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub ownership: Ownership,
    pub audit: Option<AuditEntry>,
}

impl Team {
    /// A new team with fresh counters.
    pub fn new(
        merchant: &str,
        members: Vec<String>,
        rule: Rule,
        value_lock_cents: i64,
    ) -> Result<Self, CrmError> {
        let t = Team {
            merchant: merchant.to_string(),
            members,
            rule,
            value_lock_cents,
            period: 0,
            assigned: BTreeMap::new(),
            owned: BTreeMap::new(),
        };
        t.check()?;
        Ok(t)
    }

    /// A team the rules can always work with.
    pub fn check(&self) -> Result<(), CrmError> {
        let bad = |field: &str, reason: &str| {
            Err(CrmError::BadField {
                field: field.into(),
                reason: reason.into(),
            })
        };
        if self.members.is_empty() || self.members.len() > MEMBERS_MAX {
            return bad("members", "1 to 200 managers");
        }
        if self.members.iter().any(|m| !super::valid_id(m)) {
            return bad("members", super::ID_RULE);
        }
        let mut sorted = self.members.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.members.len() {
            return bad("members", "each manager once");
        }
        if self.value_lock_cents < 0 {
            return bad("value_lock_cents", "must not be negative");
        }
        Ok(())
    }

    /// Replaces members and rule, keeping the counters of those who stay.
    /// Members dropped here keep their customers until they `leave`.
    pub fn reconfigure(
        &mut self,
        members: Vec<String>,
        rule: Rule,
        value_lock_cents: i64,
    ) -> Result<(), CrmError> {
        let mut next = self.clone();
        next.members = members;
        next.rule = rule;
        next.value_lock_cents = value_lock_cents;
        next.check()?;
        *self = next;
        Ok(())
    }

    /// The quota period of `now_secs`: the city's month or day.
    fn period_of(&self, city: &CityTime, now_secs: i64) -> i64 {
        match self.rule {
            Rule::EvenSplitMonthly => {
                let (y, m, _) = city.date(now_secs);
                y * 12 + i64::from(m) - 1
            }
            _ => city.day(now_secs),
        }
    }

    /// The member the rule picks for a new customer (`except` excluded).
    fn pick(
        &mut self,
        city: &CityTime,
        now_secs: i64,
        toucher: Option<&str>,
        except: Option<&str>,
    ) -> Option<String> {
        let period = self.period_of(city, now_secs);
        if period != self.period {
            self.period = period;
            self.assigned.clear();
        }
        let candidates: Vec<&String> = self
            .members
            .iter()
            .filter(|m| Some(m.as_str()) != except)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let fewest = |counts: &BTreeMap<String, u64>| least_owned(candidates.iter().copied(), counts);
        match self.rule {
            Rule::LastTouch => toucher
                .filter(|t| candidates.iter().any(|m| m == t))
                .map(str::to_string)
                .or_else(|| fewest(&self.owned)),
            Rule::EvenSplitDaily | Rule::EvenSplitMonthly => fewest(&self.assigned),
            Rule::DailyRotation => {
                let day = city.day(now_secs);
                Some(candidates[day.rem_euclid(candidates.len() as i64) as usize].clone())
            }
            Rule::LeastBusy => fewest(&self.owned),
        }
    }

    fn count_move(&mut self, from: Option<&str>, to: &str, is_new: bool) {
        if let Some(f) = from
            && let Some(n) = self.owned.get_mut(f)
        {
            *n = n.saturating_sub(1);
        }
        *self.owned.entry(to.to_string()).or_default() += 1;
        if is_new {
            *self.assigned.entry(to.to_string()).or_default() += 1;
        }
    }

    /// Applies `event` to a customer (`current`: their ownership, if any;
    /// `spend_cents`: what they have spent, for the value lock).
    pub fn decide(
        &mut self,
        city: &CityTime,
        now_secs: i64,
        customer: &str,
        current: Option<&Ownership>,
        event: &Event,
        spend_cents: i64,
    ) -> Result<Decision, CrmError> {
        let member = |m: &str| {
            if self.members.iter().any(|x| x == m) {
                Ok(())
            } else {
                Err(CrmError::Refused {
                    field: "manager".into(),
                    reason: format!("{m} is not in {}'s team", self.merchant),
                })
            }
        };
        let toucher = match event {
            Event::Touch { manager } | Event::Move { manager } => {
                member(manager)?;
                Some(manager.as_str())
            }
            Event::Assign => None,
        };
        let lock_due = self.value_lock_cents > 0 && spend_cents >= self.value_lock_cents;
        let (to, why) = match (current, event) {
            (None, _) => {
                let to = self
                    .pick(city, now_secs, toucher, None)
                    .ok_or_else(|| CrmError::BadField {
                        field: "members".into(),
                        reason: "the team has no member".into(),
                    })?;
                (to, "assign")
            }
            (Some(c), Event::Move { manager }) => {
                (manager.clone(), if c.manager == *manager { "" } else { "move" })
            }
            (Some(c), Event::Touch { manager })
                if self.rule == Rule::LastTouch && !c.locked && !lock_due && c.manager != *manager =>
            {
                (manager.clone(), "touch")
            }
            (Some(c), _) => (c.manager.clone(), ""),
        };
        let from = current.map(|c| c.manager.clone());
        let changed_owner = from.as_deref() != Some(to.as_str());
        if changed_owner {
            self.count_move(from.as_deref(), &to, current.is_none());
        }
        let was_locked = current.is_some_and(|c| c.locked);
        let locked = was_locked || lock_due;
        let why = if !changed_owner && locked && !was_locked {
            "lock"
        } else {
            why
        };
        let (touched_by, touched_at_secs) = match toucher {
            Some(t) if matches!(event, Event::Touch { .. }) => (Some(t.to_string()), Some(now_secs)),
            _ => (
                current.and_then(|c| c.touched_by.clone()),
                current.and_then(|c| c.touched_at_secs),
            ),
        };
        let ownership = Ownership {
            customer: customer.to_string(),
            manager: to.clone(),
            locked,
            since_secs: if changed_owner {
                now_secs
            } else {
                current.map_or(now_secs, |c| c.since_secs)
            },
            touched_by,
            touched_at_secs,
        };
        let audit = (!why.is_empty()).then(|| AuditEntry {
            at_secs: now_secs,
            customer: customer.to_string(),
            from,
            to,
            why: why.to_string(),
        });
        Ok(Decision { ownership, audit })
    }

    /// Takes `leaving` out of the team and moves one of their customers to
    /// `to` (or to whoever of those who stay owns the fewest). Locks move
    /// with them.
    pub fn transfer(
        &mut self,
        now_secs: i64,
        leaving: &str,
        current: &Ownership,
        to: Option<&str>,
    ) -> Result<Decision, CrmError> {
        self.members.retain(|m| m != leaving);
        let to = match to {
            Some(t) if self.members.iter().any(|m| m == t) => t.to_string(),
            Some(t) => {
                return Err(CrmError::Refused {
                    field: "to".into(),
                    reason: format!("{t} is not in {}'s team", self.merchant),
                });
            }
            // Whatever the rule, a leaving book spreads by book size.
            None => least_owned(&self.members, &self.owned).ok_or_else(|| CrmError::BadField {
                field: "to".into(),
                reason: "nobody is left in the team to take the customers".into(),
            })?,
        };
        self.count_move(Some(leaving), &to, false);
        let ownership = Ownership {
            manager: to.clone(),
            since_secs: now_secs,
            ..current.clone()
        };
        Ok(Decision {
            ownership,
            audit: Some(AuditEntry {
                at_secs: now_secs,
                customer: current.customer.clone(),
                from: Some(leaving.to_string()),
                to,
                why: "transfer".into(),
            }),
        })
    }
}

/// The member with the smallest count; ties go to the earliest member,
/// so the members' order is the rotation.
fn least_owned<'a>(
    members: impl IntoIterator<Item = &'a String>,
    counts: &BTreeMap<String, u64>,
) -> Option<String> {
    members
        .into_iter()
        .min_by_key(|m| counts.get(m.as_str()).copied().unwrap_or(0))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_SECS: i64 = 86_400;

    const DAY: i64 = DAY_SECS;
    /// 2026-11-30 00:00 UTC, a Monday; the next day is in December.
    const T0: i64 = 1_795_996_800;

    fn team(rule: Rule) -> Team {
        Team::new("m1", vec!["ann".into(), "bo".into(), "cy".into()], rule, 50_000).unwrap()
    }

    /// Assigns customers `ids` at `now`, keeping their ownerships.
    fn assign(t: &mut Team, now: i64, ids: std::ops::Range<u32>, book: &mut BTreeMap<String, Ownership>) {
        for i in ids {
            let c = format!("c{i}");
            let d = t
                .decide(&CityTime::utc(), now, &c, book.get(&c), &Event::Assign, 0)
                .unwrap();
            book.insert(c, d.ownership);
        }
    }

    fn owners_count(book: &BTreeMap<String, Ownership>) -> BTreeMap<String, u64> {
        let mut n = BTreeMap::new();
        for o in book.values() {
            *n.entry(o.manager.clone()).or_default() += 1;
        }
        n
    }

    #[test]
    fn even_split_counts_per_day_and_per_month() {
        let mut t = team(Rule::EvenSplitDaily);
        let mut book = BTreeMap::new();
        assign(&mut t, T0, 0..7, &mut book);
        assert_eq!(t.assigned.values().copied().collect::<Vec<_>>(), [3, 2, 2]);
        // A new day starts the count again: ann got the extra one
        // yesterday, the tie goes to the first member again.
        assign(&mut t, T0 + DAY, 7..9, &mut book);
        assert_eq!(
            (book["c7"].manager.as_str(), book["c8"].manager.as_str()),
            ("ann", "bo")
        );
        assert_eq!(t.owned, owners_count(&book), "owned counters match the book");

        let mut t = team(Rule::EvenSplitMonthly);
        let mut book = BTreeMap::new();
        assign(&mut t, T0, 0..2, &mut book); // November: ann, bo
        assign(&mut t, T0 + DAY, 2..3, &mut book); // December starts afresh: ann
        assert_eq!(book["c2"].manager, "ann");
        assign(&mut t, T0 + 2 * DAY, 3..4, &mut book); // still December: bo
        assert_eq!(book["c3"].manager, "bo");
    }

    #[test]
    fn daily_rotation_puts_one_manager_on_duty_per_day() {
        let mut t = team(Rule::DailyRotation);
        let mut book = BTreeMap::new();
        let day = T0 / DAY;
        for d in 0..6 {
            assign(
                &mut t,
                T0 + d * DAY,
                (d as u32 * 10)..(d as u32 * 10 + 3),
                &mut book,
            );
            let expected = &t.members[((day + d) % 3) as usize].clone();
            for i in 0..3 {
                assert_eq!(&book[&format!("c{}", d * 10 + i)].manager, expected, "day {d}");
            }
        }
    }

    #[test]
    fn least_busy_fills_the_emptiest_book() {
        let mut t = team(Rule::LeastBusy);
        t.owned.insert("ann".into(), 5);
        t.owned.insert("bo".into(), 1);
        let mut book = BTreeMap::new();
        assign(&mut t, T0, 0..5, &mut book);
        // cy 0 and bo 1 fill up to ann's 5 first: cy, cy, bo, cy, bo
        // (ties to the earlier member).
        let got: Vec<&str> = (0..5).map(|i| book[&format!("c{i}")].manager.as_str()).collect();
        assert_eq!(got, ["cy", "bo", "cy", "bo", "cy"]);
        assert_eq!((t.owned["ann"], t.owned["bo"], t.owned["cy"]), (5, 3, 3));
    }

    #[test]
    fn last_touch_moves_until_the_value_lock() {
        let mut t = team(Rule::LastTouch);
        let touch = |m: &str| Event::Touch { manager: m.into() };
        let d = t
            .decide(&CityTime::utc(), T0, "c1", None, &touch("bo"), 0)
            .unwrap();
        assert_eq!(
            (d.ownership.manager.as_str(), d.audit.unwrap().why.as_str()),
            ("bo", "assign")
        );
        let d = t
            .decide(
                &CityTime::utc(),
                T0 + 1,
                "c1",
                Some(&d.ownership),
                &touch("cy"),
                10_000,
            )
            .unwrap();
        assert_eq!(d.ownership.manager, "cy");
        assert_eq!(
            d.audit.as_ref().map(|a| (a.from.as_deref(), a.why.as_str())),
            Some((Some("bo"), "touch"))
        );
        // The customer reaches the value threshold: locked to cy, whoever
        // touches them next.
        let d = t
            .decide(
                &CityTime::utc(),
                T0 + 2,
                "c1",
                Some(&d.ownership),
                &touch("cy"),
                50_000,
            )
            .unwrap();
        assert!(d.ownership.locked);
        assert_eq!(d.audit.map(|a| a.why), Some("lock".into()));
        let d = t
            .decide(
                &CityTime::utc(),
                T0 + 3,
                "c1",
                Some(&d.ownership),
                &touch("ann"),
                50_000,
            )
            .unwrap();
        assert_eq!(
            (d.ownership.manager.as_str(), d.ownership.touched_by.as_deref()),
            ("cy", Some("ann"))
        );
        assert!(d.audit.is_none());
        assert_eq!((t.owned["bo"], t.owned["cy"]), (0, 1));
        // Under another rule a touch never moves a customer.
        let mut split = team(Rule::EvenSplitDaily);
        let d = split
            .decide(&CityTime::utc(), T0, "c2", None, &Event::Assign, 0)
            .unwrap();
        let d2 = split
            .decide(&CityTime::utc(), T0, "c2", Some(&d.ownership), &touch("cy"), 0)
            .unwrap();
        assert_eq!(d2.ownership.manager, d.ownership.manager);
        // A stranger is refused, naming the field.
        let e = t
            .decide(&CityTime::utc(), T0, "c3", None, &touch("zed"), 0)
            .unwrap_err();
        assert!(matches!(e, CrmError::Refused { field, .. } if field == "manager"));
    }

    #[test]
    fn a_leaving_manager_hands_every_customer_over_and_counts_follow() {
        let mut t = team(Rule::EvenSplitDaily);
        let mut book = BTreeMap::new();
        assign(&mut t, T0, 0..9, &mut book);
        let ann: Vec<Ownership> = book.values().filter(|o| o.manager == "ann").cloned().collect();
        for o in &ann {
            let d = t.transfer(T0 + 5, "ann", o, None).unwrap();
            assert_eq!(d.audit.as_ref().map(|a| a.why.as_str()), Some("transfer"));
            book.insert(o.customer.clone(), d.ownership);
        }
        assert!(!t.members.contains(&"ann".to_string()));
        assert!(book.values().all(|o| o.manager != "ann"));
        let counts = owners_count(&book);
        assert_eq!(
            (counts["bo"], counts["cy"]),
            (5, 4),
            "spread evenly over who stays"
        );
        assert_eq!(t.owned.get("ann").copied().unwrap_or(0), 0);
        let e = t.transfer(T0, "bo", &book["c1"], Some("ann")).unwrap_err();
        assert!(matches!(e, CrmError::Refused { field, .. } if field == "to"));
    }
}
