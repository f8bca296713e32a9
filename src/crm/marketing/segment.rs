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
/// customer, so it is never older than the customer's last change. Stored
/// in a compact text form ([`Facts::encode`]) that a segment matches
/// without allocating ([`FactsView`]): a million are read per segment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub tier: Tier,
    /// Delivered orders so far.
    pub orders: u64,
    pub last_order_secs: Option<i64>,
    /// Days with orders, (day, orders, spend in cents): enough to compute
    /// frequency and grade on any later day.
    pub days: Vec<(i64, u32, i64)>,
    /// Interest tags, from the order mix and from reviews.
    pub tags: Vec<String>,
    /// Delivery zones the customer ordered to (erased with the customer).
    pub regions: Vec<String>,
    pub merchants: Vec<String>,
}

/// Facts as stored, read in place: `tier;orders;last;days;tags;regions;
/// merchants`, lists comma-separated, days as `day:orders:spend`, and
/// `%`, `,` and `;` in names percent-escaped.
#[derive(Debug, Clone, Copy)]
pub struct FactsView<'a> {
    pub tier: Tier,
    pub orders: u64,
    pub last_order_secs: Option<i64>,
    days: &'a str,
    tags: &'a str,
    regions: &'a str,
    merchants: &'a str,
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

    /// The stored form.
    pub fn encode(&self) -> String {
        let tier = match self.tier {
            Tier::Regular => 'r',
            Tier::Silver => 's',
            Tier::Gold => 'g',
        };
        let last = self.last_order_secs.map(|s| s.to_string()).unwrap_or_default();
        let days: Vec<String> = self.days.iter().map(|(d, n, c)| format!("{d}:{n}:{c}")).collect();
        let list = |v: &[String]| v.iter().map(|x| escape(x)).collect::<Vec<_>>().join(",");
        format!(
            "{tier};{};{last};{};{};{};{}",
            self.orders,
            days.join(","),
            list(&self.tags),
            list(&self.regions),
            list(&self.merchants)
        )
    }

    /// Reads the stored form back (None: not facts).
    pub fn decode(text: &str) -> Option<Self> {
        let v = FactsView::parse(text)?;
        let list = |s: &str| -> Vec<String> { items(s).map(unescape).collect() };
        Some(Facts {
            tier: v.tier,
            orders: v.orders,
            last_order_secs: v.last_order_secs,
            days: v.days().collect::<Option<Vec<_>>>()?,
            tags: list(v.tags),
            regions: list(v.regions),
            merchants: list(v.merchants),
        })
    }

    pub fn frequency(&self, now_secs: i64, rules: &GradeRules) -> Frequency {
        frequency_of(self.days.iter().copied(), now_secs, rules)
    }

    pub fn grade(&self, now_secs: i64, rules: &GradeRules) -> Grade {
        grade_of(self.last_order_secs, self.days.iter().copied(), now_secs, rules)
    }
}

impl<'a> FactsView<'a> {
    /// Splits the stored form (None: not facts).
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let tier = match parts.next()? {
            "r" => Tier::Regular,
            "s" => Tier::Silver,
            "g" => Tier::Gold,
            _ => return None,
        };
        let orders = parts.next()?.parse().ok()?;
        let last_order_secs = match parts.next()? {
            "" => None,
            s => Some(s.parse().ok()?),
        };
        let view = FactsView {
            tier,
            orders,
            last_order_secs,
            days: parts.next()?,
            tags: parts.next()?,
            regions: parts.next()?,
            merchants: parts.next()?,
        };
        parts.next().is_none().then_some(view)
    }

    /// The days with orders (an item is None if damaged).
    fn days(&self) -> impl Iterator<Item = Option<(i64, u32, i64)>> + 'a {
        items(self.days).map(|d| {
            let mut f = d.split(':');
            let day = f.next()?.parse().ok()?;
            let orders = f.next()?.parse().ok()?;
            let spend = f.next()?.parse().ok()?;
            Some((day, orders, spend))
        })
    }

    fn good_days(&self) -> impl Iterator<Item = (i64, u32, i64)> + 'a {
        self.days().flatten()
    }
}

/// The comma-separated items of a list (none for an empty one).
fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|s| !s.is_empty())
}

/// A name as stored in a list.
fn escape(name: &str) -> String {
    name.replace('%', "%25").replace(',', "%2C").replace(';', "%3B")
}

fn unescape(stored: &str) -> String {
    stored.replace("%2C", ",").replace("%3B", ";").replace("%25", "%")
}

