//! Bounds on the names and values the domain stores, each stated once and
//! checked the same way whoever writes them: an API request (a 4xx when
//! broken) or a plugin's output (an invalid-output failure when broken).
//! Each check returns a message that names the field and says what is
//! allowed; the OpenAPI schemas (`schema_with`, [`schema`]) are built from
//! the same constants, so the document cannot drift from what the server
//! accepts.

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

/// Longest queue, skill, team, language, agent id, tag or attribute key, in
/// bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Proficiency in a skill: 1 (novice) to 5 (expert).
pub const PROFICIENCY: RangeInclusive<u8> = PROFICIENCY_MIN..=PROFICIENCY_MAX;
/// Highest contact priority a plugin may set (relaxation and escalation
/// raises saturate here).
pub const MAX_PRIORITY: u32 = 1_000_000;
/// Most tags one contact carries.
pub const MAX_TAGS: usize = 64;
/// Most attributes one routing decision sets.
pub const MAX_ATTRIBUTES: usize = 64;
/// Longest attribute value, in bytes.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1024;
/// Most entries of any one list in a routing decision (required or
/// preferred skills, relaxation steps, actions of one step).
pub const MAX_LIST: usize = 64;

/// A non-blank name of at most [`MAX_NAME_BYTES`] bytes.
pub fn name(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("`{field}` must not be empty"));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(format!(
            "`{field}` is {} bytes long; names are at most {MAX_NAME_BYTES} bytes",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("`{field}` must not contain control characters"));
    }
    Ok(())
}

/// A proficiency level within [`PROFICIENCY`].
pub fn proficiency(field: &str, level: u8) -> Result<(), String> {
    if PROFICIENCY.contains(&level) {
        return Ok(());
    }
    Err(format!(
        "`{field}` is {level}; proficiency is {} (novice) to {} (expert)",
        PROFICIENCY.start(),
        PROFICIENCY.end()
    ))
}

/// A priority of at most [`MAX_PRIORITY`].
pub fn priority(field: &str, value: u32) -> Result<(), String> {
    if value <= MAX_PRIORITY {
        return Ok(());
    }
    Err(format!(
        "`{field}` is {value}; priority is 0 to {MAX_PRIORITY}"
    ))
}

/// A list of at most `max` entries.
pub fn count(field: &str, len: usize, max: usize) -> Result<(), String> {
    if len <= max {
        return Ok(());
    }
    Err(format!(
        "`{field}` has {len} entries; at most {max} are allowed"
    ))
}

/// An attribute: a key that is a [`name`], a value of at most
/// [`MAX_ATTRIBUTE_VALUE_BYTES`].
pub fn attribute(field: &str, key: &str, value: &str) -> Result<(), String> {
    name(&format!("{field}.key"), key)?;
    if value.len() > MAX_ATTRIBUTE_VALUE_BYTES {
        return Err(format!(
            "`{field}` `{key}` is {} bytes long; values are at most {MAX_ATTRIBUTE_VALUE_BYTES} bytes",
            value.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_non_blank_bounded_and_printable() {
        assert!(name("queue", "billing").is_ok());
        assert!(name("queue", "").unwrap_err().contains("`queue`"));
        assert!(name("queue", "  ").is_err());
        assert!(name("queue", &"q".repeat(MAX_NAME_BYTES)).is_ok());
        let long = name("queue", &"q".repeat(MAX_NAME_BYTES + 1)).unwrap_err();
        assert!(long.contains("129 bytes"), "{long}");
        assert!(name("tag", "a\nb").is_err());
    }

    #[test]
    fn proficiency_priority_and_counts_have_documented_ranges() {
        assert!(proficiency("p", 0).unwrap_err().contains("1 (novice) to 5"));
        assert!(proficiency("p", 1).is_ok() && proficiency("p", 5).is_ok());
        assert!(proficiency("p", 255).is_err());
        assert!(priority("priority", MAX_PRIORITY).is_ok());
        assert!(priority("priority", MAX_PRIORITY + 1).is_err());
        assert!(count("tags", 3, 3).is_ok() && count("tags", 4, 3).is_err());
        assert!(attribute("attributes", "k", &"v".repeat(2000)).is_err());
    }

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
