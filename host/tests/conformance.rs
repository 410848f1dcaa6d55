//! The OpenAPI document against the real server, checked by a
//! schema-driven fuzzer: schemathesis (PyPI, pinned, installed once into a
//! venv under the toolchains directory, like componentize-py) generates
//! valid and invalid requests for every operation from `/openapi.json` and
//! runs all of its checks on the answers: no 5xx, every status, content
//! type, header and body as documented, valid requests accepted, invalid
//! ones refused. The run is bounded by a time budget; the test fails on
//! any failed check and prints schemathesis' report.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Server;

/// The schemathesis release the run is pinned to (its checks and CLI
/// flags change between releases).
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Seconds of fuzzing; schemathesis stops generating when they are spent.
const BUDGET_SECS: &str = "150";

/// schemathesis in `<toolchains>/schemathesis-<version>`, installed from
/// PyPI on first use.
fn schemathesis() -> PathBuf {
    let venv = switchboard::toolchain::toolchains_dir()
        .unwrap()
        .join(format!("schemathesis-{SCHEMATHESIS_VERSION}"));
    let exe = venv.join("bin/schemathesis");
    let works = |exe: &Path| {
        Command::new(exe)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works(&exe) {
        return exe;
    }
    eprintln!(
        "installing schemathesis {SCHEMATHESIS_VERSION} from PyPI into {} (once)",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 runs (install Python 3.9 or newer with venv)");
    assert!(status.success(), "python3 -m venv {}", venv.display());
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--disable-pip-version-check", "--quiet"])
        .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}"))
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip install schemathesis");
    assert!(works(&exe), "schemathesis does not run after installing it");
    exe
}

#[test]
fn the_server_conforms_to_its_openapi_document() {
    let exe = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let junit = dir.path().join("junit.xml");
    // In the temporary directory: schemathesis keeps its example database
    // in the working directory.
    let out = Command::new(&exe)
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/schemathesis.toml"))
        .arg("run")
        .arg(format!("http://{}/openapi.json", server.addr))
        .args(["--checks", "all", "--max-time", BUDGET_SECS])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", server.token),
        ])
        .args(["--seed", "18", "--workers", "2", "--no-color"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit)
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(
        out.status.success(),
        "schemathesis found requests the server answers other than its document says (report above)"
    );
    // A run that tested nothing would pass too.
    let cases = std::fs::read_to_string(&junit)
        .unwrap()
        .matches("<testcase")
        .count();
    assert!(cases >= 45, "only {cases} operations were tested:\n{text}");
}
