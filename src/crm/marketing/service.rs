//! [`Crm`]'s marketing operations: evaluate a segment, define and run a
//! campaign, measure it, and serve the merchant's outbox.
//!
//! A run freezes the members on its first call (segment evaluated once,
//! groups drawn), then issues each treated member's coupon as an
//! `issue_coupon` command keyed `campaign:<id>` and appends a message per
//! treated member to the outbox (idempotent by message id). Either step
//! may be cut short by a crash: running again completes it and repeats
//! nothing.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;

use super::campaign::{Campaign, CampaignSpec, Effect, Group, Member, Message};
use super::segment::{FactsView, Segment};
use crate::crm::customer::{Command, Outcome};
use crate::crm::service::check_id;
use crate::crm::store::{StoreError, decode_facts};
use crate::crm::{Crm, CrmError, Request};

/// Members one campaign may have.
pub const CAMPAIGN_MEMBERS_MAX: usize = 1_000_000;
/// Commands one round of a run sends together.
const RUN_CHUNK: usize = 1024;
/// Facts one effect query reads per round trip.
const FACTS_CHUNK: usize = 10_000;
/// Distinct failure reasons a run summary lists (the rest are counted
/// under "other").
const FAILURE_REASONS_MAX: usize = 16;

/// What one run of a campaign did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub campaign: String,
    pub treated: u64,
    pub holdout: u64,
    /// Coupons this run issued.
    pub issued_now: u64,
    /// Coupons an earlier run had issued already (nothing issued twice).
    pub already_issued: u64,
    /// Treated members who could not get the coupon, by reason.
    pub failed: BTreeMap<String, u64>,
    /// Messages this run put in the outbox.
    pub messages_new: u64,
}

impl Crm {
    /// The customers of `merchant` in `segment` on `now_secs`, in id
    /// order, with their delivered orders so far (a campaign's baseline).
    pub fn segment(
        &self,
        merchant: &str,
        segment: &Segment,
        now_secs: i64,
    ) -> Result<Vec<(String, u64)>, CrmError> {
        check_id("merchant", merchant)?;
        segment.check()?;
        let born: Option<HashSet<String>> = if segment.birthday_today {
            Some(self.born_today(now_secs)?.into_iter().collect())
        } else {
            None
        };
        let rules = &self.config().grades;
        let prepared = segment.prepare(merchant);
        let picked = Mutex::new(Vec::new());
        self.store().scan_facts(&|chunk: Vec<(String, String)>| {
            let hits: Vec<(String, u64)> = chunk
                .into_par_iter()
                .filter(|(id, _)| born.as_ref().is_none_or(|b| b.contains(id)))
                .filter_map(|(id, text)| match FactsView::parse(&text) {
                    Some(v) => prepared
                        .matches(&v, now_secs, rules)
                        .then_some(Ok((id, v.orders))),
                    // A damaged record is an error, never a silently skipped customer.
                    None => Some(decode_facts(&id, &text).map(|f| (id, f.orders))),
                })
                .collect::<Result<_, StoreError>>()?;
            picked.lock().unwrap_or_else(|e| e.into_inner()).extend(hits);
            Ok(())
        })?;
        let mut picked = picked.into_inner().unwrap_or_else(|e| e.into_inner());
        picked.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(picked)
    }

