//! One simulated rider app: a real WebSocket client that goes online,
//! acknowledges every message, rides to its stops arriving at their ETAs
//! (straight-line positions in between), reports pickups and deliveries,
//! streams its position, and reconnects with its last processed `seq`.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{FleetContext, FleetStats};
use crate::base::Secs;
use crate::engine::RiderId;
use crate::map::LatLng;
use crate::wire::auth::Role;
use crate::wire::protocol::StopView;

/// Reconnections one rider attempts before giving up.
const RECONNECTS_MAX: u32 = 50;
/// Wall time between position steps.
const STEP: Duration = Duration::from_millis(250);
/// Assumed speed when a stop has no ETA yet (m/s).
const FALLBACK_MPS: f64 = 5.0;

/// A rider to simulate.
#[derive(Debug, Clone)]
pub struct RiderBot {
    pub id: RiderId,
    pub start: LatLng,
    /// Wall time after the fleet starts when the rider comes online.
    pub online_after: Duration,
    /// Engine time after which it takes no new work and goes offline.
    pub off_secs: Option<Secs>,
}

#[derive(Deserialize)]
struct Incoming {
    seq: u64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    stops: Vec<StopView>,
}

/// Where the rider is along its current leg.
struct Motion {
    at: LatLng,
    from: LatLng,
    from_secs: Secs,
    stops: Vec<StopView>,
}

impl Motion {
    /// Moves towards the first stop; returns it if reached.
    fn step(&mut self, now: Secs) -> Option<StopView> {
        let target = self.stops.first()?;
        let to = LatLng {
            lat: target.lat,
            lng: target.lng,
        };
        let eta = if target.eta_secs > self.from_secs {
            target.eta_secs
        } else {
            self.from_secs + (crate::map::geo::haversine_meters(self.from, to) / FALLBACK_MPS) as Secs
        };
        let f = if eta <= self.from_secs {
            1.0
        } else {
            ((now - self.from_secs) as f64 / (eta - self.from_secs) as f64).clamp(0.0, 1.0)
        };
        self.at = LatLng {
            lat: self.from.lat + (to.lat - self.from.lat) * f,
            lng: self.from.lng + (to.lng - self.from.lng) * f,
        };
        if now < eta {
            return None;
        }
        let reached = self.stops.remove(0);
        if reached.kind == "pickup" {
            // The server seals the whole bundle on the first pickup.
            self.stops.retain(|s| s.kind != "pickup");
        }
        self.from = self.at;
        self.from_secs = now;
        Some(reached)
    }

    fn replace(&mut self, stops: Vec<StopView>, now: Secs) {
        self.stops = stops;
        self.from = self.at;
        self.from_secs = now;
    }
}

fn text(v: serde_json::Value) -> Message {
    Message::Text(v.to_string().into())
}

/// Runs one rider until the fleet stops, its shift ends with nothing in
/// hand, or it cannot reconnect.
pub async fn run(ctx: Arc<FleetContext>, stats: Arc<FleetStats>, bot: RiderBot) {
    let mut stop = ctx.stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(bot.online_after) => {}
        _ = super::stopped(&mut stop) => return,
    }
    let token = ctx.tokens.issue(&Role::Rider(bot.id)).unwrap_or_default();
    let mut last_seq = 0u64;
    let mut motion = Motion {
        at: bot.start,
        from: bot.start,
        from_secs: ctx.clock.now_secs(),
        stops: Vec::new(),
    };
    for attempt in 0..RECONNECTS_MAX {
        if attempt > 0 {
            stats.reconnects.fetch_add(1, Relaxed);
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt.min(10)))).await;
        }
        let url = format!("{}?token={token}&last_seq={last_seq}", ctx.ws_url);
        let started = Instant::now();
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
            continue;
        };
        stats
            .connect_ms
            .lock()
            .map(|mut v| v.push(started.elapsed().as_secs_f64() * 1e3))
            .ok();
        stats.connected.fetch_add(1, Relaxed);
        let at = motion.at;
        let hello = [
            json!({"v": 1, "type": "location", "lat": at.lat, "lng": at.lng, "at_ms": 0}),
            json!({"v": 1, "type": "status", "status": "online"}),
        ];
        let mut ok = true;
        for m in hello {
            ok &= ws.send(text(m)).await.is_ok();
        }
        let mut step = tokio::time::interval(STEP);
        let mut fix = tokio::time::interval(ctx.location_every);
        let finished = loop {
            if !ok {
                break false;
            }
            tokio::select! {
                incoming = ws.next() => {
                    let Some(Ok(frame)) = incoming else { break false };
                    let Message::Text(t) = frame else { continue };
                    let Ok(m) = serde_json::from_str::<Incoming>(&t) else { continue };
                    stats.messages.fetch_add(1, Relaxed);
                    if m.seq <= last_seq {
                        continue; // A duplicate after a reconnect.
                    }
                    last_seq = m.seq;
                    ok = ws.send(text(json!({"v": 1, "type": "ack", "seq": m.seq}))).await.is_ok();
                    match m.kind.as_str() {
                        "assignment" => {
                            stats.assignments.fetch_add(1, Relaxed);
                            motion.replace(m.stops, ctx.clock.now_secs());
                        }
                        "route_update" | "eta_refresh" => motion.replace(m.stops, ctx.clock.now_secs()),
                        "error" => { stats.errors.fetch_add(1, Relaxed); }
                        _ => {}
                    }
                }
                _ = step.tick() => {
                    let now = ctx.clock.now_secs();
                    if let Some(reached) = motion.step(now) {
                        let kind = match reached.kind.as_str() {
                            "pickup" => Some("picked_up"),
                            "dropoff" => { stats.delivered.fetch_add(1, Relaxed); Some("delivered") }
                            _ => None,
                        };
                        if let Some(kind) = kind {
                            ok = ws.send(text(json!({"v": 1, "type": kind, "order": reached.order}))).await.is_ok();
                        }
                    }
                    if bot.off_secs.is_some_and(|off| now >= off) && motion.stops.is_empty() {
                        let _ = ws.send(text(json!({"v": 1, "type": "status", "status": "offline"}))).await;
                        let _ = ws.close(None).await;
                        break true;
                    }
                }
                _ = fix.tick() => {
                    let at = motion.at;
                    ok = ws.send(text(json!({"v": 1, "type": "location", "lat": at.lat, "lng": at.lng, "at_ms": 0}))).await.is_ok();
                }
                _ = super::stopped(&mut stop) => {
                    let _ = ws.close(None).await;
                    break true;
                }
            }
        };
        stats.connected.fetch_sub(1, Relaxed);
        if finished {
            return;
        }
    }
}
