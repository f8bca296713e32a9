//! One rider's route with the cached schedule that makes insertion checks
//! cheap: service start times forward, latest feasible start times
//! backward, and the load after each stop.
//!
//! Inserting a pickup after position `i` and its drop-off after position
//! `j ≥ i` is checked in O(1) per `(i, j)` pair: the pickup's delay is
//! pushed forward one stop at a time as `j` advances, and everything after
//! the drop-off is checked against the cached latest start times. Pickup
//! and drop-off places outside their time windows are cut off by binary
//! search first.
//!
//! Every insertion returned is feasible. It is the cheapest one when
//! travel times obey the triangle inequality (Euclidean instances,
//! shortest-path times); where they do not, a place reachable only
//! through a shortcut may be missed.

use std::ops::Range;

use super::problem::{Problem, Stop, StopRows};

/// Feasibility tolerance on times, well inside the 1e-6 the benchmark's
/// verifier allows, so floating-point noise never flips a verdict.
pub const TIME_EPS: f64 = 1e-7;

/// [`Insertion::after_pickup`] of a drop-off-only insertion (the pickup
/// is already on the route, committed).
pub const PICKUP_IN_PLACE: usize = usize::MAX;

thread_local! {
    /// [`Route::fill_detour_min`]'s buffer, reused across insertions.
    static DETOUR_MIN: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Where to put an order: pickup after route position `after_pickup`,
/// drop-off after position `after_delivery` of the *original* route
/// (equal positions mean "right after the pickup").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Insertion {
    pub cost: f64,
    pub after_pickup: usize,
    pub after_delivery: usize,
}

/// A rider's sequence of stops, from its start stop to its end stop.
#[derive(Debug)]
pub struct Route {
    pub rider: u32,
    stops: Vec<u32>,
    /// Positions `0..locked` (start and committed stops) never change.
    locked: usize,
    start_secs: Vec<f64>,
    latest_secs: Vec<f64>,
    load: Vec<i32>,
    /// Distance and travel time from each position to the next.
    arc_meters: Vec<f64>,
    arc_secs: Vec<f64>,
    distance: f64,
}

impl Clone for Route {
    fn clone(&self) -> Self {
        Self {
            rider: self.rider,
            stops: self.stops.clone(),
            locked: self.locked,
            start_secs: self.start_secs.clone(),
            latest_secs: self.latest_secs.clone(),
            load: self.load.clone(),
            arc_meters: self.arc_meters.clone(),
            arc_secs: self.arc_secs.clone(),
            distance: self.distance,
        }
    }

    /// Reuses this route's buffers: the search copies solutions every
    /// iteration, and allocation was a fifth of its time.
    fn clone_from(&mut self, other: &Self) {
        self.rider = other.rider;
        self.stops.clone_from(&other.stops);
        self.locked = other.locked;
        self.start_secs.clone_from(&other.start_secs);
        self.latest_secs.clone_from(&other.latest_secs);
        self.load.clone_from(&other.load);
        self.arc_meters.clone_from(&other.arc_meters);
        self.arc_secs.clone_from(&other.arc_secs);
        self.distance = other.distance;
    }
}

impl Route {
    /// A route for `rider` with only its start, committed and end stops.
    pub fn empty(p: &Problem, rider: u32) -> Self {
        let r = &p.riders[rider as usize];
        let mut stops = vec![r.start];
        stops.extend(&r.committed);
        stops.push(r.end);
        Self::from_stops(p, rider, stops)
    }

    /// A route visiting `stops` (start and end stops included); the rider's
    /// committed stops must follow the start.
    pub fn from_stops(p: &Problem, rider: u32, stops: Vec<u32>) -> Self {
        let mut r = Self {
            rider,
            locked: 1 + p.riders[rider as usize].committed.len(),
            stops,
            start_secs: Vec::new(),
            latest_secs: Vec::new(),
            load: Vec::new(),
            arc_meters: Vec::new(),
            arc_secs: Vec::new(),
            distance: 0.0,
        };
        r.update(p);
        r
    }

