//! The read model: order cards (JSON + ETag) for merchants' polls and
//! the console's picture, rewritten after each commit.

use std::time::Instant;

use super::{Actor, CONSOLE_EVERY};
use crate::base::Secs;
use crate::engine::{Activity, OrderId, OrderStatus};
use crate::live::view::{Card, CardBody, EtaBody, RestaurantBody, RiderDot};
use crate::live::{Scope, eta_p90};

impl Actor {
    pub(super) fn refresh_view(&mut self) {
        let cards: Vec<Card> = std::mem::take(&mut self.batch.touched_orders)
            .iter()
            .filter_map(|id| self.card(*id))
            .collect();
        self.view.put_cards(cards);
        let restaurants = std::mem::take(&mut self.batch.restaurants_changed);
        if !restaurants.is_empty() {
            self.view.put_restaurants(restaurants);
        }
        let riders = std::mem::take(&mut self.batch.riders_changed);
        if !riders.is_empty() {
            self.view.put_riders(riders);
        }
        if self.last_console.elapsed() >= CONSOLE_EVERY && self.view.console_watched() {
            self.last_console = Instant::now();
            self.view.put_console(self.console_json().into());
        }
    }

    pub(super) fn card(&self, id: OrderId) -> Option<Card> {
        let meta = self.orders.get(&id)?;
        let (spec, status) = self.engine.order(id)?;
        let now = self.clock.now_secs();
        let eta = |at: Secs| EtaBody {
            at,
            p90: eta_p90(now, at),
        };
        let planned = self.etas.get(&id);
        let mut body = CardBody {
            id: id.0,
            merchant: meta.merchant.clone(),
            restaurant: self
                .restaurants
                .at(spec.restaurant)
                .map(|r| r.id.clone())
                .unwrap_or_default(),
            state: status.name(),
            rider: None,
            customer: meta.customer,
            placed_at: spec.placed_secs,
            ready_at: spec.ready_secs,
            pickup_eta: None,
            dropoff_eta: None,
            picked_up_at: None,
            delivered_at: None,
            cancelled_at: None,
            cancel_reason: None,
        };
        match status {
            OrderStatus::Open | OrderStatus::Assigned { .. } => {
                body.pickup_eta = planned.map(|e| eta(e.0));
                body.dropoff_eta = planned.map(|e| eta(e.1));
            }
            OrderStatus::PickedUp { pickup_secs, .. } => {
                body.picked_up_at = Some(*pickup_secs);
                body.dropoff_eta = planned.map(|e| eta(e.1));
            }
            OrderStatus::Delivered {
                pickup_secs,
                dropoff_secs,
                ..
            } => {
                body.picked_up_at = Some(*pickup_secs);
                body.delivered_at = Some(*dropoff_secs);
            }
            OrderStatus::Cancelled { reason, at_secs } => {
                body.cancelled_at = Some(*at_secs);
                body.cancel_reason = Some(reason.clone());
            }
        }
        body.rider = match status {
            OrderStatus::Assigned { rider, .. }
            | OrderStatus::PickedUp { rider, .. }
            | OrderStatus::Delivered { rider, .. } => Some(rider.0),
            _ => None,
        };
        Some(Card::new(&body))
    }

    pub(super) fn console_json(&self) -> Vec<u8> {
        let mut riders = Vec::new();
        for (spec, activity) in self.engine.riders() {
            let link = self.links.get(&spec.id);
            let Some(at) = link.and_then(|l| l.fix) else {
                continue;
            };
            let state = match activity {
                _ if !self.engine.is_rider_online(spec.id) => "offline",
                Activity::Waiting { .. } => "waiting",
                Activity::Heading { .. } => "heading",
                Activity::Delivering { .. } => "delivering",
            };
            riders.push(RiderDot {
                id: spec.id.0,
                lat: at.lat,
                lng: at.lng,
                state,
                connected: link.is_some_and(|l| l.conn.is_some()),
            });
        }
        // The cards' JSON as it is, not parsed and written again.
        let orders = String::from_utf8(self.view.active_json(&Scope::Operator))
            .ok()
            .and_then(|text| serde_json::value::RawValue::from_string(text).ok());
        let now = self.clock.now_secs();
        let restaurants: Vec<RestaurantBody> = self
            .restaurants
            .all()
            .iter()
            .map(|r| RestaurantBody::of(r, &self.options.city, now))
            .collect();
        let body = serde_json::json!({
            "now": self.clock.now_secs(),
            "restaurants": restaurants,
            "riders": riders,
            "orders": orders,
        });
        crate::base::json_bytes(&body)
    }
}
