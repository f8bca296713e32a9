//! Coupons: templates (new-user, birthday, festival campaigns, apology,
//! manual), a customer's wallet of issued coupons, and their life:
//! available, reserved by an order at checkout, redeemed on delivery or
//! released on cancel. Plus the threshold discounts applied by amount.
//!
//! Pure. The total cap of a template spans customers, so the service
//! reserves it in the store before a customer's wallet changes; the
//! per-customer cap is checked here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::CrmError;

const DAY_SECS: i64 = 86_400;
/// Redeemed or expired coupons stay in the wallet this long, then go.
const SPENT_KEPT_SECS: i64 = 90 * DAY_SECS;
/// A wallet holds at most this many live coupons.
pub const WALLET_MAX: usize = 200;

/// Why a coupon exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    NewUser,
    Birthday,
    Festival,
    Apology,
    Manual,
}

/// Longest a coupon stays valid after issue (ten years).
const VALID_DAYS_MAX: i64 = 3650;

/// What a coupon gives and under which rules it is issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponTemplate {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub id: String,
    pub kind: CouponKind,
    /// Only this merchant's orders may use it (None: any merchant).
    #[serde(default)]
    pub merchant: Option<String>,
    #[schema(minimum = 0)]
    pub min_spend_cents: i64,
    /// Less than `min_spend_cents` when that is set.
    #[schema(minimum = 1)]
    pub off_cents: i64,
    /// Days a coupon is valid after issue (cut at `ends_at_secs`).
    #[schema(minimum = 1, maximum = 3650)]
    pub valid_days: i64,
    /// A campaign's window: issued and used only within it.
    #[serde(default)]
    pub starts_at_secs: Option<i64>,
    #[serde(default)]
    pub ends_at_secs: Option<i64>,
    /// Coupons of this template one customer may get (0: no cap).
    pub per_customer_cap: u32,
    /// Coupons of this template all customers together may get.
    #[serde(default)]
    #[schema(maximum = 9_223_372_036_854_775_807_i64)]
    pub total_cap: Option<u64>,
}

/// Where an issued coupon is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CouponState {
    Available,
    Reserved { order: String },
    Redeemed { order: String, at_secs: i64 },
    Expired,
}

/// One coupon in a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coupon {
    pub id: String,
    pub template: String,
    pub off_cents: i64,
    pub min_spend_cents: i64,
    pub merchant: Option<String>,
    pub issued_at_secs: i64,
    pub expires_at_secs: i64,
    /// The campaign that issued it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(flatten)]
    pub state: CouponState,
}

/// A customer's coupons and how many of each template they ever got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub coupons: Vec<Coupon>,
    pub issued: BTreeMap<String, u32>,
    pub next: u64,
}

impl CouponTemplate {
    /// A template that can never be redeemed, or never issued, is refused.
    pub fn check(&self) -> Result<(), CrmError> {
        let bad = |field: &str, reason: &str| {
            Err(CrmError::BadField {
                field: field.into(),
                reason: reason.into(),
            })
        };
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return bad("id", "1-64 of a-z A-Z 0-9 - _");
        }
        if self.off_cents <= 0 || self.min_spend_cents < 0 {
            return bad("off_cents", "must be positive (and min_spend_cents not negative)");
        }
        let refused = |field: &str, reason: &str| {
            Err(CrmError::Refused {
                field: field.into(),
                reason: reason.into(),
            })
        };
        if self.total_cap.is_some_and(|c| i64::try_from(c).is_err()) {
            return bad("total_cap", "at most 2^63 - 1");
        }
        if !(1..=VALID_DAYS_MAX).contains(&self.valid_days) {
            return bad("valid_days", "1 to 3650");
        }
        if self.min_spend_cents > 0 && self.off_cents >= self.min_spend_cents {
            return refused("off_cents", "must be less than min_spend_cents");
        }
        if let (Some(s), Some(e)) = (self.starts_at_secs, self.ends_at_secs)
            && e <= s
        {
            return refused("ends_at_secs", "must be after starts_at_secs");
        }
        Ok(())
    }

    fn open_at(&self, now_secs: i64) -> bool {
        self.starts_at_secs.is_none_or(|s| now_secs >= s) && self.ends_at_secs.is_none_or(|e| now_secs < e)
    }
}

