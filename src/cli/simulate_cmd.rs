//! `waimai simulate`: replay an MDRPLIB instance or a fixture through the
//! engine in simulated time; write solution files and reports.
//! `waimai fixture generate`: make a lunch-peak fixture on the map.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::CliError;
use crate::base::Secs;
use crate::config::Config;
use crate::dispatch::online::Policy;
use crate::engine::{CandidateRule, OrderSpec, OrderStatus};
use crate::map::RoadNetwork;
use crate::sim::fixture::generate::{GenerateOptions, generate};
use crate::sim::fixture::{self, Fixture, Prepared};
use crate::sim::mdrp::{MdrpInstance, minutes};
use crate::sim::metrics::Metrics;
use crate::sim::report;
use crate::sim::runner::{SimConfig, TickLatency, run_mdrp};
use crate::sim::world::Outcome;

/// Arguments of `waimai simulate`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["mdrp", "fixture"])))]
pub struct SimulateArgs {
    /// An MDRPLIB instance folder (orders.txt, couriers.txt, ...).
    #[arg(long)]
    pub mdrp: Option<PathBuf>,
    /// A waimai fixture (JSON lines, docs/fixture-format.md).
    #[arg(long)]
    pub fixture: Option<PathBuf>,
    /// Where to write solution files and report.json / report.html.
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
    /// Expert knobs of the rolling policy, `key=value,...` (see
    /// `RollingParams` in src/dispatch/online/mod.rs).
    #[arg(long, default_value = "")]
    pub tune: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// A fixture with more places than this is timed leg by leg on the
    /// road network and planned on matrices kept across ticks, instead of
    /// one all-pairs matrix (8 GB at 22,000 places). The all-pairs matrix
    /// is timed once, at the day's first event (its rush-hour factor for
    /// the whole day); leg by leg follows each departure's.
    #[arg(long, default_value_t = fixture::MATRIX_PLACES_MAX)]
    pub matrix_places_max: usize,
    /// `exact`: riders and kitchens exactly as modelled (benchmarks);
    /// `noisy`: as `[world]` in config says (speeds, hold-ups, late
    /// kitchens), deterministic per `[world] seed`.
    #[arg(long, value_enum, default_value_t = WorldKind::Exact)]
    pub world: WorldKind,
}

/// Which world a simulation runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorldKind {
    Exact,
    Noisy,
}

/// `waimai fixture ...`
#[derive(Debug, Subcommand)]
pub enum FixtureCommand {
    /// Generate a lunch-peak fixture on the configured map.
    Generate(GenerateArgs),
    /// Turn a served day's journal into a fixture, to replay it under
    /// another policy.
    Record(super::record_cmd::RecordArgs),
}

/// Arguments of `waimai fixture generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output file (JSON lines).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1500)]
    pub orders: usize,
    #[arg(long, default_value_t = 150)]
    pub riders: usize,
    #[arg(long, default_value_t = 40)]
    pub restaurants: usize,
    #[arg(long, default_value_t = 5)]
    pub clusters: usize,
    #[arg(long, default_value = "monaco-lunch")]
    pub name: String,
}

const POLICIES: [&str; 2] = ["rolling", "naive"];

/// What is simulated.
enum Scenario {
    Mdrp(MdrpInstance),
    Fixture(Box<(Fixture, Prepared)>),
}

impl Scenario {
    fn name(&self) -> &str {
        match self {
            Scenario::Mdrp(i) => &i.name,
            Scenario::Fixture(f) => &f.0.header.name,
        }
    }

    fn orders(&self) -> Vec<OrderSpec<()>> {
        fn strip<P>(o: &OrderSpec<P>) -> OrderSpec<()> {
            OrderSpec {
                id: o.id,
                restaurant: o.restaurant,
                customer: (),
                placed_secs: o.placed_secs,
                ready_secs: o.ready_secs,
            }
        }
        match self {
            Scenario::Mdrp(i) => i.orders.iter().map(|(_, o)| strip(o)).collect(),
            Scenario::Fixture(f) => f.1.orders.iter().map(strip).collect(),
        }
    }

    fn run(
        &self,
        config: &SimConfig,
        progress: &mut dyn FnMut(Secs),
    ) -> Result<(Outcome, Metrics), CliError> {
        Ok(match self {
            Scenario::Mdrp(i) => run_mdrp(i, config, progress)?,
            Scenario::Fixture(f) => fixture::run(&f.0, &f.1, config)?,
        })
    }

    /// Solution files: MDRPLIB's three, or one JSON line per order.
    fn write_solution(&self, outcome: &Outcome, dir: &Path) -> Result<(), CliError> {
        match self {
            Scenario::Mdrp(i) => Ok(i.write_solution(outcome, dir)?),
            Scenario::Fixture(f) => {
                let names = &f.1.order_names;
                let mut text = String::new();
                for o in &f.1.orders {
                    let line = json!({"order": names[o.id.0 as usize], "status": outcome.status.get(&o.id)});
                    text.push_str(&line.to_string());
                    text.push('\n');
                }
                write(dir, "orders.jsonl", text)
            }
        }
    }
}

fn write(dir: &Path, file: &str, text: String) -> Result<(), CliError> {
    super::write_file(&dir.join(file), &text)
}

