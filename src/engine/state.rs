//! Per-order and per-rider records, and how each looks to the planner.

use std::collections::BTreeMap;

use super::model::{Activity, OrderId, OrderSpec, OrderStatus, RiderSpec};
use crate::base::Secs;
use crate::dispatch::online::{CommittedTrip, OrderView, RiderView};

/// One order and where it is in its life.
#[derive(Debug, Clone)]
pub(super) struct OrderRecord<P> {
    pub spec: OrderSpec<P>,
    pub status: OrderStatus,
}

impl<P: Clone> OrderRecord<P> {
    pub fn view(&self) -> OrderView<P> {
        OrderView {
            id: self.spec.id.0,
            restaurant: self.spec.restaurant,
            customer: self.spec.customer.clone(),
            placed_secs: self.spec.placed_secs,
            ready_secs: self.spec.ready_secs,
        }
    }
}

/// One rider: shift, what it is doing, whether it takes new work.
#[derive(Debug, Clone)]
pub(super) struct RiderRecord<P> {
    pub spec: RiderSpec<P>,
    pub activity: Activity<P>,
    /// False once the rider went offline: it finishes what it carries and
    /// gets nothing new.
    pub online: bool,
    /// When the rider was last heard from (a GPS fix, an event of its
    /// own): a rider silent for `stale_after_secs` gets no new orders.
    pub seen_secs: Secs,
}

impl<P: Clone> RiderRecord<P> {
    /// The rider as the planner sees it, or `None` if it can take no work.
    pub fn view(
        &self,
        now_secs: Secs,
        index_of: &BTreeMap<OrderId, usize>,
        restaurants: &[P],
    ) -> Option<RiderView<P>> {
        if !self.online {
            return None;
        }
        let (free_place, free_secs, committed) = match &self.activity {
            Activity::Waiting { place, free_secs } => (place.clone(), *free_secs, None),
            Activity::Heading { trip, arrive_secs } => {
                let committed = CommittedTrip {
                    restaurant: trip.restaurant,
                    arrive_secs: *arrive_secs,
                    orders: trip
                        .orders
                        .iter()
                        .filter_map(|o| index_of.get(o).copied())
                        .collect(),
                };
                // Free at the restaurant on arrival; the committed trip
                // (not this place) is what the planner times from.
                let place = restaurants.get(trip.restaurant as usize)?.clone();
                (place, *arrive_secs, Some(committed))
            }
            Activity::Delivering {
                free_place,
                free_secs,
                ..
            } => (free_place.clone(), *free_secs, None),
        };
        if committed.is_none() && free_secs.max(now_secs) > self.spec.off_secs {
            return None;
        }
        Some(RiderView {
            id: self.spec.id.0,
            free_place,
            free_secs,
            off_secs: self.spec.off_secs,
            committed,
            vehicle: self.spec.vehicle,
            capacity_orders: self.spec.capacity_orders,
        })
    }
}
