//! Merchants' requests: place (validated, idempotent), cancel, ready;
//! and the CRM hand-off of orders that ended.

use super::Actor;
use crate::base::Secs;
use crate::engine::{Event, OrderId, OrderSpec, OrderStatus};
use crate::live::crm_feed::{self, CrmOrder};
use crate::live::records::{self, LiveRecord, OrderMeta};
use crate::live::{LiveError, NewOrder, Scope};
use crate::map::LatLng;
use crate::wire::protocol::ServerMessage;

/// Longest a merchant may announce for food preparation.
const READY_IN_SECS_MAX: Secs = 4 * 3600;
const IDEMPOTENCY_KEY_LEN_MAX: usize = 128;
const REASON_LEN_MAX: usize = 200;

impl Actor {
    pub(super) fn place(&mut self, scope: &Scope, o: NewOrder) -> Result<(OrderId, bool), LiveError> {
        let invalid = |field, reason: String| LiveError::Invalid { field, reason };
        let (r, restaurant) = self
            .restaurants
            .get(&o.restaurant)
            .ok_or_else(|| LiveError::Refused {
                field: "restaurant",
                reason: format!("unknown restaurant {:?}", o.restaurant),
            })?;
        let merchant = restaurant.merchant.clone();
        if !scope.sees(&merchant) {
            return Err(LiveError::Forbidden(o.restaurant));
        }
        let now = self.clock.now_secs();
        let ready_in_secs = o.ready_in_secs.unwrap_or(restaurant.prep_secs);
        let max_ride_secs = restaurant.max_ride_secs;
        if !(0..=READY_IN_SECS_MAX).contains(&ready_in_secs) {
            return Err(invalid(
                "ready_in_secs",
                format!("must be within 0..={READY_IN_SECS_MAX}"),
            ));
        }
        if let Some(Err((field, reason))) = o.crm.as_ref().map(CrmOrder::check) {
            return Err(invalid(field, reason));
        }
        let crm_json = o.crm.as_ref().map(crate::base::json_string);
        // The request as sent: an omitted ready time hashes as it did when
        // it meant "now".
        let request_hash = crate::base::fnv1a(
            format!(
                "{}|{}|{}|{}|{}",
                o.restaurant,
                o.customer.lat,
                o.customer.lng,
                o.ready_in_secs.unwrap_or(0),
                crm_json.unwrap_or_default()
            )
            .as_bytes(),
        );
        if let Some(key) = &o.idempotency_key {
            if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LEN_MAX {
                return Err(invalid(
                    "Idempotency-Key",
                    format!("1 to {IDEMPOTENCY_KEY_LEN_MAX} characters"),
                ));
            }
            if let Some(&id) = self.idempotency.get(&(merchant.clone(), key.clone())) {
                let same = self
                    .orders
                    .get(&id)
                    .is_some_and(|m| m.request_hash == request_hash);
                return if same {
                    Ok((id, true))
                } else {
                    Err(LiveError::Conflict {
                        field: "Idempotency-Key",
                        reason: format!("already used for order {} with a different request", id.0),
                    })
                };
            }
        }
        if let Some(reason) = restaurant.closed_reason(&self.options.city, now) {
            return Err(LiveError::Conflict {
                field: "restaurant",
                reason,
            });
        }
        let customer = self.network.snap(o.customer).map_err(|e| LiveError::Refused {
            field: "customer",
            reason: e.to_string(),
        })?;
        if let Some(max) = max_ride_secs {
            self.check_ride(r, &customer, now, max)?;
        }
        let id = OrderId(self.next_order);
        let spec = OrderSpec {
            id,
            restaurant: r,
            customer,
            placed_secs: now,
            ready_secs: now + ready_in_secs,
        };
        self.engine.handle(now, Event::OrderPlaced(spec))?;
        self.next_order += 1;
        if let Some(key) = &o.idempotency_key {
            self.idempotency.insert((merchant.clone(), key.clone()), id);
        }
        self.batch.records.push(LiveRecord::Placed {
            at_secs: now,
            order: OrderSpec {
                id,
                restaurant: r,
                customer: o.customer,
                placed_secs: now,
                ready_secs: now + ready_in_secs,
            },
            merchant: merchant.clone(),
            idempotency_key: o.idempotency_key.clone(),
            request_hash,
            crm: o.crm.clone(),
        });
        self.orders.insert(
            id,
            OrderMeta {
                merchant,
                customer: o.customer,
                idempotency_key: o.idempotency_key,
                request_hash,
                crm: o.crm,
            },
        );
        self.batch.touched_orders.insert(id);
        Ok((id, false))
    }

