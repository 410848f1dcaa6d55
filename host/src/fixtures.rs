//! `switchboard plugin test`: run a directory of fixtures through a
//! component in the real sandboxed runtime (the same limits, the same
//! bindings as the server) and report pass/fail with a diff, like
//! `opa test`.
//!
//! A fixture is a JSON file:
//!
//! ```json
//! { "description": "what it shows",
//!   "config": { ... } | null,          // null: the manifest's default_config
//!   "call": "route" | "on-event" | "check" | "measures",
//!   "input": { ... },                  // the WIT input, serde's JSON form
//!   "expected": { ... } }              // the Ok value; or {"error": "substring"}
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::plugins::{
    ComplianceCheck, EscalationRule, KpiDefinition, LoadedPlugin, PluginKind, RoutingPolicy,
};

/// The outcome of one fixture.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FixtureResult {
    pub file: String,
    pub description: String,
    pub passed: bool,
    /// What differed, one line per JSON path, or why it could not run.
    pub problems: Vec<String>,
    /// What the plugin logged while this fixture ran (its `log` calls,
    /// stdout and stderr, and the host's line for a failed call).
    pub log: Vec<crate::plugins::LogLine>,
}

/// Fixture files: `path` itself, or every `*.json` in it, sorted.
pub fn fixture_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read the fixtures directory {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no fixtures (*.json) in {}", path.display());
    }
    Ok(files)
}

fn output<T: serde::Serialize>(r: Result<T, crate::plugins::PluginError>) -> Result<Value, String> {
    r.map_err(|e| e.to_string())
        .and_then(|v| serde_json::to_value(v).map_err(|e| e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, String> {
    serde_json::from_value(input.clone()).map_err(|e| {
        format!("`input` does not fit the WIT input type: {e} (fields are snake_case, enum cases UpperCamelCase, variants externally tagged)")
    })
}

/// A fixture's call, activated and with its input parsed, ready to run
/// (again and again, for `--bench`). With `answer` false it skips turning
/// the plugin's answer into JSON and returns `null` on success.
type PreparedCall = Box<dyn FnMut(bool) -> Result<Value, String>>;

fn answer<T: serde::Serialize>(
    r: Result<T, crate::plugins::PluginError>,
    keep: bool,
) -> Result<Value, String> {
    match r {
        Ok(_) if !keep => Ok(Value::Null),
        r => output(r),
    }
}

/// Activate the plugin with the fixture's config and parse its input.
fn prepare(plugin: &Arc<LoadedPlugin>, fixture: &Value) -> Result<PreparedCall, String> {
    let config = match &fixture["config"] {
        Value::Null => None,
        c => Some(c.clone()),
    };
    let call = fixture["call"].as_str().unwrap_or_default();
    let input = &fixture["input"];
    let err = |e: crate::plugins::PluginError| format!("activation failed: {e}");
    Ok(match (plugin.manifest().kind, call) {
        (PluginKind::Routing, "route") => {
            let a = plugin.activate::<RoutingPolicy>(config).map_err(err)?;
            let input = parse(input)?;
            Box::new(move |keep| answer(a.route(&input), keep))
        }
        (PluginKind::Escalation, "on-event") => {
            let a = plugin.activate::<EscalationRule>(config).map_err(err)?;
            let input = parse(input)?;
            Box::new(move |keep| answer(a.on_event(&input), keep))
        }
        (PluginKind::Compliance, "check") => {
            let a = plugin.activate::<ComplianceCheck>(config).map_err(err)?;
            let input = parse(input)?;
            Box::new(move |keep| answer(a.check(&input), keep))
        }
        (PluginKind::Kpi, "on-event") => {
            let a = plugin.activate::<KpiDefinition>(config).map_err(err)?;
            let input = parse(input)?;
            Box::new(move |keep| answer(a.on_event(&input), keep))
        }
        (PluginKind::Kpi, "measures") => {
            let a = plugin.activate::<KpiDefinition>(config).map_err(err)?;
            Box::new(move |keep| answer(a.measures(), keep))
        }
        (kind, call) => {
            return Err(format!(
                "`call` is `{call}`, which a {kind} plugin does not have (routing: route; escalation: on-event; compliance: check; kpi: on-event, measures)"
            ));
        }
    })
}

/// Run one fixture's call; the plugin's answer as JSON, or why not.
fn call(plugin: &Arc<LoadedPlugin>, fixture: &Value) -> Result<Value, String> {
    prepare(plugin, fixture)?(true)
}

/// How long one warm call of a fixture takes (`plugin test --bench N`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub file: String,
    pub calls: u32,
    /// Mean wall-clock time of one call, in nanoseconds, over `calls`
    /// calls after one warm-up call (the instance pool is warm, the
    /// answer is not turned into JSON).
    pub mean_ns: u64,
    /// The fastest of 5 equal slices of the calls, per call: closer to
    /// the cost without the machine's noise.
    pub best_slice_ns: u64,
}

/// Time `calls` warm calls of every fixture that ran without error.
pub fn bench(plugin: &Arc<LoadedPlugin>, files: &[PathBuf], calls: u32) -> Vec<BenchResult> {
    const SLICES: u32 = 5;
    let calls = calls.max(SLICES);
    files
        .iter()
        .filter_map(|file| {
            let fixture: Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
            let mut run = prepare(plugin, &fixture).ok()?;
            run(false).ok()?;
            let per_slice = calls / SLICES;
            let mut total = std::time::Duration::ZERO;
            let mut best = std::time::Duration::MAX;
            for _ in 0..SLICES {
                let started = std::time::Instant::now();
                for _ in 0..per_slice {
                    // A call that fails now (say, it times out under
                    // load) still took its time: it counts.
                    let _ = std::hint::black_box(run(false));
                }
                let took = started.elapsed();
                total += took;
                best = best.min(took);
            }
            let n = per_slice * SLICES;
            Some(BenchResult {
                file: file
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                calls: n,
                mean_ns: (total.as_nanos() / u128::from(n)) as u64,
                best_slice_ns: (best.as_nanos() / u128::from(per_slice)) as u64,
            })
        })
        .collect()
}

/// The table `plugin test --bench` prints.
pub fn bench_report(results: &[BenchResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("warm call time per fixture (mean; best of 5 slices):\n");
    for r in results {
        let _ = writeln!(
            out,
            "  {:>10}  {:>10}  {}  ({} calls)",
            human_ns(r.mean_ns),
            human_ns(r.best_slice_ns),
            r.file,
            r.calls
        );
    }
    if !results.is_empty() {
        let mean = results.iter().map(|r| r.mean_ns).sum::<u64>() / results.len() as u64;
        let _ = writeln!(
            out,
            "  {:>10}  mean over {} fixtures",
            human_ns(mean),
            results.len()
        );
    }
    out
}

/// A unit enum's name as it appears in JSON (`info`, `stderr`).
fn serde_name<T: serde::Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn human_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.2} us", ns as f64 / 1e3),
        _ => format!("{:.2} ms", ns as f64 / 1e6),
    }
}

