//! What the live engine journals, and how a journal is replayed into a
//! fresh engine after a restart.
//!
//! Places are journaled as coordinates and snapped again on replay
//! (snapping is deterministic for a given map), so the journal stays
//! readable and independent of the map's internal numbering. Soft state
//! (GPS fixes, connections) is not journaled: riders send it again.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::LiveError;
use super::restaurants::{Directory, Restaurant};
use super::rider_profiles::{RiderDirectory, RiderProfile};
use crate::base::Secs;
use crate::engine::{Command, Engine, Event, OrderId, OrderSpec, RiderSpec};
use crate::map::{LatLng, MapError, VehicleNetworks, VehiclePlace};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum LiveRecord {
    /// An order accepted from a merchant, with what makes a retry of the
    /// same request recognisable.
    Placed {
        at_secs: Secs,
        order: OrderSpec<LatLng>,
        merchant: String,
        idempotency_key: Option<String>,
        request_hash: u64,
        /// The order's CRM details, if the merchant gave them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        crm: Option<super::CrmOrder>,
    },
    /// Anything else the engine was told (cancel, ready, riders on and
    /// off, deliveries).
    Event { at_secs: Secs, event: Event<LatLng> },
    /// What the engine decided (and riders were then told).
    Decision { command: Command },
    /// A rider's record as it is from now on (vehicle, capacity, zone).
    Rider { at_secs: Secs, rider: RiderProfile },
    /// A restaurant as it is from now on (onboarded, changed, closed),
    /// with the engine index its orders name.
    Restaurant {
        at_secs: Secs,
        index: u32,
        restaurant: Restaurant,
    },
}

/// A served day as a fixture needs it (`waimai fixture record`).
pub struct JournaledDay {
    /// Each restaurant as last journaled, by engine index; empty for a
    /// journal written before restaurants were journaled.
    pub restaurants: Vec<(String, LatLng)>,
    /// Every event with its time, an accepted order as `OrderPlaced`.
    pub events: Vec<(Secs, Event<LatLng>)>,
}

/// What happened in the day of a file journal (the embedded store's
/// `<data_dir>/journal.jsonl`), without what was decided (a recorded
/// fixture replays the city, not the policy).
pub fn journal_events(path: &std::path::Path) -> Result<JournaledDay, LiveError> {
    let records = crate::store::Journal::read::<LiveRecord>(path)?;
    let mut day = JournaledDay {
        restaurants: Vec::new(),
        events: Vec::new(),
    };
    for record in records {
        match record {
            LiveRecord::Placed { at_secs, order, .. } => {
                day.events.push((at_secs, Event::OrderPlaced(order)))
            }
            LiveRecord::Event { at_secs, event } => day.events.push((at_secs, event)),
            LiveRecord::Decision { .. } | LiveRecord::Rider { .. } => {}
            LiveRecord::Restaurant {
                index, restaurant, ..
            } => {
                let entry = (restaurant.id, restaurant.at);
                match day.restaurants.get_mut(index as usize) {
                    Some(slot) => *slot = entry,
                    None => day.restaurants.push(entry),
                }
            }
        }
    }
    Ok(day)
}

/// What the live layer keeps of an order beside the engine's state.
#[derive(Debug, Clone)]
pub(super) struct OrderMeta {
    pub merchant: String,
    pub customer: LatLng,
    pub idempotency_key: Option<String>,
    pub request_hash: u64,
    pub crm: Option<super::CrmOrder>,
}

/// Snaps the places of an event journaled as coordinates.
pub(super) fn snap_event(
    net: &VehicleNetworks,
    event: Event<LatLng>,
) -> Result<Event<VehiclePlace>, MapError> {
    Ok(match event {
        Event::OrderPlaced(o) => Event::OrderPlaced(snap_order(net, o)?),
        Event::RiderOnline(r) => Event::RiderOnline(RiderSpec {
            id: r.id,
            start: net.snap(r.start)?,
            on_secs: r.on_secs,
            off_secs: r.off_secs,
            vehicle: r.vehicle,
            capacity_orders: r.capacity_orders,
        }),
        Event::OrderCancelled { order, reason } => Event::OrderCancelled { order, reason },
        Event::RiderOffline { rider } => Event::RiderOffline { rider },
        Event::Delivered { rider, order } => Event::Delivered { rider, order },
        Event::OrderReady { order } => Event::OrderReady { order },
    })
}

