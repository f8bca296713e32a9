//! How events and plans change the state: each transition checks that it
//! is legal first, so a bad event is refused whole and changes nothing.

use super::model::{Activity, Command, OrderId, OrderSpec, OrderStatus, RiderId, RiderSpec, Trip};
use super::state::{OrderRecord, RiderRecord};
use super::{Engine, EngineError, PickupRule};
use crate::base::Secs;
use crate::dispatch::online::{Plan, time_dropoffs, travel_secs};
use crate::map::{TravelTime, by_vehicle};

impl<T: TravelTime> Engine<T> {
    pub(super) fn place_order(&mut self, spec: OrderSpec<T::Place>) -> Result<(), EngineError> {
        if self.orders.contains_key(&spec.id) {
            return Err(EngineError::DuplicateOrder(spec.id));
        }
        if spec.restaurant as usize >= self.restaurants.len() {
            return Err(EngineError::UnknownRestaurant(spec.restaurant));
        }
        if spec.ready_secs < spec.placed_secs {
            return Err(EngineError::InvalidOrder {
                order: spec.id,
                reason: format!(
                    "ready at {} before placed at {}",
                    spec.ready_secs, spec.placed_secs
                ),
            });
        }
        self.recent.push_back((spec.placed_secs, spec.restaurant));
        self.unpicked.insert(spec.id);
        let record = OrderRecord {
            spec,
            status: OrderStatus::Open,
        };
        self.orders.insert(record.spec.id, record);
        Ok(())
    }

    pub(super) fn cancel_order(&mut self, now: Secs, id: OrderId, reason: String) -> Result<(), EngineError> {
        let rec = self.orders.get(&id).ok_or(EngineError::UnknownOrder(id))?;
        match rec.status.clone() {
            OrderStatus::Open => {}
            OrderStatus::Assigned { rider, .. } => {
                if let Some(Activity::Heading { trip, .. }) =
                    self.riders.get_mut(&rider).map(|r| &mut r.activity)
                {
                    trip.orders.retain(|&o| o != id);
                    trip.decided_secs = now;
                }
            }
            other => {
                return Err(EngineError::InvalidTransition {
                    order: id,
                    what: "cancelled",
                    state: other.name().into(),
                });
            }
        }
        if let Some(rec) = self.orders.get_mut(&id) {
            rec.status = OrderStatus::Cancelled { reason, at_secs: now };
        }
        self.unpicked.remove(&id);
        Ok(())
    }

    pub(super) fn rider_online(&mut self, now: Secs, spec: RiderSpec<T::Place>) -> Result<(), EngineError> {
        if let Some(rec) = self.riders.get_mut(&spec.id) {
            if rec.online {
                return Err(EngineError::DuplicateRider(spec.id));
            }
            // Back from offline: a new shift from where it is.
            rec.online = true;
            rec.seen_secs = rec.seen_secs.max(now);
            rec.spec.on_secs = spec.on_secs;
            rec.spec.off_secs = spec.off_secs;
            return Ok(());
        }
        let activity = Activity::Waiting {
            place: spec.start.clone(),
            free_secs: spec.on_secs,
        };
        let record = RiderRecord {
            spec,
            activity,
            online: true,
            seen_secs: now,
        };
        self.riders.insert(record.spec.id, record);
        Ok(())
    }

    pub(super) fn rider_offline(&mut self, id: RiderId) -> Result<(), EngineError> {
        let rec = self.riders.get_mut(&id).ok_or(EngineError::UnknownRider(id))?;
        rec.online = false;
        // Orders not yet picked up go back to the pool; the rider stays
        // where it was heading.
        if let Activity::Heading { trip, arrive_secs } = &rec.activity {
            let (released, free_secs) = (trip.orders.clone(), *arrive_secs);
            let place = self.restaurants[trip.restaurant as usize].clone();
            rec.activity = Activity::Waiting { place, free_secs };
            for o in released {
                if let Some(order) = self.orders.get_mut(&o) {
                    order.status = OrderStatus::Open;
                }
            }
        }
        Ok(())
    }

