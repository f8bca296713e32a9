//! When a trip's events happen: leave, reach the restaurant, pick up, drop
//! off each order, be free again. The one timing rule shared by the
//! planner, the engine and the simulator, so their clocks never disagree.

use serde::Serialize;

use super::Secs;
use crate::map::TravelTime;

/// Service time around pickups and drop-offs, split around the event
/// (MDRPLIB: 4 minutes each, 2 before and 2 after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceSecs {
    pub pickup_before: Secs,
    pub pickup_after: Secs,
    pub dropoff_before: Secs,
    pub dropoff_after: Secs,
}

impl ServiceSecs {
    /// Whole service times split evenly around the event.
    pub fn split(pickup_secs: Secs, dropoff_secs: Secs) -> Self {
        Self {
            pickup_before: pickup_secs / 2,
            pickup_after: pickup_secs - pickup_secs / 2,
            dropoff_before: dropoff_secs / 2,
            dropoff_after: dropoff_secs - dropoff_secs / 2,
        }
    }
}

/// The schedule of one trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TripTiming {
    pub depart_secs: Secs,
    pub arrive_secs: Secs,
    pub pickup_secs: Secs,
    /// One per order, in drop-off order.
    pub dropoff_secs: Vec<Secs>,
    /// When the rider can leave the last customer.
    pub free_secs: Secs,
}

/// Unreachable pairs cost this much, so they never win and never overflow.
pub const UNREACHABLE_SECS: Secs = 1 << 40;

/// Travel time in whole seconds (rounded up), leaving at `at_secs`.
pub fn travel_secs<T: TravelTime>(travel: &T, from: &T::Place, to: &T::Place, at_secs: Secs) -> Secs {
    let of_day = at_secs.rem_euclid(86_400) as u32;
    match travel.leg(from, to, of_day) {
        Ok(leg) => (i64::from(leg.duration_ms) + 999) / 1000,
        Err(_) => UNREACHABLE_SECS,
    }
}

/// Where a trip starts: a free rider somewhere, or a rider already sent
/// to the restaurant (arriving at a known time).
#[derive(Debug, Clone, Copy)]
pub enum TripStart<'a, P> {
    Free { place: &'a P, free_secs: Secs },
    Committed { arrive_secs: Secs },
}

/// Times a trip: the rider leaves as late as it can without delaying the
/// pickup (never before `now_secs`), picks up when the last order is
/// ready, then drops off `customers` in order.
pub fn time_trip<'a, T: TravelTime>(
    travel: &T,
    start: TripStart<'a, T::Place>,
    now_secs: Secs,
    restaurant: &'a T::Place,
    ready_secs_max: Secs,
    customers: impl Iterator<Item = &'a T::Place>,
    service: &ServiceSecs,
) -> TripTiming
where
    T::Place: 'a,
{
    let mut dropoff_secs = Vec::with_capacity(4);
    let t = time_trip_with(
        travel,
        start,
        now_secs,
        restaurant,
        ready_secs_max,
        customers,
        service,
        |d| dropoff_secs.push(d),
    );
    TripTiming { dropoff_secs, ..t }
}

/// [`time_trip`] handing each drop-off time to `on_dropoff` instead of
/// collecting them (the planner weighs thousands of trips a tick; the
/// returned timing's `dropoff_secs` is empty).
#[allow(clippy::too_many_arguments)]
pub(super) fn time_trip_with<'a, T: TravelTime>(
    travel: &T,
    start: TripStart<'a, T::Place>,
    now_secs: Secs,
    restaurant: &'a T::Place,
    ready_secs_max: Secs,
    customers: impl Iterator<Item = &'a T::Place>,
    service: &ServiceSecs,
    on_dropoff: impl FnMut(Secs),
) -> TripTiming
where
    T::Place: 'a,
{
    let (depart_secs, arrive_secs) = match start {
        TripStart::Free { place, free_secs } => {
            let to_restaurant = travel_secs(travel, place, restaurant, free_secs.max(now_secs));
            let depart = free_secs
                .max(now_secs)
                .max(ready_secs_max - service.pickup_before - to_restaurant);
            (depart, depart + to_restaurant)
        }
        TripStart::Committed { arrive_secs } => (arrive_secs, arrive_secs),
    };
    let pickup_secs = ready_secs_max.max(arrive_secs + service.pickup_before);
    let free_secs = for_each_dropoff(travel, restaurant, pickup_secs, customers, service, on_dropoff);
    TripTiming {
        depart_secs,
        arrive_secs,
        pickup_secs,
        dropoff_secs: Vec::new(),
        free_secs,
    }
}

