//! Unit tests and article-003 scenarios: each rule taking effect, with the
//! reason string that explains it.

use super::*;
use switchboard_sdk::testing;
use switchboard_sdk::types::{PastContact, SkillAvailability, TopicCount};

const MANIFEST: &str = include_str!("../manifest.json");

fn policy() -> SkillRouting {
    let config: Config = testing::default_config_from_manifest(MANIFEST).unwrap();
    SkillRouting::new(config).unwrap()
}

fn with(json: &str) -> SkillRouting {
    SkillRouting::new(testing::parse_config::<Config>("skill-routing", json).unwrap()).unwrap()
}

fn chat(topics: &[&str], tier: &str) -> Contact {
    let mut c = testing::contact("c-1", Channel::Chat);
    c.topics = topics.iter().map(|t| t.to_string()).collect();
    c.customer_tier = tier.into();
    c.language = "ko".into();
    c
}

fn past(id: &str, topics: &[&str], days_ago: i64, agent: Option<&str>) -> PastContact {
    PastContact {
        id: id.into(),
        channel: Channel::Voice,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        created_at: testing::NOW - days_ago * DAY_MS,
        resolved_at: Some(testing::NOW - days_ago * DAY_MS + 600_000),
        agent_id: agent.map(str::to_string),
        complaint: false,
    }
}

fn queue(name: &str, waiting: u32, oldest: u32, agents: u32) -> QueueStatus {
    QueueStatus {
        name: name.into(),
        waiting,
        oldest_wait_secs: oldest,
        available_agents: agents,
        service_level: None,
    }
}

#[test]
fn manifest_default_config_parses_and_builds() {
    let p = policy();
    assert_eq!(p.config.default_queue, "general");
    assert_eq!(p.relaxation.len(), 2);
}

