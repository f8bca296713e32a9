//! The engine: the one writer that owns the state of every order and rider.
//!
//! It is told what happens ([`Event`]s: orders placed and cancelled, riders
//! on and off shift, deliveries) and, on each tick, asks the online planner
//! (`dispatch::online`) what to do, applies the plan and returns
//! [`Command`]s for the world: leave for a restaurant, pick up a bundle.
//! It never knows whether the world is a city or a simulation, and keeps
//! no clock of its own: the caller passes the time with every call.
//!
//! Owns: order and rider state, commitment and sealing of bundles, the
//! invariants. May call: `dispatch` (planner), `map` (through the
//! `TravelTime` trait).

mod candidates;
mod invariants;
mod model;
mod snapshot;
mod state;
mod transitions;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use serde::Serialize;
use thiserror::Error;

use crate::base::Secs;
use crate::dispatch::online::{self, Plan, Policy, ServiceSecs, Snapshot};
use crate::index::PlanarIndex;
use crate::map::TravelTime;

pub use candidates::{CandidateRule, RiderShortlist};
pub use model::{
    Activity, Command, Event, OrderId, OrderSpec, OrderStatus, Record, RiderId, RiderSpec, Trip,
};
use state::{OrderRecord, RiderRecord};

/// Why the engine refused an event.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    #[error("order {0:?} already exists")]
    DuplicateOrder(OrderId),
    #[error("rider {0:?} already exists")]
    DuplicateRider(RiderId),
    #[error("unknown order {0:?}")]
    UnknownOrder(OrderId),
    #[error("unknown rider {0:?}")]
    UnknownRider(RiderId),
    #[error("unknown restaurant {0}")]
    UnknownRestaurant(u32),
    #[error("restaurant {restaurant} has {orders} order(s) not yet picked up: it moves once they are")]
    RestaurantBusy { restaurant: u32, orders: usize },
    #[error("order {order:?}: {reason}")]
    InvalidOrder { order: OrderId, reason: String },
    #[error("rider {0:?} has no trip to pick up")]
    NothingToPickUp(RiderId),
    #[error("order {order:?} cannot be {what}: it is {state}")]
    InvalidTransition {
        order: OrderId,
        what: &'static str,
        state: String,
    },
}

/// How the engine dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EngineConfig {
    pub policy: Policy,
    pub service: ServiceSecs,
    pub pickup: PickupRule,
    pub candidates: CandidateRule,
}

/// When a heading rider's bundle becomes picked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PickupRule {
    /// At the expected time: arrival plus service, food ready (a
    /// simulation, whose riders are exactly on time).
    Timed,
    /// When the rider says so ([`Engine::confirm_pickup`]): a real city.
    Confirmed,
}

/// What one tick did, for latency reports.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TickStats {
    pub now_secs: Secs,
    pub plan_micros: u64,
    pub open_orders: usize,
    pub riders: usize,
}

/// A tick in progress: the planner's input and how to map its answer back.
pub struct PendingTick<P> {
    pub snapshot: Snapshot<P>,
    order_ids: Vec<OrderId>,
    rider_ids: Vec<RiderId>,
}

impl<P> PendingTick<P> {
    /// The engine id of the snapshot's `index`th order (what a plan's
    /// order indices mean).
    pub fn order_id(&self, index: usize) -> Option<OrderId> {
        self.order_ids.get(index).copied()
    }

    /// The engine id of the snapshot's `index`th rider.
    pub fn rider_id(&self, index: usize) -> Option<RiderId> {
        self.rider_ids.get(index).copied()
    }
}

