//! `brand-compliance`: banned and discouraged phrases, and card numbers.
//!
//! - a banned phrase blocks the draft;
//! - a discouraged phrase asks for a revision, with the brand-approved
//!   suggestion on the finding;
//! - a Luhn-valid card number (13-19 digits, spaces or dashes allowed
//!   between digits) is a critical finding that needs at least a revision,
//!   and, if `redact_card_numbers` is on, the draft comes back with all but
//!   the last 4 digits masked.
//!
//! The verdict is the strictest of the findings'. Phrases match
//! case-insensitively in any script, and every span counts Unicode scalar
//! values (chars), not bytes. See README.md for the config.

use serde::Deserialize;
use switchboard_sdk::prelude::*;

/// The plugin configuration; `manifest.json` holds its JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Phrases that must never be sent: verdict `block`.
    #[serde(default)]
    pub banned_phrases: Vec<String>,
    /// Phrases to replace with a brand-approved one: verdict `revise`.
    #[serde(default)]
    pub discouraged_phrases: Vec<DiscouragedPhrase>,
    /// Return the draft with card numbers masked.
    #[serde(default = "default_true")]
    pub redact_card_numbers: bool,
    /// Drafts about these topics (e.g. "legal", "refund") wait for a
    /// supervisor's approval before they are sent.
    #[serde(default)]
    pub approval_topics: Vec<String>,
}

fn default_true() -> bool {
    true
}

/// A phrase to avoid and what to say instead.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscouragedPhrase {
    /// The phrase to avoid.
    pub phrase: String,
    /// The brand-approved replacement.
    pub suggestion: String,
}

/// The compliance check.
#[derive(Debug)]
pub struct BrandCompliance {
    /// Each phrase lower-cased, as chars, with its original spelling.
    banned: Vec<(Vec<char>, String)>,
    discouraged: Vec<(Vec<char>, DiscouragedPhrase)>,
    redact_card_numbers: bool,
    approval_topics: Vec<String>,
}

/// Rule id of the finding that a topic needs a supervisor's approval.
pub const RULE_APPROVAL: &str = "approval-topic";
/// Rule id of banned-phrase findings.
pub const RULE_BANNED: &str = "banned-phrase";
/// Rule id of discouraged-phrase findings.
pub const RULE_DISCOURAGED: &str = "discouraged-phrase";
/// Rule id of card-number findings.
pub const RULE_CARD: &str = "card-number";

