//! Marketing: segments of a merchant's customers, campaigns that give a
//! segment coupons or messages, a holdout group to measure them against,
//! and the outbox the merchant's messaging integration reads.
//!
//! Owns: the segment and campaign rules (pure: [`segment`], [`campaign`])
//! and [`Crm`](super::Crm)'s campaign operations ([`service`]). May call:
//! the CRM's store and its command runner (a campaign's coupon is an
//! ordinary, idempotent `issue_coupon` command).
//!
//! **Architecture Invariant:** a campaign's members are frozen at its
//! first run, and each treated member's coupon is one command keyed by
//! the campaign: re-running a campaign, after a crash or on purpose,
//! issues nothing twice and puts no message in the outbox twice.

pub mod campaign;
pub mod segment;
mod service;

pub use campaign::{Campaign, CampaignSpec, Effect, Group, Member, Message, Purpose};
pub use segment::{Facts, FactsView, Prepared, Segment};
pub use service::{CAMPAIGN_MEMBERS_MAX, RunSummary};