    /// The stops, start and end included.
    pub fn stops(&self) -> &[u32] {
        &self.stops
    }

    /// The order-serving stops (start and end excluded).
    pub fn visits(&self) -> &[u32] {
        &self.stops[1..self.stops.len() - 1]
    }

    /// True when the route serves no order.
    pub fn is_empty(&self) -> bool {
        self.stops.len() <= 2
    }

    /// True when the solver may not empty this route (it has committed stops).
    pub fn has_commitments(&self) -> bool {
        self.locked > 1
    }

    /// The stops the solver may move (after the committed prefix).
    pub fn movable_visits(&self) -> &[u32] {
        &self.stops[self.locked.min(self.stops.len() - 1)..self.stops.len() - 1]
    }

    /// Total travel distance.
    pub fn distance(&self) -> f64 {
        self.distance
    }

    /// Service start time at each position.
    pub fn start_secs(&self) -> &[f64] {
        &self.start_secs
    }

    /// Recomputes the cached schedule after the stop list changed.
    pub fn update(&mut self, p: &Problem) {
        self.update_from(p, 0);
    }

    /// [`Route::update`] when the stops before position `from` are the same
    /// as at the last update: their start times, loads and arcs stand, and
    /// only the matrix reads after them (most of an update's cost) are made.
    fn update_from(&mut self, p: &Problem, from: usize) {
        let m = self.stops.len();
        self.start_secs.resize(m, 0.0);
        self.latest_secs.resize(m, 0.0);
        self.load.resize(m, 0);
        self.arc_meters.resize(m, 0.0);
        self.arc_secs.resize(m, 0.0);
        if from == 0 {
            let first = p.stop(self.stops[0]);
            self.start_secs[0] = first.earliest_secs;
            self.load[0] = first.load_change;
        }
        for k in from.max(1)..m {
            let (a, b) = (self.stops[k - 1], self.stops[k]);
            self.arc_meters[k - 1] = p.distance(a, b);
            self.arc_secs[k - 1] = p.travel(a, b);
            let arrival = self.start_secs[k - 1] + p.stop(a).service_secs + self.arc_secs[k - 1];
            self.start_secs[k] = arrival.max(p.stop(b).earliest_secs);
            self.load[k] = self.load[k - 1] + p.stop(b).load_change;
        }
        // Summed in route order, as always, so a route's distance does not
        // depend on which updates built it.
        self.distance = self.arc_meters[..m - 1].iter().sum();
        self.latest_secs[m - 1] = p.stop(self.stops[m - 1]).latest_secs;
        for k in (0..m - 1).rev() {
            let a = p.stop(self.stops[k]);
            let by_next = self.latest_secs[k + 1] - self.arc_secs[k] - a.service_secs;
            self.latest_secs[k] = a.latest_secs.min(by_next);
        }
    }

    /// Whether the route respects every time window and the capacity.
    pub fn is_feasible(&self, p: &Problem) -> bool {
        let cap = p.riders[self.rider as usize].capacity;
        self.stops.iter().enumerate().all(|(k, &s)| {
            self.start_secs[k] <= p.stop(s).latest_secs + TIME_EPS && self.load[k] >= 0 && self.load[k] <= cap
        })
    }

