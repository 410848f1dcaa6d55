//! `brand-compliance`: brand voice and data protection on agents' draft
//! replies (seed article 000).
//!
//! - **brand voice**: banned phrases (block), discouraged phrases with the
//!   brand-approved replacement as the finding's `suggestion` (the
//!   phrasebook), promises the brand cannot make, required disclosures per
//!   channel, topic and language, and tone: shouting, profanity, blaming
//!   the customer;
//! - **data protection**: Luhn-valid card numbers, mod-97-valid IBANs,
//!   national ids per country, passwords and one-time codes, e-mail
//!   addresses and phone numbers, each masked in `redacted_text` with the
//!   same number of characters, so every span is valid in both texts;
//! - **approval**: drafts about some topics wait for a supervisor.
//!
//! The verdict is the strictest of all findings'. Spans count Unicode
//! scalar values (chars), as `compliance.wit` says. Phrases match
//! case-insensitively in any script, with any run of whitespace matching a
//! space and curly quotes matching straight ones. See
//! `docs/plugins/brand-compliance.md` for the full reference.

mod detect;
mod text;

use std::collections::BTreeSet;

use serde::Deserialize;
use switchboard_sdk::prelude::*;

pub use detect::{iban_valid, luhn_valid};
use text::{NormalizedText, normalize};

/// Rule id of the finding that a topic needs a supervisor's approval.
pub const RULE_APPROVAL: &str = "approval-topic";
/// Rule id of banned-phrase findings.
pub const RULE_BANNED: &str = "banned-phrase";
/// Rule id of discouraged-phrase findings.
pub const RULE_DISCOURAGED: &str = "discouraged-phrase";
/// Rule id of promise findings.
pub const RULE_PROMISE: &str = "unapproved-promise";
/// Rule id of profanity findings.
pub const RULE_PROFANITY: &str = "tone-profanity";
/// Rule id of findings that blame the customer.
pub const RULE_BLAME: &str = "tone-blame";
/// Rule id of shouting findings.
pub const RULE_SHOUTING: &str = "tone-shouting";
/// Rule id of a missing required disclosure.
pub const RULE_DISCLOSURE: &str = "missing-disclosure";
/// Rule id of card-number findings.
pub const RULE_CARD: &str = "card-number";
/// Rule id of IBAN findings.
pub const RULE_IBAN: &str = "iban";
/// Rule id of national-id findings.
pub const RULE_NATIONAL_ID: &str = "national-id";
/// Rule id of password / one-time-code findings.
pub const RULE_SECRET: &str = "secret";
/// Rule id of e-mail address findings.
pub const RULE_EMAIL: &str = "email-address";
/// Rule id of phone number findings.
pub const RULE_PHONE: &str = "phone-number";

/// What a rule does to the verdict when it finds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The rule is off.
    Off,
    /// Report the finding, approve anyway.
    Approve,
    /// The agent must revise the draft.
    Revise,
    /// A supervisor must approve the draft.
    NeedsApproval,
    /// The draft must not be sent.
    Block,
}

impl Action {
    fn verdict(self) -> Option<Verdict> {
        match self {
            Action::Off => None,
            Action::Approve => Some(Verdict::Approve),
            Action::Revise => Some(Verdict::Revise),
            Action::NeedsApproval => Some(Verdict::NeedsApproval),
            Action::Block => Some(Verdict::Block),
        }
    }
}

/// A phrase, with an optional brand-approved replacement. In the config,
/// either a string or `{"phrase", "suggestion"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PhraseRule {
    /// Just the phrase.
    Phrase(String),
    /// The phrase and what to say instead.
    WithSuggestion {
        /// The phrase to find.
        phrase: String,
        /// The brand-approved replacement.
        #[serde(default)]
        suggestion: Option<String>,
    },
}

impl PhraseRule {
    fn phrase(&self) -> &str {
        match self {
            PhraseRule::Phrase(p) | PhraseRule::WithSuggestion { phrase: p, .. } => p,
        }
    }

    fn suggestion(&self) -> Option<&str> {
        match self {
            PhraseRule::Phrase(_) => None,
            PhraseRule::WithSuggestion { suggestion, .. } => suggestion.as_deref(),
        }
    }
}

