//! Replay and what-if rates (issue 20): a store with CONTACTS (default
//! 34,000) contacts ingested through the full pipeline (routing,
//! escalation, KPIs: three recorded decisions each, about 100,000 in all),
//! then every decision replayed (one thread), and a what-if of each
//! slot's own version over its decisions (every core). Prints decisions/s.
//! `cargo bench -p switchboard --bench replay`

use std::sync::Arc;
use std::time::Instant;

use switchboard::audit::AuditLog;
use switchboard::domain::Channel;
use switchboard::engine::{Engine, EngineSettings, NewContact};
use switchboard::plugins::{PluginRuntime, RuntimeConfig};
use switchboard::replay::{Candidate, ReplayRequest, Replayer};
use switchboard::store::{Durability, SledStore, Store};
use switchboard::whatif::WhatIfRequest;

#[path = "common/bundled.rs"]
mod bundled;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let contacts: usize = std::env::var("CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(34_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(dir.path(), Durability::Deferred).expect("store"));
    let audit = Arc::new(AuditLog::open(store.clone()).expect("audit"));
    let engine = Arc::new(
        Engine::with_parts(store.clone(), audit.clone(), EngineSettings::default())
            .expect("engine"),
    );
    let rt = PluginRuntime::new(RuntimeConfig::default()).expect("runtime");
    let plugins = bundled::activate_all(&engine, &rt);
    let started = Instant::now();
    let threads = 8;
    std::thread::scope(|s| {
        for t in 0..threads {
            let engine = &engine;
            s.spawn(move || {
                for i in (t..contacts).step_by(threads) {
                    let complaint = i % 7 == 0;
                    engine
                        .ingest(NewContact {
                            channel: if i % 3 == 0 {
                                Channel::Voice
                            } else {
                                Channel::Chat
                            },
                            customer_id: format!("cust-{}", i % 5_000),
                            customer_tier: if i % 10 == 0 { "vip" } else { "standard" }.into(),
                            language: "en".into(),
                            topics: vec![["billing", "technical", "sales"][i % 3].into()],
                            text: if complaint {
                                "This is unacceptable, I want a refund".into()
                            } else {
                                "I was charged twice this month".into()
                            },
                            sentiment: Some(if complaint { -0.7 } else { -0.1 }),
                            attributes: Default::default(),
                            occurred_at: None,
                        })
                        .expect("ingest");
                }
            });
        }
    });
    let ingest = started.elapsed();
    let by_id = |id: &str, version: &str| {
        plugins
            .iter()
            .find(|p| *p.id().id == *id && *p.id().version == *version)
            .cloned()
            .ok_or_else(|| format!("no {id}@{version}"))
    };
    let started = Instant::now();
    let report = Replayer::new(&audit, &by_id, None)
        .expect("replayer")
        .run(&ReplayRequest::default())
        .expect("replay");
    let replay = started.elapsed();
    assert_eq!(report.mismatched, 0, "{}", report.summary());
    let mut whatif = Vec::new();
    for (slot, p) in ["routing", "complaint-escalation", "core-kpis"]
        .iter()
        .zip(&plugins)
    {
        let req = WhatIfRequest {
            candidate: Candidate {
                plugin: p.id().id.to_string(),
                version: p.id().version.to_string(),
                config: None,
            },
            slot: Some((*slot).into()),
            from: None,
            to: None,
        };
        let r = switchboard::whatif::run(&audit, &by_id, &req, &|_| {}).expect("what-if");
        assert_eq!(r.changed, 0, "{}", r.summary());
        whatif.push((*slot, r.decisions, r.elapsed_ms, r.per_sec));
    }
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{contacts} contacts ingested in {:.1} s ({:.0}/s); {} decisions recorded",
            ingest.as_secs_f64(),
            contacts as f64 / ingest.as_secs_f64(),
            report.replayed + report.skipped
        );
        println!(
            "replay (one thread): {} decisions in {:.1} s = {:.0} decisions/s, {} match",
            report.replayed,
            replay.as_secs_f64(),
            report.replayed as f64 / replay.as_secs_f64(),
            report.matched
        );
        let total: u64 = whatif.iter().map(|w| w.1).sum();
        let ms: u64 = whatif.iter().map(|w| w.2).sum();
        for (slot, n, ms, rate) in &whatif {
            println!("what-if {slot:<22} {n:>7} decisions in {ms:>6} ms = {rate:>8.0}/s");
        }
        println!(
            "what-if, all three slots: {total} decisions in {:.1} s = {:.0} decisions/s (target: 100,000 in under 60 s)",
            ms as f64 / 1e3,
            total as f64 * 1e3 / ms.max(1) as f64
        );
    }
}
