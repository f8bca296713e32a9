//! Account managers over HTTP: a merchant's team and its ownership rule,
//! who owns a customer (assign by the rule, touch, move), a leaving
//! manager's book handed over, the audit trail. A merchant token acts on
//! its own team only; operators on any. CRM store calls run on the
//! blocking pool.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

use crate::api::extract::{Path, Query};
use axum::http::HeaderMap;
use serde::Deserialize;

use crate::api::error::{ApiError, parse_json};
use crate::api::params::{Id, Page};
use crate::api::state::AppState;
use crate::api::state::blocking;
use crate::crm::managers::{AuditEntry, Event, Ownership, Rule, Team};
use crate::wire::auth::Role;

/// Audit lines one call returns at most.
const AUDIT_PAGE_MAX: usize = 1000;

/// `PUT /v1/merchants/{merchant}/team` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    /// Managers in rotation order, each once.
    #[schema(value_type = Vec<Id>, min_items = 1, max_items = 200)]
    pub members: Vec<String>,
    pub rule: Rule,
    /// Customers who spent this much (cents) are locked to their owner; 0 never.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub value_lock_cents: i64,
}

/// `POST .../managers/{manager}/leave` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveBody {
    /// Who takes the book (default: each customer to whoever owns fewest).
    #[serde(default)]
    #[schema(value_type = Option<Id>)]
    pub to: Option<String>,
}

/// How many customers a leaving manager handed over.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Moved {
    pub moved: usize,
}

/// The caller may act for `merchant` (its team, its campaigns): the
/// merchant's own token or an operator's.
pub(super) fn may_manage(state: &AppState, headers: &HeaderMap, merchant: &str) -> Result<(), ApiError> {
    match state.role(headers, None)? {
        Role::Operator => Ok(()),
        Role::Merchant(m) if m == merchant => Ok(()),
        Role::Merchant(m) => {
            Err(ApiError::forbidden(format!("merchant {m} cannot act for {merchant}")).with_field("merchant"))
        }
        _ => Err(ApiError::forbidden("this is for merchant and operator tokens")),
    }
}

/// Creates or reconfigures the team (its counters are kept).
#[utoipa::path(put, path = "/v1/merchants/{merchant}/team", request_body = TeamBody,
    params(("merchant" = Id, Path)),
    responses((status = 200, body = Team), (status = 400, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_team(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Team>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let b: TeamBody = parse_json(&body)?;
    Ok(Json(
        blocking(&state.crm, move |crm| {
            crm.set_team(&merchant, b.members, b.rule, b.value_lock_cents)
        })
        .await?,
    ))
}

/// The team, its rule and counters.
#[utoipa::path(get, path = "/v1/merchants/{merchant}/team", params(("merchant" = Id, Path)),
    responses((status = 200, body = Team), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_team(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Team>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let m = merchant.clone();
    blocking(&state.crm, move |crm| crm.team(&m))
        .await?
        .map(Json)
        .ok_or_else(|| not_found("merchant", format!("{merchant} has no team")))
}

/// Applies an ownership event: `{"event":"assign"}` (by the team's rule,
/// a no-op for an owned customer), `{"event":"touch","manager":..}` (who
/// served them), `{"event":"move","manager":..}` (by hand, locks too).
#[utoipa::path(post, path = "/v1/merchants/{merchant}/customers/{id}/owner", request_body = Event,
    params(("merchant" = Id, Path), ("id" = Id, Path)),
    responses((status = 200, body = Ownership), (status = 400, body = crate::api::error::ErrorBody),
              (status = 409, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn own(
    State(state): State<AppState>,
    Path((merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Ownership>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let event: Event = parse_json(&body)?;
    let now = state.now_secs();
    Ok(Json(
        blocking(&state.crm, move |crm| crm.own(now, &merchant, &id, &event)).await?,
    ))
}

/// Who owns the customer.
#[utoipa::path(get, path = "/v1/merchants/{merchant}/customers/{id}/owner",
    params(("merchant" = Id, Path), ("id" = Id, Path)),
    responses((status = 200, body = Ownership), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn owner(
    State(state): State<AppState>,
    Path((merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Ownership>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let c = id.clone();
    blocking(&state.crm, move |crm| crm.owner(&merchant, &c))
        .await?
        .map(Json)
        .ok_or_else(|| not_found("id", format!("customer {id} has no owner")))
}

/// A manager leaves: out of the team, every customer they own handed over
/// (audited as transfers).
#[utoipa::path(post, path = "/v1/merchants/{merchant}/managers/{manager}/leave", request_body = LeaveBody,
    params(("merchant" = Id, Path), ("manager" = Id, Path)),
    responses((status = 200, body = Moved), (status = 400, body = crate::api::error::ErrorBody),
              (status = 409, body = crate::api::error::ErrorBody, description = "The merchant has no team yet"),
              (status = 422, body = crate::api::error::ErrorBody, description = "The manager or `to` is not in the team, or is its last manager")),
    security(("bearer" = [])))]
pub async fn leave(
    State(state): State<AppState>,
    Path((merchant, manager)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Moved>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let b: LeaveBody = if body.is_empty() {
        LeaveBody::default()
    } else {
        parse_json(&body)?
    };
    let now = state.now_secs();
    let moved = blocking(&state.crm, move |crm| {
        crm.leave(now, &merchant, &manager, b.to.as_deref())
    })
    .await?;
    Ok(Json(Moved { moved }))
}

/// The ownership audit trail, oldest first.
#[utoipa::path(get, path = "/v1/merchants/{merchant}/ownership-audit",
    params(("merchant" = Id, Path), Page),
    responses((status = 200, body = Vec<AuditEntry>)),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let (offset, limit) = page.bounds(100, AUDIT_PAGE_MAX)?;
    Ok(Json(
        blocking(&state.crm, move |crm| {
            crm.ownership_audit(&merchant, offset, limit)
        })
        .await?,
    ))
}

pub(super) fn not_found(field: &str, message: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        Some(field),
        message,
    )
}