/// Drop-off times of `customers` in order after a pickup at `pickup_secs`,
/// and when the rider is free after the last one.
pub fn time_dropoffs<'a, T: TravelTime>(
    travel: &T,
    restaurant: &'a T::Place,
    pickup_secs: Secs,
    customers: impl Iterator<Item = &'a T::Place>,
    service: &ServiceSecs,
) -> (Vec<Secs>, Secs)
where
    T::Place: 'a,
{
    let mut dropoff_secs = Vec::with_capacity(4);
    let free = for_each_dropoff(travel, restaurant, pickup_secs, customers, service, |d| {
        dropoff_secs.push(d)
    });
    (dropoff_secs, free)
}

/// Each drop-off time of `customers` in order, to `on_dropoff`; returns
/// when the rider is free after the last one.
fn for_each_dropoff<'a, T: TravelTime>(
    travel: &T,
    restaurant: &'a T::Place,
    pickup_secs: Secs,
    customers: impl Iterator<Item = &'a T::Place>,
    service: &ServiceSecs,
    mut on_dropoff: impl FnMut(Secs),
) -> Secs
where
    T::Place: 'a,
{
    let mut t = pickup_secs + service.pickup_after;
    let mut prev = restaurant;
    for c in customers {
        let drop = t + travel_secs(travel, prev, c, t) + service.dropoff_before;
        on_dropoff(drop);
        t = drop + service.dropoff_after;
        prev = c;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{EuclideanTravel, PlanarPoint};

    fn pt(x: f64) -> PlanarPoint {
        PlanarPoint { x, y: 0.0 }
    }

    #[test]
    fn mdrp_example_by_hand() {
        // The example of ../shared/mdrp.md: placed 743, ready 753, courier
        // free at 743; 1 minute to the restaurant (it leaves at 750 so it
        // is there at 751 = 753 - 2), picks up at 753, leaves at 755, is at
        // the customer at 755 + 13 and drops off 2 minutes later.
        let travel = EuclideanTravel::mdrp(320.0);
        let (courier, rest, cust) = (pt(0.0), pt(300.0), pt(300.0 + 13.0 * 320.0));
        let t = time_trip(
            &travel,
            TripStart::Free {
                place: &courier,
                free_secs: 743 * 60,
            },
            743 * 60,
            &rest,
            753 * 60,
            [&cust].into_iter(),
            &ServiceSecs::split(240, 240),
        );
        assert_eq!(t.depart_secs, 750 * 60);
        assert_eq!(t.arrive_secs, 751 * 60);
        assert_eq!(t.pickup_secs, 753 * 60);
        assert_eq!(t.dropoff_secs, vec![(755 + 13 + 2) * 60]);
        assert_eq!(t.free_secs, (755 + 13 + 4) * 60);
    }

    #[test]
    fn late_rider_delays_pickup_and_drops_are_service_apart() {
        let travel = EuclideanTravel::mdrp(60.0); // 1 m = 1 s
        let (rider, rest) = (pt(0.0), pt(600.0));
        let t = time_trip(
            &travel,
            TripStart::Free {
                place: &rider,
                free_secs: 0,
            },
            0,
            &rest,
            60,
            [&rest, &rest].into_iter(),
            &ServiceSecs::split(240, 240),
        );
        // 10 minutes away: arrives at 600, picks up 120 s later.
        assert_eq!(t.pickup_secs, 720);
        // Both customers at the restaurant itself: drops 4 minutes apart.
        assert_eq!(t.dropoff_secs, vec![720 + 120 + 120, 720 + 120 + 120 + 240]);
    }
}
