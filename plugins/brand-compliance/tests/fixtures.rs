//! Runs every `fixtures/*.json` through the check and compares the result
//! with the fixture's `expected`, so the fixtures (which the host also runs
//! through the real Wasm runtime) cannot rot.
//!
//! A fixture is `{"description", "config" (null: the manifest's
//! default_config), "call": "check", "input", "expected"}` in the host's
//! serde JSON form. `SWITCHBOARD_BLESS=1 cargo test -p brand-compliance --test
//! fixtures` rewrites each `expected` with what the check answers now
//! (review the diff before committing).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use brand_compliance::{BrandCompliance, Config};
use serde_json::Value;
use switchboard_sdk::ComplianceCheck;
use switchboard_sdk::compliance::Draft;

fn run(config: &Value, call: &str, input: &Value) -> Result<Value, String> {
    let config: Config =
        switchboard_sdk::testing::parse_config("brand-compliance", &config.to_string())?;
    let check = BrandCompliance::new(config)?;
    let input = || serde_json::from_value::<Draft>(input.clone()).map_err(|e| e.to_string());
    match call {
        "check" => Ok(serde_json::to_value(check.check(input()?)?).unwrap()),
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
