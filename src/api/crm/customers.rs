//! The CRM over HTTP: customers, points ledgers, coupons and templates,
//! with role checks. A merchant sees only customers who ordered from it
//! (or that it entered); support sees masked phone numbers and may issue
//! coupons; finance reads ledgers and posts refunds; operators do all.
//! The CRM does store I/O, so every call runs on the blocking pool.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

use crate::api::extract::{Path, Query};
use crate::api::params::{Id, Key, Limit, Page};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::api::error::{ApiError, parse_json};
use crate::api::state::{AppState, blocking};
use crate::crm::access::{self, Actor, Allowed};
use crate::crm::coupons::{Coupon, CouponTemplate};
use crate::crm::loyalty::{Entry, Lot, Tier};
use crate::crm::profile::{Contact, Frequency, Grade, MealTimes, OrderSummary};
use crate::crm::store::AccessEntry;
use crate::crm::{Command, CustomerState, Outcome, Request};
use crate::wire::auth::Role;

/// Ledger entries one call returns at most.
const LEDGER_PAGE_MAX: usize = 1000;

/// A customer as the caller may see them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: String,
    /// Phone masked for support and finance.
    #[schema(value_type = Object)]
    pub contact: Contact,
    pub merchants: Vec<String>,
    #[schema(value_type = Object)]
    pub orders: OrderSummary,
    pub average_order_cents: Option<i64>,
    #[schema(value_type = Object)]
    pub meal_times: MealTimes,
    pub favourite_dishes: Vec<(String, u32)>,
    pub favourite_categories: Vec<(String, u32)>,
    pub regions: Vec<(String, u32)>,
    pub tags: Vec<String>,
    pub frequency: Frequency,
    pub grade: Grade,
    pub tier: Tier,
    pub points: u64,
    pub points_held: u64,
    pub points_debt: u64,
    #[schema(value_type = Vec<Object>)]
    pub lots: Vec<Lot>,
}

