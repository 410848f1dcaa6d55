//! Bounds on the names and values the domain stores, checked the same way
//! whoever writes them: an API request (a 4xx when broken) or a plugin's
//! output (an invalid-output failure when broken). Each check returns a
//! message that names the field and says what is allowed.

use std::ops::RangeInclusive;

/// Longest queue, skill, team, language, agent id, tag or attribute key, in
/// bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Proficiency in a skill: 1 (novice) to 5 (expert).
pub const PROFICIENCY: RangeInclusive<u8> = 1..=5;
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
}
