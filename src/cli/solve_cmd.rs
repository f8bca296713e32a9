//! `waimai solve`: read a problem file, search within a time budget, print
//! the routes as JSON.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::CliError;
use crate::dispatch::{SearchOptions, lilim, solve};

/// Input formats `waimai solve` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Li & Lim PDPTW benchmark instance.
    Lilim,
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
}

/// Runs `waimai solve`.
pub fn run(args: SolveArgs) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| CliError::Io {
        path: args.file.clone(),
        reason: e.to_string(),
    })?;
    let problem = match args.format {
        Format::Lilim => lilim::parse(&text),
    }
    .map_err(|e| CliError::BadProblem {
        path: args.file.clone(),
        source: e,
    })?;
    let opts = SearchOptions {
        time_limit: Duration::from_millis(args.time_limit_ms),
        iterations_max: args.iterations,
        seed: args.seed,
        searches: args.searches.unwrap_or_else(rayon::current_num_threads),
    };
    let (solution, stats) = solve(&problem, opts);
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
