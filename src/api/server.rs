//! The axum server: routes, shared state, start-up from config, graceful
//! shutdown (stop accepting, close rider sockets with a close frame, stop
//! the engine after its last journal write).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use super::error::ApiError;
use super::{analytics, campaigns, console, crm, feedback, merchant, openapi, rider_ws, teams};
use crate::config::Config;
use crate::dispatch::online::Policy;
use crate::live::{self, LiveError, LiveHandle, LiveOptions, LiveSetup, Restaurant, Restored};
use crate::map::{MapError, RoadNetwork};
use crate::store::LogLocation;
use crate::wire::auth::{AuthError, Role, Tokens};

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    Map(#[from] MapError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("restaurants file: {0}")]
    Restaurants(String),
    #[error("the engine did not start: {0}")]
    Start(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("CRM: {0}")]
    Crm(#[from] crate::crm::CrmError),
    #[error(transparent)]
    Secret(#[from] super::secret::SecretError),
}

/// Rider link settings for socket tasks.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub heartbeat: Duration,
    pub timeout: Duration,
    pub location_per_sec: f64,
    pub location_burst: f64,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub live: LiveHandle,
    pub tokens: Tokens,
    pub links: Arc<LinkSettings>,
    pub shutdown: watch::Receiver<bool>,
    /// The road network's geometry for the console (JSON, built once).
    pub geometry: Bytes,
    /// Customers, points and coupons.
    pub crm: Arc<crate::crm::Crm>,
    /// Negative reviews on their way to merchants' sockets.
    pub alerts: feedback::Alerts,
}

impl AppState {
    /// The caller's role from `Authorization: Bearer`, or from `token`
    /// (query string, for WebSockets and the console).
    pub fn role(&self, headers: &HeaderMap, token: Option<&str>) -> Result<Role, ApiError> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let token = bearer.or(token).ok_or(AuthError::Missing)?;
        Ok(self.tokens.verify(token.trim())?)
    }
}

/// Everything `start` needs beyond the config (tests override these).
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Overrides `[server] listen`.
    pub listen: Option<String>,
    /// Overrides `[server] data_dir` (and the store: a journal file there).
    pub data_dir: Option<PathBuf>,
}

/// A running server.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub live: LiveHandle,
    pub restored: Restored,
    pub tokens: Tokens,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
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

/// Loads the map and restaurants, replays the journal, binds and serves.
pub async fn start(config: &Config, options: StartOptions) -> Result<RunningServer, ServeError> {
    let profile = config.profile(&config.map.profile)?;
    let network = Arc::new(RoadNetwork::load(
        &config.map.path,
        &config.map.profile,
        profile,
        config.map.max_snap_meters,
    )?);
    let sv = &config.server;
    let data_dir = options.data_dir.clone().unwrap_or_else(|| sv.data_dir.clone());
    let addr = options.listen.clone().unwrap_or_else(|| sv.listen.clone());
    let tokens = Tokens::new(&token_secret(&sv.secret, &addr, &data_dir).await?);
    let (restaurants, header) = read_restaurants(&sv.restaurants)?;
    let crm = open_crm(config, data_dir).await?;
    let setup = LiveSetup {
        network: network.clone(),
        restaurants,
        options: LiveOptions {
            policy: Policy::from_name("rolling").unwrap_or(Policy::NearestIdle),
            tick_secs: sv.tick_secs as i64,
            clock_speed: sv.clock_speed,
            shift_secs: sv.shift_secs as i64,
            outbox_capacity: sv.outbox_capacity,
            rider_timeout: Duration::from_secs(sv.rider_timeout_secs),
            queue_capacity: sv.queue_capacity,
            pickup_service_secs: header.pickup_service_secs,
            dropoff_service_secs: header.dropoff_service_secs,
        },
        log: match (&options.data_dir, sv.store.as_str()) {
            (None, "redis") => LogLocation::Redis {
                url: sv.redis_url.clone(),
                key: sv.redis_key.clone(),
            },
            (dir, _) => LogLocation::File(
                dir.clone()
                    .unwrap_or_else(|| sv.data_dir.clone())
                    .join("journal.jsonl"),
            ),
        },
        crm: Some(crm.clone()),
    };
    let (live, restored) = tokio::task::spawn_blocking(move || live::start(setup))
        .await
        .map_err(|e| ServeError::Start(e.to_string()))??;
    let listener = TcpListener::bind(&addr).await.map_err(|e| ServeError::Listen {
        addr: addr.clone(),
        reason: e.to_string(),
    })?;
    let local = listener.local_addr().map_err(|e| ServeError::Listen {
        addr,
        reason: e.to_string(),
    })?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let state = AppState {
        live: live.clone(),
        tokens: tokens.clone(),
        links: Arc::new(LinkSettings {
            heartbeat: Duration::from_secs(sv.heartbeat_secs),
            timeout: Duration::from_secs(sv.rider_timeout_secs),
            location_per_sec: sv.location_per_sec,
            location_burst: sv.location_burst as f64,
        }),
        shutdown: shutdown_rx.clone(),
        geometry: console::geometry_json(&network).into(),
        crm,
        alerts: feedback::Alerts::default(),
    };
    state.crm.set_alert_sink(state.alerts.sink());
    spawn_crm_jobs(state.crm.clone(), config.crm.jobs_every_secs, shutdown_rx.clone());
    let app = router(state);
    let mut stop = shutdown_rx;
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    info!(addr = %local, orders = restored.orders, riders = restored.riders, records = restored.records, "serving");
    Ok(RunningServer {
        addr: local,
        live,
        restored,
        tokens,
        shutdown,
        task,
    })
}