    pub(super) fn delivered(&mut self, now: Secs, rider: RiderId, id: OrderId) -> Result<(), EngineError> {
        let order = self.orders.get(&id).ok_or(EngineError::UnknownOrder(id))?;
        let pickup_secs = match order.status {
            OrderStatus::PickedUp {
                rider: r,
                pickup_secs,
            } if r == rider => pickup_secs,
            ref other => {
                return Err(EngineError::InvalidTransition {
                    order: id,
                    what: "delivered by this rider",
                    state: other.name().into(),
                });
            }
        };
        let customer = order.spec.customer.clone();
        let rec = self
            .riders
            .get_mut(&rider)
            .ok_or(EngineError::UnknownRider(rider))?;
        if let Activity::Delivering { left, .. } = &mut rec.activity {
            left.retain(|&o| o != id);
            if left.is_empty() {
                rec.activity = Activity::Waiting {
                    place: customer,
                    free_secs: now + self.config.service.dropoff_after,
                };
            }
        }
        if let Some(order) = self.orders.get_mut(&id) {
            order.status = OrderStatus::Delivered {
                rider,
                pickup_secs,
                dropoff_secs: now,
            };
        }
        Ok(())
    }

    /// Applies a plan made from the snapshot whose ids are `order_ids` and
    /// `rider_ids`: committed trips take the orders that joined them,
    /// riders due to leave are sent.
    pub(super) fn apply(
        &mut self,
        now: Secs,
        plan: &Plan,
        order_ids: &[OrderId],
        rider_ids: &[RiderId],
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        for trip in &plan.trips {
            if !(trip.committed || trip.depart_now) {
                continue;
            }
            let rider = rider_ids[trip.rider];
            let orders: Vec<OrderId> = trip.orders.iter().map(|&o| order_ids[o]).collect();
            let command = if trip.committed {
                self.extend_trip(now, rider, orders)
            } else {
                self.send(now, rider, trip.restaurant, orders)
            };
            commands.extend(command);
        }
        for &(r, restaurant) in &plan.repositions {
            commands.extend(self.reposition(now, rider_ids[r], restaurant));
        }
        commands
    }

    /// Moves a waiting rider to a restaurant; it is free there on arrival.
    fn reposition(&mut self, now: Secs, rider: RiderId, restaurant: u32) -> Option<Command> {
        let rec = self.riders.get_mut(&rider).filter(|r| r.online)?;
        let Activity::Waiting { place, free_secs } = &rec.activity else {
            return None;
        };
        let dest = self.restaurants.get(restaurant as usize)?;
        if *free_secs > now {
            return None;
        }
        let travel = by_vehicle(&self.travel, rec.spec.vehicle);
        let arrive_secs = now + travel_secs(&travel, place, dest, now);
        self.commit_reposition(rider, restaurant, arrive_secs);
        Some(Command::Reposition {
            rider,
            restaurant,
            depart_secs: now,
            arrive_secs,
        })
    }

    /// Sets a committed trip's orders to `orders` (a superset, possibly
    /// reordered).
    pub(super) fn extend_trip(&mut self, now: Secs, rider: RiderId, orders: Vec<OrderId>) -> Option<Command> {
        let Some(Activity::Heading { trip, .. }) = self.riders.get_mut(&rider).map(|r| &mut r.activity)
        else {
            return None;
        };
        if trip.orders == orders {
            return None;
        }
        for &o in &orders {
            if let Some(rec) = self.orders.get_mut(&o)
                && rec.status == OrderStatus::Open
            {
                rec.status = OrderStatus::Assigned {
                    rider,
                    since_secs: now,
                };
                trip.decided_secs = now;
            }
        }
        // Keep only orders that really are on this trip.
        trip.orders = orders
            .into_iter()
            .filter(|o| matches!(self.orders.get(o).map(|r| &r.status), Some(OrderStatus::Assigned { rider: r, .. }) if *r == rider))
            .collect();
        Some(Command::Join {
            rider,
            orders: trip.orders.clone(),
            at_secs: now,
        })
    }

