//! The composition root: builds the whole server from config (token
//! secret, road network, restaurants, CRM store and keys, the engine actor
//! and its journal, the CRM's scheduled jobs, the router) and runs it until
//! stopped. Nothing else wires subsystems together; `api` only builds the
//! router from the state it is handed.
//!
//! May call everything below `cli`.

mod crm_setup;
pub mod secret;
mod zones;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::api::{self, AppState, LinkSettings};
use crate::base::Clock;
use crate::config::Config;
use crate::dispatch::online::Policy;
use crate::live::{self, LiveError, LiveHandle, LiveOptions, LiveSetup, Restaurant, Restored};
use crate::map::{MapError, RoadNetwork, VehicleNetworks};
use crate::store::LogLocation;
use crate::wire::auth::Tokens;
use crm_setup::{open_crm, spawn_crm_jobs};

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum AppError {
    #[error(transparent)]
    Map(#[from] MapError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("restaurants file")]
    Restaurants(#[from] crate::sim::SimError),
    #[error("a start-up task did not finish")]
    Start(#[from] tokio::task::JoinError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("CRM: {0}")]
    Crm(#[from] crate::crm::CrmError),
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("zone: {0}")]
    Zone(String),
}

/// Everything `start` needs beyond the config (tests override these).
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Overrides `[server] listen`.
    pub listen: Option<String>,
    /// Overrides `[server] data_dir` (and the store: a journal file there).
    pub data_dir: Option<PathBuf>,
    /// The one clock (tests: a manual one); default the wall clock,
    /// `[server] clock_speed` times faster.
    pub clock: Option<Clock>,
    /// The zone of `[zones]` this process serves (None: the whole city).
    pub zone: Option<String>,
}

/// The running server and what tests and the CLI need of it.
pub struct Application {
    pub addr: SocketAddr,
    pub live: LiveHandle,
    pub restored: Restored,
    pub tokens: Tokens,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Application {
    /// Loads the map and restaurants, replays the journal, binds and serves.
    pub async fn build(config: &Config, options: StartOptions) -> Result<Self, AppError> {
        let network = Arc::new(load_vehicles(config)?);
        let sv = &config.server;
        let data_dir = options.data_dir.clone().unwrap_or_else(|| sv.data_dir.clone());
        let zone = zones::plan(config, options.zone.as_deref())?;
        let addr = options
            .listen
            .clone()
            .or_else(|| zone.listen.clone())
            .unwrap_or_else(|| sv.listen.clone());
        let tokens = Tokens::new(&token_secret(&sv.secret, &addr, &data_dir).await?);
        let (mut restaurants, service) = read_restaurants(&sv.restaurants)?;
        if let Some(owned) = &zone.owned {
            restaurants.retain(|r| owned.contains(&r.id));
        }
        let journal = journal_location(config, &data_dir, &zone.journal_key);
        info!(journal = %describe_journal(&journal), crm = %describe_crm(config, &data_dir), "storage");
        let crm = open_crm(config, data_dir).await?;
        let setup = LiveSetup {
            network: network.clone(),
            restaurants,
            options: LiveOptions {
                policy: Policy::from_name("rolling").unwrap_or(Policy::NearestIdle),
                tick_secs: sv.tick_secs as i64,
                shift_secs: sv.shift_secs as i64,
                outbox_capacity: sv.outbox_capacity,
                rider_timeout: Duration::from_secs(sv.rider_timeout_secs),
                queue_capacity: sv.queue_capacity,
                pickup_service_secs: service.0,
                dropoff_service_secs: service.1,
                candidates: candidate_rule(config),
                city: config.city_time()?,
                first_order: zone.first_order,
            },
            log: journal.clone(),
            crm: Some(crm.clone()),
            clock: options
                .clock
                .clone()
                .unwrap_or_else(|| Clock::start(0, sv.clock_speed)),
        };
        let (live, restored) = tokio::task::spawn_blocking(move || live::start(setup)).await??;
        let listener = TcpListener::bind(&addr).await.map_err(|e| AppError::Listen {
            addr: addr.clone(),
            source: e,
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| AppError::Listen { addr, source: e })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let links = LinkSettings {
            heartbeat: Duration::from_secs(sv.heartbeat_secs),
            timeout: Duration::from_secs(sv.rider_timeout_secs),
            location_per_sec: sv.location_per_sec,
            location_burst: sv.location_burst as f64,
        };
        let state = AppState::new(
            live.clone(),
            tokens.clone(),
            links,
            shutdown_rx.clone(),
            network.default_network(),
            crm,
        )
        .with_zones(zone.map);
        spawn_crm_jobs(
            state.crm.clone(),
            live.clock(),
            config.crm.jobs_every_secs,
            live.metrics().clone(),
            shutdown_rx.clone(),
        );
        let app = api::router(state);
        let mut stop = shutdown_rx;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
        });
        info!(addr = %local, orders = restored.orders, riders = restored.riders, records = restored.records, "serving");
        Ok(Application {
            addr: local,
            live,
            restored,
            tokens,
            shutdown,
            task,
        })
    }

    /// Graceful stop: no new connections, rider sockets get a close frame,
    /// in-flight requests finish, then the engine stops after its last
    /// journal write.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        self.live.shutdown().await;
    }

    /// Resolves when the server stops on its own (it does not, unless the
    /// listener fails).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// The secret tokens are signed with, checked against where the server
/// will listen (resolved first, so a name cannot hide a public address).
async fn token_secret(configured: &str, addr: &str, data_dir: &std::path::Path) -> Result<String, AppError> {
    let bound: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| AppError::Listen {
            addr: addr.to_string(),
            source: e,
        })?
        .collect();
    Ok(secret::for_server(configured, addr, &bound, data_dir)?)
}

/// One road network per vehicle riders may ride: `[map] profile` first
/// (the default), then `[server] vehicles` in their order.
fn load_vehicles(config: &Config) -> Result<VehicleNetworks, AppError> {
    let mut names = vec![config.map.profile.clone()];
    for v in &config.server.vehicles {
        if !names.contains(v) {
            names.push(v.clone());
        }
    }
    if names.len() > crate::map::vehicles::VEHICLES_MAX {
        return Err(crate::config::ConfigError::Invalid(format!(
            "server.vehicles: at most {} profiles",
            crate::map::vehicles::VEHICLES_MAX
        ))
        .into());
    }
    let is_pbf = config.map.path.to_string_lossy().ends_with(".pbf");
    if names.len() > 1 && !is_pbf {
        return Err(crate::config::ConfigError::Invalid(format!(
            "server.vehicles: {} holds one profile's roads; serve several vehicles from a .pbf",
            config.map.path.display()
        ))
        .into());
    }
    let mut networks = Vec::with_capacity(names.len());
    for name in names {
        let profile = config.profile(&name)?;
        let network = RoadNetwork::load(&config.map.path, &name, profile, config.map.max_snap_meters)?;
        networks.push((name, network));
    }
    Ok(VehicleNetworks::new(networks))
}

/// Service at a restaurant and at a customer (seconds) without a seed
/// file: the shipped fixture's.
const SERVICE_SECS_DEFAULT: (i64, i64) = (240, 120);

/// The seed restaurants of a fixture file's restaurant lines (each is its
/// own merchant), and its header's service times (pickup, drop-off). An
/// empty path: no seed (restaurants come over the API).
fn read_restaurants(path: &std::path::Path) -> Result<(Vec<Restaurant>, (i64, i64)), AppError> {
    if path.as_os_str().is_empty() {
        return Ok((Vec::new(), SERVICE_SECS_DEFAULT));
    }
    let fixture = crate::sim::fixture::Fixture::read(path)?;
    let restaurants: Vec<Restaurant> = fixture
        .restaurants()
        .into_iter()
        .map(|(id, at)| Restaurant::seed(id, at))
        .collect();
    let h = &fixture.header;
    Ok((restaurants, (h.pickup_service_secs, h.dropoff_service_secs)))
}

/// The `[index]` rule in engine seconds: a rider is stale after
/// `stale_after_secs` of wall time, however fast the engine's clock runs.
fn candidate_rule(config: &Config) -> crate::engine::CandidateRule {
    let ix = &config.index;
    let speed = config.server.clock_speed.max(1.0);
    crate::engine::CandidateRule {
        riders_min: ix.shortlist.max(1),
        stale_after_secs: Some((ix.stale_after_secs as f64 * speed).ceil() as i64),
        ..Default::default()
    }
}

/// Where the journal lives: `[server] store` alone decides; the data
/// folder (flag or config) only places the file of the embedded store.
/// (An earlier build quietly journaled to a file whenever `--data-dir` was
/// given, even with `store = "redis"`.)
fn journal_location(config: &Config, data_dir: &std::path::Path, key: &str) -> LogLocation {
    let sv = &config.server;
    if sv.store == "redis" {
        LogLocation::Redis {
            url: sv.redis_url.clone(),
            key: key.to_string(),
            acks: crate::kv::Acks {
                replicas: sv.redis_wait_replicas,
                timeout_ms: sv.redis_wait_ms,
            },
        }
    } else {
        LogLocation::File(data_dir.join("journal.jsonl"))
    }
}

fn describe_journal(at: &LogLocation) -> String {
    match at {
        LogLocation::File(path) => format!("file {}", path.display()),
        LogLocation::Redis { url, key, acks } => {
            format!(
                "redis list {key} at {url}, acknowledged by {} replica(s)",
                acks.replicas
            )
        }
    }
}

fn describe_crm(config: &Config, data_dir: &std::path::Path) -> String {
    let crm = &config.crm;
    if crm.store == "redis" {
        format!("redis keys {}:* at {}", crm.redis_prefix, crm.redis_url)
    } else {
        format!("redb file {}", data_dir.join("crm.redb").display())
    }
}
