use std::sync::Arc;

use super::*;
use crate::bundled::{BUNDLED, test_guests};
use crate::engine::{ContactEvent, EventKind};
use crate::plugins::{Manifest, PluginRuntime, RuntimeConfig};
use crate::store::Durability;

fn runtime() -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig::default()).unwrap()
}

fn skill_routing(rt: &PluginRuntime) -> Arc<Activation<RoutingPolicy>> {
    let p = BUNDLED
        .iter()
        .find(|p| p.crate_name == "skill-routing")
        .unwrap();
    let plugin = rt
        .load(Manifest::from_json(p.manifest).unwrap(), p.wasm)
        .unwrap();
    Arc::new(plugin.activate::<RoutingPolicy>(None).unwrap())
}

fn misbehaving(rt: &PluginRuntime, fail_policy: &str) -> Arc<Activation<RoutingPolicy>> {
    let manifest = Manifest::from_json(
        &serde_json::json!({"id": "misbehaving", "version": "0.0.1", "kind": "routing",
            "wit": "0.1.0", "fail_policy": fail_policy, "limits": {"timeout_ms": 250}})
        .to_string(),
    )
    .unwrap();
    let bytes = std::fs::read(test_guests::MISBEHAVING).unwrap();
    Arc::new(
        rt.load(manifest, &bytes)
            .unwrap()
            .activate::<RoutingPolicy>(None)
            .unwrap(),
    )
}

fn new_contact(text: &str, topics: &[&str]) -> NewContact {
    NewContact {
        channel: Channel::Chat,
        customer_id: "cust-1".into(),
        customer_tier: "vip".into(),
        language: "en".into(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        text: text.into(),
        sentiment: None,
        attributes: Default::default(),
        occurred_at: Some(1_700_000_000_000),
    }
}

#[test]
fn ingest_routes_persists_and_audits_the_decision_with_the_plugin_version() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let id;
    {
        let engine = Engine::new(
            SledStore::open(dir.path(), Durability::Group).unwrap(),
            FallbackQueues::default(),
        )
        .unwrap();
        engine.set_routing(Some(skill_routing(&rt)));
        let got = engine
            .ingest(new_contact("charged twice", &["billing"]))
            .unwrap();
        assert_eq!(got.contact.state, ContactState::Queued);
        assert_eq!(got.contact.requirements.queue, "billing");
        assert_eq!(got.contact.requirements.priority, 11);
        assert!(got.reason.contains("billing"), "{}", got.reason);
        match &got.decided_by {
            DecidedBy::Plugin {
                plugin,
                version,
                digest,
            } => {
                assert_eq!(
                    (plugin.as_str(), version.as_str()),
                    ("skill-routing", "0.1.0")
                );
                assert_eq!(digest.len(), 64);
            }
            other => panic!("{other:?}"),
        }
        let audit = engine.audit().read(got.audit_seq, 1).unwrap();
        assert_eq!(audit[0].entry.subject, got.contact.id);
        assert_eq!(audit[0].entry.data()["outcome"], "ok");
        assert_eq!(
            audit[0].entry.data()["input"]["contact"]["text"],
            "charged twice"
        );
        id = got.contact.id;
    }
    // Acknowledged means durable: a new engine on the same directory has it.
    let engine = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap();
    let c = engine
        .contact(&id)
        .unwrap()
        .expect("contact survives reopening");
    assert_eq!(c.requirements.queue, "billing");
    assert_eq!(engine.audit().verify().unwrap().broken, None);
}

