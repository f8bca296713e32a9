//! Ruin: remove a few related orders, as strings of consecutive stops from
//! nearby routes (the SISR operator of Christiaens and Vanden Berghe,
//! adapted so an order always leaves with both its stops).

use rand::RngExt;
use rand::rngs::SmallRng;

use super::problem::Problem;
use super::solution::Solution;

/// SISR's beta: chance to stop growing the kept block of a split string.
const SPLIT_STOP_CHANCE: f64 = 0.01;

/// Neighbours kept per order: enough for any ruin, and bounded so large
/// problems stay cheap to prepare.
const RELATED_MAX: usize = 100;

/// For each order, the nearest other orders by closeness of their pickups
/// and drop-offs (the order itself first).
pub fn related_orders(p: &Problem) -> Vec<Vec<u32>> {
    let n = p.orders.len();
    (0..n)
        .map(|a| {
            let oa = p.orders[a];
            let mut by: Vec<(f64, u32)> = (0..n)
                .map(|b| {
                    let ob = p.orders[b];
                    let d = p.distance(oa.pickup, ob.pickup) + p.distance(oa.delivery, ob.delivery);
                    (if a == b { -1.0 } else { d }, b as u32)
                })
                .collect();
            let cmp = |x: &(f64, u32), y: &(f64, u32)| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1));
            if by.len() > RELATED_MAX {
                by.select_nth_unstable_by(RELATED_MAX, cmp);
                by.truncate(RELATED_MAX);
            }
            by.sort_by(cmp);
            by.into_iter().map(|(_, b)| b).collect()
        })
        .collect()
}

/// How much one ruin removes.
#[derive(Debug, Clone, Copy)]
pub struct RuinShape {
    /// Average number of orders removed.
    pub removed_mean: f64,
    /// Longest string of stops removed from one route.
    pub string_stops_max: f64,
    /// Share of strings that keep a block in the middle (SISR's split string).
    pub split_share: f64,
}

/// Removes related orders from `sol` (about `shape.removed_mean`, in
/// strings from routes near a random placed order); returns them.
pub fn ruin(
    p: &Problem,
    sol: &mut Solution,
    related: &[Vec<u32>],
    shape: RuinShape,
    rng: &mut SmallRng,
) -> Vec<u32> {
    let RuinShape {
        removed_mean,
        string_stops_max,
        split_share,
    } = shape;
    let route_of = sol.route_of(p);
    let (mut stops_total, mut used) = (0usize, 0usize);
    for r in &sol.routes {
        if !r.movable_visits().is_empty() {
            stops_total += r.movable_visits().len();
            used += 1;
        }
    }
    if used == 0 {
        return Vec::new();
    }
    let string_max = string_stops_max.min(stops_total as f64 / used as f64).max(1.0);
    let strings_max = (4.0 * removed_mean / (1.0 + string_max) - 1.0).max(1.0);
    let strings = rng.random_range(1.0..strings_max + 1.0).floor() as usize;
    let assigned: Vec<u32> = (0..p.orders.len() as u32)
        .filter(|&o| route_of[o as usize] != Solution::NOT_MOVABLE)
        .collect();
    let seed = assigned[rng.random_range(0..assigned.len())];
    let mut removed = vec![false; p.orders.len()];
    let mut ruined = vec![false; sol.routes.len()];
    let mut count = 0;
    for &c in &related[seed as usize] {
        let r = route_of[c as usize];
        if count >= strings || r == Solution::NOT_MOVABLE || ruined[r as usize] || removed[c as usize] {
            continue;
        }
        ruined[r as usize] = true;
        count += 1;
        let visits = sol.routes[r as usize].movable_visits();
        let len = rng
            .random_range(1.0..string_max.min(visits.len() as f64) + 1.0)
            .floor() as usize;
        let len = len.clamp(1, visits.len());
        let at = visits
            .iter()
            .position(|&s| s == p.orders[c as usize].pickup)
            .unwrap_or(0);
        // SISR's split string (a share of the time): the window also keeps
        // a block of `kept` consecutive stops, so two strings leave at once.
        let mut kept = 0;
        if visits.len() > len && rng.random::<f64>() < split_share {
            kept = 1;
            while kept < visits.len() - len && rng.random::<f64>() > SPLIT_STOP_CHANCE {
                kept += 1;
            }
        }
        let window = len + kept; // <= visits.len() by construction
        let first = at
            .saturating_sub(rng.random_range(0..window))
            .min(visits.len() - window);
        let keep_from = first + rng.random_range(0..=len);
        for (k, &s) in visits[first..first + window].iter().enumerate() {
            let pos = first + k;
            if kept == 0 || pos < keep_from || pos >= keep_from + kept {
                removed[p.stop(s).order as usize] = true;
            }
        }
    }
    for (ri, r) in sol.routes.iter_mut().enumerate() {
        if ruined[ri] {
            r.remove_orders(p, |o| removed[o as usize]);
        }
    }
    (0..p.orders.len() as u32)
        .filter(|&o| removed[o as usize])
        .collect()
}
