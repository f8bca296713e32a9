//! The router: every route, the request counter, `/health` and
//! `/metrics`. Built by the composition root (`app`) from an `AppState`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

use super::crm::{analytics, campaigns, customers as crm, feedback, teams};
use super::dispatch::{console, merchant, restaurants, rider_profiles, rider_ws};
use super::ops::{self, openapi};
use super::state::AppState;

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/orders", post(merchant::create).get(merchant::list))
        .route("/v1/orders/{id}", get(merchant::get))
        .route("/v1/orders/{id}/cancel", post(merchant::cancel))
        .route("/v1/orders/{id}/ready", post(merchant::ready))
        .route("/v1/restaurants", get(restaurants::list))
        .route(
            "/v1/restaurants/{id}",
            get(restaurants::get).put(restaurants::put),
        )
        .route("/v1/riders/ws", get(rider_ws::upgrade))
        .route("/v1/riders", get(rider_profiles::list))
        .route(
            "/v1/riders/{id}",
            get(rider_profiles::get).put(rider_profiles::put),
        )
        .route("/v1/customers/{id}", get(crm::customer))
        .route("/v1/customers/{id}/ledger", get(crm::ledger))
        .route("/v1/customers/{id}/coupons", get(crm::coupons))
        .route("/v1/customers/{id}/commands", post(crm::command))
        .route("/v1/customers/{id}/export", get(crm::export))
        .route("/v1/merchants/me/customers", get(crm::my_customers))
        .route("/v1/merchants/me/alerts", get(feedback::alerts))
        .route("/v1/merchants/ws", get(feedback::upgrade))
        .route(
            "/v1/merchants/{merchant}/team",
            get(teams::get_team).put(teams::put_team),
        )
        .route(
            "/v1/merchants/{merchant}/customers/{id}/owner",
            get(teams::owner).post(teams::own),
        )
        .route(
            "/v1/merchants/{merchant}/managers/{manager}/leave",
            post(teams::leave),
        )
        .route("/v1/merchants/{merchant}/ownership-audit", get(teams::audit))
        .route(
            "/v1/merchants/{merchant}/segments/preview",
            post(campaigns::preview),
        )
        .route("/v1/merchants/{merchant}/campaigns", get(campaigns::list))
        .route(
            "/v1/merchants/{merchant}/campaigns/{id}",
            get(campaigns::get).put(campaigns::put),
        )
        .route(
            "/v1/merchants/{merchant}/campaigns/{id}/run",
            post(campaigns::run),
        )
        .route(
            "/v1/merchants/{merchant}/campaigns/{id}/effect",
            get(campaigns::effect),
        )
        .route("/v1/merchants/{merchant}/outbox", get(campaigns::outbox))
        .route("/v1/merchants/{merchant}/outbox/ack", post(campaigns::ack))
        .route("/v1/merchants/{merchant}/analytics", get(analytics::report))
        .route("/v1/analytics/demand", get(analytics::demand))
        .route("/v1/audit/access", get(crm::access_log))
        .route("/v1/feedback", get(feedback::list))
        .route("/v1/feedback/stats", get(feedback::stats))
        .route(
            "/v1/coupon-templates",
            get(crm::templates).post(crm::put_template),
        )
        .route("/console", get(console::page))
        .route("/v1/console/state", get(console::state))
        .route("/v1/map/geometry", get(console::geometry))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    state
        .live
        .metrics()
        .http_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    next.run(request).await
}
