//! Recreate: put removed orders back one by one at their cheapest feasible
//! position, skipping a few positions at random ("blinks", SISR), in one
//! of several orders of insertion, or by regret; either gives up early on
//! a neighbour the search will reject (see [`Limits`]).

use rand::RngExt;
use rand::rngs::SmallRng;

use super::problem::Problem;
use super::route::{Insertion, Route};
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

/// What a recreate may use, and when it gives up on a neighbour the
/// search would reject anyway. Insertions only add distance (up to rounding
/// where road distances break the triangle inequality), so once the routes
/// are longer than the annealing's acceptance threshold, or more orders are
/// left out than the search tolerates, placing the rest cannot change the
/// verdict: stopping there makes rejected neighbours cheap.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// An idle rider is called in only while fewer riders are busy, so
    /// fleet minimisation can hold its target fleet while routes empty
    /// and refill.
    pub vehicles_max: usize,
    /// Share of pickup positions skipped at random (SISR's blinks), so that
    /// reinserting the same orders does not always rebuild the same routes.
    pub blink_rate: f64,
    /// Give up once the total distance would exceed this.
    pub distance_max: f64,
    /// Give up once more than this many orders are unplaced.
    pub unplaced_max: usize,
}

impl Limits {
    /// Places every order it can, however long the routes get.
    pub fn new(vehicles_max: usize, blink_rate: f64) -> Self {
        Self {
            vehicles_max,
            blink_rate,
            distance_max: f64::INFINITY,
            unplaced_max: usize::MAX,
        }
    }
}

/// Inserts `orders` into `sol`; those with no feasible place join
/// `sol.unassigned`. Returns false when it gave up at one of `limits`'
/// bounds; the orders not placed are then all in `sol.unassigned`.
pub fn recreate(
    p: &Problem,
    sol: &mut Solution,
    mut orders: Vec<u32>,
    limits: Limits,
    rng: &mut SmallRng,
) -> bool {
    sort_for_insertion(p, &mut orders, rng);
    let bounded = limits.distance_max.is_finite();
    let mut distance = sol.distance();
    for (k, &o) in orders.iter().enumerate() {
        let room = limits.distance_max - distance;
        if let Some((r, ins)) = cheapest_place(p, sol, o, limits, room, rng) {
            distance += ins.cost;
            sol.routes[r].insert(p, o, ins);
            continue;
        }
        // Over the bound, or nowhere at all? Only the second may be repaired.
        let nowhere = !bounded || cheapest_place(p, sol, o, limits, f64::INFINITY, rng).is_none();
        if nowhere && sol.unassigned.len() < limits.unplaced_max {
            sol.unassigned.push(o);
            continue;
        }
        sol.unassigned.extend_from_slice(&orders[k..]);
        return false;
    }
    true
}

/// The cheapest place below `bound` among busy routes, then, while the
/// fleet allows, among idle riders.
fn cheapest_place(
    p: &Problem,
    sol: &Solution,
    order: u32,
    limits: Limits,
    bound: f64,
    rng: &mut SmallRng,
) -> Option<(usize, Insertion)> {
    best_place(p, sol, order, false, limits.blink_rate, bound, rng).or_else(|| {
        (sol.vehicles() < limits.vehicles_max)
            .then(|| best_place(p, sol, order, true, 0.0, bound, rng))
            .flatten()
    })
}

/// The cheapest insertion below `bound` among busy routes (`idle` false)
/// or among idle riders, one per distinct (start, end, capacity) (`idle`
/// true).
fn best_place(
    p: &Problem,
    sol: &Solution,
    order: u32,
    idle: bool,
    blink_rate: f64,
    bound: f64,
    rng: &mut SmallRng,
) -> Option<(usize, Insertion)> {
    if let Some(rider) = p.pickup_rider(order) {
        // Picked up (or committed to be): only its rider can drop it off.
        let r = sol.routes.iter().position(|r| r.rider == rider)?;
        return sol.routes[r]
            .best_delivery_insertion(p, order, bound)
            .map(|ins| (r, ins));
    }
    let mut best: Option<(usize, Insertion)> = None;
    let mut tried: Vec<RiderClass> = Vec::new();
    for (ri, r) in sol.routes.iter().enumerate() {
        if r.is_empty() != idle {
            continue;
        }
        if idle {
            let class = rider_class(p, r);
            if tried.contains(&class) {
                continue;
            }
            tried.push(class);
        }
        let bound = best.map_or(bound, |(_, b)| b.cost);
        if let Some(ins) = place_in(p, sol, ri, order, bound, blink_rate, rng) {
            best = Some((ri, ins));
        }
    }
    best
}

