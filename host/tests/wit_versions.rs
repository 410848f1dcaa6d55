//! WIT versioning: the host serves every published `switchboard:rules`
//! version side by side. `wit/0.1.0/` is the frozen 0.1.0 contract and the
//! guests in `tests/plugins/frozen-*-v0-1` are components built against it
//! (with wit-bindgen, straight from that folder); they must keep loading,
//! routing and measuring through the current host while `wit/` moves on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use switchboard::bundled::test_guests;
use switchboard::fixtures;
use switchboard::plugins::{
    LoadError, LoadedPlugin, Manifest, PluginRuntime, RuntimeConfig, WIT_VERSION, WIT_VERSIONS,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the repo")
        .to_owned()
}

fn runtime() -> PluginRuntime {
    PluginRuntime::new(RuntimeConfig {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-cache")),
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

/// A guest of `tests/plugins/<dir>` with its manifest, loaded.
fn load(rt: &PluginRuntime, dir: &str, wasm: &str) -> Result<Arc<LoadedPlugin>, LoadError> {
    let manifest =
        std::fs::read_to_string(repo().join("tests/plugins").join(dir).join("manifest.json"))
            .expect("manifest");
    let manifest = Manifest::from_json(&manifest).expect("valid manifest");
    rt.load(
        manifest,
        &std::fs::read(wasm).expect("the build script builds the guest"),
    )
}

fn fixtures_pass(plugin: &Arc<LoadedPlugin>, dir: &str) -> usize {
    let files = fixtures::fixture_files(&repo().join("tests/plugins").join(dir).join("fixtures"))
        .expect("fixtures");
    let results = fixtures::run(plugin, &files);
    assert!(
        results.iter().all(|r| r.passed),
        "{}",
        fixtures::report(plugin, &results)
    );
    results.len()
}

/// The published contract is never edited: this digest was taken when 0.1.0
/// was frozen. A change to `wit/0.1.0/` is a new version in `wit/`, never an
/// edit of a published one.
#[test]
fn the_published_0_1_0_contract_is_frozen() {
    let dir = repo().join("wit/0.1.0");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wit"))
        .collect();
    files.sort();
    let mut all = Sha256::new();
    for f in &files {
        let text = std::fs::read(f).unwrap();
        all.update(hex::encode(Sha256::digest(&text)));
        all.update(format!("  {}\n", f.strip_prefix(repo()).unwrap().display()));
    }
    assert_eq!(files.len(), 7, "{files:?}");
    assert_eq!(
        hex::encode(all.finalize()),
        "265d4b0250f7a777d9b88d0b8df90191849f1ae309685d517c13e72c7c6c4067",
        "wit/0.1.0 changed: published versions are frozen; evolve wit/ instead"
    );
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.starts_with("package switchboard:rules@0.1.0;"),
            "{}",
            f.display()
        );
    }
}

#[test]
fn the_host_serves_every_published_version_and_the_current_one_is_in_wit() {
    assert_eq!(WIT_VERSIONS, ["0.1.0", "0.2.0"]);
    assert_eq!(WIT_VERSION, "0.2.0");
    let current = std::fs::read_to_string(repo().join("wit/worlds.wit")).unwrap();
    assert!(current.starts_with(&format!("package switchboard:rules@{WIT_VERSION};")));
}

#[test]
fn a_0_1_0_routing_policy_loads_and_its_decisions_read_as_current_ones() {
    let rt = runtime();
    let bytes = std::fs::read(test_guests::FROZEN_ROUTING_V0_1).unwrap();
    let info = rt.inspect(&bytes).unwrap();
    assert_eq!(info.wit_version.as_deref(), Some("0.1.0"));
    assert!(
        info.imports
            .contains(&"switchboard:rules/log@0.1.0".to_owned()),
        "{:?}",
        info.imports
    );
    let plugin = load(&rt, "frozen-routing-v0-1", test_guests::FROZEN_ROUTING_V0_1).unwrap();
    // Every field of the old decision, every relaxation action, an empty
    // `attributes`: the fixture holds the exact current-version JSON.
    assert_eq!(fixtures_pass(&plugin, "frozen-routing-v0-1"), 1);
    // Its log import (log@0.1.0) is linked and lands in the plugin log.
    let lines = plugin.log().lines();
    assert!(
        lines
            .iter()
            .any(|l| l.message.contains("0.1.0 policy routed c-1")),
        "{lines:?}"
    );
    // A bad config still comes back as the plugin's own error.
    let err = plugin
        .activate::<switchboard::plugins::RoutingPolicy>(Some(serde_json::json!({"queue": ""})))
        .unwrap_err();
    assert!(err.to_string().contains("queue"), "{err}");
}

#[test]
fn a_0_1_0_kpi_definition_is_called_with_the_current_types() {
    let rt = runtime();
    let plugin = load(&rt, "frozen-kpi-v0-1", test_guests::FROZEN_KPI_V0_1).unwrap();
    assert_eq!(fixtures_pass(&plugin, "frozen-kpi-v0-1"), 2);
}

#[test]
fn a_manifest_must_name_the_version_the_component_was_built_against() {
    let rt = runtime();
    let text =
        std::fs::read_to_string(repo().join("tests/plugins/frozen-routing-v0-1/manifest.json"))
            .unwrap()
            .replace("\"wit\": \"0.1.0\"", "\"wit\": \"0.2.0\"");
    let manifest = Manifest::from_json(&text).unwrap();
    let err = rt
        .load(
            manifest,
            &std::fs::read(test_guests::FROZEN_ROUTING_V0_1).unwrap(),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LoadError::WrongWorld { .. }), "{err:?}");
    assert!(msg.contains("switchboard:rules/routing@0.2.0"), "{msg}");
    assert!(msg.contains("switchboard:rules/routing@0.1.0"), "{msg}");

    let unknown = text.replace("\"wit\": \"0.2.0\"", "\"wit\": \"0.9.0\"");
    let err = Manifest::from_json(&unknown).unwrap_err();
    assert!(err.contains("0.9.0") && err.contains("0.1.0"), "{err}");
}