#[test]
fn example_configs_parse_and_build() {
    for (name, json) in [
        (
            "skill-routing.json",
            include_str!("../../../examples/configs/skill-routing.json"),
        ),
        (
            "skill-routing.article-003.json",
            include_str!("../../../examples/configs/skill-routing.article-003.json"),
        ),
        (
            "skill-routing.minimal.json",
            include_str!("../../../examples/configs/skill-routing.minimal.json"),
        ),
    ] {
        testing::parse_config::<Config>("skill-routing", json)
            .and_then(SkillRouting::new)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn vip_billing_repeat_caller_gets_everything_explained() {
    let mut input = testing::routing_input(chat(&["billing"], "vip"));
    input.history.same_topic_repeats = 2;
    input.history.last_agent = Some("a7".into());
    let d = policy().route(input).unwrap();
    assert_eq!(d.queue, "billing");
    assert_eq!(d.priority, 11);
    assert_eq!(d.language.as_deref(), Some("ko"));
    assert_eq!(
        d.required_skills,
        vec![SkillLevel {
            skill: "billing".into(),
            proficiency: 3
        }]
    );
    assert_eq!(
        d.preferred_agent,
        Some(PreferredAgent {
            agent_id: "a7".into(),
            timeout_secs: 60
        })
    );
    assert_eq!(d.tags, vec!["repeat".to_string()]);
    assert_eq!(
        d.reason,
        "topic billing -> queue billing; vip +10; requires billing>=3; \
         language ko required; repeat caller -> prefer agent a7 for 60s"
    );
}

#[test]
fn unknown_topic_goes_to_default_queue_at_base_priority() {
    let d = policy()
        .route(testing::routing_input(chat(&["weather"], "standard")))
        .unwrap();
    assert_eq!(d.queue, "general");
    assert_eq!(d.priority, 1);
    assert!(d.required_skills.is_empty());
    assert!(d.preferred_agent.is_none());
    assert!(d.tags.is_empty());
    assert_eq!(
        d.reason,
        "no topic queue -> queue general; language ko required"
    );
}

#[test]
fn most_specific_topic_with_a_queue_wins_and_skills_merge() {
    let d = policy()
        .route(testing::routing_input(chat(
            &["refund", "technical", "billing"],
            "gold",
        )))
        .unwrap();
    // "refund" has no queue, "technical" is the next most specific.
    assert_eq!(d.queue, "tech-support");
    assert_eq!(d.priority, 6);
    let names: Vec<&str> = d.required_skills.iter().map(|s| s.skill.as_str()).collect();
    assert_eq!(names, ["technical", "billing"]);
}

#[test]
fn same_skill_from_two_topics_needs_the_higher_level() {
    let mut config: Config = testing::default_config_from_manifest(MANIFEST).unwrap();
    config.topic_skills.insert(
        "refund".into(),
        vec![SkillRequirement {
            skill: "billing".into(),
            min_proficiency: 4,
        }],
    );
    let d = SkillRouting::new(config)
        .unwrap()
        .route(testing::routing_input(chat(
            &["billing", "refund"],
            "standard",
        )))
        .unwrap();
    assert_eq!(d.required_skills.len(), 1);
    assert_eq!(d.required_skills[0].proficiency, 4);
}

#[test]
fn repeat_without_known_agent_is_tagged_but_not_pinned() {
    let mut input = testing::routing_input(chat(&["billing"], "standard"));
    input.history.same_topic_repeats = 1;
    let d = policy().route(input).unwrap();
    assert_eq!(d.tags, vec!["repeat".to_string()]);
    assert!(d.preferred_agent.is_none());
    assert!(d.reason.ends_with("repeat caller, previous agent unknown"));
}

#[test]
fn language_not_required_unless_configured() {
    let mut config: Config = testing::default_config_from_manifest(MANIFEST).unwrap();
    config.require_language = false;
    let d = SkillRouting::new(config)
        .unwrap()
        .route(testing::routing_input(chat(&[], "standard")))
        .unwrap();
    assert_eq!(d.language, None);
}

#[test]
fn a_contact_without_language_is_not_pinned_to_an_empty_one() {
    let mut c = chat(&["billing"], "standard");
    c.language = " ".into();
    let d = policy().route(testing::routing_input(c)).unwrap();
    assert_eq!(d.language, None);
    assert!(
        d.reason
            .contains("no language on the contact, none required")
    );
}

#[test]
fn relaxation_steps_are_sorted_and_translated() {
    let p = with(
        r#"{"default_queue": "general", "relaxation": [
            {"after_secs": 300, "overflow": "general", "raise_priority": 5},
            {"after_secs": 30, "drop_preferred_skills": true, "lower_proficiency": 2,
             "drop_required_skills": ["legacy-product"], "drop_team": true}
        ]}"#,
    );
    let d = p
        .route(testing::routing_input(chat(&[], "standard")))
        .unwrap();
    assert_eq!(
        d.relaxation,
        vec![
            RelaxationStep {
                after_secs: 30,
                actions: vec![
                    RelaxationAction::DropPreferredSkills,
                    RelaxationAction::LowerProficiency(2),
                    RelaxationAction::DropRequiredSkill("legacy-product".into()),
                    RelaxationAction::DropTeam,
                ]
            },
            RelaxationStep {
                after_secs: 300,
                actions: vec![
                    RelaxationAction::RaisePriority(5),
                    RelaxationAction::Overflow("general".into())
                ]
            },
        ]
    );
}

#[test]
fn a_queue_can_have_its_own_relaxation() {
    let p = with(
        r#"{"default_queue": "general", "topic_queues": {"billing": "billing"},
            "relaxation": [{"after_secs": 60, "overflow": "general"}],
            "queue_relaxation": {"billing": [{"after_secs": 20, "drop_preferred_skills": true}]}}"#,
    );
    let billing = p
        .route(testing::routing_input(chat(&["billing"], "standard")))
        .unwrap();
    assert_eq!(billing.relaxation.len(), 1);
    assert_eq!(billing.relaxation[0].after_secs, 20);
    let other = p
        .route(testing::routing_input(chat(&["x"], "standard")))
        .unwrap();
    assert_eq!(other.relaxation[0].after_secs, 60);
}