    /// Defines a campaign, or changes one that has not run yet.
    pub fn define_campaign(
        &self,
        merchant: &str,
        spec: CampaignSpec,
        now_secs: i64,
    ) -> Result<Campaign, CrmError> {
        check_id("merchant", merchant)?;
        spec.check()?;
        if let Some(t) = &spec.template {
            let own = self
                .templates()
                .into_iter()
                .find(|x| x.id == *t)
                .ok_or_else(|| CrmError::UnknownTemplate(t.clone()))?;
            if own.merchant.as_deref() != Some(merchant) {
                return Err(CrmError::Refused {
                    field: "template".into(),
                    reason: format!("{t} is not a coupon template of merchant {merchant}"),
                });
            }
        }
        let campaign = match self.store().campaign(&spec.id)? {
            Some(old) if old.merchant != merchant => {
                return Err(CrmError::Refused {
                    field: "id".into(),
                    reason: format!("campaign {} is taken by another merchant", spec.id),
                });
            }
            Some(old) if old.frozen_at_secs.is_some() && old.spec != spec => {
                return Err(CrmError::CampaignFrozen(spec.id));
            }
            Some(old) if old.frozen_at_secs.is_some() => old,
            _ => Campaign {
                merchant: merchant.to_string(),
                spec,
                created_at_secs: now_secs,
                frozen_at_secs: None,
                treated: 0,
                holdout: 0,
                issued: 0,
                runs: 0,
            },
        };
        self.store().put_campaign(&campaign)?;
        Ok(campaign)
    }

    /// A merchant's campaign.
    pub fn campaign(&self, merchant: &str, id: &str) -> Result<Campaign, CrmError> {
        check_id("merchant", merchant)?;
        check_id("campaign", id)?;
        self.store()
            .campaign(id)?
            .filter(|c| c.merchant == merchant)
            .ok_or_else(|| CrmError::UnknownCampaign(id.to_string()))
    }

    /// A merchant's campaigns, in id order.
    pub fn campaigns(&self, merchant: &str) -> Result<Vec<Campaign>, CrmError> {
        check_id("merchant", merchant)?;
        Ok(self.store().campaigns(merchant)?)
    }

    /// Runs a campaign: freezes its members on the first run, then gives
    /// every treated member what is still missing.
    pub fn run_campaign(&self, merchant: &str, id: &str, now_secs: i64) -> Result<RunSummary, CrmError> {
        let mut campaign = self.campaign(merchant, id)?;
        let members = self.frozen_members(&mut campaign, now_secs)?;
        let treated: Vec<&str> = members
            .iter()
            .filter(|(_, m)| m.group == Group::Treated)
            .map(|(c, _)| c.as_str())
            .collect();
        let mut summary = RunSummary {
            campaign: id.to_string(),
            treated: campaign.treated,
            holdout: campaign.holdout,
            issued_now: 0,
            already_issued: 0,
            failed: BTreeMap::new(),
            messages_new: 0,
        };
        for chunk in treated.chunks(RUN_CHUNK) {
            let coupons = self.issue_chunk(&campaign, chunk, now_secs, &mut summary);
            if let Some(text) = &campaign.spec.message {
                let messages: Vec<Message> = chunk
                    .iter()
                    .zip(coupons)
                    .filter_map(|(customer, coupon)| {
                        let coupon = coupon?;
                        Some(Message {
                            id: format!("{id}/{customer}"),
                            seq: 0,
                            campaign: id.to_string(),
                            customer: customer.to_string(),
                            text: text.clone(),
                            coupon,
                            at_secs: now_secs,
                        })
                    })
                    .collect();
                summary.messages_new += self.store().outbox_append(merchant, &messages)? as u64;
            }
        }
        campaign.issued = summary.issued_now + summary.already_issued;
        campaign.runs += 1;
        self.store().put_campaign(&campaign)?;
        Ok(summary)
    }

    /// The members, evaluated and written once (the campaign is marked
    /// frozen only after they all are).
    fn frozen_members(
        &self,
        campaign: &mut Campaign,
        now_secs: i64,
    ) -> Result<Vec<(String, Member)>, CrmError> {
        let id = campaign.spec.id.clone();
        if campaign.frozen_at_secs.is_some() {
            return Ok(self.store().members(&id)?);
        }
        let picked = self.segment(&campaign.merchant, &campaign.spec.segment, now_secs)?;
        if picked.len() > CAMPAIGN_MEMBERS_MAX {
            return Err(CrmError::CapReached(format!(
                "{} customers in the segment, a campaign takes at most {CAMPAIGN_MEMBERS_MAX}",
                picked.len()
            )));
        }
        let members: Vec<(String, Member)> = picked
            .into_iter()
            .map(|(c, orders_at_start)| {
                let group = campaign.spec.group_of(&c);
                (
                    c,
                    Member {
                        group,
                        orders_at_start,
                    },
                )
            })
            .collect();
        // A first run cut short may have left members of an older
        // evaluation: only this one's count.
        self.store().clear_members(&id)?;
        self.store().put_members(&id, &members)?;
        campaign.treated = members.iter().filter(|(_, m)| m.group == Group::Treated).count() as u64;
        campaign.holdout = members.len() as u64 - campaign.treated;
        campaign.frozen_at_secs = Some(now_secs);
        self.store().put_campaign(campaign)?;
        Ok(members)
    }

