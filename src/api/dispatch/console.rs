//! The web console: one self-contained page (no external tiles, scripts
//! or fonts) that draws the road network, riders and orders on a canvas
//! and lists orders with their ETAs, polling `/v1/console/state`.

use axum::body::Bytes;
use axum::extract::State;

use crate::api::extract::Query;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::wire::auth::Role;

const PAGE: &str = include_str!("console.html");

/// `?token=` for pages opened from a link.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

/// `GET /console`: the page (its script reads the token from the URL).
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /v1/console/state`: riders, active orders and restaurants
/// (operators only: it shows every merchant's orders).
pub async fn state(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match state.role(&headers, q.token.as_deref())? {
        Role::Operator => Ok(json(state.live.view().console())),
        _ => Err(ApiError::forbidden("the console state is for operator tokens")),
    }
}

/// `GET /v1/map/geometry`: every road as a polyline (public: it is the
/// OpenStreetMap data the server was started with).
pub async fn geometry(State(state): State<AppState>) -> Response {
    json(state.geometry.clone())
}

fn json(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
