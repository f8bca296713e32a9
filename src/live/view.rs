//! The read model: every order's card as JSON with its ETag, each
//! merchant's active orders, and the console's picture of the city. The
//! actor rewrites what changed after each batch; HTTP handlers only read,
//! under a lock held for a map lookup, so ETA polling never waits for the
//! planner.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

use bytes::Bytes;
use serde::Serialize;

use super::{Restaurant, Scope};
use crate::base::{CityTime, Secs};
use crate::map::LatLng;

/// One order as merchants see it: serialised once, served many times.
#[derive(Debug, Clone)]
pub struct Card {
    pub id: u64,
    pub merchant: String,
    pub state: &'static str,
    pub json: Bytes,
    /// A strong ETag over `json`.
    pub etag: String,
}

impl Card {
    /// Serialises `body` and tags it.
    pub(super) fn new(body: &CardBody) -> Self {
        let json = crate::base::json_bytes(body);
        let etag = format!("\"{:016x}\"", crate::base::fnv1a(&json));
        Self {
            id: body.id,
            merchant: body.merchant.clone(),
            state: body.state,
            json: Bytes::from(json),
            etag,
        }
    }

    /// Not delivered and not cancelled.
    pub fn active(&self) -> bool {
        !matches!(self.state, "delivered" | "cancelled")
    }
}

/// An estimated time with its 90th percentile (engine unix seconds).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EtaBody {
    pub at: Secs,
    pub p90: Secs,
}

/// The JSON of an order card (docs/protocol.md, "Order").
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CardBody {
    pub id: u64,
    pub merchant: String,
    pub restaurant: String,
    /// `open`, `assigned`, `picked_up`, `delivered` or `cancelled`.
    pub state: &'static str,
    pub rider: Option<u64>,
    #[schema(value_type = Object)]
    pub customer: LatLng,
    pub placed_at: Secs,
    pub ready_at: Secs,
    pub pickup_eta: Option<EtaBody>,
    pub dropoff_eta: Option<EtaBody>,
    pub picked_up_at: Option<Secs>,
    pub delivered_at: Option<Secs>,
    pub cancelled_at: Option<Secs>,
    pub cancel_reason: Option<String>,
}

/// A rider on the console map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiderDot {
    pub id: u64,
    pub lat: f64,
    pub lng: f64,
    /// `waiting`, `heading`, `delivering`, `offline`.
    pub state: &'static str,
    pub connected: bool,
}

#[derive(Default)]
struct State {
    cards: HashMap<u64, Card>,
    active: BTreeMap<String, BTreeSet<u64>>,
    console: Bytes,
    restaurants: BTreeMap<String, Restaurant>,
    riders: BTreeMap<u64, super::RiderProfile>,
}

/// A restaurant as operators and its merchant see it (docs/protocol.md,
/// "Restaurants").
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RestaurantBody {
    pub id: String,
    pub merchant: String,
    pub name: String,
    pub lat: f64,
    pub lng: f64,
    pub prep_secs: Secs,
    /// Its delivery area as the longest ride to a customer; none: no limit.
    pub max_ride_secs: Option<Secs>,
    /// Opening spans in the city's civil time; none: always.
    pub hours: Vec<super::OpeningHours>,
    /// The operator's switch: off, it takes no new orders.
    pub open: bool,
    /// Whether it takes orders now (the switch and its hours).
    pub open_now: bool,
}

impl RestaurantBody {
    pub fn of(r: &Restaurant, city: &CityTime, now_secs: Secs) -> Self {
        Self {
            id: r.id.clone(),
            merchant: r.merchant.clone(),
            name: r.name.clone(),
            lat: r.at.lat,
            lng: r.at.lng,
            prep_secs: r.prep_secs,
            max_ride_secs: r.max_ride_secs,
            hours: r.hours.clone(),
            open: r.open,
            open_now: r.closed_reason(city, now_secs).is_none(),
        }
    }
}

/// How long a console poll keeps the picture redrawn.
const CONSOLE_WATCH_MS: u64 = 60_000;

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Shared between the actor (writer) and HTTP handlers (readers).
pub struct View {
    state: RwLock<State>,
    /// Until when (ms since the epoch) someone is watching the console:
    /// the actor redraws it only meanwhile (10k riders make a large
    /// picture).
    console_watched_until_ms: std::sync::atomic::AtomicU64,
    /// Opening hours are read in the city's time.
    city: CityTime,
}

impl View {
    pub(super) fn new(city: CityTime) -> Self {
        Self {
            state: RwLock::default(),
            console_watched_until_ms: Default::default(),
            city,
        }
    }

