//! The partner toolchain end to end, as a partner runs it: `switchboard
//! plugin new` for every kind in every language, `plugin build` (which
//! installs the language's toolchain from its registry on first use), then
//! `plugin test` through the real sandboxed runtime; and the polyglot
//! examples in `examples/polyglot/`, built and tested the same way.
//!
//! Each example then goes where the partner guide's tutorials end: pushed
//! with a partner token to a running server, activated by an admin, and
//! deciding real traffic.
//!
//! Toolchains, the compile cache and the Rust scaffolds' target directory
//! live under cargo's target/tmp and are reused by later runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Server, token_for};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const KINDS: [&str; 4] = ["routing", "escalation", "compliance", "kpi"];

fn work() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("polyglot")
}

fn switchboard(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env("SWITCHBOARD_TOOLCHAINS", work().join("toolchains"))
        .env("SWITCHBOARD_CACHE_DIR", work().join("cache"))
        .env("CARGO_TARGET_DIR", work().join("rust-target"))
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .expect("the switchboard binary runs")
}

/// stdout of a command that must succeed; its whole output if it did not.
fn ok(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn fixture_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("fixtures"))
        .expect("fixtures/")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count()
}

/// `plugin build --json` then `plugin test` in `dir`, checking the
/// component is of `kind`, imports nothing the host refuses, and passes
/// every fixture. Returns the build report.
fn build_and_test(dir: &Path, kind: &str) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_str(&ok(
        switchboard(dir, &["plugin", "build", "--json"]),
        "plugin build",
    ))
    .expect("plugin build --json prints JSON");
    let component = &report["component"];
    assert_eq!(component["kind"], kind, "{report:#}");
    let output = PathBuf::from(report["output"].as_str().expect("output"));
    assert!(
        dir.join(&output).is_file() || output.is_file(),
        "{report:#}"
    );
    for import in component["imports"].as_array().expect("imports") {
        let import = import.as_str().expect("a string");
        assert!(
            !import.starts_with("wasi:sockets") && !import.starts_with("wasi:http"),
            "{import}"
        );
    }
    let n = fixture_count(dir);
    assert!(n >= 2, "{} has only {n} fixtures", dir.display());
    let out = ok(switchboard(dir, &["plugin", "test"]), "plugin test");
    assert!(out.contains(&format!("{n}/{n} passed")), "{out}");
    // One fixture, named alone, runs against the plugin's component.
    let mut files: Vec<_> = std::fs::read_dir(dir.join("fixtures"))
        .expect("fixtures/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".json"))
        .collect();
    files.sort();
    let one = format!("fixtures/{}", files[0]);
    let out = ok(
        switchboard(dir, &["plugin", "test", &one]),
        "plugin test <one>",
    );
    assert!(
        out.contains("1/1 passed") && out.contains(&files[0]),
        "{out}"
    );
    report
}

/// Every kind scaffolded in `lang`, built, and passing its own fixtures.
fn scaffolds(lang: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(work()).expect("work dir");
    let parent = tempfile::tempdir_in(work()).expect("a temp dir");
    for kind in KINDS {
        let name = format!("{lang}-{kind}");
        let out = ok(
            switchboard(
                parent.path(),
                &["plugin", "new", &name, "--kind", kind, "--lang", lang],
            ),
            "plugin new",
        );
        assert!(out.contains("plugin build"), "{out}");
        let dir = parent.path().join(&name);
        assert!(dir.join("README.md").is_file() && dir.join("manifest.json").is_file());
        let report = build_and_test(&dir, kind);
        assert_eq!(report["lang"], lang, "{report:#}");
        assert_eq!(report["component"]["wit_version"], "0.2.0");
    }
    parent
}

/// A copy of `examples/polyglot/<name>` (the `wit` link resolved), so the
/// build leaves the source tree alone.
fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("readable") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("a name");
            if name == "build" || name == "node_modules" {
                continue;
            }
            if path.is_dir() {
                copy(&path, &to.join(name));
            } else {
                std::fs::copy(&path, to.join(name)).expect("copy");
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/polyglot")
        .join(name);
    std::fs::create_dir_all(work()).expect("work dir");
    let tmp = tempfile::tempdir_in(work()).expect("a temp dir");
    let dir = tmp.path().join(name);
    copy(&src, &dir);
    (tmp, dir)
}

