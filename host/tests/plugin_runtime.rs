//! The sandboxed runtime against real components built from source
//! (`tests/plugins/misbehaving`) and small hostile components written inline
//! as WAT. Every limit is tested held and exceeded; every rejection at load
//! time is checked for a message that says what is wrong.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;

use switchboard::bundled::test_guests;
use switchboard::plugins::routing::{RoutingDecision, RoutingInput};
use switchboard::plugins::types::{Channel, Contact, ContactState, ContactTimes, CustomerHistory};
use switchboard::plugins::{
    Activation, CallOutcome, CompileSource, ComplianceCheck, HostLimits, LoadError, LoadedPlugin,
    LogSource, Manifest, PluginError, PluginRuntime, RoutingPolicy, RuntimeConfig,
};

/// Records the largest single allocation each thread makes, so a test can
/// check that the host did not copy a guest's large string (a call runs on
/// the calling thread; wasm memory is mapped, not allocated here).
mod largest_allocation {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Tracking;

    thread_local! {
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    fn note(size: usize) {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    }

    /// Forget what this thread allocated so far.
    pub fn reset() {
        LARGEST.with(|l| l.set(0));
    }

    /// The largest allocation this thread made since [`reset`].
    pub fn get() -> usize {
        LARGEST.with(Cell::get)
    }

    // SAFETY: every method forwards to `System` with the same arguments.
    unsafe impl GlobalAlloc for Tracking {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: largest_allocation::Tracking = largest_allocation::Tracking;

fn misbehaving_bytes() -> Vec<u8> {
    std::fs::read(test_guests::MISBEHAVING)
        .expect("the build script builds tests/plugins/misbehaving")
}

fn manifest(kind: &str, limits: serde_json::Value) -> Manifest {
    Manifest::from_json(
        &serde_json::json!({
            "id": "misbehaving",
            "version": "1.2.3",
            "kind": kind,
            "wit": "0.2.0",
            "config_schema": {
                "type": "object",
                "additionalProperties": false,
                "properties": { "fail_configure": { "type": "boolean" } }
            },
            "default_config": {},
            "limits": limits
        })
        .to_string(),
    )
    .expect("valid manifest")
}

/// Tests share one compile cache, so each component is compiled once per run.
fn runtime() -> PluginRuntime {
    runtime_with(RuntimeConfig::default())
}

fn runtime_with(config: RuntimeConfig) -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache")),
        ..config
    })
    .expect("runtime")
}

fn load(rt: &PluginRuntime, limits: serde_json::Value) -> Arc<LoadedPlugin> {
    rt.load(manifest("routing", limits), &misbehaving_bytes())
        .expect("misbehaving loads")
}

/// The host's default fuel and wall-clock backstop: what a plugin gets when
/// its manifest asks for neither.
fn standard_limits() -> serde_json::Value {
    serde_json::json!({ "memory_mib": 16, "max_output_bytes": 65536 })
}

fn activation() -> (PluginRuntime, Arc<LoadedPlugin>, Activation<RoutingPolicy>) {
    let rt = runtime();
    let plugin = load(&rt, standard_limits());
    let act = plugin.activate::<RoutingPolicy>(None).expect("activates");
    (rt, plugin, act)
}

fn input(text: &str) -> RoutingInput {
    RoutingInput {
        now: 1_700_000_000_000,
        contact: Contact {
            id: "c-1".into(),
            channel: Channel::Chat,
            customer_id: "cust-1".into(),
            customer_tier: "standard".into(),
            language: "en".into(),
            topics: vec!["billing".into()],
            text: text.into(),
            sentiment: None,
            attributes: vec![],
            tags: vec![],
            state: ContactState::New,
            queue: None,
            priority: 0,
            agent_id: None,
            transfers: 0,
            complaint: false,
            times: ContactTimes {
                created_at: 1_700_000_000_000,
                queued_at: None,
                offered_at: None,
                answered_at: None,
                wrap_up_at: None,
                resolved_at: None,
                abandoned_at: None,
                hold_ms: 0,
            },
        },
        history: CustomerHistory {
            window_days: 30,
            recent: vec![],
            topic_counts: vec![],
            same_topic_repeats: 0,
            last_agent: None,
            open_complaints: 0,
            flags: vec![],
        },
        queues: vec![],
        skills: vec![],
        incidents: vec![],
    }
}

fn route_ok(act: &Activation<RoutingPolicy>, text: &str) -> RoutingDecision {
    act.route(&input(text))
        .unwrap_or_else(|e| panic!("call with {text:?} should succeed: {e}"))
}

