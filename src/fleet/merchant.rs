//! A fixture's day replayed over the network: merchants post and cancel
//! orders on the HTTP API (with Idempotency-Keys, so a restarted replay
//! never doubles an order), riders come and go on the WebSocket.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde_json::json;

use super::rider::{self, RiderBot};
use super::{FleetContext, FleetStats};
use crate::base::Secs;
use crate::engine::RiderId;
use crate::map::LatLng;
use crate::sim::fixture::{Fixture, Line};
use crate::wire::auth::Role;

/// The replay joins the day this long after its first order: the orders
/// of those first minutes are posted at once (with what is left of their
/// kitchen time), so riders have work from the first tick instead of a
/// newcomer watching an idle city until the first food is nearly ready.
const WARM_START_SECS: Secs = 900;
/// Attempts per request when the server is restarting or busy.
const ATTEMPTS_MAX: u32 = 30;

/// A merchant action at a wall offset from the replay's start.
#[derive(Debug, Clone)]
enum Action {
    Place {
        key: String,
        restaurant: String,
        customer: LatLng,
        ready_in_secs: Secs,
    },
    Cancel {
        key: String,
        reason: String,
    },
}

/// A fixture turned into riders and timed merchant actions.
pub struct Replay {
    pub riders: Vec<RiderBot>,
    actions: Vec<(Duration, Action)>,
}

impl Replay {
    /// The fixture's day at `speed` times real time, starting now on
    /// `engine_now_secs`.
    pub fn from_fixture(fixture: &Fixture, speed: f64, engine_now_secs: Secs) -> Self {
        // Start into the day: riders due earlier are online at once, and
        // nobody watches an empty city.
        let first = |want_order: bool| {
            fixture
                .lines
                .iter()
                .filter(|(_, l)| !want_order || matches!(l, Line::OrderPlaced { .. }))
                .filter_map(|(_, l)| l.time())
                .min()
        };
        let t0 = match (first(false), first(true)) {
            (Some(any), Some(order)) => any.max(order + WARM_START_SECS),
            (Some(any), None) => any,
            _ => 0,
        };
        let wall = |t: Secs| Duration::from_secs_f64((t - t0).max(0) as f64 / speed);
        let mut riders = Vec::new();
        let mut actions = Vec::new();
        for (_, line) in &fixture.lines {
            match line {
                Line::RiderOnline {
                    t,
                    lat,
                    lng,
                    off_secs,
                    ..
                } => riders.push(RiderBot {
                    id: RiderId(riders.len() as u64 + 1),
                    start: LatLng { lat: *lat, lng: *lng },
                    online_after: wall(*t),
                    off_secs: Some(engine_now_secs + (off_secs - t0)),
                }),
                Line::OrderPlaced {
                    t,
                    id,
                    restaurant,
                    lat,
                    lng,
                    ready_secs,
                } => actions.push((
                    wall(*t),
                    Action::Place {
                        key: id.clone(),
                        restaurant: restaurant.clone(),
                        customer: LatLng { lat: *lat, lng: *lng },
                        ready_in_secs: (ready_secs - (*t).max(t0)).clamp(0, 4 * 3600),
                    },
                )),
                Line::OrderCancelled { t, id, reason } => actions.push((
                    wall(*t),
                    Action::Cancel {
                        key: id.clone(),
                        reason: reason.clone(),
                    },
                )),
                _ => {}
            }
        }
        actions.sort_by_key(|(at, _)| *at);
        Self { riders, actions }
    }

    /// Runs every rider and merchant action until the day is over or the
    /// fleet is stopped.
    pub async fn run(self, ctx: Arc<FleetContext>, stats: Arc<FleetStats>) {
        let mut tasks = tokio::task::JoinSet::new();
        for bot in self.riders {
            tasks.spawn(rider::run(ctx.clone(), stats.clone(), bot));
        }
        tasks.spawn(merchants(ctx, stats, self.actions));
        while tasks.join_next().await.is_some() {}
    }
}

async fn merchants(ctx: Arc<FleetContext>, stats: Arc<FleetStats>, actions: Vec<(Duration, Action)>) {
    let client = reqwest::Client::new();
    let started = tokio::time::Instant::now();
    let mut ids: HashMap<String, u64> = HashMap::new();
    let mut restaurants: HashMap<String, String> = HashMap::new();
    let mut stop = ctx.stop.clone();
    for (at, action) in actions {
        tokio::select! {
            _ = tokio::time::sleep_until(started + at) => {}
            _ = super::stopped(&mut stop) => return,
        }
        match action {
            Action::Place {
                key,
                restaurant,
                customer,
                ready_in_secs,
            } => {
                let token = ctx
                    .tokens
                    .issue(&Role::Merchant(restaurant.clone()))
                    .unwrap_or_default();
                let body = json!({"restaurant": restaurant, "customer": {"lat": customer.lat, "lng": customer.lng},
                    "ready_in_secs": ready_in_secs});
                let url = format!("{}/v1/orders", ctx.http_url);
                match post(&client, &url, &token, &body, Some(&key)).await {
                    Some(card) => {
                        stats.orders_posted.fetch_add(1, Relaxed);
                        if let Some(id) = card["id"].as_u64() {
                            ids.insert(key.clone(), id);
                            restaurants.insert(key, restaurant);
                        }
                    }
                    None => {
                        stats.orders_refused.fetch_add(1, Relaxed);
                    }
                }
            }
            Action::Cancel { key, reason } => {
                let (Some(id), Some(r)) = (ids.get(&key), restaurants.get(&key)) else {
                    continue;
                };
                let token = ctx.tokens.issue(&Role::Merchant(r.clone())).unwrap_or_default();
                let url = format!("{}/v1/orders/{id}/cancel", ctx.http_url);
                // A refusal (already picked up) is part of the day.
                let _ = post(&client, &url, &token, &json!({"reason": reason}), None).await;
            }
        }
    }
}

/// Posts `body`, retrying while the server is unreachable or busy; the
/// answer's JSON on success, `None` on a client error.
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
    key: Option<&str>,
) -> Option<serde_json::Value> {
    for attempt in 0..ATTEMPTS_MAX {
        let mut req = client.post(url).bearer_auth(token).json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        match req.send().await {
            Ok(res) if res.status().is_success() => return res.json().await.ok(),
            Ok(res) if res.status().is_client_error() => return None,
            _ => tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10) + 1))).await,
        }
    }
    None
}