impl ComplianceCheck for BrandCompliance {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let lower = |p: &str| -> Result<Vec<char>, String> {
            let chars: Vec<char> = p.trim().chars().flat_map(char::to_lowercase).collect();
            if chars.is_empty() {
                return Err("phrases must not be empty".into());
            }
            Ok(chars)
        };
        let banned = config
            .banned_phrases
            .iter()
            .map(|p| Ok((lower(p)?, p.trim().to_string())))
            .collect::<Result<_, String>>()?;
        let discouraged = config
            .discouraged_phrases
            .into_iter()
            .map(|d| Ok((lower(&d.phrase)?, d)))
            .collect::<Result<_, String>>()?;
        Ok(BrandCompliance {
            banned,
            discouraged,
            redact_card_numbers: config.redact_card_numbers,
            approval_topics: config
                .approval_topics
                .iter()
                .map(|t| t.trim().to_lowercase())
                .collect(),
        })
    }

    fn check(&self, draft: Draft) -> Result<ComplianceResult, String> {
        let text = LoweredText::new(&draft.text);
        let mut findings = Vec::new();
        let mut verdict = Verdict::Approve;

        for (phrase, original) in &self.banned {
            for span in text.find_all(phrase) {
                verdict = verdict.max(Verdict::Block);
                findings.push(Finding {
                    rule_id: RULE_BANNED.into(),
                    severity: Severity::Error,
                    message: format!("\"{original}\" must not be sent to customers"),
                    span: Some(span),
                    suggestion: None,
                });
            }
        }
        for (phrase, d) in &self.discouraged {
            for span in text.find_all(phrase) {
                verdict = verdict.max(Verdict::Revise);
                findings.push(Finding {
                    rule_id: RULE_DISCOURAGED.into(),
                    severity: Severity::Warning,
                    message: format!("avoid \"{}\"; say \"{}\"", d.phrase.trim(), d.suggestion),
                    span: Some(span),
                    suggestion: Some(d.suggestion.clone()),
                });
            }
        }

        if let Some(topic) = draft
            .context
            .topics
            .iter()
            .find(|t| self.approval_topics.contains(&t.to_lowercase()))
        {
            verdict = verdict.max(Verdict::NeedsApproval);
            findings.push(Finding {
                rule_id: RULE_APPROVAL.into(),
                severity: Severity::Info,
                message: format!("replies about \"{topic}\" need a supervisor's approval"),
                span: None,
                suggestion: None,
            });
        }

        let chars: Vec<char> = draft.text.chars().collect();
        let cards = find_card_numbers(&chars);
        for card in &cards {
            verdict = verdict.max(Verdict::Revise);
            findings.push(Finding {
                rule_id: RULE_CARD.into(),
                severity: Severity::Critical,
                message: format!(
                    "card number ending {} must not be sent in clear",
                    card.last_four(&chars)
                ),
                span: Some(Span {
                    start: to_u32(card.start),
                    end: to_u32(card.end),
                }),
                suggestion: None,
            });
        }
        let redacted_text =
            (self.redact_card_numbers && !cards.is_empty()).then(|| redact(&chars, &cards));

        // Findings in reading order; the scan order above is by rule.
        findings.sort_by_key(|f| f.span.as_ref().map_or(0, |s| s.start));
        Ok(ComplianceResult {
            verdict,
            findings,
            redacted_text,
        })
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The draft lower-cased char by char, remembering for every lower-case char
/// which original char it came from (lower-casing may change the length,
/// e.g. `İ` becomes two chars), so matches map back to original char spans.
struct LoweredText {
    lower: Vec<char>,
    origin: Vec<usize>,
}

impl LoweredText {
    fn new(text: &str) -> Self {
        let mut lower = Vec::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len());
        for (i, c) in text.chars().enumerate() {
            for l in c.to_lowercase() {
                lower.push(l);
                origin.push(i);
            }
        }
        LoweredText { lower, origin }
    }

    /// Non-overlapping occurrences of `needle` (already lower-cased), as
    /// spans of the original text in chars.
    fn find_all(&self, needle: &[char]) -> Vec<Span> {
        let mut spans = Vec::new();
        if needle.is_empty() || needle.len() > self.lower.len() {
            return spans;
        }
        let mut i = 0;
        while i + needle.len() <= self.lower.len() {
            if self.lower[i..i + needle.len()] == *needle {
                let start = self.origin[i];
                let end = self.origin[i + needle.len() - 1] + 1;
                spans.push(Span {
                    start: to_u32(start),
                    end: to_u32(end),
                });
                i += needle.len();
            } else {
                i += 1;
            }
        }
        spans
    }
}

/// A card number found in the text: chars `start..end`, whose digits are at
/// `digits` (char indices).
#[derive(Debug, Clone, PartialEq)]
struct CardMatch {
    start: usize,
    end: usize,
    digits: Vec<usize>,
}

impl CardMatch {
    fn last_four(&self, chars: &[char]) -> String {
        self.digits[self.digits.len().saturating_sub(4)..]
            .iter()
            .map(|&i| chars[i])
            .collect()
    }
}

/// Luhn-valid runs of 13-19 digits. A run is digit groups separated by one
/// space or dash; within a longer run (a phone number next to a card, say),
/// the longest valid window of whole groups wins.
fn find_card_numbers(chars: &[char]) -> Vec<CardMatch> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Collect one run: groups of digits joined by single separators.
        let mut groups: Vec<Vec<usize>> = vec![Vec::new()];
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                if let Some(group) = groups.last_mut() {
                    group.push(j);
                }
                j += 1;
            } else if matches!(chars[j], ' ' | '-')
                && chars.get(j + 1).is_some_and(char::is_ascii_digit)
            {
                groups.push(Vec::new());
                j += 1;
            } else {
                break;
            }
        }
        found.extend(cards_in_run(&groups, chars));
        i = j;
    }
    found
}

