//! `misbehaving`: a hostile routing policy for the host's limit and sandbox
//! tests. What it does is chosen by `input.contact.text`:
//!
//! | text | behaviour |
//! |---|---|
//! | `loop` | spins forever |
//! | `spin:N` | spins N rounds, then `Ok` with reason `spun N` |
//! | `sleep:MS` | sleeps MS milliseconds, then `Ok` with reason `slept MS ms, clock moved D ms` (D from the monotonic clock) |
//! | `alloc` | allocates 1 MiB chunks (non-zero, kept alive) without end |
//! | `recurse` | unbounded, non-tail recursion with 1 KiB frames (overflows the guest's shadow stack in linear memory) |
//! | `recurse-native` | unbounded, non-tail recursion on small values (overflows the wasm stack) |
//! | `recurse:N` | the same recursion, stopping at depth N, then `Ok` |
//! | `oversize:N` | `Ok` with a reason of exactly N bytes |
//! | `panic` | panics ("misbehaving plugin panicked on purpose") |
//! | `log:N` | logs N lines `line 0`, `line 1`, ... at info, then `Ok` |
//! | `print` | writes `to stdout` to stdout and `to stderr` to stderr, then `Ok` |
//! | `clock` | reason = wall-clock ms since the Unix epoch (`err:<msg>` if before it) |
//! | `env` | reason = number of environment variables |
//! | `file` | reason = `ok` if `/etc/hostname` is readable, else `err:<message>` |
//! | `random` | reason = 16 hex digits from a freshly seeded `RandomState` |
//! | `exit:N` | calls `std::process::exit(N)` |
//! | `err:MSG` | returns `Err(MSG)`, as a rule that refuses would |
//! | `log-line:N` | logs one line of N bytes, then `Ok` |
//! | `grow:N` | fills and frees N MiB (linear memory keeps the growth), then `Ok` |
//! | `empty-queue` | `Ok` to queue `""` |
//! | `long-queue:N` | `Ok` to a queue named with N bytes |
//! | `proficiency:N` | `Ok`, requiring skill `billing` at proficiency N |
//! | `empty-skill` | `Ok`, requiring skill `""` at proficiency 3 |
//! | `tags:N` | `Ok` with N distinct tags |
//! | anything else | `Ok` to queue `general`, priority 1, reason `echo:<text>` |
//!
//! Config: `{"fail_configure": true}` makes `configure` fail with
//! `configured to fail`.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use switchboard_sdk::prelude::*;

/// The plugin configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Make `configure` fail.
    #[serde(default)]
    pub fail_configure: bool,
}

/// The hostile policy.
#[derive(Debug)]
pub struct Misbehaving;

