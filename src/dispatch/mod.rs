//! The dispatch solver: pickup-and-delivery routing with time windows and
//! capacities, for the live engine and for static benchmarks.
//!
//! Owns: the problem model (stops, orders, riders, travel matrix), route
//! feasibility, and the search (ruin-and-recreate with fleet and distance
//! minimisation on the rayon pool). Pure and synchronous: it never awaits
//! and knows no network, engine or CRM; state comes in as a [`Problem`]
//! value. May call: `map` (through the `TravelTime` trait, when a problem
//! is built from coordinates).

pub mod eject;
pub mod json;
pub mod lilim;
pub mod online;
pub mod problem;
pub mod recreate;
pub mod route;
pub mod ruin;
pub mod search;
pub mod solution;

use thiserror::Error;

pub use problem::{Order, Problem, Rider, Stop};
pub use route::Route;
pub use search::{SearchOptions, SearchStats, Tuning, solve};
pub use solution::{Objective, Solution};

/// Parses `key=value,key=value` expert knobs (the CLI's `--tune`) into
/// pairs of key and non-negative finite number.
pub fn parse_knobs(text: &str) -> Result<Vec<(&str, f64)>, String> {
    let mut out = Vec::new();
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: expected key=value"))?;
        let v: f64 = v.trim().parse().map_err(|_| format!("{pair:?}: not a number"))?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!("{pair:?}: must be a non-negative number"));
        }
        out.push((k.trim(), v));
    }
    Ok(out)
}

/// Everything that can go wrong building or reading a problem.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DispatchError {
    #[error("line {line}: {reason}")]
    Parse { line: usize, reason: String },
    #[error("invalid problem: {0}")]
    InvalidProblem(String),
}
