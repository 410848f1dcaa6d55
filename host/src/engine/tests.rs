use std::sync::Arc;

use super::*;
use crate::bundled::{BUNDLED, test_guests};
use crate::engine::{ContactEvent, EventKind};
use crate::plugins::{Manifest, PluginRuntime, RuntimeConfig};
use crate::store::{Durability, SledStore};

/// One runtime for all engine tests, with a compile cache: each component
/// is compiled once per test run, not once per test.
fn runtime() -> &'static PluginRuntime {
    static RT: std::sync::OnceLock<(PluginRuntime, tempfile::TempDir)> = std::sync::OnceLock::new();
    &RT.get_or_init(|| {
        let cache = tempfile::tempdir().unwrap();
        let rt = PluginRuntime::new(RuntimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..RuntimeConfig::default()
        })
        .unwrap();
        (rt, cache)
    })
    .0
}

/// A bundled plugin, activated with its default config. Its time limit is
/// raised: these tests are about the engine, and a loaded CI machine may
/// deschedule a call for longer than the manifest's 10 ms (the limits are
/// tested held and exceeded in `tests/plugin_runtime.rs`).
fn bundled<W: crate::plugins::World>(rt: &PluginRuntime, name: &str) -> Arc<Activation<W>> {
    let p = BUNDLED.iter().find(|p| p.crate_name == name).unwrap();
    let mut manifest = Manifest::from_json(p.manifest).unwrap();
    manifest.limits.timeout_ms = Some(2_000);
    let plugin = rt.load(manifest, p.wasm).unwrap();
    Arc::new(plugin.activate::<W>(None).unwrap())
}

fn skill_routing(rt: &PluginRuntime) -> Arc<Activation<RoutingPolicy>> {
    bundled(rt, "skill-routing")
}

fn misbehaving(rt: &PluginRuntime, fail_policy: &str) -> Arc<Activation<RoutingPolicy>> {
    let manifest = Manifest::from_json(
        &serde_json::json!({"id": "misbehaving", "version": "0.0.1", "kind": "routing",
            "wit": "0.2.0", "fail_policy": fail_policy, "limits": {"timeout_ms": 250}})
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
        engine.set_routing(Some(skill_routing(rt)));
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
                ..
            } => {
                assert_eq!(
                    (plugin.as_str(), version.as_str()),
                    ("skill-routing", "0.1.0")
                );
                assert_eq!(digest.len(), 64);
            }
            other => panic!("{other:?}"),
        }
        let audit = engine.audit.read(got.audit_seq, 1).unwrap();
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
    assert_eq!(engine.audit.verify().unwrap().broken, None);
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
    engine.set_routing(Some(misbehaving(rt, "fail-open")));
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
    let audit = engine.audit.read(open.audit_seq, 1).unwrap();
    assert_eq!(audit[0].entry.data()["outcome"], "trap");

    engine.set_routing(Some(misbehaving(rt, "fail-closed")));
    let closed = engine.ingest(new_contact("loop", &[])).unwrap();
    assert_eq!(closed.contact.requirements.queue, "triage");
    let audit = engine.audit.read(closed.audit_seq, 1).unwrap();
    assert_eq!(audit[0].entry.data()["outcome"], "limit");

    // The next contact is routed by the plugin again.
    let ok = engine.ingest(new_contact("fine", &[])).unwrap();
    assert!(matches!(ok.decided_by, DecidedBy::Plugin { .. }));
    assert_eq!(engine.audit.verify().unwrap().records, 3);
}

#[test]
fn attributes_a_policy_sets_land_on_the_contact_and_in_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap();
    engine.set_routing(Some(misbehaving(runtime(), "fail-open")));
    let mut contact = new_contact("attr:segment=gold", &[]);
    contact.attributes.insert("crm.id".into(), "42".into());
    contact.attributes.insert("segment".into(), "bronze".into());
    let got = engine.ingest(contact).unwrap();
    assert_eq!(
        got.contact.attributes["segment"], "gold",
        "the policy's value wins"
    );
    assert_eq!(got.contact.attributes["crm.id"], "42", "others are kept");
    let audit = engine.audit.read(got.audit_seq, 1).unwrap();
    assert_eq!(
        audit[0].entry.data()["output"]["attributes"],
        serde_json::json!([{"key": "segment", "value": "gold"}])
    );
    let stored = engine.contact(&got.contact.id).unwrap().unwrap();
    assert_eq!(stored.attributes["segment"], "gold");
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
    engine.set_routing(Some(skill_routing(rt)));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        let got = engine.ingest(new_contact("hi", &["technical"])).unwrap();
                        assert!(
                            matches!(got.decided_by, DecidedBy::Plugin { .. }),
                            "{:?}",
                            got.decided_by
                        );
                        got.contact.id
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
    let (acked, flushes) = engine.store.commit_stats();
    assert_eq!(acked, 100);
    assert!(flushes <= 100);
    for id in &ids {
        assert_eq!(
            engine.contact(id).unwrap().unwrap().requirements.queue,
            "tech-support"
        );
    }
    assert_eq!(engine.audit.verify().unwrap().records, 100);
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
    engine.set_routing(Some(skill_routing(rt)));
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
    let audit = engine.audit.read(again.audit_seq, 1).unwrap();
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
        status_since: 0,
        period_since: 0,
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
    engine.set_routing(Some(skill_routing(rt)));
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

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn open(
    dir: &std::path::Path,
    rt: &PluginRuntime,
    clock: Arc<std::sync::atomic::AtomicI64>,
) -> Engine {
    let engine = Engine::with_quarantine(
        Arc::new(SledStore::open(dir, Durability::Group).unwrap()),
        FallbackQueues::default(),
        3,
    )
    .unwrap()
    .with_clock(move || clock.load(std::sync::atomic::Ordering::SeqCst));
    engine.set_routing(Some(skill_routing(rt)));
    engine
        .escalation()
        .activate("complaint-escalation", bundled(rt, "complaint-escalation"));
    engine
        .activate_kpi("core-kpis", bundled(rt, "core-kpis"))
        .unwrap();
    engine
}

fn clock_at(t: i64) -> Arc<std::sync::atomic::AtomicI64> {
    Arc::new(std::sync::atomic::AtomicI64::new(t))
}