    /// Refuses a customer beyond the restaurant's delivery area: a ride
    /// from it longer than `max_secs`.
    fn check_ride(
        &self,
        restaurant: u32,
        customer: &crate::map::VehiclePlace,
        now: Secs,
        max_secs: Secs,
    ) -> Result<(), LiveError> {
        let Some(from) = self.engine.restaurant_place(restaurant) else {
            return Ok(());
        };
        let ride = crate::dispatch::online::travel_secs(self.engine.travel(), from, customer, now);
        if ride > max_secs {
            return Err(LiveError::Invalid {
                field: "customer",
                reason: format!(
                    "outside the restaurant's delivery area: a {ride} s ride, at most {max_secs} s"
                ),
            });
        }
        Ok(())
    }

    /// Queues the CRM request of an order's end (sent after the journal
    /// write, with the rest of the batch's effects).
    pub(super) fn tell_crm(&mut self, id: OrderId, delivered: bool) {
        let Some(feed) = &self.crm_feed else {
            return;
        };
        let Some(meta) = self.orders.get(&id) else {
            return;
        };
        let Some(crm) = &meta.crm else {
            return;
        };
        let delivery = match self.engine.order(id) {
            Some((
                spec,
                OrderStatus::Delivered {
                    rider, dropoff_secs, ..
                },
            )) if delivered => Some(crm_feed::Delivery {
                rider: rider.0,
                late_secs: dropoff_secs - spec.placed_secs - feed.promise_secs,
                zone: crate::crm::analytics::grid_zone(meta.customer.lat, meta.customer.lng),
            }),
            _ => None,
        };
        self.batch.crm_out.push(crm_feed::request(
            id.0,
            &meta.merchant,
            crm,
            delivered,
            delivery.as_ref(),
        ));
        if let Some(d) = delivery.filter(|d| d.late_secs > 0) {
            self.batch.crm_out.push(crm_feed::lateness(
                id.0,
                &meta.merchant,
                crm,
                d.rider,
                d.late_secs,
            ));
        }
    }

    /// After a restart: every delivered or cancelled order of the journal
    /// goes to the CRM again (idempotent), so none is missed because the
    /// process died between its journal write and the CRM's commit.
    pub(super) fn resend_crm(&mut self) {
        let ended: Vec<(OrderId, bool)> = self
            .orders
            .iter()
            .filter(|(_, m)| m.crm.is_some())
            .filter_map(|(id, _)| match self.engine.order_status(*id) {
                Some(OrderStatus::Delivered { .. }) => Some((*id, true)),
                Some(OrderStatus::Cancelled { .. }) => Some((*id, false)),
                _ => None,
            })
            .collect();
        for (id, delivered) in ended {
            self.tell_crm(id, delivered);
        }
    }

    /// The order, if `scope` may see it (others' orders are not found).
    pub(super) fn visible(&self, scope: &Scope, id: OrderId) -> Result<(), LiveError> {
        match self.orders.get(&id) {
            Some(m) if scope.sees(&m.merchant) => Ok(()),
            _ => Err(LiveError::NotFound(id.0)),
        }
    }

    pub(super) fn cancel(
        &mut self,
        scope: &Scope,
        id: OrderId,
        reason: String,
    ) -> Result<OrderId, LiveError> {
        self.visible(scope, id)?;
        if reason.is_empty() || reason.len() > REASON_LEN_MAX {
            return Err(LiveError::Invalid {
                field: "reason",
                reason: format!("1 to {REASON_LEN_MAX} characters"),
            });
        }
        let rider = match self.engine.order_status(id) {
            Some(OrderStatus::Assigned { rider, .. }) => Some(*rider),
            _ => None,
        };
        let now = self.clock.now_secs();
        self.apply_event(now, Event::OrderCancelled { order: id, reason })?;
        self.tell_crm(id, false);
        self.batch.touched_orders.insert(id);
        self.etas.remove(&id);
        if let (Some(rider), Some(OrderStatus::Cancelled { reason, .. })) =
            (rider, self.engine.order_status(id))
        {
            let message = ServerMessage::OrderCancelled {
                order: id.0.to_string(),
                reason: reason.clone(),
            };
            self.batch.messages.push((rider, message));
            self.batch.touched_riders.insert(rider);
        }
        Ok(id)
    }

    pub(super) fn ready(&mut self, scope: &Scope, id: OrderId) -> Result<OrderId, LiveError> {
        self.visible(scope, id)?;
        let now = self.clock.now_secs();
        self.apply_event(now, Event::OrderReady { order: id })?;
        self.batch.touched_orders.insert(id);
        Ok(id)
    }

    /// Applies an event and journals it if the engine accepts it (places
    /// as coordinates, snapped again on replay).
    pub(super) fn apply_event(&mut self, now: Secs, event: Event<LatLng>) -> Result<(), LiveError> {
        let snapped = records::snap_event(&self.network, event.clone())?;
        self.engine.handle(now, snapped)?;
        self.batch.records.push(LiveRecord::Event { at_secs: now, event });
        Ok(())
    }
}