impl Wallet {
    /// Issues one coupon of `template`, within its window and the
    /// customer's cap; a campaign's coupon names it, so its redemption
    /// counts for it.
    pub fn issue(
        &mut self,
        now_secs: i64,
        template: &CouponTemplate,
        campaign: Option<&str>,
    ) -> Result<Coupon, CrmError> {
        if !template.open_at(now_secs) {
            return Err(CrmError::NotNow(format!(
                "campaign {} is not running",
                template.id
            )));
        }
        let had = self.issued.get(&template.id).copied().unwrap_or(0);
        if template.per_customer_cap > 0 && had >= template.per_customer_cap {
            return Err(CrmError::CapReached(format!(
                "{} of {} per customer already issued",
                had, template.id
            )));
        }
        self.tidy(now_secs);
        if self.coupons.len() >= WALLET_MAX {
            return Err(CrmError::CapReached(format!("wallet holds {WALLET_MAX} coupons")));
        }
        let mut expires_at_secs = now_secs + template.valid_days * DAY_SECS;
        if let Some(end) = template.ends_at_secs {
            expires_at_secs = expires_at_secs.min(end);
        }
        self.next += 1;
        let coupon = Coupon {
            id: format!("{}-{}", template.id, self.next),
            template: template.id.clone(),
            off_cents: template.off_cents,
            min_spend_cents: template.min_spend_cents,
            merchant: template.merchant.clone(),
            issued_at_secs: now_secs,
            expires_at_secs,
            campaign: campaign.map(str::to_string),
            state: CouponState::Available,
        };
        self.issued.insert(template.id.clone(), had + 1);
        self.coupons.push(coupon.clone());
        Ok(coupon)
    }

    /// Reserves coupon `id` for `order` at checkout; the discount it gives.
    pub fn reserve(
        &mut self,
        now_secs: i64,
        id: &str,
        order: &str,
        merchant: &str,
        amount_cents: i64,
    ) -> Result<i64, CrmError> {
        self.tidy(now_secs);
        let c = self
            .coupons
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| CrmError::UnknownCoupon(id.to_string()))?;
        if c.state != CouponState::Available {
            return Err(CrmError::CouponUnusable(format!("{id} is not available")));
        }
        if c.merchant.as_deref().is_some_and(|m| m != merchant) {
            return Err(CrmError::CouponUnusable(format!("{id} is for another merchant")));
        }
        if amount_cents < c.min_spend_cents {
            return Err(CrmError::CouponUnusable(format!(
                "{id} needs a spend of at least {} cents",
                c.min_spend_cents
            )));
        }
        c.state = CouponState::Reserved {
            order: order.to_string(),
        };
        Ok(c.off_cents.min(amount_cents))
    }

    /// The order was delivered: its reserved coupon is used up.
    pub fn redeem(&mut self, now_secs: i64, order: &str) -> Option<Coupon> {
        let c = self.reserved_by(order)?;
        c.state = CouponState::Redeemed {
            order: order.to_string(),
            at_secs: now_secs,
        };
        Some(c.clone())
    }

    /// The order was cancelled: its reserved coupon can be used again
    /// (unless it expired meanwhile).
    pub fn release(&mut self, now_secs: i64, order: &str) -> Option<String> {
        let c = self.reserved_by(order)?;
        c.state = if c.expires_at_secs <= now_secs {
            CouponState::Expired
        } else {
            CouponState::Available
        };
        Some(c.id.clone())
    }

    fn reserved_by(&mut self, order: &str) -> Option<&mut Coupon> {
        self.coupons
            .iter_mut()
            .find(|c| matches!(&c.state, CouponState::Reserved { order: o } if o == order))
    }

    /// Expires what ran out of time (a reserved coupon waits for its
    /// order) and forgets long-spent coupons.
    pub fn tidy(&mut self, now_secs: i64) {
        for c in &mut self.coupons {
            if c.state == CouponState::Available && c.expires_at_secs <= now_secs {
                c.state = CouponState::Expired;
            }
        }
        self.coupons.retain(|c| match &c.state {
            CouponState::Redeemed { at_secs, .. } => at_secs + SPENT_KEPT_SECS > now_secs,
            CouponState::Expired => c.expires_at_secs + SPENT_KEPT_SECS > now_secs,
            _ => true,
        });
    }
}

/// "Spend 30, get 5 off".
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub min_spend_cents: i64,
    pub off_cents: i64,
}

/// The best threshold discount for an amount (none below every minimum).
pub fn threshold_off(thresholds: &[Threshold], amount_cents: i64) -> i64 {
    thresholds
        .iter()
        .filter(|t| amount_cents >= t.min_spend_cents)
        .map(|t| t.off_cents)
        .max()
        .unwrap_or(0)
}
