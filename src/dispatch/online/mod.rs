//! Online trip planning: which rider takes which bundle of one restaurant's
//! orders, and when the rider must leave, given what is known *now*.
//!
//! The engine calls [`plan`] every tick with a [`Snapshot`] of open orders
//! and riders; the result says which trips to commit now and which are only
//! pencilled in (re-planned next tick, so decisions stay open as long as
//! they can). Pure and synchronous: no engine, no clock, no I/O; travel
//! times come through the `TravelTime` trait.

mod candidates;
mod insertion;
mod naive;
mod reposition;
mod timing;
mod travel_cache;

use serde::Serialize;

use crate::map::{TravelTime, Vehicle};

pub use timing::{
    ServiceSecs, TripStart, TripTiming, UNREACHABLE_SECS, time_dropoffs, time_trip, travel_secs,
};
pub use travel_cache::TravelCache;

use crate::base::Secs;

/// An order the planner may place: open, or already on a committed trip.
#[derive(Debug, Clone)]
pub struct OrderView<P> {
    /// The caller's id, returned untouched in [`PlannedTrip::orders`].
    pub id: u64,
    pub restaurant: u32,
    pub customer: P,
    pub placed_secs: Secs,
    pub ready_secs: Secs,
}

/// A trip a rider has been sent on and cannot be diverted from: it heads
/// to (or waits at) `restaurant`; more of its orders may still join.
#[derive(Debug, Clone)]
pub struct CommittedTrip {
    pub restaurant: u32,
    pub arrive_secs: Secs,
    /// Indices into [`Snapshot::orders`], in drop-off order.
    pub orders: Vec<usize>,
}

/// What the planner needs to know of a rider.
#[derive(Debug, Clone)]
pub struct RiderView<P> {
    /// The caller's id, returned untouched.
    pub id: u64,
    /// Where and from when the rider can start new work (after its
    /// current deliveries, or its shift start).
    pub free_place: P,
    pub free_secs: Secs,
    /// No pickup after this time (shift end).
    pub off_secs: Secs,
    pub committed: Option<CommittedTrip>,
    /// What it rides: its trips are timed on this vehicle's roads.
    pub vehicle: Vehicle,
    /// Most orders it carries at once (None: the policy's bundle limit).
    pub capacity_orders: Option<u32>,
}

/// Everything the planner sees at one tick.
#[derive(Debug, Clone)]
pub struct Snapshot<P> {
    pub now_secs: Secs,
    pub restaurants: Vec<P>,
    /// Open orders and orders on committed trips.
    pub orders: Vec<OrderView<P>>,
    pub riders: Vec<RiderView<P>>,
    pub service: ServiceSecs,
    /// Recent orders per restaurant (the caller's count of the past hour),
    /// which idle riders are moved towards.
    pub demand: Vec<f64>,
    /// Per restaurant, the riders that may take its new orders; `None`:
    /// every rider may take every order (small fleets, tests).
    pub candidates: Option<Vec<Shortlist>>,
}

/// The riders near one restaurant by straight line (the caller's spatial
/// index), of which the planner keeps the `keep` that can be there first
/// by travel time. A rider already on a trip to the restaurant is always
/// in `riders`, so orders can join its trip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shortlist {
    /// Indices into [`Snapshot::riders`], in the order the caller ranked
    /// them.
    pub riders: Vec<usize>,
    pub keep: usize,
}

/// Knobs of the rolling-horizon policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RollingParams {
    /// Most orders in one bundle.
    pub bundle_orders_max: usize,
    /// Cost of one second of rider time, against one second of an order's
    /// click-to-door: what makes bundling worth a later drop-off.
    pub rider_time_weight: f64,
    /// The same when riders are scarce: a plan in which some pickup is
    /// later than `scarce_late_secs` after the food is ready is redone
    /// with this weight, so riders bundle more at peaks.
    pub scarce_rider_time_weight: f64,
    pub scarce_late_secs: Secs,
    /// Idle riders farther than this from every restaurant with recent
    /// demand move towards one (0: never).
    pub reposition_min_secs: Secs,
    /// Only riders with at least this much shift left are moved.
    pub reposition_shift_left_secs: Secs,
    /// Time between ticks: a trip is committed when waiting for the next
    /// tick would delay it.
    pub tick_secs: Secs,
}

impl Default for RollingParams {
    fn default() -> Self {
        Self {
            bundle_orders_max: 4,
            rider_time_weight: 0.1,
            scarce_rider_time_weight: 0.3,
            scarce_late_secs: 300,
            reposition_min_secs: 180,
            reposition_shift_left_secs: 1800,
            tick_secs: 60,
        }
    }
}

