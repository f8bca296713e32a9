//! The candidate generator: which riders the planner weighs for each
//! restaurant's new orders. The engine keeps where every rider that can
//! work will be free in a spatial index (brought up to date from the
//! riders' records, which every fix and event updates, as each tick
//! begins: the index is read nowhere else), and hands the planner, per restaurant with open orders, the
//! nearest fresh riders by straight line; the planner keeps those that can
//! be there first by travel time. The simulator and the live server plan
//! through this one rule, so a simulation measures what runs live.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::base::Secs;
use crate::engine::RiderId;
use crate::index::PlanarIndex;

/// How many riders each restaurant's orders are weighed against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CandidateRule {
    /// At least this many riders per restaurant with open orders
    /// (`[index] shortlist`).
    pub riders_min: usize,
    /// And this many per open order of the restaurant.
    pub riders_per_order: usize,
    /// The index hands the planner this many times the riders it keeps,
    /// nearest by straight line; travel time picks among them.
    pub shortlist_factor: usize,
    /// A rider neither heard from (a GPS fix, an event) nor planned for
    /// this long is left out (`[index] stale_after_secs`); `None`: never
    /// (simulated riders are always heard).
    pub stale_after_secs: Option<Secs>,
}

impl Default for CandidateRule {
    fn default() -> Self {
        Self {
            riders_min: 96,
            riders_per_order: 4,
            shortlist_factor: 2,
            stale_after_secs: None,
        }
    }
}

impl CandidateRule {
    /// How many riders a restaurant with `open` orders keeps.
    pub fn keep(&self, open: usize) -> usize {
        self.riders_min.max(self.riders_per_order.saturating_mul(open))
    }

    /// Whether a fleet of `riders` is small enough to weigh whole: every
    /// rider against every order, as cheap as the shortlists and never
    /// worse (up to 4 × `riders_min`).
    pub fn whole_fleet(&self, riders: usize) -> bool {
        riders <= self.riders_min.saturating_mul(4)
    }

    /// How many nearest riders the index hands over for them.
    pub fn shortlist(&self, open: usize) -> usize {
        self.keep(open).saturating_mul(self.shortlist_factor.max(1))
    }
}

/// A restaurant's shortlist, in engine ids.
#[derive(Debug, Clone, PartialEq)]
pub struct RiderShortlist {
    pub restaurant: usize,
    /// Nearest first.
    pub riders: Vec<RiderId>,
    pub keep: usize,
}

/// Per restaurant with open orders (`open[r] > 0`), the `rule.shortlist`
/// nearest fresh riders of `index` to the restaurant at `restaurants_xy[r]`.
pub fn shortlists(
    rule: &CandidateRule,
    index: &PlanarIndex<RiderId>,
    restaurants_xy: &[[f64; 2]],
    open: &[usize],
    now_secs: Secs,
) -> Vec<RiderShortlist> {
    restaurants_xy
        .iter()
        .zip(open)
        .enumerate()
        .filter(|(_, (_, n))| **n > 0)
        .map(|(r, (&xy, &n))| RiderShortlist {
            restaurant: r,
            riders: index
                .nearest_iter(xy, now_secs)
                .take(rule.shortlist(n))
                .map(|(id, _)| id)
                .collect(),
            keep: rule.keep(n),
        })
        .collect()
}

/// Every rider named by some shortlist.
pub fn named(lists: &[RiderShortlist]) -> BTreeSet<RiderId> {
    lists.iter().flat_map(|l| l.riders.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The rule by brute force: every fresh rider, sorted by distance.
    fn brute(
        riders: &[([f64; 2], Secs)],
        at: [f64; 2],
        take: usize,
        now: Secs,
        stale: Option<Secs>,
    ) -> Vec<(f64, u64)> {
        let mut all: Vec<(f64, u64)> = riders
            .iter()
            .enumerate()
            .filter(|(_, (_, seen))| stale.is_none_or(|s| now - seen <= s))
            .map(|(i, (xy, _))| ((xy[0] - at[0]).powi(2) + (xy[1] - at[1]).powi(2), i as u64))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.truncate(take);
        all
    }

    proptest! {
        #[test]
        fn shortlists_equal_a_brute_force_scan(
            riders in prop::collection::vec(((-5000.0f64..5000.0, -5000.0f64..5000.0), 0i64..200), 0..120),
            restaurants in prop::collection::vec(((-5000.0f64..5000.0, -5000.0f64..5000.0), 0usize..5), 1..8),
            stale in prop::option::of(0i64..150),
            riders_min in 1usize..12,
            now in 150i64..250,
        ) {
            let rule = CandidateRule { riders_min, riders_per_order: 3, shortlist_factor: 2, stale_after_secs: stale };
            let mut index = PlanarIndex::new(stale);
            let riders: Vec<([f64; 2], Secs)> = riders.into_iter().map(|((x, y), s)| ([x, y], s)).collect();
            for (i, (xy, seen)) in riders.iter().enumerate() {
                index.put(RiderId(i as u64), *xy, *seen);
            }
            let xy: Vec<[f64; 2]> = restaurants.iter().map(|((x, y), _)| [*x, *y]).collect();
            let open: Vec<usize> = restaurants.iter().map(|(_, n)| *n).collect();
            let lists = shortlists(&rule, &index, &xy, &open, now);
            prop_assert_eq!(lists.len(), open.iter().filter(|&&n| n > 0).count());
            for l in &lists {
                let want = brute(&riders, xy[l.restaurant], rule.shortlist(open[l.restaurant]), now, stale);
                prop_assert_eq!(l.keep, riders_min.max(3 * open[l.restaurant]));
                // Same riders at the same distances (ties in any order).
                let mut got: Vec<(f64, u64)> = l.riders.iter().map(|id| {
                    let p = riders[id.0 as usize].0;
                    ((p[0] - xy[l.restaurant][0]).powi(2) + (p[1] - xy[l.restaurant][1]).powi(2), id.0)
                }).collect();
                got.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                prop_assert_eq!(got, want);
            }
        }
    }
}
