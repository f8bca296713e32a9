//! `waimai fixture record`: a served day's journal turned into a fixture.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::config::Config;
use crate::sim::fixture::{Fixture, record};

/// Arguments of `waimai fixture record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The served day's data folder (`[server] data_dir`): its
    /// journal.jsonl is read, never changed.
    #[arg(long)]
    pub journal: PathBuf,
    /// Output file (JSON lines, docs/fixture-format.md).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "recorded")]
    pub name: String,
}

/// Writes the fixture of the day journaled in `args.journal`, with the
/// restaurants it journaled (as they were last) and the map and service
/// rules of `[server] restaurants`.
pub fn record(args: RecordArgs, config: &Config) -> Result<(), CliError> {
    let journal = args.journal.join("journal.jsonl");
    if !journal.is_file() {
        return Err(CliError::BadFlag {
            flag: "journal",
            value: args.journal.display().to_string(),
            reason: "no journal.jsonl in this folder (the embedded store's data_dir)".into(),
        });
    }
    let seed = Fixture::read(&config.server.restaurants)?;
    let day = crate::live::journal_events(&journal).map_err(|e| CliError::Recording {
        path: journal.clone(),
        source: Box::new(e),
    })?;
    let header = crate::sim::fixture::Header {
        name: args.name.clone(),
        ..seed.header.clone()
    };
    // The journal's restaurants where it names them (onboarded ones
    // included); an older journal's are the seed file's.
    let restaurants = if day.restaurants.is_empty() {
        seed.restaurants()
    } else {
        day.restaurants
    };
    let lines = record::lines(header, &restaurants, &day.events).map_err(|e| CliError::Recording {
        path: journal.clone(),
        source: Box::new(e),
    })?;
    let orders = lines
        .iter()
        .filter(|l| matches!(l, crate::sim::fixture::Line::OrderPlaced { .. }))
        .count();
    let mut text = String::new();
    for line in &lines {
        text.push_str(&crate::base::json_string(line));
        text.push('\n');
    }
    super::write_file(&args.out, &text)?;
    eprintln!(
        "wrote {} ({orders} orders from {})",
        args.out.display(),
        journal.display()
    );
    Ok(())
}
