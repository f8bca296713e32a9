//! Campaigns: a segment, what its customers get (a coupon, a message, or
//! both), and a holdout group that gets nothing, so the campaign's effect
//! can be told from what would have happened anyway.
//!
//! Pure: who is held out is a keyed hash of the campaign and the
//! customer, so every run and every instance draws the same groups.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::segment::Segment;
use crate::crm::CrmError;

/// The longest message a campaign may send.
pub const MESSAGE_LEN_MAX: usize = 1000;
/// The largest holdout share, in percent: more and there is no campaign.
pub const HOLDOUT_PERCENT_MAX: u8 = 50;

/// Why a campaign exists (for the merchant's reports; the rules are the
/// segment's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    BirthdayCare,
    WinBack,
    Festival,
    Other,
}

/// A campaign as the merchant defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// An id (`crm::ID_RULE`) without '/'.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\x00-\\x20\\x7f-\\xa0{}/\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+$"
    )]
    pub id: String,
    pub purpose: Purpose,
    pub segment: Segment,
    /// Coupon template issued to each treated customer.
    #[serde(default)]
    pub template: Option<String>,
    /// Text put in the merchant's outbox for each treated customer.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1000, pattern = "\\S")]
    pub message: Option<String>,
    /// Share of the segment held out (0-50 %).
    #[serde(default)]
    #[schema(maximum = 50)]
    pub holdout_percent: u8,
}

/// A campaign with what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Campaign {
    pub merchant: String,
    #[serde(flatten)]
    pub spec: CampaignSpec,
    pub created_at_secs: i64,
    /// When the segment was evaluated and its members frozen (first run).
    pub frozen_at_secs: Option<i64>,
    pub treated: u64,
    pub holdout: u64,
    /// Treated customers who hold the campaign's coupon, after the last run.
    pub issued: u64,
    pub runs: u32,
}

/// Which side of the experiment a member is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Treated,
    Holdout,
}

/// A customer in a campaign, frozen at its first run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    #[serde(rename = "g")]
    pub group: Group,
    /// Delivered orders when the campaign started.
    #[serde(rename = "n")]
    pub orders_at_start: u64,
}

/// A message for the merchant's messaging integration to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// `<campaign>/<customer>`: a consumer skips ids it has seen.
    pub id: String,
    /// Position in the merchant's outbox (set by the store).
    #[serde(default)]
    pub seq: u64,
    pub campaign: String,
    pub customer: String,
    pub text: String,
    pub coupon: Option<String>,
    pub at_secs: i64,
}

/// How the campaign did: redemptions, and orders of the treated against
/// the holdout since it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Effect {
    pub treated: u64,
    pub holdout: u64,
    pub issued: u64,
    pub redeemed: u64,
    /// Redeemed over issued (0 when none issued).
    pub redemption_rate: f64,
    /// Orders since the start, per member of each group.
    pub orders_per_treated: f64,
    pub orders_per_holdout: f64,
    /// Orders the treated placed beyond what the holdout's rate predicts
    /// for them (0 when there is no holdout to compare with).
    pub incremental_orders: f64,
}

impl CampaignSpec {
    /// A campaign that could not run as meant is refused when defined.
    pub fn check(&self) -> Result<(), CrmError> {
        let bad = |field: &str, reason: String| {
            Err(CrmError::BadField {
                field: field.into(),
                reason,
            })
        };
        crate::crm::service::check_id("id", &self.id)?;
        if self.id.contains('/') {
            return bad("id", "no '/' (message ids are <campaign>/<customer>)".into());
        }
        self.segment.check()?;
        if self.template.is_none() && self.message.is_none() {
            return Err(CrmError::Refused {
                field: "template".into(),
                reason: "a campaign gives a coupon, a message, or both".into(),
            });
        }
        if let Some(m) = &self.message
            && (m.trim().is_empty() || m.chars().count() > MESSAGE_LEN_MAX)
        {
            return bad("message", format!("1-{MESSAGE_LEN_MAX} characters"));
        }
        if self.holdout_percent > HOLDOUT_PERCENT_MAX {
            return bad("holdout_percent", format!("0-{HOLDOUT_PERCENT_MAX}"));
        }
        Ok(())
    }

