//! Analytics over HTTP: a merchant's report (volume by hour and day, dish
//! ranking with the dishes in decline, rider KPIs) and, for operators and
//! the dispatcher, the demand forecast per zone. Reads run on the blocking
//! pool.

use axum::Json;
use axum::extract::State;

use crate::api::extract::{Path, Query};
use crate::api::params::Id;
use axum::http::HeaderMap;
use serde::Deserialize;

use super::teams::may_manage;
use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::api::state::blocking;
use crate::crm::analytics::{Report, ZoneForecast};
use crate::wire::auth::Role;

/// `?days=&hours=`.
#[derive(Debug, Deserialize)]
pub struct Window {
    /// Days of history (default 28 for reports, 14 for forecasts).
    pub days: Option<i64>,
    /// Hours ahead (forecast only; default 3).
    pub hours: Option<i64>,
}

/// The merchant's report over the last `days` (today included).
#[utoipa::path(get, path = "/v1/merchants/{merchant}/analytics",
    params(("merchant" = Id, Path), ("days" = Option<i64>, Query, minimum = 1, maximum = 90, description = "days of history, today included (default 28)")),
    responses((status = 200, body = Report), (status = 400, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    Query(w): Query<Window>,
    headers: HeaderMap,
) -> Result<Json<Report>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let days = w.days.unwrap_or(28);
    let now = state.now_secs();
    Ok(Json(
        blocking(&state.crm, move |crm| crm.analytics(&merchant, now, days)).await?,
    ))
}

/// Orders expected per zone for each of the next `hours`: where idle
/// riders should wait (operators).
#[utoipa::path(get, path = "/v1/analytics/demand",
    params(("days" = Option<i64>, Query, minimum = 1, maximum = 90, description = "days of history (default 14)"),
        ("hours" = Option<i64>, Query, minimum = 1, maximum = 24, description = "hours ahead (default 3)")),
    responses((status = 200, body = Vec<ZoneForecast>), (status = 400, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn demand(
    State(state): State<AppState>,
    Query(w): Query<Window>,
    headers: HeaderMap,
) -> Result<Json<Vec<ZoneForecast>>, ApiError> {
    if state.role(&headers, None)? != Role::Operator {
        return Err(ApiError::forbidden("the demand forecast is for operator tokens"));
    }
    let days = w.days.unwrap_or(14);
    // Out of u32 is out of 1..=24 too: the CRM names the field.
    let hours = u32::try_from(w.hours.unwrap_or(3)).unwrap_or(0);
    let now = state.now_secs();
    Ok(Json(
        blocking(&state.crm, move |crm| crm.demand_forecast(now, days, hours)).await?,
    ))
}
