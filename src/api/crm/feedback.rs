//! Feedback over HTTP and the merchant's alert socket: reviews listed and
//! counted by category, merchant, rider and period; negative reviews as
//! alerts, polled (`GET /v1/merchants/me/alerts`) or pushed the moment
//! they are stored (`GET /v1/merchants/ws`, a WebSocket).
//!
//! Reviews come in as CRM commands (`POST /v1/customers/{id}/commands`,
//! `type: feedback`); the CRM tells [`Alerts`] of each negative one once it
//! is written, and every connected socket of that merchant gets it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};

use crate::api::extract::Query;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::api::state::blocking;
use crate::crm::feedback::{self, Category, Review, Stats};
use crate::wire::auth::Role;

/// Reviews one list call returns at most.
const LIST_MAX: usize = 1000;
const DAY_SECS: i64 = 86_400;

/// `?from_secs=&to_secs=&merchant=&rider=&category=&negative=&period_secs=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// Unix seconds; default: 30 days before `to_secs`.
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub from_secs: Option<i64>,
    /// Unix seconds, exclusive; default: now. A window that ends before
    /// it starts is empty.
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub to_secs: Option<i64>,
    /// Operators and support only; a merchant always sees its own.
    pub merchant: Option<String>,
    pub rider: Option<String>,
    pub category: Option<Category>,
    pub negative: Option<bool>,
    /// Period of the statistics' `by_period` (default a day).
    #[param(minimum = 1)]
    pub period_secs: Option<i64>,
}

/// The last second of the year 9999: time in a query is Unix seconds
/// between 0 and this, so window arithmetic cannot overflow.
const UNIX_SECS_MAX: i64 = 253_402_300_799;

fn unix_secs(field: &'static str, value: Option<i64>) -> Result<Option<i64>, ApiError> {
    match value {
        Some(v) if !(0..=UNIX_SECS_MAX).contains(&v) => Err(ApiError::invalid(
            field,
            format!("Unix seconds from 0 to {UNIX_SECS_MAX} (the end of year 9999)"),
        )),
        v => Ok(v),
    }
}

impl ReviewQuery {
    fn window(&self, now: i64) -> Result<(i64, i64), ApiError> {
        unix_secs("from_secs", self.from_secs)?;
        unix_secs("to_secs", self.to_secs)?;
        if self.period_secs.is_some_and(|p| p <= 0) {
            return Err(ApiError::invalid("period_secs", "must be positive"));
        }
        let to = self.to_secs.unwrap_or(now + 1);
        let from = self.from_secs.unwrap_or(to - 30 * DAY_SECS);
        Ok((from, to.max(from)))
    }

    fn keeps(&self, r: &Review) -> bool {
        self.merchant.as_ref().is_none_or(|m| *m == r.submitted.merchant)
            && self
                .rider
                .as_ref()
                .is_none_or(|x| r.submitted.rider.as_ref() == Some(x))
            && self.category.is_none_or(|c| r.class.categories.contains(&c))
            && self.negative.is_none_or(|n| n == r.class.negative)
    }

    /// Narrows the query to what the caller may see.
    fn scoped(mut self, role: &Role) -> Result<Self, ApiError> {
        match role {
            Role::Operator | Role::Support => Ok(self),
            Role::Merchant(m) => {
                if self.merchant.as_ref().is_some_and(|x| x != m) {
                    return Err(
                        ApiError::forbidden("a merchant sees its own reviews only").with_field("merchant")
                    );
                }
                self.merchant = Some(m.clone());
                Ok(self)
            }
            _ => Err(ApiError::forbidden(
                "reviews are for merchants, support and operators",
            )),
        }
    }
}

async fn matching(state: &AppState, q: ReviewQuery) -> Result<Vec<Review>, ApiError> {
    let (from, to) = q.window(state.now_secs())?;
    blocking(&state.crm, move |crm| crm.reviews(from, to, |r| q.keeps(r))).await
}

