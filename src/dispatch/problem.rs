//! The solver's input: stops with time windows, orders pairing a pickup
//! with a drop-off, riders with capacity and start/end stops, and a dense
//! travel matrix between the problem's locations.
//!
//! A `Problem` is a plain value: whoever builds it (the Li & Lim reader,
//! the JSON format, later the engine) has already resolved coordinates to
//! travel times through the `TravelTime` trait.

use super::DispatchError;

/// Marks "no order" on a rider's own stops.
pub const NO_ORDER: u32 = u32::MAX;

/// A place a rider must visit, with when service may start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    /// Row/column of the travel matrix.
    pub location: u32,
    /// Service may not start before this.
    pub earliest_secs: f64,
    /// Service must start by this.
    pub latest_secs: f64,
    pub service_secs: f64,
    /// Load picked up (+) or dropped off (−).
    pub load_change: i32,
    /// The order this stop belongs to, or [`NO_ORDER`] for rider starts/ends.
    pub order: u32,
}

/// A pickup and its drop-off, served by one rider in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub pickup: u32,
    pub delivery: u32,
    /// External id, as the input named it.
    pub external_id: u32,
}

/// A rider (vehicle) and where its route must start and end.
#[derive(Debug, Clone, PartialEq)]
pub struct Rider {
    pub start: u32,
    pub end: u32,
    pub capacity: i32,
    /// Stops already promised, visited right after `start` in this order
    /// and never moved by the solver (e.g. the drop-off of an order on
    /// board, whose pickup is a stop at the rider's position).
    pub committed: Vec<u32>,
}

/// Everything the solver needs, validated. Build it with [`Problem::new`]
/// and treat the riders and orders as read-only afterwards (derived
/// lookups are computed there).
#[derive(Debug, Clone)]
pub struct Problem {
    pub stops: Vec<Stop>,
    pub orders: Vec<Order>,
    pub riders: Vec<Rider>,
    locations: usize,
    /// Per stop, the rider it is committed to (or `u32::MAX`); derived
    /// from `riders` once, because recreate asks for every insertion.
    committed_to: Vec<u32>,
    travel_secs: Vec<f64>,
    distance_meters: Vec<f64>,
    /// The matrices transposed (row `to`, column `from`), so "from any
    /// stop to this one" reads one contiguous row; `None` when both are
    /// symmetric and the rows already serve.
    transposed: Option<(Vec<f64>, Vec<f64>)>,
}

/// One stop's rows of the matrices, indexed by location: insertion reads
/// them for every route position, so they stay in the L1 cache where a
/// strided matrix column would miss on every position.
#[derive(Debug, Clone, Copy)]
pub struct StopRows<'a> {
    pub travel_from_secs: &'a [f64],
    pub travel_to_secs: &'a [f64],
    pub distance_from_meters: &'a [f64],
    pub distance_to_meters: &'a [f64],
}

impl Problem {
    /// Assembles and validates a problem; matrices are row-major over
    /// `locations` rows.
    pub fn new(
        stops: Vec<Stop>,
        orders: Vec<Order>,
        riders: Vec<Rider>,
        travel_secs: Vec<f64>,
        distance_meters: Vec<f64>,
    ) -> Result<Self, DispatchError> {
        let locations = (travel_secs.len() as f64).sqrt() as usize;
        let p = Self {
            stops,
            orders,
            riders,
            committed_to: Vec::new(),
            locations,
            travel_secs,
            distance_meters,
            transposed: None,
        };
        let mut p = p;
        p.committed_to = p.validate()?;
        p.transposed = p.transpose();
        Ok(p)
    }

    /// The transposed matrices, unless both are symmetric.
    fn transpose(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let n = self.locations;
        let flip = |m: &[f64]| -> Vec<f64> { (0..n * n).map(|k| m[(k % n) * n + k / n]).collect() };
        let symmetric = |m: &[f64]| (0..n).all(|a| (a + 1..n).all(|b| m[a * n + b] == m[b * n + a]));
        if symmetric(&self.travel_secs) && symmetric(&self.distance_meters) {
            return None;
        }
        Some((flip(&self.travel_secs), flip(&self.distance_meters)))
    }

