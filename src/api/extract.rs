//! Extractors whose rejections are the JSON error body naming the field,
//! like every other rejection (axum's own answer in plain text).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The query string, deserialised field by field: a bad value is a 400
/// naming its parameter.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// Parses a query string into `T`, naming the parameter that is wrong.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next());
        let field = match (path.as_str(), missing) {
            (_, Some(f)) => f.to_string(),
            (".", None) => "query".to_string(),
            (p, None) => p.to_string(),
        };
        ApiError::invalid(&field, format!("{field}: {message}"))
    })
}

/// Path segments: one that does not decode is a 400 naming the path.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| ApiError::invalid("path", e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Window {
        days: Option<u32>,
        hours: Option<u32>,
    }

    #[test]
    fn a_bad_parameter_is_named() {
        let e = parse_query::<Window>("days=7&hours=-1").unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (400, Some("hours")));
        assert_eq!(
            parse_query::<Window>("days=7").unwrap(),
            Window {
                days: Some(7),
                hours: None
            }
        );
        assert_eq!(
            parse_query::<Window>("").unwrap(),
            Window {
                days: None,
                hours: None
            }
        );
    }
}
