//! What riders are told once the batch is durable: queued messages, then
//! each touched rider's stops with ETAs (new decisions first).

use tracing::warn;

use super::Actor;
use crate::base::Secs;
use crate::engine::{Activity, OrderId, RiderId};
use crate::map::LatLng;
use crate::wire::protocol::StopView;

impl Actor {
    pub(super) fn tell_riders(&mut self) {
        let now = self.clock.now_secs();
        let mut offline = Vec::new();
        for (rider, message) in std::mem::take(&mut self.batch.messages) {
            if self.link(rider).push(message, None).is_err() {
                offline.push(rider);
            }
        }
        // Riders with a new decision first: an ETA-only refresh (every
        // rider with a committed trip, each tick) never delays a push.
        let mut riders: Vec<RiderId> = std::mem::take(&mut self.batch.touched_riders)
            .into_iter()
            .collect();
        riders.sort_by_key(|r| !self.batch.decided.contains_key(r));
        for rider in riders {
            let stops = self.stops(now, rider);
            let decided = self.batch.decided.remove(&rider);
            let link = self.link(rider);
            if link.new_assignment && stops.is_empty() {
                link.new_assignment = false;
            }
            if let Some(message) = link.update_for(stops) {
                if link.push(message, decided).is_err() {
                    offline.push(rider);
                } else if let Some(at) = decided {
                    self.metrics
                        .assignment_queued
                        .observe_micros(at.elapsed().as_micros() as u64);
                }
            }
        }
        for rider in offline {
            warn!(rider = rider.0, "outbox full: rider offline");
            self.go_offline(now, rider);
        }
    }

    /// The rider's stops in order, with ETAs.
    pub(super) fn stops(&self, now: Secs, rider: RiderId) -> Vec<StopView> {
        let stop = |o: &OrderId, kind: &str, at: LatLng, eta: Secs| StopView {
            order: o.0.to_string(),
            kind: kind.into(),
            lat: at.lat,
            lng: at.lng,
            eta_secs: eta,
        };
        let customer = |o: &OrderId| {
            self.orders
                .get(o)
                .map_or(LatLng { lat: 0.0, lng: 0.0 }, |m| m.customer)
        };
        let dropoff_eta = |o: &OrderId| self.etas.get(o).map_or(0, |e| e.1);
        match self.engine.rider_activity(rider) {
            Some(Activity::Heading { trip, arrive_secs }) => {
                let at = self.restaurants.position(trip.restaurant);
                let pickups = trip.orders.iter().map(|o| {
                    let eta = self.etas.get(o).map_or(*arrive_secs, |e| e.0);
                    stop(o, "pickup", at, eta)
                });
                let drops = trip
                    .orders
                    .iter()
                    .map(|o| stop(o, "dropoff", customer(o), dropoff_eta(o)));
                pickups.chain(drops).collect()
            }
            Some(Activity::Delivering { left, .. }) => left
                .iter()
                .map(|o| stop(o, "dropoff", customer(o), dropoff_eta(o)))
                .collect(),
            _ => self
                .links
                .get(&rider)
                .and_then(|l| l.reposition.clone())
                .filter(|(_, arrive)| *arrive > now)
                .map(|(s, _)| s)
                .into_iter()
                .collect(),
        }
    }
}