/// Runs `waimai simulate`.
pub fn run(args: SimulateArgs, config: &Config) -> Result<(), CliError> {
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
                SimConfig {
                    candidates: CandidateRule {
                        riders_min: config.index.shortlist.max(1),
                        ..CandidateRule::default()
                    },
                    noise: (args.world == WorldKind::Noisy).then_some(config.world),
                    ..SimConfig::new(parse_policy(name, &args.tune)?, args.tick_secs)
                },
            ))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let scenario = load(&args, config)?;
    let orders = scenario.orders();
    let mut rows = Vec::new();
    for (name, sim) in configs {
        let (outcome, metrics) = with_progress(&scenario, &orders, &sim, args.quiet)?;
        let latency = TickLatency::of(&outcome);
        if let Some(out) = &args.out {
            let dir = if args.compare { out.join(name) } else { out.clone() };
            scenario.write_solution(&outcome, &dir)?;
            let summary = summary(&scenario, &sim, &outcome, &metrics, &latency, &orders);
            write(&dir, "report.json", crate::base::json_pretty(&summary))?;
            let page = report::html(scenario.name(), name, &metrics, &latency, &orders, &outcome);
            write(&dir, "report.html", page)?;
        }
        rows.push((name, metrics, latency, outcome.wall_secs));
    }
    if args.compare {
        print_comparison(scenario.name(), &rows);
    } else if let Some((name, m, latency, wall)) = rows.first() {
        let line = json!({"instance": scenario.name(), "policy": name, "metrics": m, "ticks": latency, "wall_secs": wall});
        println!("{line}");
    }
    Ok(())
}

fn load(args: &SimulateArgs, config: &Config) -> Result<Scenario, CliError> {
    if let Some(dir) = &args.mdrp {
        return Ok(Scenario::Mdrp(MdrpInstance::read(dir)?));
    }
    let path = args.fixture.as_ref().ok_or(CliError::BadFlag {
        flag: "fixture",
        value: String::new(),
        reason: "give --mdrp DIR or --fixture FILE".into(),
    })?;
    let fx = Fixture::read(path)?;
    let profile = config.profile(&fx.header.profile)?;
    let network = std::sync::Arc::new(RoadNetwork::load(
        &fx.map_path(),
        &fx.header.profile,
        profile,
        config.map.max_snap_meters,
    )?);
    let prepared = fixture::prepare_with(&fx, &network, args.matrix_places_max)?;
    Ok(Scenario::Fixture(Box::new((fx, prepared))))
}

fn summary(
    scenario: &Scenario,
    sim: &SimConfig,
    outcome: &Outcome,
    metrics: &Metrics,
    latency: &TickLatency,
    orders: &[OrderSpec<()>],
) -> serde_json::Value {
    let undelivered: Vec<u64> = orders
        .iter()
        .filter(|o| !matches!(outcome.status.get(&o.id), Some(OrderStatus::Delivered { .. })))
        .map(|o| o.id.0)
        .collect();
    json!({
        "instance": scenario.name(),
        "policy": sim.policy,
        "tick_secs": sim.tick_secs,
        "metrics": metrics,
        "ticks": latency,
        "wall_secs": outcome.wall_secs,
        "undelivered_order_indices": undelivered,
        "refused_events": outcome.refused,
    })
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

fn with_progress(
    scenario: &Scenario,
    orders: &[OrderSpec<()>],
    config: &SimConfig,
    quiet: bool,
) -> Result<(Outcome, Metrics), CliError> {
    // Simulated span, from the first placement to the last ready time.
    let first = orders.iter().map(|o| o.placed_secs).min().unwrap_or(0);
    let last = orders
        .iter()
        .map(|o| o.ready_secs)
        .max()
        .unwrap_or(first)
        .max(first + 1);
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new((last - first) as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} {}", scenario.name(), config.policy.name()));
        bar
    };
    let mut progress = |now: Secs| {
        bar.set_position((now - first).clamp(0, last - first) as u64);
        if now % 3600 == 0 {
            bar.set_message(format!("t={} min", minutes(now)));
        }
    };
    let result = scenario.run(config, &mut progress);
    bar.finish_and_clear();
    result
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

/// Runs `waimai fixture ...`.
pub fn run_fixture(cmd: FixtureCommand, config: &Config) -> Result<(), CliError> {
    let args = match cmd {
        FixtureCommand::Generate(args) => args,
        FixtureCommand::Record(args) => return super::record_cmd::record(args, config),
    };
    let profile_name = config.map.profile.clone();
    let profile = config.profile(&profile_name)?;
    let map = config.map.path.clone();
    let network = RoadNetwork::load(&map, &profile_name, profile, config.map.max_snap_meters)?;
    let opts = GenerateOptions {
        name: args.name.clone(),
        map: config.map.path.display().to_string(),
        profile: profile_name,
        seed: args.seed,
        orders: args.orders,
        riders: args.riders,
        restaurants: args.restaurants,
        clusters: args.clusters,
    };
    let mut text = String::new();
    for line in generate(&network, &opts) {
        text.push_str(&crate::base::json_string(&line));
        text.push('\n');
    }
    super::write_file(&args.out, &text)?;
    eprintln!(
        "wrote {} ({} orders, {} riders)",
        args.out.display(),
        args.orders,
        args.riders
    );
    Ok(())
}
