//! What every handler shares: the engine's handle, tokens, the CRM, the
//! rider link settings and the shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use tokio::sync::watch;

use super::error::ApiError;
use super::feedback;
use crate::live::LiveHandle;
use crate::map::RoadNetwork;
use crate::wire::auth::{AuthError, Role, Tokens};

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
    /// The state of a server on `network`, whose CRM's negative-review
    /// alerts go to merchants' sockets.
    pub fn new(
        live: LiveHandle,
        tokens: Tokens,
        links: LinkSettings,
        shutdown: watch::Receiver<bool>,
        network: &RoadNetwork,
        crm: Arc<crate::crm::Crm>,
    ) -> Self {
        let alerts = feedback::Alerts::default();
        crm.set_alert_sink(alerts.sink());
        Self {
            live,
            tokens,
            links: Arc::new(links),
            shutdown,
            geometry: super::console::geometry_json(network).into(),
            crm,
            alerts,
        }
    }

    /// Engine time: the one clock every stamp and report follows.
    pub fn now_secs(&self) -> crate::base::Secs {
        self.live.clock().now_secs()
    }

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