/// The secret tokens are signed with, checked against where the server
/// will listen (resolved first, so a name cannot hide a public address).
async fn token_secret(
    configured: &str,
    addr: &str,
    data_dir: &std::path::Path,
) -> Result<String, ServeError> {
    let bound: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| ServeError::Listen {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?
        .collect();
    Ok(super::secret::for_server(configured, addr, &bound, data_dir)?)
}

/// Opens the CRM on its configured store: a redb file in the data dir,
/// or Redis.
async fn open_crm(config: &Config, data_dir: std::path::PathBuf) -> Result<Arc<crate::crm::Crm>, ServeError> {
    let mut cfg = config.crm.clone();
    let crm = tokio::task::spawn_blocking(move || {
        if cfg.encryption_keys.trim().is_empty() {
            cfg.encryption_keys = local_key(&cfg.store, &data_dir)?;
        }
        let store = crate::crm::store::open_configured(&cfg, &data_dir)?;
        crate::crm::Crm::open(cfg, store)
    })
    .await
    .map_err(|e| ServeError::Start(e.to_string()))??;
    Ok(Arc::new(crm))
}

/// The key of a single machine's CRM: read from `<data_dir>/crm.key`, made
/// there (owner-only) on first start. A shared Redis needs keys given to
/// every instance alike, so there it is an error to have none.
fn local_key(store: &str, data_dir: &std::path::Path) -> Result<String, crate::crm::CrmError> {
    use crate::crm::{CrmError, crypto::FieldCipher};
    let fail = |reason: String| CrmError::BadField {
        field: "crm.encryption_keys".into(),
        reason,
    };
    if store == "redis" {
        return Err(fail(
            "required with store = \"redis\": set WAIMAI_CRM__ENCRYPTION_KEYS (waimai crm keygen)".into(),
        ));
    }
    let path = data_dir.join("crm.key");
    match std::fs::read_to_string(&path) {
        Ok(spec) => return Ok(spec.trim().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(fail(format!("{}: {e}", path.display())));
        }
        Err(_) => {}
    }
    let spec = FieldCipher::generate_spec("local1");
    super::secret::write_owner_only(&path, spec.as_bytes())
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    info!(path = %path.display(), "generated the CRM's encryption key");
    Ok(spec)
}

/// Runs the CRM's scheduled jobs (points expiry, birthday coupons) on the
/// blocking pool every `every_secs`, from start until shutdown.
fn spawn_crm_jobs(crm: Arc<crate::crm::Crm>, every_secs: u64, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(every_secs));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let crm = crm.clone();
            let ran = tokio::task::spawn_blocking(move || {
                let now = crate::crm::time::now_secs();
                (crm.sweep(now), crm.birthdays(now))
            })
            .await;
            match ran {
                Ok((Ok(swept), Ok(birthdays))) if swept + birthdays > 0 => {
                    info!(swept, birthdays, "CRM jobs");
                }
                Ok((Ok(_), Ok(_))) => {}
                Ok((sweep, birthdays)) => {
                    tracing::warn!(sweep = ?sweep.err(), birthdays = ?birthdays.err(), "CRM jobs failed; next run retries");
                }
                Err(e) => tracing::warn!(error = %e, "CRM jobs did not run"),
            }
        }
    });
}