    /// The group of a customer: the same on every run.
    pub fn group_of(&self, customer: &str) -> Group {
        let digest = Sha256::digest(format!("{}\u{0}{customer}", self.id).as_bytes());
        let draw = u16::from_be_bytes([digest[0], digest[1]]) % 100;
        if draw < u16::from(self.holdout_percent) {
            Group::Holdout
        } else {
            Group::Treated
        }
    }
}

impl Effect {
    /// The effect from each member's group and orders since the start
    /// (`orders_now` is None for a customer no longer on record: counted
    /// as no orders).
    pub fn measure<'a>(
        members: impl Iterator<Item = (&'a Member, Option<u64>)>,
        issued: u64,
        redeemed: u64,
    ) -> Self {
        let (mut n, mut orders) = ([0u64; 2], [0u64; 2]);
        for (m, now) in members {
            let g = usize::from(m.group == Group::Holdout);
            n[g] += 1;
            orders[g] += now.unwrap_or(m.orders_at_start).saturating_sub(m.orders_at_start);
        }
        let per = |g: usize| {
            if n[g] == 0 {
                0.0
            } else {
                orders[g] as f64 / n[g] as f64
            }
        };
        let incremental = if n[1] == 0 {
            0.0
        } else {
            orders[0] as f64 - per(1) * n[0] as f64
        };
        Effect {
            treated: n[0],
            holdout: n[1],
            issued,
            redeemed,
            redemption_rate: if issued == 0 {
                0.0
            } else {
                redeemed as f64 / issued as f64
            },
            orders_per_treated: per(0),
            orders_per_holdout: per(1),
            incremental_orders: incremental,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holdout_percent: u8) -> CampaignSpec {
        CampaignSpec {
            id: "c1".into(),
            purpose: Purpose::Festival,
            segment: Segment::default(),
            template: None,
            message: Some("hello".into()),
            holdout_percent,
        }
    }

    #[test]
    fn the_holdout_share_is_drawn_stably_near_its_percentage() {
        let s = spec(20);
        let held = (0..10_000)
            .filter(|i| s.group_of(&format!("cust{i}")) == Group::Holdout)
            .count();
        // Binomial(10000, 0.2): sd 40, so 1900..2100 is 2.5 sd.
        assert!((1900..2100).contains(&held), "{held}");
        assert!((0..100).all(|i| s.group_of(&format!("cust{i}")) == s.group_of(&format!("cust{i}"))));
        assert!((0..1000).all(|i| spec(0).group_of(&format!("cust{i}")) == Group::Treated));
    }

    #[test]
    fn effect_compares_the_treated_with_the_holdout_rate() {
        let m = |group, orders_at_start| Member {
            group,
            orders_at_start,
        };
        // Treated: 4 members, 6 orders since; holdout: 2 members, 1 order.
        let members = [
            (m(Group::Treated, 3), Some(5)),
            (m(Group::Treated, 0), Some(3)),
            (m(Group::Treated, 1), Some(2)),
            (m(Group::Treated, 2), None),
            (m(Group::Holdout, 4), Some(5)),
            (m(Group::Holdout, 0), Some(0)),
        ];
        let e = Effect::measure(members.iter().map(|(m, n)| (m, *n)), 4, 1);
        assert_eq!((e.treated, e.holdout), (4, 2));
        assert_eq!(e.orders_per_treated, 1.5);
        assert_eq!(e.orders_per_holdout, 0.5);
        // 6 orders, against 0.5 × 4 = 2 expected without the campaign.
        assert_eq!(e.incremental_orders, 4.0);
        assert_eq!(e.redemption_rate, 0.25);
    }

    #[test]
    fn a_campaign_without_anything_to_give_is_refused() {
        let mut s = spec(10);
        s.message = None;
        assert!(matches!(s.check(), Err(CrmError::Refused { field, .. }) if field == "template"));
        let mut s = spec(60);
        assert!(s.check().is_err());
        s.holdout_percent = 10;
        s.id = "a/b".into();
        assert!(s.check().is_err());
    }
}
