//! The `waimai` binary: parse arguments, run, report errors with an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = waimai::cli::Cli::parse();
    match waimai::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            let e = anyhow::Error::from(e);
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(code)
        }
    }
}
