//! `waimai serve` (the HTTP and WebSocket server) and `waimai token`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tracing::{error, info};

use super::CliError;
use crate::app::{AppError, Application, StartOptions, secret};
use crate::config::Config;
use crate::engine::RiderId;
use crate::fleet::merchant::Replay;
use crate::fleet::{FleetContext, FleetStats};
use crate::sim::fixture::Fixture;
use crate::wire::auth::{Role, Tokens};

/// `waimai serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (overrides `[server] listen`), e.g. 127.0.0.1:0.
    #[arg(long)]
    pub listen: Option<String>,
    /// Data folder (overrides `[server] data_dir`): the journal file when
    /// `[server] store` is "embedded", the CRM's redb file and key, the
    /// token secret. Where the journal lives is `[server] store`'s alone.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Logs as JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// Also run a simulated city against the server: the riders and
    /// orders of `[server] restaurants` (a fixture) over real WebSockets
    /// and HTTP, with engine time running --demo-speed times faster.
    #[arg(long)]
    pub demo: bool,
    /// How much faster than real time the demo runs.
    #[arg(long, default_value_t = 30.0)]
    pub demo_speed: f64,
    /// Stop after this many seconds (default: at SIGTERM or Ctrl-C).
    #[arg(long)]
    pub for_secs: Option<u64>,
    /// Serve one zone of `[zones]`: its restaurants, riders whose tokens
    /// name it, its own journal key (docs/cluster.md).
    #[arg(long)]
    pub zone: Option<String>,
}

/// `waimai load` flags.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The server, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    pub url: String,
    /// Rider apps to connect (at most 50,000).
    #[arg(long, default_value_t = 1000)]
    pub riders: usize,
    /// How long to run, in seconds (at most 3,600).
    #[arg(long, default_value_t = 30)]
    pub secs: u64,
    /// Orders posted per second, spread over the restaurants.
    #[arg(long, default_value_t = 20.0)]
    pub orders_per_sec: f64,
    /// New rider connections per second.
    #[arg(long, default_value_t = 2000.0)]
    pub connects_per_sec: f64,
    /// The server's data folder, for its token secret (as `waimai token`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Whose token to issue.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenRole {
    Rider,
    Merchant,
    Operator,
    Support,
    Finance,
}

/// `waimai token` flags.
#[derive(Debug, Args)]
pub struct TokenArgs {
    pub role: TokenRole,
    /// Rider id (a number) or merchant id; ignored for operators.
    #[arg(default_value = "all")]
    pub subject: String,
    /// The server's data folder (default `[server] data_dir`): without a
    /// strong WAIMAI_SERVER__SECRET, tokens are signed with the secret a
    /// loopback server made there.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// A rider's zone of `[zones]`: only that zone's process accepts the
    /// token.
    #[arg(long)]
    pub zone: Option<String>,
}

/// Prints a token signed with the server's secret: the configured one if
/// strong, else the one in the data dir.
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
        TokenRole::Support => Role::Support,
        TokenRole::Finance => Role::Finance,
    };
    let dir = args.data_dir.as_deref().unwrap_or(&config.server.data_dir);
    let tokens = Tokens::new(&secret::for_tools(&config.server.secret, dir)?);
    let token = match (&args.zone, &role) {
        (None, _) => tokens.issue(&role).map_err(|e| bad(e.to_string()))?,
        (Some(zone), Role::Rider(id)) => {
            let bad_zone = |reason: String| CliError::BadFlag {
                flag: "zone",
                value: zone.clone(),
                reason,
            };
            if !config.zones.contains_key(zone) {
                return Err(bad_zone(format!("not in [zones] ({})", config.zone_names())));
            }
            tokens
                .issue_rider_in_zone(*id, zone)
                .map_err(|e| bad_zone(e.to_string()))?
        }
        (Some(zone), _) => {
            return Err(CliError::BadFlag {
                flag: "zone",
                value: zone.clone(),
                reason: "only rider tokens name a zone".into(),
            });
        }
    };
    say(format_args!("{token}"));
    Ok(())
}