impl RoutingPolicy for Misbehaving {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.fail_configure {
            return Err("configured to fail".into());
        }
        Ok(Misbehaving)
    }

    fn route(&self, input: RoutingInput) -> Result<RoutingDecision, String> {
        let text = input.contact.text.as_str();
        let reason = match text {
            "loop" => spin(),
            "alloc" => exhaust_memory(),
            "recurse-native" => {
                let depth = recurse_native(black_box(1));
                format!("recursion ended at {depth}?")
            }
            "recurse" => {
                let depth = recurse(black_box(0));
                format!("recursion ended at {depth}?")
            }
            "panic" => panic!("misbehaving plugin panicked on purpose"),
            "print" => {
                #[allow(clippy::print_stdout)] // printing is the point
                {
                    println!("to stdout");
                }
                eprintln!("to stderr");
                "printed".to_string()
            }
            "clock" => match SystemTime::now().duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_millis().to_string(),
                Err(e) => format!("err:{e}"),
            },
            "env" => std::env::vars().count().to_string(),
            "file" => match std::fs::read_to_string("/etc/hostname") {
                Ok(_) => "ok".to_string(),
                Err(e) => format!("err:{e}"),
            },
            "random" => format!("{:016x}", RandomState::new().hash_one(0u64)),
            "random-bytes" => {
                let mut b = [0u8; 16];
                getrandom::fill(&mut b).map_err(|e| format!("random-bytes: {e}"))?;
                b.iter().map(|x| format!("{x:02x}")).collect()
            }
            _ => {
                if let Some(n) = text.strip_prefix("oversize:") {
                    let n: usize = n.parse().map_err(|e| format!("oversize:{n}: {e}"))?;
                    "x".repeat(n)
                } else if let Some(n) = text.strip_prefix("spin:") {
                    let n: u64 = n.parse().map_err(|e| format!("spin:{n}: {e}"))?;
                    format!("spun {}", spin_for(n))
                } else if let Some(ms) = text.strip_prefix("sleep:") {
                    let ms: u64 = ms.parse().map_err(|e| format!("sleep:{ms}: {e}"))?;
                    let before = Instant::now();
                    std::thread::sleep(Duration::from_millis(ms));
                    let moved = before.elapsed().as_millis();
                    format!("slept {ms} ms, clock moved {moved} ms")
                } else if let Some(n) = text.strip_prefix("recurse:") {
                    let n: u64 = n.parse().map_err(|e| format!("recurse:{n}: {e}"))?;
                    format!("recursed {}", recurse_bounded(black_box(n)))
                } else if let Some(code) = text.strip_prefix("exit:") {
                    std::process::exit(code.parse().unwrap_or(0))
                } else if let Some(message) = text.strip_prefix("err:") {
                    return Err(message.to_owned());
                } else if let Some(n) = text.strip_prefix("grow:") {
                    let n: usize = n.parse().map_err(|e| format!("grow:{n}: {e}"))?;
                    let chunk = black_box(vec![0xA5u8; n << 20]);
                    format!("grew {} MiB", chunk.len() >> 20)
                } else if let Some(n) = text.strip_prefix("log-line:") {
                    let n: usize = n.parse().map_err(|e| format!("log-line:{n}: {e}"))?;
                    switchboard_sdk::log::info(&"y".repeat(n));
                    format!("logged {n} bytes")
                } else if let Some(n) = text.strip_prefix("log:") {
                    let n: u32 = n.parse().map_err(|e| format!("log:{n}: {e}"))?;
                    for i in 0..n {
                        switchboard_sdk::log::info(&format!("line {i}"));
                    }
                    format!("logged {n} lines")
                } else {
                    format!("echo:{text}")
                }
            }
        };
        let mut decision = RoutingDecision::to_queue("general", 1);
        // `attr:<key>=<value>` also sets a contact attribute (WIT 0.2.0).
        if let Some((key, value)) = text.strip_prefix("attr:").and_then(|kv| kv.split_once('=')) {
            decision.attributes.push(KeyValue {
                key: key.into(),
                value: value.into(),
            });
        }
        decision.reason = reason;
        shape_decision(text, &mut decision)?;
        Ok(decision)
    }
}

/// The decisions the host must refuse as invalid output (or accept, at the
/// bounds), chosen by `text`.
fn shape_decision(text: &str, decision: &mut RoutingDecision) -> Result<(), String> {
    let number = |prefix: &str| -> Option<Result<usize, String>> {
        text.strip_prefix(prefix)
            .map(|n| n.parse().map_err(|e| format!("{prefix}{n}: {e}")))
    };
    let skill = |skill: &str, proficiency: u8| SkillLevel {
        skill: skill.into(),
        proficiency,
    };
    if text == "empty-queue" {
        decision.queue = String::new();
    } else if text == "empty-skill" {
        decision.required_skills.push(skill("", 3));
    } else if let Some(n) = number("long-queue:") {
        decision.queue = "q".repeat(n?);
    } else if let Some(n) = number("proficiency:") {
        let level = u8::try_from(n?).map_err(|e| e.to_string())?;
        decision.required_skills.push(skill("billing", level));
    } else if let Some(n) = number("tags:") {
        decision.tags = (0..n?).map(|i| format!("t-{i}")).collect();
    }
    Ok(())
}

/// Spin forever; `black_box` keeps the optimizer from proving the loop has
/// no effect and deleting it.
fn spin() -> ! {
    let mut i: u64 = 0;
    loop {
        i = black_box(i.wrapping_add(1));
    }
}

