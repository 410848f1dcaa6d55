//! A compliance check: phrases that must not be sent to customers.
//!
//! The host calls `new` once per instance with the configuration (already
//! validated against `config_schema` in manifest.json), then `check` for
//! every draft reply an agent is about to send.
//!
//! The rule: for each phrase of `banned_phrases` that the draft contains
//! (anywhere; letters A-Z match either case, other characters exactly), one
//! finding naming the phrase, with the span of its first occurrence. A draft
//! with findings gets the configured `verdict`; a clean one is approved.

use serde::Deserialize;
use switchboard_sdk::prelude::*;

/// The configuration, as in manifest.json's `config_schema`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    banned_phrases: Vec<String>,
    verdict: VerdictName,
}

/// The verdict as the config spells it (`"needs-approval"`).
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum VerdictName {
    Revise,
    NeedsApproval,
    Block,
}

struct BannedPhrases {
    /// Each phrase as configured (for messages) and lower-cased (for matching).
    phrases: Vec<(String, String)>,
    verdict: Verdict,
}

impl ComplianceCheck for BannedPhrases {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let phrases = config
            .banned_phrases
            .into_iter()
            .map(|p| {
                let lower = p.to_ascii_lowercase();
                (p, lower)
            })
            .collect();
        let verdict = match config.verdict {
            VerdictName::Revise => Verdict::Revise,
            VerdictName::NeedsApproval => Verdict::NeedsApproval,
            VerdictName::Block => Verdict::Block,
        };
        Ok(BannedPhrases { phrases, verdict })
    }

    fn check(&self, draft: Draft) -> Result<ComplianceResult, String> {
        // ASCII lower-casing keeps every byte where it was, so positions in
        // `text` are positions in `draft.text`.
        let text = draft.text.to_ascii_lowercase();
        let mut findings = Vec::new();
        for (phrase, lower) in &self.phrases {
            if let Some(start) = text.find(lower.as_str()) {
                findings.push(Finding {
                    rule_id: "banned-phrase".into(),
                    severity: Severity::Error,
                    message: format!("\"{phrase}\" must not be sent to customers"),
                    // The host counts characters, not bytes: convert.
                    span: Some(Span::from_byte_range(
                        &draft.text,
                        start..start + lower.len(),
                    )),
                    suggestion: None,
                });
            }
        }
        if findings.is_empty() {
            return Ok(ComplianceResult::approved());
        }
        switchboard_sdk::log::info!(
            "draft for contact {}: {} banned phrase(s)",
            draft.context.contact_id,
            findings.len()
        );
        Ok(ComplianceResult {
            verdict: self.verdict,
            findings,
            redacted_text: None,
        })
    }
}

switchboard_sdk::export_compliance_check!(BannedPhrases);

// Unit tests run natively: `cargo test`. The fixtures in fixtures/ run the
// built component in the real sandbox: `switchboard plugin test`.
#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::testing;

    /// The manifest's `default_config`: also checks it fits `Config`.
    fn default_check() -> BannedPhrases {
        let config = testing::default_config_from_manifest(include_str!("../manifest.json"));
        BannedPhrases::new(config.expect("default_config fits Config")).expect("a valid config")
    }

    #[test]
    fn banned_phrase_is_found_in_any_case() {
        let result = default_check()
            .check(testing::draft("We GUARANTEE it"))
            .expect("a result");
        assert_eq!(result.verdict, Verdict::Block);
        assert_eq!(result.findings[0].span, Some(Span { start: 3, end: 12 }));
    }

    #[test]
    fn clean_draft_is_approved() {
        let result = default_check()
            .check(testing::draft("Happy to help!"))
            .expect("a result");
        assert_eq!(result, ComplianceResult::approved());
    }
}