pub(super) fn snap_order(
    net: &VehicleNetworks,
    o: OrderSpec<LatLng>,
) -> Result<OrderSpec<VehiclePlace>, MapError> {
    Ok(OrderSpec {
        id: o.id,
        restaurant: o.restaurant,
        customer: net.snap(o.customer)?,
        placed_secs: o.placed_secs,
        ready_secs: o.ready_secs,
    })
}

/// The state a journal rebuilds.
pub(super) struct Replayed {
    pub orders: HashMap<OrderId, OrderMeta>,
    pub last_secs: Secs,
    /// Assignments (departures) each rider was given: numbering goes on
    /// from there.
    pub assignments: HashMap<crate::engine::RiderId, u64>,
}

/// Replays `records` into `engine` and `restaurants`, in order. Only
/// accepted events and decisions are journaled, so anything refused now
/// (an unknown rider, a place off this map) means the journal belongs to
/// another city or build: an error, and the server does not start.
pub(super) fn replay(
    engine: &mut Engine<Arc<VehicleNetworks>>,
    net: &VehicleNetworks,
    restaurants: &mut Directory,
    riders: &mut RiderDirectory,
    records: Vec<LiveRecord>,
) -> Result<Replayed, LiveError> {
    let mut out = Replayed {
        orders: HashMap::new(),
        last_secs: 0,
        assignments: HashMap::new(),
    };
    for record in records {
        match record {
            LiveRecord::Placed {
                at_secs,
                order,
                merchant,
                idempotency_key,
                request_hash,
                crm,
            } => {
                out.last_secs = out.last_secs.max(at_secs);
                let meta = OrderMeta {
                    merchant,
                    customer: order.customer,
                    idempotency_key,
                    request_hash,
                    crm,
                };
                let id = order.id;
                // Only accepted orders are journaled: a refusal now means
                // the journal is not this engine's.
                engine.handle(at_secs, Event::OrderPlaced(snap_order(net, order)?))?;
                out.orders.insert(id, meta);
            }
            LiveRecord::Event { at_secs, event } => {
                out.last_secs = out.last_secs.max(at_secs);
                // A rider rides what its record said then, by name: the
                // config's vehicle order may have changed since.
                let event = match snap_event(net, event)? {
                    Event::RiderOnline(mut spec) => {
                        (spec.vehicle, spec.capacity_orders) = riders.kit(spec.id.0, net);
                        Event::RiderOnline(spec)
                    }
                    other => other,
                };
                engine.handle(at_secs, event)?;
            }
            LiveRecord::Rider { at_secs, rider } => {
                out.last_secs = out.last_secs.max(at_secs);
                let id = crate::engine::RiderId(rider.id);
                riders.put(rider);
                let (vehicle, capacity) = riders.kit(id.0, net);
                // A rider not yet seen online has no engine record.
                let _ = engine.set_rider_kit(id, vehicle, capacity);
            }
            LiveRecord::Decision { command } => {
                if let Command::Depart {
                    rider, depart_secs, ..
                } = &command
                {
                    *out.assignments.entry(*rider).or_default() += 1;
                    out.last_secs = out.last_secs.max(*depart_secs);
                }
                engine.replay(&command)?;
            }
            LiveRecord::Restaurant {
                at_secs,
                index,
                restaurant,
            } => {
                out.last_secs = out.last_secs.max(at_secs);
                if restaurants.at(index).is_none_or(|r| r.at != restaurant.at) {
                    engine.put_restaurant(index, net.snap(restaurant.at)?)?;
                }
                let id = restaurant.id.clone();
                if !restaurants.put(index, restaurant) {
                    return Err(LiveError::Journal(format!(
                        "restaurant {id:?} at index {index} skips or reuses an index"
                    )));
                }
            }
        }
    }
    Ok(out)
}