/// Idle riders alike in start, end and capacity offer the same places, so
/// recreate tries one per class.
type RiderClass = (u32, u32, i32);

fn rider_class(p: &Problem, r: &Route) -> RiderClass {
    let rider = &p.riders[r.rider as usize];
    (rider.start, rider.end, rider.capacity)
}

/// Regret-k insertion (Ropke and Pisinger): inserts, one at a time, the
/// order that would lose most by waiting — the largest sum of cost
/// differences between its best place and its next `regret_k - 1` best
/// routes — so orders with few places left go in before cheaper ones take
/// them. Tight time windows make greedy sequential insertion leave orders
/// out; this places more of them, at a few times greedy's cost.
/// Orders with no feasible place join `sol.unassigned`; returns false when
/// it gave up at one of `limits`' bounds, as [`recreate`] does.
pub fn recreate_regret(
    p: &Problem,
    sol: &mut Solution,
    orders: Vec<u32>,
    limits: Limits,
    regret_k: usize,
    rng: &mut SmallRng,
) -> bool {
    // An order already bound to a rider has one possible route: no regret.
    let (bound, mut pending): (Vec<u32>, Vec<u32>) =
        orders.into_iter().partition(|&o| p.pickup_rider(o).is_some());
    let bound_limits = Limits {
        blink_rate: 0.0,
        ..limits
    };
    let finished = recreate(p, sol, bound, bound_limits, rng)
        && fill_by_regret(p, sol, &mut pending, limits, regret_k, rng);
    // What is still pending was not tried: the recreate gave up.
    sol.unassigned.append(&mut pending);
    finished
}

/// The regret loop of [`recreate_regret`]: places orders from `pending`
/// until none is left or none fits (true), or a bound of `limits` is
/// passed (false). The orders it did not place are left in `pending` or
/// in `sol.unassigned`.
fn fill_by_regret(
    p: &Problem,
    sol: &mut Solution,
    pending: &mut Vec<u32>,
    limits: Limits,
    regret_k: usize,
    rng: &mut SmallRng,
) -> bool {
    let mut distance = sol.distance();
    let blink_rate = limits.blink_rate;
    // Bounded: each pass of the outer loop places or drops at least one order.
    while !pending.is_empty() {
        let routes = candidate_routes(p, sol, limits.vehicles_max);
        let mut table: Vec<Vec<Option<Insertion>>> = pending
            .iter()
            .map(|&o| {
                routes
                    .iter()
                    .map(|&r| place_in(p, sol, r, o, f64::INFINITY, blink_rate, rng))
                    .collect()
            })
            .collect();
        while !pending.is_empty() {
            let picked = most_regretted(&table, regret_k).and_then(|(i, c)| Some((i, c, table[i][c]?)));
            let Some((i, c, ins)) = picked else {
                // Nothing fits anywhere: adding stops never frees room.
                return sol.unassigned.len() + pending.len() <= limits.unplaced_max;
            };
            if distance + ins.cost > limits.distance_max {
                return false;
            }
            let r = routes[c];
            let was_idle = sol.routes[r].is_empty();
            distance += ins.cost;
            sol.routes[r].insert(p, pending[i], ins);
            pending.swap_remove(i);
            table.swap_remove(i);
            if was_idle {
                // The candidate routes change: rebuild the table.
                break;
            }
            for (row, &o) in table.iter_mut().zip(pending.iter()) {
                row[c] = place_in(p, sol, r, o, f64::INFINITY, blink_rate, rng);
            }
            // Orders left with no place at all can go now.
            let mut k = 0;
            while k < pending.len() {
                if table[k].iter().all(Option::is_none) {
                    sol.unassigned.push(pending.swap_remove(k));
                    table.swap_remove(k);
                } else {
                    k += 1;
                }
            }
            if sol.unassigned.len() > limits.unplaced_max {
                return false;
            }
        }
    }
    true
}

