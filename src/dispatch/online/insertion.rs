//! The rolling-horizon policy: every rider has a queue of trips (its
//! committed one first); open orders, most urgent first, go where they add
//! the least cost, either as a new trip at the end of some rider's queue
//! or into an existing trip at the same restaurant (a bundle). Cost is the
//! orders' click-to-door plus the rider time trips take (from leaving to
//! free again; idle waiting is free) at `rider_time_weight`, so a bundle
//! wins only when the rider time it saves is worth the later drop-off.

mod edit;

use edit::Edit;

use super::timing::{TripStart, time_trip, time_trip_with};
use super::{OrderView, Plan, PlannedTrip, RiderView, RollingParams, Secs, Snapshot, TripTiming};
use crate::map::{TravelTime, by_vehicle};

/// Most orders `rider` may carry in one trip: the policy's limit, or its
/// own capacity where smaller.
fn bundle_max<P>(params: &RollingParams, rider: &RiderView<P>) -> usize {
    rider.capacity_orders.map_or(params.bundle_orders_max, |c| {
        (c as usize).clamp(1, params.bundle_orders_max)
    })
}

/// A trip being planned.
#[derive(Debug, Clone)]
struct Draft {
    restaurant: u32,
    /// Indices into the snapshot's orders, in drop-off order.
    orders: Vec<usize>,
    committed: bool,
    arrive_secs: Secs,
}

/// One rider's queue, timed, and what it costs.
struct Queue<P> {
    trips: Vec<Draft>,
    /// One per trip; empty when the queue is infeasible.
    timings: Vec<TripTiming>,
    /// Infinite when a pickup would fall after the rider's shift.
    cost: f64,
    /// Where and when the rider is free after the last trip.
    tail_place: P,
    tail_secs: Secs,
    /// Per trip, the click-to-door and working seconds of the trips up to
    /// and including it: an edit is timed from where it changes the queue.
    prefix: Vec<(i64, i64)>,
}

/// A queue's schedule: cost, trip timings, where and when it ends.
struct Timed<'p, P> {
    cost: f64,
    timings: Vec<TripTiming>,
    tail_place: &'p P,
    tail_secs: Secs,
    prefix: Vec<(i64, i64)>,
}

/// Context shared by every evaluation in one tick.
struct Ctx<'a, T: TravelTime> {
    s: &'a Snapshot<T::Place>,
    travel: &'a T,
    params: &'a RollingParams,
    /// Cost of a second of rider time in this pass (`rider_time_weight`).
    weight: f64,
}

impl<T: TravelTime> Ctx<'_, T> {
    fn order(&self, i: usize) -> &OrderView<T::Place> {
        &self.s.orders[i]
    }

    /// Times every trip of `trips` for `rider`; `None` if a pickup falls
    /// after the rider's shift.
    fn time_queue<'p>(
        &'p self,
        rider: &'p RiderView<T::Place>,
        trips: &[Draft],
    ) -> Option<Timed<'p, T::Place>> {
        let mut place = &rider.free_place;
        let mut free = rider.free_secs.max(self.s.now_secs);
        let mut click_to_door_secs = 0i64;
        let mut working_secs = 0i64;
        let mut timings = Vec::with_capacity(trips.len());
        let mut prefix = Vec::with_capacity(trips.len());
        for d in trips {
            let start = if d.committed {
                TripStart::Committed {
                    arrive_secs: d.arrive_secs,
                }
            } else {
                TripStart::Free {
                    place,
                    free_secs: free,
                }
            };
            let ready = d
                .orders
                .iter()
                .map(|&o| self.order(o).ready_secs)
                .max()
                .unwrap_or(0);
            let restaurant = &self.s.restaurants[d.restaurant as usize];
            let customers = d.orders.iter().map(|&o| &self.order(o).customer);
            let t = time_trip(
                &by_vehicle(self.travel, rider.vehicle),
                start,
                self.s.now_secs,
                restaurant,
                ready,
                customers,
                &self.s.service,
            );
            if t.pickup_secs > rider.off_secs {
                return None;
            }
            for (&o, &drop) in d.orders.iter().zip(&t.dropoff_secs) {
                click_to_door_secs += drop - self.order(o).placed_secs;
            }
            working_secs += t.free_secs - t.depart_secs;
            free = t.free_secs;
            place = d.orders.last().map_or(restaurant, |&o| &self.order(o).customer);
            timings.push(t);
            prefix.push((click_to_door_secs, working_secs));
        }
        Some(Timed {
            cost: self.cost(click_to_door_secs, working_secs),
            timings,
            tail_place: place,
            tail_secs: free,
            prefix,
        })
    }

    fn cost(&self, click_to_door_secs: i64, working_secs: i64) -> f64 {
        click_to_door_secs as f64 + self.weight * working_secs as f64
    }

    fn queue(&self, rider: &RiderView<T::Place>, trips: Vec<Draft>) -> Queue<T::Place> {
        match self.time_queue(rider, &trips) {
            Some(t) => Queue {
                trips,
                timings: t.timings,
                cost: t.cost,
                tail_place: t.tail_place.clone(),
                tail_secs: t.tail_secs,
                prefix: t.prefix,
            },
            None => Queue {
                trips,
                timings: Vec::new(),
                cost: f64::INFINITY,
                tail_place: rider.free_place.clone(),
                tail_secs: rider.free_secs.max(self.s.now_secs),
                prefix: Vec::new(),
            },
        }
    }

    /// Extra cost of a new one-order trip at the end of `q`: O(1).
    fn append_delta(&self, rider: &RiderView<T::Place>, q: &Queue<T::Place>, o: usize) -> Option<f64> {
        let ov = self.order(o);
        let restaurant = &self.s.restaurants[ov.restaurant as usize];
        let start = TripStart::Free {
            place: &q.tail_place,
            free_secs: q.tail_secs,
        };
        let customers = std::iter::once(&ov.customer);
        let mut dropoff_secs = 0;
        let t = time_trip_with(
            &by_vehicle(self.travel, rider.vehicle),
            start,
            self.s.now_secs,
            restaurant,
            ov.ready_secs,
            customers,
            &self.s.service,
            |drop| dropoff_secs = drop,
        );
        if t.pickup_secs > rider.off_secs {
            return None;
        }
        let click_to_door = (dropoff_secs - ov.placed_secs) as f64;
        Some(click_to_door + self.weight * (t.free_secs - t.depart_secs) as f64)
    }
}