#[test]
fn a_failing_plugin_never_loses_the_contact_and_the_fail_policy_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap();
    engine.set_routing(Some(misbehaving(&rt, "fail-open")));
    let open = engine.ingest(new_contact("panic", &[])).unwrap();
    assert_eq!(open.contact.requirements.queue, "general");
    assert!(matches!(
        open.decided_by,
        DecidedBy::FailPolicy {
            policy: FailPolicy::FailOpen,
            outcome: Some(CallOutcome::Trap),
            ..
        }
    ));
    let audit = engine.audit().read(open.audit_seq, 1).unwrap();
    assert_eq!(audit[0].entry.data()["outcome"], "trap");

    engine.set_routing(Some(misbehaving(&rt, "fail-closed")));
    let closed = engine.ingest(new_contact("loop", &[])).unwrap();
    assert_eq!(closed.contact.requirements.queue, "triage");
    let audit = engine.audit().read(closed.audit_seq, 1).unwrap();
    assert_eq!(audit[0].entry.data()["outcome"], "timeout");

    // The next contact is routed by the plugin again.
    let ok = engine.ingest(new_contact("fine", &[])).unwrap();
    assert!(matches!(ok.decided_by, DecidedBy::Plugin { .. }));
    assert_eq!(engine.audit().verify().unwrap().records, 3);
}

#[test]
fn with_no_policy_contacts_go_to_the_default_queue() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap();
    let got = engine.ingest(new_contact("hello", &[])).unwrap();
    assert_eq!(got.contact.requirements.queue, "general");
    let err = engine
        .ingest(NewContact {
            customer_id: " ".into(),
            ..new_contact("x", &[])
        })
        .unwrap_err();
    assert!(err.to_string().contains("customer_id"), "{err}");
}

#[test]
fn concurrent_ingest_is_durable_and_shares_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = Arc::new(
        Engine::new(
            SledStore::open(dir.path(), Durability::Group).unwrap(),
            FallbackQueues::default(),
        )
        .unwrap(),
    );
    engine.set_routing(Some(skill_routing(&rt)));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        engine
                            .ingest(new_contact("hi", &["technical"]))
                            .unwrap()
                            .contact
                            .id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 100);
    let (acked, flushes) = engine.store().commit_stats();
    assert_eq!(acked, 100);
    assert!(flushes <= 100);
    for id in &ids {
        assert_eq!(
            engine.contact(id).unwrap().unwrap().requirements.queue,
            "tech-support"
        );
    }
    assert_eq!(engine.audit().verify().unwrap().records, 100);
}

#[test]
fn repeat_callers_are_seen_through_the_customer_history_window() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap();
    engine.set_routing(Some(skill_routing(&rt)));
    let day = 86_400_000;
    let at = |t: i64, topic: &str| NewContact {
        occurred_at: Some(t),
        ..new_contact("again", &[topic])
    };
    // 40 days ago: outside the 30-day window.
    let old = engine
        .ingest(at(1_700_000_000_000 - 40 * day, "billing"))
        .unwrap();
    let first = engine.ingest(at(1_700_000_000_000, "billing")).unwrap();
    assert!(
        !first.contact.tags.contains(&"repeat".to_owned()),
        "{}",
        first.reason
    );
    engine
        .ingest(at(1_700_000_000_000 + day, "technical"))
        .unwrap();
    let again = engine
        .ingest(at(1_700_000_000_000 + 2 * day, "billing"))
        .unwrap();
    assert!(
        again.contact.tags.contains(&"repeat".to_owned()),
        "{}",
        again.reason
    );
    let audit = engine.audit().read(again.audit_seq, 1).unwrap();
    let history = &audit[0].entry.data()["input"]["history"];
    assert_eq!(
        history["same_topic_repeats"], 1,
        "only the billing contact in the window"
    );
    let recent: Vec<&str> = history["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(recent.len(), 2, "newest first, window only: {recent:?}");
    assert_eq!(recent[1], first.contact.id);
    assert!(!recent.contains(&old.contact.id.as_str()));
    // Another customer's contacts are not in this history.
    let other = engine
        .ingest(NewContact {
            customer_id: "cust-2".into(),
            ..at(1_700_000_000_000 + 3 * day, "billing")
        })
        .unwrap();
    assert!(!other.contact.tags.contains(&"repeat".to_owned()));
}

fn agent(id: &str, skills: &[(&str, u8)], chat: u32) -> crate::domain::Agent {
    crate::domain::Agent {
        id: id.into(),
        name: id.into(),
        skills: skills.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
        languages: vec!["en".into()],
        teams: vec![],
        capacity: [(Channel::Chat, chat)].into_iter().collect(),
        status: crate::domain::AgentStatus::Available,
        load: Default::default(),
        idle_since: 0,
    }
}

