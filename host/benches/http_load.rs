//! HTTP load test of the hot path over a real socket: the release
//! `switchboard` binary on a fresh data directory (bundled plugins active,
//! group commit on), many keep-alive clients posting contacts (ingest ->
//! routing plugin -> escalation and KPI plugins -> durable audit) for a few
//! seconds. Reports contacts/s and latency percentiles, and the same
//! figures for a trivial authenticated read (`GET /v1/whoami`) as the
//! server's floor, measured in the same run.
//!
//!   cargo bench -p switchboard --bench http_load
//!   LOAD_SECS=20 LOAD_CLIENTS=128 cargo bench -p switchboard --bench http_load

#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Report {
    requests: usize,
    errors: usize,
    secs: f64,
    latencies_us: Vec<u64>,
}

impl Report {
    fn pct(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((q * self.latencies_us.len() as f64).ceil() as usize)
            .clamp(1, self.latencies_us.len());
        self.latencies_us[i - 1] as f64 / 1000.0
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    fn print(&self, what: &str) {
        println!(
            "{what:<32} {:>8.0} req/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  ({} requests, {} errors)",
            self.rate(),
            self.pct(0.50),
            self.pct(0.90),
            self.pct(0.99),
            self.pct(1.0),
            self.requests,
            self.errors
        );
    }
}

/// `clients` threads, each with its own keep-alive connection, calling
/// `request(client, i)` for `secs` seconds.
fn load(
    clients: usize,
    secs: u64,
    request: impl Fn(&ureq::Agent, usize, usize) -> bool + Send + Sync + 'static,
) -> Report {
    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (request, stop, start) = (request.clone(), stop.clone(), start.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                let (mut lat, mut errors, mut i) = (Vec::new(), 0, 0);
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = request(&agent, c, i);
                    lat.push(t.elapsed().as_micros() as u64);
                    errors += usize::from(!ok);
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut report = Report {
        requests: 0,
        errors: 0,
        secs: 0.0,
        latencies_us: Vec::new(),
    };
    for h in handles {
        let (lat, errors) = h.join().unwrap();
        report.requests += lat.len();
        report.errors += errors;
        report.latencies_us.extend(lat);
    }
    report.secs = began.elapsed().as_secs_f64();
    report.latencies_us.sort_unstable();
    report
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test
    // --benches`) gets a quick smoke run.
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs = if quick { 1 } else { env_or("LOAD_SECS", 10) };
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(dir.path());
    let base = format!("http://{}", server.addr);
    let token = Arc::new(format!("Bearer {}", server.token));
    println!(
        "switchboard HTTP load: {secs} s per run, each on a fresh server, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let floor = {
        let (base, token) = (base.clone(), token.clone());
        load(16, secs, move |agent, _, _| {
            agent
                .get(format!("{base}/v1/whoami"))
                .header("Authorization", token.as_str())
                .call()
                .is_ok_and(|r| r.status() == 200)
        })
    };
    floor.print("GET /v1/whoami, 16 clients");
    drop(server);
    let mut runs = Vec::new();
    let mut shadowed = None;
    for (clients, shadow) in [(16, false), (64, false), (256, false), (64, true)] {
        // A quick run: one run without a shadow and the one with.
        if quick && !shadow && !runs.is_empty() {
            continue;
        }
        let clients = if quick { clients.min(4) } else { clients };
        // A fresh server (and data directory) per run: a run does not
        // inherit the previous run's backlog.
        let dir = tempfile::tempdir().unwrap();
        // Every client comes from one address: lift the per-peer cap
        // (256 by default) above the client count.
        let config = dir.path().join("bench.toml");
        std::fs::write(&config, "[http]\nmax_connections_per_peer = 1024\n").unwrap();
        let server = common::Server::start_with(
            &dir.path().join("data"),
            &["--config", config.to_str().unwrap()],
        );
        if shadow {
            // The live routing policy shadowed by itself, every decision
            // sampled: the whole cost of shadow mode on the live path.
            let (_, slots) = server.get("/v1/slots");
            let routing = slots["slots"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["slot"] == "routing")
                .unwrap()["current"]
                .clone();
            let (status, body) = server.put(
                "/v1/slots/routing/shadow",
                &serde_json::json!({"plugin": routing["plugin"], "version": routing["version"], "sample": 1.0}),
            );
            assert_eq!(status, 200, "{body}");
        }
        let base = format!("http://{}", server.addr);
        let token = Arc::new(format!("Bearer {}", server.token));
        let topics = ["billing", "tech", "sales", "legal"];
        let r = load(clients, secs, move |agent, c, i| {
            let channel = ["chat", "voice", "email"][i % 3];
            let body = serde_json::json!({
                "channel": channel,
                "customer_id": format!("cust-{c}-{}", i % 50),
                "topics": [topics[(c + i) % topics.len()]],
                "text": "I was charged twice for my subscription this month",
            });
            agent
                .post(format!("{base}/v1/contacts"))
                .header("Authorization", token.as_str())
                .send_json(&body)
                .is_ok_and(|r| r.status() == 201)
        });
        if shadow {
            r.print(&format!(
                "POST /v1/contacts, {clients} clients, routing shadowed (sample 1.0)"
            ));
            let (_, s) = server.get("/v1/slots/routing/shadow?settle=true");
            println!(
                "  shadow: {} offered, {} dropped (queue full), {} compared, agreement {}",
                s["offered"], s["dropped"], s["compared"], s["agreement"]
            );
            shadowed = Some(r);
        } else {
            r.print(&format!("POST /v1/contacts, {clients} clients"));
            runs.push((clients, r));
        }
        drop(server);
    }
    let best = runs
        .iter()
        .map(|(_, r)| r)
        .max_by(|a, b| a.rate().total_cmp(&b.rate()))
        .unwrap();
    for (clients, r) in &runs {
        println!(
            "  {clients:>3} clients: {:.0} contacts/s = {:.2}x the trivial read, {:.2}x the best run; p99 {:.2} ms",
            r.rate(),
            r.rate() / floor.rate(),
            r.rate() / best.rate(),
            r.pct(0.99)
        );
    }
    if let (Some(sh), Some((_, off))) = (&shadowed, runs.iter().find(|(c, _)| *c == 64)) {
        println!(
            "  shadow on vs off, 64 clients: {:.0} vs {:.0} contacts/s = {:.2}x; p99 {:.2} vs {:.2} ms",
            sh.rate(),
            off.rate(),
            sh.rate() / off.rate(),
            sh.pct(0.99),
            off.pct(0.99)
        );
        assert_eq!(sh.errors, 0, "requests failed under load with a shadow");
    }
    println!(
        "targets: 64 clients >= 0.5x the trivial read with p99 < 10 ms; 256 clients >= 0.9x the best run"
    );
    for (_, r) in &runs {
        assert_eq!(r.errors, 0, "requests failed under load");
    }
}
