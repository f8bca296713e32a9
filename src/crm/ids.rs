//! The shape of an id, as code (`valid_id`) and as the OpenAPI schema
//! (`Id`) that says the same.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// What a customer id, order reference or idempotency key may be: they
/// become parts of store keys.
pub const ID_RULE: &str = "1-128 characters: no control characters, spaces or braces";

/// Whether `id` follows [`ID_RULE`].
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= 128
        && !id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '{' || c == '}')
}

/// What [`valid_id`] accepts, as a pattern: 1 to 128 characters, none
/// of them a control character (Unicode Cc), white space (Unicode
/// White_Space) or a brace.
pub const ID_PATTERN: &str =
    "^[^\\x00-\\x20\\x7f-\\xa0{}\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+$";

/// A customer, merchant, manager, campaign or template id: it becomes
/// part of store keys ([`ID_RULE`]).
pub struct Id;

impl utoipa::PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        id_schema(ID_PATTERN, ID_RULE)
    }
}

/// A string of 1 to 128 characters matching `pattern`: the shape of every
/// id-like text the API takes.
pub fn id_schema(pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

impl utoipa::ToSchema for Id {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern and `crm::valid_id` agree, character by character, on
    /// every character they could disagree on (ASCII, Latin-1, the
    /// Unicode spaces) and on some beyond.
    #[test]
    fn the_id_pattern_is_the_id_rule() {
        let class: Vec<(u32, u32)> = vec![
            (0x00, 0x20),
            (0x7f, 0xa0),
            ('{' as u32, '{' as u32),
            ('}' as u32, '}' as u32),
            (0x1680, 0x1680),
            (0x2000, 0x200a),
            (0x2028, 0x2029),
            (0x202f, 0x202f),
            (0x205f, 0x205f),
            (0x3000, 0x3000),
        ];
        let excluded = |c: u32| class.iter().any(|&(lo, hi)| (lo..=hi).contains(&c));
        for c in (0..0x3100).chain([0xfeff, 0x1f600]) {
            let Some(ch) = char::from_u32(c) else { continue };
            assert_eq!(valid_id(&ch.to_string()), !excluded(c), "U+{c:04X}");
        }
        assert!(ID_PATTERN.contains("\\x00-\\x20\\x7f-\\xa0{}"));
        let long: String = "食".repeat(128);
        assert!(valid_id(&long), "128 characters, whatever their bytes");
        assert!(!valid_id(&format!("{long}x")));
    }
}
