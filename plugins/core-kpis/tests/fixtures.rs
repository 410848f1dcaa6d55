//! Runs every `fixtures/*.json` through the KPI definition and compares the result
//! with the fixture's `expected`, so the fixtures (which the host also runs
//! through the real Wasm runtime) cannot rot.
//!
//! A fixture is `{"description", "config" (null: the manifest's
//! default_config), "call": "on-event" | "measures", "input", "expected"}` in the host's
//! serde JSON form. `SWITCHBOARD_BLESS=1 cargo test -p core-kpis --test
//! fixtures` rewrites each `expected` with what the definition answers now
//! (review the diff before committing).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a failed unwrap is a failed test

use core_kpis::{Config, CoreKpis};
use serde_json::Value;
use switchboard_sdk::KpiDefinition;
use switchboard_sdk::kpi::KpiInput;

const MANIFEST: &str = include_str!("../manifest.json");

fn run(fixture: &Value) -> Result<Value, String> {
    let config = match &fixture["config"] {
        Value::Null => serde_json::from_str::<Value>(MANIFEST).unwrap()["default_config"].clone(),
        c => c.clone(),
    };
    let config: Config = switchboard_sdk::testing::parse_config("core-kpis", &config.to_string())?;
    let kpis = CoreKpis::new(config)?;
    match fixture["call"].as_str() {
        Some("on-event") => {
            let input: KpiInput =
                serde_json::from_value(fixture["input"].clone()).map_err(|e| e.to_string())?;
            Ok(serde_json::to_value(kpis.on_event(input)?).unwrap())
        }
        Some("measures") => Ok(serde_json::to_value(kpis.measures()).unwrap()),
        other => Err(format!("unknown call {other:?}")),
    }
}

#[test]
fn every_fixture_holds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let bless = std::env::var_os("SWITCHBOARD_BLESS").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 8,
        "at least 8 fixtures, found {}",
        paths.len()
    );
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut fixture: Value = serde_json::from_str(&text).unwrap();
        assert!(
            fixture["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}: no description",
            path.display()
        );
        let got = run(&fixture).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if bless {
            fixture["expected"] = got;
            let mut out = serde_json::to_string_pretty(&fixture).unwrap();
            out.push('\n');
            std::fs::write(&path, out).unwrap();
        } else if got != fixture["expected"] {
            failures.push(format!(
                "{}:\n  expected {}\n  got      {}",
                path.display(),
                fixture["expected"],
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
