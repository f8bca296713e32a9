//! What one batch of inputs changed, collected for its commit: the
//! records to journal and everything that may only happen once they are
//! durable (replies, CRM requests, cards, riders' messages).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::engine::{OrderId, RiderId};
use crate::live::records::LiveRecord;
use crate::live::{LiveError, OrderReply, Restaurant, RestaurantReply, RiderProfile};
use crate::wire::protocol::ServerMessage;

/// A reply that waits for the batch's journal write.
pub(super) type Deferred = (
    oneshot::Sender<Result<OrderReply, LiveError>>,
    Result<(OrderId, bool), LiveError>,
);

/// An operator's rider-record reply (the record, and whether it is new),
/// waiting likewise.
pub(super) type DeferredRider = (
    oneshot::Sender<Result<(RiderProfile, bool), LiveError>>,
    Result<(RiderProfile, bool), LiveError>,
);

/// An operator's restaurant reply, waiting likewise.
pub(super) type DeferredRestaurant = (
    oneshot::Sender<Result<RestaurantReply, LiveError>>,
    Result<RestaurantReply, LiveError>,
);

#[derive(Default)]
pub(super) struct Batch {
    /// Events and decisions to journal, in order.
    pub(super) records: Vec<LiveRecord>,
    /// Merchants' replies, answered after the journal write.
    pub(super) deferred: Vec<Deferred>,
    /// Operators' restaurant PUTs, answered after the journal write.
    pub(super) restaurant_replies: Vec<DeferredRestaurant>,
    /// Restaurants that changed, for the read model.
    pub(super) restaurants_changed: Vec<Restaurant>,
    /// Operators' rider-record PUTs, answered after the journal write.
    pub(super) rider_replies: Vec<DeferredRider>,
    /// Riders' records that changed, for the read model.
    pub(super) riders_changed: Vec<RiderProfile>,
    /// Orders whose card may have changed (an ETA at least).
    pub(super) touched_orders: BTreeSet<OrderId>,
    /// Riders whose stops may have changed.
    pub(super) touched_riders: BTreeSet<RiderId>,
    /// Ended orders for the CRM.
    pub(super) crm_out: Vec<crate::crm::Request>,
    /// Orders whose state a decision of this batch changed.
    pub(super) decided_orders: BTreeSet<OrderId>,
    /// Messages for riders beyond their stops (errors, cancellations).
    pub(super) messages: Vec<(RiderId, ServerMessage)>,
    /// When each touched rider's newest decision was taken.
    pub(super) decided: HashMap<RiderId, Instant>,
}

impl Batch {
    /// The journal holds the batch but no replica confirmed it: every
    /// waiting request hears so (503); the rest is kept for the commit
    /// that confirms.
    pub(super) fn refuse(&mut self, why: &str) {
        let no = || LiveError::NotReplicated(why.to_string());
        for (reply, _) in self.deferred.drain(..) {
            let _ = reply.send(Err(no()));
        }
        for (reply, _) in self.restaurant_replies.drain(..) {
            let _ = reply.send(Err(no()));
        }
        for (reply, _) in self.rider_replies.drain(..) {
            let _ = reply.send(Err(no()));
        }
    }

    /// The journal failed: every waiting merchant hears that the engine
    /// stopped, and nothing else of the batch leaves the actor.
    pub(super) fn abandon(&mut self) {
        for (reply, _) in self.deferred.drain(..) {
            let _ = reply.send(Err(LiveError::Stopped));
        }
        for (reply, _) in self.restaurant_replies.drain(..) {
            let _ = reply.send(Err(LiveError::Stopped));
        }
        for (reply, _) in self.rider_replies.drain(..) {
            let _ = reply.send(Err(LiveError::Stopped));
        }
        *self = Batch::default();
    }
}