/// Differences between `want` and `got`, as `path: want X, got Y` lines.
pub fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}/{k}");
                match g.get(k) {
                    Some(gv) => diff(&p, wv, gv, out),
                    None => out.push(format!("{p}: want {wv}, got nothing")),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    out.push(format!("{path}/{k}: want nothing, got {gv}"));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}/{i}"), wv, gv, out);
            }
        }
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => {}
        _ if want == got => {}
        _ => out.push(format!(
            "{}: want {want}, got {got}",
            if path.is_empty() { "/" } else { path }
        )),
    }
}

/// Run every fixture in `files` against `plugin`.
pub fn run(plugin: &Arc<LoadedPlugin>, files: &[PathBuf]) -> Vec<FixtureResult> {
    files
        .iter()
        .map(|file| {
            let name = file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let fixture: Value = match std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            {
                Ok(v) => v,
                Err(e) => {
                    return FixtureResult {
                        file: name,
                        description: String::new(),
                        passed: false,
                        problems: vec![format!("not a fixture: {e}")],
                        log: Vec::new(),
                    };
                }
            };
            let description = fixture["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let want = &fixture["expected"];
            let mut problems = Vec::new();
            let logged_before = plugin.log().written();
            let answer = call(plugin, &fixture);
            let log = plugin
                .log()
                .lines()
                .into_iter()
                .filter(|l| l.seq >= logged_before)
                .collect();
            match (answer, want.get("error").and_then(Value::as_str)) {
                (Ok(got), None) => diff("", want, &got, &mut problems),
                (Ok(got), Some(e)) => {
                    problems.push(format!("want an error containing {e:?}, got {got}"));
                }
                (Err(e), Some(w)) if e.contains(w) => {}
                (Err(e), _) => problems.push(format!("the call failed: {e}")),
            }
            FixtureResult {
                file: name,
                description,
                passed: problems.is_empty(),
                problems,
                log,
            }
        })
        .collect()
}

/// The report `plugin test` prints.
pub fn report(plugin: &LoadedPlugin, results: &[FixtureResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let id = plugin.id();
    let _ = writeln!(out, "{}@{} ({})", id.id, id.version, plugin.manifest().kind);
    for r in results {
        let mark = if r.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "{mark}  {}  {}", r.file, r.description);
        for p in &r.problems {
            let _ = writeln!(out, "        {p}");
        }
        if !r.passed && !r.log.is_empty() {
            let _ = writeln!(out, "        the plugin's log during this fixture:");
            for l in &r.log {
                let _ = writeln!(
                    out,
                    "          {} {}: {}",
                    serde_name(l.level),
                    serde_name(l.source),
                    l.message
                );
            }
        }
    }
    let passed = results.iter().filter(|r| r.passed).count();
    let _ = writeln!(
        out,
        "{passed}/{} passed{}",
        results.len(),
        if passed == results.len() {
            String::new()
        } else {
            format!(", {} failed", results.len() - passed)
        }
    );
    out
}