fn top(map: &std::collections::BTreeMap<String, u32>, n: usize) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = map.iter().map(|(k, c)| (k.clone(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        Some("id"),
        format!("customer {id} not found"),
    )
}

/// Loads a customer the caller may see: a merchant's other customers are
/// a 404, as if they did not exist.
async fn visible(state: &AppState, role: &Role, id: &str) -> Result<CustomerState, ApiError> {
    if matches!(role, Role::Rider(_)) {
        return Err(ApiError::forbidden("rider tokens cannot read customers"));
    }
    let id_owned = id.to_string();
    let found = blocking(&state.crm, move |crm| crm.customer(&id_owned)).await?;
    let (_, customer) = found.ok_or_else(|| not_found(id))?;
    if let Role::Merchant(m) = role
        && !customer.profile.merchants.contains(m)
    {
        return Err(not_found(id));
    }
    Ok(customer)
}

/// One customer: profile, habits, grade, tier and points.
#[utoipa::path(get, path = "/v1/customers/{id}", params(("id" = Id, Path, description = "Customer id")),
    responses((status = 200, body = CustomerView), (status = 403, body = crate::api::error::ErrorBody),
              (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<CustomerView>, ApiError> {
    let role = state.role(&headers, None)?;
    let c = visible(&state, &role, &id).await?;
    let now = state.now_secs();
    let rules = &state.crm.config().grades;
    let mut contact = c.profile.contact.clone();
    let masked = matches!(role, Role::Support | Role::Finance);
    if masked {
        contact.phone = contact.masked_phone();
    }
    let what = if masked {
        "contact (phone masked)"
    } else {
        "contact"
    };
    record_access(&state, &role, &id, "read", what).await?;
    Ok(Json(CustomerView {
        id,
        contact,
        merchants: c.profile.merchants.iter().cloned().collect(),
        orders: c.profile.orders.clone(),
        average_order_cents: c.profile.average_cents(),
        meal_times: c.profile.meal_times.clone(),
        favourite_dishes: top(&c.profile.dishes, 10),
        favourite_categories: top(&c.profile.categories, 10),
        regions: top(&c.profile.regions, 10),
        tags: c.profile.all_tags().into_iter().collect(),
        frequency: c.profile.frequency(now, rules),
        grade: c.profile.grade(now, rules),
        tier: c.account.tier,
        points: c.account.balance_at(now),
        points_held: c.account.held(),
        points_debt: c.account.debt,
        lots: c
            .account
            .lots
            .iter()
            .filter(|l| l.expires_at_secs > now)
            .cloned()
            .collect(),
    }))
}

/// A customer's points ledger, oldest first (finance and operators).
#[utoipa::path(get, path = "/v1/customers/{id}/ledger",
    params(("id" = Id, Path), Page),
    responses((status = 200, body = Vec<Object>), (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn ledger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> Result<Json<Vec<Entry>>, ApiError> {
    let role = state.role(&headers, None)?;
    if !matches!(role, Role::Finance | Role::Operator) {
        return Err(ApiError::forbidden(
            "points ledgers are for finance and operator tokens",
        ));
    }
    let (offset, limit) = page.bounds(100, LEDGER_PAGE_MAX)?;
    Ok(Json(
        blocking(&state.crm, move |crm| crm.ledger(&id, offset, limit)).await?,
    ))
}

/// A customer's coupons.
#[utoipa::path(get, path = "/v1/customers/{id}/coupons", params(("id" = Id, Path)),
    responses((status = 200, body = Vec<Coupon>), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn coupons(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Coupon>>, ApiError> {
    let role = state.role(&headers, None)?;
    let c = visible(&state, &role, &id).await?;
    Ok(Json(c.wallet.coupons))
}

/// Runs a command for a customer: contact details, checkout (hold points,
/// reserve a coupon, price), delivered, cancelled, refunded, issue a
/// coupon. `Idempotency-Key` is required: a retry answers the first
/// outcome and changes nothing; the same key on another command is a 409.
#[utoipa::path(post, path = "/v1/customers/{id}/commands", request_body = Command,
    params(("id" = Id, Path), ("Idempotency-Key" = Key, Header, description = "required: a retry with the same key answers the first outcome")),
    responses((status = 200, body = Outcome), (status = 400, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody), (status = 404, body = crate::api::error::ErrorBody),
              (status = 409, body = crate::api::error::ErrorBody), (status = 503, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn command(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Outcome>, ApiError> {
    let role = state.role(&headers, None)?;
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| ApiError::invalid("Idempotency-Key", "required: every CRM write carries one"))?
        .to_str()
        .map_err(|_| ApiError::invalid("Idempotency-Key", "must be visible ASCII"))?
        .to_string();
    let mut command: Command = parse_json(&body)?;
    allowed(&state, &role, &id, &mut command).await?;
    let personal = match command {
        Command::Contact { .. } => Some("write"),
        Command::Erase {} => Some("erase"),
        _ => None,
    };
    let customer = id.clone();
    let request = Request {
        customer: id,
        key,
        command,
    };
    let now = state.now_secs();
    let outcome = blocking(&state.crm, move |crm| crm.execute(now, &request)).await?;
    if let Some(action) = personal {
        record_access(&state, &role, &customer, action, "contact").await?;
    }
    Ok(Json(outcome))
}

/// Logs a read or write of personal data before the caller sees any of
/// it: when the log cannot be written the request fails (503).
async fn record_access(
    state: &AppState,
    role: &Role,
    customer: &str,
    action: &'static str,
    what: &'static str,
) -> Result<(), ApiError> {
    let (actor, now, customer) = (actor(role)?, state.now_secs(), customer.to_string());
    blocking(&state.crm, move |crm| {
        crm.record_access(now, &actor, &customer, action, what)
    })
    .await
}

/// Everything the CRM holds on one customer, on their request
/// (operators): the whole state (contact in clear), the points ledger
/// (first 10,000 entries) and their reviews. Logged as an export.
#[utoipa::path(get, path = "/v1/customers/{id}/export", params(("id" = Id, Path)),
    responses((status = 200, body = Object), (status = 403, body = crate::api::error::ErrorBody),
              (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let role = state.role(&headers, None)?;
    if role != Role::Operator {
        return Err(ApiError::forbidden("exports are for operator tokens"));
    }
    let c = visible(&state, &role, &id).await?;
    record_access(&state, &role, &id, "export", "everything").await?;
    let who = id.clone();
    let (ledger, reviews) = blocking(&state.crm, move |crm| {
        let ledger = crm.ledger(&who, 0, 10_000)?;
        let reviews = crm.reviews(0, i64::MAX, |r| r.customer == who)?;
        Ok((ledger, reviews))
    })
    .await?;
    Ok(Json(serde_json::json!({
        "id": id, "profile": c.profile, "account": c.account, "wallet": c.wallet,
        "ledger": ledger, "reviews": reviews,
    })))
}

/// The personal-data access log, oldest first (operators).
#[utoipa::path(get, path = "/v1/audit/access", params(Page),
    responses((status = 200, body = Vec<AccessEntry>), (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn access_log(
    State(state): State<AppState>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> Result<Json<Vec<AccessEntry>>, ApiError> {
    if state.role(&headers, None)? != Role::Operator {
        return Err(ApiError::forbidden("the access log is for operator tokens"));
    }
    let (offset, limit) = page.bounds(100, LEDGER_PAGE_MAX)?;
    Ok(Json(
        blocking(&state.crm, move |crm| {
            Ok(crm.store().access_log(offset, limit)?)
        })
        .await?,
    ))
}

/// Who may run which command (`crm::access`); a merchant acts as itself
/// only, and cancels or refunds only for its own customers.
async fn allowed(state: &AppState, role: &Role, id: &str, command: &mut Command) -> Result<(), ApiError> {
    let actor = actor(role)?;
    let verdict = access::may_run(&actor, command, &state.crm.templates()).map_err(|d| {
        let e = ApiError::forbidden(d.reason);
        match d.field {
            Some(f) => e.with_field(f),
            None => e,
        }
    })?;
    match verdict {
        Allowed::Now => Ok(()),
        Allowed::IfOwnCustomer => visible(state, role, id).await.map(|_| ()),
    }
}

/// The CRM's view of a token: riders have no business with customers.
fn actor(role: &Role) -> Result<Actor, ApiError> {
    match role {
        Role::Rider(_) => Err(ApiError::forbidden("rider tokens cannot act on customers")),
        Role::Merchant(m) => Ok(Actor::Merchant(m.clone())),
        Role::Operator => Ok(Actor::Operator),
        Role::Support => Ok(Actor::Support),
        Role::Finance => Ok(Actor::Finance),
    }
}

/// The calling merchant's customers, by id.
#[utoipa::path(get, path = "/v1/merchants/me/customers", params(Limit),
    responses((status = 200, body = Vec<String>), (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn my_customers(
    State(state): State<AppState>,
    Query(page): Query<Limit>,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    let Role::Merchant(m) = state.role(&headers, None)? else {
        return Err(ApiError::forbidden(
            "only a merchant token has customers of its own",
        ));
    };
    let limit = page.capped(1000, 10_000)?;
    Ok(Json(
        blocking(&state.crm, move |crm| Ok(crm.store().customers_of(&m, limit)?)).await?,
    ))
}

/// Coupon templates (operators see all, a merchant its own and the
/// platform's).
#[utoipa::path(get, path = "/v1/coupon-templates", responses((status = 200, body = Vec<CouponTemplate>)),
    security(("bearer" = [])))]
pub async fn templates(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<CouponTemplate>>, ApiError> {
    let role = state.role(&headers, None)?;
    let all = state.crm.templates();
    Ok(Json(match role {
        Role::Merchant(m) => all
            .into_iter()
            .filter(|t| t.merchant.as_ref().is_none_or(|x| *x == m))
            .collect(),
        Role::Rider(_) => return Err(ApiError::forbidden("rider tokens cannot read coupon templates")),
        _ => all,
    }))
}

/// Adds or replaces a coupon template (a festival campaign with its
/// window and caps). A merchant's templates are its own.
#[utoipa::path(post, path = "/v1/coupon-templates", request_body = CouponTemplate,
    responses((status = 201, body = CouponTemplate), (status = 400, body = crate::api::error::ErrorBody),
              (status = 403, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_template(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CouponTemplate>), ApiError> {
    let role = state.role(&headers, None)?;
    let mut template: CouponTemplate = parse_json(&body)?;
    match &role {
        Role::Operator => {}
        Role::Merchant(m) => template.merchant = Some(m.clone()),
        _ => {
            return Err(ApiError::forbidden(
                "only operators and merchants create coupon templates",
            ));
        }
    }
    let t = template.clone();
    blocking(&state.crm, move |crm| crm.put_template(t)).await?;
    Ok((StatusCode::CREATED, Json(template)))
}
