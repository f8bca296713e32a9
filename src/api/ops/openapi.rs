//! The OpenAPI document served at `/openapi.json`, generated from the
//! handlers' annotations so it cannot drift from the routes.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::crm::{analytics, campaigns, customers as crm, feedback, teams};
use crate::api::dispatch::{merchant, restaurants, rider_profiles};

#[derive(OpenApi)]
#[openapi(
    info(title = "waimai", description = "Merchant and CRM API of the waimai dispatch engine. Rider messages travel over the WebSocket /v1/riders/ws (docs/protocol.md)."),
    paths(merchant::create, merchant::get, merchant::list, merchant::cancel, merchant::ready, restaurants::put, restaurants::list, restaurants::get,
        rider_profiles::put, rider_profiles::list, rider_profiles::get, super::health, super::metrics,
        crm::customer, crm::ledger, crm::coupons, crm::command, crm::my_customers, crm::templates, crm::put_template,
        crm::access_log, crm::export, feedback::list, feedback::stats, feedback::alerts,
        teams::put_team, teams::get_team, teams::own, teams::owner, teams::leave, teams::audit,
        campaigns::preview, campaigns::put, campaigns::get, campaigns::list, campaigns::run, campaigns::effect,
        campaigns::outbox, campaigns::ack, analytics::report, analytics::demand),
    components(schemas(merchant::CreateOrder, merchant::Position, merchant::CancelOrder,
        restaurants::PutRestaurant, crate::live::RestaurantBody, crate::live::OpeningHours, crate::live::Weekday,
        crate::api::params::RestaurantId, rider_profiles::PutRider, crate::live::RiderProfile,
        merchant::ListState, crate::crm::Id, crate::api::params::Key, crate::live::CardBody, crate::live::EtaBody, crate::api::error::ErrorBody, crate::api::error::ErrorDetail,
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
    modifiers(&Bearer, &ErrorAnswers, &UniqueItems, &OpenFlattened, &ClosedVariants)
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

/// The error answers every operation of a kind can give, declared once
/// instead of in each handler: any parameter or body can be refused
/// (400), a path can name what does not exist (404), a secured operation
/// can be denied (401, 403) and can find its store or the engine
/// unavailable (503), and a body can be well-formed yet refused by rules
/// across its fields or by what the server holds (422). Each is the JSON
/// `ErrorBody`.
struct ErrorAnswers;

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty())
                    || operation.request_body.is_some();
                let statuses = [
                    (
                        "400",
                        has_input,
                        "A parameter, header or the body is invalid: `field` names it",
                    ),
                    ("401", secured, "No token, or a token that does not verify"),
                    ("403", secured, "The token's role may not do this"),
                    ("404", path.contains('{'), "What the path names does not exist"),
                    (
                        "422",
                        operation.request_body.is_some(),
                        "Well-formed, but the server's rules or data refuse it: `field` names what",
                    ),
                    (
                        "503",
                        secured,
                        "The store or the engine is unavailable, or busy: retry",
                    ),
                ];
                for (status, applies, description) in statuses {
                    if applies && !operation.responses.responses.contains_key(status) {
                        operation
                            .responses
                            .responses
                            .insert(status.to_string(), error_answer(description).into());
                    }
                }
            }
        }
    }
}

/// Lists whose entries the server takes once each (the derive cannot say
/// `uniqueItems`): (schema, property).
const UNIQUE_LISTS: [(&str, &str); 1] = [("TeamBody", "members")];

struct UniqueItems;

impl Modify for UniqueItems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (schema, property) in UNIQUE_LISTS {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
                continue;
            };
            if let Some(RefOr::T(Schema::Array(list))) = object.properties.get_mut(property) {
                list.unique_items = true;
            }
        }
    }
}

/// A request type that refuses unknown fields (`additionalProperties:
/// false`) and is flattened into an answer (a `Campaign` is its spec and
/// more) would make that answer invalid by its own schema: inside an
/// `allOf`, such a part is inlined without the closing.
struct OpenFlattened;

impl Modify for OpenFlattened {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::AdditionalProperties;
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let closed: std::collections::BTreeMap<String, Schema> = components
            .schemas
            .iter()
            .filter_map(|(name, schema)| match schema {
                RefOr::T(Schema::Object(o))
                    if matches!(
                        o.additional_properties.as_deref(),
                        Some(AdditionalProperties::FreeForm(false))
                    ) =>
                {
                    let mut open = o.clone();
                    open.additional_properties = None;
                    Some((format!("#/components/schemas/{name}"), Schema::Object(open)))
                }
                _ => None,
            })
            .collect();
        for schema in components.schemas.values_mut() {
            let RefOr::T(Schema::AllOf(all)) = schema else {
                continue;
            };
            for part in all.items.iter_mut() {
                if let RefOr::Ref(r) = part
                    && let Some(open) = closed.get(&r.ref_location)
                {
                    *part = RefOr::T(open.clone());
                }
            }
        }
    }
}

/// Tagged enums the server reads with `deny_unknown_fields`: each variant
/// becomes one closed object (a variant with a flattened part, an
/// `allOf`, is merged into one), so the schema refuses unknown fields as
/// the server does.
const CLOSED_ENUMS: [&str; 1] = ["Command"];

struct ClosedVariants;

impl Modify for ClosedVariants {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::AdditionalProperties;
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let schemas = components.schemas.clone();
        let resolve = |part: &RefOr<Schema>| -> Option<utoipa::openapi::schema::Object> {
            match part {
                RefOr::T(Schema::Object(o)) => Some(o.clone()),
                RefOr::Ref(r) => {
                    let name = r.ref_location.rsplit('/').next()?;
                    match schemas.get(name) {
                        Some(RefOr::T(Schema::Object(o))) => Some(o.clone()),
                        _ => None,
                    }
                }
                _ => None,
            }
        };
        for name in CLOSED_ENUMS {
            let Some(RefOr::T(Schema::OneOf(one_of))) = schemas.get(name) else {
                continue;
            };
            let mut variants = one_of.clone();
            for variant in variants.items.iter_mut() {
                let merged = match variant {
                    RefOr::T(Schema::Object(o)) => Some(o.clone()),
                    RefOr::T(Schema::AllOf(all)) => {
                        let parts: Option<Vec<_>> = all.items.iter().map(resolve).collect();
                        parts.map(|parts| {
                            let mut one = parts[0].clone();
                            one.description = all.description.clone();
                            for part in &parts[1..] {
                                one.properties.extend(part.properties.clone());
                                one.required.extend(part.required.iter().cloned());
                            }
                            one
                        })
                    }
                    _ => None,
                };
                if let Some(mut object) = merged {
                    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                    *variant = RefOr::T(Schema::Object(object));
                }
            }
            components
                .schemas
                .insert(name.to_string(), RefOr::T(Schema::OneOf(variants)));
        }
    }
}

fn error_answer(description: &str) -> utoipa::openapi::Response {
    let body = utoipa::openapi::Ref::from_schema_name("ErrorBody");
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content("application/json", utoipa::openapi::Content::new(Some(body)))
        .build()
}

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
