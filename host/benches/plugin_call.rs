//! One routing decision through the Wasm runtime, all limits on, against
//! the same logic compiled natively, in the same run; plus instantiation
//! from `InstancePre` and the time to stop an infinite loop.
//!
//! `cargo bench -p switchboard --bench plugin_call` prints criterion's
//! figures and then a summary with the ratios.

use std::time::{Duration, Instant};

use std::hint::black_box;

use criterion::Criterion;
use switchboard::bundled::{BUNDLED, test_guests};
use switchboard::plugins::routing::RoutingInput;
use switchboard::plugins::{Manifest, PluginRuntime, RoutingPolicy, RuntimeConfig};
use switchboard_sdk::RoutingPolicy as _;

/// A realistic routing input: a VIP repeat caller about billing, with
/// history and a snapshot of four queues.
fn input_json() -> serde_json::Value {
    serde_json::json!({
        "now": 1_700_000_100_000i64,
        "contact": {
            "id": "c-10293", "channel": "Chat", "customer_id": "cust-551", "customer_tier": "vip",
            "language": "en", "topics": ["billing", "refund"],
            "text": "Hi, I was charged twice for my subscription this month, can you help?",
            "sentiment": -0.3, "attributes": [{"key": "plan", "value": "premium"}],
            "tags": [], "state": "New", "queue": null, "priority": 0, "agent_id": null,
            "transfers": 0, "complaint": false,
            "times": {"created_at": 1_700_000_100_000i64, "queued_at": null, "offered_at": null,
                      "answered_at": null, "wrap_up_at": null, "resolved_at": null,
                      "abandoned_at": null, "hold_ms": 0}
        },
        "history": {
            "window_days": 30,
            "recent": [{"id": "c-9001", "channel": "Voice", "topics": ["billing"],
                        "created_at": 1_699_900_000_000i64, "resolved_at": 1_699_900_600_000i64,
                        "agent_id": "a-7", "complaint": false}],
            "topic_counts": [{"topic": "billing", "count": 1}],
            "same_topic_repeats": 1, "last_agent": "a-7", "open_complaints": 0, "flags": []
        },
        "queues": [
            {"name": "general", "waiting": 12, "oldest_wait_secs": 40, "available_agents": 3, "service_level": 0.82},
            {"name": "billing", "waiting": 4, "oldest_wait_secs": 22, "available_agents": 2, "service_level": 0.9},
            {"name": "tech", "waiting": 7, "oldest_wait_secs": 65, "available_agents": 1, "service_level": 0.7},
            {"name": "vip", "waiting": 0, "oldest_wait_secs": 0, "available_agents": 1, "service_level": 1.0}
        ],
        "skills": [{"skill": "billing", "available_agents": 2, "best_proficiency": 4}],
        "incidents": []
    })
}

fn skill_routing() -> (&'static switchboard::bundled::BundledPlugin, Manifest) {
    let p = BUNDLED
        .iter()
        .find(|p| p.crate_name == "skill-routing")
        .expect("skill-routing is bundled");
    (p, Manifest::from_json(p.manifest).expect("manifest"))
}

fn per_call(iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed() / iterations
}

