//! The live engine: the dispatch engine in a real city, owned by one
//! thread (the actor) that the network edge talks to through a bounded
//! queue.
//!
//! Owns: the engine clock, the journal (every accepted order and every
//! decision is fsynced before anyone hears of it), rider outboxes and
//! links, order ids, idempotency keys, and the read model that HTTP polls
//! read without waiting for the actor. Planning runs on the rayon pool from
//! an owned snapshot; the actor keeps taking inputs meanwhile.
//!
//! May call: `engine`, `dispatch::online` (planning), `map` (snapping,
//! travel), `store` (journal), `wire` (rider messages and outboxes).
//! Never awaits: the async edge sends it inputs and awaits the replies.

mod actor;
mod crm_feed;
mod metrics;
mod records;
mod restaurants;
mod rider_profiles;
mod riders;
mod view;

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

use serde::Serialize;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::base::{Clock, Secs};
use crate::dispatch::online::Policy;
use crate::engine::{EngineError, OrderId, RiderId};
use crate::map::{LatLng, VehicleNetworks};
use crate::store::StoreError;
use crate::wire::protocol::RiderMessage;

pub use crm_feed::CrmOrder;
pub use metrics::Metrics;
pub use records::{JournaledDay, LiveRecord, journal_events};
pub use restaurants::{OpeningHours, RESTAURANT_ID_PATTERN, Restaurant, Weekday, is_slug};
pub use rider_profiles::{CAPACITY_ORDERS_MAX, RiderProfile};
pub use view::{Card, CardBody, EtaBody, RestaurantBody, View};

/// How the live engine runs (from `[server]` in config.toml).
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub policy: Policy,
    pub tick_secs: Secs,
    pub shift_secs: Secs,
    pub outbox_capacity: usize,
    /// A rider with no connection this long (wall time) goes offline.
    pub rider_timeout: std::time::Duration,
    pub queue_capacity: usize,
    /// Service times at restaurants and customers (seconds).
    pub pickup_service_secs: Secs,
    pub dropoff_service_secs: Secs,
    /// Which riders each restaurant's orders are weighed against, and when
    /// a silent rider is left out (in engine seconds).
    pub candidates: crate::engine::CandidateRule,
    /// The city's civil time: restaurants' opening hours are local.
    pub city: crate::base::CityTime,
    /// The id of this process's first order (its zone's, see `OrderId`).
    pub first_order: OrderId,
}

/// Who is asking: a merchant sees and touches only its own orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Merchant(String),
    Operator,
}

impl Scope {
    fn sees(&self, merchant: &str) -> bool {
        match self {
            Scope::Operator => true,
            Scope::Merchant(m) => m == merchant,
        }
    }
}

