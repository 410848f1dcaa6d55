use super::*;
use switchboard_sdk::testing;

const MANIFEST: &str = include_str!("../manifest.json");

fn check() -> BrandCompliance {
    BrandCompliance::new(testing::default_config_from_manifest(MANIFEST).unwrap()).unwrap()
}

fn with(json: &str) -> BrandCompliance {
    testing::parse_config::<Config>("brand-compliance", json)
        .and_then(BrandCompliance::new)
        .unwrap()
}

fn spanned(text: &str, span: &Span) -> String {
    text.chars()
        .skip(span.start as usize)
        .take(span.len() as usize)
        .collect()
}

/// (rule, spanned text) of every finding with a span.
fn found(text: &str, r: &ComplianceResult) -> Vec<(String, String)> {
    r.findings
        .iter()
        .filter_map(|f| {
            f.span
                .as_ref()
                .map(|s| (f.rule_id.clone(), spanned(text, s)))
        })
        .collect()
}

fn rules(r: &ComplianceResult) -> Vec<&str> {
    r.findings.iter().map(|f| f.rule_id.as_str()).collect()
}

fn draft_on(text: &str, channel: Channel, topics: &[&str]) -> Draft {
    let mut d = testing::draft(text);
    d.context.channel = channel;
    d.context.topics = topics.iter().map(|t| t.to_string()).collect();
    d
}

#[test]
fn manifest_and_example_configs_build() {
    check();
    for json in [
        include_str!("../../../examples/configs/brand-compliance.json"),
        include_str!("../../../examples/configs/brand-compliance.bank-kr.json"),
        include_str!("../../../examples/configs/brand-compliance.minimal.json"),
    ] {
        with(json);
    }
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
fn empty_draft_is_approved() {
    assert_eq!(
        check().check(testing::draft("")).unwrap(),
        ComplianceResult::approved()
    );
}

#[test]
fn banned_phrase_blocks_case_insensitively() {
    let text = "Honestly that's NOT MY PROBLEM, sorry.";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(r.verdict, Verdict::Block);
    assert_eq!(
        found(text, &r),
        [
            (RULE_BANNED.into(), "NOT MY PROBLEM".into()),
            (RULE_SHOUTING.into(), "NOT MY PROBLEM".into())
        ]
    );
    assert!(r.redacted_text.is_none());
}

#[test]
fn curly_quotes_and_extra_spaces_still_match() {
    let text = "I’m afraid that’s  not\tpossible.";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(
        found(text, &r),
        [(RULE_BANNED.into(), "that’s  not\tpossible".into())]
    );
}

#[test]
fn discouraged_phrase_asks_for_revision_with_the_phrasebook_suggestion() {
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
fn whole_words_only_for_spaced_scripts() {
    // "asap" inside a word is no match; Korean phrases match inside words.
    let r = check()
        .check(testing::draft("Call Wasapp support"))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Approve);
    let r = with(r#"{"whole_words": false, "discouraged_phrases": [{"phrase": "asap", "suggestion": "soon"}]}"#)
        .check(testing::draft("Call Wasapp support"))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Revise);
    let text = "고객님, 진정하세요라고 말씀드렸죠";
    let r = with(r#"{"banned_phrases": ["진정하세요"]}"#)
        .check(testing::draft(text))
        .unwrap();
    assert_eq!(found(text, &r), [(RULE_BANNED.into(), "진정하세요".into())]);
}

#[test]
fn verdict_is_the_strictest_finding() {
    let r = check()
        .check(testing::draft(
            "Unfortunately it is not my problem. Card 4111 1111 1111 1111.",
        ))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Block);
    assert_eq!(rules(&r), [RULE_DISCOURAGED, RULE_BANNED, RULE_CARD]);
}

#[test]
fn promises_need_approval_and_carry_the_approved_wording() {
    let text = "We GUARANTEE a refund within 3 days.";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(r.verdict, Verdict::NeedsApproval);
    assert_eq!(
        found(text, &r),
        [
            (RULE_PROMISE.into(), "GUARANTEE".into()),
            (RULE_PROMISE.into(), "refund within".into())
        ]
    );
    assert_eq!(
        r.findings[0].suggestion.as_deref(),
        Some("we will do our best to")
    );
}

#[test]
fn tone_shouting_profanity_and_blame() {
    let text = "PLEASE READ THE MANUAL!!! It is your fault, damn it.";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(r.verdict, Verdict::Block, "profanity blocks");
    assert_eq!(
        found(text, &r),
        [
            (RULE_SHOUTING.into(), "PLEASE READ THE MANUAL".into()),
            (RULE_SHOUTING.into(), "!!!".into()),
            (RULE_BLAME.into(), "your fault".into()),
            (RULE_PROFANITY.into(), "damn".into()),
        ]
    );
    // Acronyms and short emphasis are no shouting; Korean has no case.
    let r = check()
        .check(testing::draft(
            "Your VIP account at ACME is ready! 감사합니다!!",
        ))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Approve, "{:?}", r.findings);
}

