//! The merchant HTTP API: create, read (with ETag), list, cancel and mark
//! ready orders. Writes go through the live engine and are acknowledged
//! once journaled; reads come from the read model and never wait for it.

use axum::body::{Body, Bytes};
use axum::extract::State;

use crate::api::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, parse_json};
use crate::api::state::AppState;
use crate::live::{Card, NewOrder, OrderReply, Scope};
use crate::map::{LatLng, MapError};

/// `POST /v1/orders` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// The restaurant's id (one of the merchant's).
    pub restaurant: String,
    pub customer: Position,
    /// Seconds until the food is expected to be ready, at most 14400
    /// (default: the restaurant's typical preparation, `prep_secs`).
    #[serde(default)]
    pub ready_in_secs: Option<i64>,
    /// The customer's CRM account and what the order holds: when the order
    /// is delivered it earns points and updates the profile; cancelled, it
    /// releases held points and coupons (docs/crm.md).
    #[serde(default)]
    pub crm: Option<crate::live::CrmOrder>,
}

/// A WGS84 position in degrees.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

/// `POST /v1/orders/{id}/cancel` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrder {
    /// Why (1-200 characters); default "cancelled by merchant".
    pub reason: Option<String>,
}

/// `GET /v1/orders` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only `active` (the default) is served.
    pub state: Option<ListState>,
}

/// Which orders a list holds.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListState {
    /// Not yet delivered or cancelled.
    Active,
}

/// The caller's scope from its token: merchants and operators only.
pub(super) fn scope(state: &AppState, headers: &HeaderMap) -> Result<Scope, ApiError> {
    match state.role(headers, None)? {
        crate::wire::auth::Role::Merchant(m) => Ok(Scope::Merchant(m)),
        crate::wire::auth::Role::Operator => Ok(Scope::Operator),
        _ => Err(ApiError::forbidden(
            "only merchant and operator tokens can use the orders API",
        )),
    }
}

fn parse_id(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("id", format!("{text:?} is not an order id")))
}

fn card_response(status: StatusCode, card: &Card) -> Response {
    let mut response = (status, card.json.clone()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&card.etag) {
        h.insert(header::ETAG, v);
    }
    response
}

fn reply_response(reply: OrderReply, created: bool) -> Response {
    let status = if created && !reply.replayed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = card_response(status, &reply.card);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/orders/{}", reply.card.id)) {
        h.insert(header::LOCATION, v);
    }
    if reply.replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Creates an order. With an `Idempotency-Key`, a retry of the same request
/// returns the first answer (200, `Idempotent-Replayed: true`) and never
/// creates a second order; the same key on a different request is a 409.
#[utoipa::path(post, path = "/v1/orders", request_body = CreateOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-128 characters; makes retries safe")),
    responses((status = 307, body = crate::api::error::ErrorBody, description = "Another zone's: ask again at Location"), (status = 201, body = crate::live::CardBody, description = "Created; journaled before this answer"),
              (status = 200, body = crate::live::CardBody, description = "A retry: the order created first"),
              (status = 400, body = crate::api::error::ErrorBody), (status = 401, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody), (status = 409, body = crate::api::error::ErrorBody),
              (status = 503, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &headers)?;
    let req: CreateOrder = parse_json(&body)?;
    state.zone_restaurant(&req.restaurant, "restaurant", "/v1/orders")?;
    let customer = LatLng::new(req.customer.lat, req.customer.lng).map_err(|e| match &e {
        MapError::InvalidCoordinate { field, .. } => {
            ApiError::invalid(&format!("customer.{field}"), e.to_string())
        }
        _ => ApiError::invalid("customer", e.to_string()),
    })?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be visible ASCII"))?
                .to_string(),
        ),
    };
    let order = NewOrder {
        restaurant: req.restaurant,
        customer,
        ready_in_secs: req.ready_in_secs,
        idempotency_key,
        crm: req.crm,
    };
    let reply = state.live.place(scope, order).await?;
    Ok(reply_response(reply, true))
}

/// One order: state, rider, pickup and drop-off ETAs with p90. Send the
/// ETag back in `If-None-Match`: an unchanged order costs a 304.
#[utoipa::path(get, path = "/v1/orders/{id}", params(("id" = u64, Path, description = "Order id")),
    responses((status = 307, body = crate::api::error::ErrorBody, description = "Another zone's: ask again at Location"), (status = 200, body = crate::live::CardBody), (status = 304, description = "Unchanged"),
              (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &headers)?;
    let id = parse_id(&id)?;
    state.zone_order(id, &format!("/v1/orders/{id}"))?;
    let card = state.live.view().card(&scope, id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            Some("id"),
            format!("order {id} not found"),
        )
    })?;
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == card.etag || t.trim() == "*"));
    if unchanged {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&card.etag) {
            response.headers_mut().insert(header::ETAG, v);
        }
        return Ok(response);
    }
    Ok(card_response(StatusCode::OK, &card))
}

/// The caller's active orders (not delivered, not cancelled), by id.
#[utoipa::path(get, path = "/v1/orders", params(ListQuery),
    responses((status = 200, body = Vec<crate::live::CardBody>), (status = 400, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &headers)?;
    // `Active` is the only state: more would be filtered here.
    let _: Option<ListState> = q.state;
    let json = state.live.view().active_json(&scope);
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from(json)).into_response())
}

/// Cancels an order that is not picked up yet; its rider is told.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", request_body = Option<CancelOrder>,
    params(("id" = u64, Path, description = "Order id")),
    responses((status = 307, body = crate::api::error::ErrorBody, description = "Another zone's: ask again at Location"), (status = 200, body = crate::live::CardBody), (status = 404, body = crate::api::error::ErrorBody),
              (status = 409, body = crate::api::error::ErrorBody, description = "Already picked up, delivered or cancelled")),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &headers)?;
    let id = parse_id(&id)?;
    state.zone_order(id, &format!("/v1/orders/{id}/cancel"))?;
    let req: CancelOrder = if body.is_empty() || body.trim_ascii() == b"null" {
        CancelOrder::default()
    } else {
        parse_json(&body)?
    };
    let reason = req.reason.unwrap_or_else(|| "cancelled by merchant".into());
    let reply = state.live.cancel(scope, id, reason).await?;
    Ok(reply_response(reply, false))
}

/// The food is ready now (earlier or later than announced).
#[utoipa::path(post, path = "/v1/orders/{id}/ready", params(("id" = u64, Path, description = "Order id")),
    responses((status = 307, body = crate::api::error::ErrorBody, description = "Another zone's: ask again at Location"), (status = 200, body = crate::live::CardBody), (status = 404, body = crate::api::error::ErrorBody),
              (status = 409, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn ready(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = scope(&state, &headers)?;
    let id = parse_id(&id)?;
    state.zone_order(id, &format!("/v1/orders/{id}/ready"))?;
    let reply = state.live.ready(scope, id).await?;
    Ok(reply_response(reply, false))
}
