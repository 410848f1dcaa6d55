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

/// Run one fixture's call; the plugin's answer as JSON, or why not.
fn call(plugin: &Arc<LoadedPlugin>, fixture: &Value) -> Result<Value, String> {
    let config = match &fixture["config"] {
        Value::Null => None,
        c => Some(c.clone()),
    };
    let call = fixture["call"].as_str().unwrap_or_default();
    let input = &fixture["input"];
    let err = |e: crate::plugins::PluginError| format!("activation failed: {e}");
    match (plugin.manifest().kind, call) {
        (PluginKind::Routing, "route") => {
            let a = plugin.activate::<RoutingPolicy>(config).map_err(err)?;
            output(a.route(&parse(input)?))
        }
        (PluginKind::Escalation, "on-event") => {
            let a = plugin.activate::<EscalationRule>(config).map_err(err)?;
            output(a.on_event(&parse(input)?))
        }
        (PluginKind::Compliance, "check") => {
            let a = plugin.activate::<ComplianceCheck>(config).map_err(err)?;
            output(a.check(&parse(input)?))
        }
        (PluginKind::Kpi, "on-event") => {
            let a = plugin.activate::<KpiDefinition>(config).map_err(err)?;
            output(a.on_event(&parse(input)?))
        }
        (PluginKind::Kpi, "measures") => {
            let a = plugin.activate::<KpiDefinition>(config).map_err(err)?;
            output(a.measures())
        }
        (kind, call) => Err(format!(
            "`call` is `{call}`, which a {kind} plugin does not have (routing: route; escalation: on-event; compliance: check; kpi: on-event, measures)"
        )),
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
                    };
                }
            };
            let description = fixture["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let want = &fixture["expected"];
            let mut problems = Vec::new();
            match (
                call(plugin, &fixture),
                want.get("error").and_then(Value::as_str),
            ) {
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