#[test]
fn a_complaint_is_marked_its_deadline_timers_survive_restart_and_fire_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let clock = clock_at(T0);
    let id = {
        let e = open(dir.path(), rt, clock.clone());
        let got = e
            .ingest(new_contact(
                "this is unacceptable, I was charged twice",
                &["billing"],
            ))
            .unwrap();
        let c = &got.contact;
        assert_eq!(c.complaint.as_ref().unwrap().category, "billing");
        assert!(c.tags.contains(&"complaint".to_owned()), "{:?}", c.tags);
        let d = &c.deadlines[0];
        assert_eq!((d.name.as_str(), d.due_at), ("acknowledge", T0 + 24 * HOUR));
        let timers = e.pending_timers().unwrap();
        let deadline_timers: Vec<_> = timers
            .iter()
            .filter(|t| !matches!(t.kind, TimerKind::Rematch))
            .map(|t| t.due_at)
            .collect();
        assert_eq!(deadline_timers, vec![T0 + 18 * HOUR, T0 + 24 * HOUR]);
        // The relaxation steps (90 s, 300 s) are due; the deadline is not.
        assert_eq!(e.fire_due_timers(T0 + HOUR).unwrap(), 2);
        got.contact.id
    };
    // Restart: the timers are still there and fire when due.
    {
        let e = open(dir.path(), rt, clock.clone());
        let before = e.notifications(0, 100).unwrap().len();
        let fired = e.fire_due_timers(T0 + 18 * HOUR).unwrap();
        assert_eq!(fired, 1, "the warning");
        let notes = e.notifications(0, 100).unwrap();
        assert_eq!(notes.len(), before + 1);
        let warning = notes.last().unwrap();
        assert!(
            warning.message.contains("not yet acknowledged"),
            "{warning:?}"
        );
        assert_eq!(
            (warning.contact_id.as_str(), warning.target.as_str()),
            (id.as_str(), "supervisor")
        );
        assert_eq!(e.fire_due_timers(T0 + 18 * HOUR).unwrap(), 0, "fired once");
    }
    let e = open(dir.path(), rt, clock);
    assert_eq!(
        e.fire_due_timers(T0 + 18 * HOUR).unwrap(),
        0,
        "once, across restarts"
    );
    assert_eq!(e.fire_due_timers(T0 + 24 * HOUR).unwrap(), 1);
    let c = e.contact(&id).unwrap().unwrap();
    assert_eq!(c.deadlines[0].breached_at, Some(T0 + 24 * HOUR));
    let notes = e.notifications(0, 100).unwrap();
    assert!(
        notes
            .last()
            .unwrap()
            .message
            .contains("not acknowledged in time")
    );
    assert!(e.pending_timers().unwrap().is_empty());
    // Each firing is an audited escalation decision about the contact.
    let records = e
        .audit
        .query(
            &crate::audit::AuditQuery {
                subject: Some(id.clone()),
                kind: Some("escalation.decision".into()),
                ..Default::default()
            },
            100,
        )
        .unwrap();
    assert_eq!(
        records.len(),
        4,
        "created, the relaxation's overflow to general (queued there), warning, breach"
    );
    let last = records.last().unwrap().entry.data();
    assert_eq!(last["plugin"], "complaint-escalation");
    assert_eq!(last["outcome"], "ok");
    assert!(
        last["input"]["event"]["kind"]
            .get("DeadlineBreached")
            .is_some(),
        "{last}"
    );
    assert_eq!(e.audit.verify().unwrap().broken, None);
}

#[test]
fn answering_stops_the_clock_so_its_timers_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    let id = e
        .ingest(new_contact("I want a refund", &["billing"]))
        .unwrap()
        .contact
        .id;
    e.record_event(
        &id,
        ContactEvent {
            kind: EventKind::Offer {
                agent_id: "a-1".into(),
            },
            occurred_at: Some(T0 + 1_000),
        },
    )
    .unwrap();
    let (c, _) = e
        .record_event(
            &id,
            ContactEvent {
                kind: EventKind::Answer,
                occurred_at: Some(T0 + 2_000),
            },
        )
        .unwrap();
    assert_eq!(
        c.deadlines[0].stopped_at,
        Some(T0 + 2_000),
        "stopped by the rule"
    );
    let notes = e.notifications(0, 100).unwrap().len();
    assert_eq!(e.fire_due_timers(T0 + 25 * HOUR).unwrap(), 4);
    assert_eq!(
        e.notifications(0, 100).unwrap().len(),
        notes,
        "no warning, no breach"
    );
    assert_eq!(
        e.contact(&id).unwrap().unwrap().deadlines[0].breached_at,
        None
    );
}

