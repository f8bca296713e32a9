//! Simulation: replays orders and riders through the engine in simulated
//! time, much faster than real time, and reports what happened.
//!
//! Owns: the simulated world (clock, event queue, riders who follow the
//! engine's commands exactly), instance and fixture formats, metrics and
//! reports. May call: `engine`, `dispatch::online` (timing), `map`.

pub mod fixture;
pub mod mdrp;
pub mod metrics;
pub mod noise;
pub mod report;
pub mod runner;
mod svg;
pub mod world;

use std::path::PathBuf;

use thiserror::Error;

use crate::base::Secs;

/// Why a simulation could not run.
#[derive(Debug, Error)]
pub enum SimError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {reason}")]
    BadLine {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("at t={at_secs}s an engine invariant broke: {reason}")]
    Invariant { at_secs: Secs, reason: String },
}