/// The plugin configuration; `manifest.json` holds its JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Phrases that must never be sent: verdict `block`.
    #[serde(default)]
    pub banned_phrases: Vec<String>,
    /// The phrasebook: phrases to replace with a brand-approved one.
    #[serde(default)]
    pub discouraged_phrases: Vec<DiscouragedPhrase>,
    /// Return the draft with card numbers masked.
    #[serde(default = "default_true")]
    pub redact_card_numbers: bool,
    /// Drafts about these topics wait for a supervisor's approval.
    #[serde(default)]
    pub approval_topics: Vec<String>,
    /// Latin-script phrases match whole words only.
    #[serde(default = "default_true")]
    pub whole_words: bool,
    /// Promises the brand cannot make ("guarantee", "refund within").
    #[serde(default)]
    pub promise_phrases: Vec<PhraseRule>,
    /// What a promise does to the verdict.
    #[serde(default = "needs_approval")]
    pub promise_action: Action,
    /// Profanity.
    #[serde(default)]
    pub profanity: Vec<String>,
    /// What profanity does to the verdict.
    #[serde(default = "block")]
    pub profanity_action: Action,
    /// Phrases that blame the customer.
    #[serde(default)]
    pub blame_phrases: Vec<PhraseRule>,
    /// What blaming does to the verdict.
    #[serde(default = "revise")]
    pub blame_action: Action,
    /// Shouting: runs of capitals and of exclamation marks.
    #[serde(default)]
    pub shouting: Shouting,
    /// Disclosures that must be in drafts of some channels, topics, languages.
    #[serde(default)]
    pub required_disclosures: Vec<Disclosure>,
    /// Personal data detectors.
    #[serde(default)]
    pub data_protection: DataProtection,
}

fn default_true() -> bool {
    true
}

fn needs_approval() -> Action {
    Action::NeedsApproval
}

fn block() -> Action {
    Action::Block
}

fn revise() -> Action {
    Action::Revise
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

/// Shouting detection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shouting {
    /// What shouting does to the verdict.
    #[serde(default = "revise")]
    pub action: Action,
    /// Consecutive all-capital words (2+ letters each) that make a shout.
    #[serde(default = "default_min_words")]
    pub min_words: u32,
    /// Letters those words need in total.
    #[serde(default = "default_min_letters")]
    pub min_letters: u32,
    /// A run of this many `!` is shouting too; 0: never.
    #[serde(default = "default_exclamations")]
    pub exclamation_run: u32,
}

fn default_min_words() -> u32 {
    3
}

fn default_min_letters() -> u32 {
    10
}

fn default_exclamations() -> u32 {
    3
}

impl Default for Shouting {
    fn default() -> Self {
        Shouting {
            action: Action::Revise,
            min_words: 3,
            min_letters: 10,
            exclamation_run: 3,
        }
    }
}

/// A disclosure that drafts matching every set filter must contain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// Names the disclosure in findings.
    pub id: String,
    /// Channels it applies to (`voice`, `email`, ...); empty: all.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Topics it applies to (any of them); empty: all.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Languages it applies to (primary subtag, e.g. `en`); empty: all.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Any one of these phrases satisfies it; the first is the suggestion.
    pub any_of: Vec<String>,
    /// What a missing disclosure does to the verdict.
    #[serde(default = "revise")]
    pub action: Action,
    /// The message for the agent; default: names the disclosure.
    #[serde(default)]
    pub message: Option<String>,
}

/// Personal-data detectors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProtection {
    /// Mask what these detectors find (card numbers: `redact_card_numbers`).
    #[serde(default = "default_true")]
    pub redact: bool,
    /// Channels where anything found blocks the draft (public posts).
    #[serde(default = "default_public")]
    pub public_channels: Vec<String>,
    /// Luhn-valid card numbers.
    #[serde(default = "revise")]
    pub card_numbers: Action,
    /// Mod-97-valid IBANs.
    #[serde(default = "revise")]
    pub iban: Action,
    /// E-mail addresses.
    #[serde(default)]
    pub email: EmailRule,
    /// Phone numbers.
    #[serde(default)]
    pub phone: PhoneRule,
    /// National ids.
    #[serde(default)]
    pub national_ids: NationalIds,
    /// Passwords and one-time codes.
    #[serde(default)]
    pub secrets: Secrets,
}

fn default_public() -> Vec<String> {
    vec!["social".into()]
}