#[test]
fn lifecycle_events_become_kpi_samples_that_queries_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    let mut ids = Vec::new();
    for (i, topic) in ["billing", "billing", "technical"].iter().enumerate() {
        let id = e
            .ingest(NewContact {
                occurred_at: Some(T0 + i as i64),
                ..new_contact("hello", &[topic])
            })
            .unwrap()
            .contact
            .id;
        ids.push(id);
    }
    // Answer the first billing contact after 10 s and the technical one
    // after 60 s; abandon the second billing contact.
    let ev = |kind, at| ContactEvent {
        kind,
        occurred_at: Some(T0 + at),
    };
    let offer = || EventKind::Offer {
        agent_id: "a-1".into(),
    };
    e.record_event(&ids[0], ev(offer(), 5_000)).unwrap();
    e.record_event(&ids[0], ev(EventKind::Answer, 10_000))
        .unwrap();
    e.record_event(&ids[1], ev(EventKind::Abandon, 20_000))
        .unwrap();
    e.record_event(&ids[2], ev(offer(), 50_000)).unwrap();
    e.record_event(&ids[2], ev(EventKind::Answer, 60_000))
        .unwrap();
    let measures: Vec<String> = e.measures().into_iter().map(|m| m.name).collect();
    assert!(
        measures.contains(&"service_level".to_owned()),
        "{measures:?}"
    );
    let query = |measure: &str, group_by: &[&str]| {
        e.kpi_query(&KpiQuery {
            measure: measure.into(),
            slot: None,
            from: T0 - HOUR,
            to: T0 + HOUR,
            bucket_ms: 2 * HOUR,
            group_by: group_by.iter().map(|g| g.to_string()).collect(),
            filter: Default::default(),
        })
        .unwrap()
    };
    let handled = query("contacts_handled", &[]);
    assert_eq!(handled.points.len(), 1);
    assert_eq!(handled.points[0].value, Some(2.0));
    let sl = query("service_level", &["queue"]);
    let by_queue: std::collections::BTreeMap<String, Option<f64>> = sl
        .points
        .iter()
        .map(|p| (p.group["queue"].clone(), p.value))
        .collect();
    // billing: one answered within 30 s, one abandoned -> 0.5;
    // tech-support: answered after 60 s -> 0.0.
    assert_eq!(by_queue["billing"], Some(0.5));
    assert_eq!(by_queue["tech-support"], Some(0.0));
    let err = e
        .kpi_query(&KpiQuery {
            measure: "nope".into(),
            slot: None,
            from: T0,
            to: T0 + 1,
            bucket_ms: 60_000,
            group_by: vec![],
            filter: Default::default(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("service_level"), "{err}");
    // Aggregates are rebuilt from the stored samples at start.
    drop(e);
    let e = open(dir.path(), rt, clock_at(T0));
    let again = e
        .kpi_query(&KpiQuery {
            measure: "contacts_handled".into(),
            slot: None,
            from: T0 - HOUR,
            to: T0 + HOUR,
            bucket_ms: 2 * HOUR,
            group_by: vec![],
            filter: Default::default(),
        })
        .unwrap();
    assert_eq!(again.points, handled.points);
}

#[test]
fn a_plugin_that_traps_on_every_call_is_quarantined_and_contacts_are_still_routed() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    e.set_routing(Some(misbehaving(rt, "fail-open")));
    let mut decided = Vec::new();
    for _ in 0..5 {
        let got = e.ingest(new_contact("panic", &["billing"])).unwrap();
        assert_eq!(
            got.contact.requirements.queue, "general",
            "fail-open default queue"
        );
        decided.push(got.decided_by);
    }
    for d in &decided[..3] {
        assert!(
            matches!(
                d,
                DecidedBy::FailPolicy {
                    outcome: Some(CallOutcome::Trap),
                    ..
                }
            ),
            "{d:?}"
        );
    }
    for d in &decided[3..] {
        let DecidedBy::FailPolicy {
            error,
            outcome: None,
            ..
        } = d
        else {
            panic!("{d:?}")
        };
        assert!(error.contains("quarantined"), "{error}");
    }
    let q = e.routing().quarantined().expect("quarantined");
    assert_eq!(q.failures, 3);
    let audit = e
        .audit
        .query(
            &crate::audit::AuditQuery {
                kind: Some("plugin.quarantine".into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(audit.len(), 1);
    let data = audit[0].entry.data();
    assert_eq!(
        (
            data["plugin"].as_str(),
            data["consecutive_failures"].as_u64()
        ),
        (Some("misbehaving"), Some(3))
    );
    assert!(
        data["last_error"].as_str().unwrap().contains("trapped"),
        "{data}"
    );
    // The audit log answers "what did this plugin decide?".
    let by_plugin = e
        .audit
        .query(
            &crate::audit::AuditQuery {
                plugin: Some("misbehaving".into()),
                ..Default::default()
            },
            100,
        )
        .unwrap();
    assert_eq!(by_plugin.len(), 3, "the three failed calls");
    assert!(
        by_plugin
            .iter()
            .all(|r| r.entry.data()["outcome"] == "trap")
    );
    // Activating a version again ends the quarantine.
    e.set_routing(Some(skill_routing(rt)));
    let got = e.ingest(new_contact("hello", &["billing"])).unwrap();
    assert_eq!(got.contact.requirements.queue, "billing");
}

#[test]
fn under_last_good_the_previous_version_answers_when_the_new_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    e.set_routing(Some(misbehaving(rt, "last-good")));
    let got = e.ingest(new_contact("panic", &["billing"])).unwrap();
    assert_eq!(
        got.contact.requirements.queue, "billing",
        "skill-routing answered"
    );
    let DecidedBy::Plugin {
        plugin,
        primary_error,
        ..
    } = &got.decided_by
    else {
        panic!("{:?}", got.decided_by)
    };
    assert_eq!(plugin, "skill-routing");
    assert!(
        primary_error.as_deref().unwrap().contains("misbehaving"),
        "{primary_error:?}"
    );
    let record = e.audit.get(got.audit_seq).unwrap().unwrap();
    assert!(
        record.entry.actor.starts_with("plugin:skill-routing@"),
        "{}",
        record.entry.actor
    );
    // Once quarantined, the previous version serves directly.
    for _ in 0..3 {
        e.ingest(new_contact("panic", &["billing"])).unwrap();
    }
    assert!(e.routing().quarantined().is_some());
    let current = e.routing().current().unwrap();
    assert_eq!(&*current.plugin().id().id, "skill-routing");
}

#[test]
fn a_relaxation_step_offers_the_waiting_contact_when_its_timer_fires() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    e.upsert_agent(Agent {
        id: "a-1".into(),
        name: "Ana".into(),
        skills: [("billing".to_owned(), 2)].into(),
        languages: vec!["en".into()],
        teams: vec![],
        capacity: [(Channel::Chat, 1)].into(),
        status: AgentStatus::Available,
        load: Default::default(),
        idle_since: 0,
        status_since: 0,
        period_since: 0,
    })
    .unwrap();
    let got = e.ingest(new_contact("hello", &["billing"])).unwrap();
    assert_eq!(got.offered_to, None, "billing needs proficiency 3");
    assert_eq!(e.fire_due_timers(T0 + 89_000).unwrap(), 0);
    assert_eq!(e.fire_due_timers(T0 + 90_000).unwrap(), 1);
    let c = e.contact(&got.contact.id).unwrap().unwrap();
    assert_eq!(
        (c.state, c.agent_id.as_deref()),
        (ContactState::Offered, Some("a-1"))
    );
}

#[test]
fn the_timer_thread_fires_due_timers_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let clock = clock_at(T0);
    let e = Arc::new(open(dir.path(), rt, clock.clone()));
    e.ingest(new_contact("this is unacceptable", &["billing"]))
        .unwrap();
    let thread = e.start_timers().unwrap();
    // Move the clock past every timer; the thread sees it within a second.
    clock.store(T0 + 25 * HOUR, std::sync::atomic::Ordering::SeqCst);
    let fired = e.wait_timers_fired(4, std::time::Duration::from_secs(30));
    e.stop_timers();
    thread.join().unwrap();
    assert_eq!(
        fired, 4,
        "two relaxation steps, the warning and the due time"
    );
    assert!(e.pending_timers().unwrap().is_empty());
}

#[test]
fn a_draft_goes_through_the_compliance_checks_with_findings_redaction_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    e.compliance()
        .activate("brand-compliance", bundled(rt, "brand-compliance"));
    let id = e
        .ingest(new_contact("where is my refund?", &["billing"]))
        .unwrap()
        .contact
        .id;
    let text = "Sure — your card 4111 1111 1111 1111 is on file, we guarantee it.";
    let got = e.check_draft(&id, "a-1", text).unwrap();
    assert_ne!(
        got.verdict,
        crate::plugins::compliance::Verdict::Approve,
        "{got:?}"
    );
    let card = got
        .findings
        .iter()
        .find(|f| f.finding.span.is_some() && f.finding.rule_id.contains("card"))
        .unwrap_or_else(|| panic!("no card finding: {got:?}"));
    let span = card.finding.span.unwrap();
    let chars: Vec<char> = text.chars().collect();
    let flagged: String = chars[span.start as usize..span.end as usize]
        .iter()
        .collect();
    assert_eq!(flagged, "4111 1111 1111 1111", "spans count characters");
    assert!(!got.redacted_text.unwrap().contains("4111 1111"));
    assert!(got.unchecked.is_empty());
    let record = e.audit.get(got.audit[0]).unwrap().unwrap();
    assert_eq!(record.entry.kind, "compliance.decision");
    assert_eq!(record.entry.subject, id);
    // A clean draft is approved.
    let ok = e
        .check_draft(
            &id,
            "a-1",
            "Thanks for waiting, I have corrected the charge.",
        )
        .unwrap();
    assert_eq!(
        ok.verdict,
        crate::plugins::compliance::Verdict::Approve,
        "{ok:?}"
    );
    let err = e.check_draft("c-nope", "a-1", "hi").unwrap_err();
    assert!(matches!(err, EngineError::NotFound(_)));
}

#[test]
fn a_watched_version_is_kept_below_the_failure_rate_and_rolled_back_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // No quarantine in the way: this is about the failure rate.
    let e = Engine::with_quarantine(
        Arc::new(SledStore::open(dir.path(), Durability::Group).unwrap()),
        FallbackQueues::default(),
        100,
    )
    .unwrap();
    e.set_routing(Some(skill_routing(rt)));
    e.routing().activate_watched(misbehaving(rt, "fail-open"));
    let route = |text: &str| {
        e.ingest(new_contact(text, &["billing"]))
            .unwrap()
            .decided_by
    };
    // 6 good calls, then 4 failures: 4 of 10 is under the 50 % threshold.
    for _ in 0..6 {
        assert!(matches!(route("hello"), DecidedBy::Plugin { .. }));
    }
    for _ in 0..4 {
        assert!(matches!(route("panic"), DecidedBy::FailPolicy { .. }));
    }
    assert_eq!(
        &*e.routing().current().unwrap().plugin().id().id,
        "misbehaving",
        "held"
    );
    assert!(e.routing().take_rollback().is_none());
    // Two more: 6 of 12 reaches it, and skill-routing is back.
    route("panic");
    route("panic");
    assert_eq!(
        &*e.routing().current().unwrap().plugin().id().id,
        "skill-routing"
    );
    let rb = e
        .routing()
        .take_rollback()
        .expect("recorded for the registry");
    assert_eq!((rb.calls, rb.failures), (12, 6));
    let DecidedBy::Plugin { plugin, .. } = route("panic") else {
        panic!("the previous version answers")
    };
    assert_eq!(plugin, "skill-routing");
}

