//! CRM core: customer profiles, the loyalty points ledger and tiers,
//! coupons and threshold discounts, reacting to the engine's order events.
//!
//! Owns: the CRM rules (pure: [`profile`], [`loyalty`], [`coupons`],
//! [`customer`]), the storage trait with its Redis and embedded (redb)
//! backends ([`store`]), and [`Crm`], which runs a command against the
//! store atomically and idempotently. May call: nothing else of waimai;
//! `api` calls it over HTTP and `live` feeds it delivered and cancelled
//! orders.
//!
//! **Architecture Invariant:** every change to a customer is one command
//! with an idempotency key, applied to a copy of the customer's state by
//! pure rules and committed in one atomic step (a Lua script on Redis, a
//! write transaction in redb) that checks the customer's version and the
//! key: a replay returns the first result, a concurrent writer makes the
//! command run again on the newer state.

pub mod access;
pub mod analytics;
pub mod backup;
pub mod config;
pub mod coupons;
pub mod crypto;
pub mod customer;
pub mod feedback;
mod ids;
pub mod loyalty;
pub mod managers;
pub mod marketing;
pub mod profile;
mod reports;
mod service;
pub mod store;
mod teams;

pub use config::CrmConfig;
pub use customer::{Command, CustomerState, Outcome};
pub use ids::{ID_PATTERN, ID_RULE, Id, id_schema, valid_id};
pub use service::{AlertSink, Crm, REVIEWS_MAX, Request};

use thiserror::Error;

/// Why a CRM command was refused, or could not run.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CrmError {
    #[error("{field}: {reason}")]
    BadField { field: String, reason: String },
    /// Each field is well-formed but together, or against what the CRM
    /// holds, they are refused (a coupon worth more than its minimum
    /// spend, a manager who is not in the team).
    #[error("{field}: {reason}")]
    Refused { field: String, reason: String },
    #[error("not enough points: {wanted} wanted, {available} available")]
    InsufficientPoints { wanted: u64, available: u64 },
    #[error("{0}")]
    AlreadyDone(String),
    #[error("unknown customer {0}")]
    UnknownCustomer(String),
    #[error("unknown order {0}")]
    UnknownOrder(String),
    #[error("unknown coupon {0}")]
    UnknownCoupon(String),
    #[error("unknown campaign {0}")]
    UnknownCampaign(String),
    #[error("campaign {0} has run: define a new one to change it")]
    CampaignFrozen(String),
    #[error("unknown coupon template {0}")]
    UnknownTemplate(String),
    #[error("coupon cannot be used: {0}")]
    CouponUnusable(String),
    #[error("cap reached: {0}")]
    CapReached(String),
    #[error("{0}")]
    NotNow(String),
    #[error("idempotency key {0} was used for a different request")]
    KeyReused(String),
    #[error("customer {0} is too busy: gave up after repeated concurrent changes")]
    Contended(String),
    #[error("CRM store: {0}")]
    Store(#[from] store::StoreError),
}
