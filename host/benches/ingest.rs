//! Ingest -> route (skill-routing in Wasm) -> durable contact + audit
//! record, from concurrent writers, with group commit and with one flush per
//! contact, in the same run; and the full pipeline, where each new contact
//! also goes to the complaint-escalation rule and the core KPIs (three
//! plugin calls and three audited decisions per contact). Prints
//! contacts/s, p50/p99 latency and the speed-up.
//! `cargo bench -p switchboard --bench ingest`

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::domain::Channel;
use switchboard::engine::{Engine, FallbackQueues, NewContact};
use switchboard::plugins::{
    EscalationRule, KpiDefinition, PluginRuntime, RoutingPolicy, RuntimeConfig,
};
use switchboard::store::{Durability, SledStore};

struct Run {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

#[path = "common/bundled.rs"]
mod bundled;
use bundled::load;

fn run(mode: Durability, full: bool, threads: usize, per_thread: usize, rt: &PluginRuntime) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(
        Engine::new(
            SledStore::open(dir.path(), mode).expect("store"),
            FallbackQueues::default(),
        )
        .expect("engine"),
    );
    let routing = load(rt, "skill-routing");
    engine.set_routing(Some(Arc::new(
        routing.activate::<RoutingPolicy>(None).expect("activate"),
    )));
    if full {
        let esc = load(rt, "complaint-escalation");
        engine.escalation().activate(
            "complaint-escalation",
            Arc::new(esc.activate::<EscalationRule>(None).expect("activate")),
        );
        let kpi = load(rt, "core-kpis");
        engine
            .activate_kpi(
                "core-kpis",
                Arc::new(kpi.activate::<KpiDefinition>(None).expect("activate")),
            )
            .expect("measures");
    }
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(per_thread);
                for i in 0..per_thread {
                    let contact = NewContact {
                        channel: Channel::Chat,
                        customer_id: format!("cust-{t}-{i}"),
                        customer_tier: if i % 10 == 0 { "vip" } else { "standard" }.into(),
                        language: "en".into(),
                        topics: vec!["billing".into()],
                        text: "I was charged twice this month".into(),
                        sentiment: Some(-0.2),
                        attributes: Default::default(),
                        occurred_at: None,
                    };
                    let t0 = Instant::now();
                    engine.ingest(contact).expect("ingest");
                    latencies.push(t0.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    let elapsed = start.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Run {
        per_sec: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = PluginRuntime::new(RuntimeConfig::default()).expect("runtime");
    if std::env::args().any(|a| a == "full") {
        // Only the full pipeline (for profiling).
        let r = run(Durability::Group, true, 16, 1000, &rt);
        #[allow(clippy::print_stdout)]
        {
            println!(
                "full pipeline, group, 16 writers: {:.0} contacts/s, p50 {:?}, p99 {:?}",
                r.per_sec, r.p50, r.p99
            );
        }
        return;
    }
    let runs = [
        (
            "group commit, 16 writers",
            run(Durability::Group, false, 16, 1000, &rt),
        ),
        (
            "group commit, 64 writers",
            run(Durability::Group, false, 64, 300, &rt),
        ),
        (
            "flush per contact, 1 writer",
            run(Durability::PerWrite, false, 1, 200, &rt),
        ),
        (
            "flush per contact, 64 writers",
            run(Durability::PerWrite, false, 64, 10, &rt),
        ),
        (
            "full pipeline, group, 16 writers",
            run(Durability::Group, true, 16, 500, &rt),
        ),
    ];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    #[allow(clippy::print_stdout)]
    {
        println!("ingest -> route (Wasm) -> durable contact + audit record");
        for (name, r) in &runs {
            println!(
                "  {name:<30} {:>8.0} contacts/s   p50 {:>6.2} ms   p99 {:>6.2} ms",
                r.per_sec,
                ms(r.p50),
                ms(r.p99)
            );
        }
        println!(
            "  group commit (64) vs one flush per contact (1 writer): {:.0}x",
            runs[1].1.per_sec / runs[2].1.per_sec
        );
    }
}
