//! One customer's whole CRM state and the commands that change it. A
//! command is applied to the state by the pure rules of [`profile`],
//! [`loyalty`] and [`coupons`]; the result is the new state, the ledger
//! entries that explain it, what to tell the caller, and index hints.
//!
//! [`profile`]: super::profile
//! [`loyalty`]: super::loyalty
//! [`coupons`]: super::coupons

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::CrmError;
use super::analytics::Sale;
use super::config::CrmConfig;
use super::coupons::{Coupon, CouponKind, CouponTemplate, Wallet, threshold_off};
use super::feedback::{Review, Submitted};
use super::loyalty::{Account, Entry, Op, Points, Tier};
use super::profile::{Contact, Delivered, Profile};

/// Profile, points and coupons of one customer: what one atomic commit
/// changes together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerState {
    pub profile: Profile,
    pub account: Account,
    pub wallet: Wallet,
}

/// A change to one customer. Every command travels with an idempotency
/// key; the same key again returns the first outcome and changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Contact details entered or corrected (by a merchant, or the app).
    Contact {
        #[serde(default)]
        merchant: Option<String>,
        contact: Contact,
    },
    /// Checkout: hold points, reserve a coupon, price the order.
    Checkout {
        #[schema(min_length = 1, max_length = 128)]
        order: String,
        #[schema(value_type = super::Id)]
        merchant: String,
        #[schema(minimum = 1)]
        amount_cents: i64,
        #[serde(default)]
        points: Points,
        #[serde(default)]
        coupon: Option<String>,
    },
    /// Delivered: post held points, redeem the coupon, earn, learn.
    Delivered {
        #[schema(min_length = 1, max_length = 128)]
        order: String,
        #[serde(flatten)]
        delivered: Delivered,
    },
    /// Cancelled before delivery: void held points, release the coupon.
    Cancelled {
        #[schema(min_length = 1, max_length = 128)]
        order: String,
    },
    /// Refunded after delivery: take back what it earned, give back what
    /// it spent.
    Refunded {
        #[schema(min_length = 1, max_length = 128)]
        order: String,
    },
    /// Issue one coupon of a template (for a campaign: its redemption is
    /// counted for it; only campaign runs set it).
    IssueCoupon {
        template: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<String>,
    },
    /// A rating or review of an order (or the engine's lateness report):
    /// classified, kept for the merchant's statistics and alerts, and
    /// answered with an apology coupon when negative.
    Feedback {
        #[schema(min_length = 1, max_length = 128)]
        order: String,
        #[serde(flatten)]
        review: Submitted,
    },
    /// Scheduled upkeep: expire lots and coupons, review the tier.
    Sweep {},
    /// The customer asked to be forgotten: contact details, regions and
    /// review tags erased (points and order totals stay).
    Erase {},
}

/// The price of an order after discounts and points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pricing {
    pub amount_cents: i64,
    pub threshold_off_cents: i64,
    pub coupon_off_cents: i64,
    pub points: Points,
    pub points_off_cents: i64,
    pub payable_cents: i64,
}

/// What a command did, as its caller (and any replay) is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    Contact {
        created: bool,
        coupons: Vec<String>,
    },
    Checkout(Pricing),
    Delivered {
        earned: Points,
        balance: Points,
        tier: Tier,
        coupon: Option<String>,
    },
    Cancelled {
        voided: Points,
        coupon: Option<String>,
    },
    Refunded {
        clawed_back: Points,
        debt: Points,
        restored: Points,
    },
    Coupon(Coupon),
    Swept {
        expired: Points,
        tier: Tier,
    },
    Feedback(Review),
    Erased,
}

/// A lookup entry kept outside the customer's own keys, so jobs can find
/// customers: written with the commit, checked against the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexHint {
    /// The customer belongs to this merchant's list.
    Merchant(String),
    /// Born on this day: the rules give `MMDD`, the service blinds it
    /// with the CRM key before any store sees it; the birthday job looks
    /// it up the same way.
    Birthday(String),
    /// The soonest lot expiry (None: nothing to expire).
    Expiry(Option<i64>),
    /// A review, listed by time for statistics and merchants' alerts.
    Review(Box<Review>),
    /// A delivered order, for the merchant's analytics and zone demand.
    Sale(Box<Sale>),
    /// A campaign's coupon (`<customer>/<coupon>`) was redeemed.
    Redeemed { campaign: String, coupon: String },
}

/// Everything a command produced, ready to commit.
#[derive(Debug, Clone)]
pub struct Applied {
    pub outcome: Outcome,
    pub entries: Vec<Entry>,
    pub index: Vec<IndexHint>,
}

