//! Command-line interface: parses arguments, loads config and maps, and
//! prints JSON. Thin by design: every decision lives in the library.
//!
//! Owns: argument syntax and output formats. May call: everything.

mod map_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::map::MapError;

/// Errors surfaced to the operator, each naming what to fix.
#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error("{path}:{line}: {reason}")]
    BadInputLine {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("invalid --{flag} {value:?}: {reason}")]
    BadFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("cannot read {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// waimai: real-time dispatch and delivery optimisation for food delivery.
#[derive(Debug, Parser)]
#[command(name = "waimai", version, about)]
pub struct Cli {
    /// Operator config file merged over the embedded default.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Road network: import OSM, inspect, route, matrices.
    #[command(subcommand)]
    Map(map_cmd::MapCommand),
}

/// Runs the parsed command, writing results to stdout.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Map(cmd) => map_cmd::run(cmd, &config),
    }
}
