//! Hands delivered and cancelled orders to the CRM (points, profile,
//! coupons) on a thread of its own, so the actor never waits for the CRM's
//! store. Requests are idempotent (keyed by order and event), so sending
//! one twice is harmless: after a restart every delivered or cancelled
//! order of the journal is sent again, which makes "at least once" exactly
//! once.

use crate::base::Clock;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::Metrics;
use crate::crm::feedback::{Channel, Submitted};
use crate::crm::profile::{Delivered, Item};
use crate::crm::{Command, Crm, CrmError, Request};

/// Requests waiting for the CRM at most; past this the actor drops the
/// newest (each is sent again at the next restart) and counts it.
pub const QUEUE_MAX: usize = 100_000;
/// Requests applied together at most.
const BATCH_MAX: usize = 1024;
/// Tries of a batch the store refused (unreachable), a second apart.
const TRIES_MAX: usize = 30;

/// What an order tells the CRM: whose it is and what was in it. Given
/// with the order (optional) and journaled with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmOrder {
    /// The CRM's customer id.
    pub customer_id: String,
    /// The reference the merchant used at checkout (default: the order id).
    #[serde(default)]
    pub order_ref: Option<String>,
    pub amount_cents: i64,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub region: Option<String>,
}

impl CrmOrder {
    /// The order as the CRM knows it: the merchant's reference, else our id.
    fn reference(&self, order_id: u64) -> String {
        self.order_ref.clone().unwrap_or_else(|| order_id.to_string())
    }

    /// What the CRM would refuse later is refused now, at the order's POST.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        use crate::crm::{ID_RULE, valid_id};
        if !valid_id(&self.customer_id) {
            return Err(("crm.customer_id", ID_RULE.into()));
        }
        if self.order_ref.as_deref().is_some_and(|r| !valid_id(r)) {
            return Err(("crm.order_ref", ID_RULE.into()));
        }
        if self.amount_cents < 0 {
            return Err(("crm.amount_cents", "must not be negative".into()));
        }
        if self.items.len() > 100 {
            return Err(("crm.items", "at most 100".into()));
        }
        if self
            .items
            .iter()
            .any(|i| i.quantity > crate::crm::profile::QUANTITY_MAX)
        {
            return Err(("crm.items", "quantity: at most 10000".into()));
        }
        Ok(())
    }
}

/// The actor's end of the feed.
pub struct CrmFeed {
    tx: SyncSender<Request>,
    /// Click-to-door promise: a delivery later than this is reported to
    /// the CRM as feedback on delivery speed (`[crm.feedback] promise_secs`).
    pub promise_secs: i64,
    metrics: Arc<Metrics>,
    thread: std::thread::JoinHandle<()>,
}

impl CrmFeed {
    /// Starts the feeding thread.
    pub fn start(crm: Arc<Crm>, metrics: Arc<Metrics>, clock: Clock) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE_MAX);
        let promise_secs = crm.config().feedback.promise_secs;
        let m = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("waimai-crm".into())
            .spawn(move || feed(&crm, &rx, &m, &clock))?;
        Ok(CrmFeed {
            tx,
            promise_secs,
            metrics,
            thread,
        })
    }

    /// Applies what is queued, then stops (and lets go of the CRM's store).
    pub fn close(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }

    /// Queues a request without waiting.
    pub fn send(&self, request: Request) {
        match self.tx.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(r)) => {
                self.metrics.crm_dropped.fetch_add(1, Ordering::Relaxed);
                warn!(key = r.key, "CRM queue full: sent again at the next restart");
            }
            Err(TrySendError::Disconnected(_)) => {
                self.metrics.crm_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// How a delivery went, as the engine saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub rider: u64,
    /// Past the click-to-door promise (negative: early).
    pub late_secs: i64,
    /// The drop-off's grid cell (the zone when the merchant gave none).
    pub zone: String,
}

/// The CRM request for an order's end: delivered or cancelled.
pub fn request(
    order_id: u64,
    merchant: &str,
    o: &CrmOrder,
    delivered: bool,
    how: Option<&Delivery>,
) -> Request {
    let order = o.reference(order_id);
    let (key, command) = if delivered {
        let command = Command::Delivered {
            order: order.clone(),
            delivered: Delivered {
                merchant: merchant.to_string(),
                amount_cents: o.amount_cents,
                items: o.items.clone(),
                region: o.region.clone().or_else(|| how.map(|d| d.zone.clone())),
                rider: how.map(|d| d.rider.to_string()),
                late_secs: how.map(|d| d.late_secs),
            },
        };
        (format!("order:{order}:delivered"), command)
    } else {
        (
            format!("order:{order}:cancelled"),
            Command::Cancelled { order: order.clone() },
        )
    };
    Request {
        customer: o.customer_id.clone(),
        key,
        command,
    }
}

/// The engine's own feedback on a late delivery: `late_secs` past the
/// promise, by `rider`. Keyed by the order, so it is reported once.
pub fn lateness(order_id: u64, merchant: &str, o: &CrmOrder, rider: u64, late_secs: i64) -> Request {
    let order = o.reference(order_id);
    Request {
        customer: o.customer_id.clone(),
        key: format!("order:{order}:late"),
        command: Command::Feedback {
            order,
            review: Submitted {
                merchant: merchant.to_string(),
                rider: Some(rider.to_string()),
                channel: Channel::Dispatch,
                rating: None,
                text: String::new(),
                late_secs: Some(late_secs),
            },
        },
    }
}

fn feed(crm: &Crm, rx: &Receiver<Request>, metrics: &Metrics, clock: &Clock) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        for _ in 0..TRIES_MAX {
            let results = crm.execute_batch(clock.now_secs(), &batch);
            let mut again = Vec::new();
            for (request, result) in batch.into_iter().zip(results) {
                match result {
                    Ok(_) => {
                        metrics.crm_applied.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(CrmError::Store(_) | CrmError::Contended(_)) => again.push(request),
                    Err(e) => {
                        metrics.crm_refused.fetch_add(1, Ordering::Relaxed);
                        warn!(key = request.key, error = %e, "the CRM refused an order event");
                    }
                }
            }
            batch = again;
            if batch.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        if !batch.is_empty() {
            warn!(
                n = batch.len(),
                "CRM store unreachable: these order events are sent again at the next restart"
            );
        }
    }
}