#[test]
fn bad_configs_are_rejected_with_the_reason() {
    let parse = |json: &str| {
        testing::parse_config::<Config>("skill-routing", json)
            .and_then(SkillRouting::new)
            .unwrap_err()
    };
    assert_eq!(
        parse("{}"),
        "skill-routing: invalid configuration: missing field `default_queue` at line 1 column 2"
    );
    assert!(parse(r#"{"default_queue":"g","typo":1}"#).contains("unknown field `typo`"));
    assert!(parse(r#"{"default_queue":" "}"#).contains("default_queue must not be empty"));
    assert!(
        parse(r#"{"default_queue":"g","relaxation":[{"after_secs":5}]}"#)
            .contains("relaxation after 5s does nothing")
    );
    assert!(
        parse(r#"{"default_queue":"g","topic_skills":{"x":[{"skill":"x","min_proficiency":9}]}}"#)
            .contains("must be 1-5")
    );
    assert!(
        parse(r#"{"default_queue":"g","chronic_bugs":{"topics":["x"]}}"#)
            .contains("chronic_bugs needs a queue or a team")
    );
    assert!(
        parse(r#"{"default_queue":"g","legacy":{"tiers":["old"]}}"#)
            .contains("legacy needs a queue, a team or a required_skill")
    );
    assert!(
        parse(r#"{"default_queue":"g","busy_overflow":{"queue":"o"}}"#)
            .contains("busy_overflow needs")
    );
    assert!(
        parse(r#"{"default_queue":"g","repeat_callers":{"proficiency_boost":5}}"#)
            .contains("proficiency_boost must be 0-4")
    );
    assert!(
        parse(r#"{"default_queue":"g","repeat_callers":{"min_repeats":0}}"#)
            .contains("min_repeats must be at least 1")
    );
    let rule = |r: &str| {
        parse(&format!(
            r#"{{"default_queue":"g","attribute_rules":[{r}]}}"#
        ))
    };
    assert!(
        rule(r#"{"attribute":"auth.level","values":["none"]}"#)
            .contains("attribute_rules[0] (auth.level) does nothing")
    );
    assert!(
        rule(r#"{"attribute":"auth.level","values":[],"queue":"v"}"#)
            .contains("needs at least one value")
    );
    assert!(
        rule(r#"{"attribute":"auth.level","values":[" "],"queue":"v"}"#)
            .contains("attribute_rules[0].values entries must not be empty")
    );
    assert!(
        rule(r#"{"attribute":"","values":["x"],"queue":"v"}"#)
            .contains("attribute_rules[0].attribute must not be empty")
    );
    assert!(
        rule(
            r#"{"attribute":"a","values":["x"],"required_skill":{"skill":"s","min_proficiency":0}}"#
        )
        .contains("attribute_rules[0].required_skill.min_proficiency must be 1-5")
    );
    assert!(
        rule(r#"{"attribute":"a","values":["x"],"queue":"v","when":"always"}"#)
            .contains("unknown field `when`")
    );
}

#[test]
fn priority_saturates_instead_of_overflowing() {
    let p = with(
        r#"{"default_queue": "g", "base_priority": 4294967295, "tier_priority": {"vip": 10},
            "topic_priority": {"x": 7}}"#,
    );
    let d = p
        .route(testing::routing_input(chat(&["x"], "vip")))
        .unwrap();
    assert_eq!(d.priority, u32::MAX);
}

// ---- Article 003 scenarios -------------------------------------------------

/// The article-003 example configuration, as shipped in examples/configs.
fn article() -> SkillRouting {
    with(include_str!(
        "../../../examples/configs/skill-routing.article-003.json"
    ))
}

#[test]
fn scenario_required_and_preferred_skills_with_thresholds() {
    let d = article()
        .route(testing::routing_input(chat(&["billing"], "standard")))
        .unwrap();
    assert_eq!(d.queue, "billing");
    assert_eq!(
        d.required_skills,
        vec![SkillLevel {
            skill: "billing".into(),
            proficiency: 3
        }]
    );
    assert_eq!(
        d.preferred_skills,
        vec![SkillPreference {
            skill: "payments".into(),
            min_proficiency: 2,
            weight: 5
        }]
    );
    assert_eq!(
        d.reason,
        "topic billing -> queue billing; requires billing>=3; prefers payments>=2 (weight 5); \
         language ko required"
    );
}

#[test]
fn scenario_vip_priority_and_topic_priority() {
    let d = article()
        .route(testing::routing_input(chat(&["cancellation"], "vip")))
        .unwrap();
    assert_eq!(d.priority, 1 + 20 + 5);
    assert_eq!(
        d.reason,
        "topic cancellation -> queue retention; vip +20; topic cancellation +5; \
         requires retention>=2; language ko required"
    );
}

#[test]
fn scenario_repeat_caller_goes_to_the_agent_who_handled_the_topic_last() {
    let mut input = testing::routing_input(chat(&["technical"], "standard"));
    // Newest first: a billing call with a-2, a technical one with a-9.
    input.history.recent = vec![
        past("p-2", &["billing"], 1, Some("a-2")),
        past("p-1", &["technical"], 3, Some("a-9")),
    ];
    input.history.same_topic_repeats = 1;
    input.history.last_agent = Some("a-2".into());
    let d = article().route(input).unwrap();
    assert_eq!(
        d.preferred_agent,
        Some(PreferredAgent {
            agent_id: "a-9".into(),
            timeout_secs: 45
        })
    );
    assert_eq!(d.tags, ["repeat"]);
    assert_eq!(d.priority, 1 + 3);
    assert_eq!(
        d.reason,
        "topic technical -> queue tech-support; repeat caller +3; requires technical>=2; \
         language ko required; repeat caller -> prefer agent a-9 for 45s"
    );
}

#[test]
fn scenario_repeat_caller_outside_the_window_is_a_new_caller() {
    let mut input = testing::routing_input(chat(&["technical"], "standard"));
    input.history.recent = vec![past("p-1", &["technical"], 8, Some("a-9"))];
    input.history.same_topic_repeats = 1;
    let d = article().route(input).unwrap();
    assert!(d.tags.is_empty(), "{:?}", d.tags);
    assert!(d.preferred_agent.is_none());
}

#[test]
fn scenario_third_call_on_a_topic_goes_to_a_higher_tier() {
    let mut input = testing::routing_input(chat(&["technical"], "standard"));
    input.history.recent = vec![
        past("p-2", &["technical"], 1, Some("a-9")),
        past("p-1", &["technical"], 2, Some("a-9")),
    ];
    input.history.same_topic_repeats = 2;
    let d = article().route(input).unwrap();
    assert_eq!(d.team.as_deref(), Some("tier-2"));
    assert_eq!(d.required_skills[0].proficiency, 3, "2 + boost 1");
    assert!(d.preferred_agent.is_none(), "not the same level again");
    assert_eq!(
        d.reason,
        "topic technical -> queue tech-support; repeat caller +3; \
         repeat caller escalated -> proficiency +1; requires technical>=3; \
         repeat caller escalated -> team tier-2; language ko required; \
         repeat caller (2 same-topic contacts) -> higher tier"
    );
}

#[test]
fn scenario_chronic_bug_reporter_goes_to_the_dedicated_queue() {
    let mut input = testing::routing_input(chat(&["bug:sync-fails", "technical"], "standard"));
    input.history.topic_counts = vec![TopicCount {
        topic: "bug:sync-fails".into(),
        count: 2,
    }];
    let d = article().route(input).unwrap();
    assert_eq!(d.queue, "known-issues");
    assert_eq!(d.team.as_deref(), Some("bug-squad"));
    assert_eq!(d.tags, ["chronic-bug"]);
    assert_eq!(d.priority, 1 + 5);
    assert_eq!(
        d.reason,
        "chronic bug bug:sync-fails reported 3 times -> queue known-issues; chronic bug +5; \
         requires technical>=2; chronic bug -> team bug-squad; language ko required"
    );
    // The first report of a known bug is routed as usual.
    let first = article()
        .route(testing::routing_input(chat(
            &["bug:sync-fails", "technical"],
            "standard",
        )))
        .unwrap();
    assert_eq!(first.queue, "tech-support");
    assert!(first.tags.is_empty());
}

#[test]
fn scenario_customer_flagged_chronic_bug_by_the_crm() {
    let mut input = testing::routing_input(chat(&["billing"], "standard"));
    input.history.flags = vec!["chronic-bug".into()];
    let d = article().route(input).unwrap();
    assert_eq!(d.queue, "known-issues");
    assert!(
        d.reason
            .starts_with("customer flagged chronic-bug -> queue known-issues")
    );
}

#[test]
fn scenario_legacy_customer_goes_to_legacy_staff() {
    let mut c = chat(&["technical"], "standard");
    c.attributes = vec![KeyValue::new("product_generation", "v1")];
    let d = article().route(testing::routing_input(c)).unwrap();
    assert_eq!(
        d.queue, "tech-support",
        "legacy has no queue of its own here"
    );
    assert_eq!(d.team.as_deref(), Some("legacy-desk"));
    assert!(d.required_skills.contains(&SkillLevel {
        skill: "legacy-product".into(),
        proficiency: 2
    }));
    assert_eq!(d.tags, ["legacy"]);
    assert_eq!(
        d.reason,
        "topic technical -> queue tech-support; requires technical>=2, legacy-product>=2; \
         legacy customer -> team legacy-desk; language ko required; \
         legacy customer (product_generation=v1)"
    );
    let by_tier = article()
        .route(testing::routing_input(chat(&["billing"], "legacy")))
        .unwrap();
    assert_eq!(by_tier.team.as_deref(), Some("legacy-desk"));
    assert!(by_tier.reason.ends_with("legacy tier legacy"));
}

#[test]
fn scenario_topic_maps_to_a_team_group_skills() {
    let d = article()
        .route(testing::routing_input(chat(&["payments-api"], "standard")))
        .unwrap();
    assert_eq!(d.queue, "tech-support");
    assert_eq!(d.team.as_deref(), Some("integrations"));
    assert!(d.reason.contains("topic payments-api -> team integrations"));
    // The team is dropped after waiting, like a bullseye ring widening.
    assert!(
        d.relaxation
            .iter()
            .any(|s| s.actions.contains(&RelaxationAction::DropTeam))
    );
}

#[test]
fn scenario_relaxation_over_waiting_time() {
    let d = article()
        .route(testing::routing_input(chat(&["billing"], "standard")))
        .unwrap();
    let steps: Vec<(u32, &Vec<RelaxationAction>)> = d
        .relaxation
        .iter()
        .map(|s| (s.after_secs, &s.actions))
        .collect();
    assert_eq!(
        steps,
        vec![
            (30, &vec![RelaxationAction::DropPreferredSkills]),
            (
                90,
                &vec![
                    RelaxationAction::LowerProficiency(2),
                    RelaxationAction::DropTeam
                ]
            ),
            (
                300,
                &vec![
                    RelaxationAction::RaisePriority(10),
                    RelaxationAction::Overflow("general".into())
                ]
            ),
        ]
    );
}

#[test]
fn scenario_all_agents_busy_overflows_at_once_and_says_why() {
    let mut input = testing::routing_input(chat(&["billing"], "standard"));
    input.queues = vec![queue("billing", 25, 400, 0), queue("general", 1, 5, 4)];
    let d = article().route(input).unwrap();
    assert_eq!(d.queue, "general");
    assert!(
        d.reason
            .contains("queue billing has no available agent -> overflow to general"),
        "{}",
        d.reason
    );
}

#[test]
fn scenario_no_matching_agent_is_noted_but_the_contact_still_queues() {
    let mut input = testing::routing_input(chat(&["technical"], "standard"));
    input.queues = vec![queue("tech-support", 2, 10, 3)];
    input.skills = vec![SkillAvailability {
        skill: "technical".into(),
        available_agents: 2,
        best_proficiency: 1,
    }];
    let d = article().route(input).unwrap();
    assert_eq!(d.queue, "tech-support");
    assert!(
        d.reason.ends_with("no technical>=2 agent available now"),
        "{}",
        d.reason
    );
    // Empty snapshots mean "unknown", not "nobody".
    let d = article()
        .route(testing::routing_input(chat(&["technical"], "standard")))
        .unwrap();
    assert!(!d.reason.contains("available now"), "{}", d.reason);
}

#[test]
fn scenario_incident_contacts_go_to_the_incident_queue() {
    let mut c = chat(&["technical"], "standard");
    c.text = "The APP is DOWN again since this morning".into();
    let mut input = testing::routing_input(c);
    input.incidents = vec![Incident {
        id: "inc-42".into(),
        title: "Mobile app outage".into(),
        keywords: vec!["app is down".into()],
        products: vec!["mobile-app".into()],
        started_at: testing::NOW - 3_600_000,
    }];
    let d = article().route(input.clone()).unwrap();
    assert_eq!(d.queue, "incident");
    assert_eq!(d.tags, ["incident:inc-42"]);
    assert!(d.reason.starts_with("incident inc-42 -> queue incident"));
    // By product: the contact's topic names it.
    input.contact.text = String::new();
    input.contact.topics = vec!["mobile-app".into()];
    assert_eq!(article().route(input).unwrap().queue, "incident");
}

#[test]
fn scenario_clock_skew_a_past_contact_from_the_future_still_counts() {
    let mut input = testing::routing_input(chat(&["technical"], "standard"));
    input.history.recent = vec![past("p-1", &["technical"], -1, Some("a-9"))];
    let d = article().route(input).unwrap();
    assert_eq!(d.tags, ["repeat"]);
}

#[test]
fn very_long_mixed_script_text_is_routed_quickly() {
    let mut c = chat(&["billing"], "standard");
    c.text = "환불 요청 😀 café ".repeat(8_000); // ~130 KB
    let mut input = testing::routing_input(c);
    input.incidents = vec![Incident {
        id: "inc-1".into(),
        title: "t".into(),
        keywords: vec!["ÉCHEC".into()],
        products: vec![],
        started_at: 0,
    }];
    let d = article().route(input).unwrap();
    assert_eq!(d.queue, "billing");
}

// ---- Attribute rules: what an IVR or a bot collected ----------------------

/// A chat handed over by the bot with these attributes.
fn from_bot(topics: &[&str], attributes: &[(&str, &str)]) -> RoutingInput {
    let mut c = chat(topics, "standard");
    c.attributes = attributes
        .iter()
        .map(|(k, v)| KeyValue::new(*k, *v))
        .collect();
    testing::routing_input(c)
}

#[test]
fn scenario_unauthenticated_callers_go_to_verification_and_are_tagged() {
    // The default config: auth.level none -> queue verification, tag unverified.
    let d = policy()
        .route(from_bot(&["billing"], &[("auth.level", "none")]))
        .unwrap();
    assert_eq!(d.queue, "verification", "over the topic queue billing");
    assert_eq!(d.tags, ["unverified"]);
    assert_eq!(
        d.reason,
        "attribute auth.level=none -> queue verification, tag unverified; \
         requires billing>=3; language ko required"
    );
    // Case-insensitive, spaces trimmed; the reason shows the value as sent.
    let d = policy()
        .route(from_bot(&[], &[("auth.level", " NONE ")]))
        .unwrap();
    assert_eq!(d.queue, "verification");
    assert!(
        d.reason
            .starts_with("attribute auth.level= NONE  -> queue verification")
    );
    // Authenticated, or no such attribute: the topic decides.
    for attrs in [
        &[("auth.level", "strong")][..],
        &[("auth.levels", "none")][..],
        &[][..],
    ] {
        let d = policy().route(from_bot(&["billing"], attrs)).unwrap();
        assert_eq!(d.queue, "billing", "{attrs:?}");
        assert!(d.tags.is_empty());
    }
}

#[test]
fn scenario_ivr_menu_path_prefix_requires_a_skill() {
    // The default config: ivr.menu_path starting with billing> requires billing>=3.
    let d = policy()
        .route(from_bot(
            &["card_lost"],
            &[("ivr.menu_path", "Billing>Card>Lost")],
        ))
        .unwrap();
    assert_eq!(
        d.queue, "general",
        "a rule without a queue keeps the topic's"
    );
    assert_eq!(
        d.required_skills,
        vec![SkillLevel {
            skill: "billing".into(),
            proficiency: 3
        }]
    );
    assert_eq!(
        d.reason,
        "no topic queue -> queue general; \
         attribute ivr.menu_path=Billing>Card>Lost -> requires billing>=3; \
         requires billing>=3; language ko required"
    );
    // A prefix, not a substring; the menu node alone does not start with "billing>".
    for path in ["cards>billing>fees", "billing"] {
        let d = policy()
            .route(from_bot(&["card_lost"], &[("ivr.menu_path", path)]))
            .unwrap();
        assert!(d.required_skills.is_empty(), "{path}");
    }
    // Merged with the topics' skills: the higher level wins.
    let d = with(
        r#"{"default_queue": "general",
            "topic_skills": {"billing": [{"skill": "billing", "min_proficiency": 2}]},
            "attribute_rules": [{"attribute": "ivr.menu_path", "values": ["billing>"],
                                 "prefix": true,
                                 "required_skill": {"skill": "billing", "min_proficiency": 4}}]}"#,
    )
    .route(from_bot(
        &["billing"],
        &[("ivr.menu_path", "billing>refund")],
    ))
    .unwrap();
    assert_eq!(d.required_skills[0].proficiency, 4);
}

#[test]
fn scenario_bot_intent_raises_the_priority_and_exact_values_do_not_match_prefixes() {
    let p = with(
        r#"{"default_queue": "general", "base_priority": 1,
            "attribute_rules": [{"attribute": "bot.intent", "values": ["card_lost", "fraud"],
                                 "priority_bonus": 20}]}"#,
    );
    let d = p
        .route(from_bot(&["fraud"], &[("bot.intent", "Fraud")]))
        .unwrap();
    assert_eq!(d.priority, 21);
    assert_eq!(
        d.reason,
        "no topic queue -> queue general; attribute bot.intent=Fraud -> priority +20"
    );
    let d = p
        .route(from_bot(&["fraud"], &[("bot.intent", "fraud_report")]))
        .unwrap();
    assert_eq!(d.priority, 1, "exact match without prefix");
}

#[test]
fn scenario_bot_collected_data_picks_the_team() {
    let p = with(
        r#"{"default_queue": "general", "topic_teams": {"billing": "billing-team"},
            "attribute_rules": [{"attribute": "collected.account_type", "values": ["business"],
                                 "team": "business-desk"}]}"#,
    );
    let d = p
        .route(from_bot(
            &["billing"],
            &[("collected.account_type", "business")],
        ))
        .unwrap();
    assert_eq!(
        d.team.as_deref(),
        Some("business-desk"),
        "over the topic team"
    );
    assert_eq!(
        d.reason,
        "no topic queue -> queue general; \
         attribute collected.account_type=business -> team business-desk"
    );
    let d = p
        .route(from_bot(
            &["billing"],
            &[("collected.account_type", "personal")],
        ))
        .unwrap();
    assert_eq!(d.team.as_deref(), Some("billing-team"));
}

#[test]
fn scenario_an_incident_queue_wins_over_an_attribute_queue() {
    let p = with(
        r#"{"default_queue": "general", "incident_queue": "incident",
            "attribute_rules": [{"attribute": "auth.level", "values": ["none"],
                                 "queue": "verification", "tag": "unverified"}]}"#,
    );
    let mut input = from_bot(&["technical"], &[("auth.level", "none")]);
    input.contact.text = "the app is down".into();
    input.incidents = vec![Incident {
        id: "inc-42".into(),
        title: "Mobile app outage".into(),
        keywords: vec!["app is down".into()],
        products: vec![],
        started_at: testing::NOW - 3_600_000,
    }];
    let d = p.route(input).unwrap();
    assert_eq!(d.queue, "incident");
    assert_eq!(d.tags, ["incident:inc-42", "unverified"]);
    assert_eq!(
        d.reason,
        "incident inc-42 -> queue incident; \
         attribute auth.level=none -> queue verification not applied (incident queue), tag unverified"
    );
}

#[test]
fn scenario_every_matching_rule_contributes_the_first_queue_and_team_win() {
    let p = with(
        r#"{"default_queue": "general", "base_priority": 1,
            "legacy": {"tiers": ["legacy"], "queue": "legacy-desk"},
            "attribute_rules": [
              {"attribute": "auth.level", "values": ["none", "basic"], "queue": "verification",
               "priority_bonus": 5},
              {"attribute": "bot.intent", "values": ["card_lost"], "queue": "cards",
               "team": "cards-team", "priority_bonus": 10, "tag": "bot-card-lost",
               "required_skill": {"skill": "cards", "min_proficiency": 2}},
              {"attribute": "ivr.menu_path", "values": ["cards>"], "prefix": true,
               "team": "ivr-team", "tag": "ivr-cards"}
            ]}"#,
    );
    let mut input = from_bot(
        &["card_lost"],
        &[
            ("auth.level", "basic"),
            ("bot.intent", "card_lost"),
            ("ivr.menu_path", "cards>lost"),
        ],
    );
    input.contact.customer_tier = "legacy".into();
    let d = p.route(input).unwrap();
    assert_eq!(
        d.queue, "verification",
        "first rule with a queue, over legacy"
    );
    assert_eq!(
        d.team.as_deref(),
        Some("cards-team"),
        "first rule with a team"
    );
    assert_eq!(d.priority, 16);
    assert_eq!(
        d.required_skills,
        vec![SkillLevel {
            skill: "cards".into(),
            proficiency: 2
        }]
    );
    assert_eq!(d.tags, ["bot-card-lost", "ivr-cards", "legacy"]);
    assert_eq!(
        d.reason,
        "attribute auth.level=basic -> queue verification, priority +5; \
         attribute bot.intent=card_lost -> queue cards not applied (queue verification from an earlier rule), \
         priority +10, requires cards>=2, team cards-team, tag bot-card-lost; \
         attribute ivr.menu_path=cards>lost -> team ivr-team not applied (an earlier rule sets the team), \
         tag ivr-cards; requires cards>=2; legacy tier legacy"
    );
}