#[test]
fn contacts_are_offered_to_an_agent_with_the_required_skill() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let engine = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap();
    engine.set_routing(Some(skill_routing(&rt)));
    engine.upsert_agent(agent("generalist", &[], 3)).unwrap();
    engine
        .upsert_agent(agent("novice", &[("billing", 2)], 3))
        .unwrap();
    engine
        .upsert_agent(agent("expert", &[("billing", 4)], 3))
        .unwrap();
    let got = engine
        .ingest(new_contact("charged twice", &["billing"]))
        .unwrap();
    assert_eq!(
        got.offered_to.as_deref(),
        Some("expert"),
        "billing >= 3 is required"
    );
    let c = engine.contact(&got.contact.id).unwrap().unwrap();
    assert_eq!(
        (c.state, c.agent_id.as_deref()),
        (ContactState::Offered, Some("expert"))
    );
    assert_eq!(engine.events(&c.id).unwrap().len(), 1);
}

#[test]
fn capacity_holds_under_concurrent_ingest_and_freed_capacity_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::new(
            SledStore::open(dir.path(), Durability::Group).unwrap(),
            FallbackQueues::default(),
        )
        .unwrap(),
    );
    engine.upsert_agent(agent("a", &[], 2)).unwrap();
    engine.upsert_agent(agent("b", &[], 2)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    engine.ingest(new_contact("hello", &[])).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (agents, waiting) = engine.floor();
    for a in &agents {
        assert_eq!(
            a.load.get(&Channel::Chat),
            Some(&2),
            "{}: {:?}",
            a.id,
            a.load
        );
    }
    assert_eq!(waiting, 16);

    // Finish one of agent a's contacts: the longest-waiting contact gets the seat.
    let offered: Vec<String> = (1..=20)
        .filter_map(|i| {
            let id = format!("c-{i:012}");
            engine
                .contact(&id)
                .ok()
                .flatten()
                .filter(|c| c.agent_id.as_deref() == Some("a"))
                .map(|c| c.id)
        })
        .collect();
    let any_of_a = offered.first().expect("a has contacts").clone();
    let ev = |kind: EventKind| ContactEvent {
        kind,
        occurred_at: Some(1_700_000_100_000),
    };
    engine
        .record_event(&any_of_a, ev(EventKind::Answer))
        .unwrap();
    engine
        .record_event(&any_of_a, ev(EventKind::WrapUp))
        .unwrap();
    engine
        .record_event(&any_of_a, ev(EventKind::Resolve))
        .unwrap();
    let (agents, waiting) = engine.floor();
    assert_eq!(waiting, 15, "the freed seat was filled");
    assert!(
        agents
            .iter()
            .all(|a| a.load.get(&Channel::Chat) == Some(&2))
    );

    // A restart rebuilds the same floor from the store.
    drop(agents);
    let reopened = {
        drop(engine);
        Engine::new(
            SledStore::open(dir.path(), Durability::Group).unwrap(),
            FallbackQueues::default(),
        )
        .unwrap()
    };
    let (agents, waiting) = reopened.floor();
    assert_eq!(waiting, 15);
    assert!(
        agents
            .iter()
            .all(|a| a.load.get(&Channel::Chat) == Some(&2))
    );
}

#[test]
fn an_agent_coming_back_from_break_gets_the_waiting_contact() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap();
    let mut on_break = agent("a", &[], 1);
    on_break.status = crate::domain::AgentStatus::Break;
    engine.upsert_agent(on_break).unwrap();
    let got = engine.ingest(new_contact("hello", &[])).unwrap();
    assert_eq!(got.offered_to, None, "nobody on break is offered a contact");
    let offers = engine
        .set_agent_status("a", crate::domain::AgentStatus::Available)
        .unwrap();
    assert_eq!(offers, vec![(got.contact.id.clone(), "a".to_owned())]);
    let err = engine
        .set_agent_status("ghost", crate::domain::AgentStatus::Available)
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound(_)));
}