/// Issue 18: an offer made by the engine's own dispatch ends the agent's
/// idle period; the idle time before it is not counted as busy.
#[test]
fn an_offer_by_dispatch_ends_the_idle_period_so_occupancy_counts_only_handling() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = Engine::new(
        SledStore::open(dir.path(), Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap()
    .with_clock(|| T0);
    e.activate_kpi("core-kpis", bundled(rt, "core-kpis"))
        .unwrap();
    e.upsert_agent_at(agent("a", &[], 1), Some(T0)).unwrap();
    let got = e
        .ingest(NewContact {
            occurred_at: Some(T0 + 60_000),
            ..new_contact("hello", &[])
        })
        .unwrap();
    assert_eq!(got.offered_to.as_deref(), Some("a"), "offered by dispatch");
    let id = got.contact.id;
    for (kind, at) in [
        (EventKind::Answer, 60_000),
        (EventKind::WrapUp, 120_000),
        (EventKind::Resolve, 120_000),
    ] {
        e.record_event(
            &id,
            ContactEvent {
                kind,
                occurred_at: Some(T0 + at),
            },
        )
        .unwrap();
    }
    e.set_agent_status_at("a", AgentStatus::Offline, Some(T0 + 180_000))
        .unwrap();
    let occupancy = e
        .kpi_query(&KpiQuery {
            measure: "occupancy".into(),
            slot: None,
            from: T0 - T0 % HOUR,
            to: T0 - T0 % HOUR + HOUR,
            bucket_ms: HOUR,
            group_by: vec![],
            filter: Default::default(),
        })
        .unwrap();
    let value = occupancy.points[0].value.unwrap();
    assert!(
        (value - 1.0 / 3.0).abs() < 1e-9,
        "60 s handling of 180 s logged in: {value}"
    );
}

fn queue(name: &str) -> Queue {
    serde_json::from_value(serde_json::json!({ "name": name })).unwrap()
}

fn plain_engine(dir: &std::path::Path) -> Engine {
    Engine::new(
        SledStore::open(dir, Durability::Group).unwrap(),
        FallbackQueues::default(),
    )
    .unwrap()
    .with_clock(|| T0)
}

fn at(kind: EventKind, t: i64) -> ContactEvent {
    ContactEvent {
        kind,
        occurred_at: Some(t),
    }
}

/// Issue 18: an offer nobody answers expires after the queue's
/// `offer_timeout_secs` (a durable timer, across a restart), the contact
/// goes back to its place in line, the agent who missed it is passed over
/// for a while, and the miss is counted per queue and agent.
#[test]
fn an_unanswered_offer_expires_back_to_its_place_and_counts_as_missed() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let e = plain_engine(dir.path());
        e.upsert_queue(Queue {
            offer_timeout_secs: 20,
            ..queue("general")
        })
        .unwrap();
        e.upsert_agent_at(agent("a", &[], 1), Some(T0)).unwrap();
        let got = e.ingest(new_contact("first", &[])).unwrap();
        assert_eq!(got.offered_to.as_deref(), Some("a"));
        assert_eq!(got.contact.offer_expires_at, None, "set by the offer");
        let c = e.contact(&got.contact.id).unwrap().unwrap();
        assert_eq!(c.offer_expires_at, Some(T0 + 20_000));
        got.contact.id
    };
    // Restart: the expiry is a durable timer.
    let e = plain_engine(dir.path());
    let second = e
        .ingest(NewContact {
            occurred_at: Some(T0 + 5_000),
            ..new_contact("second", &[])
        })
        .unwrap()
        .contact
        .id;
    assert_eq!(e.fire_due_timers(T0 + 19_999).unwrap(), 0);
    let (fired, offers) = e.advance(T0 + 20_000).unwrap();
    assert_eq!(fired, 1);
    let c = e.contact(&first).unwrap().unwrap();
    assert_eq!(c.state, ContactState::Queued);
    assert_eq!(c.queued_at, Some(T0), "it keeps its wait");
    assert_eq!(c.agent_id, None);
    let missed = c.missed_offer.clone().unwrap();
    assert_eq!((missed.agent_id.as_str(), missed.at), ("a", T0 + 20_000));
    assert!(matches!(
        e.events(&first).unwrap().last().unwrap().kind,
        EventKind::OfferExpired
    ));
    // The agent who missed it is offered the next contact instead.
    assert_eq!(offers, vec![(second.clone(), "a".to_owned())]);
    // Answering closes the offer and its timer.
    e.record_event(&second, at(EventKind::Answer, T0 + 21_000))
        .unwrap();
    assert!(
        !e.pending_timers()
            .unwrap()
            .iter()
            .any(|t| t.contact_id == second && matches!(t.kind, TimerKind::OfferExpiry { .. })),
        "an answered offer leaves no expiry timer"
    );
    // A newer contact waits behind the first: the next free agent gets the
    // first, which kept its place in line.
    e.ingest(NewContact {
        occurred_at: Some(T0 + 22_000),
        ..new_contact("third", &[])
    })
    .unwrap();
    let offers = e
        .upsert_agent_at(agent("b", &[], 1), Some(T0 + 23_000))
        .unwrap();
    assert_eq!(offers, vec![(first.clone(), "b".to_owned())]);
    // Counted where supervisors and reports look.
    assert_eq!(e.queue_stats("general").unwrap().missed_offers_today, 1);
    let by_agent = e
        .kpi_query(&KpiQuery {
            measure: "missed_offers".into(),
            slot: None,
            from: T0 - T0 % HOUR,
            to: T0 - T0 % HOUR + HOUR,
            bucket_ms: HOUR,
            group_by: vec!["agent".into(), "queue".into()],
            filter: Default::default(),
        })
        .unwrap();
    assert_eq!(by_agent.points.len(), 1, "{by_agent:?}");
    assert_eq!(by_agent.points[0].group["agent"], "a");
    assert_eq!(by_agent.points[0].group["queue"], "general");
    assert_eq!(by_agent.points[0].value, Some(1.0));
    let audit = e
        .audit
        .query(
            &crate::audit::AuditQuery {
                subject: Some(first.clone()),
                kind: Some("offer.expired".into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry.data()["agent"], "a");
}

/// Issue 18: a queue's `overflow` moves a contact that waited there
/// `overflow_after_secs` (a durable timer, audited), keeping its wait; it
/// is counted in the queue it waits in from then on.
#[test]
fn a_queue_overflow_moves_a_waiting_contact_and_it_counts_where_it_waits() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let e = plain_engine(dir.path());
        e.upsert_queue(Queue {
            overflow: Some("backup".into()),
            overflow_after_secs: 60,
            ..queue("general")
        })
        .unwrap();
        e.upsert_queue(queue("backup")).unwrap();
        let err = e
            .upsert_queue(Queue {
                overflow: Some("backup".into()),
                ..queue("backup")
            })
            .unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{err}");
        e.ingest(new_contact("hello", &[])).unwrap().contact.id
    };
    let e = plain_engine(dir.path());
    assert_eq!(
        e.queue_depths(),
        vec![("backup".to_owned(), 0), ("general".to_owned(), 1)]
    );
    assert_eq!(e.fire_due_timers(T0 + 59_999).unwrap(), 0);
    assert_eq!(e.fire_due_timers(T0 + 60_000).unwrap(), 1);
    let c = e.contact(&id).unwrap().unwrap();
    assert_eq!(c.requirements.queue, "backup");
    assert_eq!(c.queued_at, Some(T0), "it keeps its wait");
    assert_eq!(
        e.events(&id).unwrap().last().unwrap().kind,
        EventKind::Overflow {
            from: "general".into(),
            to: "backup".into()
        }
    );
    assert_eq!(
        e.queue_depths(),
        vec![("backup".to_owned(), 1), ("general".to_owned(), 0)]
    );
    assert_eq!(e.queue_stats("backup").unwrap().waiting, 1);
    assert_eq!(e.queue_stats("general").unwrap().waiting, 0);
    let audit = e
        .audit
        .query(
            &crate::audit::AuditQuery {
                subject: Some(id.clone()),
                kind: Some("queue.overflow".into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry.data()["to"], "backup");
    // Only the engine records an overflow.
    let err = e
        .record_event(
            &id,
            at(
                EventKind::Overflow {
                    from: "backup".into(),
                    to: "general".into(),
                },
                T0 + 61_000,
            ),
        )
        .unwrap_err();
    assert!(err.to_string().contains("transfer"), "{err}");
}

/// Issue 18: a routing relaxation step that overflows the contact moves it
/// when its timer fires: queue stats, depths and KPIs by queue count it in
/// the queue it waits in.
#[test]
fn a_relaxation_overflow_counts_the_contact_in_the_queue_it_waits_in() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    let id = e
        .ingest(new_contact("hello", &["billing"]))
        .unwrap()
        .contact
        .id;
    assert_eq!(
        e.contact(&id).unwrap().unwrap().requirements.queue,
        "billing"
    );
    // The bundled skill-routing overflows to `general` after 300 s.
    e.fire_due_timers(T0 + 300_000).unwrap();
    let c = e.contact(&id).unwrap().unwrap();
    assert_eq!(c.requirements.queue, "general");
    let depths: std::collections::BTreeMap<String, usize> = e.queue_depths().into_iter().collect();
    assert_eq!(depths.get("general"), Some(&1), "{depths:?}");
    assert_eq!(depths.get("billing").copied().unwrap_or(0), 0, "{depths:?}");
    e.record_event(&id, at(EventKind::Abandon, T0 + 301_000))
        .unwrap();
    let sl = e
        .kpi_query(&KpiQuery {
            measure: "abandonment_rate".into(),
            slot: None,
            from: T0 - HOUR,
            to: T0 + HOUR,
            bucket_ms: 2 * HOUR,
            group_by: vec!["queue".into()],
            filter: Default::default(),
        })
        .unwrap();
    let queues: Vec<&str> = sl
        .points
        .iter()
        .map(|p| p.group["queue"].as_str())
        .collect();
    assert_eq!(queues, vec!["general"], "{sl:?}");
}

