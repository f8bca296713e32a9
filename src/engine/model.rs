//! The engine's vocabulary: what it is told (events), what it decides
//! (commands), and the state of each order and rider.

use serde::{Deserialize, Serialize};

use crate::base::Secs;
pub use crate::base::{OrderId, RiderId};
use crate::map::Vehicle;

/// An order as the merchant places it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSpec<P> {
    pub id: OrderId,
    /// Index into the engine's restaurants.
    pub restaurant: u32,
    pub customer: P,
    pub placed_secs: Secs,
    /// When the food is expected to be ready (earliest pickup).
    pub ready_secs: Secs,
}

/// A rider's shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiderSpec<P> {
    pub id: RiderId,
    pub start: P,
    pub on_secs: Secs,
    /// No pickup after this (deliveries in hand are finished).
    pub off_secs: Secs,
    /// What it rides (the travel source's vehicle; 0 the default).
    #[serde(default, skip_serializing_if = "is_default_vehicle")]
    pub vehicle: Vehicle,
    /// Most orders it carries at once (None: the policy's bundle limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_orders: Option<u32>,
}

fn is_default_vehicle(v: &Vehicle) -> bool {
    *v == Vehicle::default()
}

/// Something that happened in the world, fed to the engine in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event<P> {
    OrderPlaced(OrderSpec<P>),
    OrderCancelled {
        order: OrderId,
        reason: String,
    },
    /// A rider's shift is known (it may start later).
    RiderOnline(RiderSpec<P>),
    /// The rider stops taking work; orders it has not picked up are
    /// released for others.
    RiderOffline {
        rider: RiderId,
    },
    Delivered {
        rider: RiderId,
        order: OrderId,
    },
    /// The kitchen says the food is ready now.
    OrderReady {
        order: OrderId,
    },
}

/// Where an order is in its life. Every accepted order is in exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, no rider committed yet (it may be pencilled in).
    Open,
    /// On the trip of a rider who is on the way to (or at) the restaurant.
    Assigned {
        rider: RiderId,
        since_secs: Secs,
    },
    PickedUp {
        rider: RiderId,
        pickup_secs: Secs,
    },
    Delivered {
        rider: RiderId,
        pickup_secs: Secs,
        dropoff_secs: Secs,
    },
    Cancelled {
        reason: String,
        at_secs: Secs,
    },
}

impl OrderStatus {
    /// The state's name, as the API and error messages spell it.
    pub fn name(&self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Assigned { .. } => "assigned",
            OrderStatus::PickedUp { .. } => "picked_up",
            OrderStatus::Delivered { .. } => "delivered",
            OrderStatus::Cancelled { .. } => "cancelled",
        }
    }
}

/// A bundle of one restaurant's orders for one rider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    pub restaurant: u32,
    /// In drop-off order.
    pub orders: Vec<OrderId>,
    /// When the bundle last changed (the assignment time of its orders).
    pub decided_secs: Secs,
}

/// What a rider is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity<P> {
    /// Free at `place` from `free_secs` (shift start, or after service).
    Waiting { place: P, free_secs: Secs },
    /// Sent to the trip's restaurant; cannot be diverted; orders may join.
    Heading { trip: Trip, arrive_secs: Secs },
    /// Carrying the trip's orders; `left` are not yet delivered.
    Delivering {
        trip: Trip,
        pickup_secs: Secs,
        left: Vec<OrderId>,
        free_place: P,
        free_secs: Secs,
    },
}

/// A decision for the world (a rider app, or the simulator) to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Ride to the restaurant now for `orders`; arrival expected at
    /// `arrive_secs`.
    Depart {
        rider: RiderId,
        restaurant: u32,
        orders: Vec<OrderId>,
        depart_secs: Secs,
        arrive_secs: Secs,
    },
    /// The bundle of a rider already on its way is now `orders` (in
    /// drop-off order): more of the restaurant's orders joined.
    Join {
        rider: RiderId,
        orders: Vec<OrderId>,
        at_secs: Secs,
    },
    /// Every order of the rider's trip was cancelled on the way: it waits
    /// at the restaurant, free.
    Release { rider: RiderId, at_secs: Secs },
    /// Move (idle) to the restaurant, towards expected demand.
    Reposition {
        rider: RiderId,
        restaurant: u32,
        depart_secs: Secs,
        arrive_secs: Secs,
    },
    /// The bundle is final: pick up `trip.orders` now and drop them off in
    /// order at the given times.
    PickUp {
        rider: RiderId,
        trip: Trip,
        pickup_secs: Secs,
        dropoff_secs: Vec<Secs>,
    },
}

/// One entry of the engine's history: what it was told, or what it
/// decided. Replaying a run's records in order (`Engine::restore`) rebuilds
/// its state exactly; this is what the journal stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record<P> {
    Event { at_secs: Secs, event: Event<P> },
    Decision { command: Command },
}