/// Reviews, oldest first (at most 1,000; narrow the window for more).
#[utoipa::path(get, path = "/v1/feedback", params(ReviewQuery),
    responses((status = 200, body = Vec<Review>), (status = 400, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ReviewQuery>,
    headers: HeaderMap,
) -> Result<Json<Vec<Review>>, ApiError> {
    let q = q.scoped(&state.role(&headers, None)?)?;
    let mut found = matching(&state, q).await?;
    found.truncate(LIST_MAX);
    Ok(Json(found))
}

/// Review counts, negatives and mean ratings by category, merchant, rider
/// and period.
#[utoipa::path(get, path = "/v1/feedback/stats", params(ReviewQuery),
    responses((status = 200, body = Stats), (status = 400, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn stats(
    State(state): State<AppState>,
    Query(q): Query<ReviewQuery>,
    headers: HeaderMap,
) -> Result<Json<Stats>, ApiError> {
    let q = q.scoped(&state.role(&headers, None)?)?;
    let period = q.period_secs.unwrap_or(DAY_SECS);
    if period <= 0 {
        return Err(ApiError::invalid("period_secs", "must be positive"));
    }
    let found = matching(&state, q).await?;
    Ok(Json(feedback::stats(&found, period)))
}

/// `?since_secs=` of the alerts poll.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Alerts stored at or after this, Unix seconds (default: the last
    /// day).
    #[param(minimum = 0, maximum = 253_402_300_799_i64)]
    pub since_secs: Option<i64>,
}

/// The calling merchant's negative reviews since `since_secs`, oldest
/// first: the polling twin of the alert socket (and how a socket catches
/// up after a reconnect).
#[utoipa::path(get, path = "/v1/merchants/me/alerts", params(AlertQuery),
    responses((status = 200, body = Vec<Review>), (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn alerts(
    State(state): State<AppState>,
    Query(a): Query<AlertQuery>,
    headers: HeaderMap,
) -> Result<Json<Vec<Review>>, ApiError> {
    let role = state.role(&headers, None)?;
    let Role::Merchant(_) = role else {
        return Err(ApiError::forbidden("alerts are for merchant tokens"));
    };
    let now = state.now_secs();
    let q = ReviewQuery {
        from_secs: Some(unix_secs("since_secs", a.since_secs)?.unwrap_or(now - DAY_SECS)),
        to_secs: Some(now + 1),
        merchant: None,
        rider: None,
        category: None,
        negative: Some(true),
        period_secs: None,
    }
    .scoped(&role)?;
    let mut found = matching(&state, q).await?;
    found.truncate(LIST_MAX);
    Ok(Json(found))
}

/// `GET /v1/merchants/ws` query: the token (browsers cannot set headers).
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    pub token: Option<String>,
}

/// The merchant's alert socket: each negative review of this merchant is
/// sent as `{"type":"alert","review":{...}}` the moment it is stored. A
/// socket too slow to keep up gets `{"type":"lagged","missed":n}` and
/// should poll `/v1/merchants/me/alerts`.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Role::Merchant(merchant) = state.role(&headers, q.token.as_deref())? else {
        return Err(ApiError::forbidden(
            "only merchant tokens open the merchant WebSocket",
        ));
    };
    let rx = state.alerts.subscribe();
    let stop = state.shutdown.clone();
    Ok(ws
        .max_message_size(4 * 1024)
        .on_upgrade(move |socket| push(socket, merchant, rx, stop)))
}

async fn push(
    socket: WebSocket,
    merchant: String,
    mut rx: broadcast::Receiver<Arc<Review>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let (mut tx, mut incoming) = socket.split();
    loop {
        let frame = tokio::select! {
            got = rx.recv() => match got {
                Ok(r) if r.submitted.merchant == merchant => {
                    serde_json::json!({"type": "alert", "review": &*r})
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => serde_json::json!({"type": "lagged", "missed": n}),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            msg = incoming.next() => match msg {
                // The merchant says nothing on this socket but pings and close.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        if tx
            .send(Message::Text(Utf8Bytes::from(frame.to_string())))
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = tx.send(Message::Close(None)).await;
}
