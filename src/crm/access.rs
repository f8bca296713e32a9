//! Who may do what with a customer's data, and the record of who read or
//! changed their personal fields. Pure rules plus one store write; the
//! HTTP layer maps its tokens to an [`Actor`] and a [`Denied`] to 403.

use super::coupons::CouponTemplate;
use super::customer::Command;
use super::feedback::Channel;
use super::store::AccessEntry;
use super::{Crm, CrmError};

/// A caller, as the CRM sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Everything but the engine's own lateness reports.
    Operator,
    /// Service recovery: coupons and reviews.
    Support,
    /// Refunds.
    Finance,
    /// One merchant, acting for itself only.
    Merchant(String),
}

impl Actor {
    /// How the access log names the caller.
    pub fn label(&self) -> String {
        match self {
            Actor::Operator => "operator".into(),
            Actor::Support => "support".into(),
            Actor::Finance => "finance".into(),
            Actor::Merchant(m) => format!("merchant:{m}"),
        }
    }
}

/// Why a command was refused, and the field at fault if one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub reason: String,
    pub field: Option<&'static str>,
}

/// What else must hold before the command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    Now,
    /// Only on a customer of the calling merchant's (cancellations and
    /// refunds of its own orders): the caller checks it holds.
    IfOwnCustomer,
}

fn deny(what: &str) -> Result<Allowed, Denied> {
    Err(Denied {
        reason: format!("this token cannot {what}"),
        field: None,
    })
}

fn same_merchant(caller: &str, named: &str) -> Result<Allowed, Denied> {
    if caller == named {
        Ok(Allowed::Now)
    } else {
        Err(Denied {
            reason: format!("merchant {caller} cannot act for merchant {named}"),
            field: Some("merchant"),
        })
    }
}

fn is_dispatch_feedback(c: &Command) -> bool {
    matches!(c, Command::Feedback { review, .. } if review.channel == Channel::Dispatch)
}

/// Whether `actor` may run `command`; a merchant's contact update is
/// stamped with the merchant (the command is changed for that).
pub fn may_run(
    actor: &Actor,
    command: &mut Command,
    templates: &[CouponTemplate],
) -> Result<Allowed, Denied> {
    if let Command::IssueCoupon {
        campaign: Some(_), ..
    } = command
    {
        return deny("issue a campaign's coupon (campaign runs do)");
    }
    match (actor, &mut *command) {
        (Actor::Operator, c) if !is_dispatch_feedback(c) => Ok(Allowed::Now),
        (Actor::Support, Command::IssueCoupon { .. }) => Ok(Allowed::Now),
        (Actor::Finance, Command::Refunded { .. }) => Ok(Allowed::Now),
        (_, c) if is_dispatch_feedback(c) => deny("report a lateness (the engine does)"),
        (Actor::Support, Command::Feedback { .. }) => Ok(Allowed::Now),
        (Actor::Merchant(m), Command::Feedback { review, .. }) => same_merchant(m, &review.merchant),
        (Actor::Merchant(m), Command::Contact { merchant, .. }) => {
            *merchant = Some(m.clone());
            Ok(Allowed::Now)
        }
        (Actor::Merchant(m), Command::Checkout { merchant, .. }) => same_merchant(m, merchant),
        (Actor::Merchant(m), Command::Delivered { delivered, .. }) => same_merchant(m, &delivered.merchant),
        (Actor::Merchant(_), Command::Cancelled { .. } | Command::Refunded { .. }) => {
            Ok(Allowed::IfOwnCustomer)
        }
        (Actor::Merchant(m), Command::IssueCoupon { template, .. }) => {
            let own = templates
                .iter()
                .any(|t| t.id == *template && t.merchant.as_deref() == Some(m.as_str()));
            if own {
                Ok(Allowed::Now)
            } else {
                deny("issue another merchant's coupons")
            }
        }
        _ => deny("run this command"),
    }
}

impl Crm {
    /// Records that `actor` did `action` (read, write, erase, export) to
    /// `what` of `customer`'s personal data. Callers write it before the
    /// data leaves: a log that cannot be written fails the request.
    pub fn record_access(
        &self,
        now_secs: i64,
        actor: &Actor,
        customer: &str,
        action: &str,
        what: &str,
    ) -> Result<(), CrmError> {
        let entry = AccessEntry {
            at_secs: now_secs,
            who: actor.label(),
            customer: customer.to_string(),
            action: action.to_string(),
            what: what.to_string(),
        };
        Ok(self.store().append_access(&[entry])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(template: &str, campaign: Option<&str>) -> Command {
        Command::IssueCoupon {
            template: template.into(),
            campaign: campaign.map(str::to_string),
        }
    }

    #[test]
    fn roles_get_what_the_policy_says_and_nothing_more() {
        let m1 = Actor::Merchant("m1".into());
        let own = CouponTemplate {
            id: "m1-5off".into(),
            kind: crate::crm::coupons::CouponKind::Manual,
            merchant: Some("m1".into()),
            min_spend_cents: 0,
            off_cents: 500,
            valid_days: 30,
            starts_at_secs: None,
            ends_at_secs: None,
            per_customer_cap: 0,
            total_cap: None,
        };
        let templates = [own];
        // Campaign coupons come from campaign runs, whoever asks.
        assert!(may_run(&Actor::Operator, &mut coupon("x", Some("c")), &templates).is_err());
        assert_eq!(
            may_run(&Actor::Support, &mut coupon("x", None), &templates),
            Ok(Allowed::Now)
        );
        assert!(may_run(&Actor::Finance, &mut coupon("x", None), &templates).is_err());
        assert_eq!(
            may_run(&m1, &mut coupon("m1-5off", None), &templates),
            Ok(Allowed::Now)
        );
        assert!(
            may_run(
                &Actor::Merchant("m2".into()),
                &mut coupon("m1-5off", None),
                &templates
            )
            .is_err()
        );
    }
}
