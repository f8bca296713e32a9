//! The shapes of path, query and header parameters that the OpenAPI
//! document declares and the handlers enforce alike, so a client reading
//! the contract is never refused what it allows, nor served what it
//! forbids.

use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

pub use crate::crm::Id;

use super::error::ApiError;

/// An `Idempotency-Key` header: an id in visible ASCII (header values
/// beyond ASCII are not text).
pub struct Key;

impl utoipa::PartialSchema for Key {
    fn schema() -> RefOr<Schema> {
        crate::crm::id_schema(
            "^[\\x21-\\x7a\\x7c\\x7e]+$",
            "1-128 visible ASCII characters, no braces",
        )
    }
}

impl utoipa::ToSchema for Key {}

/// A restaurant id in a path: 1-64 of `A-Z a-z 0-9 _ -`.
pub struct RestaurantId;

impl utoipa::PartialSchema for RestaurantId {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(crate::live::RESTAURANT_ID_PATTERN))
            .description(Some("1-64 of A-Z a-z 0-9 _ -"))
            .into()
    }
}

impl utoipa::ToSchema for RestaurantId {}

/// `?offset=&limit=` of a paged list: at most `max` entries come back
/// whatever `limit` asks.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Entries to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// Entries wanted (default 100; pages are capped at 1,000).
    #[param(minimum = 0)]
    pub limit: Option<i64>,
}

impl Page {
    /// The offset and the page size, capped at `max`.
    pub fn bounds(&self, default: usize, max: usize) -> Result<(u64, usize), ApiError> {
        let offset = non_negative("offset", self.offset.unwrap_or(0))?;
        let limit = match self.limit {
            None => default,
            Some(l) => usize::try_from(non_negative("limit", l)?).unwrap_or(usize::MAX),
        };
        Ok((offset, limit.min(max)))
    }
}

/// `?limit=` of a list without pages.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Limit {
    /// Entries wanted (default 1,000, at most 10,000).
    #[param(minimum = 0)]
    pub limit: Option<i64>,
}

impl Limit {
    pub fn capped(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        Page {
            offset: None,
            limit: self.limit,
        }
        .bounds(default, max)
        .map(|(_, l)| l)
    }
}

/// A count or offset that must not be negative.
pub fn non_negative(field: &str, value: i64) -> Result<u64, ApiError> {
    u64::try_from(value).map_err(|_| ApiError::invalid(field, format!("{field}: 0 or more")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_capped_and_never_negative() {
        let page = |offset, limit| Page { offset, limit };
        assert_eq!(page(None, None).bounds(100, 1000).unwrap(), (0, 100));
        assert_eq!(page(Some(5), Some(5000)).bounds(100, 1000).unwrap(), (5, 1000));
        assert_eq!(
            page(Some(-1), None)
                .bounds(100, 1000)
                .unwrap_err()
                .field
                .as_deref(),
            Some("offset")
        );
        assert_eq!(
            page(None, Some(-1))
                .bounds(100, 1000)
                .unwrap_err()
                .field
                .as_deref(),
            Some("limit")
        );
    }
}