    /// The restaurants `scope` may see (operators: all; a merchant: its
    /// own), by id, as they stand at `now_secs`.
    pub fn restaurants(&self, scope: &Scope, now_secs: Secs) -> Vec<RestaurantBody> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state
            .restaurants
            .values()
            .filter(|r| scope.sees(&r.merchant))
            .map(|r| RestaurantBody::of(r, &self.city, now_secs))
            .collect()
    }

    /// One restaurant, if `scope` may see it.
    pub fn restaurant(&self, scope: &Scope, id: &str, now_secs: Secs) -> Option<RestaurantBody> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state
            .restaurants
            .get(id)
            .filter(|r| scope.sees(&r.merchant))
            .map(|r| RestaurantBody::of(r, &self.city, now_secs))
    }

    /// `restaurant` as it stands at `now_secs`.
    pub fn restaurant_body(&self, restaurant: &Restaurant, now_secs: Secs) -> RestaurantBody {
        RestaurantBody::of(restaurant, &self.city, now_secs)
    }

    /// Every rider's record, by id (operators).
    pub fn rider_profiles(&self) -> Vec<super::RiderProfile> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.riders.values().cloned().collect()
    }

    /// One rider's record.
    pub fn rider_profile(&self, id: u64) -> Option<super::RiderProfile> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.riders.get(&id).cloned()
    }

    /// Puts the records that changed (after their journal write).
    pub(super) fn put_riders(&self, riders: Vec<super::RiderProfile>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for r in riders {
            state.riders.insert(r.id, r);
        }
    }

    /// Puts the restaurants that changed (after their journal write).
    pub(super) fn put_restaurants(&self, restaurants: Vec<Restaurant>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for r in restaurants {
            state.restaurants.insert(r.id.clone(), r);
        }
    }
    /// One order's card, if `scope` may see it.
    pub fn card(&self, scope: &Scope, id: u64) -> Option<Card> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.cards.get(&id).filter(|c| scope.sees(&c.merchant)).cloned()
    }

    /// The active orders `scope` may see, by id.
    pub fn active(&self, scope: &Scope) -> Vec<Card> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let ids: Vec<u64> = match scope {
            Scope::Merchant(m) => state.active.get(m).into_iter().flatten().copied().collect(),
            Scope::Operator => {
                let mut all: Vec<u64> = state.active.values().flatten().copied().collect();
                all.sort_unstable();
                all
            }
        };
        ids.iter().filter_map(|id| state.cards.get(id).cloned()).collect()
    }

    /// The active orders `scope` may see, as one JSON array (the cards'
    /// bytes joined, never re-serialised).
    pub fn active_json(&self, scope: &Scope) -> Vec<u8> {
        let cards = self.active(scope);
        let mut json = Vec::with_capacity(cards.iter().map(|c| c.json.len() + 1).sum::<usize>() + 2);
        json.push(b'[');
        for (i, c) in cards.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            json.extend_from_slice(&c.json);
        }
        json.push(b']');
        json
    }

    /// Orders per state, for /metrics.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut counts: BTreeMap<&'static str, u64> =
            ["open", "assigned", "picked_up", "delivered", "cancelled"]
                .map(|s| (s, 0))
                .into();
        for c in state.cards.values() {
            *counts.entry(c.state).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    /// The console's JSON picture. A poll keeps it redrawn for the next
    /// minute; the first poll after a quiet spell may see an older one.
    pub fn console(&self) -> Bytes {
        let until = unix_ms() + CONSOLE_WATCH_MS;
        self.console_watched_until_ms
            .store(until, std::sync::atomic::Ordering::Relaxed);
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .console
            .clone()
    }

    /// Whether someone watches the console.
    pub(super) fn console_watched(&self) -> bool {
        self.console_watched_until_ms
            .load(std::sync::atomic::Ordering::Relaxed)
            > unix_ms()
    }

    /// Replaces the cards in `cards` (the actor, after a batch).
    pub(super) fn put_cards(&self, cards: Vec<Card>) {
        if cards.is_empty() {
            return;
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for card in cards {
            let set = state.active.entry(card.merchant.clone()).or_default();
            if card.active() {
                set.insert(card.id);
            } else {
                set.remove(&card.id);
            }
            state.cards.insert(card.id, card);
        }
    }

    pub(super) fn put_console(&self, json: Bytes) {
        self.state.write().unwrap_or_else(|e| e.into_inner()).console = json;
    }
}