    /// Commits `orders` to a waiting rider and sends it to the restaurant.
    fn send(&mut self, now: Secs, rider: RiderId, restaurant: u32, orders: Vec<OrderId>) -> Option<Command> {
        let rec = self.riders.get_mut(&rider).filter(|r| r.online)?;
        let Activity::Waiting { place, free_secs } = &rec.activity else {
            return None;
        };
        let orders: Vec<OrderId> = orders
            .into_iter()
            .filter(|o| self.orders.get(o).is_some_and(|r| r.status == OrderStatus::Open))
            .collect();
        if orders.is_empty() || *free_secs > now {
            return None;
        }
        let dest = &self.restaurants[restaurant as usize];
        let travel = by_vehicle(&self.travel, rec.spec.vehicle);
        let arrive_secs = now + travel_secs(&travel, place, dest, now);
        self.commit_depart(rider, restaurant, &orders, now, arrive_secs);
        Some(Command::Depart {
            rider,
            restaurant,
            orders,
            depart_secs: now,
            arrive_secs,
        })
    }

    /// A rider leaves for `restaurant` with `orders` (checked by the caller).
    pub(super) fn commit_depart(
        &mut self,
        rider: RiderId,
        restaurant: u32,
        orders: &[OrderId],
        depart_secs: Secs,
        arrive_secs: Secs,
    ) {
        for o in orders {
            if let Some(r) = self.orders.get_mut(o) {
                r.status = OrderStatus::Assigned {
                    rider,
                    since_secs: depart_secs,
                };
            }
        }
        if let Some(rec) = self.riders.get_mut(&rider) {
            rec.activity = Activity::Heading {
                trip: Trip {
                    restaurant,
                    orders: orders.to_vec(),
                    decided_secs: depart_secs,
                },
                arrive_secs,
            };
        }
    }

    /// A rider moves to `restaurant`, free there from `arrive_secs`.
    pub(super) fn commit_reposition(&mut self, rider: RiderId, restaurant: u32, arrive_secs: Secs) {
        let Some(place) = self.restaurants.get(restaurant as usize).cloned() else {
            return;
        };
        if let Some(rec) = self.riders.get_mut(&rider) {
            rec.activity = Activity::Waiting {
                place,
                free_secs: arrive_secs,
            };
        }
    }

    /// A rider's emptied trip ends: it waits at the restaurant, free.
    pub(super) fn commit_release(&mut self, rider: RiderId, at_secs: Secs) {
        let Some(rec) = self.riders.get_mut(&rider) else {
            return;
        };
        if let Activity::Heading { trip, .. } = &rec.activity
            && let Some(place) = self.restaurants.get(trip.restaurant as usize).cloned()
        {
            rec.activity = Activity::Waiting {
                place,
                free_secs: at_secs,
            };
        }
    }

    /// A rider picks up `trip` at `pickup_secs`, to drop off at
    /// `dropoff_secs`; it is free after the last drop-off's service.
    pub(super) fn commit_pickup(
        &mut self,
        rider: RiderId,
        trip: &Trip,
        pickup_secs: Secs,
        dropoff_secs: &[Secs],
    ) {
        for o in &trip.orders {
            if let Some(r) = self.orders.get_mut(o) {
                r.status = OrderStatus::PickedUp { rider, pickup_secs };
            }
            self.unpicked.remove(o);
        }
        let last = trip.orders.last().and_then(|o| self.orders.get(o));
        let free_place = last.map_or_else(
            || self.restaurants[trip.restaurant as usize].clone(),
            |r| r.spec.customer.clone(),
        );
        let free_secs = dropoff_secs
            .last()
            .map_or(pickup_secs, |d| d + self.config.service.dropoff_after);
        if let Some(r) = self.riders.get_mut(&rider) {
            r.activity = Activity::Delivering {
                trip: trip.clone(),
                pickup_secs,
                left: trip.orders.clone(),
                free_place,
                free_secs,
            };
        }
    }

    /// Seals every trip whose rider is at the restaurant, with service
    /// begun and all food ready: its orders are picked up now. Under
    /// [`PickupRule::Confirmed`] only trips emptied by cancellations are
    /// closed here; the rest wait for the rider's word.
    pub(super) fn seal_due(&mut self, now: Secs) -> Vec<Command> {
        let before = self.config.service.pickup_before;
        let confirmed = self.config.pickup == PickupRule::Confirmed;
        let mut commands = Vec::new();
        let ids: Vec<RiderId> = self.riders.keys().copied().collect();
        for id in ids {
            let Some(rec) = self.riders.get(&id) else { continue };
            let Activity::Heading { trip, arrive_secs } = &rec.activity else {
                continue;
            };
            let ready = trip
                .orders
                .iter()
                .filter_map(|o| self.orders.get(o))
                .map(|o| o.spec.ready_secs)
                .max()
                .unwrap_or(Secs::MIN);
            let due = now >= arrive_secs + before && now >= ready;
            if !due || (confirmed && !trip.orders.is_empty()) {
                continue;
            }
            commands.extend(self.seal(id, now));
        }
        commands
    }

