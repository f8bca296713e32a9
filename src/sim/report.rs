//! The run report as a self-contained HTML page: the figures that count
//! and the plots an analyst looks at first (click-to-door distribution,
//! delays over the day, rider utilisation, bundle sizes, dispatch latency).

use std::fmt::Write as _;

use super::metrics::{Metrics, delivered_times};
use super::runner::TickLatency;
use super::svg;
use super::world::Outcome;
use crate::engine::OrderSpec;

/// Counts of `values` in bins of `width` from 0, the last bin open-ended.
fn histogram(values: &[f64], width: f64, bins: usize) -> (Vec<String>, Vec<f64>) {
    let mut counts = vec![0.0; bins];
    for &v in values {
        let k = ((v / width).floor().max(0.0) as usize).min(bins - 1);
        counts[k] += 1.0;
    }
    let labels = (0..bins)
        .map(|k| {
            // Rounded to a thousandth: 0.3, not 0.30000000000000004.
            let lo = (width * k as f64 * 1000.0).round() / 1000.0;
            if k + 1 == bins {
                format!("{lo}+")
            } else {
                format!("{lo}")
            }
        })
        .collect();
    (labels, counts)
}

/// Mean of `y` per `bucket`-wide window of `x`, as (window start, mean).
fn bucket_means(points: &[(f64, f64)], bucket: f64) -> Vec<(f64, f64)> {
    let mut sums: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
    for &(x, y) in points {
        let e = sums.entry((x / bucket).floor() as i64).or_default();
        e.0 += y;
        e.1 += 1.0;
    }
    sums.into_iter()
        .map(|(k, (s, n))| (k as f64 * bucket, s / n))
        .collect()
}

/// The report page.
pub fn html<P>(
    title: &str,
    policy: &str,
    metrics: &Metrics,
    latency: &TickLatency,
    orders: &[OrderSpec<P>],
    outcome: &Outcome,
) -> String {
    let times = delivered_times(orders, outcome);
    let ctd: Vec<f64> = times.iter().map(|t| t.0).collect();
    let by_hour = |f: fn(&(f64, f64, f64, f64)) -> f64| {
        let pts: Vec<(f64, f64)> = times.iter().map(|t| (t.3 / 60.0, f(t))).collect();
        bucket_means(&pts, 0.5)
    };
    let (ctd_labels, ctd_counts) = histogram(&ctd, 5.0, 19);
    let (util_labels, util_counts) = histogram(&metrics.utilization_by_rider, 0.1, 11);
    let size_max = outcome
        .assignments
        .iter()
        .map(|a| a.orders.len())
        .max()
        .unwrap_or(1);
    let mut sizes = vec![0.0; size_max];
    for a in &outcome.assignments {
        sizes[a.orders.len() - 1] += 1.0;
    }
    let size_labels: Vec<String> = (1..=size_max).map(|k| k.to_string()).collect();
    let ticks: Vec<(f64, f64)> = outcome
        .ticks
        .iter()
        .map(|t| (t.now_secs as f64 / 3600.0, t.plan_micros as f64 / 1000.0))
        .collect();
    let charts = [
        svg::bars("Click-to-door (minutes)", &ctd_labels, &ctd_counts, "orders"),
        svg::lines(
            "Delays over the day (by placement time, 30-minute means)",
            &[
                ("click-to-door", by_hour(|t| t.0)),
                ("ready-to-pickup", by_hour(|t| t.1)),
            ],
            "hour of day",
            "minutes",
        ),
        svg::bars(
            "Rider utilisation (share of shift busy)",
            &util_labels,
            &util_counts,
            "riders",
        ),
        svg::bars("Bundle sizes", &size_labels, &sizes, "bundles"),
        svg::lines(
            "Dispatch latency per tick",
            &[("plan", ticks)],
            "hour of day",
            "ms",
        ),
    ];
    let mut page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>waimai: {t}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:700px}}\
         table{{border-collapse:collapse}}td,th{{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}}\
         th{{text-align:left}}svg{{margin:1em 0;display:block}}</style></head><body>\
         <h1>{t}</h1><p>policy <b>{p}</b></p><table>",
        t = title.replace('<', "&lt;"),
        p = policy
    );
    let rows = [
        ("orders", metrics.orders as f64, ""),
        ("delivered", metrics.delivered as f64, ""),
        ("undelivered", metrics.undelivered_pct, "%"),
        ("click-to-door mean", metrics.ctd_mean, "min"),
        ("click-to-door p90", metrics.ctd_p90, "min"),
        ("overage over target, mean", metrics.ctd_overage_mean, "min"),
        ("ready-to-pickup mean", metrics.rtp_mean, "min"),
        ("ready-to-pickup p90", metrics.rtp_p90, "min"),
        ("utilisation mean", metrics.utilization_mean, ""),
        ("cost per order", metrics.cost_per_order, "$"),
        ("orders per bundle", metrics.orders_per_bundle, ""),
        ("dispatch tick p50", latency.p50_ms, "ms"),
        ("dispatch tick p99", latency.p99_ms, "ms"),
    ];
    for (name, v, unit) in rows {
        let v = if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.3}")
        };
        let _ = write!(page, "<tr><th>{name}</th><td>{v}</td><td>{unit}</td></tr>");
    }
    page.push_str("</table>");
    for c in charts {
        page.push_str(&c);
    }
    page.push_str("</body></html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_and_open_last_bin() {
        let (labels, counts) = histogram(&[0.0, 4.9, 5.0, 99.0, -1.0], 5.0, 3);
        assert_eq!(labels, ["0", "5", "10+"]);
        assert_eq!(counts, [3.0, 1.0, 1.0]);
        let (labels, _) = histogram(&[], 0.1, 4);
        assert_eq!(labels, ["0", "0.1", "0.2", "0.3+"]);
    }

    #[test]
    fn bucket_means_average_within_windows() {
        let m = bucket_means(&[(0.1, 2.0), (0.4, 4.0), (0.6, 10.0)], 0.5);
        assert_eq!(m, [(0.0, 3.0), (0.5, 10.0)]);
    }
}