/// Where an order would go on one rider: extra cost, and where in its
/// queue (`None`: a new one-order trip at the end, see [`appended`]).
type Placement = (f64, Option<Edit>);

/// `q`'s trips with a new one-order trip for `o` at the end.
fn appended(q: &Queue<impl Clone>, o: usize, restaurant: u32) -> Vec<Draft> {
    let mut t = q.trips.clone();
    t.push(Draft {
        restaurant,
        orders: vec![o],
        committed: false,
        arrive_secs: 0,
    });
    t
}

/// Plans `s`; with `allowed` (per restaurant, ascending rider indices),
/// an order only goes to the riders allowed for its restaurant.
pub(super) fn plan<T: TravelTime>(
    s: &Snapshot<T::Place>,
    travel: &T,
    params: &RollingParams,
    allowed: Option<&[Vec<usize>]>,
) -> Plan {
    let ctx = Ctx {
        s,
        travel,
        params,
        weight: params.rider_time_weight,
    };
    let mut on_trip = vec![false; s.orders.len()];
    let mut queues: Vec<Queue<T::Place>> = s
        .riders
        .iter()
        .map(|r| {
            let trips: Vec<Draft> = r
                .committed
                .iter()
                .map(|c| {
                    for &o in &c.orders {
                        on_trip[o] = true;
                    }
                    Draft {
                        restaurant: c.restaurant,
                        orders: c.orders.clone(),
                        committed: true,
                        arrive_secs: c.arrive_secs,
                    }
                })
                .collect();
            ctx.queue(r, trips)
        })
        .collect();
    let mut open: Vec<usize> = (0..s.orders.len()).filter(|&o| !on_trip[o]).collect();
    open.sort_by_key(|&o| (s.orders[o].ready_secs, s.orders[o].placed_secs, s.orders[o].id));
    let unplanned = insert_by_regret(&ctx, &mut queues, open, allowed);
    Plan {
        trips: emit(&ctx, queues),
        unplanned,
        repositions: Vec::new(),
    }
}

/// Best and second-best extra cost of one order over its riders.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    best: f64,
    best_rider: usize,
    second: f64,
    second_rider: usize,
}

impl Ranked {
    fn of(costs: &[(usize, f64)]) -> Self {
        let mut r = Ranked {
            best: f64::INFINITY,
            best_rider: usize::MAX,
            second: f64::INFINITY,
            second_rider: usize::MAX,
        };
        for &(k, c) in costs {
            r.offer(k, c);
        }
        r
    }

    fn offer(&mut self, rider: usize, cost: f64) {
        if cost < self.best {
            (self.second, self.second_rider) = (self.best, self.best_rider);
            (self.best, self.best_rider) = (cost, rider);
        } else if cost < self.second {
            (self.second, self.second_rider) = (cost, rider);
        }
    }

    /// What the order loses if its best rider goes elsewhere: orders with
    /// one good rider are placed first.
    fn regret(&self) -> f64 {
        if self.second.is_finite() {
            self.second - self.best
        } else {
            f64::MAX
        }
    }
}