/// Runs the server until SIGTERM or Ctrl-C, then stops gracefully.
pub fn serve(args: ServeArgs, config: &Config) -> Result<(), CliError> {
    init_logs(args.log_json);
    let mut config = config.clone();
    let mut data_dir = args.data_dir.clone();
    if args.demo {
        if !args.demo_speed.is_finite() || !(0.1..=100.0).contains(&args.demo_speed) {
            return Err(CliError::BadFlag {
                flag: "demo-speed",
                value: args.demo_speed.to_string(),
                reason: "between 0.1 and 100".into(),
            });
        }
        config.server.clock_speed = args.demo_speed;
        // A fresh city each time, unless asked otherwise.
        data_dir
            .get_or_insert_with(|| std::env::temp_dir().join(format!("waimai-demo-{}", std::process::id())));
    }
    let config = &config;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Serve(e.to_string()))?;
    runtime.block_on(async {
        let options = StartOptions {
            zone: args.zone.clone(),
            listen: args.listen,
            data_dir,
            clock: None,
        };
        let server = Application::build(config, options).await.map_err(|e| match e {
            AppError::Secret(e) => CliError::Secret(e),
            AppError::Zone(reason) => CliError::BadFlag {
                flag: "zone",
                value: args.zone.clone().unwrap_or_default(),
                reason,
            },
            e => CliError::App(e),
        })?;
        let operator = server.tokens.issue(&Role::Operator).unwrap_or_default();
        say(format_args!("waimai serving on http://{}", server.addr));
        say(format_args!(
            "console: http://{}/console#token={operator}",
            server.addr
        ));
        let (stop_fleet, fleet_stopped) = tokio::sync::watch::channel(false);
        let stats = Arc::new(FleetStats::default());
        if args.demo {
            let fixture = Fixture::read(&config.server.restaurants).map_err(CliError::Sim)?;
            let ctx = Arc::new(FleetContext {
                ws_url: format!("ws://{}/v1/riders/ws", server.addr),
                http_url: format!("http://{}", server.addr),
                tokens: server.tokens.clone(),
                clock: server.live.clock(),
                location_every: Duration::from_secs(2),
                stop: fleet_stopped,
            });
            let replay = Replay::from_fixture(&fixture, args.demo_speed, server.live.clock().now_secs());
            say(format_args!(
                "demo: {} riders and {} at {}x real time",
                replay.riders.len(),
                fixture.header.name,
                args.demo_speed
            ));
            tokio::spawn(replay.run(ctx, stats.clone()));
        }
        let progress = async {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            every.tick().await;
            loop {
                every.tick().await;
                let orders: Vec<String> = server
                    .live
                    .view()
                    .counts()
                    .iter()
                    .map(|(s, n)| format!("{s} {n}"))
                    .collect();
                let fleet = stats.summary();
                say(format_args!(
                    "orders: {} | riders connected {} | deliveries reported {}",
                    orders.join(", "),
                    fleet.connected,
                    fleet.delivered
                ));
            }
        };
        let deadline = async {
            match args.for_secs {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        let halted = tokio::select! {
            _ = wait_for_signal() => None,
            _ = deadline => None,
            _ = progress => None,
            why = server.live.halted() => Some(why),
        };
        if let Some(why) = halted {
            // Exit so a supervisor restarts the process from the journal.
            error!(reason = %why, "the engine stopped");
            let _ = stop_fleet.send(true);
            server.stop().await;
            return Err(CliError::Serve(format!("the engine stopped: {why}")));
        }
        info!("shutting down");
        let _ = stop_fleet.send(true);
        server.stop().await;
        Ok(())
    })
}

/// Prints a line for the operator; a closed stdout (a supervisor that
/// stopped reading) must not take the server down.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
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

/// Connects simulated riders and posts orders against a running server for
/// a bounded time, then prints a JSON report.
pub fn load(args: LoadArgs, config: &Config) -> Result<(), CliError> {
    let bad = |flag: &'static str, value: String, reason: &str| CliError::BadFlag {
        flag,
        value,
        reason: reason.into(),
    };
    let host = args
        .url
        .strip_prefix("http://")
        .ok_or_else(|| bad("url", args.url.clone(), "an http:// address"))?
        .trim_end_matches('/')
        .to_string();
    if !(host.starts_with("127.") || host.starts_with("localhost")) {
        return Err(bad("url", args.url.clone(), "load is generated on loopback only"));
    }
    if args.riders > crate::fleet::load::RIDERS_MAX {
        return Err(bad("riders", args.riders.to_string(), "at most 50,000"));
    }
    if args.secs == 0 || args.secs > crate::fleet::load::SECS_MAX {
        return Err(bad("secs", args.secs.to_string(), "1 to 3,600"));
    }
    if !(args.orders_per_sec.is_finite() && args.orders_per_sec >= 0.0) {
        return Err(bad(
            "orders-per-sec",
            args.orders_per_sec.to_string(),
            "a non-negative number",
        ));
    }
    if !(args.connects_per_sec.is_finite() && args.connects_per_sec > 0.0) {
        return Err(bad(
            "connects-per-sec",
            args.connects_per_sec.to_string(),
            "a positive number",
        ));
    }
    let dir = args.data_dir.as_deref().unwrap_or(&config.server.data_dir);
    let tokens = Tokens::new(&secret::for_tools(&config.server.secret, dir)?);
    let fixture = Fixture::read(&config.server.restaurants).map_err(CliError::Sim)?;
    let restaurants = fixture.restaurants();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Serve(e.to_string()))?;
    runtime.block_on(async {
        let (_stop, stop_rx) = tokio::sync::watch::channel(false);
        let ctx = Arc::new(FleetContext {
            ws_url: format!("ws://{host}/v1/riders/ws"),
            http_url: format!("http://{host}"),
            tokens,
            clock: crate::base::Clock::start(0, config.server.clock_speed),
            location_every: Duration::from_secs(5),
            stop: stop_rx,
        });
        let plan = crate::fleet::load::LoadPlan {
            riders: args.riders,
            secs: args.secs,
            orders_per_sec: args.orders_per_sec,
            connects_per_sec: args.connects_per_sec,
            restaurants,
        };
        let report = crate::fleet::load::run(ctx, plan).await;
        say(format_args!("{}", crate::base::json_pretty(&report)));
        Ok(())
    })
}
