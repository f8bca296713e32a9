//! Marketing over HTTP: preview a segment, define, run and measure a
//! campaign, and the outbox a merchant's messaging integration reads (at
//! least once, in order: it keeps the last `seq` it handled, and skips
//! message ids it has seen). A merchant token acts for itself only;
//! operators for any merchant. Every call runs on the blocking pool: a
//! run over 100k customers takes seconds and must not hold the runtime.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

use crate::api::extract::{Path, Query};
use crate::api::params::{Id, Limit, non_negative};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::teams::may_manage;
use crate::api::error::{ApiError, parse_json};
use crate::api::state::AppState;
use crate::api::state::blocking;
use crate::crm::marketing::{Campaign, CampaignSpec, Effect, Message, RunSummary, Segment};

/// Customer ids a segment preview lists at most.
const PREVIEW_IDS_MAX: usize = 20;
/// Messages one outbox read returns at most.
pub const OUTBOX_PAGE_MAX: usize = 1000;

/// How big a segment is today, with a few of its customers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentPreview {
    pub count: usize,
    /// The first customer ids, in id order.
    pub sample: Vec<String>,
}

/// `GET .../outbox` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// The last seq the consumer handled (0: from the start).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Messages wanted (default 100, at most 1,000).
    #[param(minimum = 0)]
    pub limit: Option<i64>,
}

/// A page of the outbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxPage {
    pub messages: Vec<Message>,
    /// What to pass as `after` next (unchanged when the page is empty).
    pub next_after: u64,
}

/// `POST .../outbox/ack` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Every message up to this seq was handled.
    #[schema(minimum = 0)]
    pub upto_seq: i64,
}

/// How many messages an ack removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Acked {
    pub removed: u64,
}

/// How many of the merchant's customers are in a segment today.
#[utoipa::path(post, path = "/v1/merchants/{merchant}/segments/preview", request_body = Segment,
    params(("merchant" = Id, Path)),
    responses((status = 200, body = SegmentPreview), (status = 400, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SegmentPreview>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let segment: Segment = parse_json(&body)?;
    let now = state.now_secs();
    let picked = blocking(&state.crm, move |crm| crm.segment(&merchant, &segment, now)).await?;
    Ok(Json(SegmentPreview {
        count: picked.len(),
        sample: picked.into_iter().take(PREVIEW_IDS_MAX).map(|(c, _)| c).collect(),
    }))
}

/// Defines a campaign (or changes it before its first run). The body's
/// `id` must be the path's.
#[utoipa::path(put, path = "/v1/merchants/{merchant}/campaigns/{id}", request_body = CampaignSpec,
    params(("merchant" = Id, Path), ("id" = Id, Path)),
    responses((status = 200, body = Campaign), (status = 400, body = crate::api::error::ErrorBody),
              (status = 409, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    Path((merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Campaign>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let spec: CampaignSpec = parse_json(&body)?;
    if spec.id != id {
        return Err(ApiError::refused(
            "id",
            format!("the body says {}, the path {id}", spec.id),
        ));
    }
    let now = state.now_secs();
    Ok(Json(
        blocking(&state.crm, move |crm| crm.define_campaign(&merchant, spec, now)).await?,
    ))
}

/// A campaign and what became of it.
#[utoipa::path(get, path = "/v1/merchants/{merchant}/campaigns/{id}",
    params(("merchant" = Id, Path), ("id" = Id, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Path((merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Campaign>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    Ok(Json(
        blocking(&state.crm, move |crm| crm.campaign(&merchant, &id)).await?,
    ))
}

/// The merchant's campaigns, in id order.
#[utoipa::path(get, path = "/v1/merchants/{merchant}/campaigns", params(("merchant" = Id, Path)),
    responses((status = 200, body = Vec<Campaign>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Campaign>>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    Ok(Json(
        blocking(&state.crm, move |crm| crm.campaigns(&merchant)).await?,
    ))
}

/// Runs a campaign: the first run freezes its members; any run gives the
/// treated what they still lack. Safe to repeat.
#[utoipa::path(post, path = "/v1/merchants/{merchant}/campaigns/{id}/run",
    params(("merchant" = Id, Path), ("id" = Id, Path)),
    responses((status = 200, body = RunSummary), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    Path((merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<RunSummary>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let now = state.now_secs();
    Ok(Json(
        blocking(&state.crm, move |crm| crm.run_campaign(&merchant, &id, now)).await?,
    ))
}

/// Redemptions and incremental orders against the holdout so far.
#[utoipa::path(get, path = "/v1/merchants/{merchant}/campaigns/{id}/effect",
    params(("merchant" = Id, Path), ("id" = Id, Path)),
    responses((status = 200, body = Effect), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn effect(
    State(state): State<AppState>,
    Path((merchant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Effect>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    Ok(Json(
        blocking(&state.crm, move |crm| crm.campaign_effect(&merchant, &id)).await?,
    ))
}

/// Messages after `after`, in order.
#[utoipa::path(get, path = "/v1/merchants/{merchant}/outbox",
    params(("merchant" = Id, Path), OutboxQuery),
    responses((status = 200, body = OutboxPage)),
    security(("bearer" = [])))]
pub async fn outbox(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    Query(q): Query<OutboxQuery>,
    headers: HeaderMap,
) -> Result<Json<OutboxPage>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let after = non_negative("after", q.after.unwrap_or(0))?;
    let limit = Limit { limit: q.limit }.capped(100, OUTBOX_PAGE_MAX)?.max(1);
    let messages = blocking(&state.crm, move |crm| crm.outbox(&merchant, after, limit)).await?;
    let next_after = messages.last().map_or(after, |m| m.seq);
    Ok(Json(OutboxPage { messages, next_after }))
}

/// The consumer handled every message up to `upto_seq`: they are dropped
/// (their ids stay known, so a campaign run never sends them again).
#[utoipa::path(post, path = "/v1/merchants/{merchant}/outbox/ack", request_body = AckBody,
    params(("merchant" = Id, Path)),
    responses((status = 200, body = Acked), (status = 400, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn ack(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Acked>, ApiError> {
    may_manage(&state, &headers, &merchant)?;
    let b: AckBody = parse_json(&body)?;
    let upto_seq = non_negative("upto_seq", b.upto_seq)?;
    let removed = blocking(&state.crm, move |crm| crm.outbox_ack(&merchant, upto_seq)).await?;
    Ok(Json(Acked { removed }))
}
