//! Recreate: put removed orders back one by one at their cheapest feasible
//! position, skipping a few positions at random ("blinks", SISR), in one
//! of several orders of insertion.

use rand::RngExt;
use rand::rngs::SmallRng;

use super::problem::Problem;
use super::route::Insertion;
use super::solution::Solution;

/// Sorts the orders to insert: random, largest first, farthest from the
/// first rider's start first, or closest first (SISR's weights 4:4:2:1).
fn sort_for_insertion(p: &Problem, orders: &mut [u32], rng: &mut SmallRng) {
    let depot = p.riders.first().map_or(0, |r| r.start);
    let far = |o: u32| p.distance(depot, p.orders[o as usize].pickup);
    let size = |o: u32| p.stop(p.orders[o as usize].pickup).load_change;
    // Shuffle first so that ties are broken randomly.
    for i in (1..orders.len()).rev() {
        orders.swap(i, rng.random_range(0..=i));
    }
    match rng.random_range(0..11) {
        0..=3 => {}
        4..=7 => orders.sort_by_key(|&o| std::cmp::Reverse(size(o))),
        8..=9 => orders.sort_by(|&a, &b| far(b).total_cmp(&far(a))),
        _ => orders.sort_by(|&a, &b| far(a).total_cmp(&far(b))),
    }
}

/// Inserts `orders` into `sol`; those with no feasible place join
/// `sol.unassigned`. An idle rider is called in only while fewer than
/// `vehicles_max` are busy, so fleet minimisation can hold its target
/// fleet while routes empty and refill. `blink_rate` is
/// the share of pickup positions skipped at random, so that reinserting
/// the same orders does not always rebuild the same routes.
pub fn recreate(
    p: &Problem,
    sol: &mut Solution,
    mut orders: Vec<u32>,
    vehicles_max: usize,
    blink_rate: f64,
    rng: &mut SmallRng,
) {
    sort_for_insertion(p, &mut orders, rng);
    for o in orders {
        match best_place(p, sol, o, false, blink_rate, rng).or_else(|| {
            (sol.vehicles() < vehicles_max)
                .then(|| best_place(p, sol, o, true, 0.0, rng))
                .flatten()
        }) {
            Some((r, ins)) => sol.routes[r].insert(p, o, ins),
            None => sol.unassigned.push(o),
        }
    }
}

/// The cheapest insertion among busy routes (`idle` false) or among idle
/// riders, one per distinct (start, end, capacity) (`idle` true).
fn best_place(
    p: &Problem,
    sol: &Solution,
    order: u32,
    idle: bool,
    blink_rate: f64,
    rng: &mut SmallRng,
) -> Option<(usize, Insertion)> {
    if let Some(rider) = p.pickup_rider(order) {
        // Picked up (or committed to be): only its rider can drop it off.
        let r = sol.routes.iter().position(|r| r.rider == rider)?;
        return sol.routes[r]
            .best_delivery_insertion(p, order, f64::INFINITY)
            .map(|ins| (r, ins));
    }
    let mut best: Option<(usize, Insertion)> = None;
    let mut tried: Vec<(u32, u32, i32)> = Vec::new();
    for (ri, r) in sol.routes.iter().enumerate() {
        if r.is_empty() != idle {
            continue;
        }
        if idle {
            let rider = &p.riders[r.rider as usize];
            let class = (rider.start, rider.end, rider.capacity);
            if tried.contains(&class) {
                continue;
            }
            tried.push(class);
        }
        let bound = best.map_or(f64::INFINITY, |(_, b)| b.cost);
        let blink = || blink_rate > 0.0 && rng.random::<f64>() < blink_rate;
        if let Some(ins) = r.best_insertion(p, order, bound, blink) {
            best = Some((ri, ins));
        }
    }
    best
}
