//! A solution: one route per rider (possibly empty) and the orders that
//! could not be placed, with the hierarchical objective of the benchmark.

use std::cmp::Ordering;

use serde::Serialize;

use super::problem::Problem;
use super::route::Route;

/// Routes for every rider plus unplaced orders.
#[derive(Debug)]
pub struct Solution {
    pub routes: Vec<Route>,
    pub unassigned: Vec<u32>,
}

impl Clone for Solution {
    fn clone(&self) -> Self {
        Self {
            routes: self.routes.clone(),
            unassigned: self.unassigned.clone(),
        }
    }

    /// Reuses every route's buffers (see `Route::clone_from`).
    fn clone_from(&mut self, other: &Self) {
        self.routes.clone_from(&other.routes);
        self.unassigned.clone_from(&other.unassigned);
    }
}

/// What a solution costs, compared lexicographically: unplaced orders,
/// then riders used, then distance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Objective {
    pub unassigned: usize,
    pub vehicles: usize,
    pub distance: f64,
}

impl Objective {
    /// Lexicographic comparison (vehicles first, as the benchmark ranks).
    pub fn rank(&self, other: &Objective) -> Ordering {
        (self.unassigned, self.vehicles)
            .cmp(&(other.unassigned, other.vehicles))
            .then(self.distance.total_cmp(&other.distance))
    }
}

impl Solution {
    /// Every rider idle, every order unplaced.
    pub fn empty(p: &Problem) -> Self {
        Self {
            routes: (0..p.riders.len() as u32).map(|r| Route::empty(p, r)).collect(),
            unassigned: (0..p.orders.len() as u32)
                .filter(|&o| !p.is_committed(o))
                .collect(),
        }
    }

    /// A solution from task lists (start and end stops excluded), the
    /// i-th list for the i-th rider; orders not listed are unassigned.
    /// Fails when a list names an unknown stop or there are more lists
    /// than riders.
    pub fn from_visits(p: &Problem, visits: &[Vec<u32>]) -> Result<Self, String> {
        if visits.len() > p.riders.len() {
            return Err(format!("{} routes for {} riders", visits.len(), p.riders.len()));
        }
        let mut sol = Self::empty(p);
        let mut listed = vec![false; p.orders.len()];
        for (r, v) in visits.iter().enumerate() {
            let rider = &p.riders[r];
            let mut stops = vec![rider.start];
            for &s in &rider.committed {
                let order = p.stop(s).order as usize;
                listed[order] |= p.orders[order].delivery == s;
                stops.push(s);
            }
            for &s in v {
                let order = p
                    .stops
                    .get(s as usize)
                    .map(|st| st.order)
                    .filter(|&o| (o as usize) < p.orders.len());
                let order = order.ok_or_else(|| format!("route {r}: {s} is not an order's stop"))?;
                listed[order as usize] |= p.orders[order as usize].delivery == s;
                stops.push(s);
            }
            stops.push(rider.end);
            sol.routes[r] = Route::from_stops(p, r as u32, stops);
        }
        sol.unassigned = (0..p.orders.len() as u32)
            .filter(|&o| !listed[o as usize])
            .collect();
        Ok(sol)
    }

    /// For each order, the index of the route that moves it, or
    /// [`Solution::NOT_MOVABLE`] (unplaced, or committed to its rider).
    pub fn route_of(&self, p: &Problem) -> Vec<u32> {
        let mut route_of = vec![Self::NOT_MOVABLE; p.orders.len()];
        for (ri, r) in self.routes.iter().enumerate() {
            for &s in r.movable_visits() {
                route_of[p.stop(s).order as usize] = ri as u32;
            }
        }
        route_of
    }

    /// [`Solution::route_of`]'s mark for an order no route may move.
    pub const NOT_MOVABLE: u32 = u32::MAX;

    /// Riders with at least one order.
    pub fn vehicles(&self) -> usize {
        self.routes.iter().filter(|r| !r.is_empty()).count()
    }

    /// Total distance of all routes.
    pub fn distance(&self) -> f64 {
        self.routes.iter().map(Route::distance).sum()
    }

    /// The solution's cost.
    pub fn objective(&self) -> Objective {
        Objective {
            unassigned: self.unassigned.len(),
            vehicles: self.vehicles(),
            distance: self.distance(),
        }
    }

    /// Independent full check: every order served exactly once, pickup
    /// before drop-off on one route, windows and capacity respected.
    pub fn check(&self, p: &Problem) -> Result<(), String> {
        let mut seen = vec![0u8; p.stops.len()];
        for (ri, r) in self.routes.iter().enumerate() {
            if !r.is_feasible(p) {
                return Err(format!("route {ri} violates a time window or the capacity"));
            }
            let rider = &p.riders[r.rider as usize];
            if r.stops()[0] != rider.start || r.stops()[r.stops().len() - 1] != rider.end {
                return Err(format!("route {ri} does not start and end at its rider's stops"));
            }
            if !r.stops()[1..].starts_with(&rider.committed) {
                return Err(format!("route {ri} does not begin with its committed stops"));
            }
            for (k, &s) in r.visits().iter().enumerate() {
                seen[s as usize] += 1;
                let o = p.orders[p.stop(s).order as usize];
                if s == o.delivery && !r.visits()[..k].contains(&o.pickup) {
                    return Err(format!("route {ri}: drop-off stop {s} before its pickup"));
                }
            }
        }
        for &o in &self.unassigned {
            let order = p.orders[o as usize];
            if p.pickup_rider(o).is_none() {
                seen[order.pickup as usize] += 1;
            }
            seen[order.delivery as usize] += 1;
        }
        for (i, o) in p.orders.iter().enumerate() {
            if seen[o.pickup as usize] != 1 || seen[o.delivery as usize] != 1 {
                return Err(format!("order {i} is not served exactly once"));
            }
        }
        Ok(())
    }
}
