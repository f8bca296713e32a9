//! Which riders the planner weighs for each restaurant's new orders: of
//! the caller's straight-line shortlist, those that can be there first by
//! travel time. With thousands of riders across a city, weighing each
//! against each order is what made a tick take seconds; the far ones never
//! win an order anyway.

use super::Snapshot;
use super::timing::travel_secs;
use crate::base::Secs;
use crate::map::{TravelTime, by_vehicle};

/// Per restaurant, the riders (ascending snapshot indices) that may take
/// its new orders; `None` when the snapshot allows every rider.
pub(super) fn allowed<T: TravelTime>(s: &Snapshot<T::Place>, travel: &T) -> Option<Vec<Vec<usize>>> {
    let lists = s.candidates.as_ref()?;
    let mut out: Vec<Vec<usize>> = (0..s.restaurants.len())
        .map(|r| {
            lists
                .get(r)
                .map_or_else(Vec::new, |l| narrow(s, travel, r, &l.riders, l.keep))
        })
        .collect();
    for v in &mut out {
        v.sort_unstable();
        v.dedup();
    }
    Some(out)
}

/// The `keep` riders of `riders` that can reach restaurant `r` first (when
/// free, then the ride), plus every rider already on a trip to `r`.
fn narrow<T: TravelTime>(
    s: &Snapshot<T::Place>,
    travel: &T,
    r: usize,
    riders: &[usize],
    keep: usize,
) -> Vec<usize> {
    let Some(restaurant) = s.restaurants.get(r) else {
        return Vec::new();
    };
    let mut joining = Vec::new();
    let mut ranked: Vec<(Secs, usize)> = Vec::with_capacity(riders.len());
    for &i in riders {
        let Some(v) = s.riders.get(i) else { continue };
        if v.committed.as_ref().is_some_and(|c| c.restaurant as usize == r) {
            joining.push(i);
            continue;
        }
        let ride = travel_secs(
            &by_vehicle(travel, v.vehicle),
            &v.free_place,
            restaurant,
            s.now_secs,
        );
        ranked.push((v.free_secs.max(s.now_secs).saturating_add(ride), i));
    }
    if ranked.len() > keep {
        ranked.select_nth_unstable(keep);
        ranked.truncate(keep);
    }
    joining.extend(ranked.into_iter().map(|(_, i)| i));
    joining
}
