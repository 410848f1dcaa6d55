//! Runs every `fixtures/*.json` through the policy and compares the result
//! with the fixture's `expected`, so the fixtures (which the host also runs
//! through the real Wasm runtime) cannot rot.
//!
//! A fixture is `{"description", "config" (null: the manifest's
//! default_config), "call": "route", "input", "expected"}` in the host's
//! serde JSON form. `SWITCHBOARD_BLESS=1 cargo test -p skill-routing --test
//! fixtures` rewrites each `expected` with what the policy answers now
//! (review the diff before committing).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use serde_json::Value;
use skill_routing::{Config, SkillRouting};
use switchboard_sdk::RoutingPolicy;
use switchboard_sdk::routing::RoutingInput;

fn run(config: &Value, call: &str, input: &Value) -> Result<Value, String> {
    let config: Config =
        switchboard_sdk::testing::parse_config("skill-routing", &config.to_string())?;
    let policy = SkillRouting::new(config)?;
    let input = || serde_json::from_value::<RoutingInput>(input.clone()).map_err(|e| e.to_string());
    match call {
        "route" => Ok(serde_json::to_value(policy.route(input()?)?).unwrap()),
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
