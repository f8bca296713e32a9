//! The engine's invariants, checked by tests after every event.

use std::collections::BTreeMap;

use super::Engine;
use super::model::{Activity, OrderId, OrderStatus, RiderId};
use crate::dispatch::online::Policy;
use crate::map::TravelTime;

impl<T: TravelTime> Engine<T> {
    /// Checks that the state is coherent: every order is in exactly one
    /// place (open, on one rider's trip, carried by one rider, or done);
    /// no rider carries more than a bundle may hold; no trip names an
    /// unknown order or rider. Returns the first violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        let bundle_max = match self.config.policy {
            Policy::Rolling(p) => p.bundle_orders_max,
            Policy::NearestIdle => 1,
        };
        let mut holder: BTreeMap<OrderId, RiderId> = BTreeMap::new();
        for (id, rider) in &self.riders {
            let (orders, carried) = match &rider.activity {
                Activity::Waiting { .. } => continue,
                Activity::Heading { trip, .. } => (&trip.orders, false),
                Activity::Delivering { trip, left, .. } => {
                    if left.iter().any(|o| !trip.orders.contains(o)) {
                        return Err(format!("rider {id:?} carries an order not on its trip"));
                    }
                    (left, true)
                }
            };
            if orders.len() > bundle_max {
                return Err(format!(
                    "rider {id:?} holds {} orders (max {bundle_max})",
                    orders.len()
                ));
            }
            for o in orders {
                if let Some(other) = holder.insert(*o, *id) {
                    return Err(format!("order {o:?} held by riders {other:?} and {id:?}"));
                }
                let status = &self
                    .orders
                    .get(o)
                    .ok_or_else(|| format!("rider {id:?} holds unknown order {o:?}"))?
                    .status;
                let ok = match status {
                    OrderStatus::Assigned { rider, .. } => !carried && rider == id,
                    OrderStatus::PickedUp { rider, .. } => carried && rider == id,
                    _ => false,
                };
                if !ok {
                    return Err(format!("order {o:?} on rider {id:?} but {status:?}"));
                }
            }
        }
        let unpicked_count = self
            .orders
            .values()
            .filter(|r| matches!(r.status, OrderStatus::Open | OrderStatus::Assigned { .. }))
            .count();
        if unpicked_count != self.unpicked.len() {
            return Err(format!(
                "{} unpicked orders but the set holds {}",
                unpicked_count,
                self.unpicked.len()
            ));
        }
        for (id, rec) in &self.orders {
            let unpicked = matches!(rec.status, OrderStatus::Open | OrderStatus::Assigned { .. });
            if unpicked != self.unpicked.contains(id) {
                return Err(format!(
                    "order {id:?} is {:?} but the unpicked set disagrees",
                    rec.status
                ));
            }
            let expected = match &rec.status {
                OrderStatus::Assigned { rider, .. } | OrderStatus::PickedUp { rider, .. } => Some(rider),
                _ => None,
            };
            if let Some(rider) = expected {
                if !self.riders.contains_key(rider) {
                    return Err(format!("order {id:?} names unknown rider {rider:?}"));
                }
                if holder.get(id) != Some(rider) {
                    return Err(format!(
                        "order {id:?} is {:?} but no such rider holds it",
                        rec.status
                    ));
                }
            }
        }
        Ok(())
    }
}