impl RollingParams {
    /// Applies `key=value,...` overrides (the CLI's `--tune`).
    pub fn with_overrides(mut self, text: &str) -> Result<Self, String> {
        for (k, v) in super::parse_knobs(text)? {
            match k {
                "bundle_orders_max" => self.bundle_orders_max = (v as usize).max(1),
                "rider_time_weight" => self.rider_time_weight = v,
                "scarce_rider_time_weight" => self.scarce_rider_time_weight = v,
                "scarce_late_secs" => self.scarce_late_secs = v as Secs,
                "reposition_min_secs" => self.reposition_min_secs = v as Secs,
                "reposition_shift_left_secs" => self.reposition_shift_left_secs = v as Secs,
                other => return Err(format!("unknown tuning key {other:?}")),
            }
        }
        Ok(self)
    }
}

/// A dispatch policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Policy {
    /// Baseline: each order, as soon as placed, to the nearest idle rider;
    /// one order per trip.
    NearestIdle,
    /// Look-ahead insertion into every rider's queue of trips, bundling
    /// when rider time is worth more than the later drop-off, committing
    /// just in time.
    Rolling(RollingParams),
}

impl Policy {
    /// Parses a policy name (`naive` or `rolling`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "naive" | "nearest-idle" => Some(Policy::NearestIdle),
            "rolling" => Some(Policy::Rolling(RollingParams::default())),
            _ => None,
        }
    }

    /// The policy's short name, as `from_name` reads it.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::NearestIdle => "naive",
            Policy::Rolling(_) => "rolling",
        }
    }
}

/// One trip of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTrip {
    /// Index into [`Snapshot::riders`].
    pub rider: usize,
    pub restaurant: u32,
    /// Indices into [`Snapshot::orders`], in drop-off order.
    pub orders: Vec<usize>,
    /// Whether this is the rider's committed trip (possibly extended).
    pub committed: bool,
    /// Whether the rider must leave for it now.
    pub depart_now: bool,
    pub timing: TripTiming,
}

/// The planner's answer for one tick.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Every rider's trips in order: committed ones (with any orders that
    /// joined), trips to start now, and pencilled-in ones.
    pub trips: Vec<PlannedTrip>,
    /// Open orders no rider can take (yet).
    pub unplanned: Vec<usize>,
    /// Idle riders to move now: (index into the snapshot's riders,
    /// restaurant).
    pub repositions: Vec<(usize, u32)>,
}

/// Plans one tick under `policy`.
pub fn plan<T: TravelTime>(snapshot: &Snapshot<T::Place>, travel: &T, policy: &Policy) -> Plan {
    match policy {
        Policy::NearestIdle => naive::plan(snapshot, travel),
        Policy::Rolling(params) => {
            let allowed = candidates::allowed(snapshot, travel);
            let allowed = allowed.as_deref();
            let scarce = RollingParams {
                rider_time_weight: params.scarce_rider_time_weight,
                ..*params
            };
            let is_late = |plan: &Plan| latest_pickup_delay_secs(snapshot, plan) > params.scarce_late_secs;
            let mut plan = if likely_scarce(snapshot, params) {
                // Both plans at once on the pool: the same choice as in
                // turn, in the time of one when a core is free.
                let (plan, plan_scarce) = rayon::join(
                    || insertion::plan(snapshot, travel, params, allowed),
                    || insertion::plan(snapshot, travel, &scarce, allowed),
                );
                if is_late(&plan) { plan_scarce } else { plan }
            } else {
                let plan = insertion::plan(snapshot, travel, params, allowed);
                if is_late(&plan) {
                    insertion::plan(snapshot, travel, &scarce, allowed)
                } else {
                    plan
                }
            };
            plan.repositions = reposition::plan(snapshot, travel, &plan, params);
            plan
        }
    }
}

/// Open orders from which planning twice is likely: this many, with one
/// whose food has already waited past `scarce_late_secs` (no plan can
/// pick it up before now).
const SCARCE_LIKELY_OPEN_MIN: usize = 64;

/// Whether the plan will probably be redone for scarce riders: decides
/// only whether both plans run at once, never which one is kept.
fn likely_scarce<P>(s: &Snapshot<P>, params: &RollingParams) -> bool {
    let mut open = vec![true; s.orders.len()];
    for c in s.riders.iter().filter_map(|r| r.committed.as_ref()) {
        for &o in &c.orders {
            if let Some(t) = open.get_mut(o) {
                *t = false;
            }
        }
    }
    let mut open = s
        .orders
        .iter()
        .zip(open)
        .filter(|(_, open)| *open)
        .map(|(o, _)| o);
    open.clone().count() >= SCARCE_LIKELY_OPEN_MIN
        && open.any(|o| o.ready_secs + params.scarce_late_secs < s.now_secs)
}

/// How long the food of the plan's worst order waits for its rider.
fn latest_pickup_delay_secs<P>(s: &Snapshot<P>, plan: &Plan) -> Secs {
    plan.trips
        .iter()
        .flat_map(|t| {
            t.orders
                .iter()
                .map(move |&o| t.timing.pickup_secs - s.orders[o].ready_secs)
        })
        .max()
        .unwrap_or(0)
}

