//! The real `switchboard` binary: `--help`, `plugin inspect`, and `serve`
//! over a real socket with the bundled plugins active.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run switchboard")
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["plugin", "--help"],
        &["plugin", "inspect", "--help"],
        &["plugin", "bundled", "--help"],
        &["audit", "verify", "--help"],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
    let serve = String::from_utf8_lossy(&run(&["serve", "--help"]).stdout).into_owned();
    for flag in ["--listen", "--data-dir", "--log-level", "--log-format"] {
        assert!(
            serve.contains(flag),
            "serve --help should document {flag}: {serve}"
        );
    }
}

#[test]
fn plugin_inspect_prints_world_version_imports_and_digest() {
    let wasm = switchboard::bundled::test_guests::MISBEHAVING;
    let out = run(&["plugin", "inspect", wasm]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("routing (world routing-policy)"), "{text}");
    assert!(text.contains("switchboard:rules@0.2.0"), "{text}");
    assert!(text.contains("switchboard:rules/log@0.2.0"), "{text}");
    assert!(text.contains("sha256:"), "{text}");

    let out = run(&["plugin", "inspect", wasm, "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(info["world"], "routing-policy");
    assert_eq!(info["size_bytes"], std::fs::metadata(wasm).unwrap().len());
}

#[test]
fn plugin_inspect_rejects_a_non_component_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.wasm");
    std::fs::write(&path, "hello").unwrap();
    let out = run(&["plugin", "inspect", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a WebAssembly file"), "{err}");
}

#[test]
fn plugin_bundled_lists_one_plugin_per_kind() {
    let out = run(&["plugin", "bundled"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for world in [
        "routing-policy",
        "escalation-rule",
        "compliance-check",
        "kpi-definition",
    ] {
        assert!(text.contains(world), "{world} missing: {text}");
    }
}

#[test]
fn serve_answers_healthz_with_the_bundled_plugins_and_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let address = loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "server exited before listening:\n{seen}");
        seen.push_str(&line);
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };

    let mut stream = TcpStream::connect(&address).expect("connect");
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let health: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(health["status"], "ok");
    let kinds: Vec<&str> = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    for kind in ["routing", "escalation", "compliance", "kpi"] {
        assert!(kinds.contains(&kind), "{kind} not active: {body}");
    }
    // The compile cache was populated in the data directory.
    assert!(dir.path().join("cache").read_dir().unwrap().count() >= 4);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(exit.success(), "exit {exit:?}:\n{seen}{rest}");
    assert!(rest.contains("shut down cleanly"), "{seen}{rest}");
}

#[test]
fn audit_verify_passes_an_intact_chain_and_names_a_tampered_record() {
    use switchboard::domain::Channel;
    use switchboard::engine::{Engine, FallbackQueues, NewContact};
    use switchboard::store::{Durability, SledStore, Store};

    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::new(
            SledStore::open(&dir.path().join("db"), Durability::Group).unwrap(),
            FallbackQueues::default(),
        )
        .unwrap();
        for i in 0..5 {
            engine
                .ingest(NewContact {
                    channel: Channel::Email,
                    customer_id: format!("cust-{i}"),
                    customer_tier: "standard".into(),
                    language: "en".into(),
                    topics: vec![],
                    text: format!("message {i}"),
                    sentiment: None,
                    attributes: Default::default(),
                    occurred_at: Some(1_700_000_000_000 + i),
                })
                .unwrap();
        }
    }
    let data_dir = dir.path().to_str().unwrap();
    let ok = run(&["audit", "verify", "--data-dir", data_dir]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("OK: 5 records"));

    // Flip one byte inside record 4's stored text ("message 3" -> "message 4").
    {
        let store = SledStore::open(&dir.path().join("db"), Durability::Group).unwrap();
        let key = 4u64.to_be_bytes();
        let mut bytes = store.get("audit", &key).unwrap().unwrap();
        let pos = bytes.windows(9).position(|w| w == b"message 3").unwrap() + 8;
        bytes[pos] = b'4';
        let mut w = switchboard::store::Writes::default();
        w.put("audit", key, bytes);
        store.commit(w).unwrap();
        store.flush().unwrap();
    }
    let broken = run(&["audit", "verify", "--data-dir", data_dir]);
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8_lossy(&broken.stdout);
    assert!(text.contains("BROKEN at record 4"), "{text}");
    assert!(text.contains("altered"), "{text}");
}

/// The bundled plugin built from crate `name`, written to `dir`.
fn bundled_component(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let p = switchboard::bundled::BUNDLED
        .iter()
        .find(|p| p.crate_name == name)
        .unwrap();
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, p.wasm).unwrap();
    path
}

fn plugin_dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(name)
}

