use serde::Deserialize;

use crate::__private;
use crate::compliance::{Severity, Span, Verdict};
use crate::escalation::{EscalationAction, Urgency};
use crate::kpi::{Emission, Sample};
use crate::routing::{RelaxationAction, RelaxationStep, RoutingDecision};
use crate::testing;
use crate::types::{Channel, Contact, ContactState, EventKind};

#[test]
fn contact_builder_has_empty_lists_and_fixed_time() {
    let c = testing::contact("c-42", Channel::Voice);
    assert_eq!(c.id, "c-42");
    assert_eq!(c.channel, Channel::Voice);
    assert_eq!(c.state, ContactState::New);
    assert!(c.topics.is_empty() && c.tags.is_empty() && c.attributes.is_empty());
    assert_eq!(c.times.created_at, testing::NOW);
    assert_eq!(c.times.answered_at, None);
}

#[test]
fn input_builders_use_now_and_a_first_time_history() {
    let input = testing::routing_input(testing::contact("c-1", Channel::Chat));
    assert_eq!(input.now, testing::NOW);
    assert_eq!(input.history.same_topic_repeats, 0);
    assert_eq!(input.history.last_agent, None);

    let esc = testing::escalation_input(
        testing::contact("c-1", Channel::Email),
        EventKind::Answered("a7".into()),
    );
    assert_eq!(esc.event.at, testing::NOW);
    assert_eq!(esc.event.kind, EventKind::Answered("a7".into()));

    let kpi = testing::kpi_input(None, EventKind::Resolved);
    assert!(kpi.contact.is_none() && kpi.history.is_none());
    let kpi = testing::kpi_input(
        Some(testing::contact("c-2", Channel::Sms)),
        EventKind::Created,
    );
    assert!(kpi.history.is_some());

    let d = testing::draft("hello");
    assert_eq!(d.text, "hello");
    assert_eq!(d.context.channel, Channel::Chat);
}

#[test]
fn contact_round_trips_through_json_in_the_hosts_format() {
    let mut c = testing::contact("c-1", Channel::Social);
    c.state = ContactState::WrapUp;
    c.sentiment = Some(-0.5);
    c.attributes = vec![crate::types::KeyValue::new("ivr", "1-2")];
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["channel"], "Social");
    assert_eq!(json["state"], "WrapUp");
    assert_eq!(json["customer_id"], "customer-1");
    let back: Contact = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.attribute("ivr"), Some("1-2"));
    assert_eq!(back.attribute("missing"), None);
}

