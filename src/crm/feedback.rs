//! Feedback: ratings and reviews of an order, classified by transparent
//! keyword rules into what they are about (food quality, service
//! attitude, delivery speed, packaging, other), whether they are negative,
//! and which interest tags they reveal (`likes:spicy`). Pure: the rules
//! come from `[crm.feedback]`, the text from the caller; storage and
//! alerts are the service's and the API's business.
//!
//! Why keywords and not a model: a merchant can read, test and correct
//! the rules, and the same review always lands in the same category.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::CrmError;

/// Longest review text kept, in bytes (longer is refused, not cut).
pub const TEXT_MAX: usize = 2000;

/// Where a review came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The customer rated the order in the app.
    OrderRating,
    /// Written up by support from a chat.
    SupportChat,
    Sms,
    /// Raised by the engine itself: the delivery was late.
    Dispatch,
}

/// What a review is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    FoodQuality,
    ServiceAttitude,
    DeliverySpeed,
    Packaging,
    Other,
}

/// Every category, in report order.
pub const CATEGORIES: [Category; 5] = [
    Category::FoodQuality,
    Category::ServiceAttitude,
    Category::DeliverySpeed,
    Category::Packaging,
    Category::Other,
];

/// The classifier's rules (`[crm.feedback]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRules {
    /// A rating at or below this (1-5 stars) is negative whatever the text.
    pub negative_rating_max: u8,
    /// Lowercase keywords (English words or Chinese phrases) per category.
    pub food_quality: Vec<String>,
    pub service_attitude: Vec<String>,
    pub delivery_speed: Vec<String>,
    pub packaging: Vec<String>,
    /// Words that make an unrated review negative.
    pub negative: Vec<String>,
    /// Phrases that reveal an interest: keyword → tag (`"spicy" = "likes:spicy"`).
    /// Only positive reviews add tags (a complaint about spice is no liking).
    pub interest_tags: BTreeMap<String, String>,
    /// Coupon template given as service recovery after a negative review
    /// or a late delivery ("" for none).
    pub apology_template: String,
    /// A delivery this late or later (engine-reported) gets the apology.
    pub late_apology_secs: i64,
    /// The click-to-door promise the engine measures lateness against.
    pub promise_secs: i64,
}

/// What a review was classified as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Classification {
    /// At least one; `other` when no rule matched.
    pub categories: Vec<Category>,
    pub negative: bool,
    /// Interest tags the text reveals (positive reviews only).
    pub tags: Vec<String>,
}

/// A review as submitted. (No `deny_unknown_fields`: it is flattened into
/// the command and the stored review, which serde does not allow with it.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submitted {
    #[schema(value_type = super::Id)]
    pub merchant: String,
    #[serde(default)]
    #[schema(value_type = Option<super::Id>)]
    pub rider: Option<String>,
    pub channel: Channel,
    /// 1-5 stars, when the channel has them.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<u8>,
    /// At most 2,000 characters. A review needs a rating, a text or a
    /// lateness.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub text: String,
    /// How late the delivery was, when the engine knows (seconds after
    /// the promised time).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub late_secs: Option<i64>,
}

/// A stored review: what was submitted, how it was classified, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// Unique: customer and idempotency key.
    pub id: String,
    pub customer: String,
    pub order: String,
    pub at_secs: i64,
    #[serde(flatten)]
    pub submitted: Submitted,
    #[serde(flatten)]
    pub class: Classification,
    /// The apology coupon it earned, if any.
    pub coupon: Option<String>,
}

impl Submitted {
    /// Input checks that need no state.
    pub fn check(&self) -> Result<(), CrmError> {
        let bad = |field: &str, reason: &str| {
            Err(CrmError::BadField {
                field: field.into(),
                reason: reason.into(),
            })
        };
        if !super::valid_id(&self.merchant) {
            return bad("merchant", super::ID_RULE);
        }
        if self.rider.as_deref().is_some_and(|r| !super::valid_id(r)) {
            return bad("rider", super::ID_RULE);
        }
        if self.rating.is_some_and(|r| !(1..=5).contains(&r)) {
            return bad("rating", "1 to 5");
        }
        if self.text.chars().count() > TEXT_MAX {
            return bad("text", "at most 2000 characters");
        }
        if self.late_secs.is_some_and(|s| s < 0) {
            return bad("late_secs", "must not be negative");
        }
        if self.rating.is_none() && self.text.trim().is_empty() && self.late_secs.is_none() {
            return Err(CrmError::Refused {
                field: "rating".into(),
                reason: "a review needs a rating, a text or a lateness".into(),
            });
        }
        Ok(())
    }
}