/// After a failure the host is fine and the next call, on a fresh instance, works.
fn assert_recovers(act: &Activation<RoutingPolicy>) {
    let d = route_ok(act, "hello again");
    assert_eq!(d.reason, "echo:hello again");
    assert_eq!(d.queue, "general");
}

fn assert_names_plugin(err: &PluginError) {
    let msg = err.to_string();
    assert!(
        msg.contains("misbehaving@1.2.3"),
        "error should name id@version: {msg}"
    );
    assert!(
        msg.contains("sha256:"),
        "error should carry the digest: {msg}"
    );
}

#[test]
fn a_normal_call_returns_the_plugins_decision() {
    let (_rt, _p, act) = activation();
    let d = route_ok(&act, "hello");
    assert_eq!(d.reason, "echo:hello");
    assert_eq!(act.call_counts(), (1, 0));
}

#[test]
fn infinite_loop_uses_up_its_fuel_whatever_its_time_limit_and_the_next_call_works() {
    for timeout_ms in [1, 10_000] {
        let rt = runtime();
        let plugin = load(
            &rt,
            serde_json::json!({ "fuel": 5_000_000, "timeout_ms": timeout_ms, "memory_mib": 16 }),
        );
        let act = plugin.activate::<RoutingPolicy>(None).expect("activates");
        let live = rt.instances();
        assert_eq!(live, 1, "the activation's warm instance");
        let call = act.route_metered(&input("loop"), &|_| Ok(()));
        let err = call.result.unwrap_err();
        assert!(
            matches!(
                err,
                PluginError::FuelExhausted {
                    budget: 5_000_000,
                    starting: false,
                    ..
                }
            ),
            "timeout_ms {timeout_ms}: {err:?}"
        );
        assert_eq!(err.outcome(), CallOutcome::Limit);
        assert_eq!(call.fuel, 5_000_000, "it used its whole budget");
        assert_eq!(rt.instances(), 0, "its instance was freed at once");
        assert_names_plugin(&err);
        let msg = err.to_string();
        assert!(
            msg.contains("budget of 5000000 instructions") && msg.contains("`limits.fuel`"),
            "{msg}"
        );
        assert_recovers(&act);
        assert_eq!(act.call_counts(), (2, 1));
        // The failure is in the plugin's own log, for its author.
        assert!(
            plugin
                .log()
                .lines()
                .iter()
                .any(|l| l.message.contains("5000000 instructions"))
        );
    }
}

#[test]
fn fuel_held_by_a_plugin_that_works_hard_but_finishes() {
    // The same loop, bounded: 100,000 rounds fit 5,000,000 instructions,
    // 10,000,000 rounds do not.
    let rt = runtime();
    let plugin = load(
        &rt,
        serde_json::json!({ "fuel": 5_000_000, "memory_mib": 16 }),
    );
    let act = plugin.activate::<RoutingPolicy>(None).expect("activates");
    let call = act.route_metered(&input("spin:100000"), &|_| Ok(()));
    assert_eq!(call.result.expect("fits").reason, "spun 100000");
    assert!(
        (100_000..5_000_000).contains(&call.fuel),
        "at least one instruction a round: {}",
        call.fuel
    );
    let err = act.route(&input("spin:10000000")).unwrap_err();
    assert!(matches!(err, PluginError::FuelExhausted { .. }), "{err:?}");
    for i in 0..50 {
        route_ok(&act, &format!("call {i}"));
    }
    let stats = act.call_stats();
    assert_eq!((stats.calls, stats.failures), (52, 1));
    assert_eq!(stats.fuel_max, Some(5_000_000));
    assert!(stats.fuel_p50.is_some_and(|f| f < call.fuel), "{stats:?}");
}

