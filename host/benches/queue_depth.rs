//! Queue depth: does a backlog slow the floor down? The same cycle (a
//! billing contact ingested through the full pipeline, offered by dispatch
//! to the one free agent, answered, wrapped up, resolved) is timed on an
//! empty floor and with a backlog of waiting contacts in a queue that agent
//! does not serve, in one run. Prints cycles/s for each and the ratio
//! (target >= 0.9 with 100,000 waiting; issue 19). A third engine whose
//! store holds as many contacts, all abandoned (the floor empty), tells the
//! store's share of a slowdown from the floor's. The engines take turns.
//! `cargo bench -p switchboard --bench queue_depth [-- BACKLOG]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::domain::{Agent, AgentStatus, Channel};
use switchboard::engine::{
    ContactEvent, Engine, EventKind, FallbackQueues, ManualClock, NewContact,
};
use switchboard::plugins::{PluginRuntime, RuntimeConfig};
use switchboard::store::{Durability, SledStore};

const START: i64 = 1_767_000_000_000;

#[path = "common/bundled.rs"]
mod bundled;

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
    bundled::activate_all(&engine, rt);
    // Built from JSON so fields added later keep their defaults.
    let agent: Agent = serde_json::from_value(serde_json::json!({
        "id": "a-billing", "skills": {"billing": 5}, "languages": ["en"],
        "capacity": {"chat": 1}, "status": "available"
    }))
    .expect("agent");
    engine.upsert_agent(agent).expect("agent");
    (Arc::new(engine), clock)
}

/// Fill the floor with `n` contacts the agent cannot take, with the agent
/// offline; with `abandon`, each one is abandoned at once (the store grows
/// as much, the floor stays empty). Returns how many failed open and were
/// abandoned.
fn backlog(engine: &Arc<Engine>, n: usize, abandon: bool) -> usize {
    engine
        .set_agent_status("a-billing", AgentStatus::Offline)
        .expect("offline");
    let threads = 8;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut failed_open = 0;
                for i in (t..n).step_by(threads) {
                    let c = engine
                        .ingest(contact(format!("backlog-{i}"), "technical"))
                        .expect("ingest");
                    assert!(c.offered_to.is_none(), "the backlog must wait");
                    let open = c.contact.requirements.queue != "tech-support";
                    failed_open += usize::from(open);
                    if open || abandon {
                        abandoned(&engine, &c.contact.id);
                    }
                }
                failed_open
            })
        })
        .collect();
    let failed_open = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    engine
        .set_agent_status("a-billing", AgentStatus::Available)
        .expect("available");
    failed_open
}

fn abandoned(engine: &Engine, id: &str) {
    let abandon = ContactEvent {
        kind: EventKind::Abandon,
        occurred_at: None,
    };
    engine.record_event(id, abandon).expect("abandon");
}

/// One engine under test, and what its cycles measured.
struct Run {
    engine: Arc<Engine>,
    clock: ManualClock,
    /// Cycles so far (each one a new customer, so histories stay alike).
    done: usize,
    took: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    /// `n` cycles, timed.
    fn cycles(&mut self, n: usize) {
        let start = Instant::now();
        for _ in 0..n {
            // 10 ms a cycle: the backlog's relaxation steps (90 s, 300 s)
            // never come, so it keeps waiting.
            self.clock
                .advance_to(self.clock.now() + 10)
                .expect("forward");
            let began = Instant::now();
            let c = self
                .engine
                .ingest(contact(format!("cust-{}", self.done), "billing"))
                .expect("ingest");
            assert_eq!(c.offered_to.as_deref(), Some("a-billing"), "dispatched");
            for kind in [EventKind::Answer, EventKind::WrapUp, EventKind::Resolve] {
                self.engine
                    .record_event(
                        &c.contact.id,
                        ContactEvent {
                            kind,
                            occurred_at: None,
                        },
                    )
                    .expect("event");
            }
            self.latencies.push(began.elapsed());
            self.done += 1;
        }
        self.took += start.elapsed();
    }

    /// Cycles per second and the p99 of one cycle, then starts afresh.
    fn result(&mut self) -> (f64, Duration) {
        let per_sec = self.latencies.len() as f64 / self.took.as_secs_f64();
        let mut latencies = std::mem::take(&mut self.latencies);
        latencies.sort();
        self.took = Duration::ZERO;
        (per_sec, latencies[latencies.len() * 99 / 100])
    }
}

#[allow(clippy::print_stdout)] // a bench reports on stdout
fn main() {
    let depth: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rt = PluginRuntime::new(RuntimeConfig::default()).expect("runtime");
    let (rounds, per_round) = (10, 200);

    // Empty; the store grown by `depth` abandoned contacts, floor empty;
    // `depth` contacts waiting.
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let mut runs: Vec<Run> = dirs
        .iter()
        .zip([0, depth, depth])
        .zip([false, true, false])
        .map(|((dir, n), abandon)| {
            let (engine, clock) = floor(&rt, dir.path());
            let filled = Instant::now();
            let failed_open = backlog(&engine, n, abandon);
            if n > 0 {
                eprintln!(
                    "{n} {} in {:.1} s ({failed_open} failed open and were abandoned)",
                    if abandon { "abandoned" } else { "waiting" },
                    filled.elapsed().as_secs_f64()
                );
            }
            Run {
                engine,
                clock,
                done: 0,
                took: Duration::ZERO,
                latencies: Vec::new(),
            }
        })
        .collect();
    // Warm up, then take turns, so a change in the machine's load (other
    // work on its cores) touches every run alike.
    for run in &mut runs {
        run.cycles(per_round);
        run.result();
    }
    for _ in 0..rounds {
        for run in &mut runs {
            run.cycles(per_round);
        }
    }
    let results: Vec<(f64, Duration)> = runs.iter_mut().map(Run::result).collect();
    let (base, _) = results[0];

    println!(
        "queue depth: {} cycles of ingest + dispatch + answer + wrap-up + resolve (full pipeline, group commit), in turns of {per_round}",
        rounds * per_round
    );
    for ((label, (per_sec, p99)), target) in [
        "empty floor, empty store",
        &format!("{depth} abandoned (store only)"),
        &format!("{depth} waiting"),
    ]
    .iter()
    .zip(&results)
    .zip(["", "", " (target >= 0.90)"])
    {
        println!(
            "  {label:<32} {per_sec:>6.0} cycles/s   p99 {:>6.2} ms   ratio {:.2}{target}",
            p99.as_secs_f64() * 1e3,
            per_sec / base
        );
    }
}