impl Default for DataProtection {
    fn default() -> Self {
        DataProtection {
            redact: true,
            public_channels: default_public(),
            card_numbers: Action::Revise,
            iban: Action::Revise,
            email: EmailRule::default(),
            phone: PhoneRule::default(),
            national_ids: NationalIds::default(),
            secrets: Secrets::default(),
        }
    }
}

/// E-mail addresses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRule {
    /// What an address does to the verdict.
    #[serde(default = "revise")]
    pub action: Action,
    /// Domains that may be sent (the brand's own), subdomains included.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
}

impl Default for EmailRule {
    fn default() -> Self {
        EmailRule {
            action: Action::Revise,
            allowed_domains: Vec::new(),
        }
    }
}

/// Phone numbers: 8-15 digits, starting with `+`, `(` or `0` or written
/// with separators.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneRule {
    /// What a number does to the verdict.
    #[serde(default = "revise")]
    pub action: Action,
    /// Numbers that may be sent (hotlines), compared digit by digit.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Fewest digits of a phone number.
    #[serde(default = "default_min_digits")]
    pub min_digits: u32,
    /// Most digits of a phone number.
    #[serde(default = "default_max_digits")]
    pub max_digits: u32,
}

fn default_min_digits() -> u32 {
    8
}

fn default_max_digits() -> u32 {
    15
}

impl Default for PhoneRule {
    fn default() -> Self {
        PhoneRule {
            action: Action::Revise,
            allowed: Vec::new(),
            min_digits: 8,
            max_digits: 15,
        }
    }
}

/// National ids: built-in formats per country plus custom patterns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalIds {
    /// What an id does to the verdict.
    #[serde(default = "block")]
    pub action: Action,
    /// Built-in countries: `KR`, `US`, `GB`, `NL`, `ES`.
    #[serde(default)]
    pub countries: Vec<String>,
    /// More formats.
    #[serde(default)]
    pub custom: Vec<CustomId>,
}

impl Default for NationalIds {
    fn default() -> Self {
        NationalIds {
            action: Action::Block,
            countries: Vec::new(),
            custom: Vec::new(),
        }
    }
}

/// A national-id format: `#` a digit, `A` an upper-case ASCII letter, `a`
/// any ASCII letter, `*` an ASCII letter or digit, anything else itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomId {
    /// Country code, for the message.
    pub country: String,
    /// What the id is called.
    pub name: String,
    /// Its formats.
    pub patterns: Vec<String>,
}

/// Passwords and one-time codes: a keyword followed closely by a token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// What a secret does to the verdict.
    #[serde(default = "block")]
    pub action: Action,
    /// Words that announce a secret.
    #[serde(default = "default_secret_keywords")]
    pub keywords: Vec<String>,
    /// How many chars after the keyword the secret may start.
    #[serde(default = "default_window")]
    pub window_chars: u32,
    /// Fewest chars of a secret.
    #[serde(default = "default_secret_min")]
    pub min_length: u32,
}

