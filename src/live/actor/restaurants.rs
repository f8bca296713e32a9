//! Onboarding: restaurants added, changed and closed while the city runs,
//! journaled with the batch like orders.

use super::Actor;
use crate::engine::EngineError;
use crate::live::records::LiveRecord;
use crate::live::{LiveError, Restaurant, RestaurantReply};

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
        self.batch.restaurants_changed = true;
        Ok(RestaurantReply {
            restaurant,
            created: before.is_none(),
        })
    }
}
