//! The bounds the API enforces on input values, each stated once: the
//! validators check them and the OpenAPI schemas (`schema_with`) document
//! them, so the document cannot drift from what the server accepts.

use std::ops::RangeInclusive;

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{Object, RefOr, Schema};

/// Sentiment runs from -1.0 (angry) to 1.0 (delighted).
pub const SENTIMENT_MIN: f64 = -1.0;
pub const SENTIMENT_MAX: f64 = 1.0;

/// Skill proficiency: 1 (novice) to 5 (expert).
pub const PROFICIENCY_MIN: u8 = 1;
pub const PROFICIENCY_MAX: u8 = 5;

/// When a contact or event may be said to happen (ms since the epoch):
/// 1970 to the end of 9999, so timers and windows computed from it fit.
pub const EVENT_TIME_MIN: i64 = 0;
pub const EVENT_TIME_MAX: i64 = 253_402_300_799_999;

/// An event time in range; else a message that says the range.
pub fn event_time(field: &str, value: Option<i64>) -> Result<(), String> {
    match value {
        Some(v) if !(EVENT_TIME_MIN..=EVENT_TIME_MAX).contains(&v) => Err(format!(
            "`{field}` must be ms since the epoch from {EVENT_TIME_MIN} to {EVENT_TIME_MAX} (year 9999), got {v}"
        )),
        _ => Ok(()),
    }
}

/// Survey scores and review stars.
pub const CSAT: RangeInclusive<u8> = 1..=5;
pub const NPS: RangeInclusive<u8> = 0..=10;
pub const CES: RangeInclusive<u8> = 1..=7;
pub const STARS: RangeInclusive<u8> = 1..=5;

/// Longest draft reply, in characters (a long e-mail answer fits).
pub const MAX_DRAFT_CHARS: usize = 20_000;

/// A text with at least one character that is not white space.
pub const NON_BLANK_PATTERN: &str = r"\S";

/// Whether `s` says nothing: empty or only white space. The separators
/// U+001C-U+001F count as white space too, as in the `\s` of common regex
/// engines, so this agrees with [`NON_BLANK_PATTERN`].
pub fn is_blank(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// A sentiment in range, narrowed to what the engine keeps; else a message
/// that says the range.
pub fn sentiment(field: &str, value: Option<f64>) -> Result<Option<f32>, String> {
    match value {
        Some(v) if !(SENTIMENT_MIN..=SENTIMENT_MAX).contains(&v) => Err(format!(
            "`{field}` must be between {SENTIMENT_MIN:.1} and {SENTIMENT_MAX:.1}, got {v}"
        )),
        #[allow(clippy::cast_possible_truncation)] // in -1..1, f32 is precise enough
        v => Ok(v.map(|v| v as f32)),
    }
}

/// OpenAPI schemas of the bounded values.
pub mod schema {
    use super::*;

    fn optional(t: Type) -> SchemaType {
        SchemaType::Array(vec![t, Type::Null])
    }

    /// An optional sentiment.
    pub fn sentiment() -> Object {
        ObjectBuilder::new()
            .schema_type(optional(Type::Number))
            .minimum(Some(SENTIMENT_MIN))
            .maximum(Some(SENTIMENT_MAX))
            .description(Some(format!(
                "From {SENTIMENT_MIN:.1} (angry) to {SENTIMENT_MAX:.1} (delighted)."
            )))
            .build()
    }

    /// An optional score in `range`.
    fn score(range: &RangeInclusive<u8>) -> Object {
        ObjectBuilder::new()
            .schema_type(optional(Type::Integer))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::UInt8,
            )))
            .minimum(Some(*range.start()))
            .maximum(Some(*range.end()))
            .build()
    }

    pub fn csat() -> Object {
        score(&CSAT)
    }

    pub fn nps() -> Object {
        score(&NPS)
    }

    pub fn ces() -> Object {
        score(&CES)
    }

    pub fn stars() -> Object {
        score(&STARS)
    }

    /// An optional event time.
    pub fn event_time() -> Object {
        ObjectBuilder::new()
            .schema_type(optional(Type::Integer))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(EVENT_TIME_MIN))
            .maximum(Some(EVENT_TIME_MAX))
            .description(Some(
                "Event time (ms since the epoch, 1970 to 9999); the server's clock when absent.",
            ))
            .build()
    }

    /// A text that must say something.
    pub fn non_blank() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .pattern(Some(NON_BLANK_PATTERN))
            .build()
    }

    /// A draft's text.
    pub fn draft_text() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_DRAFT_CHARS))
            .pattern(Some(NON_BLANK_PATTERN))
            .description(Some(format!(
                "The reply, at most {MAX_DRAFT_CHARS} characters, not blank."
            )))
            .build()
    }

    /// Skill -> proficiency.
    pub fn skills() -> Object {
        let level: RefOr<Schema> = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::UInt8,
            )))
            .minimum(Some(PROFICIENCY_MIN))
            .maximum(Some(PROFICIENCY_MAX))
            .into();
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(level))
            .description(Some(format!(
                "Skill -> proficiency, {PROFICIENCY_MIN} (novice) to {PROFICIENCY_MAX} (expert)."
            )))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_nothing_but_white_space() {
        for blank in ["", " ", "\t\n", "\u{a0}\u{2003}", "\u{1f}"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for text in ["a", " a ", "\u{1}"] {
            assert!(!is_blank(text), "{text:?}");
        }
    }

    #[test]
    fn sentiment_outside_the_range_is_refused_with_the_range() {
        assert_eq!(sentiment("s", Some(1.0)), Ok(Some(1.0)));
        assert_eq!(sentiment("s", None), Ok(None));
        let e = sentiment("s", Some(1.000_000_000_1)).unwrap_err();
        assert!(e.contains("-1.0 and 1.0"), "{e}");
        assert!(sentiment("s", Some(-5.0)).is_err());
    }
}
