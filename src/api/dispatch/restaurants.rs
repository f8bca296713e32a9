//! Restaurants over HTTP: operators onboard, change and close them
//! (`PUT`, journaled before the answer); operators list all, a merchant
//! its own. Reads come from the read model.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, parse_json};
use crate::api::extract::Path;
use crate::api::state::AppState;
use crate::live::{OpeningHours, Restaurant, RestaurantBody, Scope};
use crate::map::{LatLng, MapError};
use crate::wire::auth::Role;

/// `PUT /v1/restaurants/{id}` body: the restaurant as it is from now on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRestaurant {
    /// The merchant whose tokens post and see its orders.
    #[schema(value_type = crate::crm::Id)]
    pub merchant: String,
    /// Shown on the console (default: the id).
    #[schema(pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,100}$")]
    pub name: Option<String>,
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
    /// Typical preparation: an order's ready time when it gives none.
    #[schema(minimum = 0, maximum = 14400)]
    pub prep_secs: i64,
    /// Its delivery area: a customer further than this ride is refused.
    #[schema(minimum = 60, maximum = 14400)]
    pub max_ride_secs: Option<i64>,
    /// When it takes orders, in the city's time zone (`[city]
    /// time_zone`); empty: always.
    #[serde(default)]
    #[schema(max_items = 28)]
    pub hours: Vec<OpeningHours>,
    /// Off: it takes no new orders and finishes the ones it has.
    #[serde(default = "yes")]
    pub open: bool,
}

fn yes() -> bool {
    true
}

/// Who may read restaurants: operators (all) and merchants (their own).
fn reader(state: &AppState, headers: &HeaderMap) -> Result<Scope, ApiError> {
    match state.role(headers, None)? {
        Role::Operator => Ok(Scope::Operator),
        Role::Merchant(m) => Ok(Scope::Merchant(m)),
        _ => Err(ApiError::forbidden(
            "restaurants are for operator and merchant tokens",
        )),
    }
}

fn check_path_id(id: &str) -> Result<(), ApiError> {
    if crate::live::is_slug(id, 64) {
        Ok(())
    } else {
        Err(ApiError::invalid("id", "1 to 64 of A-Z a-z 0-9 _ -"))
    }
}

/// Onboards a restaurant, or changes or closes one. Moving one waits until
/// none of its orders waits for pickup (409 naming `lat`).
#[utoipa::path(put, path = "/v1/restaurants/{id}", request_body = PutRestaurant,
    params(("id" = crate::api::params::RestaurantId, Path, description = "The restaurant's id")),
    responses((status = 307, body = crate::api::error::ErrorBody, description = "Another zone's: ask again at Location"), (status = 201, body = RestaurantBody, description = "Onboarded; journaled before this answer"),
              (status = 200, body = RestaurantBody, description = "Changed (or unchanged)"),
              (status = 400, body = crate::api::error::ErrorBody), (status = 401, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody), (status = 409, body = crate::api::error::ErrorBody),
              (status = 422, body = crate::api::error::ErrorBody, description = "Off the road network"),
              (status = 503, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !matches!(state.role(&headers, None)?, Role::Operator) {
        return Err(ApiError::forbidden("only operator tokens onboard restaurants"));
    }
    check_path_id(&id)?;
    state.zone_restaurant(&id, "id", &format!("/v1/restaurants/{id}"))?;
    let req: PutRestaurant = parse_json(&body)?;
    let at = LatLng::new(req.lat, req.lng).map_err(|e| match &e {
        MapError::InvalidCoordinate { field, .. } => ApiError::invalid(field, e.to_string()),
        _ => ApiError::invalid("lat", e.to_string()),
    })?;
    let restaurant = Restaurant {
        name: req.name.unwrap_or_else(|| id.clone()),
        id,
        merchant: req.merchant,
        at,
        prep_secs: req.prep_secs,
        max_ride_secs: req.max_ride_secs,
        hours: req.hours,
        open: req.open,
    };
    let reply = state.live.put_restaurant(restaurant).await?;
    let view = state.live.view();
    let body = view.restaurant_body(&reply.restaurant, state.live.clock().now_secs());
    let status = if reply.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/restaurants/{}", reply.restaurant.id)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// The restaurants the caller may see (operators: all; a merchant: its
/// own), by id, with whether each takes orders now.
#[utoipa::path(get, path = "/v1/restaurants",
    responses((status = 200, body = Vec<RestaurantBody>), (status = 401, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<RestaurantBody>>, ApiError> {
    let scope = reader(&state, &headers)?;
    Ok(Json(
        state
            .live
            .view()
            .restaurants(&scope, state.live.clock().now_secs()),
    ))
}

/// One restaurant (another merchant's is not found).
#[utoipa::path(get, path = "/v1/restaurants/{id}",
    params(("id" = crate::api::params::RestaurantId, Path, description = "The restaurant's id")),
    responses((status = 200, body = RestaurantBody), (status = 400, body = crate::api::error::ErrorBody),
              (status = 401, body = crate::api::error::ErrorBody), (status = 403, body = crate::api::error::ErrorBody),
              (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RestaurantBody>, ApiError> {
    let scope = reader(&state, &headers)?;
    check_path_id(&id)?;
    state
        .live
        .view()
        .restaurant(&scope, &id, state.live.clock().now_secs())
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                Some("id"),
                format!("restaurant {id} not found"),
            )
        })
}