/// Queues that overflow into each other move a back-dated contact one
/// step per clock tick, never round and round within one firing.
#[test]
fn queues_overflowing_into_each_other_move_a_contact_once_per_tick() {
    let dir = tempfile::tempdir().unwrap();
    let e = plain_engine(dir.path());
    for (name, to) in [("general", "backup"), ("backup", "general")] {
        e.upsert_queue(Queue {
            overflow: Some(to.into()),
            overflow_after_secs: 1,
            ..queue(name)
        })
        .unwrap();
    }
    let id = e
        .ingest(NewContact {
            occurred_at: Some(T0 - HOUR),
            ..new_contact("waited an hour already", &[])
        })
        .unwrap()
        .contact
        .id;
    // Due long ago, so due at the next tick; the move schedules the next
    // one a full `overflow_after_secs` later.
    assert_eq!(e.fire_due_timers(T0 + 1).unwrap(), 1);
    let c = e.contact(&id).unwrap().unwrap();
    assert_eq!(c.requirements.queue, "backup");
    assert_eq!(e.events(&id).unwrap().len(), 1, "one move");
}

#[test]
fn a_quarantined_fail_closed_escalation_rule_keeps_notifying_supervisors() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    // The bundled rule under fail-closed, with an output limit it cannot
    // keep on a complaint: every call about one fails as invalid output.
    let p = BUNDLED
        .iter()
        .find(|p| p.crate_name == "complaint-escalation")
        .unwrap();
    let mut manifest = Manifest::from_json(p.manifest).unwrap();
    manifest.limits.timeout_ms = Some(2_000);
    manifest.limits.max_output_bytes = Some(1);
    manifest.fail_policy = FailPolicy::FailClosed;
    let plugin = rt.load(manifest, p.wasm).unwrap();
    e.escalation().activate(
        "complaint-escalation",
        Arc::new(plugin.activate::<EscalationRule>(None).unwrap()),
    );
    let supervisor_notes = |contact: &str| {
        e.notifications(0, 1000)
            .unwrap()
            .into_iter()
            .filter(|n| {
                n.contact_id == contact
                    && n.target == "supervisor"
                    && n.by == "complaint-escalation"
            })
            .count()
    };
    let mut contacts = Vec::new();
    for _ in 0..4 {
        let got = e
            .ingest(new_contact(
                "this is unacceptable, I want a refund",
                &["billing"],
            ))
            .unwrap();
        contacts.push(got.contact.id);
    }
    let q = e
        .escalation()
        .get("complaint-escalation")
        .unwrap()
        .quarantined()
        .expect("quarantined after three failures in a row");
    assert!(q.last_error.contains("output"), "{}", q.last_error);
    // Before and after the quarantine, a person hears of every contact the
    // rule could not look at.
    for c in &contacts {
        assert!(supervisor_notes(c) >= 1, "no supervisor notice for {c}");
    }
}

/// A test guest of `tests/plugins/` (manifest inline: fail-open, generous
/// time limit for a loaded CI machine).
fn guest<W: crate::plugins::World>(rt: &PluginRuntime, id: &str, path: &str) -> Arc<Activation<W>> {
    let kind = W::KIND.to_string();
    let manifest = Manifest::from_json(
        &serde_json::json!({"id": id, "version": "0.0.1", "kind": kind, "wit": "0.2.0",
            "fail_policy": "fail-open", "limits": {"timeout_ms": 2_000}})
        .to_string(),
    )
    .unwrap();
    let bytes = std::fs::read(path).unwrap();
    Arc::new(
        rt.load(manifest, &bytes)
            .unwrap()
            .activate::<W>(None)
            .unwrap(),
    )
}