    /// The cheapest feasible insertion of `order`, if any is cheaper than
    /// `bound`. `skip` is asked once per pickup position and may veto it
    /// (SISR's "blinks").
    pub fn best_insertion(
        &self,
        p: &Problem,
        order: u32,
        bound: f64,
        mut skip: impl FnMut() -> bool,
    ) -> Option<Insertion> {
        let o = p.orders[order as usize];
        let (ps, ds) = (p.stop(o.pickup), p.stop(o.delivery));
        let (pu, de) = (p.rows(o.pickup), p.rows(o.delivery));
        let de_loc = ds.location as usize;
        let q = ps.load_change;
        let cap = p.riders[self.rider as usize].capacity;
        let m = self.stops.len();
        let first = self.locked.min(m - 1) - 1;
        let mut best: Option<Insertion> = None;
        let mut best_cost = bound;
        let window = self.window_positions(ps);
        let pickups = first.max(window.start)..window.end.min(m - 1);
        if pickups.is_empty() {
            return None;
        }
        let deliveries = self.window_positions(ds);
        DETOUR_MIN.with_borrow_mut(|detour_min| {
            self.fill_detour_min(p, &de, pickups.start, deliveries, detour_min);
            for i in pickups {
                if self.load[i] + q > cap || skip() {
                    continue;
                }
                let (a, b) = (p.stop(self.stops[i]), p.stop(self.stops[i + 1]));
                let (a_loc, b_loc) = (a.location as usize, b.location as usize);
                let arrive_p = self.start_secs[i] + a.service_secs + pu.travel_to_secs[a_loc];
                if arrive_p > ps.latest_secs + TIME_EPS {
                    continue;
                }
                let base = pu.distance_to_meters[a_loc] - self.arc_meters[i];
                // No drop-off place can beat the best: the cheapest right after
                // the pickup, or the cheapest detour anywhere later. Exact, so
                // it needs no triangle inequality (rounded road distances
                // break it).
                let pickup_cost = base + pu.distance_from_meters[b_loc];
                let direct_cost = base + pu.distance_from_meters[de_loc] + de.distance_from_meters[b_loc];
                if direct_cost >= best_cost && pickup_cost + detour_min[i + 1] >= best_cost {
                    continue;
                }
                let depart_p = arrive_p.max(ps.earliest_secs) + ps.service_secs;
                // Drop-off right after the pickup.
                if direct_cost < best_cost
                    && self.fits_after(p, &de, ds, depart_p + pu.travel_from_secs[de_loc], i + 1)
                {
                    best_cost = direct_cost;
                    best = Some(Insertion {
                        cost: direct_cost,
                        after_pickup: i,
                        after_delivery: i,
                    });
                }
                // Drop-off later: push the pickup's delay forward stop by stop.
                let mut depart_prev = depart_p;
                for (j, &detour_floor) in detour_min.iter().enumerate().take(m - 1).skip(i + 1) {
                    if pickup_cost + detour_floor >= best_cost {
                        break;
                    }
                    let k = p.stop(self.stops[j]);
                    let k_loc = k.location as usize;
                    let leg_secs = if j == i + 1 {
                        pu.travel_from_secs[k_loc]
                    } else {
                        self.arc_secs[j - 1]
                    };
                    let start_k = (depart_prev + leg_secs).max(k.earliest_secs);
                    if start_k > self.latest_secs[j] + TIME_EPS || self.load[j] + q > cap {
                        break;
                    }
                    let depart_k = start_k + k.service_secs;
                    let next_loc = p.stop(self.stops[j + 1]).location as usize;
                    let cost = pickup_cost + de.distance_to_meters[k_loc] + de.distance_from_meters[next_loc]
                        - self.arc_meters[j];
                    if cost < best_cost
                        && self.fits_after(p, &de, ds, depart_k + de.travel_to_secs[k_loc], j + 1)
                    {
                        best_cost = cost;
                        best = Some(Insertion {
                            cost,
                            after_pickup: i,
                            after_delivery: j,
                        });
                    }
                    depart_prev = depart_k;
                }
            }
        });
        best
    }

    /// The route positions a stop with these time windows can follow: the next stop's latest start must allow this stop's earliest
    /// service, and `i`'s own start must be no later than this stop's
    /// latest. Both are monotone along a route, hence the binary searches.
    /// Exact under the triangle inequality (a detour never makes a later
    /// stop start earlier), like the rest of this file's pruning.
    fn window_positions(&self, st: &Stop) -> Range<usize> {
        let ready = st.earliest_secs + st.service_secs;
        let next_from = self.latest_secs.partition_point(|&l| l + TIME_EPS < ready);
        let until = self
            .start_secs
            .partition_point(|&s| s <= st.latest_secs + TIME_EPS);
        next_from.saturating_sub(1)..until
    }