/// Plans one tick on a travel source whose single legs are costly (a road
/// network): one many-to-many matrix over the snapshot's places (riders'
/// free places, restaurants, customers), then the plan on that matrix. The
/// plan is the one [`plan`] would make with the same travel times at
/// `now_secs`.
pub fn plan_with_matrix<T: TravelTime>(
    snapshot: &Snapshot<T::Place>,
    travel: &T,
    policy: &Policy,
) -> Result<Plan, crate::map::MapError> {
    plan_with_cache(snapshot, travel, policy, &mut TravelCache::default())
}

/// [`plan_with_matrix`] reusing the travel times of earlier ticks kept in
/// `cache` (the live server keeps one): only new places, new destinations
/// and riders that moved are asked of `travel`.
pub fn plan_with_cache<T: TravelTime>(
    snapshot: &Snapshot<T::Place>,
    travel: &T,
    policy: &Policy,
    cache: &mut TravelCache<T::Place>,
) -> Result<Plan, crate::map::MapError> {
    use travel_cache::Key;
    let s = snapshot;
    let mut keys: Vec<(Key, &T::Place)> =
        Vec::with_capacity(s.restaurants.len() + s.orders.len() + s.riders.len());
    keys.extend(
        s.restaurants
            .iter()
            .enumerate()
            .map(|(i, p)| (Key::Restaurant(i as u32), p)),
    );
    keys.extend(s.orders.iter().map(|o| (Key::Customer(o.id), &o.customer)));
    // Riders' places come last and are only ever left: they need rows,
    // not columns (with thousands of riders, the difference is the matrix).
    let destinations = keys.len();
    keys.extend(s.riders.iter().map(|r| (Key::Rider(r.id), &r.free_place)));
    let restaurants: Vec<u32> = (0..s.restaurants.len() as u32).collect();
    let orders: Vec<OrderView<u32>> = s
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| OrderView {
            id: o.id,
            restaurant: o.restaurant,
            customer: (s.restaurants.len() + i) as u32,
            placed_secs: o.placed_secs,
            ready_secs: o.ready_secs,
        })
        .collect();
    let riders: Vec<RiderView<u32>> = s
        .riders
        .iter()
        .enumerate()
        .map(|(i, r)| RiderView {
            id: r.id,
            free_place: (destinations + i) as u32,
            free_secs: r.free_secs,
            off_secs: r.off_secs,
            committed: r.committed.clone(),
            vehicle: r.vehicle,
            capacity_orders: r.capacity_orders,
        })
        .collect();
    let of_day = s.now_secs.rem_euclid(86_400) as u32;
    cache.start_tick(s.now_secs);
    // One matrix per vehicle ridden (one in a city of one vehicle).
    let mut vehicles: Vec<Vehicle> = riders.iter().map(|r| r.vehicle).collect();
    vehicles.sort_unstable();
    vehicles.dedup();
    if vehicles.is_empty() {
        vehicles.push(Vehicle::default());
    }
    cache.keep_vehicles(&vehicles);
    let matrices = vehicles
        .into_iter()
        .map(|v| {
            cache
                .matrix(travel, v, &keys, &keys[..destinations], of_day)
                .map(|m| (v, m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let matrix = crate::map::VehicleMatrices::new(matrices);
    let indexed = Snapshot {
        now_secs: s.now_secs,
        restaurants,
        orders,
        riders,
        service: s.service,
        demand: s.demand.clone(),
        candidates: s.candidates.clone(),
    };
    Ok(plan(&indexed, &matrix, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(open: usize, overdue_secs: Secs, committed: bool) -> Snapshot<u32> {
        let now = 10_000;
        let orders = (0..open)
            .map(|k| OrderView {
                id: k as u64,
                restaurant: 0,
                customer: 1,
                placed_secs: now - 600,
                ready_secs: if k == 0 { now - overdue_secs } else { now },
            })
            .collect();
        let rider = RiderView {
            id: 0,
            free_place: 0,
            free_secs: now,
            off_secs: now + 3600,
            committed: committed.then(|| CommittedTrip {
                restaurant: 0,
                arrive_secs: now,
                orders: vec![0],
            }),
            vehicle: Vehicle::default(),
            capacity_orders: None,
        };
        Snapshot {
            now_secs: now,
            restaurants: vec![0],
            orders,
            riders: vec![rider],
            service: ServiceSecs::split(240, 240),
            demand: vec![0.0],
            candidates: None,
        }
    }

    #[test]
    fn both_plans_run_at_once_only_when_food_already_waits_too_long() {
        let p = RollingParams::default();
        let late = p.scarce_late_secs + 1;
        let min = SCARCE_LIKELY_OPEN_MIN;
        assert!(likely_scarce(&snapshot(min, late, false), &p));
        assert!(!likely_scarce(&snapshot(min, p.scarce_late_secs, false), &p));
        assert!(!likely_scarce(&snapshot(min - 1, late, false), &p));
        // The overdue order is already on its rider's trip: not open.
        assert!(!likely_scarce(&snapshot(min + 1, late, true), &p));
    }
}