#[test]
fn required_disclosures_per_channel_and_topic() {
    let c = check();
    let r = c
        .check(draft_on("Hello, how can I help?", Channel::Voice, &[]))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Revise);
    assert_eq!(rules(&r), [RULE_DISCLOSURE]);
    assert_eq!(
        r.findings[0].suggestion.as_deref(),
        Some("This call may be recorded for quality and training.")
    );
    let r = c
        .check(draft_on(
            "Hello, this call may be recorded for quality and training.",
            Channel::Voice,
            &[],
        ))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Approve);
    // Not required on chat.
    let r = c
        .check(draft_on("Hello, how can I help?", Channel::Chat, &[]))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Approve);
    // Financial topics need the disclaimer, on any channel.
    let r = c
        .check(draft_on(
            "This fund returns 5%.",
            Channel::Email,
            &["investment"],
        ))
        .unwrap();
    assert_eq!(rules(&r), [RULE_DISCLOSURE]);
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
    let cards: Vec<String> = found(text, &r).into_iter().map(|(_, s)| s).collect();
    assert_eq!(cards, ["5500-0000-0000-0004", "378282246310005"]);
    assert_eq!(
        r.redacted_text.as_deref(),
        Some("a ****-****-****-0004 b ***********0005 c 4111111111111112 d")
    );
}

#[test]
fn short_numbers_and_hotlines_pass_but_a_card_inside_a_run_is_found() {
    let r = check()
        .check(testing::draft("order 12345, call 0800 123 456"))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Approve, "{:?}", r.findings);
    let text = "call 555 4111 1111 1111 1111";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(
        found(text, &r),
        [(RULE_CARD.into(), "4111 1111 1111 1111".into())]
    );
}

#[test]
fn ibans_are_mod97_checked_and_masked() {
    let text =
        "Überweisung an DE89 3704 0044 0532 0130 00 bitte, nicht DE89 3704 0044 0532 0130 01.";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(
        found(text, &r),
        [(RULE_IBAN.into(), "DE89 3704 0044 0532 0130 00".into())]
    );
    assert_eq!(r.verdict, Verdict::Revise);
    assert!(r.findings[0].message.contains("ending 3000"));
    assert_eq!(
        r.redacted_text.as_deref(),
        Some(
            "Überweisung an **** **** **** **** **30 00 bitte, nicht DE89 3704 0044 0532 0130 01."
        )
    );
    assert!(iban_valid(
        &"GB82WEST12345698765432".chars().collect::<Vec<_>>()
    ));
    assert!(!iban_valid(
        &"GB82WEST12345698765433".chars().collect::<Vec<_>>()
    ));
}

#[test]
fn emails_are_masked_except_allowed_domains() {
    let text = "Write to support@acme.com or to jane.doe@gmail.com.";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(
        found(text, &r),
        [(RULE_EMAIL.into(), "jane.doe@gmail.com".into())]
    );
    assert_eq!(
        r.redacted_text.as_deref(),
        Some("Write to support@acme.com or to j*******@gmail.com.")
    );
}

#[test]
fn phone_numbers_are_found_in_many_formats_but_not_dates() {
    let text =
        "Ring +82 10-1234-5678 or (02) 555 0199 or 010.9876.5432, not 2026-01-05 or 555123456789.";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(
        found(text, &r),
        [
            (RULE_PHONE.into(), "+82 10-1234-5678".into()),
            (RULE_PHONE.into(), "(02) 555 0199".into()),
            (RULE_PHONE.into(), "010.9876.5432".into()),
        ]
    );
    assert!(
        r.redacted_text
            .as_deref()
            .unwrap()
            .starts_with("Ring +** **-****-**78 or (**) *** **99")
    );
}

#[test]
fn national_ids_per_country() {
    let c = with(
        r#"{"data_protection": {"national_ids": {"countries": ["KR", "US", "GB", "NL", "ES"],
            "custom": [{"country": "XX", "name": "member id", "patterns": ["MB-####-##"]}]}}}"#,
    );
    let text = "주민번호 900101-1234567, SSN 078-05-1120, NINO AB123456C, BSN 111222333, \
                DNI 12345678Z, member MB-1234-56; not 900199-1234567 or 000-12-3456.";
    let r = c.check(testing::draft(text)).unwrap();
    assert_eq!(r.verdict, Verdict::Block);
    let ids: Vec<String> = found(text, &r)
        .into_iter()
        .filter(|(rule, _)| rule == RULE_NATIONAL_ID)
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        ids,
        [
            "900101-1234567",
            "078-05-1120",
            "AB123456C",
            "111222333",
            "12345678Z",
            "MB-1234-56"
        ]
    );
    assert!(
        r.redacted_text
            .as_deref()
            .unwrap()
            .starts_with("주민번호 ******-*******, SSN ***-**-****")
    );
}