    /// The rider reports it has picked up its trip's food: the bundle is
    /// sealed now (live pickups, [`PickupRule::Confirmed`]) and the
    /// returned `PickUp` decision says when each drop-off is expected. A
    /// decision, not an event: journal the command, which replays to the
    /// same state.
    pub fn pick_up(&mut self, now: Secs, rider: RiderId) -> Result<Command, EngineError> {
        let rec = self.riders.get(&rider).ok_or(EngineError::UnknownRider(rider))?;
        match &rec.activity {
            Activity::Heading { trip, .. } if !trip.orders.is_empty() => {}
            _ => return Err(EngineError::NothingToPickUp(rider)),
        }
        self.heard_from(now, rider);
        self.seal(rider, now).ok_or(EngineError::NothingToPickUp(rider))
    }

    /// Closes a heading rider's trip at `now`: picks up its orders, or
    /// releases the rider if every order was cancelled on the way.
    fn seal(&mut self, id: RiderId, now: Secs) -> Option<Command> {
        let rec = self.riders.get(&id)?;
        let Activity::Heading { trip, .. } = &rec.activity else {
            return None;
        };
        let (trip, vehicle) = (trip.clone(), rec.spec.vehicle);
        if trip.orders.is_empty() {
            // Everything was cancelled on the way: wait there.
            self.commit_release(id, now);
            return Some(Command::Release {
                rider: id,
                at_secs: now,
            });
        }
        let restaurant = self.restaurants.get(trip.restaurant as usize)?;
        let customers: Vec<T::Place> = trip
            .orders
            .iter()
            .filter_map(|o| self.orders.get(o).map(|r| r.spec.customer.clone()))
            .collect();
        let (dropoff_secs, _) = time_dropoffs(
            &by_vehicle(&self.travel, vehicle),
            restaurant,
            now,
            customers.iter(),
            &self.config.service,
        );
        self.commit_pickup(id, &trip, now, &dropoff_secs);
        Some(Command::PickUp {
            rider: id,
            trip,
            pickup_secs: now,
            dropoff_secs,
        })
    }

    /// The kitchen says the food is ready now (earlier or later than first
    /// expected).
    pub(super) fn order_ready(&mut self, now: Secs, id: OrderId) -> Result<(), EngineError> {
        let rec = self.orders.get_mut(&id).ok_or(EngineError::UnknownOrder(id))?;
        match rec.status {
            OrderStatus::Open | OrderStatus::Assigned { .. } => {
                rec.spec.ready_secs = now.max(rec.spec.placed_secs);
                Ok(())
            }
            ref other => Err(EngineError::InvalidTransition {
                order: id,
                what: "marked ready",
                state: other.name().into(),
            }),
        }
    }

    /// A waiting rider is now at `place` (a GPS fix): it is planned from
    /// there. Busy riders are planned from where their work ends, so their
    /// fixes change nothing here. Soft state, not journaled: a restarted
    /// engine plans from the next fix.
    /// The rider acted at `now_secs` (a delivery, a pickup): it is there.
    pub(super) fn heard_from(&mut self, now_secs: Secs, id: RiderId) {
        if let Some(rec) = self.riders.get_mut(&id) {
            rec.seen_secs = rec.seen_secs.max(now_secs);
        }
    }

    pub fn locate_rider(&mut self, now_secs: Secs, id: RiderId, place: T::Place) -> Result<(), EngineError> {
        let rec = self.riders.get_mut(&id).ok_or(EngineError::UnknownRider(id))?;
        rec.seen_secs = rec.seen_secs.max(now_secs);
        if let Activity::Waiting { free_secs, .. } = rec.activity {
            rec.activity = Activity::Waiting { place, free_secs };
        }
        Ok(())
    }
}
