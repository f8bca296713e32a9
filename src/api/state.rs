//! What every handler shares: the engine's handle, tokens, the CRM, the
//! rider link settings and the shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use tokio::sync::{broadcast, watch};

use super::error::ApiError;
use crate::crm::feedback::Review;
use crate::crm::{Crm, CrmError};
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
    pub alerts: Alerts,
    /// The city's zones, when it is split (None: this process serves all).
    pub zones: Option<Arc<super::zones::ZoneMap>>,
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
        let alerts = Alerts::default();
        crm.set_alert_sink(alerts.sink());
        Self {
            live,
            tokens,
            links: Arc::new(links),
            shutdown,
            geometry: geometry_json(network).into(),
            crm,
            alerts,
            zones: None,
        }
    }

    /// This process serves one zone of `zones`.
    pub fn with_zones(mut self, zones: Option<super::zones::ZoneMap>) -> Self {
        self.zones = zones.map(Arc::new);
        self
    }

    /// Ok when this process owns `restaurant` (or the city has no zones);
    /// else a 307 to the zone that does.
    pub fn zone_restaurant(&self, restaurant: &str, field: &str, path: &str) -> Result<(), ApiError> {
        match &self.zones {
            Some(zones) => zones.restaurant(restaurant, field, path),
            None => Ok(()),
        }
    }

    /// Ok when this process gave `order`'s id; else a 307 to the zone
    /// that did.
    pub fn zone_order(&self, order: u64, path: &str) -> Result<(), ApiError> {
        match &self.zones {
            Some(zones) => zones.order(order, path),
            None => Ok(()),
        }
    }

    /// Engine time: the one clock every stamp and report follows.
    pub fn now_secs(&self) -> crate::base::Secs {
        self.live.clock().now_secs()
    }

    /// The caller's role from `Authorization: Bearer`, or from `token`
    /// (query string, for WebSockets and the console).
    pub fn role(&self, headers: &HeaderMap, token: Option<&str>) -> Result<Role, ApiError> {
        Ok(self.role_in_zone(headers, token)?.0)
    }

    /// The caller's role and the zone its token is for, if it names one.
    pub fn role_in_zone(
        &self,
        headers: &HeaderMap,
        token: Option<&str>,
    ) -> Result<(Role, Option<String>), ApiError> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let token = bearer.or(token).ok_or(AuthError::Missing)?;
        Ok(self.tokens.verify_in_zone(token.trim())?)
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    crm: &Arc<Crm>,
    f: impl FnOnce(&Crm) -> Result<T, CrmError> + Send + 'static,
) -> Result<T, ApiError> {
    let crm = crm.clone();
    tokio::task::spawn_blocking(move || f(&crm))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
                e.to_string(),
            )
        })?
        .map_err(ApiError::from)
}

/// Alerts queued for slow sockets before they miss some (they can poll).
const ALERTS_QUEUED_MAX: usize = 1024;

/// The fan-out of negative reviews to merchants' sockets.
#[derive(Clone)]
pub struct Alerts {
    tx: broadcast::Sender<Arc<Review>>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            tx: broadcast::channel(ALERTS_QUEUED_MAX).0,
        }
    }
}

impl Alerts {
    /// A merchant socket's view of the alerts from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Review>> {
        self.tx.subscribe()
    }

    /// The CRM's sink: never blocks (a full queue drops the oldest for
    /// lagging sockets).
    pub fn sink(&self) -> crate::crm::AlertSink {
        let tx = self.tx.clone();
        Arc::new(move |r: &Review| {
            let _ = tx.send(Arc::new(r.clone()));
        })
    }
}

/// `{"bbox": [south, west, north, east], "roads": [[lat, lng, lat, lng, ...], ...]}`
/// with coordinates rounded to 5 decimals (about a metre).
pub fn geometry_json(network: &RoadNetwork) -> Vec<u8> {
    let g = network.graph();
    let round = |v: f64| (v * 1e5).round() / 1e5;
    let mut roads = Vec::with_capacity(g.edges.len());
    let (mut s, mut w, mut n, mut e) = (90.0f64, 180.0f64, -90.0f64, -180.0f64);
    for edge in &g.edges {
        let first = edge.first_point as usize;
        let points = g
            .points
            .get(first..first + edge.point_count as usize)
            .unwrap_or(&[]);
        let mut line = Vec::with_capacity(points.len() * 2);
        for p in points {
            s = s.min(p.lat);
            n = n.max(p.lat);
            w = w.min(p.lng);
            e = e.max(p.lng);
            line.push(round(p.lat));
            line.push(round(p.lng));
        }
        roads.push(line);
    }
    crate::base::json_bytes(&serde_json::json!({"bbox": [s, w, n, e], "roads": roads}))
}