/// Busy routes, plus one idle rider per distinct (start, end, capacity)
/// while fewer than `vehicles_max` riders are busy.
fn candidate_routes(p: &Problem, sol: &Solution, vehicles_max: usize) -> Vec<usize> {
    let open = sol.vehicles() < vehicles_max;
    let mut classes: Vec<RiderClass> = Vec::new();
    (0..sol.routes.len())
        .filter(|&ri| {
            let r = &sol.routes[ri];
            if !r.is_empty() {
                return true;
            }
            let class = rider_class(p, r);
            if !open || classes.contains(&class) {
                return false;
            }
            classes.push(class);
            true
        })
        .collect()
}

/// The cheapest feasible insertion of `order` into route `r` below
/// `bound`, skipping pickup positions at `blink_rate`.
fn place_in(
    p: &Problem,
    sol: &Solution,
    r: usize,
    order: u32,
    bound: f64,
    blink_rate: f64,
    rng: &mut SmallRng,
) -> Option<Insertion> {
    let blink = || blink_rate > 0.0 && rng.random::<f64>() < blink_rate;
    sol.routes[r].best_insertion(p, order, bound, blink)
}

/// The (row, column) of the order to insert next and its best route, or
/// None when no order has a feasible place. A missing place counts as a
/// large cost, so orders with fewer places come first.
fn most_regretted(table: &[Vec<Option<Insertion>>], regret_k: usize) -> Option<(usize, usize)> {
    const MISSING: f64 = 1e12;
    let k = regret_k.max(2);
    let mut best: Option<(f64, f64, usize, usize)> = None;
    let mut costs: Vec<f64> = Vec::new();
    for (i, row) in table.iter().enumerate() {
        let Some((c, first)) = row
            .iter()
            .enumerate()
            .filter_map(|(c, ins)| ins.map(|ins| (c, ins.cost)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
        else {
            continue;
        };
        costs.clear();
        costs.extend(row.iter().map(|ins| ins.map_or(MISSING, |ins| ins.cost)));
        costs.sort_by(f64::total_cmp);
        costs.resize(k, MISSING);
        let regret: f64 = costs[1..].iter().map(|&c| c - first).sum();
        let better = best.is_none_or(|(r, f, _, _)| regret > r || (regret == r && first < f));
        if better {
            best = Some((regret, first, i, c));
        }
    }
    best.map(|(_, _, i, c)| (i, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cost: f64) -> Option<Insertion> {
        Some(Insertion {
            cost,
            after_pickup: 0,
            after_delivery: 0,
        })
    }

    #[test]
    fn the_order_with_fewest_places_goes_first() {
        // Order 0 is cheap with a close second; order 1 is dear but fits in
        // one route only; order 2 fits nowhere and must not be picked.
        let table = vec![vec![at(1.0), at(2.0)], vec![None, at(50.0)], vec![None, None]];
        assert_eq!(most_regretted(&table, 2), Some((1, 1)));
        assert_eq!(most_regretted(&table[2..], 2), None);
    }

    #[test]
    fn regret_sums_the_next_k_minus_one_places() {
        // Regret-2: order 0 loses 1, order 1 loses 3 → order 1.
        // Regret-3: order 0 loses 1 + 20, order 1 loses 3 + 4 → order 0.
        let table = vec![
            vec![at(10.0), at(11.0), at(30.0)],
            vec![at(10.0), at(13.0), at(14.0)],
        ];
        assert_eq!(most_regretted(&table, 2), Some((1, 0)));
        assert_eq!(most_regretted(&table, 3), Some((0, 0)));
    }
}
