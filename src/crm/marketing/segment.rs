//! Segments: which customers a campaign is for. A segment is a conjunction
//! of filters over [`Facts`], the few things about a customer marketing
//! needs, kept beside the customer's own record so a million of them can
//! be read and matched in one pass (the profiles are larger, and sealed).
//!
//! Pure: time comes in as `now_secs`, so frequency and grade are those of
//! the evaluation day, computed by the same rules as the profile's.

use serde::{Deserialize, Serialize};

use crate::crm::CrmError;
use crate::crm::config::GradeRules;
use crate::crm::customer::CustomerState;
use crate::crm::loyalty::Tier;
use crate::crm::profile::{Frequency, Grade, frequency_of, grade_of};

const DAY_SECS: i64 = 86_400;
/// Values one filter of a segment may list.
pub const FILTER_VALUES_MAX: usize = 64;

/// What marketing knows of a customer: written with every commit of the
/// customer, so it is never older than the customer's last change. Short
/// field names: a million of them are read per segment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    #[serde(rename = "t")]
    pub tier: Tier,
    /// Delivered orders so far.
    #[serde(rename = "n")]
    pub orders: u64,
    #[serde(rename = "l")]
    pub last_order_secs: Option<i64>,
    /// Days with orders, (day, orders, spend in cents): enough to compute
    /// frequency and grade on any later day.
    #[serde(rename = "d")]
    pub days: Vec<(i64, u32, i64)>,
    /// Interest tags, from the order mix and from reviews.
    #[serde(rename = "g")]
    pub tags: Vec<String>,
    /// Delivery zones the customer ordered to (erased with the customer).
    #[serde(rename = "r")]
    pub regions: Vec<String>,
    #[serde(rename = "m")]
    pub merchants: Vec<String>,
}

impl Facts {
    /// The facts of a customer's state.
    pub fn of(state: &CustomerState) -> Self {
        let p = &state.profile;
        let last_day = p.orders.last_at_secs.map_or(0, |s| s / DAY_SECS);
        Facts {
            tier: state.account.tier,
            orders: p.orders.count,
            last_order_secs: p.orders.last_at_secs,
            // Older days never count again: frequency looks 30 days back,
            // grade 90, both from a day no earlier than the last order.
            days: p.recent_days().filter(|d| d.0 > last_day - 90).collect(),
            tags: p.all_tags().into_iter().collect(),
            regions: p.regions.keys().cloned().collect(),
            merchants: p.merchants.iter().cloned().collect(),
        }
    }

    pub fn frequency(&self, now_secs: i64, rules: &GradeRules) -> Frequency {
        frequency_of(self.days.iter().copied(), now_secs, rules)
    }

    pub fn grade(&self, now_secs: i64, rules: &GradeRules) -> Grade {
        grade_of(self.last_order_secs, self.days.iter().copied(), now_secs, rules)
    }
}

/// Customers a campaign is for: every filter given must hold (an empty
/// list or absent bound does not filter). Always within one merchant's
/// customers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Any of these tiers.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Any of these frequency classes (on the evaluation day).
    #[serde(default)]
    pub frequencies: Vec<Frequency>,
    /// Any of these value grades (on the evaluation day).
    #[serde(default)]
    pub grades: Vec<Grade>,
    /// At least one of these interest tags (`likes:spicy`).
    #[serde(default)]
    pub tags_any: Vec<String>,
    /// Ordered to at least one of these zones.
    #[serde(default)]
    pub regions_any: Vec<String>,
    /// Last order at least this many days ago (win-back). Customers who
    /// never ordered are not in it.
    #[serde(default)]
    pub last_order_days_min: Option<i64>,
    /// Last order at most this many days ago. Customers who never ordered
    /// are not in it.
    #[serde(default)]
    pub last_order_days_max: Option<i64>,
    /// Only customers whose birthday is the evaluation day (birthday care;
    /// checked against the customer's own, sealed, record).
    #[serde(default)]
    pub birthday_today: bool,
}

impl Segment {
    /// Filters that could never be meant, refused before any customer is
    /// read.
    pub fn check(&self) -> Result<(), CrmError> {
        let bad = |field: &str, reason: String| {
            Err(CrmError::BadField {
                field: format!("segment.{field}"),
                reason,
            })
        };
        let lists = [
            ("tiers", self.tiers.len()),
            ("frequencies", self.frequencies.len()),
            ("grades", self.grades.len()),
            ("tags_any", self.tags_any.len()),
            ("regions_any", self.regions_any.len()),
        ];
        for (field, n) in lists {
            if n > FILTER_VALUES_MAX {
                return bad(field, format!("at most {FILTER_VALUES_MAX} values"));
            }
        }
        for (field, days) in [
            ("last_order_days_min", self.last_order_days_min),
            ("last_order_days_max", self.last_order_days_max),
        ] {
            if days.is_some_and(|d| !(0..=3650).contains(&d)) {
                return bad(field, "0 to 3650 days".into());
            }
        }
        if let (Some(min), Some(max)) = (self.last_order_days_min, self.last_order_days_max)
            && min > max
        {
            return bad("last_order_days_min", format!("{min} is above last_order_days_max {max}"));
        }
        Ok(())
    }

