//! Ejection: place an order that fits nowhere by taking one nearby order
//! out of its route to make room and putting that one somewhere else
//! (a depth-one ejection chain, after Nagata and Bräysy).
//!
//! With the fleet at its minimum most ruins leave one order without a
//! place: greedy reinsertion fills the gaps in an order that leaves none
//! for the last. One ejection often repairs such a solution where further
//! ruins would not.

use super::problem::Problem;
use super::route::{Insertion, Route};
use super::solution::Solution;

/// Nearby orders tried for ejection: the room an order needs is almost
/// always made by a neighbour, and the bound keeps one attempt cheap.
const CANDIDATES_MAX: usize = 30;

/// The best ejection found: take `ejected` out of route `from`, put the
/// order in there at `order_at`, then the ejected one into route `to` at
/// `ejected_at` (positions after the earlier steps).
struct Ejection {
    cost: f64,
    ejected: u32,
    from: usize,
    order_at: Insertion,
    to: usize,
    ejected_at: Insertion,
}

/// Places `order` (unplaced, not bound to a rider) in `sol` by ejecting
/// one of its `related` orders to another place, the cheapest such pair
/// of moves adding less than `bound` distance; only busy routes are used.
/// Returns whether it did.
pub fn insert_by_ejection(p: &Problem, sol: &mut Solution, order: u32, related: &[u32], bound: f64) -> bool {
    if p.pickup_rider(order).is_some() {
        return false;
    }
    let route_of = sol.route_of(p);
    let mut best: Option<Ejection> = None;
    let mut scratch: Option<Route> = None;
    for &q in related.iter().filter(|&&q| q != order).take(CANDIDATES_MAX) {
        let from = route_of[q as usize];
        if from == Solution::NOT_MOVABLE || p.pickup_rider(q).is_some() {
            continue;
        }
        let bound = best.as_ref().map_or(bound, |e| e.cost);
        if let Some(e) = try_ejection(p, sol, order, q, from as usize, bound, &mut scratch) {
            best = Some(e);
        }
    }
    let Some(e) = best else {
        return false;
    };
    let from = &mut sol.routes[e.from];
    from.remove_orders(p, |o| o == e.ejected);
    from.insert(p, order, e.order_at);
    sol.routes[e.to].insert(p, e.ejected, e.ejected_at);
    sol.unassigned.retain(|&o| o != order);
    true
}

/// The cheapest way, below `bound`, to put `order` into route `from`
/// without `q` and `q` anywhere else.
fn try_ejection(
    p: &Problem,
    sol: &Solution,
    order: u32,
    q: u32,
    from: usize,
    bound: f64,
    scratch: &mut Option<Route>,
) -> Option<Ejection> {
    let route = &sol.routes[from];
    let without = scratch.get_or_insert_with(|| route.clone());
    without.clone_from(route);
    without.remove_orders(p, |o| o == q);
    let order_at = without.best_insertion(p, order, f64::INFINITY, || false)?;
    let first_cost = without.distance() + order_at.cost - route.distance();
    if first_cost >= bound {
        return None;
    }
    let mut best: Option<(f64, usize, Insertion)> = None;
    for (ri, r) in sol.routes.iter().enumerate() {
        if ri == from || r.is_empty() {
            continue;
        }
        let limit = best.map_or(bound, |b| b.0) - first_cost;
        if let Some(ins) = r.best_insertion(p, q, limit, || false) {
            best = Some((first_cost + ins.cost, ri, ins));
        }
    }
    // Back into the same route, after the order took its place.
    without.insert(p, order, order_at);
    let limit = best.map_or(bound, |b| b.0) - first_cost;
    if let Some(ins) = without.best_insertion(p, q, limit, || false) {
        best = Some((first_cost + ins.cost, from, ins));
    }
    best.map(|(cost, to, ejected_at)| Ejection {
        cost,
        ejected: q,
        from,
        order_at,
        to,
        ejected_at,
    })
}