/// The dispatch engine over a travel-time source `T`.
pub struct Engine<T: TravelTime> {
    travel: T,
    restaurants: Vec<T::Place>,
    config: EngineConfig,
    orders: BTreeMap<OrderId, OrderRecord<T::Place>>,
    riders: BTreeMap<RiderId, RiderRecord<T::Place>>,
    /// Orders open or on a committed trip (not yet picked up, not
    /// cancelled): what every tick plans, without walking the whole day.
    unpicked: BTreeSet<OrderId>,
    /// Recent placements (time, restaurant), oldest first: the demand
    /// idle riders are moved towards.
    recent: VecDeque<(Secs, u32)>,
    /// Where each rider that can work will be free, and when it was last
    /// heard from: the candidate generator's index.
    free_at: PlanarIndex<RiderId>,
    /// The restaurants' planar positions, parallel to `restaurants`.
    restaurants_xy: Vec<[f64; 2]>,
    /// Set when single legs are costly (a road network): each tick plans
    /// on a many-to-many matrix, kept from tick to tick.
    travel_cache: Option<online::TravelCache<T::Place>>,
}

/// How far back placements count as demand.
const DEMAND_WINDOW_SECS: Secs = 3600;

impl<T: TravelTime> Engine<T> {
    /// An engine with no orders and no riders.
    pub fn new(travel: T, restaurants: Vec<T::Place>, config: EngineConfig) -> Self {
        let restaurants_xy = restaurants.iter().map(|p| travel.planar_meters(p)).collect();
        Self {
            free_at: PlanarIndex::new(config.candidates.stale_after_secs),
            restaurants_xy,
            travel,
            restaurants,
            config,
            orders: BTreeMap::new(),
            riders: BTreeMap::new(),
            unpicked: BTreeSet::new(),
            recent: VecDeque::new(),
            travel_cache: None,
        }
    }

    /// Plans every [`Engine::tick`] on a many-to-many matrix kept across
    /// ticks ([`online::plan_with_cache`]) instead of leg by leg: for a
    /// travel source whose single legs are costly queries.
    pub fn plan_on_kept_matrices(&mut self) {
        self.travel_cache = Some(online::TravelCache::default());
    }

    /// Puts restaurant `index` at `place`. The next free index adds a
    /// restaurant (onboarded while the city runs). An existing one moves
    /// only while none of its orders waits for pickup: riders on their way
    /// were timed to where it was.
    pub fn put_restaurant(&mut self, index: u32, place: T::Place) -> Result<(), EngineError> {
        let i = index as usize;
        if i > self.restaurants.len() {
            return Err(EngineError::UnknownRestaurant(index));
        }
        let xy = self.travel.planar_meters(&place);
        if i == self.restaurants.len() {
            self.restaurants.push(place);
            self.restaurants_xy.push(xy);
            return Ok(());
        }
        let waiting = self
            .unpicked
            .iter()
            .filter(|o| self.orders.get(o).is_some_and(|r| r.spec.restaurant == index))
            .count();
        if waiting > 0 {
            return Err(EngineError::RestaurantBusy {
                restaurant: index,
                orders: waiting,
            });
        }
        self.restaurants[i] = place;
        self.restaurants_xy[i] = xy;
        Ok(())
    }

    /// What a known rider rides and carries from now on: trips it was
    /// sent on keep their times; what is only pencilled in is timed anew.
    pub fn set_rider_kit(
        &mut self,
        rider: RiderId,
        vehicle: crate::map::Vehicle,
        capacity_orders: Option<u32>,
    ) -> Result<(), EngineError> {
        let rec = self
            .riders
            .get_mut(&rider)
            .ok_or(EngineError::UnknownRider(rider))?;
        rec.spec.vehicle = vehicle;
        rec.spec.capacity_orders = capacity_orders;
        Ok(())
    }

    /// Where restaurant `index` is.
    pub fn restaurant_place(&self, index: u32) -> Option<&T::Place> {
        self.restaurants.get(index as usize)
    }

    /// The status of one order.
    pub fn order_status(&self, order: OrderId) -> Option<&OrderStatus> {
        self.orders.get(&order).map(|o| &o.status)
    }

    /// One order and its status.
    pub fn order(&self, order: OrderId) -> Option<(&OrderSpec<T::Place>, &OrderStatus)> {
        self.orders.get(&order).map(|o| (&o.spec, &o.status))
    }