    /// Fills `out[j]` with the cheapest detour of putting the drop-off
    /// whose rows are `de` after any position `j' >= j` in `feasible` (from
    /// `first + 1` on; infinite after `feasible`): a lower bound that prunes
    /// most of the O(n²) pairs on long routes, where time windows alone
    /// prune little.
    fn fill_detour_min(
        &self,
        p: &Problem,
        de: &StopRows,
        first: usize,
        feasible: Range<usize>,
        out: &mut Vec<f64>,
    ) {
        let m = self.stops.len();
        out.clear();
        out.resize(m, f64::INFINITY);
        let lo = (first + 1).max(feasible.start);
        let hi = feasible.end.min(m - 1);
        let mut min = f64::INFINITY;
        let mut next_loc = p.stop(self.stops[hi]).location as usize;
        for j in (lo..hi).rev() {
            let k_loc = p.stop(self.stops[j]).location as usize;
            min = min
                .min(de.distance_to_meters[k_loc] + de.distance_from_meters[next_loc] - self.arc_meters[j]);
            out[j] = min;
            next_loc = k_loc;
        }
        // A drop-off cannot follow these: their floor is the first it can.
        for slot in out.iter_mut().take(lo.min(m - 1)).skip(first + 1) {
            *slot = min;
        }
    }

    /// The cheapest feasible place for the drop-off of `order`, whose
    /// pickup is among this route's committed stops.
    pub fn best_delivery_insertion(&self, p: &Problem, order: u32, bound: f64) -> Option<Insertion> {
        let ds = p.stop(p.orders[order as usize].delivery);
        let de = p.rows(p.orders[order as usize].delivery);
        let m = self.stops.len();
        let mut best: Option<Insertion> = None;
        let mut best_cost = bound;
        for j in self.locked.min(m - 1) - 1..m - 1 {
            let (k, next) = (p.stop(self.stops[j]), p.stop(self.stops[j + 1]));
            let k_loc = k.location as usize;
            let cost = de.distance_to_meters[k_loc] + de.distance_from_meters[next.location as usize]
                - self.arc_meters[j];
            let arrive = self.start_secs[j] + k.service_secs + de.travel_to_secs[k_loc];
            if cost < best_cost && self.fits_after(p, &de, ds, arrive, j + 1) {
                best_cost = cost;
                best = Some(Insertion {
                    cost,
                    after_pickup: PICKUP_IN_PLACE,
                    after_delivery: j,
                });
            }
        }
        best
    }

    /// Can drop-off `ds` (with rows `de`), reached at `arrive`, be served
    /// and the rest of the route from position `next` still be on time?
    #[inline]
    fn fits_after(&self, p: &Problem, de: &StopRows, ds: &Stop, arrive: f64, next: usize) -> bool {
        if arrive > ds.latest_secs + TIME_EPS {
            return false;
        }
        let n = p.stop(self.stops[next]);
        let start_next =
            (arrive.max(ds.earliest_secs) + ds.service_secs + de.travel_from_secs[n.location as usize])
                .max(n.earliest_secs);
        start_next <= self.latest_secs[next] + TIME_EPS
    }

    /// Applies an insertion found by [`Route::best_insertion`].
    pub fn insert(&mut self, p: &Problem, order: u32, ins: Insertion) {
        let o = p.orders[order as usize];
        self.stops.insert(ins.after_delivery + 1, o.delivery);
        if ins.after_pickup != PICKUP_IN_PLACE {
            self.stops.insert(ins.after_pickup + 1, o.pickup);
        }
        let changed = if ins.after_pickup == PICKUP_IN_PLACE {
            ins.after_delivery + 1
        } else {
            ins.after_pickup + 1
        };
        self.update_from(p, changed);
    }

    /// Removes every stop of the orders `remove` says yes to (never a
    /// committed stop).
    pub fn remove_orders(&mut self, p: &Problem, remove: impl Fn(u32) -> bool) {
        let last = self.stops.len() - 1;
        let locked = self.locked;
        let (mut k, mut changed) = (0, last);
        self.stops.retain(|&s| {
            let keep = k < locked || k == last || !remove(p.stop(s).order);
            if !keep {
                changed = changed.min(k);
            }
            k += 1;
            keep
        });
        self.update_from(p, changed);
    }
}
