//! The OpenAPI document served at `/openapi.json`, generated from the
//! handlers' annotations so it cannot drift from the routes.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::crm::{analytics, campaigns, customers as crm, feedback, teams};
use crate::api::dispatch::merchant;

#[derive(OpenApi)]
#[openapi(
    info(title = "waimai", description = "Merchant and CRM API of the waimai dispatch engine. Rider messages travel over the WebSocket /v1/riders/ws (docs/protocol.md)."),
    paths(merchant::create, merchant::get, merchant::list, merchant::cancel, merchant::ready, super::health, super::metrics,
        crm::customer, crm::ledger, crm::coupons, crm::command, crm::my_customers, crm::templates, crm::put_template,
        crm::access_log, crm::export, feedback::list, feedback::stats, feedback::alerts,
        teams::put_team, teams::get_team, teams::own, teams::owner, teams::leave, teams::audit,
        campaigns::preview, campaigns::put, campaigns::get, campaigns::list, campaigns::run, campaigns::effect,
        campaigns::outbox, campaigns::ack, analytics::report, analytics::demand),
    components(schemas(merchant::CreateOrder, merchant::Position, merchant::CancelOrder,
        crate::live::CardBody, crate::live::EtaBody, crate::api::error::ErrorBody, crate::api::error::ErrorDetail,
        crm::CustomerView, crate::crm::Command, crate::crm::Outcome, crate::crm::customer::Pricing,
        crate::crm::coupons::CouponTemplate, crate::crm::coupons::Coupon,
        crate::crm::feedback::Review, crate::crm::feedback::Stats, crate::crm::feedback::Tally,
        crate::crm::store::AccessEntry, teams::TeamBody, teams::LeaveBody, teams::Moved, crate::crm::managers::Team, crate::crm::managers::Ownership,
        crate::crm::managers::Event, crate::crm::managers::AuditEntry, crate::crm::managers::Rule,
        campaigns::SegmentPreview, campaigns::OutboxPage, campaigns::AckBody, campaigns::Acked,
        crate::crm::marketing::Segment, crate::crm::marketing::CampaignSpec, crate::crm::marketing::Campaign,
        crate::crm::marketing::RunSummary, crate::crm::marketing::Effect, crate::crm::marketing::Message,
        crate::crm::marketing::Purpose, crate::crm::marketing::Group,
        crate::crm::analytics::Report, crate::crm::analytics::Volume, crate::crm::analytics::DishSales,
        crate::crm::analytics::RiderKpi, crate::crm::analytics::ZoneForecast)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
