//! The `waimai` binary: parse arguments, run, report errors with an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = waimai::cli::Cli::parse();
    match waimai::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("error: {}", message(&anyhow::Error::from(e)));
            std::process::ExitCode::from(code)
        }
    }
}

/// The error and its causes, each cause once: most messages already say
/// their source's text, and errors keep the source for callers who look.
fn message(e: &anyhow::Error) -> String {
    const CAUSES_MAX: usize = 16;
    let mut text = String::new();
    for cause in e.chain().take(CAUSES_MAX) {
        let said = cause.to_string();
        if !text.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
    }
    text
}
