//! HTTP errors: a status and a JSON body with a stable code, the offending
//! field when there is one, and a message for people.
//! `{"error": {"code": "invalid_field", "field": "customer.lat", "message": "..."}}`

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::EngineError;
use crate::live::LiveError;
use crate::wire::auth::AuthError;

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
    /// Where to ask instead (a 307's `Location`).
    pub location: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid_field` (400: the schema forbids it), `refused` (422:
    /// well-formed, but the fields together or the server's data refuse
    /// it), `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `invalid_state`, `busy`, `unavailable`, `not_replicated` (503: not
    /// yet on a replica, retry with the same key), `other_zone` (307:
    /// another zone's process owns it, see `Location`).
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            field: field.map(str::to_owned),
            message: message.into(),
            location: None,
        }
    }

    /// Another zone's process owns what `field` names: ask it at
    /// `location` (307 keeps the method and the body).
    pub fn elsewhere(field: &str, location: String, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::TEMPORARY_REDIRECT, "other_zone", Some(field), message);
        e.location = Some(location);
        e
    }

    /// A field the client got wrong.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_field", Some(field), message)
    }

    /// Well-formed input that the server's rules or data refuse (422).
    pub fn refused(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", Some(field), message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", None, message)
    }

    /// The same error, naming the field it is about.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                field: self.field,
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(location) = self.location
            && let Ok(value) = axum::http::HeaderValue::from_str(&location)
        {
            response.headers_mut().insert(axum::http::header::LOCATION, value);
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            Some("Authorization"),
            e.to_string(),
        )
    }
}

impl From<LiveError> for ApiError {
    fn from(e: LiveError) -> Self {
        let message = e.to_string();
        match e {
            LiveError::Invalid { field, .. } => Self::invalid(field, message),
            LiveError::Refused { field, .. } => Self::refused(field, message),
            LiveError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", Some("id"), message),
            LiveError::Conflict { field, .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", Some(field), message)
            }
            LiveError::Forbidden(_) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", Some("restaurant"), message)
            }
            LiveError::Busy => Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", None, message),
            LiveError::NotReplicated(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_replicated", None, message)
            }
            LiveError::Engine(EngineError::InvalidTransition { .. }) => {
                Self::new(StatusCode::CONFLICT, "invalid_state", Some("id"), message)
            }
            LiveError::Engine(_) => Self::new(StatusCode::CONFLICT, "invalid_state", None, message),
            LiveError::Map(_) => Self::invalid("customer", message),
            LiveError::Stopped | LiveError::Journal(_) | LiveError::Store(_) | LiveError::Thread { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None, message)
            }
        }
    }
}

impl From<crate::crm::CrmError> for ApiError {
    fn from(e: crate::crm::CrmError) -> Self {
        use crate::crm::CrmError as E;
        let message = e.to_string();
        let conflict =
            |code, field: Option<&str>| Self::new(StatusCode::CONFLICT, code, field, message.clone());
        let missing = |field| Self::new(StatusCode::NOT_FOUND, "not_found", Some(field), message.clone());
        match &e {
            E::BadField { field, .. } => Self::invalid(field, message),
            E::Refused { field, .. } => Self::refused(field, message),
            E::InsufficientPoints { .. } => conflict("insufficient_points", Some("points")),
            E::AlreadyDone(_) => conflict("invalid_state", Some("order")),
            E::UnknownCustomer(_) => missing("id"),
            E::UnknownOrder(_) => missing("order"),
            E::UnknownCoupon(_) => missing("coupon"),
            E::UnknownTemplate(_) => missing("template"),
            E::UnknownCampaign(_) => missing("campaign"),
            E::CampaignFrozen(_) => conflict("invalid_state", Some("id")),
            E::CouponUnusable(_) => conflict("coupon_unusable", Some("coupon")),
            E::CapReached(_) => conflict("cap_reached", None),
            E::NotNow(_) => conflict("not_now", None),
            E::KeyReused(_) => conflict("conflict", Some("Idempotency-Key")),
            E::Contended(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", None, message),
            E::Store(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None, message),
        }
    }
}

/// Parses a JSON body, naming the field that is missing, unknown or of the
/// wrong type.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let first = match serde_path_to_error::deserialize(de) {
        Ok(parsed) => return Ok(parsed),
        Err(e) => e,
    };
    // Only a body that fails is read again with `312.0` as `312`, so a
    // valid body costs one parse and is taken exactly as sent.
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body)
        && integral_floats_as_integers(&mut value, 0)
        && let Ok(parsed) = serde_json::from_value(value)
    {
        return Ok(parsed);
    }
    Err(first).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // A missing field is named in the message, below the path.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(f)) => f.to_string(),
            (p, Some(f)) => format!("{p}.{f}"),
            (".", None) | ("?", None) => "body".to_string(),
            (p, None) => p.to_string(),
        };
        ApiError::invalid(&field, message)
    })
}

/// JSON Schema counts `312.0` as an integer; serde does not. A float
/// with no fraction, within i64, becomes that integer, so every
/// `integer` field accepts what the schema promises; true when one did.
/// Nesting is bounded (serde_json refuses more than 128 levels anyway).
fn integral_floats_as_integers(value: &mut serde_json::Value, depth: usize) -> bool {
    use serde_json::Value;
    const DEPTH_MAX: usize = 128;
    if depth > DEPTH_MAX {
        return false;
    }
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f > i64::MIN as f64 && f < i64::MAX as f64 => {
                *value = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| {
            integral_floats_as_integers(v, depth + 1) | changed
        }),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, v| {
            integral_floats_as_integers(v, depth + 1) | changed
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Ack {
        upto_seq: u64,
        lat: f64,
    }

    #[test]
    fn integral_floats_are_integers_and_fractions_are_refused() {
        let ack: Ack = parse_json(br#"{"upto_seq": 312.0, "lat": 43.0}"#).unwrap();
        assert_eq!(
            ack,
            Ack {
                upto_seq: 312,
                lat: 43.0
            }
        );
        let e = parse_json::<Ack>(br#"{"upto_seq": 312.5, "lat": 1}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (400, Some("upto_seq")));
        let e = parse_json::<Ack>(br#"{"lat": 1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("upto_seq"));
        let e = parse_json::<Ack>(b"{").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
    }
}
