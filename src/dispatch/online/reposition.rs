//! Repositioning: idle riders with nothing planned move towards where
//! orders have been coming from, so the next trip starts closer to the
//! food. Demand is what the caller counted in the recent past: nothing
//! here looks ahead of the clock.

use super::timing::travel_secs;
use super::{Plan, RollingParams, Secs, Snapshot};
use crate::map::{TravelTime, by_vehicle};

/// A move: rider index (into the snapshot) to restaurant.
pub type Reposition = (usize, u32);

/// Picks moves for riders who are free now, on shift for a while yet, and
/// have no trip in `plan`: each goes to the restaurant with recent demand
/// that is nearest, counting riders already near it as extra distance, if
/// it is at least `reposition_min_secs` away.
pub(super) fn plan<T: TravelTime>(
    s: &Snapshot<T::Place>,
    travel: &T,
    plan: &Plan,
    params: &RollingParams,
) -> Vec<Reposition> {
    if params.reposition_min_secs <= 0 {
        return Vec::new();
    }
    let now = s.now_secs;
    let mut planned = vec![false; s.riders.len()];
    for t in &plan.trips {
        planned[t.rider] = true;
    }
    let targets: Vec<usize> = (0..s.restaurants.len())
        .filter(|&r| s.demand.get(r).copied().unwrap_or(0.0) > 0.0)
        .collect();
    if targets.is_empty() {
        return Vec::new();
    }
    // Travel from every unplanned rider to every target, once.
    let unplanned = |i: usize| !planned[i] && s.riders[i].committed.is_none();
    let secs: Vec<Vec<Secs>> = s
        .riders
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if !unplanned(i) {
                return Vec::new();
            }
            let travel = by_vehicle(travel, r.vehicle);
            let to = |&k: &usize| travel_secs(&travel, &r.free_place, &s.restaurants[k], now);
            targets.iter().map(to).collect()
        })
        .collect();
    let near = |t: Secs| t <= params.reposition_min_secs;
    // Riders free (or soon free) near a target already serve it.
    let mut supply = vec![0.0f64; targets.len()];
    for row in &secs {
        for (k, &t) in row.iter().enumerate() {
            if near(t) {
                supply[k] += 1.0;
            }
        }
    }
    let mut moves = Vec::new();
    for (i, r) in s.riders.iter().enumerate() {
        let idle = unplanned(i) && r.free_secs <= now;
        if !idle || r.off_secs - now < params.reposition_shift_left_secs || secs[i].iter().any(|&t| near(t)) {
            continue;
        }
        let score = |k: usize| secs[i][k] as f64 * (1.0 + supply[k]) / s.demand[targets[k]];
        let best = (0..targets.len()).min_by(|&a, &b| score(a).total_cmp(&score(b)));
        if let Some(k) = best {
            supply[k] += 1.0;
            moves.push((i, targets[k] as u32));
        }
    }
    moves
}
