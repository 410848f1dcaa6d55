use super::*;
use switchboard_sdk::testing;
use switchboard_sdk::types::{Deadline, Message, Transfer};

const MANIFEST: &str = include_str!("../manifest.json");
const RG271: &str = include_str!("../../../examples/configs/complaint-escalation.rg271.json");

fn rule() -> ComplaintEscalation {
    ComplaintEscalation::new(testing::default_config_from_manifest(MANIFEST).unwrap()).unwrap()
}

fn with(json: &str) -> ComplaintEscalation {
    testing::parse_config::<Config>("complaint-escalation", json)
        .and_then(ComplaintEscalation::new)
        .unwrap()
}

fn created(text: &str, sentiment: Option<f32>) -> EscalationInput {
    let mut c = testing::contact("c-1", Channel::Email);
    c.text = text.into();
    c.sentiment = sentiment;
    c.topics = vec!["billing".into()];
    c.state = ContactState::Queued;
    c.queue = Some("billing".into());
    c.times.queued_at = Some(testing::NOW);
    testing::escalation_input(c, EventKind::Created)
}

fn tags(o: &EscalationOutcome) -> Vec<&str> {
    o.actions
        .iter()
        .filter_map(|a| match a {
            EscalationAction::AddTag(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn deadlines(o: &EscalationOutcome) -> Vec<&DeadlineStart> {
    o.actions
        .iter()
        .filter_map(|a| match a {
            EscalationAction::StartDeadline(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn deadline<'a>(o: &'a EscalationOutcome, name: &str) -> Option<&'a DeadlineStart> {
    deadlines(o).into_iter().find(|d| d.name == name)
}

fn notifications(o: &EscalationOutcome) -> Vec<&Notification> {
    o.actions
        .iter()
        .filter_map(|a| match a {
            EscalationAction::Notify(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn complaint(o: &EscalationOutcome) -> Option<&Complaint> {
    o.actions.iter().find_map(|a| match a {
        EscalationAction::MarkComplaint(c) => Some(c),
        _ => None,
    })
}

fn running(name: &str, due_at: i64) -> Deadline {
    Deadline {
        name: name.into(),
        started_at: testing::NOW - HOUR_MS,
        due_at,
    }
}

#[test]
fn manifest_and_example_configs_build() {
    rule();
    for json in [
        include_str!("../../../examples/configs/complaint-escalation.json"),
        RG271,
        include_str!("../../../examples/configs/complaint-escalation.minimal.json"),
    ] {
        with(json);
    }
}

#[test]
fn crisis_keyword_pages_supervisor_marks_crisis_and_starts_clock() {
    let o = rule()
        .on_event(created("Your OUTAGE cost me a day of sales", None))
        .unwrap();
    assert_eq!(
        complaint(&o),
        Some(&Complaint {
            category: "crisis:outage".into(),
            urgency: Urgency::Critical
        })
    );
    assert!(
        notifications(&o)
            .iter()
            .any(|n| n.target == NotifyTarget::Supervisor && n.urgency == Urgency::Critical)
    );
    assert_eq!(tags(&o), ["crisis", "crisis:outage"]);
    assert!(deadline(&o, ACKNOWLEDGE).is_some());
    assert!(
        o.reason
            .starts_with("crisis keyword \"outage\" -> crisis:outage complaint, supervisor paged"),
        "{}",
        o.reason
    );
}

#[test]
fn flat_crisis_keywords_keep_the_plain_crisis_category() {
    let o = with(r#"{"crisis_keywords": ["lawsuit"]}"#)
        .on_event(created("expect a lawsuit", None))
        .unwrap();
    assert_eq!(complaint(&o).unwrap().category, "crisis");
    assert_eq!(tags(&o), ["crisis"]);
}

#[test]
fn crisis_goes_to_the_crisis_queue_and_team_with_priority() {
    let o = with(RG271)
        .on_event(created("I'm calling my lawyer about this", None))
        .unwrap();
    assert!(
        o.actions
            .contains(&EscalationAction::MoveQueue("crisis".into()))
    );
    assert!(o.actions.contains(&EscalationAction::RaisePriority(50)));
    assert!(
        notifications(&o)
            .iter()
            .any(|n| n.target == NotifyTarget::Team("comms".into()))
    );
    assert!(
        o.reason.starts_with(
            "crisis keyword \"lawyer\" -> crisis:legal complaint, supervisor paged, \
             team comms notified, moved to crisis, priority +50"
        ),
        "{}",
        o.reason
    );
}

#[test]
fn complaint_keyword_marks_complaint_with_topic_and_deadline_at_75_percent() {
    let o = rule()
        .on_event(created("I want to file a complaint about my bill", None))
        .unwrap();
    assert_eq!(
        complaint(&o),
        Some(&Complaint {
            category: "billing".into(),
            urgency: Urgency::Normal
        })
    );
    assert_eq!(tags(&o), ["complaint"]);
    let d = deadline(&o, ACKNOWLEDGE).unwrap();
    assert_eq!(d.due_at, testing::NOW + 24 * HOUR_MS);
    assert_eq!(d.warn_at, vec![testing::NOW + 18 * HOUR_MS]);
    assert_eq!(deadlines(&o).len(), 1, "no resolve clock by default");
    assert!(o.recheck.is_none());
    assert_eq!(
        o.reason,
        "complaint keyword \"complaint\" -> complaint (billing); acknowledge within 24h"
    );
}

#[test]
fn matching_is_case_insensitive_beyond_ascii() {
    let r = with(
        r#"{"complaint_keywords": ["BESCHWERDE", "불만"], "crisis_keywords": ["ДАННЫЕ УТЕКЛИ"]}"#,
    );
    let o = r
        .on_event(created("Ich habe eine beschwerde", None))
        .unwrap();
    assert_eq!(tags(&o), ["complaint"]);
    let o = r
        .on_event(created("서비스가 너무 불만입니다 😡", None))
        .unwrap();
    assert_eq!(tags(&o), ["complaint"]);
    let o = r.on_event(created("мои данные утекли!", None)).unwrap();
    assert_eq!(tags(&o), ["crisis"]);
    let o = r.on_event(created("danke, alles gut", None)).unwrap();
    assert!(o.actions.is_empty());
    assert_eq!(o.reason, "no complaint, crisis or negative sentiment");
}

#[test]
fn empty_and_very_long_texts() {
    let o = rule().on_event(created("", None)).unwrap();
    assert!(o.actions.is_empty());
    let mut text = "Café ☕ 고객센터 안녕하세요 ".repeat(4_000); // > 100 KB
    text.push_str("환불 해주세요");
    assert!(text.len() > 100_000);
    let o = rule().on_event(created(&text, None)).unwrap();
    assert_eq!(complaint(&o).unwrap().category, "billing");
}

#[test]
fn negative_sentiment_raises_priority_once() {
    let o = rule().on_event(created("hello", Some(-0.8))).unwrap();
    assert_eq!(
        o.actions,
        vec![
            EscalationAction::RaisePriority(10),
            EscalationAction::AddTag(TAG_NEGATIVE.into())
        ]
    );
    assert_eq!(o.reason, "sentiment -0.80 < -0.50 -> priority +10");
    assert!(
        rule()
            .on_event(created("hello", Some(-0.5)))
            .unwrap()
            .actions
            .is_empty()
    );
    let mut input = created("hello", Some(-0.9));
    input.contact.tags.push(TAG_NEGATIVE.into());
    assert!(rule().on_event(input).unwrap().actions.is_empty());
}

#[test]
fn social_chatter_is_noise_and_a_mention_with_a_complaint_is_not() {
    let social = |text: &str, sentiment| {
        let mut i = created(text, sentiment);
        i.contact.channel = Channel::Social;
        i
    };
    // A keyword alone is not enough on social (threshold 1.5).
    let o = rule()
        .on_event(social("refund season is here lol", None))
        .unwrap();
    assert!(complaint(&o).is_none());
    assert_eq!(
        o.reason,
        "complaint score 1.00 < 1.50 (keyword \"refund\" +1.00) -> not a complaint"
    );
    // Keyword and a mention of the brand: a complaint.
    let o = rule()
        .on_event(social("@acme I want a refund now", None))
        .unwrap();
    assert_eq!(complaint(&o).unwrap().category, "billing");
    assert!(
        o.reason.starts_with(
            "complaint score 1.50 >= 1.50 (keyword \"refund\" +1.00, mention @acme +0.50)"
        ),
        "{}",
        o.reason
    );
    // Spam with a keyword: noise, even when it reads as negative.
    let o = rule()
        .on_event(social("@acme refund GIVEAWAY click here", Some(-0.6)))
        .unwrap();
    assert!(complaint(&o).is_none(), "{}", o.reason);
    assert!(tags(&o).contains(&TAG_NOISE), "{:?}", o.actions);
    // On e-mail, a negative repeat caller without keywords is a complaint.
    let mut i = created("this is the third time I write", Some(-0.6));
    i.history.same_topic_repeats = 2;
    let o = rule().on_event(i).unwrap();
    assert!(complaint(&o).is_some(), "{}", o.reason);
}

// ---- Social posts and reviews: noise and ratings ---------------------------

/// A public post (or, with `rating`, a review) as the social intake builds it.
fn post(text: &str, rating: Option<&str>) -> EscalationInput {
    let mut c = testing::contact("c-9", Channel::Social);
    c.text = text.into();
    c.attributes = vec![
        KeyValue::new(
            "social.source",
            if rating.is_some() {
                "app-store"
            } else {
                "twitter"
            },
        ),
        KeyValue::new("social.author", "@someone"),
        KeyValue::new("social.url", "https://example.com/p/1"),
    ];
    if let Some(r) = rating {
        c.attributes.push(KeyValue::new(RATING_ATTRIBUTE, r));
    }
    testing::escalation_input(c, EventKind::Created)
}

fn is_noise(o: &EscalationOutcome) -> bool {
    o.actions
        .iter()
        .any(|a| matches!(a, EscalationAction::AddTag(t) if t == TAG_NOISE))
}

#[test]
fn a_noise_keyword_makes_a_created_post_noise() {
    let o = rule()
        .on_event(post("Huge GIVEAWAY, follow back to win", None))
        .unwrap();
    assert_eq!(o.actions, vec![EscalationAction::AddTag("noise".into())]);
    assert_eq!(o.reason, "noise keyword \"giveaway\" -> noise");
    // Tagged already (by the API, say): still in the outcome, the intake
    // decides on the action.
    let mut i = post("promo code inside", None);
    i.contact.tags.push(TAG_NOISE.into());
    assert!(is_noise(&rule().on_event(i).unwrap()));
    // Only a `created` contact is noise: a later message is not.
    let mut i = post("", None);
    i.event.kind = EventKind::Message(Message {
        from_customer: true,
        text: "giveaway".into(),
        sentiment: None,
    });
    let o = rule().on_event(i).unwrap();
    assert!(!is_noise(&o), "{o:?}");
    // Every channel: an e-mail with a noise word is tagged too.
    let o = rule()
        .on_event(created("Use promo code SAVE10", None))
        .unwrap();
    assert_eq!(tags(&o), ["noise"]);
}

#[test]
fn a_complaint_crisis_manager_request_or_incident_with_a_noise_word_is_no_noise() {
    // The noise word costs 0.5 here: keyword + sentiment still reach 1.0.
    let r = with(
        r#"{"complaint_keywords": ["refund"], "manager_keywords": ["supervisor"],
            "crisis_keywords": ["outage"],
            "detection": {"noise_keywords": ["promo code"], "noise_weight": -0.5}}"#,
    );
    let o = r
        .on_event(created(
            "your promo code failed, I want a refund",
            Some(-0.4),
        ))
        .unwrap();
    assert_eq!(complaint(&o).unwrap().category, "billing");
    assert!(!is_noise(&o), "{:?}", o.actions);
    assert!(
        o.reason.starts_with(
            "complaint score 1.00 >= 1.00 (keyword \"refund\" +1.00, sentiment -0.40 +0.50, noise \"promo code\" -0.50)"
        ),
        "{}",
        o.reason
    );
    // Already a complaint: no noise either.
    let mut i = created("promo code?", None);
    i.contact.complaint = true;
    assert!(!is_noise(&r.on_event(i).unwrap()));
    let o = r.on_event(created("promo code outage", None)).unwrap();
    assert_eq!(complaint(&o).unwrap().category, "crisis");
    assert!(!is_noise(&o));
    let o = r
        .on_event(created("promo code? get me a supervisor", None))
        .unwrap();
    assert!(tags(&o).contains(&TAG_MANAGER) && !is_noise(&o), "{o:?}");
    let mut i = created("promo code broken in the app", None);
    i.incidents = vec![Incident {
        id: "inc-7".into(),
        title: "Promo codes fail".into(),
        keywords: vec!["promo code".into()],
        products: vec![],
        started_at: testing::NOW,
    }];
    let o = r.on_event(i).unwrap();
    assert!(
        tags(&o).contains(&"incident:inc-7") && !is_noise(&o),
        "{o:?}"
    );
}

#[test]
fn a_neutral_question_is_neither_complaint_nor_noise() {
    for r in [rule(), with(r#"{"detection": {"noise_min_chars": 12}}"#)] {
        let o = r
            .on_event(post("how do I reset my password?", None))
            .unwrap();
        assert!(o.actions.is_empty(), "{o:?}");
        assert_eq!(o.reason, "no complaint, crisis or negative sentiment");
    }
}

#[test]
fn short_social_chatter_is_noise_only_without_a_complaint_signal() {
    let r = with(
        r#"{"complaint_keywords": ["refund"],
            "detection": {"noise_min_chars": 12, "brand_handles": ["@acme"]}}"#,
    );
    let o = r.on_event(post("  @acme lol 😂  ", None)).unwrap();
    assert_eq!(o.actions, vec![EscalationAction::AddTag("noise".into())]);
    assert_eq!(
        o.reason,
        "social post of 11 characters < noise_min_chars 12, no complaint signal -> noise"
    );
    // 12 characters is long enough.
    assert!(!is_noise(&r.on_event(post("@acme lol 😂!", None)).unwrap()));
    // A complaint word, negative sentiment, a low rating or an open
    // complaint of the customer keep a short post.
    assert!(!is_noise(&r.on_event(post("refund?", None)).unwrap()));
    let mut i = post("ugh", None);
    i.contact.sentiment = Some(-0.4);
    assert!(!is_noise(&r.on_event(i).unwrap()));
    assert!(!is_noise(&r.on_event(post("", Some("1"))).unwrap()));
    let mut i = post("still?", None);
    i.history.open_complaints = 1;
    assert!(!is_noise(&r.on_event(i).unwrap()));
    // Social only: a short chat or an empty voice transcript is no noise.
    let o = r.on_event(created("hi", None)).unwrap();
    assert!(o.actions.is_empty(), "{o:?}");
    // Off by default.
    assert!(!is_noise(&rule().on_event(post("lol", None)).unwrap()));
}

#[test]
fn a_one_star_review_is_a_complaint_signal_like_negative_sentiment() {
    // Default config, social threshold 1.5: a low rating weighs as much as
    // a complaint word, so with one it is a complaint ...
    let o = rule()
        .on_event(post("Charged twice, I want a refund", Some("1")))
        .unwrap();
    assert_eq!(
        complaint(&o),
        Some(&Complaint {
            category: "general".into(),
            urgency: Urgency::Normal
        })
    );
    assert!(
        o.reason.starts_with(
            "complaint score 2.00 >= 1.50 (keyword \"refund\" +1.00, rating 1 +1.00) -> complaint (general)"
        ),
        "{}",
        o.reason
    );
    assert!(deadline(&o, ACKNOWLEDGE).is_some());
    // ... alone it speaks but stays under the social threshold ...
    let o = rule().on_event(post("Meh app", Some("1"))).unwrap();
    assert!(complaint(&o).is_none());
    assert_eq!(
        o.reason,
        "complaint score 1.00 < 1.50 (rating 1 +1.00) -> not a complaint"
    );
    // ... and with negative sentiment, no keyword, it is one.
    let mut i = post("The app keeps crashing", Some("2"));
    i.contact.sentiment = Some(-0.4);
    let o = rule().on_event(i).unwrap();
    assert!(
        o.reason
            .starts_with("complaint score 1.50 >= 1.50 (sentiment -0.40 +0.50, rating 2 +1.00)"),
        "{}",
        o.reason
    );
    // The minimal config (threshold 1.0): a 1-star review alone is a complaint.
    let o = with("{}").on_event(post("", Some("1"))).unwrap();
    assert_eq!(
        o.reason,
        "complaint score 1.00 >= 1.00 (rating 1 +1.00) -> complaint (general); acknowledge within 24h"
    );
    // 3 stars is no signal; neither is a low rating turned off.
    assert!(
        with("{}")
            .on_event(post("", Some("3")))
            .unwrap()
            .actions
            .is_empty()
    );
    let off = with(r#"{"detection": {"low_rating_at_most": 0}}"#);
    assert!(
        off.on_event(post("", Some("1")))
            .unwrap()
            .actions
            .is_empty()
    );
}

#[test]
fn a_five_star_review_is_no_complaint_signal() {
    let o = rule().on_event(post("Love it", Some("5"))).unwrap();
    assert!(o.actions.is_empty(), "{o:?}");
    assert_eq!(o.reason, "no complaint, crisis or negative sentiment");
    // With a complaint word, the rating adds nothing (social needs 1.5).
    let o = rule()
        .on_event(post("Great, got my refund fast", Some("5")))
        .unwrap();
    assert_eq!(
        o.reason,
        "complaint score 1.00 < 1.50 (keyword \"refund\" +1.00) -> not a complaint"
    );
}

#[test]
fn a_malformed_rating_is_ignored() {
    // Under the minimal config a valid 1 alone is a complaint (above).
    let r = with("{}");
    for bad in ["1.0", "one", "0", "6", "-1", "", "1 star"] {
        let o = r.on_event(post("", Some(bad))).unwrap();
        assert!(o.actions.is_empty(), "{bad:?}: {o:?}");
    }
    assert!(complaint(&r.on_event(post("", Some(" 1 "))).unwrap()).is_some());
    // The rating belongs to the review: a later message does not re-read it.
    let mut i = post("", Some("1"));
    i.event.kind = EventKind::Message(Message {
        from_customer: true,
        text: "any news?".into(),
        sentiment: None,
    });
    assert!(r.on_event(i).unwrap().actions.is_empty());
}

#[test]
fn vip_complaints_page_the_supervisor() {
    let mut i = created("This is unacceptable", None);
    i.contact.customer_tier = "vip".into();
    let o = rule().on_event(i.clone()).unwrap();
    assert_eq!(complaint(&o).unwrap().urgency, Urgency::High);
    assert_eq!(tags(&o), ["complaint", "vip-complaint"]);
    assert_eq!(notifications(&o)[0].urgency, Urgency::High);
    let o = with(RG271).on_event(i).unwrap();
    assert!(o.actions.contains(&EscalationAction::RaisePriority(20)));
}

#[test]
fn complaints_are_routed_by_category_only_while_waiting() {
    let o = with(RG271)
        .on_event(created("I want a refund", None))
        .unwrap();
    assert!(
        o.actions
            .contains(&EscalationAction::MoveQueue("complaints-billing".into()))
    );
    let mut i = created("I want a refund", None);
    i.contact.topics = vec!["cards".into()];
    let o = with(RG271).on_event(i.clone()).unwrap();
    assert!(
        o.actions
            .contains(&EscalationAction::MoveQueue("complaints".into()))
    );
    // An agent is on it: no move.
    i.contact.state = ContactState::Assigned;
    let o = with(RG271).on_event(i).unwrap();
    assert!(
        !o.actions
            .iter()
            .any(|a| matches!(a, EscalationAction::MoveQueue(_)))
    );
}

#[test]
fn asking_for_a_manager_pages_the_supervisor_once() {
    let o = rule()
        .on_event(created("Let me speak to a manager", None))
        .unwrap();
    assert_eq!(tags(&o), [TAG_MANAGER]);
    assert!(o.actions.contains(&EscalationAction::RaisePriority(10)));
    assert_eq!(notifications(&o)[0].urgency, Urgency::High);
    assert_eq!(
        o.reason,
        "asked for a manager (\"speak to a manager\") -> priority +10, supervisor paged"
    );
    let mut again = created("상급자 바꿔주세요", None);
    again.contact.tags.push(TAG_MANAGER.into());
    assert!(rule().on_event(again).unwrap().actions.is_empty());
}

#[test]
fn repeated_transfers_escalate_at_the_limit() {
    let transfer = |n: u32| {
        let mut c = testing::contact("c-1", Channel::Voice);
        c.transfers = n;
        c.state = ContactState::Queued;
        testing::escalation_input(
            c,
            EventKind::Transferred(Transfer {
                from_queue: Some("a".into()),
                to_queue: "b".into(),
                from_agent: Some("a-1".into()),
            }),
        )
    };
    assert!(rule().on_event(transfer(2)).unwrap().actions.is_empty());
    let o = rule().on_event(transfer(3)).unwrap();
    assert_eq!(tags(&o), [TAG_TRANSFERS]);
    assert_eq!(
        o.reason,
        "transferred 3 times (limit 3) -> priority +10, supervisor paged"
    );
}

#[test]
fn service_level_at_risk_rechecks_then_raises_priority() {
    let r = with(RG271);
    let mut i = created("hello", None);
    i.contact.queue = Some("sales".into());
    let o = r.on_event(i.clone()).unwrap();
    assert_eq!(
        o.recheck,
        Some(Recheck {
            name: SLA_CHECK.into(),
            at: testing::NOW + 20_000
        })
    );
    // The timer fires 20 s later; the contact still waits.
    i.event = testing::event(EventKind::TimerFired(SLA_CHECK.into()));
    i.now = testing::NOW + 20_000;
    let o = r.on_event(i.clone()).unwrap();
    assert_eq!(tags(&o), [TAG_SLA]);
    assert!(o.actions.contains(&EscalationAction::RaisePriority(20)));
    assert_eq!(
        o.reason,
        "waited 20s of a 30s target -> priority +20, supervisor paged"
    );
    // Answered meanwhile: nothing.
    i.contact.state = ContactState::Assigned;
    assert!(r.on_event(i).unwrap().actions.is_empty());
    // A queue with its own target.
    let mut c = created("hello", None);
    c.contact.queue = Some("complaints".into());
    assert_eq!(
        r.on_event(c).unwrap().recheck.unwrap().at,
        testing::NOW + 50_000
    );
}

#[test]
fn repeated_complaint_does_not_restart_the_clock() {
    let mut input = created("another complaint", None);
    input.contact.complaint = true;
    input
        .deadlines
        .push(running(ACKNOWLEDGE, testing::NOW + 23 * HOUR_MS));
    let o = rule().on_event(input).unwrap();
    assert!(o.actions.is_empty(), "{:?}", o.actions);
    assert_eq!(
        o.reason,
        "complaint keyword \"complaint\" again, already a complaint"
    );
}

#[test]
fn answer_or_agent_message_stops_a_running_acknowledge_clock_only() {
    let mut input = testing::escalation_input(
        testing::contact("c-1", Channel::Voice),
        EventKind::Answered("a7".into()),
    );
    assert!(rule().on_event(input.clone()).unwrap().actions.is_empty());
    input
        .deadlines
        .push(running(ACKNOWLEDGE, testing::NOW + HOUR_MS));
    let o = rule().on_event(input.clone()).unwrap();
    assert_eq!(
        o.actions,
        vec![EscalationAction::StopDeadline(ACKNOWLEDGE.into())]
    );
    assert_eq!(o.reason, "answered by a7 -> complaint acknowledged");
    input.event = testing::event(EventKind::Message(Message {
        from_customer: false,
        text: "We received your complaint and are on it.".into(),
        sentiment: None,
    }));
    let o = rule().on_event(input).unwrap();
    assert_eq!(
        o.actions,
        vec![EscalationAction::StopDeadline(ACKNOWLEDGE.into())]
    );
}

#[test]
fn customer_messages_are_read_agent_messages_are_not() {
    let c = testing::contact("c-1", Channel::Chat);
    let msg = |from_customer| {
        testing::escalation_input(
            c.clone(),
            EventKind::Message(Message {
                from_customer,
                text: "this is a data breach".into(),
                sentiment: Some(-0.9),
            }),
        )
    };
    let o = rule().on_event(msg(true)).unwrap();
    assert!(tags(&o).contains(&"crisis"));
    assert!(o.actions.contains(&EscalationAction::RaisePriority(10)));
    assert!(rule().on_event(msg(false)).unwrap().actions.is_empty());
}

#[test]
fn ack_warning_and_breach_notify_supervisor() {
    let kind = |breached: bool| {
        let d = Deadline {
            name: ACKNOWLEDGE.into(),
            started_at: testing::NOW - 18 * HOUR_MS,
            due_at: testing::NOW + 6 * HOUR_MS,
        };
        if breached {
            EventKind::DeadlineBreached(d)
        } else {
            EventKind::DeadlineWarning(d)
        }
    };
    let c = testing::contact("c-1", Channel::Voice);
    let o = rule()
        .on_event(testing::escalation_input(c.clone(), kind(false)))
        .unwrap();
    assert_eq!(notifications(&o)[0].urgency, Urgency::High);
    assert!(notifications(&o)[0].message.contains("due in 360 min"));
    let o = rule()
        .on_event(testing::escalation_input(c, kind(true)))
        .unwrap();
    assert!(matches!(&o.actions[..],
        [EscalationAction::Notify(n)] if n.urgency == Urgency::Critical));
}

// ---- Regulatory clocks (RG 271 example: AEST, 1 business day, 30 days) ----

#[test]
fn rg271_acknowledge_in_one_business_day_and_resolve_in_30_calendar_days() {
    // Monday 09:00 UTC = 19:00 in Sydney (+10:00).
    let o = with(RG271)
        .on_event(created("I want to make a complaint", None))
        .unwrap();
    let ack = deadline(&o, ACKNOWLEDGE).unwrap();
    // End of Tuesday, Sydney time = Tuesday 14:00 UTC.
    assert_eq!(ack.due_at, testing::NOW + 29 * HOUR_MS);
    assert_eq!(ack.warn_at, vec![testing::NOW + 29 * HOUR_MS / 4 * 3]);
    let resolve = deadline(&o, RESOLVE).unwrap();
    assert_eq!(resolve.due_at, testing::NOW + 30 * DAY_MS + 5 * HOUR_MS);
    assert_eq!(
        resolve.warn_at,
        vec![
            resolve.due_at - 120 * HOUR_MS,
            resolve.due_at - 24 * HOUR_MS
        ]
    );
    assert!(
        o.reason
            .contains("acknowledge within 1 business day; resolve within 30 calendar days"),
        "{}",
        o.reason
    );
}

#[test]
fn rg271_weekends_and_holidays_are_skipped() {
    let at = |t: i64| {
        let mut i = created("complaint", None);
        i.event.at = t;
        i.now = t;
        with(RG271).on_event(i).unwrap()
    };
    // Friday 19:00 Sydney -> end of Monday.
    let fri = testing::NOW + 4 * DAY_MS;
    assert_eq!(
        deadline(&at(fri), ACKNOWLEDGE).unwrap().due_at,
        fri + 3 * DAY_MS + 5 * HOUR_MS
    );
    // Friday 23 January; Monday 26 is Australia Day -> end of Tuesday.
    let fri_23 = testing::NOW + 18 * DAY_MS;
    assert_eq!(
        deadline(&at(fri_23), ACKNOWLEDGE).unwrap().due_at,
        fri_23 + 4 * DAY_MS + 5 * HOUR_MS
    );
}

#[test]
fn rg271_products_have_their_own_limits() {
    let mut i = created("I want to make a complaint", None);
    i.contact.topics = vec!["hardship".into()];
    let o = with(RG271).on_event(i.clone()).unwrap();
    assert_eq!(
        deadline(&o, RESOLVE).unwrap().due_at,
        testing::NOW + 21 * DAY_MS + 5 * HOUR_MS
    );
    i.contact.attributes = vec![KeyValue::new("product", "superannuation")];
    let o = with(RG271).on_event(i).unwrap();
    assert_eq!(
        deadline(&o, RESOLVE).unwrap().due_at,
        testing::NOW + 45 * DAY_MS + 5 * HOUR_MS
    );
}

#[test]
fn rg271_resolution_stops_the_clock_and_a_breach_is_tagged() {
    let mut c = testing::contact("c-1", Channel::Email);
    c.complaint = true;
    let mut i = testing::escalation_input(c.clone(), EventKind::Resolved);
    i.deadlines.push(running(RESOLVE, testing::NOW + DAY_MS));
    let o = with(RG271).on_event(i).unwrap();
    assert_eq!(
        o.actions,
        vec![EscalationAction::StopDeadline(RESOLVE.into())]
    );
    let o = with(RG271)
        .on_event(testing::escalation_input(
            c,
            EventKind::DeadlineBreached(running(RESOLVE, testing::NOW)),
        ))
        .unwrap();
    assert_eq!(tags(&o), [TAG_OVERDUE]);
    assert_eq!(notifications(&o)[0].urgency, Urgency::Critical);
}

#[test]
fn clock_skew_deadlines_follow_the_event_time() {
    // The event says it happened an hour after the host's now.
    let mut i = created("complaint", None);
    i.event.at = testing::NOW + HOUR_MS;
    let o = rule().on_event(i).unwrap();
    assert_eq!(
        deadline(&o, ACKNOWLEDGE).unwrap().due_at,
        testing::NOW + 25 * HOUR_MS
    );
}

#[test]
fn incidents_tag_and_route_matching_contacts() {
    let mut i = created("The app is down again!!", None);
    i.incidents = vec![Incident {
        id: "inc-7".into(),
        title: "App outage".into(),
        keywords: vec!["app is down".into()],
        products: vec!["mobile-app".into()],
        started_at: testing::NOW - HOUR_MS,
    }];
    let o = with(RG271).on_event(i.clone()).unwrap();
    assert!(tags(&o).contains(&"incident:inc-7"));
    // The crisis queue wins the move ("is down" is an outage keyword).
    assert!(
        o.actions
            .contains(&EscalationAction::MoveQueue("crisis".into()))
    );
    // By product, without crisis words.
    i.contact.text = "hello".into();
    i.contact.topics = vec!["mobile-app".into()];
    let o = with(RG271).on_event(i.clone()).unwrap();
    assert!(
        o.actions
            .contains(&EscalationAction::MoveQueue("incident".into()))
    );
    assert!(
        o.reason
            .contains("matches incident inc-7 (App outage) -> moved to incident")
    );
    i.contact.tags.push("incident:inc-7".into());
    assert!(!with(RG271).on_event(i).unwrap().reason.contains("inc-7"));
}

#[test]
fn bad_configs_are_rejected() {
    let err = |json: &str| {
        testing::parse_config::<Config>("complaint-escalation", json)
            .and_then(ComplaintEscalation::new)
            .unwrap_err()
    };
    assert!(err(r#"{"negative_sentiment_threshold": -3}"#).contains("between -1.0 and 1.0"));
    assert!(err(r#"{"keywords": []}"#).contains("unknown field `keywords`"));
    assert!(err(r#"{"regulatory": {"holidays": ["2026-02-30"]}}"#).contains("not a date"));
    assert!(err(r#"{"regulatory": {"business_days": []}}"#).contains("at least one day"));
    assert!(err(r#"{"transfer_limit": 0}"#).contains("transfer_limit"));
    assert!(
        err(r#"{"detection": {"low_rating_at_most": 4}}"#)
            .contains("low_rating_at_most must be 0-3")
    );
    assert!(
        err(r#"{"service_level": {"answer_within_secs": 5, "warn_before_secs": 10}}"#)
            .contains("warn_before_secs")
    );
}

#[test]
fn empty_keywords_never_match_everything() {
    let o = with(r#"{"complaint_keywords": ["", "  "]}"#)
        .on_event(created("anything", None))
        .unwrap();
    assert!(o.actions.is_empty());
}
