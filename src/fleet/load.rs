//! The load generator: N rider apps (real WebSockets) on a running server
//! plus merchants posting orders at a steady rate, for a bounded time; the
//! server's own histograms (`/metrics`) give the push latency.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::rider::{self, RiderBot};
use super::{FleetContext, FleetStats, FleetSummary};
use crate::engine::RiderId;
use crate::map::LatLng;
use crate::wire::auth::Role;

/// Most riders one run may connect.
pub const RIDERS_MAX: usize = 50_000;
/// Longest run.
pub const SECS_MAX: u64 = 3_600;

/// What to generate.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub riders: usize,
    pub secs: u64,
    pub orders_per_sec: f64,
    pub connects_per_sec: f64,
    /// (restaurant id, position) to place riders and orders around.
    pub restaurants: Vec<(String, LatLng)>,
}

/// What a run measured: client counters and the server's histograms.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub riders: usize,
    pub secs: u64,
    pub fleet: FleetSummary,
    pub peak_connected: u64,
    pub assignment_push_ms_p50: Option<f64>,
    pub assignment_push_ms_p99: Option<f64>,
    pub assignment_pushes: u64,
    pub dispatch_tick_ms_p99: Option<f64>,
}

/// A deterministic jitter in [-1, 1) from `n`.
fn jitter(n: u64) -> f64 {
    let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) >> 11;
    (x as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

/// Runs the plan against `ctx`'s server.
pub async fn run(ctx: Arc<FleetContext>, plan: LoadPlan) -> LoadReport {
    let stats = Arc::new(FleetStats::default());
    let mut tasks = tokio::task::JoinSet::new();
    let n_rest = plan.restaurants.len().max(1);
    for i in 0..plan.riders.min(RIDERS_MAX) {
        let (_, at) = &plan.restaurants[i % n_rest];
        let bot = RiderBot {
            id: RiderId(i as u64 + 1),
            start: LatLng {
                lat: at.lat + 0.003 * jitter(2 * i as u64),
                lng: at.lng + 0.003 * jitter(2 * i as u64 + 1),
            },
            online_after: Duration::from_secs_f64(i as f64 / plan.connects_per_sec),
            off_secs: None,
        };
        tasks.spawn(rider::run(ctx.clone(), stats.clone(), bot));
    }
    tasks.spawn(post_orders(ctx.clone(), stats.clone(), plan.clone()));
    let mut peak = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(plan.secs.min(SECS_MAX));
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak = peak.max(stats.connected.load(Relaxed));
    }
    let metrics = scrape(&ctx.http_url).await;
    let push = histogram(&metrics, "waimai_assignment_push_seconds");
    let tick = histogram(&metrics, "waimai_dispatch_tick_seconds");
    let report = LoadReport {
        riders: plan.riders,
        secs: plan.secs,
        fleet: stats.summary(),
        peak_connected: peak,
        assignment_push_ms_p50: quantile_ms(&push, 0.5),
        assignment_push_ms_p99: quantile_ms(&push, 0.99),
        assignment_pushes: push.last().map_or(0, |b| b.1),
        dispatch_tick_ms_p99: quantile_ms(&tick, 0.99),
    };
    // Stop the riders (they close their sockets) before returning.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    report
}

async fn post_orders(ctx: Arc<FleetContext>, stats: Arc<FleetStats>, plan: LoadPlan) {
    if plan.orders_per_sec <= 0.0 || plan.restaurants.is_empty() {
        return;
    }
    let client = reqwest::Client::new();
    let every = Duration::from_secs_f64(1.0 / plan.orders_per_sec);
    let mut tick = tokio::time::interval(every);
    let total = (plan.orders_per_sec * plan.secs as f64) as u64;
    let run = ctx.clock.now_secs();
    for n in 0..total {
        tick.tick().await;
        let (r, at) = &plan.restaurants[n as usize % plan.restaurants.len()];
        let token = ctx.tokens.issue(&Role::Merchant(r.clone())).unwrap_or_default();
        let body = json!({"restaurant": r, "customer": {"lat": at.lat + 0.006 * jitter(n), "lng": at.lng + 0.006 * jitter(n + 7)},
            "ready_in_secs": 60});
        let url = format!("{}/v1/orders", ctx.http_url);
        let key = format!("load-{run}-{n}");
        match super::merchant::post(&client, &url, &token, &body, Some(&key)).await {
            Some(_) => stats.orders_posted.fetch_add(1, Relaxed),
            None => stats.orders_refused.fetch_add(1, Relaxed),
        };
    }
}

async fn scrape(http_url: &str) -> String {
    match reqwest::get(format!("{http_url}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Cumulative buckets (upper bound in seconds, count) of a histogram.
fn histogram(text: &str, name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect()
}

/// The bucket bound under which a fraction `q` of observations fall
/// (an upper estimate, in milliseconds).
fn quantile_ms(buckets: &[(f64, u64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let want = (total as f64 * q).ceil() as u64;
    buckets.iter().find(|(_, c)| *c >= want).map(|(le, _)| le * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_cumulative_buckets() {
        let text = "x_bucket{le=\"0.001\"} 50\nx_bucket{le=\"0.005\"} 99\nx_bucket{le=\"0.01\"} 100\nx_bucket{le=\"+Inf\"} 100\n";
        let b = histogram(text, "x");
        assert_eq!(b.len(), 4);
        assert_eq!(quantile_ms(&b, 0.5), Some(1.0));
        assert_eq!(quantile_ms(&b, 0.99), Some(5.0));
        assert_eq!(quantile_ms(&b, 1.0), Some(10.0));
        assert_eq!(quantile_ms(&[], 0.5), None);
    }
}
