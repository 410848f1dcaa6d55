//! The supervisor console in a real browser: the real binary serves the
//! embedded console, and the browser tests in `tests/console/` (Node's test
//! runner driving Debian's headless Chromium with playwright-core) sign in,
//! watch the floor, approve drafts, roll back a plugin, chart KPIs and
//! check what each role sees. `tests/console/setup.sh` installs Chromium,
//! Node.js and playwright-core first when they are missing.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, request};

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/console")
}

#[test]
fn the_server_serves_the_embedded_console() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, _) = request(server.addr, "GET", "/", None, None).unwrap();
    assert_eq!(status, 303, "/ redirects to the console");
    for name in switchboard::server::console::asset_names() {
        let path = format!("/console/{name}");
        let status = common::status_only(server.addr, "GET", &path, None, None).unwrap();
        assert_eq!(status, 200, "{path}");
    }
    let (status, page) = request(server.addr, "GET", "/console/", None, None).unwrap();
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap().contains("<html"), "{page}");
    let (status, _) = request(server.addr, "GET", "/console/nope.js", None, None).unwrap();
    assert_eq!(status, 404);
    // Every file of host/console is embedded.
    let on_disk: Vec<String> =
        std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.starts_with('.'))
            .collect();
    assert_eq!(
        on_disk.len(),
        switchboard::server::console::asset_names().len()
    );
}

#[test]
fn the_console_passes_its_browser_tests() {
    let setup = Command::new("bash")
        .arg(console_dir().join("setup.sh"))
        .status()
        .expect("run tests/console/setup.sh");
    assert!(setup.success(), "tests/console/setup.sh failed");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut files: Vec<PathBuf> = std::fs::read_dir(console_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "browser tests missing: {files:?}");
    let started = std::time::Instant::now();
    let status = Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .args(&files)
        .current_dir(console_dir())
        .env("SWITCHBOARD_URL", format!("http://{}", server.addr))
        .env("SWITCHBOARD_TOKEN", &server.token)
        .status()
        .expect("run node --test");
    eprintln!(
        "browser tests took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "the console's browser tests failed (output above)"
    );
}