/// An engine on `dir` with the clock frozen at `T0`, quarantine out of the way.
fn bare_engine(dir: &std::path::Path) -> Engine {
    Engine::with_quarantine(
        Arc::new(SledStore::open(dir, Durability::Group).unwrap()),
        FallbackQueues::default(),
        1_000,
    )
    .unwrap()
    .with_clock(|| T0)
}

fn decisions(e: &Engine, subject: &str, kind: &str) -> Vec<serde_json::Value> {
    e.audit
        .query(
            &crate::audit::AuditQuery {
                subject: Some(subject.to_owned()),
                kind: Some(kind.to_owned()),
                ..Default::default()
            },
            1_000,
        )
        .unwrap()
        .iter()
        .map(|r| r.entry.data())
        .collect()
}

#[test]
fn routing_decisions_are_validated_like_api_input_and_invalid_ones_fail_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = bare_engine(dir.path());
    e.set_routing(Some(misbehaving(rt, "fail-closed")));
    let long = "q".repeat(crate::domain::bounds::MAX_NAME_BYTES + 1);
    for (text, field) in [
        ("empty-queue", "`queue`"),
        (&format!("long-queue:{}", long.len()) as &str, "`queue`"),
        ("proficiency:0", "required_skills[0].proficiency"),
        ("proficiency:255", "required_skills[0].proficiency"),
        ("empty-skill", "required_skills[0].skill"),
        ("tags:65", "`tags`"),
    ] {
        let got = e.ingest(new_contact(text, &[])).unwrap();
        match &got.decided_by {
            DecidedBy::FailPolicy { outcome, error, .. } => {
                assert_eq!(*outcome, Some(CallOutcome::Invalid), "{text}: {error}");
                assert!(error.contains("invalid output"), "{text}: {error}");
                assert!(error.contains(field), "{text}: {error} names {field}");
            }
            other => panic!("{text}: {other:?}"),
        }
        // Fail-closed: held for triage, nothing of the decision stored.
        let c = &got.contact;
        assert_eq!(c.requirements.queue, "triage", "{text}");
        assert!(
            c.requirements.required.is_empty() && c.tags.is_empty(),
            "{text}"
        );
        let audit = decisions(&e, &c.id, "routing.decision");
        assert_eq!(audit[0]["outcome"], "invalid", "{text}: {}", audit[0]);
    }
    // At the bounds: accepted as they are.
    let max = "q".repeat(crate::domain::bounds::MAX_NAME_BYTES);
    for (text, check) in [
        (&format!("long-queue:{}", max.len()) as &str, 0),
        ("proficiency:1", 1),
        ("proficiency:5", 2),
        ("tags:64", 3),
    ] {
        let got = e.ingest(new_contact(text, &[])).unwrap();
        assert!(
            matches!(got.decided_by, DecidedBy::Plugin { .. }),
            "{text}: {:?}",
            got.decided_by
        );
        let req = &got.contact.requirements;
        match check {
            0 => assert_eq!(req.queue, max),
            1 | 2 => assert_eq!(req.required[0].min, if check == 1 { 1 } else { 5 }),
            _ => assert_eq!(got.contact.tags.len(), 64),
        }
    }
}

#[test]
fn compliance_spans_outside_the_draft_invalidate_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = bare_engine(dir.path());
    e.compliance().activate(
        "spans",
        guest(rt, "hostile-compliance", test_guests::HOSTILE_COMPLIANCE),
    );
    let contact = e.ingest(new_contact("hello", &[])).unwrap().contact.id;
    // 12 characters, 14 bytes: spans count characters, not bytes.
    let fits = "span:0:12 éé";
    assert_eq!((fits.chars().count(), fits.len()), (12, 14));
    let ok = e.check_draft(&contact, "a-1", fits).unwrap();
    assert_eq!(
        ok.verdict,
        crate::plugins::compliance::Verdict::Revise,
        "{ok:?}"
    );
    assert_eq!(ok.findings.len(), 1);
    for text in [
        "span:0:13 éé",
        "span:3:4294967295",
        "span:4:4 four",
        "span:5:2 backwards",
    ] {
        let got = e.check_draft(&contact, "a-1", text).unwrap();
        // Fail-open: the verdict is dropped and the draft flagged unchecked.
        assert_eq!(
            got.verdict,
            crate::plugins::compliance::Verdict::Approve,
            "{text}: {got:?}"
        );
        assert!(got.findings.is_empty(), "{text}: {got:?}");
        assert_eq!(got.unchecked.len(), 1, "{text}: {got:?}");
        assert!(
            got.unchecked[0].contains("invalid output")
                && got.unchecked[0].contains("findings[0].span"),
            "{text}: {:?}",
            got.unchecked
        );
    }
    let audit = decisions(&e, &contact, "compliance.decision");
    let outcomes: Vec<_> = audit.iter().map(|d| d["outcome"].clone()).collect();
    assert_eq!(outcomes, ["ok", "invalid", "invalid", "invalid", "invalid"]);
}

#[test]
fn a_recheck_at_or_before_now_is_moved_to_the_minimum_delay_and_cannot_loop() {
    use super::reactions::MIN_RECHECK_DELAY_MS as MIN;
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = bare_engine(dir.path());
    e.escalation().activate(
        "hostile",
        guest(rt, "hostile-escalation", test_guests::HOSTILE_ESCALATION),
    );
    let rechecks = |e: &Engine| -> Vec<i64> {
        (e.pending_timers().unwrap().iter())
            .filter(|t| matches!(t.kind, TimerKind::Recheck { .. }))
            .map(|t| t.due_at)
            .collect()
    };
    let now = e.ingest(new_contact("recheck-now", &[])).unwrap().contact;
    let past = e.ingest(new_contact("recheck-past", &[])).unwrap().contact;
    assert_eq!(
        rechecks(&e),
        vec![T0 + MIN, T0 + MIN],
        "both moved to now + {MIN} ms"
    );
    assert_eq!(e.fire_due_timers(T0).unwrap(), 0, "nothing is due at now");
    // Each firing asks again for `now`: one firing per minimum delay.
    assert_eq!(e.fire_due_timers(T0 + MIN).unwrap(), 2);
    assert_eq!(rechecks(&e), vec![T0 + 2 * MIN, T0 + 2 * MIN]);
    assert_eq!(
        e.fire_due_timers(T0 + 3 * MIN).unwrap(),
        4,
        "two rounds of two"
    );
    let tags = e.contact(&now.id).unwrap().unwrap().tags;
    assert_eq!(tags, ["fire-0", "fire-1", "fire-2", "fire-3"]);
    assert_eq!(decisions(&e, &past.id, "escalation.decision").len(), 4);
}

