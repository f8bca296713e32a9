//! The CRM over HTTP: customers, ledgers, coupons and the access log
//! (`customers`), reviews and merchants' alerts (`feedback`), account
//! managers (`teams`), segments, campaigns and the message outbox
//! (`campaigns`), merchant reports and the demand forecast (`analytics`).
//! Store calls run on the blocking pool (`state::blocking`).

pub(super) mod analytics;
pub(super) mod campaigns;
pub(super) mod customers;
pub(super) mod feedback;
pub(super) mod teams;
