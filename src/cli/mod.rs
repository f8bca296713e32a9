//! Command-line interface: parses arguments, loads config and maps, and
//! prints JSON. Thin by design: every decision lives in the library.
//!
//! Owns: argument syntax and output formats. May call: everything.

mod map_cmd;
mod record_cmd;
mod serve_cmd;
mod simulate_cmd;
mod solve_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::dispatch::DispatchError;
use crate::map::MapError;
use crate::sim::SimError;

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
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A restore file that cannot be read or is not a whole backup.
    #[error("cannot restore from {path}: {source}")]
    Restore {
        path: PathBuf,
        source: crate::crm::backup::BackupError,
    },
    #[error("{path}: {error}")]
    BadProblem { path: PathBuf, error: DispatchError },
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A journal that cannot be read or turned into a fixture.
    #[error("cannot record {path}")]
    Recording {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("serve: {0}")]
    Serve(String),
    #[error("crm: {0}")]
    Crm(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Secret(#[from] crate::app::secret::SecretError),
    #[error("serve")]
    App(#[source] crate::app::AppError),
}

impl CliError {
    /// Process exit status: 2 for input the operator must fix (a bad flag,
    /// an unreadable problem file, the solver contract; a token secret
    /// that must not be used), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::BadProblem { .. } | CliError::BadFlag { .. } => 2,
            CliError::Io { .. } | CliError::Restore { .. } | CliError::Recording { .. } => 2,
            CliError::Secret(_) => 2,
            CliError::Sim(SimError::Io { .. } | SimError::BadLine { .. }) => 2,
            _ => 1,
        }
    }
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
    /// Solve a pickup-and-delivery problem file and print routes as JSON.
    Solve(solve_cmd::SolveArgs),
    /// Replay an MDRPLIB instance or a fixture through the engine in
    /// simulated time; write solution files and reports.
    Simulate(simulate_cmd::SimulateArgs),
    /// Recorded-fixture tools.
    #[command(subcommand)]
    Fixture(simulate_cmd::FixtureCommand),
    /// Serve merchants (HTTP), riders (WebSocket) and the web console.
    Serve(serve_cmd::ServeArgs),
    /// Print a rider, merchant or operator token signed with the server's
    /// secret (WAIMAI_SERVER__SECRET, or the one in --data-dir).
    Token(serve_cmd::TokenArgs),
    /// Load a running server on loopback: rider WebSockets and order posts,
    /// bounded in count and time; prints a JSON report.
    Load(serve_cmd::LoadArgs),
    /// CRM administration.
    #[command(subcommand)]
    Crm(CrmCommand),
}

/// `waimai crm ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CrmCommand {
    /// Print a new encryption key spec `id:base64` for
    /// WAIMAI_CRM__ENCRYPTION_KEYS (put it first to rotate; keep the old
    /// ones after it until every customer was written again).
    Keygen {
        /// The key's id (letters, digits, - and _).
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// Write all CRM data (personal fields sealed, as stored) to a file:
    /// JSON lines with a checksummed footer. Stop writers for an exact
    /// copy of a Redis store; the embedded store is copied at one point
    /// in time (and only while no server holds it open).
    Backup {
        #[arg(long)]
        out: PathBuf,
        /// Data folder of the embedded store (default `[server] data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Restore a backup into an empty CRM store of the same kind, after
    /// checking the whole file. Keep the encryption keys of the backed-up
    /// deployment: the file does not hold them.
    Restore {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// Runs the parsed command, writing results to stdout.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Map(cmd) => map_cmd::run(cmd, &config),
        Command::Solve(args) => solve_cmd::run(args, &config),
        Command::Simulate(args) => simulate_cmd::run(args, &config),
        Command::Fixture(cmd) => simulate_cmd::run_fixture(cmd, &config),
        Command::Serve(args) => serve_cmd::serve(args, &config),
        Command::Token(args) => serve_cmd::token(args, &config),
        Command::Load(args) => serve_cmd::load(args, &config),
        Command::Crm(CrmCommand::Backup { out, data_dir }) => {
            let dir = data_dir.unwrap_or(config.server.data_dir.clone());
            crm_backup(&config, &dir, &out)
        }
        Command::Crm(CrmCommand::Restore { from, data_dir }) => {
            let dir = data_dir.unwrap_or(config.server.data_dir.clone());
            crm_restore(&config, &dir, &from)
        }
        Command::Crm(CrmCommand::Keygen { id }) => {
            let spec = crate::crm::crypto::FieldCipher::generate_spec(&id);
            crate::crm::crypto::FieldCipher::from_spec(&spec).map_err(|e| CliError::BadFlag {
                flag: "id",
                value: id,
                reason: e.to_string(),
            })?;
            println!("{spec}");
            Ok(())
        }
    }
}

/// Backs the configured CRM store up to `out`, through a `.partial` file
/// renamed when complete (a failed backup never looks like a good one).
fn crm_backup(config: &Config, data_dir: &std::path::Path, out: &std::path::Path) -> Result<(), CliError> {
    let store =
        crate::crm::store::open_configured(&config.crm, data_dir).map_err(|e| CliError::Crm(Box::new(e)))?;
    let partial = out.with_extension("partial");
    let io = |path: &std::path::Path, e: std::io::Error| CliError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = std::fs::File::create(&partial).map_err(|e| io(&partial, e))?;
    let mut writer = std::io::BufWriter::new(file);
    let summary =
        crate::crm::backup::backup(store.as_ref(), crate::base::Clock::wall().now_secs(), &mut writer)
            .map_err(|e| CliError::Crm(Box::new(e)))?;
    let file = writer.into_inner().map_err(|e| io(&partial, e.into_error()))?;
    file.sync_all().map_err(|e| io(&partial, e))?;
    std::fs::rename(&partial, out).map_err(|e| io(out, e))?;
    println!(
        "{}",
        serde_json::json!({"backup": out, "backend": summary.backend, "records": summary.records})
    );
    Ok(())
}

/// Restores `from` into the configured (empty) CRM store.
fn crm_restore(config: &Config, data_dir: &std::path::Path, from: &std::path::Path) -> Result<(), CliError> {
    let store =
        crate::crm::store::open_configured(&config.crm, data_dir).map_err(|e| CliError::Crm(Box::new(e)))?;
    let open = || std::fs::File::open(from).map(std::io::BufReader::new);
    open().map_err(|e| CliError::Io {
        path: from.to_path_buf(),
        source: e,
    })?;
    use crate::crm::backup::BackupError;
    let summary = crate::crm::backup::restore(store.as_ref(), open).map_err(|e| match e {
        e @ (BackupError::BadFile(_) | BackupError::Io { .. }) => CliError::Restore {
            path: from.to_path_buf(),
            source: e,
        },
        other => CliError::Crm(Box::new(other)),
    })?;
    println!(
        "{}",
        serde_json::json!({"restored": from, "backend": summary.backend, "records": summary.records})
    );
    Ok(())
}

/// Writes `text` to `path`, making its folder first.
fn write_file(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    std::fs::write(path, text).map_err(|e| CliError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}