/// `switchboard plugin test <flags> --manifest <manifest> <component>
/// <fixtures>`, with its compile cache in `dir`.
fn plugin_test(
    dir: &std::path::Path,
    flags: &[&str],
    manifest: &std::path::Path,
    component: &std::path::Path,
    fixtures: &std::path::Path,
) -> std::process::Output {
    Command::new(BIN)
        .args(["plugin", "test"])
        .args(flags)
        .arg("--manifest")
        .arg(manifest)
        .arg(component)
        .arg(fixtures)
        .env("SWITCHBOARD_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap()
}

/// The first of the bundled skill-routing plugin's fixtures.
fn first_skill_routing_fixture() -> serde_json::Value {
    let first = std::fs::read_dir(plugin_dir("skill-routing").join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap()
}

#[test]
fn plugin_test_passes_every_bundled_plugins_fixtures_in_the_real_runtime() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "skill-routing",
        "complaint-escalation",
        "brand-compliance",
        "core-kpis",
    ] {
        let wasm = bundled_component(dir.path(), name);
        let out = Command::new(BIN)
            .args(["plugin", "test"])
            .arg(&wasm)
            .arg(plugin_dir(name).join("fixtures"))
            .env("SWITCHBOARD_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fixtures = std::fs::read_dir(plugin_dir(name).join("fixtures"))
            .unwrap()
            .count();
        assert!(fixtures >= 8, "{name} has {fixtures} fixtures");
        assert!(
            stdout.contains(&format!("{fixtures}/{fixtures} passed")),
            "{name}: {stdout}"
        );
        assert_eq!(stdout.matches("PASS").count(), fixtures, "{stdout}");
    }
}

#[test]
fn plugin_test_reports_a_failing_fixture_with_a_diff_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = bundled_component(dir.path(), "skill-routing");
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    let mut fixture = first_skill_routing_fixture();
    std::fs::write(fixtures.join("01-good.json"), fixture.to_string()).unwrap();
    fixture["expected"]["queue"] = serde_json::json!("no-such-queue");
    std::fs::write(fixtures.join("02-bad.json"), fixture.to_string()).unwrap();
    let manifest = plugin_dir("skill-routing").join("manifest.json");
    let out = plugin_test(dir.path(), &[], &manifest, &wasm, &fixtures);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("PASS  01-good.json"), "{stdout}");
    assert!(stdout.contains("FAIL  02-bad.json"), "{stdout}");
    assert!(
        stdout.contains("/queue: want \"no-such-queue\", got \"billing\""),
        "{stdout}"
    );
    assert!(stdout.contains("1/2 passed, 1 failed"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 2 fixtures failed"), "{stderr}");

    // --bench times the passing fixture only; --json carries both.
    let out = plugin_test(
        dir.path(),
        &["--json", "--bench", "10"],
        &manifest,
        &wasm,
        &fixtures,
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{doc}");
    assert_eq!(results[1]["passed"], false, "{doc}");
    let bench = doc["bench"].as_array().unwrap();
    assert_eq!(bench.len(), 1, "{doc}");
    assert_eq!(bench[0]["file"], "01-good.json");
    assert_eq!(bench[0]["calls"], 10);
    assert!(bench[0]["mean_ns"].as_u64().unwrap() > 0, "{doc}");
    assert!(
        bench[0]["best_slice_ns"].as_u64().unwrap() <= bench[0]["mean_ns"].as_u64().unwrap(),
        "{doc}"
    );
}

#[test]
fn plugin_test_shows_what_the_plugin_logged_during_a_failing_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    let mut fixture = first_skill_routing_fixture();
    // The misbehaving test guest panics when the contact's text says so.
    fixture["config"] = serde_json::json!({});
    fixture["input"]["contact"]["text"] = serde_json::json!("panic");
    std::fs::write(fixtures.join("01-panics.json"), fixture.to_string()).unwrap();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::json!({
            "id": "misbehaving", "version": "1.0.0", "kind": "routing", "wit": "0.2.0",
            "description": "test guest",
            "config_schema": {"type": "object"}, "default_config": {},
            "limits": {"timeout_ms": 1000}, "fail_policy": "fail-open"
        })
        .to_string(),
    )
    .unwrap();
    let out = plugin_test(
        dir.path(),
        &[],
        &manifest,
        std::path::Path::new(switchboard::bundled::test_guests::MISBEHAVING),
        &fixtures,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  01-panics.json"), "{stdout}");
    assert!(
        stdout.contains("the plugin's log during this fixture:"),
        "{stdout}"
    );
    assert!(stdout.contains("panicked on purpose"), "{stdout}");
    assert!(stdout.contains("error guest: host:"), "{stdout}");
}