/// Why the live engine refused a request. Every variant maps to one HTTP
/// status and names the offending field where there is one.
#[derive(Debug, Error)]
pub enum LiveError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Well-formed, but the city refuses it: an unknown restaurant, a
    /// drop-off off the road network.
    #[error("{field}: {reason}")]
    Refused { field: &'static str, reason: String },
    #[error("order {0} not found")]
    NotFound(u64),
    #[error("{field}: {reason}")]
    Conflict { field: &'static str, reason: String },
    #[error("merchant may not use restaurant {0}")]
    Forbidden(String),
    /// The journal is not this server's (or is damaged).
    #[error("journal: {0}")]
    Journal(String),
    #[error("the engine is busy: retry shortly")]
    Busy,
    #[error("the engine has stopped")]
    Stopped,
    /// Journaled on the master, not yet confirmed by a replica: retry
    /// with the same idempotency key.
    #[error("not acknowledged: {0}")]
    NotReplicated(String),
    #[error("cannot start the {name} thread(s): {source}")]
    Thread {
        name: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("map: {0}")]
    Map(#[from] crate::map::MapError),
}

/// A merchant's new order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub restaurant: String,
    pub customer: LatLng,
    /// Seconds from now until the food is expected to be ready (None:
    /// the restaurant's typical preparation).
    pub ready_in_secs: Option<Secs>,
    pub idempotency_key: Option<String>,
    /// Whose order it is for the CRM: delivered, it earns points.
    pub crm: Option<CrmOrder>,
}

/// What the actor answers to an order request: the order's card and
/// whether it already existed (a retried request).
#[derive(Debug, Clone)]
pub struct OrderReply {
    pub card: Card,
    pub replayed: bool,
}

/// What the actor answers to a restaurant's PUT.
#[derive(Debug, Clone)]
pub struct RestaurantReply {
    pub restaurant: Restaurant,
    /// It did not exist before.
    pub created: bool,
}

/// One frame for a rider's socket (serialised JSON), or an instruction to
/// close it (replaced by a newer connection, or shutting down).
#[derive(Debug, Clone)]
pub enum Frame {
    Text {
        json: Arc<str>,
        /// When the dispatch decision behind it was taken (for the push
        /// latency histogram).
        decided: Option<std::time::Instant>,
    },
    Close,
}

/// An input for the actor.
pub(crate) enum Input {
    Place {
        scope: Scope,
        order: NewOrder,
        reply: oneshot::Sender<Result<OrderReply, LiveError>>,
    },
    Cancel {
        scope: Scope,
        order: u64,
        reason: String,
        reply: oneshot::Sender<Result<OrderReply, LiveError>>,
    },
    Ready {
        scope: Scope,
        order: u64,
        reply: oneshot::Sender<Result<OrderReply, LiveError>>,
    },
    PutRestaurant {
        restaurant: Restaurant,
        reply: oneshot::Sender<Result<RestaurantReply, LiveError>>,
    },
    PutRider {
        rider: RiderProfile,
        reply: oneshot::Sender<Result<(RiderProfile, bool), LiveError>>,
    },
    Connect {
        rider: RiderId,
        last_seq: u64,
        frames: mpsc::Sender<Frame>,
        reply: oneshot::Sender<Result<u64, LiveError>>,
    },
    Disconnected {
        rider: RiderId,
        conn: u64,
    },
    Rider {
        rider: RiderId,
        message: RiderMessage,
    },
    RiderError {
        rider: RiderId,
        error: crate::wire::protocol::ProtocolError,
    },
    Planned(Box<actor::PlanDone>),
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// The handle the network edge holds: cheap to clone, never blocks.
#[derive(Clone)]
pub struct LiveHandle {
    tx: SyncSender<Input>,
    view: Arc<View>,
    metrics: Arc<Metrics>,
    clock: Clock,
    halted: tokio::sync::watch::Receiver<Option<String>>,
}

impl LiveHandle {
    /// Why the engine stopped on its own, once it has (it never restarts
    /// itself: the process exits and rebuilds from the journal).
    pub async fn halted(&self) -> String {
        let mut rx = self.halted.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The actor is gone without a reason: it was shut down.
            Err(_) => std::future::pending().await,
        }
    }

    /// Why the engine stopped on its own, if it has.
    pub fn halt_reason(&self) -> Option<String> {
        self.halted.borrow().clone()
    }

    /// The read model (order cards, console state), readable without the
    /// actor.
    pub fn view(&self) -> &Arc<View> {
        &self.view
    }

    /// The engine's clock (engine time may run faster than the wall's).
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn send(&self, input: Input) -> Result<(), LiveError> {
        self.tx.try_send(input).map_err(|e| match e {
            TrySendError::Full(_) => LiveError::Busy,
            TrySendError::Disconnected(_) => LiveError::Stopped,
        })
    }

    async fn ask<R>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<R, LiveError>>) -> Input,
    ) -> Result<R, LiveError> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| LiveError::Stopped)?
    }

    /// Places an order; acknowledged only once journaled.
    pub async fn place(&self, scope: Scope, order: NewOrder) -> Result<OrderReply, LiveError> {
        self.ask(|reply| Input::Place { scope, order, reply }).await
    }

    /// Cancels an order not yet picked up.
    pub async fn cancel(&self, scope: Scope, order: u64, reason: String) -> Result<OrderReply, LiveError> {
        self.ask(|reply| Input::Cancel {
            scope,
            order,
            reason,
            reply,
        })
        .await
    }

    /// The kitchen says an order's food is ready now.
    pub async fn ready(&self, scope: Scope, order: u64) -> Result<OrderReply, LiveError> {
        self.ask(|reply| Input::Ready { scope, order, reply }).await
    }

    /// Onboards or changes a restaurant (operators); acknowledged once
    /// journaled.
    pub async fn put_restaurant(&self, restaurant: Restaurant) -> Result<RestaurantReply, LiveError> {
        self.ask(|reply| Input::PutRestaurant { restaurant, reply }).await
    }

    /// Records what a rider rides and carries (operators); acknowledged
    /// once journaled. The answer says whether the record is new.
    pub async fn put_rider(&self, rider: RiderProfile) -> Result<(RiderProfile, bool), LiveError> {
        self.ask(|reply| Input::PutRider { rider, reply }).await
    }

    /// Registers a rider's connection; returns its connection number.
    /// Frames the rider has not processed after `last_seq` are queued on
    /// `frames` at once.
    pub async fn connect(
        &self,
        rider: RiderId,
        last_seq: u64,
        frames: mpsc::Sender<Frame>,
    ) -> Result<u64, LiveError> {
        self.ask(|reply| Input::Connect {
            rider,
            last_seq,
            frames,
            reply,
        })
        .await
    }

    /// The connection `conn` of `rider` closed.
    pub fn disconnected(&self, rider: RiderId, conn: u64) -> Result<(), LiveError> {
        self.send(Input::Disconnected { rider, conn })
    }

    /// A parsed message from a rider.
    pub fn rider_says(&self, rider: RiderId, message: RiderMessage) -> Result<(), LiveError> {
        self.send(Input::Rider { rider, message })
    }

    /// A frame from a rider that could not be accepted: the rider gets an
    /// error message (in sequence).
    pub fn rider_error(
        &self,
        rider: RiderId,
        error: crate::wire::protocol::ProtocolError,
    ) -> Result<(), LiveError> {
        self.send(Input::RiderError { rider, error })
    }

    /// Stops the actor after its last journal write; rider sockets are
    /// told to close.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Input::Shutdown { reply }).is_ok() {
            let _ = done.await;
        }
    }
}

