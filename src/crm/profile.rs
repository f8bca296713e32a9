//! Customer profiles: contact details the merchant enters, and habits
//! learned from delivered orders, updated one order at a time (never
//! recomputed from history). Every collection is bounded.
//!
//! Pure: time comes in as `now_secs`, thresholds as [`GradeRules`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::CrmError;
use super::config::GradeRules;

const DAY_SECS: i64 = 86_400;
/// Bounds on what a profile keeps.
pub const ADDRESSES_MAX: usize = 10;
const DISHES_MAX: usize = 50;
const CATEGORIES_MAX: usize = 20;
const REGIONS_MAX: usize = 20;
const TAGS_MAX: usize = 32;
const RECENT_DAYS_MAX: usize = 90;
const FIELD_LEN_MAX: usize = 200;

/// A delivery address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    pub label: String,
    pub text: String,
}

/// A month and day (the year is nobody's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Birthday {
    #[schema(minimum = 1, maximum = 12)]
    pub month: u8,
    /// A day of that month (29 February allowed).
    #[schema(minimum = 1, maximum = 31)]
    pub day: u8,
}

/// Contact details, as a merchant or the customer gives them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 200, pattern = "^[0-9+\\- ()]*$")]
    pub phone: Option<String>,
    #[schema(max_length = 200)]
    pub email: Option<String>,
    pub birthday: Option<Birthday>,
    #[serde(default)]
    pub addresses: Vec<Address>,
}

/// Most portions of one dish in one order.
pub const QUANTITY_MAX: u32 = 10_000;

/// One line of a delivered order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    pub dish: String,
    pub category: String,
    #[schema(maximum = 10_000)]
    pub quantity: u32,
    pub price_cents: i64,
}

/// Orders so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub count: u64,
    pub spend_cents: i64,
    pub first_at_secs: Option<i64>,
    pub last_at_secs: Option<i64>,
    pub min_cents: Option<i64>,
    pub max_cents: Option<i64>,
}

/// Orders by meal time: breakfast (5-10h), lunch (10-15h), dinner
/// (15-21h), late (21-5h), local to the merchant's clock (UTC here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MealTimes {
    pub breakfast: u32,
    pub lunch: u32,
    pub dinner: u32,
    pub late: u32,
}

/// Spend and orders of one day, for frequency and grades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    pub day: i64,
    pub orders: u32,
    pub spend_cents: i64,
}

/// How often the customer orders lately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    High,
    Mid,
    Low,
}

/// Value grade from recency, frequency and monetary value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Grade {
    A,
    B,
    C,
}

/// Everything the CRM knows about a customer besides points and coupons.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub contact: Contact,
    pub created_at_secs: i64,
    /// Merchants the customer ordered from or was entered by.
    pub merchants: BTreeSet<String>,
    pub orders: OrderSummary,
    pub meal_times: MealTimes,
    pub dishes: BTreeMap<String, u32>,
    pub categories: BTreeMap<String, u32>,
    pub regions: BTreeMap<String, u32>,
    pub tags: BTreeSet<String>,
    /// Interest tags learned from the customer's own reviews ("the spicy
    /// noodles were great"): kept apart, as order mix never retracts them.
    #[serde(default)]
    pub review_tags: BTreeSet<String>,
    /// The last [`RECENT_DAYS_MAX`] days with orders.
    pub recent: VecDeque<Day>,
}

/// A delivered order, as the profile learns from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivered {
    #[schema(value_type = super::Id)]
    pub merchant: String,
    #[schema(minimum = 0)]
    pub amount_cents: i64,
    #[serde(default)]
    #[schema(max_items = 100)]
    pub items: Vec<Item>,
    /// Where it went: a zone name or grid cell the merchant uses.
    #[serde(default)]
    pub region: Option<String>,
    /// Who delivered it (the engine says; for rider KPIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rider: Option<String>,
    /// Delivered this long after the promise (negative: early).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_secs: Option<i64>,
}

impl Contact {
    /// Rejects what no one should store: over-long fields, impossible
    /// dates, too many addresses.
    pub fn check(&self) -> Result<(), CrmError> {
        let long = |f: &Option<String>| f.as_ref().is_some_and(|s| s.chars().count() > FIELD_LEN_MAX);
        for (name, field) in [
            ("name", &self.name),
            ("phone", &self.phone),
            ("email", &self.email),
        ] {
            if long(field) {
                return Err(CrmError::BadField {
                    field: name.into(),
                    reason: format!("at most {FIELD_LEN_MAX} characters"),
                });
            }
        }
        if let Some(phone) = &self.phone
            && !phone.chars().all(|c| c.is_ascii_digit() || "+- ()".contains(c))
        {
            return Err(CrmError::BadField {
                field: "phone".into(),
                reason: "digits, spaces, + - ( ) only".into(),
            });
        }
        if let Some(b) = self.birthday {
            let days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            if b.month == 0 || b.month > 12 || b.day == 0 || b.day > days[usize::from(b.month - 1)] {
                return Err(CrmError::Refused {
                    field: "birthday".into(),
                    reason: format!("{}-{} is not a day of the year", b.month, b.day),
                });
            }
        }
        if self.addresses.len() > ADDRESSES_MAX {
            return Err(CrmError::BadField {
                field: "addresses".into(),
                reason: format!("at most {ADDRESSES_MAX}"),
            });
        }
        Ok(())
    }