#[test]
fn passwords_and_one_time_codes_block() {
    let text = "Your password is hunter42. 인증번호는 482913입니다. PIN: 7731!";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(r.verdict, Verdict::Block);
    assert_eq!(
        found(text, &r),
        [
            (RULE_SECRET.into(), "hunter42".into()),
            (RULE_SECRET.into(), "482913".into()),
            (RULE_SECRET.into(), "7731".into()),
        ]
    );
    assert!(!r.findings.iter().any(|f| f.message.contains("482913")));
    assert_eq!(
        r.redacted_text.as_deref(),
        Some("Your password is ********. 인증번호는 ******입니다. PIN: ****!")
    );
    // No digit, no secret; "pin" inside a word is no keyword.
    let r = check()
        .check(testing::draft(
            "Reset your password at the self-service portal, spinning 1234",
        ))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Approve, "{:?}", r.findings);
}

#[test]
fn on_a_public_channel_personal_data_blocks() {
    let r = check()
        .check(draft_on("Mail jane@gmail.com", Channel::Social, &[]))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Block);
}

#[test]
fn detectors_can_be_turned_off_and_redaction_too() {
    let c = with(
        r#"{"redact_card_numbers": false, "data_protection": {"redact": false, "email": {"action": "off"},
            "phone": {"action": "approve"}}}"#,
    );
    let r = c
        .check(testing::draft(
            "4111111111111111 jane@gmail.com 010-1234-5678",
        ))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Revise, "card only");
    assert_eq!(rules(&r), [RULE_CARD, RULE_PHONE]);
    assert!(r.redacted_text.is_none());
}

#[test]
fn spans_stay_right_when_lowercasing_changes_length() {
    // 'İ' lower-cases to two chars; the span must still count one.
    let text = "İİ SECRET";
    let r = with(r#"{"banned_phrases": ["secret"]}"#)
        .check(testing::draft(text))
        .unwrap();
    assert_eq!(r.findings[0].span, Some(Span { start: 3, end: 9 }));
}

#[test]
fn mixed_scripts_spans_are_exact_everywhere() {
    let text = "Café 😀 고객님, unfortunately 카드 5500-0000-0000-0004, mail é@x.com? jane@ex.com";
    let r = check().check(testing::draft(text)).unwrap();
    assert_eq!(
        found(text, &r),
        [
            (RULE_DISCOURAGED.into(), "unfortunately".into()),
            (RULE_CARD.into(), "5500-0000-0000-0004".into()),
            (RULE_EMAIL.into(), "jane@ex.com".into()),
        ]
    );
    let redacted = r.redacted_text.unwrap();
    assert_eq!(
        redacted.chars().count(),
        text.chars().count(),
        "same length"
    );
}

#[test]
fn a_100_kb_draft_is_scanned_quickly() {
    let mut text = "Unfortunately 고객님 😀 call 1 2 3 ".repeat(3_000);
    text.push_str("4111 1111 1111 1111");
    assert!(text.len() > 100_000);
    let started = std::time::Instant::now();
    let r = check().check(testing::draft(&text)).unwrap();
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    assert_eq!(
        r.findings.iter().filter(|f| f.rule_id == RULE_CARD).count(),
        1
    );
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.rule_id == RULE_DISCOURAGED)
            .count(),
        3_000
    );
}

#[test]
fn a_huge_run_of_digits_is_scanned_quickly() {
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
fn bad_configs_are_rejected() {
    let err = |json: &str| {
        testing::parse_config::<Config>("brand-compliance", json)
            .and_then(BrandCompliance::new)
            .unwrap_err()
    };
    assert_eq!(
        err(r#"{"banned_phrases": [" "]}"#),
        "phrases must not be empty"
    );
    assert!(err(r#"{"promise_phrases": [""]}"#).contains("promise_phrases"));
    assert!(
        err(r#"{"data_protection": {"national_ids": {"countries": ["FR"]}}}"#)
            .contains("no built-in formats for \"FR\"")
    );
    assert!(err(r#"{"required_disclosures": [{"id": "x", "any_of": []}]}"#).contains("any_of"));
    assert!(err(r#"{"promise_action": "maybe"}"#).contains("unknown variant"));
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