/// What rules and reference data a command runs with.
pub struct Ctx<'a> {
    pub now_secs: i64,
    /// The customer the command is for.
    pub customer: &'a str,
    pub key: &'a str,
    pub cfg: &'a CrmConfig,
    /// The city's civil time (meal times are local).
    pub city: &'a crate::base::CityTime,
    pub templates: &'a BTreeMap<String, CouponTemplate>,
}

impl Command {
    /// A digest of the command, stored with its outcome: the same key
    /// with a different command is refused, not silently answered.
    pub fn fingerprint(&self) -> String {
        let json = crate::base::json_bytes(self);
        let digest = Sha256::digest(&json);
        digest[..12].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Input checks that need no state.
    pub fn check(&self) -> Result<(), CrmError> {
        let bad = |field: &str, reason: &str| {
            Err(CrmError::BadField {
                field: field.into(),
                reason: reason.into(),
            })
        };
        let order_ok = |o: &str| !o.is_empty() && o.chars().count() <= 128;
        match self {
            Command::Contact { contact, .. } => contact.check(),
            Command::Checkout {
                order,
                amount_cents,
                merchant,
                ..
            } => {
                if !order_ok(order) {
                    return bad("order", "1-128 characters");
                }
                if !super::valid_id(merchant) {
                    return bad("merchant", super::ID_RULE);
                }
                if *amount_cents <= 0 {
                    return bad("amount_cents", "must be positive");
                }
                Ok(())
            }
            Command::Delivered { order, delivered } => {
                if !order_ok(order) {
                    return bad("order", "1-128 characters");
                }
                if !super::valid_id(&delivered.merchant) {
                    return bad("merchant", super::ID_RULE);
                }
                if delivered.amount_cents < 0 {
                    return bad("amount_cents", "must not be negative");
                }
                if delivered.items.len() > 100 {
                    return bad("items", "at most 100");
                }
                if delivered
                    .items
                    .iter()
                    .any(|i| i.quantity > super::profile::QUANTITY_MAX)
                {
                    return bad("items", "quantity: at most 10000");
                }
                Ok(())
            }
            Command::Feedback { order, review } => {
                if !order_ok(order) {
                    return bad("order", "1-128 characters");
                }
                review.check()
            }
            Command::Cancelled { order } | Command::Refunded { order } if !order_ok(order) => {
                bad("order", "1-128 characters")
            }
            _ => Ok(()),
        }
    }
}

/// Applies `command` to `state` (None: a customer not seen before).
/// On error nothing is changed: the caller applies to a copy.
pub fn apply(state: &mut Option<CustomerState>, command: &Command, ctx: &Ctx) -> Result<Applied, CrmError> {
    command.check()?;
    let op = Op {
        now_secs: ctx.now_secs,
        key: ctx.key,
        cfg: ctx.cfg,
    };
    let mut index = Vec::new();
    let created = state.is_none();
    if created && matches!(command, Command::Sweep {}) {
        return Ok(Applied {
            outcome: Outcome::Swept {
                expired: 0,
                tier: Tier::Regular,
            },
            entries: Vec::new(),
            index,
        });
    }
    let s = state.get_or_insert_with(|| CustomerState {
        profile: Profile {
            created_at_secs: ctx.now_secs,
            ..Profile::default()
        },
        ..CustomerState::default()
    });
    let mut welcome = Vec::new();
    if created {
        for t in ctx.templates.values().filter(|t| t.kind == CouponKind::NewUser) {
            if let Ok(c) = s.wallet.issue(ctx.now_secs, t, None) {
                welcome.push(c.id);
            }
        }
    }
    let mut entries = s.account.expire_due(&op);
    s.wallet.tidy(ctx.now_secs);
    let outcome = match command {
        Command::Contact { merchant, contact } => {
            s.profile.update_contact(contact.clone());
            if let Some(m) = merchant {
                s.profile.merchants.insert(m.clone());
                index.push(IndexHint::Merchant(m.clone()));
            }
            if let Some(b) = contact.birthday {
                index.push(IndexHint::Birthday(format!("{:02}{:02}", b.month, b.day)));
            }
            Outcome::Contact {
                created,
                coupons: welcome,
            }
        }
        Command::Checkout {
            order,
            merchant,
            amount_cents,
            points,
            coupon,
        } => {
            let threshold = threshold_off(&ctx.cfg.thresholds, *amount_cents);
            let coupon_off = match coupon {
                Some(id) => s
                    .wallet
                    .reserve(ctx.now_secs, id, order, merchant, *amount_cents)?,
                None => 0,
            };
            let left = (amount_cents - threshold - coupon_off).max(0);
            let points_off = (*points).saturating_mul(ctx.cfg.points.cents_per_point);
            if points_off > left as u64 {
                return Err(CrmError::Refused {
                    field: "points".into(),
                    reason: format!("{points} points are worth more than the {left} cents left to pay"),
                });
            }
            entries.extend(s.account.hold(&op, order, *points)?);
            if s.profile.merchants.insert(merchant.clone()) {
                index.push(IndexHint::Merchant(merchant.clone()));
            }
            Outcome::Checkout(Pricing {
                amount_cents: *amount_cents,
                threshold_off_cents: threshold,
                coupon_off_cents: coupon_off,
                points: *points,
                points_off_cents: points_off as i64,
                payable_cents: left - points_off as i64,
            })
        }
        Command::Delivered { order, delivered } => {
            entries.extend(s.account.post(&op, order));
            let redeemed = s.wallet.redeem(ctx.now_secs, order);
            if let Some(Coupon {
                id,
                campaign: Some(campaign),
                ..
            }) = &redeemed
            {
                index.push(IndexHint::Redeemed {
                    campaign: campaign.clone(),
                    coupon: format!("{}/{id}", ctx.customer),
                });
            }
            let coupon = redeemed.map(|c| c.id);
            let earn = s.account.earn(&op, order, delivered.amount_cents)?;
            let earned = earn
                .iter()
                .filter(|e| matches!(e.kind, super::loyalty::EntryKind::Earn { .. }))
                .map(|e| e.points)
                .sum();
            entries.extend(earn);
            if s.profile.merchants.insert(delivered.merchant.clone()) {
                index.push(IndexHint::Merchant(delivered.merchant.clone()));
            }
            s.profile
                .record(ctx.now_secs, ctx.city.hour(ctx.now_secs), delivered);
            index.push(IndexHint::Sale(Box::new(Sale {
                order: order.clone(),
                merchant: delivered.merchant.clone(),
                at_secs: ctx.now_secs,
                amount_cents: delivered.amount_cents,
                items: delivered
                    .items
                    .iter()
                    .map(|i| (i.dish.clone(), i.quantity, i.price_cents))
                    .collect(),
                zone: delivered.region.clone(),
                rider: delivered.rider.clone(),
                late_secs: delivered.late_secs,
            })));
            Outcome::Delivered {
                earned,
                balance: s.account.balance(),
                tier: s.account.tier,
                coupon,
            }
        }
        Command::Cancelled { order } => {
            let void = s.account.void(&op, order);
            let voided = void.iter().map(|e| e.points).sum();
            entries.extend(void);
            Outcome::Cancelled {
                voided,
                coupon: s.wallet.release(ctx.now_secs, order),
            }
        }
        Command::Refunded { order } => {
            use super::loyalty::EntryKind as K;
            let refund = s.account.refund(&op, order)?;
            let sum = |f: fn(&K) -> bool| refund.iter().filter(|e| f(&e.kind)).map(|e| e.points).sum();
            let outcome = Outcome::Refunded {
                clawed_back: sum(|k| matches!(k, K::Clawback)),
                debt: sum(|k| matches!(k, K::Debt)),
                restored: sum(|k| matches!(k, K::Restore { .. } | K::Void)),
            };
            entries.extend(refund);
            outcome
        }
        Command::IssueCoupon { template, campaign } => {
            let t = ctx
                .templates
                .get(template)
                .ok_or_else(|| CrmError::UnknownTemplate(template.clone()))?;
            Outcome::Coupon(s.wallet.issue(ctx.now_secs, t, campaign.as_deref())?)
        }
        Command::Feedback { order, review } => {
            let r = feedback(s, order, review, ctx);
            index.push(IndexHint::Review(Box::new(r.clone())));
            Outcome::Feedback(r)
        }
        Command::Erase {} => {
            s.profile.erase_personal();
            Outcome::Erased
        }
        Command::Sweep {} => {
            let expired = entries.iter().map(|e| e.points).sum();
            entries.extend(s.account.review_tier(&op));
            Outcome::Swept {
                expired,
                tier: s.account.tier,
            }
        }
    };
    index.push(IndexHint::Expiry(s.account.next_expiry_secs()));
    Ok(Applied {
        outcome,
        entries,
        index,
    })
}

/// Classifies a review, learns its interest tags and, when it is negative,
/// gives the apology coupon (once per review: the command's key is the
/// review's identity).
fn feedback(s: &mut CustomerState, order: &str, review: &Submitted, ctx: &Ctx) -> Review {
    let rules = &ctx.cfg.feedback;
    let class = rules.classify(review);
    for tag in &class.tags {
        s.profile.add_review_tag(tag);
    }
    let coupon = if class.negative {
        ctx.templates
            .get(&rules.apology_template)
            .and_then(|t| s.wallet.issue(ctx.now_secs, t, None).ok())
            .map(|c| c.id)
    } else {
        None
    };
    Review {
        id: format!("{}/{}", ctx.customer, ctx.key),
        customer: ctx.customer.to_string(),
        order: order.to_string(),
        at_secs: ctx.now_secs,
        submitted: review.clone(),
        class,
        coupon,
    }
}