/// Everything the live engine starts from.
pub struct LiveSetup {
    pub network: Arc<VehicleNetworks>,
    /// The seed file's restaurants: added on start where the journal does
    /// not know them yet.
    pub restaurants: Vec<Restaurant>,
    pub options: LiveOptions,
    /// Where the journal is.
    pub log: crate::store::LogLocation,
    /// The CRM, told of delivered and cancelled orders (None: not told).
    pub crm: Option<Arc<crate::crm::Crm>>,
    /// The one clock; moved forward to the journal's last time if that
    /// is later (engine time never goes backwards across a restart).
    pub clock: Clock,
}

/// What restoring the journal found, for the start-up log.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Restored {
    pub records: usize,
    pub orders: usize,
    pub riders: usize,
}

/// Starts the actor thread: replays the journal at `setup.log`, then
/// serves. Fails if the journal is damaged or names what this city does
/// not have.
pub fn start(setup: LiveSetup) -> Result<(LiveHandle, Restored), LiveError> {
    actor::start(setup)
}

/// The `p90` of an ETA `eta_secs` seen at `now_secs`: a quarter of the
/// time left on top, at least a minute. A prior, to be calibrated from
/// delivered orders.
pub fn eta_p90(now_secs: Secs, eta_secs: Secs) -> Secs {
    eta_secs + ((eta_secs - now_secs).max(0) / 4).max(60)
}
