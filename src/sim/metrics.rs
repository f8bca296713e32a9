//! Delivery metrics, computed exactly as the MDRPLIB evaluator computes
//! them (and as ../shared/tools/mdrp_verify.py checks), in minutes.

use std::collections::HashMap;

use serde::Serialize;

use super::world::Outcome;
use crate::base::Secs;
use crate::dispatch::online::ServiceSecs;
use crate::engine::{OrderSpec, OrderStatus, RiderId, RiderSpec};

/// How riders are paid and what counts as late.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PayRules {
    pub per_order: f64,
    pub per_hour: f64,
    pub target_click_to_door_secs: Secs,
}

/// The benchmark's figures (times in minutes).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    pub orders: usize,
    pub delivered: usize,
    pub undelivered_pct: f64,
    pub ctd_mean: f64,
    pub ctd_p90: f64,
    pub ctd_overage_mean: f64,
    pub rtp_mean: f64,
    pub rtp_p90: f64,
    pub rtd_mean: f64,
    pub utilization_mean: f64,
    pub cost_per_order: f64,
    pub orders_per_bundle: f64,
    pub orders_per_courier_hour: f64,
    /// Per rider, in the riders' order (for plots; not in the JSON).
    #[serde(skip)]
    pub utilization_by_rider: Vec<f64>,
}

/// Percentile with linear interpolation between ranks (numpy's default).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let k = (s.len() - 1) as f64 * q;
    let (f, c) = (k.floor() as usize, k.ceil() as usize);
    s[f] + (s[c] - s[f]) * (k - f as f64)
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Per-order times (minutes) of delivered orders: click-to-door,
/// ready-to-pickup, ready-to-door, and placement time.
pub fn delivered_times<P>(orders: &[OrderSpec<P>], outcome: &Outcome) -> Vec<(f64, f64, f64, f64)> {
    orders
        .iter()
        .filter_map(|o| match outcome.status.get(&o.id) {
            Some(OrderStatus::Delivered {
                pickup_secs,
                dropoff_secs,
                ..
            }) => Some((
                (dropoff_secs - o.placed_secs) as f64 / 60.0,
                (pickup_secs - o.ready_secs) as f64 / 60.0,
                (dropoff_secs - o.ready_secs) as f64 / 60.0,
                o.placed_secs as f64 / 60.0,
            )),
            _ => None,
        })
        .collect()
}

/// Computes the metrics of one run.
pub fn compute<P>(
    orders: &[OrderSpec<P>],
    riders: &[RiderSpec<P>],
    outcome: &Outcome,
    service: &ServiceSecs,
    pay: &PayRules,
) -> Metrics {
    let times = delivered_times(orders, outcome);
    let ctd: Vec<f64> = times.iter().map(|t| t.0).collect();
    let rtp: Vec<f64> = times.iter().map(|t| t.1).collect();
    let rtd: Vec<f64> = times.iter().map(|t| t.2).collect();
    let target = pay.target_click_to_door_secs as f64 / 60.0;
    let over: Vec<f64> = ctd.iter().map(|c| (c - target).max(0.0)).collect();
    let mut delivered_by: HashMap<RiderId, usize> = HashMap::new();
    for s in outcome.status.values() {
        if let OrderStatus::Delivered { rider, .. } = s {
            *delivered_by.entry(*rider).or_default() += 1;
        }
    }
    let mut bundles_by: HashMap<RiderId, usize> = HashMap::new();
    for a in &outcome.assignments {
        *bundles_by.entry(a.rider).or_default() += 1;
    }
    let mut driving_by: HashMap<RiderId, Secs> = HashMap::new();
    for m in &outcome.moves {
        *driving_by.entry(m.rider).or_default() += m.travel_secs;
    }
    let pickup_service = (service.pickup_before + service.pickup_after) as f64 / 60.0;
    let dropoff_service = (service.dropoff_before + service.dropoff_after) as f64 / 60.0;
    let (mut pay_total, mut hours, mut util) = (0.0, 0.0, Vec::new());
    for r in riders {
        let shift = (r.off_secs - r.on_secs) as f64 / 60.0;
        hours += shift / 60.0;
        let delivered = delivered_by.get(&r.id).copied().unwrap_or(0) as f64;
        pay_total += (delivered * pay.per_order).max(shift * pay.per_hour / 60.0);
        let busy = driving_by.get(&r.id).copied().unwrap_or(0) as f64 / 60.0
            + bundles_by.get(&r.id).copied().unwrap_or(0) as f64 * pickup_service
            + delivered * dropoff_service;
        util.push(if shift > 0.0 { busy / shift } else { 0.0 });
    }
    let delivered = ctd.len();
    let bundled: usize = outcome.assignments.iter().map(|a| a.orders.len()).sum();
    Metrics {
        orders: orders.len(),
        delivered,
        undelivered_pct: 100.0 * (orders.len() - delivered) as f64 / orders.len().max(1) as f64,
        ctd_mean: mean(&ctd),
        ctd_p90: percentile(&ctd, 0.9),
        ctd_overage_mean: mean(&over),
        rtp_mean: mean(&rtp),
        rtp_p90: percentile(&rtp, 0.9),
        rtd_mean: mean(&rtd),
        utilization_mean: mean(&util),
        utilization_by_rider: util,
        cost_per_order: if delivered > 0 {
            pay_total / delivered as f64
        } else {
            f64::NAN
        },
        orders_per_bundle: bundled as f64 / outcome.assignments.len().max(1) as f64,
        orders_per_courier_hour: if hours > 0.0 {
            delivered as f64 / hours
        } else {
            f64::NAN
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_like_the_evaluator() {
        // pct([1,2,3,4], 0.9): k = 2.7 -> 3 + 0.7 * (4 - 3).
        assert!((percentile(&[4.0, 1.0, 3.0, 2.0], 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&[5.0], 0.9), 5.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