#[test]
fn configure_gets_ten_call_budgets_and_stops_when_it_runs_out() {
    let rt = runtime();
    // Too little even to start: instantiation runs out, with its own message.
    let plugin = load(&rt, serde_json::json!({ "fuel": 10, "memory_mib": 16 }));
    let err = plugin.activate::<RoutingPolicy>(None).unwrap_err();
    assert!(
        matches!(
            err,
            PluginError::FuelExhausted {
                budget: 100,
                starting: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("while starting"), "{err}");
    assert_eq!(err.outcome(), CallOutcome::Limit);
    assert_eq!(rt.instances(), 0, "the instance was freed");
}

/// Outcome and fuel of a fixed series of calls on a fresh activation.
fn outcomes_and_fuel(rt: &PluginRuntime) -> Vec<(String, CallOutcome, u64)> {
    let plugin = load(
        rt,
        serde_json::json!({ "fuel": 2_000_000, "memory_mib": 16 }),
    );
    let act = plugin.activate::<RoutingPolicy>(None).expect("activates");
    [
        "hello",
        "spin:10000",
        "spin:5000000",
        "recurse:500",
        "loop",
        "log:20",
        "hello",
    ]
    .into_iter()
    .map(|text| {
        let call = act.route_metered(&input(text), &|_| Ok(()));
        let outcome = match &call.result {
            Ok(_) => CallOutcome::Ok,
            Err(e) => e.outcome(),
        };
        (text.to_owned(), outcome, call.fuel)
    })
    .collect()
}

#[test]
fn the_same_calls_end_the_same_way_with_the_same_fuel_idle_and_with_every_core_busy() {
    let rt = runtime();
    let idle = outcomes_and_fuel(&rt);
    let outcomes: Vec<CallOutcome> = idle.iter().map(|(_, o, _)| *o).collect();
    use CallOutcome::{Limit, Ok};
    assert_eq!(outcomes, [Ok, Ok, Limit, Ok, Limit, Ok, Ok], "{idle:?}");

    // Now with a spinning thread on every core (and one more), all running
    // before the calls start, competing with them for the CPU.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Arc::new(std::sync::Barrier::new(cores + 2));
    let spinners: Vec<_> = (0..=cores)
        .map(|_| {
            let (stop, started) = (stop.clone(), started.clone());
            std::thread::spawn(move || {
                started.wait();
                let mut n: u64 = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            })
        })
        .collect();
    started.wait();
    let busy = outcomes_and_fuel(&rt);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        s.join().expect("spinner");
    }
    assert_eq!(busy, idle, "outcomes and fuel must not depend on load");
}

#[test]
fn the_wall_clock_backstop_stops_a_call_fuel_would_let_run_for_hours() {
    // A host whose largest budget outlasts its longest backstop (the server
    // refuses such a configuration; a test may build one).
    let defaults = HostLimits::default();
    let limits = HostLimits {
        max: switchboard::plugins::Limits {
            fuel: u64::MAX / 16,
            timeout: std::time::Duration::from_millis(200),
            ..defaults.max
        },
        min_timeout: std::time::Duration::ZERO,
        ..defaults
    };
    let rt = runtime_with(RuntimeConfig {
        limits,
        ..RuntimeConfig::default()
    });
    let plugin = load(
        &rt,
        serde_json::json!({ "fuel": u64::MAX / 16, "timeout_ms": 50_000, "memory_mib": 16 }),
    );
    assert_eq!(plugin.limits().timeout.as_millis(), 200);
    let act = plugin.activate::<RoutingPolicy>(None).expect("activates");
    let err = act.route(&input("loop")).unwrap_err();
    assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    assert_eq!(err.outcome(), CallOutcome::Timeout);
    assert!(err.to_string().contains("200 ms"), "{err}");
    assert_eq!(rt.instances(), 0, "its instance was freed at once");
    assert_recovers(&act);
}

#[test]
fn a_guest_that_sleeps_returns_at_once_without_holding_a_host_thread() {
    // A backstop of 100 ms, far shorter than the sleep: a sleep that blocked
    // the host thread for its 10 s would come back past it and fail the
    // call as a timeout.
    let limits = HostLimits {
        min_timeout: std::time::Duration::ZERO,
        ..HostLimits::default()
    };
    let rt = runtime_with(RuntimeConfig {
        limits,
        ..RuntimeConfig::default()
    });
    let plugin = load(
        &rt,
        serde_json::json!({ "fuel": 1_000_000, "timeout_ms": 100, "memory_mib": 16 }),
    );
    assert_eq!(plugin.limits().timeout.as_millis(), 100);
    let act = plugin.activate::<RoutingPolicy>(None).expect("activates");
    assert_eq!(
        route_ok(&act, "sleep:10000").reason,
        "slept 10000 ms, clock moved 0 ms",
        "the frozen clock says no time passed"
    );
    // A sleep longer than any backstop could be, too.
    assert_eq!(
        route_ok(&act, "sleep:86400000").reason,
        "slept 86400000 ms, clock moved 0 ms"
    );
}

#[test]
fn memory_bomb_is_stopped_by_the_memory_limit_and_the_next_call_works() {
    let (_rt, _p, act) = activation();
    let err = act.route(&input("alloc")).unwrap_err();
    assert!(matches!(err, PluginError::MemoryLimit { .. }), "{err:?}");
    assert_names_plugin(&err);
    assert!(err.to_string().contains("16 MiB"), "{err}");
    assert_recovers(&act);
}

#[test]
fn memory_limit_held_by_a_plugin_that_uses_a_few_mib() {
    let rt = runtime();
    let plugin = load(
        &rt,
        serde_json::json!({ "timeout_ms": 250, "memory_mib": 16, "max_output_bytes": 4_194_304 }),
    );
    let act = plugin.activate::<RoutingPolicy>(None).unwrap();
    // A 3 MiB reason string lives in guest memory, then is copied out.
    let d = route_ok(&act, "oversize:3145728");
    assert_eq!(d.reason.len(), 3_145_728);
}

#[test]
fn deep_recursion_overflows_the_wasm_stack_cleanly() {
    let (_rt, _p, act) = activation();
    let err = act.route(&input("recurse-native")).unwrap_err();
    assert!(matches!(err, PluginError::StackOverflow { .. }), "{err:?}");
    assert_names_plugin(&err);
    assert_recovers(&act);
}

#[test]
fn stack_limit_held_by_bounded_recursion() {
    let (_rt, _p, act) = activation();
    let d = route_ok(&act, "recurse:2000");
    assert!(d.reason.starts_with("recursed "), "{}", d.reason);
}

#[test]
fn deep_recursion_with_large_frames_overflows_the_shadow_stack_cleanly() {
    // Rust guests keep large locals on a shadow stack in linear memory; when
    // it overflows, the guest writes below address 0 and traps out of bounds.
    let (_rt, _p, act) = activation();
    let err = act.route(&input("recurse")).unwrap_err();
    match &err {
        PluginError::Trap { message, .. } => {
            assert!(message.contains("shadow stack"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_names_plugin(&err);
    assert_recovers(&act);
}

#[test]
fn oversize_output_is_rejected_and_output_within_the_limit_is_accepted() {
    let (_rt, _p, act) = activation();
    let err = act.route(&input("oversize:200000")).unwrap_err();
    match &err {
        PluginError::OutputTooLarge { size, limit, .. } => {
            assert!(*size >= 200_000, "{size}");
            assert_eq!(*limit, 65_536);
        }
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }
    assert_names_plugin(&err);
    assert_eq!(route_ok(&act, "oversize:60000").reason.len(), 60_000);
}

#[test]
fn an_oversize_answer_is_refused_before_the_host_copies_it() {
    let (_rt, plugin, act) = activation();
    let limit = plugin.limits().copy_limit();
    assert_eq!(limit, 1 << 20, "4 x 64 KiB, at least 1 MiB");
    // 8 MiB in guest memory (limit 16 MiB): refused, not copied.
    largest_allocation::reset();
    let err = act.route(&input("oversize:8388608")).unwrap_err();
    let largest = largest_allocation::get();
    match &err {
        PluginError::CopyLimit { limit: l, .. } => assert_eq!(*l, limit),
        other => panic!("expected CopyLimit, got {other:?}"),
    }
    assert_names_plugin(&err);
    assert!(
        largest < 1 << 20,
        "the host allocated {largest} bytes at once"
    );
    // Between the output limit and the copy limit: copied, then refused.
    assert!(matches!(
        act.route(&input("oversize:200000")),
        Err(PluginError::OutputTooLarge { .. })
    ));
    assert_recovers(&act);
}

#[test]
fn a_long_log_line_is_read_in_place_and_only_its_kept_prefix_copied() {
    let (_rt, plugin, act) = activation();
    let n = 900 << 10; // under the copy limit (1 MiB), over the line limit (2 KiB)
    largest_allocation::reset();
    route_ok(&act, &format!("log-line:{n}"));
    let largest = largest_allocation::get();
    assert!(
        largest < 64 << 10,
        "a {n}-byte line made the host allocate {largest} bytes at once"
    );
    let lines = plugin.log().lines();
    let line = lines
        .iter()
        .find(|l| l.source == LogSource::Guest && l.message.starts_with("yyyy"))
        .expect("the line is logged");
    assert!(line.message.len() < 2100, "{}", line.message.len());
    assert!(
        line.message.contains("truncated"),
        "{}",
        &line.message[2000..]
    );
    // Over the copy limit: the call fails without the host copying it.
    largest_allocation::reset();
    let err = act.route(&input("log-line:4194304")).unwrap_err();
    assert!(matches!(err, PluginError::CopyLimit { .. }), "{err:?}");
    assert!(largest_allocation::get() < 1 << 20);
    assert_recovers(&act);
}

#[test]
fn an_instance_whose_memory_grew_is_not_kept_warm() {
    let rt = runtime();
    let plugin = load(
        &rt,
        serde_json::json!({ "timeout_ms": 250, "memory_mib": 128, "max_output_bytes": 65536 }),
    );
    let act = plugin.activate::<RoutingPolicy>(None).expect("activates");
    let configured = act.warm_memory_bytes();
    assert!(configured > 0 && configured < 8 << 20, "{configured}");
    // A small call keeps its instance warm.
    route_ok(&act, "hello");
    let baseline = act.warm_memory_bytes();
    assert_eq!(act.warm_instances(), 1);
    assert!(baseline < configured + (1 << 20), "{baseline}");
    // 64 MiB used and freed: wasm memory never shrinks, so the instance
    // would keep it; it is dropped instead.
    assert_eq!(route_ok(&act, "grow:64").reason, "grew 64 MiB");
    assert_eq!(act.warm_instances(), 0, "dropped, not kept warm");
    assert_eq!(act.warm_memory_bytes(), 0);
    // The next call gets a fresh instance, back at the baseline.
    route_ok(&act, "hello");
    assert_eq!(
        (act.warm_instances(), act.warm_memory_bytes()),
        (1, baseline)
    );
    // Growth within the allowance (8 MiB by default) keeps the instance.
    route_ok(&act, "grow:2");
    assert_eq!(act.warm_instances(), 1);
    assert!(act.warm_memory_bytes() > baseline);
}

#[test]
fn the_host_wide_memory_budget_caps_instances_times_their_memory_limit() {
    // 64 MiB in all; the largest plugin may have 32 MiB, which calls leave
    // to admin operations: calls get 32 MiB, two instances of 16 MiB.
    let defaults = HostLimits::default();
    let limits = HostLimits {
        max: switchboard::plugins::Limits {
            memory_bytes: 32 << 20,
            ..defaults.max
        },
        ..defaults
    };
    let rt = runtime_with(RuntimeConfig {
        memory_budget_bytes: 4 * (16 << 20),
        limits,
        ..RuntimeConfig::default()
    });
    let plugin = load(&rt, standard_limits()); // 16 MiB per instance
    let first = plugin.activate::<RoutingPolicy>(None).expect("1 of 2");
    let second = plugin.activate::<RoutingPolicy>(None).expect("2 of 2");
    assert_eq!(rt.memory_reserved(), 2 * (16 << 20));
    // Activation may use the headroom: it succeeds, and its instance, which
    // calls have no room for, is not kept.
    let third = plugin
        .activate::<RoutingPolicy>(None)
        .expect("admin headroom");
    assert_eq!(third.warm_instances(), 0);
    assert_eq!(rt.memory_reserved(), 2 * (16 << 20));
    let err = third
        .route(&input("hello"))
        .expect_err("a third call instance would exceed the calls' share");
    assert!(
        matches!(err, PluginError::MemoryBudget { budget_bytes, .. } if budget_bytes == 64 << 20),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("plugins.memory_budget_mib"),
        "{err}"
    );
    // With the calls' share full, an instance is not kept warm after its
    // call, so idle instances never starve others.
    route_ok(&second, "hello");
    assert_eq!(second.warm_instances(), 0);
    assert_eq!(rt.memory_reserved(), 16 << 20);
    route_ok(&third, "hello");
    assert_eq!(third.warm_instances(), 0);
    drop((first, second));
    assert_eq!(rt.memory_reserved(), 0, "dropping returns the memory");
    route_ok(&third, "hello");
    assert_eq!(third.warm_instances(), 1, "room to keep it warm again");
}

#[test]
fn calls_holding_every_instance_never_block_an_activation() {
    let rt = runtime_with(RuntimeConfig {
        max_instances: 2,
        ..RuntimeConfig::default()
    });
    let plugin = load(&rt, standard_limits());
    let first = plugin.activate::<RoutingPolicy>(None).expect("1 of 2");
    let second = plugin.activate::<RoutingPolicy>(None).expect("2 of 2");
    assert_eq!(rt.instances(), 2, "both warm, serving calls");
    // Every instance calls may use is taken; activating (the fix for a bad
    // version) still works, on the instances reserved for admin operations.
    let fix = plugin
        .activate::<RoutingPolicy>(None)
        .expect("activation is never blocked by calls");
    assert_eq!(
        rt.instances(),
        2,
        "its instance is not kept: calls are full"
    );
    let err = fix.route(&input("hello")).unwrap_err();
    assert!(
        matches!(err, PluginError::InstanceLimit { limit: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("plugins.max_instances"), "{err}");
    drop(first);
    route_ok(&fix, "hello");
    route_ok(&second, "hello");
}

#[test]
fn activations_succeed_while_concurrent_calls_fight_over_the_instances() {
    let rt = runtime_with(RuntimeConfig {
        max_instances: 2,
        ..RuntimeConfig::default()
    });
    let plugin = load(
        &rt,
        serde_json::json!({ "fuel": 20_000_000, "memory_mib": 16 }),
    );
    let act = Arc::new(plugin.activate::<RoutingPolicy>(None).expect("activates"));
    // Six callers spin to their limit, call after call, on two instances,
    // until the activations are done.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Arc::new(std::sync::Barrier::new(7));
    let callers: Vec<_> = (0..6)
        .map(|_| {
            let (act, stop, started) = (act.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || {
                started.wait();
                let mut outcomes = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    outcomes.push(match act.route(&input("loop")) {
                        Err(e) => e.outcome(),
                        Ok(_) => CallOutcome::Ok,
                    });
                }
                outcomes
            })
        })
        .collect();
    started.wait();
    for i in 0..20 {
        plugin
            .activate::<RoutingPolicy>(None)
            .unwrap_or_else(|e| panic!("activation {i} refused: {e}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in callers {
        for outcome in c.join().expect("caller") {
            // A spinning call runs out of fuel; one that found every
            // instance taken is refused (an error, not the plugin's fault).
            assert!(
                matches!(outcome, CallOutcome::Limit | CallOutcome::Error),
                "{outcome:?}"
            );
        }
    }
    assert!(rt.instances() <= 2, "only warm instances remain");
}

#[test]
fn guest_panic_is_a_trap_with_the_message_in_the_plugin_log() {
    let (_rt, plugin, act) = activation();
    let err = act.route(&input("panic")).unwrap_err();
    assert!(matches!(err, PluginError::Trap { .. }), "{err:?}");
    assert_names_plugin(&err);
    let lines = plugin.log().lines();
    assert!(
        lines
            .iter()
            .any(|l| l.source == LogSource::Stderr && l.message.contains("panicked on purpose")),
        "panic message should be captured from stderr: {lines:#?}"
    );
    assert_recovers(&act);
}

#[test]
fn a_guest_that_exits_is_told_so_in_one_line_not_a_backtrace() {
    let (_rt, _plugin, act) = activation();
    for code in [0, 3] {
        let err = act.route(&input(&format!("exit:{code}"))).unwrap_err();
        assert!(matches!(err, PluginError::Trap { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("exited instead of returning its answer"),
            "{msg}"
        );
        assert!(
            !msg.contains("backtrace") && !msg.contains('\n'),
            "a raw backtrace: {msg}"
        );
        assert_names_plugin(&err);
    }
    assert_recovers(&act);
}

#[test]
fn a_rule_that_answers_err_is_rejected_without_losing_the_instance() {
    let (_rt, _p, act) = activation();
    let before = act.warm_instances();
    let err = act
        .route(&input("err:no queue for this contact"))
        .unwrap_err();
    assert!(matches!(err, PluginError::Rejected { .. }), "{err:?}");
    assert!(
        err.to_string().contains("no queue for this contact"),
        "{err}"
    );
    assert_eq!(
        act.warm_instances(),
        before,
        "a plain error keeps the instance warm"
    );
}

#[test]
fn guest_logging_reaches_the_plugin_log_and_the_buffer_is_bounded() {
    let (_rt, plugin, act) = activation();
    route_ok(&act, "log:5");
    let lines = plugin.log().lines();
    let guest: Vec<_> = lines
        .iter()
        .filter(|l| l.source == LogSource::Guest)
        .collect();
    assert_eq!(guest.len(), 5, "{lines:#?}");
    assert_eq!(guest[0].message, "line 0");
    assert_eq!(guest[4].message, "line 4");

    let cap = plugin.log().capacity();
    route_ok(&act, &format!("log:{}", cap * 3));
    let lines = plugin.log().lines();
    assert_eq!(lines.len(), cap, "buffer holds at most its capacity");
    assert_eq!(
        lines.last().map(|l| l.message.clone()),
        Some(format!("line {}", cap * 3 - 1)),
        "the newest lines are kept"
    );
    assert!(plugin.log().dropped() >= (cap * 2) as u64);
}

#[test]
fn stdout_and_stderr_are_captured_not_printed() {
    let (_rt, plugin, act) = activation();
    route_ok(&act, "print");
    let lines = plugin.log().lines();
    assert!(
        lines
            .iter()
            .any(|l| l.source == LogSource::Stdout && l.message == "to stdout"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.source == LogSource::Stderr && l.message == "to stderr"),
        "{lines:#?}"
    );
}

#[test]
fn the_sandbox_has_no_clock_environment_or_files() {
    let (_rt, _p, act) = activation();
    assert_eq!(
        route_ok(&act, "clock").reason,
        "0",
        "the WASI clock is frozen at the epoch"
    );
    assert_eq!(
        route_ok(&act, "env").reason,
        "0",
        "no environment variables"
    );
    let file = route_ok(&act, "file").reason;
    assert!(file.starts_with("err:"), "no filesystem access: {file}");
}

#[test]
fn random_bytes_start_over_at_every_call_on_warm_and_fresh_instances() {
    // A plugin is a pure function of its input and config: a recorded
    // decision must replay exactly, whichever instance answers.
    let (_rt, plugin, act) = activation();
    let first = route_ok(&act, "random-bytes").reason;
    assert_eq!(first.len(), 32, "16 bytes in hex: {first}");
    assert_ne!(first, "0".repeat(32), "not all zero");
    // The same warm instance, after other calls drew bytes too.
    assert_eq!(route_ok(&act, "random-bytes").reason, first);
    route_ok(&act, "random");
    assert_eq!(route_ok(&act, "random-bytes").reason, first);
    // A fresh instance of another activation.
    let fresh = plugin.activate::<RoutingPolicy>(None).expect("activates");
    assert_eq!(route_ok(&fresh, "random-bytes").reason, first);
}

#[test]
fn config_is_validated_against_the_schema_before_the_plugin_sees_it() {
    let rt = runtime();
    let plugin = load(&rt, standard_limits());
    let err = plugin
        .activate::<RoutingPolicy>(Some(serde_json::json!({ "fail_configure": "yes" })))
        .unwrap_err();
    match &err {
        PluginError::Config(c) => {
            assert_eq!(c.violations[0].pointer, "/fail_configure");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    // A config the schema accepts but the plugin refuses fails at activation.
    let err = plugin
        .activate::<RoutingPolicy>(Some(serde_json::json!({ "fail_configure": true })))
        .unwrap_err();
    assert!(matches!(err, PluginError::Rejected { .. }), "{err:?}");
    assert!(err.to_string().contains("configured to fail"), "{err}");
}

#[test]
fn activating_as_the_wrong_kind_is_refused() {
    let rt = runtime();
    let plugin = load(&rt, standard_limits());
    let err = plugin.activate::<ComplianceCheck>(None).unwrap_err();
    assert!(matches!(err, PluginError::WrongKind { .. }), "{err:?}");
}

#[test]
fn concurrent_calls_share_a_bounded_pool_of_warm_instances() {
    let (_rt, _p, act) = activation();
    let act = Arc::new(act);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let act = act.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let text = format!("t{t}-{i}");
                    let d = act.route(&input(&text)).expect("call");
                    assert_eq!(d.reason, format!("echo:{text}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(act.call_counts(), (400, 0));
    let warm = act.warm_instances();
    assert!((1..=8).contains(&warm), "{warm}");
}

// ---- load-time rejections -------------------------------------------------

fn load_err(bytes: &[u8], kind: &str) -> LoadError {
    runtime()
        .load(manifest(kind, standard_limits()), bytes)
        .expect_err("must be rejected")
}

#[test]
fn invalid_bytes_are_rejected() {
    let err = load_err(b"{\"this\": \"is json\"}", "routing");
    assert!(matches!(err, LoadError::NotWasm { .. }), "{err:?}");
    assert!(err.to_string().contains("not a WebAssembly file"), "{err}");
    let err = load_err(b"", "routing");
    assert!(err.to_string().contains("empty file"), "{err}");
    // Right magic, garbage after it.
    let err = load_err(b"\0asm\x0d\0\x01\0garbage-garbage", "routing");
    assert!(matches!(err, LoadError::Compile(_)), "{err:?}");
}

#[test]
fn a_core_module_is_rejected_with_how_to_fix_it() {
    let module = wat::parse_str("(module (func (export \"route\")))").unwrap();
    let err = load_err(&module, "routing");
    assert!(matches!(err, LoadError::CoreModule), "{err:?}");
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
}

#[test]
fn a_component_of_another_world_is_rejected_naming_both() {
    let err = load_err(&misbehaving_bytes(), "compliance");
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("switchboard:rules/routing@0.2.0"),
        "names what it exports: {msg}"
    );
    assert!(
        msg.contains("switchboard:rules/compliance@0.2.0"),
        "names what it must export: {msg}"
    );
}

#[test]
fn a_component_with_extra_imports_is_rejected_naming_them() {
    let component = wat::parse_str(
        r#"(component
            (import "wasi:sockets/tcp@0.2.0" (instance))
            (import "acme:exfil/upload" (instance))
        )"#,
    )
    .unwrap();
    let err = load_err(&component, "routing");
    match &err {
        LoadError::ExtraImports { imports } => {
            assert_eq!(imports, &["wasi:sockets/tcp@0.2.0", "acme:exfil/upload"]);
        }
        other => panic!("expected ExtraImports, got {other:?}"),
    }
    assert!(err.to_string().contains("`acme:exfil/upload`"), "{err}");
}

#[test]
fn a_component_with_the_right_name_but_wrong_shape_is_rejected() {
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $routing (export "route" (func $f)))
            (export "switchboard:rules/routing@0.2.0" (instance $routing))
        )"#,
    )
    .unwrap();
    let err = load_err(&component, "routing");
    assert!(matches!(err, LoadError::Contract { .. }), "{err:?}");
    assert!(err.to_string().contains("routing-policy"), "{err}");
}

// ---- compile cache --------------------------------------------------------

#[test]
fn the_compile_cache_is_hit_on_the_second_load_and_corruption_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let config = || RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let bytes = misbehaving_bytes();

    let rt = PluginRuntime::new(config()).unwrap();
    let first = rt
        .load(manifest("routing", standard_limits()), &bytes)
        .unwrap();
    assert_eq!(first.compiled(), CompileSource::Compiled);
    assert_eq!(rt.cache_stats().misses, 1);

    // A new process (runtime) finds the artifact.
    let rt = PluginRuntime::new(config()).unwrap();
    let second = rt
        .load(manifest("routing", standard_limits()), &bytes)
        .unwrap();
    assert_eq!(second.compiled(), CompileSource::Cache);
    assert_eq!((rt.cache_stats().hits, rt.cache_stats().misses), (1, 0));
    let act = second.activate::<RoutingPolicy>(None).unwrap();
    assert_recovers(&act);

    // Flip one byte in the middle of the artifact: detected, recompiled, rewritten.
    let path = rt.cache_path(&second.id().digest).unwrap();
    let mut artifact = std::fs::read(&path).unwrap();
    let mid = artifact.len() / 2;
    artifact[mid] ^= 0xff;
    std::fs::write(&path, &artifact).unwrap();
    let rt = PluginRuntime::new(config()).unwrap();
    let third = rt
        .load(manifest("routing", standard_limits()), &bytes)
        .unwrap();
    assert_eq!(third.compiled(), CompileSource::Recompiled);
    assert_eq!(rt.cache_stats().corrupt, 1);
    assert_recovers(&third.activate::<RoutingPolicy>(None).unwrap());

    // Truncated to nothing: also detected.
    std::fs::write(&path, b"").unwrap();
    let rt = PluginRuntime::new(config()).unwrap();
    let fourth = rt
        .load(manifest("routing", standard_limits()), &bytes)
        .unwrap();
    assert_eq!(fourth.compiled(), CompileSource::Recompiled);

    // And the rewritten artifact is good again.
    let rt = PluginRuntime::new(config()).unwrap();
    let fifth = rt
        .load(manifest("routing", standard_limits()), &bytes)
        .unwrap();
    assert_eq!(fifth.compiled(), CompileSource::Cache);
}

#[test]
fn inspect_reports_world_version_imports_and_digest() {
    let rt = runtime();
    let bytes = misbehaving_bytes();
    let info = rt.inspect(&bytes).unwrap();
    assert_eq!(info.world, Some("routing-policy"));
    assert_eq!(info.wit_version.as_deref(), Some("0.2.0"));
    assert!(
        info.exports
            .contains(&"switchboard:rules/routing@0.2.0".to_owned())
    );
    assert!(
        info.imports
            .contains(&"switchboard:rules/log@0.2.0".to_owned()),
        "{:?}",
        info.imports
    );
    assert_eq!(info.size_bytes, bytes.len());
    assert_eq!(info.digest.len(), 64);
}
