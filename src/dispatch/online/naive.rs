//! The baseline every dispatcher is measured against: each open order, in
//! order of placement, goes at once to the nearest idle rider, alone.

use super::timing::{TripStart, time_trip, travel_secs};
use super::{Plan, PlannedTrip, Snapshot};
use crate::map::{TravelTime, by_vehicle};

pub(super) fn plan<T: TravelTime>(s: &Snapshot<T::Place>, travel: &T) -> Plan {
    let now = s.now_secs;
    let mut on_trip = vec![false; s.orders.len()];
    for r in &s.riders {
        for &o in r.committed.iter().flat_map(|c| &c.orders) {
            on_trip[o] = true;
        }
    }
    let mut idle: Vec<bool> = s
        .riders
        .iter()
        .map(|r| r.committed.is_none() && r.free_secs <= now && now <= r.off_secs)
        .collect();
    let mut open: Vec<usize> = (0..s.orders.len()).filter(|&o| !on_trip[o]).collect();
    open.sort_by_key(|&o| (s.orders[o].placed_secs, s.orders[o].id));
    let mut plan = Plan::default();
    for o in open {
        let ov = &s.orders[o];
        let restaurant = &s.restaurants[ov.restaurant as usize];
        let nearest = (0..s.riders.len()).filter(|&r| idle[r]).min_by_key(|&r| {
            let rider = &s.riders[r];
            (
                travel_secs(
                    &by_vehicle(travel, rider.vehicle),
                    &rider.free_place,
                    restaurant,
                    now,
                ),
                r,
            )
        });
        let Some(r) = nearest else {
            plan.unplanned.push(o);
            continue;
        };
        let rider = &s.riders[r];
        let start = TripStart::Free {
            place: &rider.free_place,
            free_secs: now,
        };
        let mut timing = time_trip(
            travel,
            start,
            now,
            restaurant,
            now,
            [&ov.customer].into_iter(),
            &s.service,
        );
        // It leaves at once, whatever the ready time: the pickup waits.
        let ready_wait = (ov.ready_secs - timing.pickup_secs).max(0);
        timing.pickup_secs += ready_wait;
        timing.dropoff_secs.iter_mut().for_each(|d| *d += ready_wait);
        timing.free_secs += ready_wait;
        if timing.pickup_secs > rider.off_secs {
            plan.unplanned.push(o);
            continue;
        }
        idle[r] = false;
        plan.trips.push(PlannedTrip {
            rider: r,
            restaurant: ov.restaurant,
            orders: vec![o],
            committed: false,
            depart_now: true,
            timing,
        });
    }
    plan
}