    /// Whether a customer of `merchant` with these facts is in the segment
    /// on `now_secs` (the birthday filter is the caller's: it needs the
    /// sealed record).
    pub fn matches(&self, merchant: &str, f: &Facts, now_secs: i64, rules: &GradeRules) -> bool {
        let any = |wanted: &[String], have: &[String]| wanted.is_empty() || wanted.iter().any(|w| have.contains(w));
        f.merchants.iter().any(|m| m == merchant)
            && (self.tiers.is_empty() || self.tiers.contains(&f.tier))
            && any(&self.tags_any, &f.tags)
            && any(&self.regions_any, &f.regions)
            && self.recency_ok(f.last_order_secs, now_secs)
            && (self.frequencies.is_empty() || self.frequencies.contains(&f.frequency(now_secs, rules)))
            && (self.grades.is_empty() || self.grades.contains(&f.grade(now_secs, rules)))
    }

    fn recency_ok(&self, last_order_secs: Option<i64>, now_secs: i64) -> bool {
        if self.last_order_days_min.is_none() && self.last_order_days_max.is_none() {
            return true;
        }
        let Some(last) = last_order_secs else {
            return false;
        };
        let days_ago = (now_secs - last).max(0) / DAY_SECS;
        self.last_order_days_min.is_none_or(|d| days_ago >= d) && self.last_order_days_max.is_none_or(|d| days_ago <= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn rules() -> GradeRules {
        GradeRules {
            high_orders_30d: 8,
            mid_orders_30d: 3,
            a_recency_days: 14,
            a_orders_90d: 6,
            a_spend_90d_cents: 30_000,
            b_recency_days: 30,
            b_orders_90d: 2,
        }
    }

    /// `orders` orders of 10.00, one per day, the last `ago_days` ago.
    fn facts(orders: u32, ago_days: i64) -> Facts {
        let last_day = NOW / DAY_SECS - ago_days;
        Facts {
            orders: u64::from(orders),
            last_order_secs: (orders > 0).then_some(last_day * DAY_SECS),
            days: (0..i64::from(orders)).map(|i| (last_day - i, 1, 1000)).collect(),
            merchants: vec!["m1".into()],
            tags: vec!["likes:spicy".into()],
            regions: vec!["north".into()],
            ..Facts::default()
        }
    }

    #[test]
    fn frequency_and_grade_are_those_of_the_evaluation_day() {
        let f = facts(9, 0);
        assert_eq!(f.frequency(NOW, &rules()), Frequency::High);
        // 9 orders on days 0..8 before NOW; 25 days later only the 5
        // within 30 days of that day still count (mid); 60 days later none.
        assert_eq!(f.frequency(NOW + 25 * DAY_SECS, &rules()), Frequency::Mid);
        assert_eq!(f.frequency(NOW + 60 * DAY_SECS, &rules()), Frequency::Low);
        // 9 orders of 10.00 is 90.00 < 300.00: never A; B while recent.
        assert_eq!(f.grade(NOW, &rules()), Grade::B);
        assert_eq!(f.grade(NOW + 31 * DAY_SECS, &rules()), Grade::C);
    }

    #[test]
    fn every_filter_must_hold() {
        let r = rules();
        let f = facts(4, 40);
        let all = Segment::default();
        assert!(all.matches("m1", &f, NOW, &r));
        assert!(!all.matches("m2", &f, NOW, &r), "another merchant's customer");
        let win_back = Segment {
            last_order_days_min: Some(30),
            ..Segment::default()
        };
        assert!(win_back.matches("m1", &f, NOW, &r));
        assert!(!win_back.matches("m1", &facts(4, 10), NOW, &r));
        assert!(!win_back.matches("m1", &facts(0, 0), NOW, &r), "never ordered");
        let narrow = Segment {
            tags_any: vec!["likes:sweet".into(), "likes:spicy".into()],
            regions_any: vec!["north".into()],
            grades: vec![Grade::C],
            frequencies: vec![Frequency::Low],
            tiers: vec![Tier::Regular],
            ..win_back.clone()
        };
        assert!(narrow.matches("m1", &f, NOW, &r));
        for miss in [
            Segment {
                tags_any: vec!["likes:sweet".into()],
                ..narrow.clone()
            },
            Segment {
                regions_any: vec!["south".into()],
                ..narrow.clone()
            },
            Segment {
                grades: vec![Grade::A, Grade::B],
                ..narrow.clone()
            },
            Segment {
                tiers: vec![Tier::Gold],
                ..narrow.clone()
            },
            Segment {
                last_order_days_max: Some(35),
                ..narrow.clone()
            },
        ] {
            assert!(!miss.matches("m1", &f, NOW, &r), "{miss:?}");
        }
    }

    #[test]
    fn impossible_segments_are_refused_naming_the_field() {
        let s = Segment {
            last_order_days_min: Some(30),
            last_order_days_max: Some(7),
            ..Segment::default()
        };
        let Err(CrmError::BadField { field, .. }) = s.check() else {
            panic!("accepted {s:?}");
        };
        assert_eq!(field, "segment.last_order_days_min");
        let s = Segment {
            tags_any: vec!["x".into(); FILTER_VALUES_MAX + 1],
            ..Segment::default()
        };
        assert!(s.check().is_err());
    }
}
