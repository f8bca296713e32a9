//! An order put into a rider's queue without building the new queue. The
//! planner weighs every place in every candidate rider's queue for every
//! open order; building each queue to time it allocated a queue per place.
//! An edit is timed from the first trip it changes: the trips before it
//! keep the times the queue already has.

use std::iter;

use super::{Ctx, Draft, Queue};
use crate::base::Secs;
use crate::dispatch::online::RiderView;
use crate::dispatch::online::timing::{TripStart, time_trip_with};
use crate::map::TravelTime;
use crate::map::by_vehicle;

/// Where an order goes in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edit {
    /// A new one-order trip before the `at`th.
    NewTrip { at: usize },
    /// Into the `trip`th trip, dropped off `pos`th.
    Join { trip: usize, pos: usize },
}

impl Edit {
    /// `trips` with order `o` (of `restaurant`) put in.
    pub(super) fn apply(self, trips: &[Draft], o: usize, restaurant: u32) -> Vec<Draft> {
        let mut out = trips.to_vec();
        match self {
            Edit::NewTrip { at } => out.insert(
                at,
                Draft {
                    restaurant,
                    orders: vec![o],
                    committed: false,
                    arrive_secs: 0,
                },
            ),
            Edit::Join { trip, pos } => out[trip].orders.insert(pos, o),
        }
        out
    }
}

/// Where the timing of a queue stands between two trips.
struct Cursor<'p, P> {
    place: &'p P,
    free_secs: Secs,
    click_to_door_secs: i64,
    working_secs: i64,
}

impl<T: TravelTime> Ctx<'_, T> {
    /// What `q` would cost with order `o` put in by `edit` (the cost
    /// `time_queue` gives the edited trips); `None` if a pickup would fall
    /// after the rider's shift.
    pub(super) fn edited_cost(
        &self,
        rider: &RiderView<T::Place>,
        q: &Queue<T::Place>,
        o: usize,
        edit: Edit,
    ) -> Option<f64> {
        let (first, rest) = match edit {
            Edit::NewTrip { at } => (at, at),
            Edit::Join { trip, .. } => (trip, trip + 1),
        };
        let mut c = self.cursor_before(rider, q, first);
        match edit {
            Edit::NewTrip { .. } => {
                self.step(rider, &mut c, self.order(o).restaurant, None, iter::once(o))?;
            }
            Edit::Join { trip, pos } => {
                let d = &q.trips[trip];
                let orders = d.orders[..pos]
                    .iter()
                    .copied()
                    .chain(iter::once(o))
                    .chain(d.orders[pos..].iter().copied());
                let arrive = d.committed.then_some(d.arrive_secs);
                self.step(rider, &mut c, d.restaurant, arrive, orders)?;
            }
        }
        for d in &q.trips[rest..] {
            let arrive = d.committed.then_some(d.arrive_secs);
            self.step(rider, &mut c, d.restaurant, arrive, d.orders.iter().copied())?;
        }
        Some(self.cost(c.click_to_door_secs, c.working_secs))
    }

    /// The timing state before `q`'s `k`th trip.
    fn cursor_before<'p>(
        &'p self,
        rider: &'p RiderView<T::Place>,
        q: &'p Queue<T::Place>,
        k: usize,
    ) -> Cursor<'p, T::Place> {
        let Some(k) = k.checked_sub(1) else {
            return Cursor {
                place: &rider.free_place,
                free_secs: rider.free_secs.max(self.s.now_secs),
                click_to_door_secs: 0,
                working_secs: 0,
            };
        };
        let d = &q.trips[k];
        let (click_to_door_secs, working_secs) = q.prefix[k];
        Cursor {
            place: d
                .orders
                .last()
                .map_or(&self.s.restaurants[d.restaurant as usize], |&o| {
                    &self.order(o).customer
                }),
            free_secs: q.timings[k].free_secs,
            click_to_door_secs,
            working_secs,
        }
    }

    /// Times one trip from the cursor and moves the cursor past it; `None`
    /// if its pickup falls after the rider's shift.
    fn step<'p>(
        &'p self,
        rider: &RiderView<T::Place>,
        c: &mut Cursor<'p, T::Place>,
        restaurant: u32,
        committed_arrive_secs: Option<Secs>,
        orders: impl Iterator<Item = usize> + Clone,
    ) -> Option<()> {
        let start = match committed_arrive_secs {
            Some(arrive_secs) => TripStart::Committed { arrive_secs },
            None => TripStart::Free {
                place: c.place,
                free_secs: c.free_secs,
            },
        };
        let ready = orders
            .clone()
            .map(|o| self.order(o).ready_secs)
            .max()
            .unwrap_or(0);
        let place = &self.s.restaurants[restaurant as usize];
        let customers = orders.clone().map(|o| &self.order(o).customer);
        let mut placed = orders.clone().map(|o| self.order(o).placed_secs);
        let mut click_to_door_secs = 0;
        let t = time_trip_with(
            &by_vehicle(self.travel, rider.vehicle),
            start,
            self.s.now_secs,
            place,
            ready,
            customers,
            &self.s.service,
            |drop| click_to_door_secs += drop - placed.next().unwrap_or(drop),
        );
        if t.pickup_secs > rider.off_secs {
            return None;
        }
        c.click_to_door_secs += click_to_door_secs;
        c.working_secs += t.free_secs - t.depart_secs;
        c.free_secs = t.free_secs;
        c.place = orders.last().map_or(place, |o| &self.order(o).customer);
        Some(())
    }
}