    /// The phone number as support staff see it: the last four digits.
    pub fn masked_phone(&self) -> Option<String> {
        self.phone.as_ref().map(|p| mask(p))
    }
}

/// Keeps the first three and last four characters of a long number, the
/// last two of a short one.
pub fn mask(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let (head, tail) = if chars.len() >= 10 {
        (3, 4)
    } else {
        (0, 2.min(chars.len()))
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= chars.len() - tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

impl Profile {
    /// Merges new contact details over the old (absent fields are kept).
    pub fn update_contact(&mut self, c: Contact) {
        let old = &mut self.contact;
        if c.name.is_some() {
            old.name = c.name;
        }
        if c.phone.is_some() {
            old.phone = c.phone;
        }
        if c.email.is_some() {
            old.email = c.email;
        }
        if c.birthday.is_some() {
            old.birthday = c.birthday;
        }
        if !c.addresses.is_empty() {
            old.addresses = c.addresses;
        }
    }

    /// Learns from one delivered order.
    pub fn record(&mut self, now_secs: i64, local_hour: u8, order: &Delivered) {
        let s = &mut self.orders;
        s.count += 1;
        s.spend_cents += order.amount_cents;
        s.first_at_secs.get_or_insert(now_secs);
        s.last_at_secs = Some(now_secs);
        s.min_cents = Some(
            s.min_cents
                .map_or(order.amount_cents, |m| m.min(order.amount_cents)),
        );
        s.max_cents = Some(
            s.max_cents
                .map_or(order.amount_cents, |m| m.max(order.amount_cents)),
        );
        self.merchants.insert(order.merchant.clone());
        let m = &mut self.meal_times;
        match local_hour {
            5..=9 => m.breakfast += 1,
            10..=14 => m.lunch += 1,
            15..=20 => m.dinner += 1,
            _ => m.late += 1,
        }
        for item in &order.items {
            bump(&mut self.dishes, &item.dish, item.quantity, DISHES_MAX);
            bump(
                &mut self.categories,
                &item.category,
                item.quantity,
                CATEGORIES_MAX,
            );
        }
        if let Some(region) = &order.region {
            bump(&mut self.regions, region, 1, REGIONS_MAX);
        }
        let day = now_secs / DAY_SECS;
        match self.recent.back_mut() {
            Some(d) if d.day == day => {
                d.orders += 1;
                d.spend_cents += order.amount_cents;
            }
            _ => self.recent.push_back(Day {
                day,
                orders: 1,
                spend_cents: order.amount_cents,
            }),
        }
        while self.recent.len() > RECENT_DAYS_MAX {
            self.recent.pop_front();
        }
        self.retag();
    }

    /// Forgets what identifies or locates the customer (contact details,
    /// regions, review tags) on their request; order totals, points and
    /// coupons stay (they are the merchant's and finance's records).
    pub fn erase_personal(&mut self) {
        self.contact = Contact::default();
        self.regions.clear();
        self.review_tags.clear();
    }

    /// Adds an interest tag from a review (bounded like the others).
    pub fn add_review_tag(&mut self, tag: &str) {
        if self.review_tags.len() < TAGS_MAX {
            self.review_tags.insert(tag.to_string());
        }
    }

    /// Every interest tag: from the order mix and from reviews.
    pub fn all_tags(&self) -> BTreeSet<String> {
        self.tags.union(&self.review_tags).cloned().collect()
    }

    /// Interest tags: a category that is at least 30% of three or more
    /// items is a liking (`likes:spicy`). Reviews add tags of their own.
    fn retag(&mut self) {
        let total: u32 = self.categories.values().sum();
        for (category, n) in &self.categories {
            let tag = format!("likes:{category}");
            if *n >= 3 && u64::from(*n) * 10 >= u64::from(total) * 3 {
                if self.tags.len() < TAGS_MAX {
                    self.tags.insert(tag);
                }
            } else if self.tags.contains(&tag) && u64::from(*n) * 10 < u64::from(total) * 2 {
                self.tags.remove(&tag);
            }
        }
    }

    /// The last 90 days with orders, as (day, orders, spend in cents):
    /// what frequency and grade are computed from at any later time.
    pub fn recent_days(&self) -> impl Iterator<Item = (i64, u32, i64)> + '_ {
        self.recent.iter().map(|d| (d.day, d.orders, d.spend_cents))
    }

    /// Frequency class from orders in the last 30 days.
    pub fn frequency(&self, now_secs: i64, rules: &GradeRules) -> Frequency {
        frequency_of(self.recent_days(), now_secs, rules)
    }

    /// Value grade from recency, 90-day orders and 90-day spend.
    pub fn grade(&self, now_secs: i64, rules: &GradeRules) -> Grade {
        grade_of(self.orders.last_at_secs, self.recent_days(), now_secs, rules)
    }

    /// Average order value, in cents.
    pub fn average_cents(&self) -> Option<i64> {
        (self.orders.count > 0).then(|| self.orders.spend_cents / self.orders.count as i64)
    }
}

/// Orders and spend of the `days` before `now_secs`, from (day, orders,
/// spend) lines.
fn window(recent: impl Iterator<Item = (i64, u32, i64)>, now_secs: i64, days: i64) -> (u32, i64) {
    let since = now_secs / DAY_SECS - days;
    recent
        .filter(|d| d.0 > since)
        .fold((0, 0), |(n, c), d| (n + d.1, c + d.2))
}

/// Frequency class from orders in the 30 days before `now_secs`: shared by
/// profiles and the marketing facts, so a segment agrees with the profile.
pub fn frequency_of(
    recent: impl Iterator<Item = (i64, u32, i64)>,
    now_secs: i64,
    rules: &GradeRules,
) -> Frequency {
    let (orders, _) = window(recent, now_secs, 30);
    if orders >= rules.high_orders_30d {
        Frequency::High
    } else if orders >= rules.mid_orders_30d {
        Frequency::Mid
    } else {
        Frequency::Low
    }
}

/// Value grade from recency, 90-day orders and 90-day spend.
pub fn grade_of(
    last_order_secs: Option<i64>,
    recent: impl Iterator<Item = (i64, u32, i64)>,
    now_secs: i64,
    rules: &GradeRules,
) -> Grade {
    let Some(last) = last_order_secs else {
        return Grade::C;
    };
    let recency_days = (now_secs - last).max(0) / DAY_SECS;
    let (orders, spend) = window(recent, now_secs, 90);
    if recency_days <= rules.a_recency_days
        && orders >= rules.a_orders_90d
        && spend >= rules.a_spend_90d_cents
    {
        Grade::A
    } else if recency_days <= rules.b_recency_days && orders >= rules.b_orders_90d {
        Grade::B
    } else {
        Grade::C
    }
}

/// Counts `key` in a map that keeps at most `max` keys: a new key past the
/// bound replaces the least counted one (ties: the last in order).
fn bump(map: &mut BTreeMap<String, u32>, key: &str, by: u32, max: usize) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_add(by);
        return;
    }
    if map.len() >= max
        && let Some(least) = map.iter().min_by_key(|(_, n)| **n).map(|(k, _)| k.clone())
    {
        map.remove(&least);
    }
    map.insert(key.chars().take(FIELD_LEN_MAX).collect(), by);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const T0: i64 = 1_795_000_000 - 1_795_000_000 % DAY_SECS + 12 * 3600; // noon UTC

    fn order(cents: i64, category: &str) -> Delivered {
        Delivered {
            merchant: "m".into(),
            amount_cents: cents,
            items: vec![Item {
                dish: "d".into(),
                category: category.into(),
                quantity: 1,
                price_cents: cents,
            }],
            region: None,
            rider: None,
            late_secs: None,
        }
    }

    #[test]
    fn phones_are_masked_keeping_the_ends() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("+33 6 12 34 56 78"), "+33**********6 78");
        assert_eq!(mask("1234"), "**34");
    }

    #[test]
    fn grades_and_frequency_follow_the_thresholds() {
        let rules = Config::load_with_env(None, Vec::new()).unwrap().crm.grades;
        let mut p = Profile::default();
        assert_eq!(p.grade(T0, &rules), Grade::C);
        for day in 0..8 {
            p.record(T0 + day * DAY_SECS, 12, &order(5000, "spicy"));
        }
        let now = T0 + 8 * DAY_SECS;
        // 8 orders in 30 days, 400.00 in 90 days, last 1 day ago.
        assert_eq!(p.frequency(now, &rules), Frequency::High);
        assert_eq!(p.grade(now, &rules), Grade::A);
        assert_eq!(p.meal_times.lunch, 8);
        assert!(p.tags.contains("likes:spicy"));
        // 60 days of silence: no longer recent enough for A or B... B
        // allows 45 days, so C.
        let later = now + 60 * DAY_SECS;
        assert_eq!(p.frequency(later, &rules), Frequency::Low);
        assert_eq!(p.grade(later, &rules), Grade::C);
    }
}
