//! Runs every `fixtures/*.json` through the KPI definition and compares the result
//! with the fixture's `expected`, so the fixtures (which the host also runs
//! through the real Wasm runtime) cannot rot.
//!
//! A fixture is `{"description", "config" (null: the manifest's
//! default_config), "call": "on-event" | "measures", "input", "expected"}` in the host's
//! serde JSON form. `SWITCHBOARD_BLESS=1 cargo test -p core-kpis --test
//! fixtures` rewrites each `expected` with what the definition answers now
//! (review the diff before committing).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use core_kpis::{Config, CoreKpis};
use serde_json::Value;
use switchboard_sdk::KpiDefinition;
use switchboard_sdk::kpi::KpiInput;

fn run(config: &Value, call: &str, input: &Value) -> Result<Value, String> {
    let config: Config = switchboard_sdk::testing::parse_config("core-kpis", &config.to_string())?;
    let kpis = CoreKpis::new(config)?;
    let input = || serde_json::from_value::<KpiInput>(input.clone()).map_err(|e| e.to_string());
    match call {
        "on-event" => Ok(serde_json::to_value(kpis.on_event(input()?)?).unwrap()),
        "measures" => Ok(serde_json::to_value(kpis.measures()).unwrap()),
        other => Err(format!("unknown call {other:?}")),
    }
}

#[test]
fn every_fixture_holds() {
    switchboard_sdk::testing::check_fixtures(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        8,
        run,
    );
}
