//! Every bundled plugin, built from source by the build script, loads through
//! the real runtime with its manifest, activates with its default config and
//! answers a representative input the way its README says.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use serde_json::json;
use switchboard::bundled::{BUNDLED, BundledPlugin};
use switchboard::plugins::compliance::{Draft, Verdict};
use switchboard::plugins::escalation::{EscalationAction, EscalationInput};
use switchboard::plugins::kpi::{Emission, KpiInput};
use switchboard::plugins::routing::RoutingInput;
use switchboard::plugins::{
    ComplianceCheck, EscalationRule, KpiDefinition, LoadedPlugin, Manifest, PluginKind,
    PluginRuntime, RoutingPolicy, RuntimeConfig,
};

fn runtime() -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache")),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn bundled(name: &str) -> &'static BundledPlugin {
    BUNDLED
        .iter()
        .find(|p| p.crate_name == name)
        .unwrap_or_else(|| panic!("{name} is bundled"))
}

fn load(rt: &PluginRuntime, name: &str) -> Arc<LoadedPlugin> {
    let p = bundled(name);
    rt.load(Manifest::from_json(p.manifest).unwrap(), p.wasm)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn contact(text: &str, topics: &[&str], tier: &str) -> serde_json::Value {
    json!({
        "id": "c-1", "channel": "Chat", "customer_id": "cust-1", "customer_tier": tier,
        "language": "en", "topics": topics, "text": text, "sentiment": null,
        "attributes": [], "tags": [], "state": "New", "queue": null, "priority": 0,
        "agent_id": null, "transfers": 0, "complaint": false,
        "times": {"created_at": 1_700_000_000_000i64, "queued_at": null, "offered_at": null,
                  "answered_at": null, "wrap_up_at": null, "resolved_at": null,
                  "abandoned_at": null, "hold_ms": 0}
    })
}

fn history(repeats: u32, last_agent: Option<&str>) -> serde_json::Value {
    json!({"window_days": 30, "recent": [], "topic_counts": [], "same_topic_repeats": repeats,
           "last_agent": last_agent, "open_complaints": 0, "flags": []})
}

#[test]
fn one_plugin_of_each_kind_is_bundled() {
    let mut kinds: Vec<PluginKind> = BUNDLED
        .iter()
        .map(|p| Manifest::from_json(p.manifest).unwrap().kind)
        .collect();
    kinds.sort_by_key(|k| k.world());
    kinds.dedup();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
}

#[test]
fn skill_routing_routes_by_topic_tier_and_repeat_caller() {
    let rt = runtime();
    let act = load(&rt, "skill-routing")
        .activate::<RoutingPolicy>(None)
        .unwrap();
    let input: RoutingInput = serde_json::from_value(json!({
        "now": 1_700_000_000_000i64,
        "contact": contact("I was charged twice", &["billing"], "vip"),
        "history": history(1, Some("a-7")),
        "queues": [], "skills": [], "incidents": []
    }))
    .unwrap();
    let d = act.route(&input).unwrap();
    assert_eq!(d.queue, "billing");
    assert_eq!(d.priority, 11, "base 1 + vip 10: {}", d.reason);
    assert_eq!(d.required_skills.len(), 1);
    assert_eq!(d.required_skills[0].skill, "billing");
    assert_eq!(d.required_skills[0].proficiency, 3);
    assert_eq!(d.language.as_deref(), Some("en"));
    let preferred = d
        .preferred_agent
        .as_ref()
        .expect("repeat caller prefers the last agent");
    assert_eq!(
        (preferred.agent_id.as_str(), preferred.timeout_secs),
        ("a-7", 60)
    );
    assert_eq!(d.relaxation.len(), 2);
    assert!(
        d.reason.contains("billing") && d.reason.contains("a-7"),
        "{}",
        d.reason
    );
}

#[test]
fn complaint_escalation_marks_crises_and_starts_clocks() {
    let rt = runtime();
    let act = load(&rt, "complaint-escalation")
        .activate::<EscalationRule>(None)
        .unwrap();
    let input = |text: &str| -> EscalationInput {
        serde_json::from_value(json!({
            "now": 1_700_000_000_000i64,
            "event": {"kind": "Created", "at": 1_700_000_000_000i64, "sequence": 1},
            "contact": contact(text, &[], "standard"),
            "history": history(0, None),
            "queue": null, "deadlines": [], "incidents": []
        }))
        .unwrap()
    };
    let crisis = act
        .on_event(&input("Your outage cost me a day, my lawyer will call"))
        .unwrap();
    assert!(
        crisis.actions.iter().any(
            |a| matches!(a, EscalationAction::MarkComplaint(c) if c.category.contains("crisis"))
        ),
        "{crisis:?}"
    );
    let complaint = act
        .on_event(&input("This is unacceptable, I want a refund"))
        .unwrap();
    assert!(
        complaint.actions.iter().any(|a| matches!(a, EscalationAction::StartDeadline(d) if d.due_at == 1_700_000_000_000 + 24 * 3_600_000)),
        "{complaint:?}"
    );
    let calm = act
        .on_event(&input("What are your opening hours?"))
        .unwrap();
    assert!(calm.actions.is_empty(), "{calm:?}");
}

#[test]
fn brand_compliance_redacts_cards_with_character_spans() {
    let rt = runtime();
    let act = load(&rt, "brand-compliance")
        .activate::<ComplianceCheck>(None)
        .unwrap();
    let draft = |text: &str| -> Draft {
        serde_json::from_value(json!({
            "now": 1_700_000_000_000i64, "text": text,
            "context": {"contact_id": "c-1", "channel": "Chat", "customer_id": "cust-1",
                        "customer_tier": "standard", "topics": [], "language": "ko", "agent_id": "a-1"}
        }))
        .unwrap()
    };
    let text = "고객님 😀 카드 4111 1111 1111 1111 확인했습니다";
    let r = act.check(&draft(text)).unwrap();
    assert_ne!(r.verdict, Verdict::Approve);
    let card = r
        .findings
        .iter()
        .find(|f| f.span.is_some())
        .expect("a finding with a span");
    let span = card.span.unwrap();
    let spanned: String = text
        .chars()
        .skip(span.start as usize)
        .take((span.end - span.start) as usize)
        .collect();
    assert_eq!(
        spanned, "4111 1111 1111 1111",
        "spans count characters, not bytes"
    );
    let redacted = r.redacted_text.expect("redacted");
    assert!(
        !redacted.contains("4111 1111 1111 1111") && redacted.contains("1111"),
        "{redacted}"
    );

    let ok = act
        .check(&draft("Thanks for waiting, your order ships today."))
        .unwrap();
    assert_eq!(ok.verdict, Verdict::Approve);
    let banned = act
        .check(&draft("Calm down, that's not possible."))
        .unwrap();
    assert_eq!(banned.verdict, Verdict::Block);
}

#[test]
fn core_kpis_declares_measures_and_emits_service_level() {
    let rt = runtime();
    let act = load(&rt, "core-kpis")
        .activate::<KpiDefinition>(None)
        .unwrap();
    let measures = act.measures().unwrap();
    for m in [
        "service_level",
        "abandonment_rate",
        "average_speed_of_answer",
        "csat",
    ] {
        assert!(
            measures.iter().any(|x| x.name == m),
            "{m} missing: {measures:?}"
        );
    }
    let mut c = contact("", &["billing"], "standard");
    c["state"] = json!("Assigned");
    c["queue"] = json!("billing");
    c["agent_id"] = json!("a-1");
    c["times"]["queued_at"] = json!(1_700_000_000_000i64);
    c["times"]["answered_at"] = json!(1_700_000_012_000i64);
    let input: KpiInput = serde_json::from_value(json!({
        "now": 1_700_000_012_000i64,
        "event": {"kind": {"Answered": "a-1"}, "at": 1_700_000_012_000i64, "sequence": 3},
        "contact": c, "history": null, "agent": null
    }))
    .unwrap();
    let samples = act.on_event(&input).unwrap();
    let sample = |name: &str| {
        samples.iter().find_map(|e| match e {
            Emission::Record(s) if s.measure == name => Some(s.clone()),
            _ => None,
        })
    };
    let sl = sample("service_level").expect("service level sample");
    assert_eq!(
        (sl.value, sl.denominator),
        (1.0, 1.0),
        "answered in 12 s < 30 s"
    );
    let asa = sample("average_speed_of_answer").expect("ASA sample");
    assert_eq!(asa.value, 12.0);
}