/// Restaurants from a fixture file's restaurant lines (each is its own
/// merchant), and its header's service times.
fn read_restaurants(
    path: &std::path::Path,
) -> Result<(Vec<Restaurant>, crate::sim::fixture::Header), ServeError> {
    let fixture =
        crate::sim::fixture::Fixture::read(path).map_err(|e| ServeError::Restaurants(e.to_string()))?;
    let restaurants: Vec<Restaurant> = fixture
        .restaurants()
        .into_iter()
        .map(|(id, at)| Restaurant {
            merchant: id.clone(),
            id,
            at,
        })
        .collect();
    if restaurants.is_empty() {
        return Err(ServeError::Restaurants(format!(
            "{} holds no restaurant",
            path.display()
        )));
    }
    Ok((restaurants, fixture.header))
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/orders", post(merchant::create).get(merchant::list))
        .route("/v1/orders/{id}", get(merchant::get))
        .route("/v1/orders/{id}/cancel", post(merchant::cancel))
        .route("/v1/orders/{id}/ready", post(merchant::ready))
        .route("/v1/riders/ws", get(rider_ws::upgrade))
        .route("/v1/customers/{id}", get(crm::customer))
        .route("/v1/customers/{id}/ledger", get(crm::ledger))
        .route("/v1/customers/{id}/coupons", get(crm::coupons))
        .route("/v1/customers/{id}/commands", post(crm::command))
        .route("/v1/customers/{id}/export", get(crm::export))
        .route("/v1/merchants/me/customers", get(crm::my_customers))
        .route("/v1/merchants/me/alerts", get(feedback::alerts))
        .route("/v1/merchants/ws", get(feedback::upgrade))
        .route(
            "/v1/merchants/{merchant}/team",
            get(teams::get_team).put(teams::put_team),
        )
        .route(
            "/v1/merchants/{merchant}/customers/{id}/owner",
            get(teams::owner).post(teams::own),
        )
        .route(
            "/v1/merchants/{merchant}/managers/{manager}/leave",
            post(teams::leave),
        )
        .route("/v1/merchants/{merchant}/ownership-audit", get(teams::audit))
        .route(
            "/v1/merchants/{merchant}/segments/preview",
            post(campaigns::preview),
        )
        .route("/v1/merchants/{merchant}/campaigns", get(campaigns::list))
        .route(
            "/v1/merchants/{merchant}/campaigns/{id}",
            get(campaigns::get).put(campaigns::put),
        )
        .route(
            "/v1/merchants/{merchant}/campaigns/{id}/run",
            post(campaigns::run),
        )
        .route(
            "/v1/merchants/{merchant}/campaigns/{id}/effect",
            get(campaigns::effect),
        )
        .route("/v1/merchants/{merchant}/outbox", get(campaigns::outbox))
        .route("/v1/merchants/{merchant}/outbox/ack", post(campaigns::ack))
        .route("/v1/merchants/{merchant}/analytics", get(analytics::report))
        .route("/v1/analytics/demand", get(analytics::demand))
        .route("/v1/audit/access", get(crm::access_log))
        .route("/v1/feedback", get(feedback::list))
        .route("/v1/feedback/stats", get(feedback::stats))
        .route(
            "/v1/coupon-templates",
            get(crm::templates).post(crm::put_template),
        )
        .route("/console", get(console::page))
        .route("/v1/console/state", get(console::state))
        .route("/v1/map/geometry", get(console::geometry))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    state
        .live
        .metrics()
        .http_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    next.run(request).await
}

/// Liveness and a one-line picture.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "Serving")))]
pub async fn health(State(state): State<AppState>) -> Response {
    let counts = state.live.view().counts();
    let connected = state
        .live
        .metrics()
        .riders_connected
        .load(std::sync::atomic::Ordering::Relaxed);
    let orders: serde_json::Map<String, serde_json::Value> = counts
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    axum::Json(serde_json::json!({"status": "ok", "orders": orders, "riders_connected": connected}))
        .into_response()
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.live.metrics().render(&state.live.view().counts());
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
