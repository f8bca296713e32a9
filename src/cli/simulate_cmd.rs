//! `waimai simulate`: replay an instance through the engine in simulated
//! time; write solution files and a report.

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::CliError;
use crate::dispatch::online::{Policy, Secs};
use crate::sim::mdrp::MdrpInstance;
use crate::sim::metrics::Metrics;
use crate::sim::runner::{SimConfig, TickLatency, run_mdrp};
use crate::sim::world::Outcome;

/// Arguments of `waimai simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// An MDRPLIB instance folder (orders.txt, couriers.txt, ...).
    #[arg(long)]
    pub mdrp: PathBuf,
    /// Where to write the solution files and report.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Dispatch policy: rolling (default) or naive (nearest idle rider).
    #[arg(long, default_value = "rolling")]
    pub policy: String,
    /// Seconds between dispatch ticks.
    #[arg(long, default_value_t = 60)]
    pub tick_secs: Secs,
    /// Run every policy and print them side by side.
    #[arg(long)]
    pub compare: bool,
    /// Expert knobs of the rolling policy, `key=value,...`
    /// (bundle_orders_max, rider_time_weight).
    #[arg(long, default_value = "")]
    pub tune: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

const POLICIES: [&str; 2] = ["rolling", "naive"];

/// Runs `waimai simulate`.
pub fn run(args: SimulateArgs) -> Result<(), CliError> {
    if args.tick_secs <= 0 || args.tick_secs > 3600 {
        return Err(CliError::BadFlag {
            flag: "tick-secs",
            value: args.tick_secs.to_string(),
            reason: "must be between 1 and 3600".into(),
        });
    }
    if args.out.is_none() && !args.compare {
        return Err(CliError::BadFlag {
            flag: "out",
            value: String::new(),
            reason: "required (or use --compare to print a comparison)".into(),
        });
    }
    let names: Vec<&str> = if args.compare {
        POLICIES.to_vec()
    } else {
        vec![args.policy.as_str()]
    };
    // Flags first: a typo should not wait for an instance to load.
    let configs = names
        .iter()
        .map(|name| {
            Ok((
                *name,
                SimConfig::new(parse_policy(name, &args.tune)?, args.tick_secs),
            ))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let inst = MdrpInstance::read(&args.mdrp)?;
    let mut rows = Vec::new();
    for (name, config) in configs {
        let (outcome, metrics) = simulate(&inst, &config, args.quiet)?;
        if let Some(out) = &args.out {
            let dir = if args.compare { out.join(name) } else { out.clone() };
            write_outputs(&inst, &config, &outcome, &metrics, &dir)?;
        }
        rows.push((name, metrics, TickLatency::of(&outcome), outcome.wall_secs));
    }
    if args.compare {
        print_comparison(&inst.name, &rows);
    } else if let Some((name, m, latency, wall)) = rows.first() {
        let summary =
            json!({"instance": inst.name, "policy": name, "metrics": m, "ticks": latency, "wall_secs": wall});
        println!("{summary}");
    }
    Ok(())
}

/// A policy by name, with `--tune` overrides for the rolling one.
fn parse_policy(name: &str, tune: &str) -> Result<Policy, CliError> {
    let policy = Policy::from_name(name).ok_or_else(|| CliError::BadFlag {
        flag: "policy",
        value: name.to_owned(),
        reason: format!("expected one of {POLICIES:?}"),
    })?;
    Ok(match policy {
        Policy::Rolling(p) => {
            Policy::Rolling(p.with_overrides(tune).map_err(|reason| CliError::BadFlag {
                flag: "tune",
                value: tune.to_owned(),
                reason,
            })?)
        }
        other => other,
    })
}

fn simulate(inst: &MdrpInstance, config: &SimConfig, quiet: bool) -> Result<(Outcome, Metrics), CliError> {
    let first = inst.orders.iter().map(|(_, o)| o.placed_secs).min().unwrap_or(0);
    let last = inst
        .couriers
        .iter()
        .map(|(_, c)| c.off_secs)
        .max()
        .unwrap_or(first);
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new((last - first).max(1) as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} {}", inst.name, config.policy.name()));
        bar
    };
    let mut progress = |now: Secs| {
        bar.set_position((now - first).clamp(0, last - first) as u64);
        if now % 3600 == 0 {
            bar.set_message(format!("t={}", crate::sim::mdrp::minutes(now)));
        }
    };
    let result = run_mdrp(inst, config, &mut progress);
    bar.finish_and_clear();
    Ok(result?)
}

fn write_outputs(
    inst: &MdrpInstance,
    config: &SimConfig,
    outcome: &Outcome,
    metrics: &Metrics,
    dir: &Path,
) -> Result<(), CliError> {
    inst.write_solution(outcome, dir)?;
    let undelivered: Vec<&str> = inst
        .orders
        .iter()
        .filter(|(_, o)| {
            !matches!(
                outcome.status.get(&o.id),
                Some(crate::engine::OrderStatus::Delivered { .. })
            )
        })
        .map(|(n, _)| n.as_str())
        .collect();
    let report = json!({
        "instance": inst.name,
        "policy": config.policy,
        "tick_secs": config.tick_secs,
        "metrics": metrics,
        "ticks": TickLatency::of(outcome),
        "wall_secs": outcome.wall_secs,
        "undelivered": undelivered,
    });
    let orders: Vec<_> = inst.orders.iter().map(|(_, o)| o.clone()).collect();
    let page = crate::sim::report::html(
        &inst.name,
        config.policy.name(),
        metrics,
        &TickLatency::of(outcome),
        &orders,
        outcome,
    );
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    for (file, text) in [("report.json", json), ("report.html", page)] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| CliError::Io {
            path,
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

fn print_comparison(instance: &str, rows: &[(&str, Metrics, TickLatency, f64)]) {
    println!("{instance}");
    println!(
        "{:<10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "policy", "delivered%", "ctd", "ctd_p90", "rtp", "cost/ord", "ord/bndl", "tick_p99ms", "wall_s"
    );
    for (name, m, l, wall) in rows {
        println!(
            "{:<10} {:>10.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>9.2}",
            name,
            100.0 - m.undelivered_pct,
            m.ctd_mean,
            m.ctd_p90,
            m.rtp_mean,
            m.cost_per_order,
            m.orders_per_bundle,
            l.p99_ms,
            wall
        );
    }
}