    /// Checks every index and rule; returns, per stop, the rider it is
    /// committed to (`u32::MAX` if none), which validation has to build anyway.
    fn validate(&self) -> Result<Vec<u32>, DispatchError> {
        let bad = |m: String| Err(DispatchError::InvalidProblem(m));
        let n = self.locations;
        if n * n != self.travel_secs.len() || self.distance_meters.len() != self.travel_secs.len() {
            return bad("travel matrices must be square and of equal size".into());
        }
        if self
            .travel_secs
            .iter()
            .chain(&self.distance_meters)
            .any(|x| !x.is_finite() || *x < 0.0)
        {
            return bad("travel matrices must hold finite, non-negative values".into());
        }
        for (i, s) in self.stops.iter().enumerate() {
            if s.location as usize >= n {
                return bad(format!("stop {i} refers to location {} of {n}", s.location));
            }
            if !(s.earliest_secs.is_finite() && s.latest_secs.is_finite() && s.service_secs.is_finite()) {
                return bad(format!("stop {i} has a non-finite time"));
            }
        }
        let stop_ok = |s: u32| (s as usize) < self.stops.len();
        for (i, o) in self.orders.iter().enumerate() {
            if !stop_ok(o.pickup) || !stop_ok(o.delivery) {
                return bad(format!("order {i} refers to a missing stop"));
            }
            let (p, d) = (&self.stops[o.pickup as usize], &self.stops[o.delivery as usize]);
            if p.load_change < 0 || p.load_change != -d.load_change {
                return bad(format!("order {i}: pickup and delivery loads must be +q and -q"));
            }
        }
        let mut committed_to = vec![u32::MAX; self.stops.len()];
        for (i, r) in self.riders.iter().enumerate() {
            if !stop_ok(r.start)
                || !stop_ok(r.end)
                || r.capacity < 0
                || !r.committed.iter().all(|&s| stop_ok(s))
            {
                return bad(format!("rider {i} is malformed"));
            }
            for &s in &r.committed {
                if self.stops[s as usize].order == NO_ORDER || committed_to[s as usize] != u32::MAX {
                    return bad(format!(
                        "rider {i}: committed stop {s} is not an order's or is committed twice"
                    ));
                }
                committed_to[s as usize] = i as u32;
            }
        }
        for (i, o) in self.orders.iter().enumerate() {
            let (a, b) = (committed_to[o.pickup as usize], committed_to[o.delivery as usize]);
            let pickup_first = |r: u32| {
                let c = &self.riders[r as usize].committed;
                c.iter().position(|&s| s == o.pickup) < c.iter().position(|&s| s == o.delivery)
            };
            if b != u32::MAX && (a != b || !pickup_first(a)) {
                return bad(format!(
                    "order {i}: a committed drop-off needs its pickup committed before it, to the same rider"
                ));
            }
        }
        Ok(committed_to)
    }

    /// Number of matrix locations.
    pub fn location_count(&self) -> usize {
        self.locations
    }

    /// Travel time between two stops.
    #[inline]
    pub fn travel(&self, from: u32, to: u32) -> f64 {
        let (a, b) = (
            self.stops[from as usize].location,
            self.stops[to as usize].location,
        );
        self.travel_secs[a as usize * self.locations + b as usize]
    }

    /// Travel distance between two stops.
    #[inline]
    pub fn distance(&self, from: u32, to: u32) -> f64 {
        let (a, b) = (
            self.stops[from as usize].location,
            self.stops[to as usize].location,
        );
        self.distance_meters[a as usize * self.locations + b as usize]
    }

    /// Stop `s`'s matrix rows, from it and to it.
    #[inline]
    pub fn rows(&self, s: u32) -> StopRows<'_> {
        let n = self.locations;
        let l = self.stops[s as usize].location as usize;
        let (travel_to, distance_to) = match &self.transposed {
            Some((t, d)) => (t.as_slice(), d.as_slice()),
            None => (self.travel_secs.as_slice(), self.distance_meters.as_slice()),
        };
        let at = l * n..(l + 1) * n;
        StopRows {
            travel_from_secs: &self.travel_secs[at.clone()],
            travel_to_secs: &travel_to[at.clone()],
            distance_from_meters: &self.distance_meters[at.clone()],
            distance_to_meters: &distance_to[at],
        }
    }

    /// Whether both stops of `order` are committed (it is never moved).
    pub fn is_committed(&self, order: u32) -> bool {
        self.committed_to[self.orders[order as usize].delivery as usize] != u32::MAX
    }

    /// The rider whose committed stops include `order`'s pickup: its
    /// drop-off can only go on that rider's route.
    pub fn pickup_rider(&self, order: u32) -> Option<u32> {
        let r = self.committed_to[self.orders[order as usize].pickup as usize];
        (r != u32::MAX).then_some(r)
    }

    /// The stop record.
    #[inline]
    pub fn stop(&self, s: u32) -> &Stop {
        &self.stops[s as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(location: u32, order: u32, load_change: i32) -> Stop {
        Stop {
            location,
            earliest_secs: 0.0,
            latest_secs: 100.0,
            service_secs: 0.0,
            load_change,
            order,
        }
    }

    /// Three locations with a one-way street: every entry differs from its
    /// mirror, so a transposition mistake shows.
    fn one_way(travel: Vec<f64>, distance: Vec<f64>) -> Problem {
        let stops = vec![stop(0, NO_ORDER, 0), stop(1, 0, 1), stop(2, 0, -1)];
        let orders = vec![Order {
            pickup: 1,
            delivery: 2,
            external_id: 1,
        }];
        let riders = vec![Rider {
            start: 0,
            end: 0,
            capacity: 1,
            committed: Vec::new(),
        }];
        Problem::new(stops, orders, riders, travel, distance).expect("valid")
    }

    #[test]
    fn rows_read_from_and_to_each_stop_on_asymmetric_matrices() {
        let travel: Vec<f64> = (0..9).map(|k| k as f64).collect();
        let distance: Vec<f64> = (0..9).map(|k| 10.0 + 3.0 * k as f64).collect();
        let p = one_way(travel, distance);
        assert!(p.transposed.is_some());
        for s in 0..3u32 {
            let rows = p.rows(s);
            for t in 0..3u32 {
                let l = p.stop(t).location as usize;
                assert_eq!(rows.travel_from_secs[l], p.travel(s, t));
                assert_eq!(rows.travel_to_secs[l], p.travel(t, s));
                assert_eq!(rows.distance_from_meters[l], p.distance(s, t));
                assert_eq!(rows.distance_to_meters[l], p.distance(t, s));
            }
        }
    }

    #[test]
    fn symmetric_matrices_are_not_copied() {
        let m = vec![0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 2.0, 3.0, 0.0];
        let p = one_way(m.clone(), m);
        assert!(p.transposed.is_none());
        assert_eq!(p.rows(1).distance_to_meters, [1.0, 0.0, 3.0]);
    }
}