fn cards_in_run(groups: &[Vec<usize>], chars: &[char]) -> Vec<CardMatch> {
    let mut found = Vec::new();
    let mut first = 0;
    while first < groups.len() {
        // Windows of whole groups starting at `first`, up to 19 digits: at
        // most 19 of them, so a long run of digits stays linear.
        let mut best = None;
        let mut count = 0;
        for last in first..groups.len() {
            count += groups[last].len();
            if count > 19 {
                break;
            }
            let digits = groups[first..=last].iter().flatten().map(|&d| chars[d]);
            if count >= 13 && luhn_valid(digits) {
                best = Some(last);
            }
        }
        match best {
            Some(last) => {
                let digits: Vec<usize> = groups[first..=last].iter().flatten().copied().collect();
                found.push(CardMatch {
                    start: digits[0],
                    end: digits[digits.len() - 1] + 1,
                    digits,
                });
                first = last + 1;
            }
            None => first += 1,
        }
    }
    found
}

/// The Luhn checksum over ASCII digits.
fn luhn_valid(digits: impl DoubleEndedIterator<Item = char>) -> bool {
    let mut sum = 0u32;
    for (k, c) in digits.rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if k % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// The text with every card digit but the last 4 of each card replaced by `*`.
fn redact(chars: &[char], cards: &[CardMatch]) -> String {
    let mut out = chars.to_vec();
    for card in cards {
        for &i in &card.digits[..card.digits.len().saturating_sub(4)] {
            out[i] = '*';
        }
    }
    out.into_iter().collect()
}

switchboard_sdk::export_compliance_check!(BrandCompliance);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use switchboard_sdk::testing;

    const MANIFEST: &str = include_str!("../manifest.json");

    fn check() -> BrandCompliance {
        BrandCompliance::new(testing::default_config_from_manifest(MANIFEST).unwrap()).unwrap()
    }

    fn spanned(text: &str, span: &Span) -> String {
        text.chars()
            .skip(span.start as usize)
            .take(span.len() as usize)
            .collect()
    }

    #[test]
    fn clean_draft_is_approved() {
        let r = check()
            .check(testing::draft(
                "Thanks for waiting, your refund is on its way.",
            ))
            .unwrap();
        assert_eq!(r, ComplianceResult::approved());
    }

    #[test]
    fn banned_phrase_blocks_case_insensitively() {
        let text = "Honestly that's NOT MY PROBLEM, sorry.";
        let r = check().check(testing::draft(text)).unwrap();
        assert_eq!(r.verdict, Verdict::Block);
        assert_eq!(r.findings.len(), 1);
        let f = &r.findings[0];
        assert_eq!(f.rule_id, RULE_BANNED);
        assert_eq!(spanned(text, f.span.as_ref().unwrap()), "NOT MY PROBLEM");
        assert!(r.redacted_text.is_none());
    }

    #[test]
    fn discouraged_phrase_asks_for_revision_with_suggestion() {
        let text = "Unfortunately we can't. Unfortunately!";
        let r = check().check(testing::draft(text)).unwrap();
        assert_eq!(r.verdict, Verdict::Revise);
        assert_eq!(r.findings.len(), 2, "every occurrence is reported");
        assert!(r.findings.iter().all(|f| f.rule_id == RULE_DISCOURAGED
            && f.severity == Severity::Warning
            && f.suggestion.as_deref() == Some("I'm sorry, but")));
        assert_eq!(r.findings[1].span, Some(Span { start: 24, end: 37 }));
    }

    #[test]
    fn verdict_is_the_strictest_finding() {
        let r = check()
            .check(testing::draft(
                "Unfortunately it is not my problem. Card 4111 1111 1111 1111.",
            ))
            .unwrap();
        assert_eq!(r.verdict, Verdict::Block);
        let rules: Vec<&str> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(rules, [RULE_DISCOURAGED, RULE_BANNED, RULE_CARD]);
    }

    #[test]
    fn card_number_after_korean_and_emoji_has_char_span_and_is_masked() {
        let text = "고객님 😀 카드번호는 4111 1111 1111 1111 입니다";
        let r = check().check(testing::draft(text)).unwrap();
        assert_eq!(r.verdict, Verdict::Revise);
        assert_eq!(r.findings.len(), 1);
        let f = &r.findings[0];
        assert_eq!(f.rule_id, RULE_CARD);
        assert_eq!(f.severity, Severity::Critical);
        // 고객님(3) space 😀 space 카드번호는(5) space = 12 chars before the card.
        assert_eq!(f.span, Some(Span { start: 12, end: 31 }));
        assert_eq!(
            spanned(text, f.span.as_ref().unwrap()),
            "4111 1111 1111 1111"
        );
        assert!(f.message.contains("ending 1111"));
        assert_eq!(
            r.redacted_text.as_deref(),
            Some("고객님 😀 카드번호는 **** **** **** 1111 입니다")
        );
    }

    #[test]
    fn dashed_and_compact_cards_are_found_and_invalid_luhn_is_not() {
        let text = "a 5500-0000-0000-0004 b 378282246310005 c 4111111111111112 d";
        let r = check().check(testing::draft(text)).unwrap();
        let cards: Vec<String> = r
            .findings
            .iter()
            .map(|f| spanned(text, f.span.as_ref().unwrap()))
            .collect();
        assert_eq!(cards, ["5500-0000-0000-0004", "378282246310005"]);
        assert_eq!(
            r.redacted_text.as_deref(),
            Some("a ****-****-****-0004 b ***********0005 c 4111111111111112 d")
        );
    }

    #[test]
    fn short_numbers_and_long_runs_are_not_cards_but_a_card_inside_a_run_is() {
        let r = check()
            .check(testing::draft("order 12345, call 0800 123 456"))
            .unwrap();
        assert_eq!(r.verdict, Verdict::Approve);
        // A phone prefix glued to the card does not hide it.
        let text = "call 555 4111 1111 1111 1111";
        let r = check().check(testing::draft(text)).unwrap();
        assert_eq!(r.findings.len(), 1);
        assert_eq!(
            spanned(text, r.findings[0].span.as_ref().unwrap()),
            "4111 1111 1111 1111"
        );
    }

    #[test]
    fn redaction_can_be_turned_off() {
        let config = Config {
            banned_phrases: vec![],
            discouraged_phrases: vec![],
            redact_card_numbers: false,
            approval_topics: vec![],
        };
        let r = BrandCompliance::new(config)
            .unwrap()
            .check(testing::draft("4111111111111111"))
            .unwrap();
        assert_eq!(r.verdict, Verdict::Revise);
        assert!(r.redacted_text.is_none());
    }

    #[test]
    fn spans_stay_right_when_lowercasing_changes_length() {
        // 'İ' lower-cases to two chars ("i̇"); the span must still count one.
        let config = Config {
            banned_phrases: vec!["secret".into()],
            discouraged_phrases: vec![],
            redact_card_numbers: true,
            approval_topics: vec!["legal".into()],
        };
        let text = "İİ SECRET";
        let r = BrandCompliance::new(config)
            .unwrap()
            .check(testing::draft(text))
            .unwrap();
        assert_eq!(r.findings[0].span, Some(Span { start: 3, end: 9 }));
        assert_eq!(
            spanned(text, r.findings[0].span.as_ref().unwrap()),
            "SECRET"
        );
    }

    #[test]
    fn a_huge_run_of_digits_is_scanned_quickly() {
        // 50k digit groups: scanning all windows would take minutes.
        let text = "1 ".repeat(50_000);
        let r = check().check(testing::draft(&text)).unwrap();
        assert!(r.findings.iter().all(|f| f.rule_id == RULE_CARD));
    }

    #[test]
    fn luhn_reference_values() {
        assert!(luhn_valid("79927398713".chars()));
        assert!(!luhn_valid("79927398710".chars()));
        assert!(luhn_valid("4111111111111111".chars()));
    }

    #[test]
    fn empty_phrases_are_rejected() {
        let err =
            testing::parse_config::<Config>("brand-compliance", r#"{"banned_phrases": [" "]}"#)
                .and_then(BrandCompliance::new)
                .unwrap_err();
        assert_eq!(err, "phrases must not be empty");
    }

    #[test]
    fn drafts_about_approval_topics_need_a_supervisor() {
        let mut d = testing::draft("We will look into your case.");
        d.context.topics = vec!["billing".into(), "Legal".into()];
        let r = check().check(d.clone()).unwrap();
        assert_eq!(r.verdict, Verdict::NeedsApproval);
        assert_eq!(r.findings[0].rule_id, RULE_APPROVAL);
        d.context.topics = vec!["billing".into()];
        assert_eq!(check().check(d).unwrap().verdict, Verdict::Approve);
    }
}