#[test]
fn deadline_clocks_and_warnings_are_capped_per_contact_and_per_clock() {
    use super::reactions::{MAX_DEADLINES_PER_CONTACT, MAX_WARNINGS_PER_DEADLINE};
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = bare_engine(dir.path());
    e.escalation().activate(
        "hostile",
        guest(rt, "hostile-escalation", test_guests::HOSTILE_ESCALATION),
    );
    // Warnings per clock: at the cap accepted, over it the call fails.
    let at_cap = format!("warnings:{MAX_WARNINGS_PER_DEADLINE}");
    let c = e.ingest(new_contact(&at_cap, &[])).unwrap().contact;
    assert_eq!(c.deadlines[0].warn_at.len(), MAX_WARNINGS_PER_DEADLINE);
    for text in ["warnings:9", "warnings:10000"] {
        let c = e.ingest(new_contact(text, &[])).unwrap().contact;
        assert!(c.deadlines.is_empty(), "{text}: {:?}", c.deadlines);
        let audit = decisions(&e, &c.id, "escalation.decision");
        assert_eq!(audit[0]["outcome"], "invalid", "{text}");
        let error = audit[0]["error"].as_str().unwrap();
        assert!(error.contains("start_deadline.warn_at"), "{error}");
    }
    // Warnings per contact: 8 clocks of 8 is the cap, a ninth clock is over.
    let c = e.ingest(new_contact("clocks:8", &[])).unwrap().contact;
    let warnings: usize = c.deadlines.iter().map(|d| d.warn_at.len()).sum();
    assert_eq!(warnings, super::reactions::MAX_WARNINGS_PER_CONTACT);
    let c = e.ingest(new_contact("clocks:9", &[])).unwrap().contact;
    assert!(c.deadlines.is_empty());
    let audit = decisions(&e, &c.id, "escalation.decision");
    let error = audit[0]["error"].as_str().unwrap();
    assert!(error.contains("72 deadline warnings"), "{error}");
    // Tags: over the cap is invalid output too.
    let c = e.ingest(new_contact("tags:65", &[])).unwrap().contact;
    assert!(c.tags.is_empty(), "{:?}", c.tags);
    // A cascade (each breach starts another clock, due 1 ms later) stops at
    // the cap: the clock that would exceed it is refused.
    let c = e.ingest(new_contact("cascade", &[])).unwrap().contact;
    e.fire_due_timers(T0 + 40).unwrap();
    let c = e.contact(&c.id).unwrap().unwrap();
    assert_eq!(c.deadlines.len(), MAX_DEADLINES_PER_CONTACT);
    let audit = decisions(&e, &c.id, "escalation.decision");
    assert_eq!(audit.last().unwrap()["outcome"], "invalid");
    assert!(
        (audit.last().unwrap()["error"].as_str().unwrap()).contains("deadline clocks"),
        "{}",
        audit.last().unwrap()
    );
    let left = e.pending_timers().unwrap();
    assert!(
        left.iter().all(|t| t.contact_id != c.id),
        "the cascade ended: {left:?}"
    );
}

