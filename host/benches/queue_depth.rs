//! Queue depth: does a backlog slow the floor down? The same cycle (a
//! billing contact ingested through the full pipeline, offered by dispatch
//! to the one free agent, answered, wrapped up, resolved) is timed on an
//! empty floor and with a backlog of waiting contacts in a queue that agent
//! does not serve, in one run. Prints cycles/s for each and the ratio
//! (target >= 0.9 with 100,000 waiting; issue 19).
//! `cargo bench -p switchboard --bench queue_depth [-- BACKLOG]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::bundled::BUNDLED;
use switchboard::domain::{Agent, AgentStatus, Channel};
use switchboard::engine::{
    ContactEvent, Engine, EventKind, FallbackQueues, ManualClock, NewContact,
};
use switchboard::plugins::{
    EscalationRule, KpiDefinition, LoadedPlugin, Manifest, PluginRuntime, RoutingPolicy,
    RuntimeConfig,
};
use switchboard::store::{Durability, SledStore};

const START: i64 = 1_767_000_000_000;

fn load(rt: &PluginRuntime, name: &str) -> Arc<LoadedPlugin> {
    let p = BUNDLED
        .iter()
        .find(|p| p.crate_name == name)
        .expect("bundled");
    rt.load(Manifest::from_json(p.manifest).expect("manifest"), p.wasm)
        .expect("load")
}

fn contact(customer: String, topic: &str) -> NewContact {
    NewContact {
        channel: Channel::Chat,
        customer_id: customer,
        customer_tier: "standard".into(),
        language: "en".into(),
        topics: vec![topic.into()],
        text: "I was charged twice this month".into(),
        sentiment: Some(-0.2),
        attributes: Default::default(),
        occurred_at: None,
    }
}

fn floor(rt: &PluginRuntime, dir: &std::path::Path) -> (Arc<Engine>, ManualClock) {
    let clock = ManualClock::new(START);
    let c = clock.clone();
    let engine = Engine::new(
        SledStore::open(dir, Durability::Group).expect("store"),
        FallbackQueues::default(),
    )
    .expect("engine")
    .with_clock(move || c.now());
    engine.set_routing(Some(Arc::new(
        load(rt, "skill-routing")
            .activate::<RoutingPolicy>(None)
            .expect("activate"),
    )));
    engine.escalation().activate(
        "complaint-escalation",
        Arc::new(
            load(rt, "complaint-escalation")
                .activate::<EscalationRule>(None)
                .expect("activate"),
        ),
    );
    engine
        .activate_kpi(
            "core-kpis",
            Arc::new(
                load(rt, "core-kpis")
                    .activate::<KpiDefinition>(None)
                    .expect("activate"),
            ),
        )
        .expect("measures");
    // Built from JSON so fields added later keep their defaults.
    let agent: Agent = serde_json::from_value(serde_json::json!({
        "id": "a-billing", "skills": {"billing": 5}, "languages": ["en"],
        "capacity": {"chat": 1}, "status": "available"
    }))
    .expect("agent");
    engine.upsert_agent(agent).expect("agent");
    (Arc::new(engine), clock)
}

/// Fill the floor with `n` waiting contacts the agent cannot take, with
/// the agent offline; returns how many failed open and were abandoned.
fn backlog(engine: &Arc<Engine>, n: usize) -> usize {
    engine
        .set_agent_status("a-billing", AgentStatus::Offline)
        .expect("offline");
    let threads = 8;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut failed_open = Vec::new();
                for i in (t..n).step_by(threads) {
                    let c = engine
                        .ingest(contact(format!("backlog-{i}"), "technical"))
                        .expect("ingest");
                    assert!(c.offered_to.is_none(), "the backlog must wait");
                    if c.contact.requirements.queue != "tech-support" {
                        failed_open.push(c.contact.id);
                    }
                }
                failed_open
            })
        })
        .collect();
    let mut failed_open = Vec::new();
    for w in workers {
        failed_open.extend(w.join().expect("worker"));
    }
    for id in &failed_open {
        engine
            .record_event(
                id,
                ContactEvent {
                    kind: EventKind::Abandon,
                    occurred_at: None,
                },
            )
            .expect("abandon");
    }
    engine
        .set_agent_status("a-billing", AgentStatus::Available)
        .expect("available");
    failed_open.len()
}

/// `n` cycles; cycles per second and the p99 of one cycle.
fn cycles(engine: &Engine, clock: &ManualClock, n: usize) -> (f64, Duration) {
    let mut latencies = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        // 10 ms a cycle: the backlog's relaxation steps (90 s, 300 s) never
        // come, so it keeps waiting.
        clock.advance_to(clock.now() + 10).expect("forward");
        let began = Instant::now();
        let c = engine
            .ingest(contact(format!("cust-{i}"), "billing"))
            .expect("ingest");
        assert_eq!(c.offered_to.as_deref(), Some("a-billing"), "dispatched");
        for kind in [EventKind::Answer, EventKind::WrapUp, EventKind::Resolve] {
            engine
                .record_event(
                    &c.contact.id,
                    ContactEvent {
                        kind,
                        occurred_at: None,
                    },
                )
                .expect("event");
        }
        latencies.push(began.elapsed());
    }
    let per_sec = n as f64 / start.elapsed().as_secs_f64();
    latencies.sort();
    (per_sec, latencies[latencies.len() * 99 / 100])
}

#[allow(clippy::print_stdout)] // a bench reports on stdout
fn main() {
    let depth: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rt = PluginRuntime::new(RuntimeConfig::default()).expect("runtime");
    let n = 2_000;

    let empty_dir = tempfile::tempdir().expect("tempdir");
    let (empty, empty_clock) = floor(&rt, empty_dir.path());
    backlog(&empty, 0);
    cycles(&empty, &empty_clock, 200); // warm-up
    let (base, base_p99) = cycles(&empty, &empty_clock, n);

    let deep_dir = tempfile::tempdir().expect("tempdir");
    let (deep, deep_clock) = floor(&rt, deep_dir.path());
    let filled = Instant::now();
    let failed_open = backlog(&deep, depth);
    eprintln!(
        "backlog of {depth} filled in {:.1} s ({failed_open} failed open and were abandoned)",
        filled.elapsed().as_secs_f64()
    );
    cycles(&deep, &deep_clock, 200);
    let (loaded, loaded_p99) = cycles(&deep, &deep_clock, n);

    println!(
        "queue depth: {n} cycles of ingest + dispatch + answer + wrap-up + resolve (full pipeline, group commit)"
    );
    println!(
        "  empty floor        {base:>8.0} cycles/s   p99 {:>6.2} ms",
        base_p99.as_secs_f64() * 1e3
    );
    println!(
        "  {depth:>6} waiting     {loaded:>8.0} cycles/s   p99 {:>6.2} ms",
        loaded_p99.as_secs_f64() * 1e3
    );
    println!("  ratio {:.2} (target >= 0.90)", loaded / base);
}