/// Spin `n` rounds of the same loop as [`spin`]; returns how many.
fn spin_for(n: u64) -> u64 {
    let mut i: u64 = 0;
    while i < n {
        i = black_box(i.wrapping_add(1));
    }
    i
}

/// Allocate 1 MiB chunks filled with non-zero bytes (so the pages are really
/// written) and keep every one alive, until the allocator fails and aborts.
fn exhaust_memory() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(vec![0xA5; 1 << 20]);
        black_box(&mut chunks);
    }
}

/// Recurse without end: each frame keeps a 1 KiB array alive across the
/// call and uses the callee's result afterwards, so the call is not a tail
/// call and cannot become a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = depth as u8;
    black_box(&mut frame);
    // Never true, but the optimizer cannot know (and rustc's
    // unconditional-recursion lint is satisfied).
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let below = recurse(black_box(depth + 1));
    below.wrapping_add(u64::from(frame[(below % 1024) as usize]))
}

/// Recurse without end on plain values, which live on the wasm stack rather
/// than in linear memory; the multiply after the call keeps it from being a
/// tail call.
#[inline(never)]
fn recurse_native(n: u64) -> u64 {
    if black_box(n) == 0 {
        return 1;
    }
    recurse_native(n.wrapping_add(1))
        .wrapping_mul(black_box(3))
        .wrapping_add(n)
}

/// [`recurse_native`] that stops after `n` levels.
#[inline(never)]
fn recurse_bounded(n: u64) -> u64 {
    if black_box(n) == 0 {
        return 1;
    }
    recurse_bounded(n - 1)
        .wrapping_mul(black_box(3))
        .wrapping_add(n)
}

switchboard_sdk::export_routing_policy!(Misbehaving);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use switchboard_sdk::testing;

    fn route(text: &str) -> Result<RoutingDecision, String> {
        let mut c = testing::contact("c-1", Channel::Chat);
        c.text = text.into();
        Misbehaving.route(testing::routing_input(c))
    }

    #[test]
    fn echoes_anything_else() {
        let d = route("hello").unwrap();
        assert_eq!((d.queue.as_str(), d.priority), ("general", 1));
        assert_eq!(d.reason, "echo:hello");
    }

    #[test]
    fn spin_and_sleep_return_ok() {
        assert_eq!(route("spin:1000").unwrap().reason, "spun 1000");
        let slept = route("sleep:1").unwrap().reason;
        assert!(slept.starts_with("slept 1 ms, clock moved "), "{slept}");
    }

    #[test]
    fn oversize_returns_exactly_n_bytes() {
        assert_eq!(route("oversize:100000").unwrap().reason.len(), 100_000);
        assert_eq!(route("oversize:0").unwrap().reason.len(), 0);
        assert!(route("oversize:lots").is_err());
    }

    #[test]
    fn log_and_print_return_ok() {
        assert_eq!(route("log:3").unwrap().reason, "logged 3 lines");
        assert_eq!(route("print").unwrap().reason, "printed");
    }

    #[test]
    fn clock_env_file_random_report_something() {
        let ms: u128 = route("clock").unwrap().reason.parse().unwrap();
        assert!(ms > 1_600_000_000_000, "{ms}");
        route("env").unwrap().reason.parse::<usize>().unwrap();
        let file = route("file").unwrap().reason;
        assert!(file == "ok" || file.starts_with("err:"), "{file}");
        assert_eq!(route("random").unwrap().reason.len(), 16);
    }

    #[test]
    #[should_panic(expected = "misbehaving plugin panicked on purpose")]
    fn panics_on_purpose() {
        let _ = route("panic");
    }

    #[test]
    fn fail_configure_fails_new() {
        let err = Misbehaving::new(Config {
            fail_configure: true,
        })
        .unwrap_err();
        assert_eq!(err, "configured to fail");
        let config: Config = testing::parse_config("misbehaving", "{}").unwrap();
        assert!(Misbehaving::new(config).is_ok());
    }
}