fn main() {
    let runtime = PluginRuntime::new(RuntimeConfig::default()).expect("runtime");
    let (bundled, manifest) = skill_routing();
    let config = manifest.default_config.clone();
    let plugin = runtime.load(manifest, bundled.wasm).expect("load");
    let wasm = plugin.activate::<RoutingPolicy>(None).expect("activate");
    let host_input: RoutingInput = serde_json::from_value(input_json()).expect("host input");

    let native =
        skill_routing::SkillRouting::new(serde_json::from_value(config).expect("native config"))
            .expect("native policy");
    let native_input: switchboard_sdk::routing::RoutingInput =
        serde_json::from_value(input_json()).expect("sdk input");

    // The two must agree, or the comparison means nothing.
    let a = serde_json::to_value(wasm.route(&host_input).expect("wasm route")).expect("json");
    let b = serde_json::to_value(native.route(native_input.clone()).expect("native route"))
        .expect("json");
    assert_eq!(a, b, "Wasm and native decisions differ");

    let looping = runtime
        .load(
            Manifest::from_json(
                &serde_json::json!({"id": "misbehaving", "version": "0.0.0", "kind": "routing",
                    "wit": "0.2.0", "limits": {"timeout_ms": 5}})
                .to_string(),
            )
            .expect("manifest"),
            &std::fs::read(test_guests::MISBEHAVING).expect("misbehaving built"),
        )
        .expect("load misbehaving")
        .activate::<RoutingPolicy>(None)
        .expect("activate misbehaving");
    let mut loop_input = host_input.clone();
    loop_input.contact.text = "loop".into();
    // The floor: a rule that does almost nothing (misbehaving's echo path),
    // fed the realistic input, and a minimal input.
    let echo = &looping;
    let mut small_input: RoutingInput = serde_json::from_value(input_json()).expect("input");
    small_input.contact.topics.clear();
    small_input.contact.attributes.clear();
    small_input.contact.text = "hi".into();
    small_input.history.recent.clear();
    small_input.history.topic_counts.clear();
    small_input.queues.clear();
    small_input.skills.clear();

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("routing_decision");
        g.bench_function("wasm_limits_on", |b| {
            b.iter(|| wasm.route(black_box(&host_input)).expect("route"))
        });
        g.bench_function("wasm_trivial_rule_realistic_input", |b| {
            b.iter(|| echo.route(black_box(&host_input)).expect("route"))
        });
        g.bench_function("wasm_trivial_rule_small_input", |b| {
            b.iter(|| echo.route(black_box(&small_input)).expect("route"))
        });
        g.bench_function("native", |b| {
            b.iter(|| {
                native
                    .route(black_box(native_input.clone()))
                    .expect("route")
            })
        });
        g.finish();
    }
    c.bench_function("instantiate_from_instance_pre", |b| {
        b.iter(|| wasm.probe_instantiate().expect("instantiate"))
    });
    {
        let mut g = c.benchmark_group("runaway");
        g.sample_size(10);
        g.bench_function("stop_infinite_loop_5ms_limit", |b| {
            b.iter(|| looping.route(&loop_input).expect_err("must time out"))
        });
        g.finish();
    }
    c.final_summary();

    // Same-run summary with ratios (what the docs and issue notes quote).
    let wasm_t = per_call(200_000, || {
        black_box(wasm.route(black_box(&host_input)).expect("route"));
    });
    let native_t = per_call(200_000, || {
        black_box(
            native
                .route(black_box(native_input.clone()))
                .expect("route"),
        );
    });
    let echo_t = per_call(200_000, || {
        black_box(echo.route(black_box(&host_input)).expect("route"));
    });
    let small_t = per_call(200_000, || {
        black_box(echo.route(black_box(&small_input)).expect("route"));
    });
    let inst_t = per_call(2_000, || {
        wasm.probe_instantiate().expect("instantiate");
    });
    let loop_t = per_call(20, || {
        black_box(looping.route(&loop_input).expect_err("timeout"));
    });
    let lines = [
        format!("routing decision, Wasm, limits on : {:>9.3} us", us(wasm_t)),
        format!(
            "routing decision, native          : {:>9.3} us",
            us(native_t)
        ),
        format!(
            "ratio Wasm / native               : {:>9.2} x",
            us(wasm_t) / us(native_t)
        ),
        format!("trivial rule, realistic input     : {:>9.3} us", us(echo_t)),
        format!(
            "trivial rule, small input         : {:>9.3} us",
            us(small_t)
        ),
        format!("instantiate + configure (pooling) : {:>9.1} us", us(inst_t)),
        format!(
            "infinite loop stopped after       : {:>9.2} ms (limit 5 ms)",
            us(loop_t) / 1000.0
        ),
    ];
    #[allow(clippy::print_stdout)]
    {
        println!("\nsummary (same run)");
        for line in lines {
            println!("  {line}");
        }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
