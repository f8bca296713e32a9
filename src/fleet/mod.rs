//! Simulated users over the real network interfaces: rider apps on the
//! WebSocket and merchants on the HTTP API, replaying a fixture against a
//! running server. The demo (`waimai serve --demo`) and the load generator
//! (`waimai load`) are built from these.
//!
//! Owns: client-side behaviour only. May call: `api` (protocol types,
//! tokens), `sim::fixture` (what to replay), `live` (the engine clock).
//! It talks to the server over sockets like any other client, never
//! through the library.

pub mod load;
pub mod merchant;
pub mod rider;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::base::Clock;
use crate::wire::auth::Tokens;

/// What every simulated client shares.
pub struct FleetContext {
    /// `ws://host:port/v1/riders/ws`.
    pub ws_url: String,
    /// `http://host:port`.
    pub http_url: String,
    pub tokens: Tokens,
    /// The server's engine clock (or one started alike).
    pub clock: Clock,
    /// Wall time between location fixes of a rider.
    pub location_every: Duration,
    pub stop: watch::Receiver<bool>,
}

/// Counters of what simulated clients saw.
#[derive(Debug, Default)]
pub struct FleetStats {
    pub connected: AtomicU64,
    pub reconnects: AtomicU64,
    pub messages: AtomicU64,
    pub assignments: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
    pub orders_posted: AtomicU64,
    pub orders_refused: AtomicU64,
    /// Time to open each WebSocket (ms).
    pub connect_ms: Mutex<Vec<f64>>,
}

/// A one-line summary for logs and reports.
#[derive(Debug, Clone, Serialize)]
pub struct FleetSummary {
    pub connected: u64,
    pub reconnects: u64,
    pub messages: u64,
    pub assignments: u64,
    pub delivered: u64,
    pub errors: u64,
    pub orders_posted: u64,
    pub orders_refused: u64,
    pub connect_ms_p50: f64,
    pub connect_ms_p99: f64,
}

impl FleetStats {
    pub fn summary(&self) -> FleetSummary {
        use std::sync::atomic::Ordering::Relaxed;
        let mut ms = self.connect_ms.lock().map(|v| v.clone()).unwrap_or_default();
        ms.sort_by(f64::total_cmp);
        let q = |p: f64| {
            ms.get(((ms.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        FleetSummary {
            connected: self.connected.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            messages: self.messages.load(Relaxed),
            assignments: self.assignments.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            errors: self.errors.load(Relaxed),
            orders_posted: self.orders_posted.load(Relaxed),
            orders_refused: self.orders_refused.load(Relaxed),
            connect_ms_p50: q(0.5),
            connect_ms_p99: q(0.99),
        }
    }
}

/// Resolves once the fleet is told to stop (dropping the watch guard
/// before any await, so the caller's future stays `Send`).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