/// The plugin built in `dir` pushed with a partner token (`plugin push`,
/// which checks and uploads it), activated in `slot` by an admin (`plugin
/// activate`), put to work by `exercise`; afterwards the slot runs it and
/// its calls all succeeded.
fn runs_in_a_server(dir: &Path, id: &str, slot: &str, exercise: impl FnOnce(&Server)) {
    let data = tempfile::tempdir_in(work()).expect("a temp dir");
    let server = Server::start(data.path());
    let partner = token_for(&server, "partner");
    let cli = |args: &[&str], token: &str| ok(against(&server, dir, token, args), &args.join(" "));
    let wasm = format!("build/{id}.wasm");
    let out = cli(
        &["plugin", "push", &wasm, "--manifest", "manifest.json"],
        &partner,
    );
    assert!(out.contains(&format!("uploaded {id}@0.1.0")), "{out}");
    let out = cli(&["plugin", "activate", slot, id, "0.1.0"], &server.token);
    assert!(out.contains(&format!("{id}@0.1.0 active")), "{out}");

    exercise(&server);

    let (status, slots) = server.get("/v1/slots");
    assert_eq!(status, 200, "{slots}");
    let view = slots["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .find(|s| s["slot"] == slot)
        .unwrap_or_else(|| panic!("no slot {slot}: {slots}"));
    assert_eq!(view["current"]["plugin"], id, "{view}");
    assert!(view["stats"]["calls"].as_u64().unwrap_or(0) >= 1, "{view}");
    assert_eq!(view["stats"]["failures"], 0, "{view}");
    let out = cli(&["plugin", "logs", id, "0.1.0"], &server.token);
    assert!(!out.contains("trap"), "{out}");
}

/// `switchboard <args>` in `dir`, talking to `server` with `token`.
fn against(server: &Server, dir: &Path, token: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env("SWITCHBOARD_SERVER", format!("http://{}", server.addr))
        .env("SWITCHBOARD_TOKEN", token)
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .expect("the switchboard binary runs")
}

/// A contact as the examples' rules expect one.
fn contact(topic: &str) -> serde_json::Value {
    json!({"channel": "chat", "customer_id": "cust-1", "topics": [topic],
           "text": "I was charged twice", "language": "en"})
}

#[test]
fn rust_scaffolds_of_every_kind_build_and_pass_their_fixtures() {
    scaffolds("rust");
}

#[test]
fn python_example_and_scaffolds_of_every_kind_build_and_pass_their_fixtures() {
    let (_tmp, dir) = example("python-routing");
    build_and_test(&dir, "routing");
    runs_in_a_server(&dir, "python-routing", "routing", |server| {
        let (status, got) = server.post("/v1/contacts", &contact("billing"));
        assert_eq!(status, 201, "{got}");
        assert_eq!(got["decided_by"]["plugin"], "python-routing", "{got}");
        assert_eq!(got["contact"]["requirements"]["queue"], "billing", "{got}");
    });
    scaffolds("python");
}

#[test]
fn javascript_example_and_scaffolds_of_every_kind_build_and_pass_their_fixtures() {
    let (_tmp, dir) = example("js-compliance");
    build_and_test(&dir, "compliance");
    runs_in_a_server(&dir, "js-compliance", "js-compliance", |server| {
        let (_, got) = server.post("/v1/contacts", &contact("billing"));
        let id = got["contact"]["id"].as_str().expect("a contact id");
        // "unfortunately" is only in the example's discouraged phrases.
        let (status, draft) = server.post(
            &format!("/v1/contacts/{id}/drafts"),
            &json!({"agent_id": "a-1", "text": "Unfortunately the refund takes a week."}),
        );
        assert_eq!(status, 201, "{draft}");
        assert_eq!(draft["state"], "needs_revision", "{draft}");
        assert!(draft.to_string().contains("I'm sorry, but"), "{draft}");
    });
    scaffolds("js");
}

#[test]
fn c_example_and_scaffolds_of_every_kind_build_and_pass_their_fixtures() {
    let (_tmp, dir) = example("c-kpi");
    let report = build_and_test(&dir, "kpi");
    runs_in_a_server(&dir, "c-kpi", "c-kpi", |server| {
        let (status, got) = server.post("/v1/contacts", &contact("billing"));
        assert_eq!(status, 201, "{got}");
        // c-kpi and the bundled core-kpis both define contacts_handled:
        // a query must say which, and then gets that one.
        let kpi = |args: &[&str]| {
            against(
                server,
                Path::new("."),
                &server.token,
                &[&["kpi"], args].concat(),
            )
        };
        let out = kpi(&["contacts_handled"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("c-kpi") && stderr.contains("slot"),
            "{stderr}"
        );
        ok(kpi(&["contacts_handled", "--slot", "c-kpi"]), "kpi --slot");
        let list = ok(kpi(&["--list"]), "kpi --list");
        assert!(
            list.lines()
                .any(|l| l.starts_with("contacts_handled") && l.contains("c-kpi")),
            "{list}"
        );
    });
    // Built to import nothing but the switchboard interfaces.
    let imports = report["component"]["imports"].as_array().expect("imports");
    assert!(
        imports.iter().all(|i| i
            .as_str()
            .is_some_and(|i| i.starts_with("switchboard:rules/"))),
        "{report:#}"
    );

    let parent = scaffolds("c");
    // A compile error fails the build with the compiler's message and
    // leaves the last good component in place.
    let dir = parent.path().join("c-kpi");
    let built = dir.join("build/c-kpi.wasm");
    let before = std::fs::read(&built).expect("built");
    let source = dir.join("plugin.c");
    let mut text = std::fs::read_to_string(&source).expect("plugin.c");
    text.push_str("\nthis is not C;\n");
    std::fs::write(&source, text).expect("write");
    let out = switchboard(&dir, &["plugin", "build"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plugin.c") && stderr.contains("clang failed"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&built).expect("still there"), before);
}

#[test]
fn build_outside_a_plugin_directory_says_what_to_do() {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let out = switchboard(tmp.path(), &["plugin", "build"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("manifest.json") && stderr.contains("plugin new"),
        "{stderr}"
    );

    let out = switchboard(tmp.path(), &["plugin", "test"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("manifest.json"), "{stderr}");

    let out = switchboard(
        tmp.path(),
        &["plugin", "new", "Bad Name", "--kind", "kpi", "--lang", "c"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lowercase"));
}