#[test]
fn api_input_is_held_to_the_same_bounds_as_plugin_output() {
    let dir = tempfile::tempdir().unwrap();
    let e = bare_engine(dir.path());
    let long = "q".repeat(crate::domain::bounds::MAX_NAME_BYTES + 1);
    let queue: crate::domain::Queue =
        serde_json::from_value(serde_json::json!({"name": long})).unwrap();
    let err = e.upsert_queue(queue).unwrap_err().to_string();
    assert!(err.contains("`name` is 129 bytes long"), "{err}");
    let err = e
        .upsert_agent(agent("a-1", &[("billing", 0)], 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`skills.billing` is 0"), "{err}");
    let err = e
        .upsert_agent(agent("a-1", &[("", 3)], 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`skills` must not be empty"), "{err}");
}

/// Decision 0003: no lock is held across a plugin call. While an escalation
/// rule's call on contact A is held inside the guest (at its log line), an
/// event on contact B and an agent's status change are committed; a second
/// event on A meanwhile is ordered with the held one, and neither is lost.
#[test]
fn a_plugin_call_in_progress_on_one_contact_holds_up_no_other_contact_or_agent() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = Arc::new(bare_engine(dir.path()));
    let rule = guest::<EscalationRule>(rt, "hostile-escalation", test_guests::HOSTILE_ESCALATION);
    // The rule logs `hold <contact> <sequence>`; the first such line after
    // arming blocks the calling thread until the test releases it.
    let (inside_tx, inside_rx) = mpsc::channel::<String>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = parking_lot::Mutex::new(release_rx);
    let armed = Arc::new(AtomicBool::new(false));
    let arm = armed.clone();
    rule.plugin().log().follow(move |line| {
        if line.message.starts_with("hold ") && arm.swap(false, Ordering::SeqCst) {
            inside_tx.send(line.message.clone()).unwrap();
            release_rx.lock().recv().unwrap();
        }
    });
    e.escalation().activate("hostile", rule);
    let mut ann = agent("ann", &[], 1);
    ann.status = AgentStatus::Offline;
    e.upsert_agent(ann).unwrap();
    let a = e.ingest(new_contact("hold", &[])).unwrap().contact.id;
    let b = e.ingest(new_contact("quiet", &[])).unwrap().contact.id;
    let message = |text: &str| ContactEvent {
        kind: EventKind::Message {
            from_customer: true,
            text: text.into(),
            sentiment: None,
        },
        occurred_at: None,
    };
    armed.store(true, Ordering::SeqCst);
    let held = {
        let (e, a, ev) = (e.clone(), a.clone(), message("first"));
        std::thread::spawn(move || e.record_event(&a, ev).unwrap())
    };
    let line = inside_rx.recv().unwrap();
    assert_eq!(
        line,
        format!("hold {a} 1"),
        "A's first event is the one held"
    );
    // Meanwhile, on other threads: B's event, ann's status change and a
    // second event on A (its own call is not held).
    let (done_tx, done_rx) = mpsc::channel::<&'static str>();
    let others = {
        let (e, a, b, done) = (e.clone(), a.clone(), b.clone(), done_tx);
        let (on_b, on_a) = (message("on b"), message("second"));
        std::thread::spawn(move || {
            e.record_event(&b, on_b).unwrap();
            done.send("contact").unwrap();
            e.set_agent_status("ann", AgentStatus::Break).unwrap();
            done.send("agent").unwrap();
            e.record_event(&a, on_a).unwrap();
            done.send("same contact").unwrap();
        })
    };
    // A watchdog, not a timing assertion: with a lock held across the
    // held call these would wait for ever.
    let mut finished = Vec::new();
    for _ in 0..3 {
        match done_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(what) => finished.push(what),
            Err(_) => {
                release_tx.send(()).unwrap();
                panic!("waited for the held plugin call; finished only {finished:?}");
            }
        }
    }
    assert!(!held.is_finished(), "the held call is still held");
    release_tx.send(()).unwrap();
    let (after, _) = held.join().unwrap();
    others.join().unwrap();
    assert_eq!(finished, ["contact", "agent", "same contact"]);
    // A's two events: both recorded, one after the other; the held one
    // was decided again on the contact as the other left it.
    let events = e.events(&a).unwrap();
    let texts: Vec<String> = events
        .iter()
        .filter_map(|ev| match &ev.kind {
            EventKind::Message { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["second", "first"], "committed in that order");
    assert_eq!(after.events, 2, "second, then first");
    let seqs: Vec<u64> = events.iter().map(|ev| ev.sequence).collect();
    assert_eq!(seqs, [1, 2]);
    // Every escalation decision on A is audited once per committed
    // change: the creation and the two events, not the discarded try.
    assert_eq!(decisions(&e, &a, "escalation.decision").len(), 3);
    assert_eq!(e.agent("ann").unwrap().status, AgentStatus::Break);
}

/// Decision 0003: deliveries of one social post racing each other (no
/// lock is held while the rules decide) make exactly one contact; every
/// other delivery is told it is a repeat of that one.
#[test]
fn racing_deliveries_of_one_post_make_one_contact() {
    let dir = tempfile::tempdir().unwrap();
    let e = Arc::new(bare_engine(dir.path()));
    let start = Arc::new(std::sync::Barrier::new(8));
    let outcomes: Vec<_> = (0..8)
        .map(|_| {
            let (e, start) = (e.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                e.intake_social(super::intake::SocialPost {
                    source: "twitter".into(),
                    post_id: "p-1".into(),
                    author: "@ann".into(),
                    text: "my order never came".into(),
                    rating: None,
                    url: None,
                    posted_at: Some(T0),
                    customer_id: None,
                    language: None,
                    topics: vec!["orders".into()],
                    sentiment: None,
                })
                .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let firsts = outcomes.iter().filter(|o| !o.duplicate).count();
    assert_eq!(firsts, 1, "{outcomes:?}");
    let ids: std::collections::BTreeSet<_> =
        outcomes.iter().map(|o| o.contact_id.clone()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let stored = e.list_contacts(&ContactFilter::default(), 100).unwrap();
    assert_eq!(stored.len(), 1, "one contact in the store");
}

/// Issue 19: KPI calls that fail (here: every answer over a 1-byte output
/// limit, then the version quarantined) are kept with their inputs; after
/// a working version is back, a backfill applies their samples exactly
/// once, and the KPIs read what they would have read had nothing failed
/// (the figures of `lifecycle_events_become_kpi_samples_that_queries_aggregate`).
#[test]
fn failed_kpi_calls_are_backfilled_exactly_once_once_the_definition_works() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    let good = e.kpis().get("core-kpis").unwrap().current().unwrap();
    let broken = {
        let p = BUNDLED
            .iter()
            .find(|p| p.crate_name == "core-kpis")
            .unwrap();
        let mut manifest = Manifest::from_json(p.manifest).unwrap();
        manifest.limits.timeout_ms = Some(2_000);
        manifest.limits.max_output_bytes = Some(1);
        Arc::new(
            rt.load(manifest, p.wasm)
                .unwrap()
                .activate::<KpiDefinition>(None)
                .unwrap(),
        )
    };
    e.kpis().activate("core-kpis", broken);
    let mut ids = Vec::new();
    for (i, topic) in ["billing", "billing", "technical"].iter().enumerate() {
        let c = NewContact {
            occurred_at: Some(T0 + i as i64),
            ..new_contact("hello", &[topic])
        };
        ids.push(e.ingest(c).unwrap().contact.id);
    }
    let ev = |kind, at| ContactEvent {
        kind,
        occurred_at: Some(T0 + at),
    };
    let offer = || EventKind::Offer {
        agent_id: "a-1".into(),
    };
    e.record_event(&ids[0], ev(offer(), 5_000)).unwrap();
    e.record_event(&ids[0], ev(EventKind::Answer, 10_000))
        .unwrap();
    e.record_event(&ids[1], ev(EventKind::Abandon, 20_000))
        .unwrap();
    e.record_event(&ids[2], ev(offer(), 50_000)).unwrap();
    e.record_event(&ids[2], ev(EventKind::Answer, 60_000))
        .unwrap();
    let query = |e: &Engine, measure: &str, group_by: &[&str]| {
        e.kpi_query(&KpiQuery {
            measure: measure.into(),
            slot: None,
            from: T0 - HOUR,
            to: T0 + HOUR,
            bucket_ms: 2 * HOUR,
            group_by: group_by.iter().map(|g| g.to_string()).collect(),
            filter: Default::default(),
        })
        .unwrap()
    };
    let handled = |e: &Engine| {
        query(e, "contacts_handled", &[])
            .points
            .first()
            .and_then(|p| p.value)
    };
    assert_eq!(handled(&e), None, "every sample was lost to the failures");
    // Failed calls and, once quarantined, unserved ones: all kept.
    let outcomes: Vec<String> = ids
        .iter()
        .flat_map(|id| decisions(&e, id, "kpi.samples"))
        .map(|d| d["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes.len(), 8, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o != "ok"), "{outcomes:?}");
    assert!(outcomes.iter().any(|o| o == "unserved"), "{outcomes:?}");

    e.kpis().activate("core-kpis", good);
    let report = e.backfill_kpis().unwrap();
    assert_eq!(
        (report.failed, report.backfilled, report.already),
        (8, 8, 0),
        "{report:?}"
    );
    assert!(report.still_failing.is_empty(), "{report:?}");
    assert_eq!(handled(&e), Some(2.0));
    let by_queue: std::collections::BTreeMap<String, Option<f64>> =
        query(&e, "service_level", &["queue"])
            .points
            .iter()
            .map(|p| (p.group["queue"].clone(), p.value))
            .collect();
    assert_eq!(by_queue["billing"], Some(0.5));
    assert_eq!(by_queue["tech-support"], Some(0.0));
    // Exactly once: a second run changes nothing, nor does a restart.
    let again = e.backfill_kpis().unwrap();
    assert_eq!((again.backfilled, again.already), (0, 8), "{again:?}");
    assert_eq!(handled(&e), Some(2.0));
    let backfills = ids
        .iter()
        .flat_map(|id| decisions(&e, id, "kpi.backfill"))
        .count();
    assert_eq!(backfills, 8);
    drop(e);
    let e = open(dir.path(), rt, clock_at(T0));
    assert_eq!(handled(&e), Some(2.0));
    assert_eq!(e.backfill_kpis().unwrap().backfilled, 0);
}

/// Issue 19: what one contact's creation through the full pipeline
/// (routing, escalation, KPIs) writes, keyspace by keyspace: the audit
/// indexes hold one entry per subject, plugin and time per commit, and the
/// KPI samples without ids of one call share one key. A guard against the
/// write count creeping back up.
#[test]
fn a_contact_through_the_full_pipeline_writes_thirteen_keys() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let e = open(dir.path(), rt, clock_at(T0));
    let spaces = [
        "contacts",
        "customers",
        "kpi_samples",
        "timers",
        "audit",
        "audit_by_subject",
        "audit_by_plugin",
        "audit_by_time",
        "events",
        "agents",
        "notifications",
        "presence",
        "intake",
    ];
    let count = |k: &'static str| e.store.scan(k, all(), false).count();
    let before: Vec<usize> = spaces.iter().map(|k| count(k)).collect();
    for i in 0..10 {
        e.ingest(NewContact {
            customer_id: format!("cust-{i}"),
            occurred_at: Some(T0 + i),
            ..new_contact("I was charged twice this month", &["billing"])
        })
        .unwrap();
    }
    let per_contact: Vec<(&str, usize)> = spaces
        .iter()
        .zip(before)
        .map(|(k, b)| (*k, (count(k) - b) / 10))
        .collect();
    assert_eq!(
        per_contact,
        [
            ("contacts", 1),
            ("customers", 1),
            ("kpi_samples", 1),
            ("timers", 2),
            ("audit", 3),
            ("audit_by_subject", 1),
            ("audit_by_plugin", 3),
            ("audit_by_time", 1),
            ("events", 0),
            ("agents", 0),
            ("notifications", 0),
            ("presence", 0),
            ("intake", 0),
        ]
    );
}