/// Customers a campaign is for: every filter given must hold (an empty
/// list or absent bound does not filter). Always within one merchant's
/// customers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Any of these tiers.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub tiers: Vec<Tier>,
    /// Any of these frequency classes (on the evaluation day).
    #[serde(default)]
    #[schema(max_items = 64)]
    pub frequencies: Vec<Frequency>,
    /// Any of these value grades (on the evaluation day).
    #[serde(default)]
    #[schema(max_items = 64)]
    pub grades: Vec<Grade>,
    /// At least one of these interest tags (`likes:spicy`).
    #[serde(default)]
    #[schema(max_items = 64)]
    pub tags_any: Vec<String>,
    /// Ordered to at least one of these zones.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub regions_any: Vec<String>,
    /// Last order at least this many days ago (win-back). Customers who
    /// never ordered are not in it.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 3650)]
    pub last_order_days_min: Option<i64>,
    /// Last order at most this many days ago. Customers who never ordered
    /// are not in it.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 3650)]
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
            return Err(CrmError::Refused {
                field: "segment.last_order_days_min".into(),
                reason: format!("{min} is above last_order_days_max {max}"),
            });
        }
        Ok(())
    }

    /// Whether a customer of `merchant` with these facts is in the segment
    /// on `now_secs` (the birthday filter is the caller's: it needs the
    /// sealed record).
    pub fn matches(&self, merchant: &str, f: &Facts, now_secs: i64, rules: &GradeRules) -> bool {
        let encoded = f.encode();
        FactsView::parse(&encoded).is_some_and(|v| self.prepare(merchant).matches(&v, now_secs, rules))
    }

    /// The segment with its names escaped as stored, ready to match many
    /// stored facts without allocating.
    pub fn prepare(&self, merchant: &str) -> Prepared<'_> {
        let escaped = |v: &[String]| v.iter().map(|x| escape(x)).collect();
        Prepared {
            segment: self,
            merchant: escape(merchant),
            tags: escaped(&self.tags_any),
            regions: escaped(&self.regions_any),
        }
    }

    fn recency_ok(&self, last_order_secs: Option<i64>, now_secs: i64) -> bool {
        if self.last_order_days_min.is_none() && self.last_order_days_max.is_none() {
            return true;
        }
        let Some(last) = last_order_secs else {
            return false;
        };
        let days_ago = (now_secs - last).max(0) / DAY_SECS;
        self.last_order_days_min.is_none_or(|d| days_ago >= d)
            && self.last_order_days_max.is_none_or(|d| days_ago <= d)
    }
}

/// A [`Segment`] ready to match stored facts.
pub struct Prepared<'a> {
    segment: &'a Segment,
    merchant: String,
    tags: Vec<String>,
    regions: Vec<String>,
}

impl Prepared<'_> {
    /// Whether stored facts are in the segment on `now_secs`.
    pub fn matches(&self, f: &FactsView, now_secs: i64, rules: &GradeRules) -> bool {
        let s = self.segment;
        let any = |wanted: &[String], have: &str| {
            wanted.is_empty() || items(have).any(|h| wanted.iter().any(|w| w == h))
        };
        items(f.merchants).any(|m| m == self.merchant)
            && (s.tiers.is_empty() || s.tiers.contains(&f.tier))
            && any(&self.tags, f.tags)
            && any(&self.regions, f.regions)
            && s.recency_ok(f.last_order_secs, now_secs)
            && (s.frequencies.is_empty()
                || s.frequencies
                    .contains(&frequency_of(f.good_days(), now_secs, rules)))
            && (s.grades.is_empty()
                || s.grades
                    .contains(&grade_of(f.last_order_secs, f.good_days(), now_secs, rules)))
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
    fn facts_round_trip_through_their_stored_form_even_with_separators_in_names() {
        let mut f = facts(3, 5);
        f.tags = vec!["likes:a,b;c%d".into(), "likes:x".into()];
        f.regions = Vec::new();
        assert_eq!(Facts::decode(&f.encode()), Some(f.clone()));
        let s = Segment {
            tags_any: vec!["likes:a,b;c%d".into()],
            ..Segment::default()
        };
        assert!(s.matches("m1", &f, NOW, &rules()));
        assert_eq!(Facts::decode("x;1;;;;;"), None);
        assert_eq!(Facts::decode("r;1;;;;"), None, "a part missing");
    }

    #[test]
    fn impossible_segments_are_refused_naming_the_field() {
        let s = Segment {
            last_order_days_min: Some(30),
            last_order_days_max: Some(7),
            ..Segment::default()
        };
        let Err(CrmError::Refused { field, .. }) = s.check() else {
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
