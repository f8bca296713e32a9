//! Riders' records over HTTP: operators say what each rider rides
//! (`vehicle`, one of the loaded profiles), how many orders it carries and
//! its home zone (`PUT`, journaled before the answer), and read them back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, parse_json};
use crate::api::extract::Path;
use crate::api::state::AppState;
use crate::live::RiderProfile;
use crate::wire::auth::Role;

/// `PUT /v1/riders/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRider {
    /// A vehicle profile this server loaded (`[map] profile`, the
    /// default, and `[server] vehicles`): `ebike`, `scooter`, `walk`,
    /// `car`. Another is a 422 naming `vehicle`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub vehicle: String,
    /// Most orders it carries at once (the policy's bundle limit still
    /// applies).
    #[schema(minimum = 1, maximum = 20)]
    pub capacity_orders: u32,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub home_zone: Option<String>,
}

fn operator(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match state.role(headers, None)? {
        Role::Operator => Ok(()),
        _ => Err(ApiError::forbidden("riders' records are for operator tokens")),
    }
}

fn parse_id(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("id", format!("{text:?} is not a rider id")))
}

/// Records what a rider rides and carries. A rider on shift rides its new
/// vehicle from the next plan on; trips it was sent on keep their times.
#[utoipa::path(put, path = "/v1/riders/{id}", request_body = PutRider,
    params(("id" = u64, Path, description = "The rider's id (as in its token)")),
    responses((status = 201, body = RiderProfile, description = "Recorded; journaled before this answer"),
              (status = 200, body = RiderProfile, description = "Changed (or unchanged)"),
              (status = 400, body = crate::api::error::ErrorBody), (status = 401, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody), (status = 409, body = crate::api::error::ErrorBody),
              (status = 422, body = crate::api::error::ErrorBody, description = "A vehicle this server does not load"),
              (status = 503, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    operator(&state, &headers)?;
    let id = parse_id(&id)?;
    let req: PutRider = parse_json(&body)?;
    if !(1..=crate::live::CAPACITY_ORDERS_MAX).contains(&req.capacity_orders) {
        return Err(ApiError::invalid("capacity_orders", "must be within 1..=20"));
    }
    let valid = crate::live::is_slug;
    if !valid(&req.vehicle, 32) {
        return Err(ApiError::invalid("vehicle", "1 to 32 of A-Z a-z 0-9 _ -"));
    }
    if req.home_zone.as_deref().is_some_and(|z| !valid(z, 64)) {
        return Err(ApiError::invalid("home_zone", "1 to 64 of A-Z a-z 0-9 _ -"));
    }
    let profile = RiderProfile {
        id,
        vehicle: req.vehicle,
        capacity_orders: req.capacity_orders,
        home_zone: req.home_zone,
    };
    let (profile, created) = state.live.put_rider(profile).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(profile)).into_response())
}

/// Every rider's record, by id (riders without one ride the default
/// vehicle with the policy's bundle limit).
#[utoipa::path(get, path = "/v1/riders",
    responses((status = 200, body = Vec<RiderProfile>), (status = 401, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<RiderProfile>>, ApiError> {
    operator(&state, &headers)?;
    Ok(Json(state.live.view().rider_profiles()))
}

/// One rider's record.
#[utoipa::path(get, path = "/v1/riders/{id}",
    params(("id" = u64, Path, description = "The rider's id")),
    responses((status = 200, body = RiderProfile), (status = 400, body = crate::api::error::ErrorBody),
              (status = 401, body = crate::api::error::ErrorBody), (status = 403, body = crate::api::error::ErrorBody),
              (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RiderProfile>, ApiError> {
    operator(&state, &headers)?;
    let id = parse_id(&id)?;
    state.live.view().rider_profile(id).map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            Some("id"),
            format!("rider {id} has no record"),
        )
    })
}