impl FeedbackRules {
    /// Errors the classifier would otherwise trip over.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=5).contains(&self.negative_rating_max) {
            return Err("crm.feedback.negative_rating_max: 1 to 5".into());
        }
        let lists = [
            &self.food_quality,
            &self.service_attitude,
            &self.delivery_speed,
            &self.packaging,
            &self.negative,
        ];
        let keys = self.interest_tags.keys();
        if lists
            .iter()
            .flat_map(|l| l.iter())
            .chain(keys)
            .any(|k| k.trim().is_empty() || k.to_lowercase() != *k)
        {
            return Err("crm.feedback: keywords must be non-empty and lowercase".into());
        }
        if self.late_apology_secs <= 0 || self.promise_secs <= 0 {
            return Err("crm.feedback: late_apology_secs and promise_secs must be positive".into());
        }
        Ok(())
    }

    fn keywords(&self, c: Category) -> &[String] {
        match c {
            Category::FoodQuality => &self.food_quality,
            Category::ServiceAttitude => &self.service_attitude,
            Category::DeliverySpeed => &self.delivery_speed,
            Category::Packaging => &self.packaging,
            Category::Other => &[],
        }
    }

    /// Classifies a review. A lateness report always counts as delivery
    /// speed, and as negative once it reaches `late_apology_secs`.
    pub fn classify(&self, s: &Submitted) -> Classification {
        let text = s.text.to_lowercase();
        let has = |k: &String| contains_keyword(&text, k);
        let mut categories: Vec<Category> = CATEGORIES
            .into_iter()
            .filter(|&c| self.keywords(c).iter().any(has))
            .collect();
        let late = s.late_secs.is_some_and(|l| l > 0);
        if late && !categories.contains(&Category::DeliverySpeed) {
            categories.push(Category::DeliverySpeed);
            categories.sort();
        }
        if categories.is_empty() {
            categories.push(Category::Other);
        }
        let negative = match s.rating {
            Some(r) => r <= self.negative_rating_max,
            None => self.negative.iter().any(has),
        } || s.late_secs.is_some_and(|l| l >= self.late_apology_secs);
        let tags = if negative {
            Vec::new()
        } else {
            let mut t: Vec<String> = self
                .interest_tags
                .iter()
                .filter(|(k, _)| has(k))
                .map(|(_, tag)| tag.clone())
                .collect();
            t.sort();
            t.dedup();
            t
        };
        Classification {
            categories,
            negative,
            tags,
        }
    }
}

/// Whether `keyword` occurs in `text` (both lowercase). An ASCII keyword
/// must start at a word boundary ("late" is not in "chocolate", but is in
/// "lately"); a Chinese phrase may appear anywhere, as Chinese has no spaces.
fn contains_keyword(text: &str, keyword: &str) -> bool {
    if !keyword.is_ascii() {
        return text.contains(keyword);
    }
    text.match_indices(keyword).any(|(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

/// Counts of reviews, negatives and the rating sum, for one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub reviews: u64,
    pub negative: u64,
    pub rated: u64,
    pub rating_sum: u64,
}

impl Tally {
    fn add(&mut self, r: &Review) {
        self.reviews += 1;
        self.negative += u64::from(r.class.negative);
        if let Some(x) = r.submitted.rating {
            self.rated += 1;
            self.rating_sum += u64::from(x);
        }
    }
}

/// Feedback statistics over a set of reviews.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub total: Tally,
    /// A review counts once in each of its categories.
    pub by_category: BTreeMap<String, Tally>,
    pub by_merchant: BTreeMap<String, Tally>,
    pub by_rider: BTreeMap<String, Tally>,
    /// Per period start (unix seconds, a multiple of the period).
    pub by_period: BTreeMap<i64, Tally>,
}

/// Aggregates `reviews` by category, merchant, rider and period of
/// `period_secs`.
pub fn stats<'a>(reviews: impl IntoIterator<Item = &'a Review>, period_secs: i64) -> Stats {
    let period = period_secs.max(1);
    let mut s = Stats::default();
    for r in reviews {
        s.total.add(r);
        for c in &r.class.categories {
            s.by_category.entry(category_name(*c).into()).or_default().add(r);
        }
        s.by_merchant
            .entry(r.submitted.merchant.clone())
            .or_default()
            .add(r);
        if let Some(rider) = &r.submitted.rider {
            s.by_rider.entry(rider.clone()).or_default().add(r);
        }
        s.by_period
            .entry(r.at_secs.div_euclid(period) * period)
            .or_default()
            .add(r);
    }
    s
}

