//! `waimai serve` (the HTTP and WebSocket server) and `waimai token`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tracing::info;

use super::CliError;
use crate::api::auth::{Role, Tokens};
use crate::api::server::{self, StartOptions};
use crate::config::Config;
use crate::engine::RiderId;

/// `waimai serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (overrides `[server] listen`), e.g. 127.0.0.1:0.
    #[arg(long)]
    pub listen: Option<String>,
    /// Journal folder (overrides `[server] data_dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Logs as JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
}

/// Whose token to issue.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenRole {
    Rider,
    Merchant,
    Operator,
}

/// `waimai token` flags.
#[derive(Debug, Args)]
pub struct TokenArgs {
    pub role: TokenRole,
    /// Rider id (a number) or merchant id; ignored for operators.
    #[arg(default_value = "all")]
    pub subject: String,
}

/// Prints a token signed with `[server] secret`.
pub fn token(args: TokenArgs, config: &Config) -> Result<(), CliError> {
    let bad = |reason: String| CliError::BadFlag {
        flag: "subject",
        value: args.subject.clone(),
        reason,
    };
    let role = match args.role {
        TokenRole::Rider => Role::Rider(RiderId(
            args.subject
                .parse()
                .map_err(|_| bad("a rider id is a number".into()))?,
        )),
        TokenRole::Merchant => Role::Merchant(args.subject.clone()),
        TokenRole::Operator => Role::Operator,
    };
    let token = Tokens::new(&config.server.secret)
        .issue(&role)
        .map_err(|e| bad(e.to_string()))?;
    println!("{token}");
    Ok(())
}

/// Runs the server until SIGTERM or Ctrl-C, then stops gracefully.
pub fn serve(args: ServeArgs, config: &Config) -> Result<(), CliError> {
    init_logs(args.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Serve(e.to_string()))?;
    runtime.block_on(async {
        let options = StartOptions {
            listen: args.listen,
            data_dir: args.data_dir,
        };
        let server = server::start(config, options)
            .await
            .map_err(|e| CliError::Serve(e.to_string()))?;
        let operator = server.tokens.issue(&Role::Operator).unwrap_or_default();
        println!("waimai serving on http://{}", server.addr);
        println!("console: http://{}/console#token={operator}", server.addr);
        wait_for_signal().await;
        info!("shutting down");
        server.stop().await;
        Ok(())
    })
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