    /// Whether a rider is on shift (takes new work).
    pub fn is_rider_online(&self, rider: RiderId) -> bool {
        self.riders.get(&rider).is_some_and(|r| r.online)
    }

    /// Every order the engine knows, with its status, by id.
    pub fn orders(&self) -> impl Iterator<Item = (&OrderSpec<T::Place>, &OrderStatus)> {
        self.orders.values().map(|o| (&o.spec, &o.status))
    }

    /// What a rider is doing.
    pub fn rider_activity(&self, rider: RiderId) -> Option<&Activity<T::Place>> {
        self.riders.get(&rider).map(|r| &r.activity)
    }

    /// Service times around pickups and drop-offs.
    pub fn service(&self) -> ServiceSecs {
        self.config.service
    }

    /// Whether any order can still move: one is on a rider's trip or in
    /// its hands, or one is open while some online rider can still pick up
    /// at or after `now_secs`.
    pub fn has_work(&self, now_secs: Secs) -> bool {
        let carrying = self
            .riders
            .values()
            .any(|r| matches!(r.activity, Activity::Delivering { .. }));
        let on_shift = || {
            self.riders
                .values()
                .any(|r| r.online && r.spec.off_secs >= now_secs)
        };
        carrying
            || self
                .unpicked
                .iter()
                .any(|o| match self.orders.get(o).map(|r| &r.status) {
                    Some(OrderStatus::Assigned { .. }) => true,
                    Some(OrderStatus::Open) => on_shift(),
                    _ => false,
                })
    }

    /// Applies one event that happened at `now_secs`.
    pub fn handle(&mut self, now_secs: Secs, event: Event<T::Place>) -> Result<(), EngineError> {
        match event {
            Event::OrderPlaced(spec) => self.place_order(spec),
            Event::OrderCancelled { order, reason } => self.cancel_order(now_secs, order, reason),
            Event::RiderOnline(spec) => self.rider_online(now_secs, spec),
            Event::RiderOffline { rider } => self.rider_offline(rider),
            Event::Delivered { rider, order } => {
                self.heard_from(now_secs, rider);
                self.delivered(now_secs, rider, order)
            }
            Event::OrderReady { order } => self.order_ready(now_secs, order),
        }
    }

    /// Plans and returns what the world must do now: [`Engine::begin_tick`],
    /// the planner, [`Engine::finish_tick`] in one go (the simulator's way).
    pub fn tick(&mut self, now_secs: Secs) -> (Vec<Command>, TickStats) {
        let pending = self.begin_tick(now_secs);
        let started = Instant::now();
        let plan = match &mut self.travel_cache {
            // A source that cannot give the matrix plans nothing this tick
            // (a strongly connected road network always can).
            Some(cache) => {
                online::plan_with_cache(&pending.snapshot, &self.travel, &self.config.policy, cache)
                    .unwrap_or_default()
            }
            None => online::plan(&pending.snapshot, &self.travel, &self.config.policy),
        };
        let plan_micros = started.elapsed().as_micros() as u64;
        self.finish_tick(pending, &plan, plan_micros)
    }

    /// The first half of a tick: an owned snapshot the planner can work on
    /// anywhere (a rayon worker), while this engine keeps taking events.
    pub fn begin_tick(&mut self, now_secs: Secs) -> PendingTick<T::Place> {
        while self
            .recent
            .front()
            .is_some_and(|&(t, _)| t <= now_secs - DEMAND_WINDOW_SECS)
        {
            self.recent.pop_front();
        }
        let (snapshot, order_ids, rider_ids) = self.snapshot(now_secs);
        PendingTick {
            snapshot,
            order_ids,
            rider_ids,
        }
    }

