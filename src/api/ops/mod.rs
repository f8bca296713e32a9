//! Operations: `/health`, `/metrics` (Prometheus) and `/openapi.json`.

pub(super) mod openapi;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::api::state::AppState;

/// Liveness and a one-line picture.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "Serving"), (status = 503, description = "The engine stopped (a journal it cannot write); the process exits")))]
pub async fn health(State(state): State<AppState>) -> Response {
    if let Some(reason) = state.live.halt_reason() {
        let body = serde_json::json!({"status": "stopped", "reason": reason});
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
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
    let metrics = state.live.metrics();
    let journal = metrics
        .journal_link
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let journal = match journal {
        None => serde_json::json!({"store": "file"}),
        Some(link) => serde_json::json!({
            "store": "redis",
            "unconfirmed_appends": link.wait_timeouts,
            "redis": link,
        }),
    };
    let crm = match state.crm.store().link_stats() {
        None => serde_json::json!({"store": "embedded"}),
        Some(link) => serde_json::json!({"store": "redis", "redis": link}),
    };
    axum::Json(serde_json::json!({
        "status": "ok",
        "orders": orders,
        "riders_connected": connected,
        "journal": journal,
        "crm": crm,
    }))
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