/// The category's name on the wire.
pub fn category_name(c: Category) -> &'static str {
    match c {
        Category::FoodQuality => "food_quality",
        Category::ServiceAttitude => "service_attitude",
        Category::DeliverySpeed => "delivery_speed",
        Category::Packaging => "packaging",
        Category::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn rules() -> FeedbackRules {
        Config::load_with_env(None, Vec::new())
            .expect("embedded config")
            .crm
            .feedback
    }

    fn review(rating: Option<u8>, text: &str) -> Submitted {
        Submitted {
            merchant: "r1".into(),
            rider: Some("7".into()),
            channel: Channel::OrderRating,
            rating,
            text: text.into(),
            late_secs: None,
        }
    }

    fn categories(rating: Option<u8>, text: &str) -> Vec<Category> {
        rules().classify(&review(rating, text)).categories
    }

    #[test]
    fn english_reviews_fall_into_their_categories() {
        use Category::*;
        assert_eq!(
            categories(Some(1), "The noodles were cold and the rider was rude to me."),
            vec![FoodQuality, ServiceAttitude]
        );
        assert_eq!(
            categories(
                Some(2),
                "Waited over an hour, and the soup had spilled all over the bag."
            ),
            vec![DeliverySpeed, Packaging]
        );
        assert_eq!(categories(Some(4), "Thanks!"), vec![Other]);
        // "late" must start a word: a chocolate cake is not about speed.
        assert_eq!(categories(Some(5), "Loved the chocolate cake"), vec![Other]);
    }

    #[test]
    fn chinese_reviews_fall_into_their_categories() {
        use Category::*;
        assert_eq!(
            categories(None, "送餐太慢了，等了一个小时，汤还洒了"),
            vec![DeliverySpeed, Packaging]
        );
        assert_eq!(categories(None, "骑手态度很差，还骂人"), vec![ServiceAttitude]);
        assert_eq!(categories(Some(5), "麻辣香锅很好吃，分量足"), vec![FoodQuality]);
    }

    #[test]
    fn negativity_comes_from_the_rating_or_else_the_words() {
        let r = rules();
        assert!(r.classify(&review(Some(2), "fine")).negative);
        assert!(
            !r.classify(&review(Some(3), "the rider was late")).negative,
            "a rating decides"
        );
        assert!(r.classify(&review(None, "the rider was late")).negative);
        assert!(r.classify(&review(None, "太难吃了，再也不点了")).negative);
        assert!(!r.classify(&review(None, "准时送到，很热情")).negative);
    }

    #[test]
    fn only_liked_things_become_interest_tags() {
        let r = rules();
        let liked = r.classify(&review(Some(5), "Great spicy noodles, really fast!"));
        assert_eq!(
            liked.tags,
            vec!["likes:noodles".to_string(), "likes:spicy".to_string()]
        );
        let hated = r.classify(&review(Some(1), "Way too spicy, terrible"));
        assert!(hated.tags.is_empty(), "a complaint about spice is no liking");
        assert_eq!(
            r.classify(&review(Some(5), "超级辣，很好吃")).tags,
            vec!["likes:spicy".to_string()]
        );
    }

    #[test]
    fn lateness_is_delivery_speed_and_negative_past_the_apology_threshold() {
        let r = rules();
        let mut late = review(None, "");
        late.channel = Channel::Dispatch;
        late.late_secs = Some(r.late_apology_secs - 1);
        let c = r.classify(&late);
        assert_eq!((c.categories, c.negative), (vec![Category::DeliverySpeed], false));
        late.late_secs = Some(r.late_apology_secs);
        assert!(r.classify(&late).negative);
    }

    #[test]
    fn bad_submissions_name_their_field() {
        let field = |s: Submitted| match s.check() {
            Err(CrmError::BadField { field, .. } | CrmError::Refused { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(review(Some(6), "x")), "rating");
        assert_eq!(field(review(None, "  ")), "rating");
        assert_eq!(field(review(Some(3), &"a".repeat(TEXT_MAX + 1))), "text");
        let mut s = review(Some(3), "");
        s.merchant = "has space".into();
        assert_eq!(field(s), "merchant");
    }

    #[test]
    fn stats_count_each_review_once_per_category_and_period() {
        let r = rules();
        let make = |at_secs: i64, rating: u8, text: &str, rider: &str| {
            let mut s = review(Some(rating), text);
            s.rider = Some(rider.into());
            Review {
                id: format!("c/{at_secs}"),
                customer: "c".into(),
                order: "o".into(),
                at_secs,
                class: r.classify(&s),
                submitted: s,
                coupon: None,
            }
        };
        let reviews = [
            make(10, 1, "cold food, rude rider", "1"),
            make(20, 5, "fresh and fast", "1"),
            make(86_400 + 5, 4, "ok", "2"),
        ];
        let s = stats(&reviews, 86_400);
        assert_eq!(
            (s.total.reviews, s.total.negative, s.total.rating_sum),
            (3, 1, 10)
        );
        // Review 1 is food and attitude; review 2 food and speed.
        assert_eq!(s.by_category["food_quality"].reviews, 2);
        assert_eq!(s.by_category["service_attitude"].negative, 1);
        assert_eq!(s.by_category["delivery_speed"].reviews, 1);
        assert_eq!(s.by_category["other"].reviews, 1);
        assert_eq!((s.by_rider["1"].reviews, s.by_rider["2"].reviews), (2, 1));
        assert_eq!((s.by_period[&0].reviews, s.by_period[&86_400].reviews), (2, 1));
    }
}