fn default_secret_keywords() -> Vec<String> {
    [
        "password",
        "passcode",
        "pin",
        "otp",
        "one-time code",
        "one time code",
        "verification code",
        "security code",
        "cvv",
        "cvc",
        "비밀번호",
        "인증번호",
        "인증 번호",
        "보안코드",
        "contraseña",
        "mot de passe",
        "passwort",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

fn default_window() -> u32 {
    24
}

fn default_secret_min() -> u32 {
    3
}

impl Default for Secrets {
    fn default() -> Self {
        Secrets {
            action: Action::Block,
            keywords: default_secret_keywords(),
            window_chars: 24,
            min_length: 3,
        }
    }
}

/// A phrase rule ready to match.
#[derive(Debug)]
struct Phrase {
    needle: Vec<char>,
    original: String,
    suggestion: Option<String>,
}

fn phrases<'a>(
    what: &str,
    list: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<Vec<Phrase>, String> {
    list.into_iter()
        .map(|(p, s)| {
            let needle = normalize(p.trim());
            if needle.is_empty() {
                return Err(format!("{what}: phrases must not be empty"));
            }
            Ok(Phrase {
                needle,
                original: p.trim().to_string(),
                suggestion: s.map(str::to_string),
            })
        })
        .collect()
}

/// The compliance check.
#[derive(Debug)]
pub struct BrandCompliance {
    config: Config,
    banned: Vec<Phrase>,
    discouraged: Vec<Phrase>,
    promises: Vec<Phrase>,
    profanity: Vec<Phrase>,
    blame: Vec<Phrase>,
    disclosures: Vec<(Disclosure, Vec<Vec<char>>)>,
    secret_keywords: Vec<Vec<char>>,
    approval_topics: Vec<String>,
    national: Vec<detect::IdFormat>,
    allowed_phones: BTreeSet<String>,
}

impl ComplianceCheck for BrandCompliance {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        // The old message, kept for the banned and discouraged lists.
        let banned = phrases(
            "banned_phrases",
            config.banned_phrases.iter().map(|p| (p.as_str(), None)),
        )
        .map_err(|_| "phrases must not be empty".to_string())?;
        let discouraged = phrases(
            "discouraged_phrases",
            config
                .discouraged_phrases
                .iter()
                .map(|d| (d.phrase.as_str(), Some(d.suggestion.as_str()))),
        )
        .map_err(|_| "phrases must not be empty".to_string())?;
        let promises = phrases(
            "promise_phrases",
            config
                .promise_phrases
                .iter()
                .map(|p| (p.phrase(), p.suggestion())),
        )?;
        let profanity = phrases(
            "profanity",
            config.profanity.iter().map(|p| (p.as_str(), None)),
        )?;
        let blame = phrases(
            "blame_phrases",
            config
                .blame_phrases
                .iter()
                .map(|p| (p.phrase(), p.suggestion())),
        )?;
        let mut disclosures = Vec::new();
        for d in &config.required_disclosures {
            let any: Vec<Vec<char>> = d.any_of.iter().map(|p| normalize(p.trim())).collect();
            if any.is_empty() || any.iter().any(Vec::is_empty) {
                return Err(format!(
                    "required_disclosures {}: any_of needs at least one non-empty phrase",
                    d.id
                ));
            }
            disclosures.push((d.clone(), any));
        }
        let dp = &config.data_protection;
        let secret_keywords = dp
            .secrets
            .keywords
            .iter()
            .map(|k| normalize(k.trim()))
            .filter(|k| !k.is_empty())
            .collect();
        if dp.phone.min_digits < 4 || dp.phone.min_digits > dp.phone.max_digits {
            return Err("data_protection.phone: need 4 <= min_digits <= max_digits".into());
        }
        let mut national = Vec::new();
        for country in &dp.national_ids.countries {
            national.extend(detect::builtin_ids(country)?);
        }
        for c in &dp.national_ids.custom {
            for p in &c.patterns {
                national.push(detect::IdFormat::custom(&c.country, &c.name, p)?);
            }
        }
        let allowed_phones = dp
            .phone
            .allowed
            .iter()
            .map(|p| p.chars().filter(char::is_ascii_digit).collect())
            .collect();
        let shouting = &config.shouting;
        if shouting.min_words == 0 {
            return Err("shouting.min_words must be at least 1".into());
        }
        Ok(BrandCompliance {
            banned,
            discouraged,
            promises,
            profanity,
            blame,
            disclosures,
            secret_keywords,
            approval_topics: config
                .approval_topics
                .iter()
                .map(|t| t.trim().to_lowercase())
                .collect(),
            national,
            allowed_phones,
            config,
        })
    }

    fn check(&self, draft: Draft) -> Result<ComplianceResult, String> {
        let chars: Vec<char> = draft.text.chars().collect();
        let text = NormalizedText::new(&chars);
        let mut out = Findings::default();
        let whole = self.config.whole_words;

        for p in &self.banned {
            for span in text.find_all(&p.needle, whole) {
                out.add(
                    Some(Verdict::Block),
                    RULE_BANNED,
                    Severity::Error,
                    format!("\"{}\" must not be sent to customers", p.original),
                    Some(span),
                    None,
                );
            }
        }
        for p in &self.discouraged {
            for span in text.find_all(&p.needle, whole) {
                let suggestion = p.suggestion.clone().unwrap_or_default();
                out.add(
                    Some(Verdict::Revise),
                    RULE_DISCOURAGED,
                    Severity::Warning,
                    format!("avoid \"{}\"; say \"{suggestion}\"", p.original),
                    Some(span),
                    Some(suggestion),
                );
            }
        }
        let c = &self.config;
        for (list, action, rule, severity, what) in [
            (
                &self.promises,
                c.promise_action,
                RULE_PROMISE,
                Severity::Warning,
                "is a promise the brand cannot make",
            ),
            (
                &self.profanity,
                c.profanity_action,
                RULE_PROFANITY,
                Severity::Error,
                "is profanity",
            ),
            (
                &self.blame,
                c.blame_action,
                RULE_BLAME,
                Severity::Warning,
                "blames the customer",
            ),
        ] {
            let Some(verdict) = action.verdict() else {
                continue;
            };
            for p in list {
                for span in text.find_all(&p.needle, whole) {
                    out.add(
                        Some(verdict),
                        rule,
                        severity,
                        format!("\"{}\" {what}", p.original),
                        Some(span),
                        p.suggestion.clone(),
                    );
                }
            }
        }
        if let Some(verdict) = c.shouting.action.verdict() {
            for (span, why) in detect::shouting(&chars, &c.shouting) {
                out.add(
                    Some(verdict),
                    RULE_SHOUTING,
                    Severity::Warning,
                    why,
                    Some(span),
                    None,
                );
            }
        }
        self.disclosures(&draft, &text, &mut out);

        if let Some(topic) = draft
            .context
            .topics
            .iter()
            .find(|t| self.approval_topics.contains(&t.to_lowercase()))
        {
            out.add(
                Some(Verdict::NeedsApproval),
                RULE_APPROVAL,
                Severity::Info,
                format!("replies about \"{topic}\" need a supervisor's approval"),
                None,
                None,
            );
        }

        let redacted = self.data_protection(&draft, &chars, &text, &mut out);

        // Findings in reading order; the scan order above is by rule.
        let mut findings = out.findings;
        findings.sort_by_key(|f| f.span.as_ref().map_or(0, |s| s.start));
        Ok(ComplianceResult {
            verdict: out.verdict,
            findings,
            redacted_text: redacted,
        })
    }
}

/// Findings and the strictest verdict so far.
struct Findings {
    verdict: Verdict,
    findings: Vec<Finding>,
}

impl Default for Findings {
    fn default() -> Self {
        Findings {
            verdict: Verdict::Approve,
            findings: Vec::new(),
        }
    }
}

impl Findings {
    fn add(
        &mut self,
        verdict: Option<Verdict>,
        rule: &str,
        severity: Severity,
        message: String,
        span: Option<Span>,
        suggestion: Option<String>,
    ) {
        let Some(verdict) = verdict else { return };
        self.verdict = self.verdict.max(verdict);
        self.findings.push(Finding {
            rule_id: rule.into(),
            severity,
            message,
            span,
            suggestion,
        });
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn span(start: usize, end: usize) -> Span {
    Span {
        start: to_u32(start),
        end: to_u32(end),
    }
}

fn primary_language(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

impl BrandCompliance {
    fn disclosures(&self, draft: &Draft, text: &NormalizedText, out: &mut Findings) {
        let ctx = &draft.context;
        let language = primary_language(&ctx.language);
        for (d, any) in &self.disclosures {
            let applies = (d.channels.is_empty()
                || d.channels.iter().any(|c| c == ctx.channel.as_str()))
                && (d.topics.is_empty()
                    || d.topics
                        .iter()
                        .any(|t| ctx.topics.iter().any(|x| x.eq_ignore_ascii_case(t))))
                && (d.languages.is_empty()
                    || d.languages.iter().any(|l| primary_language(l) == language));
            if !applies || any.iter().any(|p| !text.find_all(p, false).is_empty()) {
                continue;
            }
            let message = d
                .message
                .clone()
                .unwrap_or_else(|| format!("the required disclosure \"{}\" is missing", d.id));
            out.add(
                d.action.verdict(),
                RULE_DISCLOSURE,
                Severity::Warning,
                message,
                None,
                d.any_of.first().cloned(),
            );
        }
    }

    /// Run the personal-data detectors; the redacted text when anything
    /// was masked.
    fn data_protection(
        &self,
        draft: &Draft,
        chars: &[char],
        text: &NormalizedText,
        out: &mut Findings,
    ) -> Option<String> {
        let dp = &self.config.data_protection;
        let public = dp
            .public_channels
            .iter()
            .any(|c| c == draft.context.channel.as_str());
        // On a public channel anything found blocks.
        let verdict = |a: Action| a.verdict().map(|v| if public { Verdict::Block } else { v });
        let mut taken: Vec<(usize, usize)> = Vec::new();
        let mut masked = chars.to_vec();
        let mut redacted = false;
        let free = |taken: &[(usize, usize)], s: usize, e: usize| {
            taken.iter().all(|&(a, b)| e <= a || b <= s)
        };

        if dp.iban != Action::Off {
            for m in detect::ibans(chars) {
                if !free(&taken, m.start, m.end) {
                    continue;
                }
                taken.push((m.start, m.end));
                let last: String = m.keep_last(chars, 4);
                out.add(
                    verdict(dp.iban),
                    RULE_IBAN,
                    Severity::Critical,
                    format!("IBAN ending {last} must not be sent in clear"),
                    Some(span(m.start, m.end)),
                    None,
                );
                if dp.redact {
                    m.mask(&mut masked, 4);
                    redacted = true;
                }
            }
        }
        if dp.national_ids.action != Action::Off {
            for (m, name) in detect::national_ids(chars, &self.national) {
                if !free(&taken, m.start, m.end) {
                    continue;
                }
                taken.push((m.start, m.end));
                out.add(
                    verdict(dp.national_ids.action),
                    RULE_NATIONAL_ID,
                    Severity::Critical,
                    format!("{name} must not be sent"),
                    Some(span(m.start, m.end)),
                    None,
                );
                if dp.redact {
                    m.mask(&mut masked, 0);
                    redacted = true;
                }
            }
        }
        if dp.card_numbers != Action::Off {
            for card in detect::card_numbers(chars) {
                if !free(&taken, card.start, card.end) {
                    continue;
                }
                taken.push((card.start, card.end));
                out.add(
                    verdict(dp.card_numbers),
                    RULE_CARD,
                    Severity::Critical,
                    format!(
                        "card number ending {} must not be sent in clear",
                        card.last_four(chars)
                    ),
                    Some(span(card.start, card.end)),
                    None,
                );
                if self.config.redact_card_numbers {
                    card.mask(&mut masked, 4);
                    redacted = true;
                }
            }
        }
        if dp.secrets.action != Action::Off {
            for m in detect::secrets(chars, text, &self.secret_keywords, &dp.secrets) {
                if !free(&taken, m.start, m.end) {
                    continue;
                }
                taken.push((m.start, m.end));
                out.add(
                    verdict(dp.secrets.action),
                    RULE_SECRET,
                    Severity::Critical,
                    "a password or one-time code must not be sent".into(),
                    Some(span(m.start, m.end)),
                    None,
                );
                if dp.redact {
                    m.mask(&mut masked, 0);
                    redacted = true;
                }
            }
        }
        if dp.email.action != Action::Off {
            for (m, domain) in detect::emails(chars) {
                if !free(&taken, m.start, m.end) {
                    continue;
                }
                let allowed = dp.email.allowed_domains.iter().any(|a| {
                    let a = a.trim().to_ascii_lowercase();
                    domain == a || domain.ends_with(&format!(".{a}"))
                });
                if allowed {
                    continue;
                }
                taken.push((m.start, m.end));
                out.add(
                    verdict(dp.email.action),
                    RULE_EMAIL,
                    Severity::Warning,
                    format!("e-mail address at {domain} must not be sent in clear"),
                    Some(span(m.start, m.end)),
                    None,
                );
                if dp.redact {
                    // Keep the first char of the local part and the domain.
                    for slot in masked.iter_mut().take(m.positions[0]).skip(m.start + 1) {
                        *slot = '*';
                    }
                    redacted = true;
                }
            }
        }
        if dp.phone.action != Action::Off {
            for m in detect::phones(chars, &dp.phone) {
                if !free(&taken, m.start, m.end) {
                    continue;
                }
                let digits: String = m.positions.iter().map(|&i| chars[i]).collect();
                if self.allowed_phones.contains(&digits) {
                    continue;
                }
                taken.push((m.start, m.end));
                out.add(
                    verdict(dp.phone.action),
                    RULE_PHONE,
                    Severity::Warning,
                    format!(
                        "phone number ending {} must not be sent in clear",
                        m.keep_last(chars, 2)
                    ),
                    Some(span(m.start, m.end)),
                    None,
                );
                if dp.redact {
                    m.mask(&mut masked, 2);
                    redacted = true;
                }
            }
        }
        redacted.then(|| masked.into_iter().collect())
    }
}

switchboard_sdk::export_compliance_check!(BrandCompliance);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
