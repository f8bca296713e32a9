//! `waimai solve`: read a problem file, search within a time budget, print
//! the routes as JSON.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::CliError;
use crate::config::Config;
use crate::dispatch::json::{self, Point, ProblemSpec, TravelSpec};
use crate::dispatch::{DispatchError, Problem, SearchOptions, Tuning, lilim, solve};
use crate::map::{EuclideanTravel, LatLng, PlanarPoint, RoadNetwork, Rounding};

/// Input formats `waimai solve` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Li & Lim PDPTW benchmark instance.
    Lilim,
    /// waimai's JSON problem format (docs/problem-format.md).
    Json,
}

/// Arguments of `waimai solve`.
#[derive(Debug, Args)]
pub struct SolveArgs {
    /// The problem file.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "lilim")]
    pub format: Format,
    /// Wall-clock budget for the search.
    #[arg(long, default_value_t = 1000)]
    pub time_limit_ms: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Independent parallel searches (default: one per core).
    #[arg(long)]
    pub searches: Option<usize>,
    /// Stop each search after this many iterations (reproducible runs).
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Expert knobs, `key=value,...` (see `Tuning` in src/dispatch/search.rs).
    #[arg(long, default_value = "")]
    pub tune: String,
}

/// Runs `waimai solve`.
pub fn run(args: SolveArgs, config: &Config) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| CliError::Io {
        path: args.file.clone(),
        source: e,
    })?;
    let bad = |e: DispatchError| CliError::BadProblem {
        path: args.file.clone(),
        error: e,
    };
    match args.format {
        Format::Lilim => solve_lilim(&args, lilim::parse(&text).map_err(bad)?),
        Format::Json => {
            let spec = json::parse_spec(&text).map_err(bad)?;
            let problem = json_problem(&spec, config).map_err(bad)?;
            solve_json(&args, &spec, &problem)
        }
    }
}

fn options(args: &SolveArgs) -> Result<SearchOptions, CliError> {
    let tuning = Tuning::default()
        .with_overrides(&args.tune)
        .map_err(|reason| CliError::BadFlag {
            flag: "tune",
            value: args.tune.clone(),
            reason,
        })?;
    Ok(SearchOptions {
        time_limit: Duration::from_millis(args.time_limit_ms),
        iterations_max: args.iterations,
        seed: args.seed,
        searches: args.searches.unwrap_or_else(rayon::current_num_threads),
        tuning,
    })
}

fn solve_lilim(args: &SolveArgs, problem: Problem) -> Result<(), CliError> {
    let (solution, stats) = solve(&problem, options(args)?);
    let routes: Vec<&[u32]> = solution
        .routes
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.visits())
        .collect();
    let unassigned: Vec<u32> = solution
        .unassigned
        .iter()
        .map(|&o| problem.orders[o as usize].external_id)
        .collect();
    let out = json!({
        "vehicles": solution.vehicles(),
        "distance": solution.distance(),
        "routes": routes,
        "unassigned": unassigned,
        "feasible": solution.check(&problem).is_ok() && unassigned.is_empty(),
        "stats": stats,
    });
    println!("{out}");
    Ok(())
}

/// Builds the problem on the travel source the spec names.
fn json_problem(spec: &ProblemSpec, config: &Config) -> Result<Problem, DispatchError> {
    match &spec.travel {
        TravelSpec::Euclidean {
            meters_per_minute,
            ceil_minutes,
        } => {
            if !(meters_per_minute.is_finite() && *meters_per_minute > 0.0) {
                return Err(DispatchError::InvalidProblem(
                    "travel.meters_per_minute must be positive".into(),
                ));
            }
            let rounding = if *ceil_minutes {
                Rounding::CeilMinutes
            } else {
                Rounding::Millis
            };
            let travel = EuclideanTravel {
                meters_per_minute: *meters_per_minute,
                rounding,
            };
            json::build_problem(spec, &travel, |p| match *p {
                Point::Planar { x, y } if x.is_finite() && y.is_finite() => Ok(PlanarPoint { x, y }),
                _ => Err("euclidean travel needs finite {x, y} points".into()),
            })
        }
        TravelSpec::Road { map, profile, .. } => {
            let path = map.clone().unwrap_or_else(|| config.map.path.clone());
            let name = profile.clone().unwrap_or_else(|| config.map.profile.clone());
            let invalid = |e: crate::map::MapError| DispatchError::InvalidProblem(format!("travel: {e}"));
            let net = RoadNetwork::load(
                &path,
                &name,
                config.profile(&name).map_err(invalid)?,
                config.map.max_snap_meters,
            )
            .map_err(invalid)?;
            json::build_problem(spec, &net, |p| match *p {
                Point::Geo { lat, lng } => net.snap(LatLng { lat, lng }).map_err(|e| e.to_string()),
                Point::Planar { .. } => Err("road travel needs {lat, lng} points".into()),
            })
        }
    }
}

fn solve_json(args: &SolveArgs, spec: &ProblemSpec, problem: &Problem) -> Result<(), CliError> {
    let (solution, stats) = solve(problem, options(args)?);
    let (routes, unassigned) = json::planned_routes(spec, problem, &solution);
    let out = json!({
        "vehicles": solution.vehicles(),
        "distance": solution.distance(),
        "routes": routes,
        "unassigned": unassigned,
        "feasible": solution.check(problem).is_ok(),
        "stats": stats,
    });
    println!("{out}");
    Ok(())
}