    /// The second half: applies `plan` (made from `pending`'s snapshot).
    /// Whatever changed meanwhile wins: an order cancelled or a rider gone
    /// since the snapshot is skipped, never resurrected.
    pub fn finish_tick(
        &mut self,
        pending: PendingTick<T::Place>,
        plan: &Plan,
        plan_micros: u64,
    ) -> (Vec<Command>, TickStats) {
        let now_secs = pending.snapshot.now_secs;
        let mut commands = self.apply(now_secs, plan, &pending.order_ids, &pending.rider_ids);
        commands.extend(self.seal_due(now_secs));
        let stats = TickStats {
            now_secs,
            plan_micros,
            open_orders: pending.snapshot.orders.len(),
            riders: pending.snapshot.riders.len(),
        };
        (commands, stats)
    }

    /// Every rider the engine knows, with what it is doing, by id.
    pub fn riders(&self) -> impl Iterator<Item = (&RiderSpec<T::Place>, &Activity<T::Place>)> {
        self.riders.values().map(|r| (&r.spec, &r.activity))
    }

    /// Replays one record of a journal. An event the engine refused when it
    /// happened is refused again (it changed nothing then either); a
    /// decision naming a rider, order or restaurant this engine does not
    /// know (a journal from another city) is an error and changes nothing.
    pub fn restore(&mut self, record: Record<T::Place>) -> Result<(), EngineError> {
        match record {
            Record::Event { at_secs, event } => {
                let _ = self.handle(at_secs, event);
                Ok(())
            }
            Record::Decision { command } => self.replay(&command),
        }
    }

    /// Checks that a decision only names what this engine knows.
    fn check_known(&self, command: &Command) -> Result<(), EngineError> {
        let (rider, restaurant, orders): (RiderId, Option<u32>, &[OrderId]) = match command {
            Command::Depart {
                rider,
                restaurant,
                orders,
                ..
            } => (*rider, Some(*restaurant), orders),
            Command::Join { rider, orders, .. } => (*rider, None, orders),
            Command::Release { rider, .. } => (*rider, None, &[]),
            Command::Reposition {
                rider, restaurant, ..
            } => (*rider, Some(*restaurant), &[]),
            Command::PickUp { rider, trip, .. } => (*rider, Some(trip.restaurant), &trip.orders),
        };
        if !self.riders.contains_key(&rider) {
            return Err(EngineError::UnknownRider(rider));
        }
        if let Some(r) = restaurant.filter(|&r| r as usize >= self.restaurants.len()) {
            return Err(EngineError::UnknownRestaurant(r));
        }
        match orders.iter().find(|o| !self.orders.contains_key(o)) {
            Some(o) => Err(EngineError::UnknownOrder(*o)),
            None => Ok(()),
        }
    }

    /// Re-applies a decision taken earlier (from a journal, after a
    /// restart), without planning: the state after replaying a run's
    /// events and commands in their order is the state the run had.
    pub fn replay(&mut self, command: &Command) -> Result<(), EngineError> {
        self.check_known(command)?;
        match command {
            Command::Depart {
                rider,
                restaurant,
                orders,
                depart_secs,
                arrive_secs,
            } => self.commit_depart(*rider, *restaurant, orders, *depart_secs, *arrive_secs),
            Command::Join {
                rider,
                orders,
                at_secs,
            } => {
                let _ = self.extend_trip(*at_secs, *rider, orders.clone());
            }
            Command::Release { rider, at_secs } => self.commit_release(*rider, *at_secs),
            Command::Reposition {
                rider,
                restaurant,
                arrive_secs,
                ..
            } => self.commit_reposition(*rider, *restaurant, *arrive_secs),
            Command::PickUp {
                rider,
                trip,
                pickup_secs,
                dropoff_secs,
            } => self.commit_pickup(*rider, trip, *pickup_secs, dropoff_secs),
        }
        Ok(())
    }

    /// The travel-time source (for planning off the engine's thread).
    pub fn travel(&self) -> &T {
        &self.travel
    }

    /// The dispatch policy.
    pub fn policy(&self) -> Policy {
        self.config.policy
    }
}
