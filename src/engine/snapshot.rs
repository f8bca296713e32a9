//! The planner's view of one tick: open orders, orders on unsealed trips,
//! and the riders worth weighing, with each restaurant's candidates.

use std::collections::{BTreeMap, HashMap};

use super::Engine;
use super::candidates::{self, RiderShortlist};
use super::model::{OrderId, OrderStatus, RiderId};
use crate::base::Secs;
use crate::dispatch::online::{OrderView, Policy, RiderView, Shortlist, Snapshot};
use crate::map::TravelTime;

/// A snapshot and the engine ids of its orders and riders, by position.
pub(super) type Taken<P> = (Snapshot<P>, Vec<OrderId>, Vec<RiderId>);

impl<T: TravelTime> Engine<T> {
    /// Takes the planner's view at `now_secs`. A small fleet is weighed
    /// whole. Otherwise the riders in it are those on a committed trip
    /// (their trips are re-timed), those some restaurant's shortlist names,
    /// and idle fresh riders the policy may reposition.
    pub(super) fn snapshot(&mut self, now_secs: Secs) -> Taken<T::Place> {
        let mut orders = Vec::new();
        let mut order_ids = Vec::new();
        let mut index_of = BTreeMap::new();
        let mut open = vec![0usize; self.restaurants.len()];
        for id in &self.unpicked {
            if let Some(rec) = self.orders.get(id) {
                index_of.insert(*id, orders.len());
                orders.push(rec.view());
                order_ids.push(*id);
                if matches!(rec.status, OrderStatus::Open)
                    && let Some(n) = open.get_mut(rec.spec.restaurant as usize)
                {
                    *n += 1;
                }
            }
        }
        let views = self.working_riders(now_secs, &index_of);
        if self.config.candidates.whole_fleet(views.len()) {
            let (rider_ids, riders) = views
                .into_iter()
                .filter(|(id, v)| v.committed.is_some() || self.free_at.is_fresh(*id, now_secs))
                .unzip();
            let snapshot = self.snapshot_of(now_secs, orders, riders, None);
            return (snapshot, order_ids, rider_ids);
        }
        let lists = candidates::shortlists(
            &self.config.candidates,
            &self.free_at,
            &self.restaurants_xy,
            &open,
            now_secs,
        );
        let named = candidates::named(&lists);
        let repositions = self.repositions_idle(now_secs);
        let mut riders = Vec::new();
        let mut rider_ids = Vec::new();
        let mut position = HashMap::new();
        for (id, view) in views {
            let idle_here = repositions(&view) && self.free_at.is_fresh(id, now_secs);
            if view.committed.is_some() || named.contains(&id) || idle_here {
                position.insert(id, riders.len());
                riders.push(view);
                rider_ids.push(id);
            }
        }
        let candidates = Some(self.in_snapshot(&lists, &riders, &position));
        let snapshot = self.snapshot_of(now_secs, orders, riders, candidates);
        (snapshot, order_ids, rider_ids)
    }

    fn snapshot_of(
        &self,
        now_secs: Secs,
        orders: Vec<OrderView<T::Place>>,
        riders: Vec<RiderView<T::Place>>,
        candidates: Option<Vec<Shortlist>>,
    ) -> Snapshot<T::Place> {
        let mut demand = vec![0.0; self.restaurants.len()];
        // `begin_tick` has dropped placements older than the window.
        for &(_, r) in &self.recent {
            demand[r as usize] += 1.0;
        }
        Snapshot {
            demand,
            now_secs,
            restaurants: self.restaurants.clone(),
            orders,
            riders,
            service: self.config.service,
            candidates,
        }
    }

    /// Every rider that can take work now, with its view, and the index
    /// brought up to date: where each will be free; the others leave it.
    fn working_riders(
        &mut self,
        now_secs: Secs,
        index_of: &BTreeMap<OrderId, usize>,
    ) -> Vec<(RiderId, RiderView<T::Place>)> {
        let mut views = Vec::with_capacity(self.riders.len());
        for (id, rec) in &self.riders {
            match rec.view(now_secs, index_of, &self.restaurants) {
                Some(view) => {
                    let xy = self.travel.planar_meters(&view.free_place);
                    if xy.iter().all(|c| c.is_finite()) {
                        self.free_at.put(*id, xy, rec.seen_secs);
                    } else {
                        self.free_at.remove(*id);
                    }
                    views.push((*id, view));
                }
                None => {
                    self.free_at.remove(*id);
                }
            }
        }
        views
    }

    /// Which riders the policy may move towards demand (idle, with enough
    /// shift left), so they are in the snapshot though no order is near.
    fn repositions_idle(&self, now_secs: Secs) -> impl Fn(&RiderView<T::Place>) -> bool + use<T> {
        let shift_left = match self.config.policy {
            Policy::Rolling(p) if p.reposition_min_secs > 0 => Some(p.reposition_shift_left_secs),
            _ => None,
        };
        move |v| {
            shift_left.is_some_and(|left| {
                v.committed.is_none() && v.free_secs <= now_secs && v.off_secs - now_secs >= left
            })
        }
    }

    /// The shortlists in snapshot positions, one per restaurant (empty
    /// where no order is open), with the riders on a trip to a restaurant
    /// always among its candidates.
    fn in_snapshot(
        &self,
        lists: &[RiderShortlist],
        riders: &[RiderView<T::Place>],
        position: &HashMap<RiderId, usize>,
    ) -> Vec<Shortlist> {
        let mut out = vec![Shortlist::default(); self.restaurants.len()];
        for l in lists {
            if let Some(s) = out.get_mut(l.restaurant) {
                s.riders = l
                    .riders
                    .iter()
                    .filter_map(|id| position.get(id).copied())
                    .collect();
                s.keep = l.keep;
            }
        }
        for (i, v) in riders.iter().enumerate() {
            if let Some(c) = &v.committed
                && let Some(s) = out.get_mut(c.restaurant as usize)
                && s.keep > 0
            {
                s.riders.push(i);
            }
        }
        out
    }
}
