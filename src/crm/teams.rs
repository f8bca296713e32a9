//! [`Crm`]'s account-manager operations: set up a merchant's team, give
//! customers owners by the team's rule, move them when a manager leaves.
//! Each change is decided by the pure rules of [`managers`] on the team as
//! loaded, and committed against the team's version together with the
//! ownerships and the audit lines: two concurrent assignments can never
//! both read the same counter and both win, one of them runs again.
//!
//! [`managers`]: super::managers

use super::managers::{AuditEntry, Event, Ownership, Rule, Team};
use super::service::check_id;
use super::store::TeamCommit;
use super::{Crm, CrmError};

/// Attempts of one team change against concurrent writers.
pub const TEAM_ROUNDS_MAX: usize = 256;
/// Customers one transfer commit moves at most (a leaving manager's book
/// moves in several commits, each atomic).
pub const TRANSFER_BATCH_MAX: usize = 500;
/// Customers one transfer moves at most in all.
pub const TRANSFER_MAX: usize = 100_000;

impl Crm {
    /// Creates or reconfigures a merchant's team (counters are kept).
    pub fn set_team(
        &self,
        merchant: &str,
        members: Vec<String>,
        rule: Rule,
        value_lock_cents: i64,
    ) -> Result<Team, CrmError> {
        check_id("merchant", merchant)?;
        self.with_team(merchant, |team| {
            let team = match team {
                Some(mut t) => {
                    t.reconfigure(members.clone(), rule, value_lock_cents)?;
                    t
                }
                None => Team::new(merchant, members.clone(), rule, value_lock_cents)?,
            };
            Ok((team.clone(), Vec::new(), Vec::new(), team))
        })
    }

    /// A merchant's team, if it has one.
    pub fn team(&self, merchant: &str) -> Result<Option<Team>, CrmError> {
        check_id("merchant", merchant)?;
        Ok(self.store().team(merchant)?.1)
    }

    /// Who owns a customer of a merchant, if anyone.
    pub fn owner(&self, merchant: &str, customer: &str) -> Result<Option<Ownership>, CrmError> {
        check_id("merchant", merchant)?;
        check_id("customer", customer)?;
        Ok(self.store().owners(merchant, &[customer])?.pop().flatten())
    }

    /// Applies an ownership event to one customer: the ownership after it.
    pub fn own(
        &self,
        now_secs: i64,
        merchant: &str,
        customer: &str,
        event: &Event,
    ) -> Result<Ownership, CrmError> {
        check_id("merchant", merchant)?;
        check_id("customer", customer)?;
        let spend_cents = self
            .customer(customer)?
            .map_or(0, |(_, c)| c.profile.orders.spend_cents);
        self.with_team(merchant, |team| {
            let mut team = team.ok_or_else(|| no_team(merchant))?;
            let current = self.store().owners(merchant, &[customer])?.pop().flatten();
            let d = team.decide(
                &self.city,
                now_secs,
                customer,
                current.as_ref(),
                event,
                spend_cents,
            )?;
            let owners = if current.as_ref() != Some(&d.ownership) {
                vec![(d.ownership.clone(), current.map(|c| c.manager))]
            } else {
                Vec::new()
            };
            Ok((team, owners, d.audit.into_iter().collect(), d.ownership))
        })
    }

    /// Takes `manager` out of the team and moves every customer they own
    /// to `to`, or each to whoever of those who stay owns the fewest; each move is
    /// audited as a transfer. Returns how many customers moved.
    pub fn leave(
        &self,
        now_secs: i64,
        merchant: &str,
        manager: &str,
        to: Option<&str>,
    ) -> Result<usize, CrmError> {
        check_id("merchant", merchant)?;
        check_id("manager", manager)?;
        if let Some(to) = to {
            check_id("to", to)?;
        }
        let mut moved = 0;
        loop {
            let batch = self.store().owned_by(merchant, manager, TRANSFER_BATCH_MAX)?;
            let n = self.with_team(merchant, |team| {
                let mut team = team.ok_or_else(|| no_team(merchant))?;
                if team.members.iter().all(|m| m == manager) {
                    return Err(CrmError::Refused {
                        field: "manager".into(),
                        reason: "the last manager of a team cannot leave".into(),
                    });
                }
                let ids: Vec<&str> = batch.iter().map(String::as_str).collect();
                let mut owners = Vec::new();
                let mut audit = Vec::new();
                for o in self.store().owners(merchant, &ids)?.into_iter().flatten() {
                    if o.manager != manager {
                        continue; // moved since the index was read
                    }
                    let d = team.transfer(now_secs, manager, &o, to)?;
                    owners.push((d.ownership, Some(manager.to_string())));
                    audit.extend(d.audit);
                }
                // The member leaves even when they own nobody.
                team.members.retain(|m| m != manager);
                team.owned.remove(manager);
                let n = owners.len();
                Ok((team, owners, audit, n))
            })?;
            moved += n;
            if batch.len() < TRANSFER_BATCH_MAX || n == 0 || moved >= TRANSFER_MAX {
                return Ok(moved);
            }
        }
    }

    /// The merchant's ownership audit trail, oldest first.
    pub fn ownership_audit(
        &self,
        merchant: &str,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, CrmError> {
        check_id("merchant", merchant)?;
        Ok(self.store().audit(merchant, offset, limit)?)
    }

    /// Loads the team, lets `change` decide, commits against the version
    /// it loaded; on a conflict, runs `change` again on the newer team.
    fn with_team<T>(
        &self,
        merchant: &str,
        change: impl Fn(Option<Team>) -> Result<Changed<T>, CrmError>,
    ) -> Result<T, CrmError> {
        for _ in 0..TEAM_ROUNDS_MAX {
            let (version, team) = self.store().team(merchant)?;
            let (team, owners, audit, out) = change(team)?;
            let commit = TeamCommit {
                expected_version: version,
                team,
                owners,
                audit,
            };
            if self.store().commit_team(&commit)? {
                return Ok(out);
            }
            std::thread::yield_now();
        }
        Err(CrmError::Contended(format!("team of {merchant}")))
    }
}

/// A team change: the team after it, the ownerships it moved (with their
/// manager before), its audit lines and what to answer.
type Changed<T> = (Team, Vec<(Ownership, Option<String>)>, Vec<AuditEntry>, T);

fn no_team(merchant: &str) -> CrmError {
    CrmError::NotNow(format!("merchant {merchant} has no team of account managers yet"))
}
