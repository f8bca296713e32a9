//! Onboarding: restaurants added, changed and closed while the city runs,
//! and riders' records (vehicle, capacity, zone), journaled with the batch
//! like orders.

use super::Actor;
use crate::engine::EngineError;
use crate::engine::RiderId;
use crate::live::records::LiveRecord;
use crate::live::rider_profiles::RIDER_PROFILES_MAX;
use crate::live::{LiveError, Restaurant, RestaurantReply, RiderProfile};

/// Most restaurants one server dispatches for.
const RESTAURANTS_MAX: u32 = 100_000;

impl Actor {
    /// Creates or replaces one restaurant. An unchanged PUT journals
    /// nothing; a move waits until none of its orders waits for pickup.
    /// Orders placed earlier stay with the merchant that placed them.
    pub(super) fn put_restaurant(&mut self, restaurant: Restaurant) -> Result<RestaurantReply, LiveError> {
        restaurant
            .check()
            .map_err(|(field, reason)| LiveError::Invalid { field, reason })?;
        let before = self.restaurants.get(&restaurant.id).map(|(i, r)| (i, r.clone()));
        let index = match &before {
            Some((_, old)) if *old == restaurant => {
                return Ok(RestaurantReply {
                    restaurant,
                    created: false,
                });
            }
            Some((i, _)) => *i,
            None if self.restaurants.next_index() >= RESTAURANTS_MAX => {
                return Err(LiveError::Conflict {
                    field: "id",
                    reason: format!("this server dispatches for at most {RESTAURANTS_MAX} restaurants"),
                });
            }
            None => self.restaurants.next_index(),
        };
        if before.as_ref().is_none_or(|(_, old)| old.at != restaurant.at) {
            let place = self.network.snap(restaurant.at).map_err(|e| LiveError::Refused {
                field: "lat",
                reason: e.to_string(),
            })?;
            self.engine.put_restaurant(index, place).map_err(|e| match e {
                EngineError::RestaurantBusy { .. } => LiveError::Conflict {
                    field: "lat",
                    reason: e.to_string(),
                },
                other => LiveError::Engine(other),
            })?;
        }
        let put = self.restaurants.put(index, restaurant.clone());
        debug_assert!(put, "the directory refused index {index}");
        self.batch.records.push(LiveRecord::Restaurant {
            at_secs: self.clock.now_secs(),
            index,
            restaurant: restaurant.clone(),
        });
        self.batch.restaurants_changed.push(restaurant.clone());
        Ok(RestaurantReply {
            restaurant,
            created: before.is_none(),
        })
    }

    /// Records what a rider rides and carries. A rider on shift rides its
    /// new vehicle from the next plan on (trips it was sent on keep their
    /// times); an unchanged PUT journals nothing.
    pub(super) fn put_rider(&mut self, rider: RiderProfile) -> Result<(RiderProfile, bool), LiveError> {
        rider
            .check(&self.network)
            .map_err(|(field, reason)| LiveError::Refused { field, reason })?;
        let before = self.rider_profiles.get(rider.id).cloned();
        if before.as_ref() == Some(&rider) {
            return Ok((rider, false));
        }
        if before.is_none() && self.rider_profiles.len() >= RIDER_PROFILES_MAX {
            return Err(LiveError::Conflict {
                field: "id",
                reason: format!("this server keeps at most {RIDER_PROFILES_MAX} rider records"),
            });
        }
        self.rider_profiles.put(rider.clone());
        let (vehicle, capacity) = self.rider_profiles.kit(rider.id, &self.network);
        let _ = self.engine.set_rider_kit(RiderId(rider.id), vehicle, capacity);
        self.batch.records.push(LiveRecord::Rider {
            at_secs: self.clock.now_secs(),
            rider: rider.clone(),
        });
        self.batch.riders_changed.push(rider.clone());
        Ok((rider, before.is_none()))
    }
}
