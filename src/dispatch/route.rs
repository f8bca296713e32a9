//! One rider's route with the cached schedule that makes insertion checks
//! cheap: service start times forward, latest feasible start times
//! backward, and the load after each stop.
//!
//! Inserting a pickup after position `i` and its drop-off after position
//! `j ≥ i` is checked in O(1) per `(i, j)` pair: the pickup's delay is
//! pushed forward one stop at a time as `j` advances, and everything after
//! the drop-off is checked against the cached latest start times.

use super::problem::Problem;

/// Feasibility tolerance on times, well inside the 1e-6 the benchmark's
/// verifier allows, so floating-point noise never flips a verdict.
pub const TIME_EPS: f64 = 1e-7;

/// [`Insertion::after_pickup`] of a drop-off-only insertion (the pickup
/// is already on the route, committed).
pub const PICKUP_IN_PLACE: usize = usize::MAX;

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
        let m = self.stops.len();
        self.start_secs.resize(m, 0.0);
        self.latest_secs.resize(m, 0.0);
        self.load.resize(m, 0);
        self.distance = 0.0;
        let first = p.stop(self.stops[0]);
        self.start_secs[0] = first.earliest_secs;
        self.load[0] = first.load_change;
        for k in 1..m {
            let (a, b) = (self.stops[k - 1], self.stops[k]);
            let arrival = self.start_secs[k - 1] + p.stop(a).service_secs + p.travel(a, b);
            self.start_secs[k] = arrival.max(p.stop(b).earliest_secs);
            self.load[k] = self.load[k - 1] + p.stop(b).load_change;
            self.distance += p.distance(a, b);
        }
        self.latest_secs[m - 1] = p.stop(self.stops[m - 1]).latest_secs;
        for k in (0..m - 1).rev() {
            let (a, b) = (self.stops[k], self.stops[k + 1]);
            let by_next = self.latest_secs[k + 1] - p.travel(a, b) - p.stop(a).service_secs;
            self.latest_secs[k] = p.stop(a).latest_secs.min(by_next);
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
        let ps = p.stop(o.pickup);
        let (pu, de) = (o.pickup, o.delivery);
        let q = ps.load_change;
        let cap = p.riders[self.rider as usize].capacity;
        let m = self.stops.len();
        let mut best: Option<Insertion> = None;
        let mut best_cost = bound;
        for i in self.locked.min(m - 1) - 1..m - 1 {
            if self.load[i] + q > cap || skip() {
                continue;
            }
            let (a, b) = (self.stops[i], self.stops[i + 1]);
            let arrive_p = self.start_secs[i] + p.stop(a).service_secs + p.travel(a, pu);
            if arrive_p > ps.latest_secs + TIME_EPS {
                continue;
            }
            let base = p.distance(a, pu) - p.distance(a, b);
            // Any drop-off placement adds at least nothing (triangle
            // inequality, up to the problem's slack): a pickup position that
            // already costs more than the best insertion cannot win.
            if base + p.distance(pu, b) - p.triangle_slack_meters >= best_cost {
                continue;
            }
            let depart_p = arrive_p.max(ps.earliest_secs) + ps.service_secs;
            // Drop-off right after the pickup.
            let cost = base + p.distance(pu, de) + p.distance(de, b);
            if cost < best_cost && self.fits_after(p, de, depart_p + p.travel(pu, de), i + 1) {
                best_cost = cost;
                best = Some(Insertion {
                    cost,
                    after_pickup: i,
                    after_delivery: i,
                });
            }
            // Drop-off later: push the pickup's delay forward stop by stop.
            let pickup_cost = base + p.distance(pu, b);
            let (mut prev, mut depart_prev) = (pu, depart_p);
            for j in i + 1..m - 1 {
                let k = self.stops[j];
                let start_k = (depart_prev + p.travel(prev, k)).max(p.stop(k).earliest_secs);
                if start_k > self.latest_secs[j] + TIME_EPS || self.load[j] + q > cap {
                    break;
                }
                let depart_k = start_k + p.stop(k).service_secs;
                let next = self.stops[j + 1];
                let cost = pickup_cost + p.distance(k, de) + p.distance(de, next) - p.distance(k, next);
                if cost < best_cost && self.fits_after(p, de, depart_k + p.travel(k, de), j + 1) {
                    best_cost = cost;
                    best = Some(Insertion {
                        cost,
                        after_pickup: i,
                        after_delivery: j,
                    });
                }
                (prev, depart_prev) = (k, depart_k);
            }
        }
        best
    }

    /// The cheapest feasible place for the drop-off of `order`, whose
    /// pickup is among this route's committed stops.
    pub fn best_delivery_insertion(&self, p: &Problem, order: u32, bound: f64) -> Option<Insertion> {
        let de = p.orders[order as usize].delivery;
        let m = self.stops.len();
        let mut best: Option<Insertion> = None;
        let mut best_cost = bound;
        for j in self.locked.min(m - 1) - 1..m - 1 {
            let (k, next) = (self.stops[j], self.stops[j + 1]);
            let cost = p.distance(k, de) + p.distance(de, next) - p.distance(k, next);
            let arrive = self.start_secs[j] + p.stop(k).service_secs + p.travel(k, de);
            if cost < best_cost && self.fits_after(p, de, arrive, j + 1) {
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

    /// Can drop-off stop `de`, reached at `arrive`, be served and the rest
    /// of the route from position `next` still be on time?
    #[inline]
    fn fits_after(&self, p: &Problem, de: u32, arrive: f64, next: usize) -> bool {
        let ds = p.stop(de);
        if arrive > ds.latest_secs + TIME_EPS {
            return false;
        }
        let n = self.stops[next];
        let start_next =
            (arrive.max(ds.earliest_secs) + ds.service_secs + p.travel(de, n)).max(p.stop(n).earliest_secs);
        start_next <= self.latest_secs[next] + TIME_EPS
    }

    /// Applies an insertion found by [`Route::best_insertion`].
    pub fn insert(&mut self, p: &Problem, order: u32, ins: Insertion) {
        let o = p.orders[order as usize];
        self.stops.insert(ins.after_delivery + 1, o.delivery);
        if ins.after_pickup != PICKUP_IN_PLACE {
            self.stops.insert(ins.after_pickup + 1, o.pickup);
        }
        self.update(p);
    }

    /// Removes every stop of the orders `remove` says yes to (never a
    /// committed stop).
    pub fn remove_orders(&mut self, p: &Problem, remove: impl Fn(u32) -> bool) {
        let last = self.stops.len() - 1;
        let locked = self.locked;
        let mut k = 0;
        self.stops.retain(|&s| {
            let keep = k < locked || k == last || !remove(p.stop(s).order);
            k += 1;
            keep
        });
        self.update(p);
    }
}
