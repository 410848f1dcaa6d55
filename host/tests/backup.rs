//! `switchboard backup` of a running server under load, restored and
//! verified. The check takes its inputs from the client's own log (the
//! contacts it saw acknowledged before the backup began), not from the
//! server's derived state.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{Server, request};
use serde_json::json;

fn contact(i: usize) -> serde_json::Value {
    json!({"channel": "chat", "customer_id": format!("cust-{}", i % 50),
           "topics": ["billing"], "text": format!("message {i}")})
}

#[test]
fn a_backup_taken_under_load_restores_every_acknowledged_contact_and_verifies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("live"));
    let (addr, token) = (server.addr, server.token.clone());

    // The client's log: every contact id the server acknowledged (201).
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop, token) = (acked.clone(), stop.clone(), token.clone());
            std::thread::spawn(move || {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    let body = contact(i).to_string();
                    if let Ok((201, c)) =
                        request(addr, "POST", "/v1/contacts", Some(&body), Some(&token))
                    {
                        let id = c["contact"]["id"].as_str().expect("an id").to_owned();
                        acked.lock().expect("log").push(id);
                    }
                    i += 4;
                }
            })
        })
        .collect();
    // Under way: wait for acknowledgements, not for time.
    while acked.lock().expect("log").len() < 200 {
        std::thread::yield_now();
    }
    let before: BTreeSet<String> = acked.lock().expect("log").iter().cloned().collect();

    let out = tmp.path().join("backup");
    let backup = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["backup", "--json", "--server"])
        .arg(format!("http://{addr}"))
        .args(["--token", &token, "--out"])
        .arg(&out)
        .output()
        .expect("run switchboard backup");
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let stderr = String::from_utf8_lossy(&backup.stderr);
    assert!(backup.status.success(), "backup failed: {stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&backup.stdout).expect("the --json summary");
    assert!(summary["keys"].as_u64().expect("keys") > 0, "{summary}");
    assert!(summary["audit_records"].as_u64().expect("records") > 0);
    let after: usize = acked.lock().expect("log").len();
    assert!(
        after > before.len(),
        "the load went on during the backup ({after} vs {})",
        before.len()
    );

    // The data directory holds customer text: owner only.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&out).expect("out").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "backup directory mode {mode:o}");

    // `audit verify` accepts the backup offline.
    let verify = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["audit", "verify", "--json", "--data-dir"])
        .arg(&out)
        .output()
        .expect("audit verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    drop(server);

    // Restore: start a server on the backup. The old admin token still works
    // (tokens are in the store), every contact acknowledged before the
    // backup began is there as it was, and new ids do not reuse old ones.
    // The operator keeps their admin token; the store keeps only its hash.
    std::fs::write(out.join("admin-token"), &token).expect("token file");
    let restored = Server::start(&out);
    let (status, backup_record) = request(
        restored.addr,
        "GET",
        "/v1/audit?kind=store.backup",
        None,
        Some(&token),
    )
    .expect("audit query");
    assert_eq!(status, 200, "the old token works on the restore");
    assert_eq!(
        backup_record["records"].as_array().map(Vec::len),
        Some(1),
        "the backup holds the record of its own taking: {backup_record}"
    );
    for id in &before {
        let (status, c) = request(
            restored.addr,
            "GET",
            &format!("/v1/contacts/{id}"),
            None,
            Some(&token),
        )
        .expect("get");
        assert_eq!(status, 200, "{id} was acknowledged before the backup: {c}");
        assert_eq!(c["id"], json!(id));
    }
    let (status, fresh) = request(
        restored.addr,
        "POST",
        "/v1/contacts",
        Some(&contact(0).to_string()),
        Some(&token),
    )
    .expect("post");
    assert_eq!(status, 201, "{fresh}");
    let fresh_id = fresh["contact"]["id"].as_str().expect("id").to_owned();
    assert!(
        !before.contains(&fresh_id),
        "{fresh_id} reuses an id of the backup"
    );
    let (status, _) =
        request(restored.addr, "GET", "/v1/audit/verify", None, Some(&token)).expect("verify");
    assert_eq!(status, 200);
}

#[test]
fn a_backup_needs_an_admin_and_a_new_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("live"));
    let viewer = common::token_for(&server, "operator");
    let run = |token: &str, out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["backup", "--server"])
            .arg(format!("http://{}", server.addr))
            .args(["--token", token, "--out"])
            .arg(out)
            .output()
            .expect("run")
    };
    let refused = run(&viewer, &tmp.path().join("b1"));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !tmp.path().join("b1").exists(),
        "a refused backup leaves nothing"
    );
    let exists = run(&server.token, tmp.path());
    assert!(!exists.status.success());
    assert!(String::from_utf8_lossy(&exists.stderr).contains("already exists"));
}