#[test]
fn variants_serialize_externally_tagged() {
    let kind = EventKind::Answered("a7".into());
    assert_eq!(
        serde_json::to_string(&kind).unwrap(),
        r#"{"Answered":"a7"}"#
    );
    let kind: EventKind = serde_json::from_str(r#""WrapUp""#).unwrap();
    assert_eq!(kind, EventKind::WrapUp);
    let kind: EventKind = serde_json::from_str(r#"{"SentimentChanged":-0.25}"#).unwrap();
    assert_eq!(kind, EventKind::SentimentChanged(-0.25));

    let step = RelaxationStep {
        after_secs: 30,
        actions: vec![
            RelaxationAction::DropPreferredSkills,
            RelaxationAction::LowerProficiency(2),
        ],
    };
    assert_eq!(
        serde_json::to_string(&step).unwrap(),
        r#"{"after_secs":30,"actions":["DropPreferredSkills",{"LowerProficiency":2}]}"#
    );
    let action = EscalationAction::RaisePriority(5);
    assert_eq!(
        serde_json::to_string(&action).unwrap(),
        r#"{"RaisePriority":5}"#
    );
    let emission = Emission::Record(Sample::value("m", 1.0));
    assert!(
        serde_json::to_string(&emission)
            .unwrap()
            .starts_with(r#"{"Record":"#)
    );
}

#[test]
fn verdicts_and_severities_order_from_permissive_to_strict() {
    assert!(Verdict::Approve < Verdict::Revise);
    assert!(Verdict::Revise < Verdict::NeedsApproval);
    assert!(Verdict::NeedsApproval < Verdict::Block);
    assert!(Severity::Info < Severity::Critical);
    assert!(Urgency::High < Urgency::Critical);
}

#[test]
fn span_counts_unicode_scalar_values_not_bytes() {
    let text = "고객님 😀 카드 4111";
    let start = text.find("4111").unwrap();
    assert!(
        start > 12,
        "the Korean and the emoji take several bytes each"
    );
    let span = Span::from_byte_range(text, start..start + 4);
    assert_eq!(span, Span { start: 9, end: 13 });
    assert_eq!(span.len(), 4);
    let chars: String = text.chars().skip(9).take(4).collect();
    assert_eq!(chars, "4111");
    // Offsets past the end clamp to the end.
    assert_eq!(
        Span::from_byte_range("ab", 1..99),
        Span { start: 1, end: 2 }
    );
}

#[test]
fn sample_builders_fill_value_denominator_and_dimensions() {
    let s = Sample::ratio("service_level", 1.0, 1.0)
        .with_id("sl:c-1")
        .with_dimension("queue", "billing");
    assert_eq!(s.value, 1.0);
    assert_eq!(s.denominator, 1.0);
    assert_eq!(s.id.as_deref(), Some("sl:c-1"));
    assert_eq!(s.dimension("queue"), Some("billing"));
    assert_eq!(s.dimension("agent"), None);
}

#[test]
fn routing_decision_to_queue_starts_empty() {
    let d = RoutingDecision::to_queue("general", 3);
    assert_eq!((d.queue.as_str(), d.priority), ("general", 3));
    assert!(d.required_skills.is_empty() && d.preferred_agent.is_none() && d.reason.is_empty());
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoConfig {
    queue: String,
}

struct Echo(String);

fn new_echo(config: EchoConfig) -> Result<Echo, String> {
    if config.queue.is_empty() {
        return Err("queue must not be empty".into());
    }
    Ok(Echo(config.queue))
}

#[test]
fn configure_errors_name_the_plugin_and_the_problem() {
    __private::reset();
    let err = __private::configure::<Echo, EchoConfig>("echo", "{}", new_echo).unwrap_err();
    assert_eq!(
        err,
        "echo: invalid configuration: missing field `queue` at line 1 column 2"
    );
    let err = __private::configure::<Echo, EchoConfig>("echo", r#"{"queue":"q","x":1}"#, new_echo)
        .unwrap_err();
    assert!(
        err.starts_with("echo: invalid configuration: unknown field `x`"),
        "{err}"
    );
    let err =
        __private::configure::<Echo, EchoConfig>("echo", r#"{"queue":""}"#, new_echo).unwrap_err();
    assert_eq!(err, "echo: configuration rejected: queue must not be empty");
}

#[test]
fn calls_before_configure_fail_and_configure_replaces_the_instance() {
    __private::reset();
    let err = __private::instance::<Echo>("echo", "route").err().unwrap();
    assert_eq!(err, "echo: route called before configure");

    __private::configure::<Echo, EchoConfig>("echo", r#"{"queue":"one"}"#, new_echo).unwrap();
    assert_eq!(
        __private::instance::<Echo>("echo", "route").unwrap().0,
        "one"
    );
    __private::configure::<Echo, EchoConfig>("echo", r#"{"queue":"two"}"#, new_echo).unwrap();
    assert_eq!(
        __private::instance::<Echo>("echo", "route").unwrap().0,
        "two"
    );

    // A failed reconfiguration leaves no instance rather than the old one.
    assert!(__private::configure::<Echo, EchoConfig>("echo", "[]", new_echo).is_err());
    assert!(__private::instance::<Echo>("echo", "route").is_err());
}

#[test]
fn default_config_from_manifest_reports_missing_and_bad_configs() {
    let ok: EchoConfig =
        testing::default_config_from_manifest(r#"{"id":"echo","default_config":{"queue":"q"}}"#)
            .unwrap();
    assert_eq!(ok.queue, "q");
    let err = testing::default_config_from_manifest::<EchoConfig>(r#"{"id":"echo"}"#).unwrap_err();
    assert_eq!(err, "echo: manifest has no default_config");
    let err = testing::default_config_from_manifest::<EchoConfig>(
        r#"{"id":"echo","default_config":{"queue":1}}"#,
    )
    .unwrap_err();
    assert!(
        err.starts_with("echo: invalid configuration: invalid type"),
        "{err}"
    );
}

#[test]
fn channel_names_match_wit() {
    assert_eq!(Channel::Voice.as_str(), "voice");
    assert_eq!(Channel::Social.as_str(), "social");
    for c in [
        Channel::Voice,
        Channel::Email,
        Channel::Chat,
        Channel::Sms,
        Channel::Social,
    ] {
        // JSON uses the Rust name (as the host does); `as_str` the WIT name.
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(
            json.as_str().map(str::to_lowercase).as_deref(),
            Some(c.as_str())
        );
    }
}

#[test]
fn log_functions_and_macros_work_natively() {
    crate::log::info("plain line");
    crate::log::warn!("formatted {}", 42);
    crate::error!("at the crate root too: {}", "ok");
    assert_eq!(crate::log::level_name(crate::log::Level::Warn), "warn");
}

#[test]
fn wit_version_matches_the_wit_package() {
    let wit = include_str!("../../wit/types.wit");
    assert!(
        wit.contains(&format!(
            "package switchboard:rules@{};",
            crate::WIT_VERSION
        )),
        "WIT_VERSION is out of date"
    );
}