/// Regret-2 insertion: repeatedly places the open order that would lose
/// most by not getting its best rider (ties: most urgent first, `open`'s
/// order). Each order is weighed against its restaurant's allowed riders
/// only (all riders without `allowed`), and only the changed rider's costs
/// are recomputed after each placement. Returns the orders no rider can
/// take.
fn insert_by_regret<T: TravelTime>(
    ctx: &Ctx<'_, T>,
    queues: &mut [Queue<T::Place>],
    open: Vec<usize>,
    allowed: Option<&[Vec<usize>]>,
) -> Vec<usize> {
    let riders = ctx.s.riders.len();
    let cost_of = |queues: &[Queue<T::Place>], r: usize, o: usize| {
        rider_option(ctx, r, &queues[r], o).map_or(f64::INFINITY, |(c, _)| c)
    };
    let everyone: Vec<usize> = if allowed.is_none() {
        (0..riders).collect()
    } else {
        Vec::new()
    };
    let riders_of = |o: usize| -> &[usize] {
        match allowed {
            Some(a) => a
                .get(ctx.order(o).restaurant as usize)
                .map_or(&[][..], |v| &v[..]),
            None => &everyone,
        }
    };
    // Per open order, (rider, extra cost) over its riders; per rider, the
    // open orders that weigh it (position in `open`, slot in their costs).
    let mut costs: Vec<Vec<(usize, f64)>> = open
        .iter()
        .map(|&o| riders_of(o).iter().map(|&r| (r, cost_of(queues, r, o))).collect())
        .collect();
    let mut weighed_by: Vec<Vec<(usize, usize)>> = vec![Vec::new(); riders];
    for (j, c) in costs.iter().enumerate() {
        for (slot, &(r, _)) in c.iter().enumerate() {
            weighed_by[r].push((j, slot));
        }
    }
    let mut ranked: Vec<Ranked> = costs.iter().map(|c| Ranked::of(c)).collect();
    let mut placed = vec![false; open.len()];
    let mut left: Vec<usize> = (0..open.len()).collect();
    let mut unplanned = Vec::new();
    // Each round places or drops one order: at most `open.len()` rounds.
    while !left.is_empty() {
        let mut pick = 0;
        for k in 1..left.len() {
            if ranked[left[k]].regret() > ranked[left[pick]].regret() {
                pick = k;
            }
        }
        let i = left.swap_remove(pick);
        placed[i] = true;
        let o = open[i];
        let r = ranked[i].best_rider;
        let Some((_, trips)) = (r < riders)
            .then(|| rider_option(ctx, r, &queues[r], o))
            .flatten()
        else {
            unplanned.push(o);
            continue;
        };
        let restaurant = ctx.order(o).restaurant;
        let trips = match trips {
            Some(edit) => edit.apply(&queues[r].trips, o, restaurant),
            None => appended(&queues[r], o, restaurant),
        };
        queues[r] = ctx.queue(&ctx.s.riders[r], trips);
        for &(j, slot) in weighed_by[r].iter().filter(|(j, _)| !placed[*j]) {
            let c = cost_of(queues, r, open[j]);
            costs[j][slot].1 = c;
            let rk = &mut ranked[j];
            if rk.best_rider == r || rk.second_rider == r {
                *rk = Ranked::of(&costs[j]);
            } else {
                rk.offer(r, c);
            }
        }
    }
    unplanned
}

/// The cheapest place for order `o` on rider `r`.
fn rider_option<T: TravelTime>(
    ctx: &Ctx<'_, T>,
    r: usize,
    q: &Queue<T::Place>,
    o: usize,
) -> Option<Placement> {
    if !q.cost.is_finite() {
        return None;
    }
    let rider = &ctx.s.riders[r];
    let restaurant = ctx.order(o).restaurant;
    let mut best: Option<Placement> = ctx.append_delta(rider, q, o).map(|d| (d, None));
    let mut consider = |edit: Edit| {
        if let Some(cost) = ctx.edited_cost(rider, q, o, edit) {
            let delta = cost - q.cost;
            if best.as_ref().is_none_or(|b| delta < b.0) {
                best = Some((delta, Some(edit)));
            }
        }
    };
    // A new trip ahead of pencilled-in ones (never ahead of a committed
    // trip): an urgent order placed late need not queue behind them.
    let first_free = q.trips.iter().take_while(|d| d.committed).count();
    for at in first_free..q.trips.len() {
        consider(Edit::NewTrip { at });
    }
    for (trip, d) in q.trips.iter().enumerate() {
        if d.restaurant != restaurant || d.orders.len() >= bundle_max(ctx.params, rider) {
            continue;
        }
        for pos in 0..=d.orders.len() {
            consider(Edit::Join { trip, pos });
        }
    }
    best
}

/// Turns the queues into planned trips, marking those to start now.
fn emit<T: TravelTime>(ctx: &Ctx<'_, T>, queues: Vec<Queue<T::Place>>) -> Vec<PlannedTrip> {
    let now = ctx.s.now_secs;
    let mut out = Vec::new();
    for (r, q) in queues.into_iter().enumerate() {
        let rider = &ctx.s.riders[r];
        if !q.cost.is_finite() {
            continue;
        }
        for (k, (d, timing)) in q.trips.into_iter().zip(q.timings).enumerate() {
            // Leave now if waiting for the next tick would delay the pickup.
            let depart_now = k == 0
                && !d.committed
                && rider.committed.is_none()
                && rider.free_secs <= now
                && timing.depart_secs < now + ctx.params.tick_secs;
            out.push(PlannedTrip {
                rider: r,
                restaurant: d.restaurant,
                orders: d.orders,
                committed: d.committed,
                depart_now,
                timing,
            });
        }
    }
    out
}
