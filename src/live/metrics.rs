//! Counters and histograms for `/metrics` (Prometheus text format), kept
//! in atomics so the actor, socket tasks and handlers update them without
//! locks.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// A fixed-bucket histogram of durations in milliseconds.
#[derive(Debug)]
pub struct Histogram {
    bounds_ms: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    total: AtomicU64,
}

const BOUNDS_MS: &[f64] = &[
    0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
    5000.0,
];

impl Histogram {
    fn new() -> Self {
        Self {
            bounds_ms: BOUNDS_MS,
            counts: (0..BOUNDS_MS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe_micros(&self, micros: u64) {
        let ms = micros as f64 / 1000.0;
        if let Some(i) = self.bounds_ms.iter().position(|&b| ms <= b) {
            self.counts[i].fetch_add(1, Relaxed);
        }
        self.sum_micros.fetch_add(micros, Relaxed);
        self.total.fetch_add(1, Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, c) in self.bounds_ms.iter().zip(&self.counts) {
            cumulative += c.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", b / 1000.0);
        }
        let total = self.total.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {total}");
    }
}

/// Everything `/metrics` reports besides order counts (which come from the
/// read model).
#[derive(Debug)]
pub struct Metrics {
    pub riders_connected: AtomicI64,
    pub ws_messages_in: AtomicU64,
    pub ws_messages_out: AtomicU64,
    pub ws_errors_sent: AtomicU64,
    pub http_requests: AtomicU64,
    pub journal_records: AtomicU64,
    /// What the journal's Redis connection has seen (None: a file),
    /// refreshed after every commit.
    pub journal_link: std::sync::Mutex<Option<crate::store::LinkStats>>,
    /// Travel-time pairs the road network computed for ticks, and pairs
    /// served from the cache kept across ticks.
    pub travel_pairs_computed: AtomicU64,
    pub travel_pairs_reused: AtomicU64,
    /// Order events the CRM applied, refused, or could not be queued.
    pub crm_applied: AtomicU64,
    pub crm_refused: AtomicU64,
    pub crm_dropped: AtomicU64,
    /// Runs of the CRM's periodic jobs (expiry sweep, birthdays), and the
    /// runs where a job failed (retried at the next run).
    pub crm_job_runs: AtomicU64,
    pub crm_job_failures: AtomicU64,
    /// Planner time per tick.
    pub dispatch_tick: Histogram,
    /// From a dispatch decision to its frame written on the rider's socket.
    pub assignment_push: Histogram,
    /// From a dispatch decision to its frame queued for the socket (the
    /// actor's part of `assignment_push`: journal fsync included).
    pub assignment_queued: Histogram,
    /// One journal append (write + fsync) of a batch.
    pub journal_append: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            riders_connected: AtomicI64::new(0),
            ws_messages_in: AtomicU64::new(0),
            ws_messages_out: AtomicU64::new(0),
            ws_errors_sent: AtomicU64::new(0),
            http_requests: AtomicU64::new(0),
            journal_records: AtomicU64::new(0),
            journal_link: std::sync::Mutex::new(None),
            travel_pairs_computed: AtomicU64::new(0),
            travel_pairs_reused: AtomicU64::new(0),
            crm_applied: AtomicU64::new(0),
            crm_refused: AtomicU64::new(0),
            crm_dropped: AtomicU64::new(0),
            crm_job_runs: AtomicU64::new(0),
            crm_job_failures: AtomicU64::new(0),
            dispatch_tick: Histogram::new(),
            assignment_push: Histogram::new(),
            assignment_queued: Histogram::new(),
            journal_append: Histogram::new(),
        }
    }
}

impl Metrics {
    /// The Prometheus exposition, with `orders` (state, count) from the
    /// read model.
    pub fn render(&self, orders: &[(&'static str, u64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP waimai_orders Orders by state.\n# TYPE waimai_orders gauge"
        );
        for (state, n) in orders {
            let _ = writeln!(out, "waimai_orders{{state=\"{state}\"}} {n}");
        }
        let link = self
            .journal_link
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (masters, redirects, unconfirmed) = link.map_or((0, 0, 0), |l| {
            (l.masters.len() as u64, l.redirects, l.wait_timeouts)
        });
        let gauges = [
            (
                "waimai_riders_connected",
                "Rider WebSockets open.",
                self.riders_connected.load(Relaxed) as u64,
            ),
            (
                "waimai_journal_redis_masters",
                "Masters of the journal's Redis Cluster in the slot map (0: one server or a file).",
                masters,
            ),
            (
                "waimai_journal_redis_redirects",
                "Journal commands a cluster node redirected (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) and that ran again.",
                redirects,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let counters = [
            (
                "waimai_ws_messages_in_total",
                "Frames received from riders.",
                &self.ws_messages_in,
            ),
            (
                "waimai_ws_messages_out_total",
                "Frames sent to riders.",
                &self.ws_messages_out,
            ),
            (
                "waimai_ws_errors_sent_total",
                "Error frames sent to riders.",
                &self.ws_errors_sent,
            ),
            (
                "waimai_http_requests_total",
                "HTTP requests served.",
                &self.http_requests,
            ),
            (
                "waimai_journal_records_total",
                "Records fsynced to the journal.",
                &self.journal_records,
            ),
            (
                "waimai_travel_pairs_computed_total",
                "Travel-time pairs computed on the road network for ticks.",
                &self.travel_pairs_computed,
            ),
            (
                "waimai_travel_pairs_reused_total",
                "Travel-time pairs reused from earlier ticks.",
                &self.travel_pairs_reused,
            ),
            (
                "waimai_crm_order_events_applied_total",
                "Delivered and cancelled orders applied to the CRM.",
                &self.crm_applied,
            ),
            (
                "waimai_crm_order_events_refused_total",
                "Order events the CRM refused (logged).",
                &self.crm_refused,
            ),
            (
                "waimai_crm_order_events_dropped_total",
                "Order events not queued for the CRM (sent again at restart).",
                &self.crm_dropped,
            ),
            (
                "waimai_crm_job_runs_total",
                "Runs of the CRM's periodic jobs (expiry sweep, birthdays).",
                &self.crm_job_runs,
            ),
            (
                "waimai_crm_job_failures_total",
                "CRM job runs where a job failed (retried at the next run).",
                &self.crm_job_failures,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        let name = "waimai_journal_unconfirmed_total";
        let _ = writeln!(
            out,
            "# HELP {name} Journal appends no replica confirmed within redis_wait_ms (answered 503).\n\
             # TYPE {name} counter\n{name} {unconfirmed}"
        );
        self.dispatch_tick.render(
            "waimai_dispatch_tick_seconds",
            "Planner time per dispatch tick.",
            &mut out,
        );
        self.assignment_push.render(
            "waimai_assignment_push_seconds",
            "From dispatch decision to the frame written on the rider's socket.",
            &mut out,
        );
        self.assignment_queued.render(
            "waimai_assignment_queued_seconds",
            "From dispatch decision to the frame queued for the rider's socket.",
            &mut out,
        );
        self.journal_append.render(
            "waimai_journal_append_seconds",
            "One journal batch written and fsynced.",
            &mut out,
        );
        out
    }
}