    /// Issues the campaign's coupon to a chunk of treated members. For each
    /// member: None if they get no message (their coupon failed), else the
    /// coupon to mention (None when the campaign gives none).
    fn issue_chunk(
        &self,
        campaign: &Campaign,
        customers: &[&str],
        now_secs: i64,
        summary: &mut RunSummary,
    ) -> Vec<Option<Option<String>>> {
        let Some(template) = &campaign.spec.template else {
            return vec![Some(None); customers.len()];
        };
        let requests: Vec<Request> = customers
            .iter()
            .map(|c| Request {
                customer: c.to_string(),
                key: format!("campaign:{}", campaign.spec.id),
                command: Command::IssueCoupon {
                    template: template.clone(),
                    campaign: Some(campaign.spec.id.clone()),
                },
            })
            .collect();
        self.ran_batch(now_secs, &requests)
            .into_iter()
            .map(|(result, wrote)| match result {
                Ok(Outcome::Coupon(c)) => {
                    if wrote {
                        summary.issued_now += 1;
                    } else {
                        summary.already_issued += 1;
                    }
                    Some(Some(c.id))
                }
                Ok(_) => None,
                Err(e) => {
                    let reason = failure_reason(&e);
                    let key = if summary.failed.len() < FAILURE_REASONS_MAX
                        || summary.failed.contains_key(&reason)
                    {
                        reason
                    } else {
                        "other".to_string()
                    };
                    *summary.failed.entry(key).or_default() += 1;
                    None
                }
            })
            .collect()
    }

    /// How a campaign did so far: redemptions, and orders of the treated
    /// against the holdout since it started.
    pub fn campaign_effect(&self, merchant: &str, id: &str) -> Result<Effect, CrmError> {
        let campaign = self.campaign(merchant, id)?;
        let members = self.store().members(id)?;
        let mut now = Vec::with_capacity(members.len());
        for chunk in members.chunks(FACTS_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|(c, _)| c.as_str()).collect();
            now.extend(
                self.store()
                    .facts_of(&ids)?
                    .into_iter()
                    .map(|f| f.map(|f| f.orders)),
            );
        }
        let redeemed = self.store().redemptions(id)?;
        Ok(Effect::measure(
            members.iter().map(|(_, m)| m).zip(now),
            campaign.issued,
            redeemed,
        ))
    }

    /// A merchant's outbox after `after_seq`.
    pub fn outbox(&self, merchant: &str, after_seq: u64, limit: usize) -> Result<Vec<Message>, CrmError> {
        check_id("merchant", merchant)?;
        Ok(self.store().outbox(merchant, after_seq, limit)?)
    }

    /// The consumer has every message up to `upto_seq`: they may go.
    pub fn outbox_ack(&self, merchant: &str, upto_seq: u64) -> Result<u64, CrmError> {
        check_id("merchant", merchant)?;
        Ok(self.store().outbox_ack(merchant, upto_seq)?)
    }
}

/// A short, stable reason for a run summary (no customer ids in it).
fn failure_reason(e: &CrmError) -> String {
    match e {
        CrmError::CapReached(_) => "cap reached".into(),
        CrmError::NotNow(_) => "template not running".into(),
        CrmError::UnknownTemplate(_) => "unknown template".into(),
        CrmError::Contended(_) => "contended".into(),
        CrmError::Store(_) => "store".into(),
        CrmError::KeyReused(_) => "key reused".into(),
        _ => "refused".into(),
    }
}
