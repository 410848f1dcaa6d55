//! End to end over a real socket: the `switchboard` binary with its bundled
//! plugins on a fresh data directory, driven through the HTTP API; and the
//! durability promise: every acknowledged contact and event survives
//! SIGKILL mid-stream, and the audit chain still verifies.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use common::{Server, request};
use serde_json::json;

fn contact(customer: &str, text: &str, topic: &str) -> serde_json::Value {
    json!({"channel": "chat", "customer_id": customer, "customer_tier": "vip",
           "language": "en", "topics": [topic], "text": text})
}

#[test]
fn a_contact_posted_over_http_is_routed_offered_escalated_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, health) = server.get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["plugins"].as_array().unwrap().len(), 4);
    assert_eq!(server.get("/readyz").0, 200);

    let (status, _) = server.put(
        "/v1/agents/a-1",
        &json!({"id": "a-1", "name": "Ana", "skills": {"billing": 4}, "languages": ["en"],
                "capacity": {"chat": 2}, "status": "available"}),
    );
    assert_eq!(status, 200);
    let (status, got) = server.post(
        "/v1/contacts",
        &contact("cust-9", "This is unacceptable, charged twice", "billing"),
    );
    assert_eq!(status, 201, "{got}");
    let id = got["contact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(got["contact"]["requirements"]["queue"], "billing");
    assert_eq!(got["decided_by"]["plugin"], "skill-routing");
    assert_eq!(got["offered_to"], "a-1");
    assert_eq!(got["contact"]["complaint"]["category"], "billing");

    let (status, after) = server.post(
        &format!("/v1/contacts/{id}/events"),
        &json!({"type": "answer"}),
    );
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["contact"]["state"], "assigned");
    let (_, events) = server.get(&format!("/v1/contacts/{id}/events"));
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["offer", "answer"]);

    // Clear errors for bad requests, and nothing changes.
    let (status, err) = server.post(
        &format!("/v1/contacts/{id}/events"),
        &json!({"type": "survey", "csat": 5}),
    );
    assert_eq!(
        (status, err["error"].as_str()),
        (422, Some("invalid")),
        "{err}"
    );
    let (status, err) = server.post(
        &format!("/v1/contacts/{id}/events"),
        &json!({"type": "abandon"}),
    );
    assert_eq!(
        (status, err["error"].as_str()),
        (409, Some("illegal_transition")),
        "{err}"
    );
    let (status, err) = server.post("/v1/contacts/c-nope/events", &json!({"type": "answer"}));
    assert_eq!(status, 404, "{err}");
    let (status, err) = request(
        server.addr,
        "POST",
        "/v1/contacts",
        Some("{\"channel\": "),
        Some(&server.token),
    )
    .unwrap();
    assert_eq!(status, 400, "{err}");
    let (status, err) = server.post(
        "/v1/contacts",
        &json!({"channel": "pigeon", "customer_id": "x"}),
    );
    assert!(status == 422 || status == 400, "{status} {err}");
    assert!(err["message"].as_str().unwrap().contains("pigeon"), "{err}");
    assert_eq!(server.get("/v1/nope").0, 404);
    assert_eq!(
        err["type"], "urn:switchboard:problem:bad_request",
        "RFC 9457 problem"
    );

    // The audit trail names the plugin versions behind each decision.
    let (_, audit) = server.get(&format!("/v1/audit?subject={id}"));
    let records = audit["records"].as_array().unwrap();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["entry"]["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"routing.decision"), "{kinds:?}");
    assert!(kinds.contains(&"escalation.decision"), "{kinds:?}");
    assert!(kinds.contains(&"kpi.samples"), "{kinds:?}");
    assert!(
        records
            .iter()
            .all(|r| r["entry"]["actor"].as_str().unwrap().starts_with("plugin:"))
    );
    let (_, verify) = server.get("/v1/audit/verify");
    assert_eq!(verify["broken"], serde_json::Value::Null);
    assert!(verify["records"].as_u64().unwrap() >= 3);

    let (_, notes) = server.get("/v1/notifications");
    assert!(notes["notifications"].as_array().is_some());
    let (status, series) = server.post(
        "/v1/kpis/query",
        &json!({"measure": "contacts_handled", "from": 0, "to": 4_102_444_800_000i64,
                "bucket_ms": 4_102_444_800_000i64, "group_by": ["queue"]}),
    );
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["points"][0]["group"]["queue"], "billing");
    assert_eq!(series["points"][0]["value"], 1.0);
}

#[test]
fn acknowledged_contacts_and_events_survive_sigkill_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let addr = server.addr;
    let token = server.token.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<(String, u64)>();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (tx, stop, token) = (tx.clone(), stop.clone(), token.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let body = contact(&format!("cust-{w}-{i}"), "hello", "technical").to_string();
                    let Ok((201, got)) =
                        request(addr, "POST", "/v1/contacts", Some(&body), Some(&token))
                    else {
                        return; // the server is gone
                    };
                    let id = got["contact"]["id"].as_str().unwrap().to_owned();
                    let _ = tx.send((id.clone(), 0));
                    let msg =
                        json!({"type": "message", "from_customer": true, "text": "still there?"})
                            .to_string();
                    let Ok((200, _)) = request(
                        addr,
                        "POST",
                        &format!("/v1/contacts/{id}/events"),
                        Some(&msg),
                        Some(&token),
                    ) else {
                        return;
                    };
                    let _ = tx.send((id, 1));
                }
            })
        })
        .collect();
    drop(tx);
    // Kill the server while the writers are still writing.
    let mut acked: std::collections::BTreeMap<String, u64> = Default::default();
    while acked.len() < 150 {
        let (id, events) = rx.recv().expect("writers stopped early");
        let e = acked.entry(id).or_default();
        *e = (*e).max(events);
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for (id, events) in rx.iter() {
        let e = acked.entry(id).or_default();
        *e = (*e).max(events);
    }
    for w in writers {
        w.join().unwrap();
    }

    let server = Server::start(dir.path());
    for (id, events) in &acked {
        let (status, c) = server.get(&format!("/v1/contacts/{id}"));
        assert_eq!(
            status, 200,
            "acknowledged contact {id} is missing after SIGKILL"
        );
        assert!(
            c["events"].as_u64().unwrap() >= *events,
            "acknowledged event of {id} is missing: {c}"
        );
    }
    let (_, verify) = server.get("/v1/audit/verify");
    assert_eq!(verify["broken"], serde_json::Value::Null, "{verify}");
    assert!(verify["records"].as_u64().unwrap() >= acked.len() as u64);
    server.kill();
    // The CLI agrees, on the data directory itself.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn tokens_and_roles_decide_who_may_do_what() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let call = |method: &str, path: &str, body: Option<&serde_json::Value>, token: Option<&str>| {
        let body = body.map(|b| b.to_string());
        request(server.addr, method, path, body.as_deref(), token).unwrap()
    };
    // No token, a bad token: 401 with a message that says what to send.
    let (status, err) = call("GET", "/v1/queues", None, None);
    assert_eq!(status, 401, "{err}");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{err}"
    );
    assert_eq!(
        call("GET", "/v1/queues", None, Some("sb_00000000_00")).0,
        401
    );
    // The admin issues a token per role.
    let mut tokens = std::collections::BTreeMap::new();
    for role in ["operator", "partner", "agent", "viewer"] {
        let (status, t) = server.post(
            "/v1/tokens",
            &json!({"role": role, "label": format!("{role} test")}),
        );
        assert_eq!(status, 201, "{t}");
        tokens.insert(role, t["token"].as_str().unwrap().to_owned());
    }
    let queue = json!({"name": "billing", "priority": 1});
    let new_contact = contact("cust-1", "hello", "billing");
    // (role, method, path, body, allowed)
    let cases: Vec<(&str, &str, &str, Option<&serde_json::Value>, bool)> = vec![
        ("operator", "PUT", "/v1/queues/billing", Some(&queue), true),
        ("viewer", "PUT", "/v1/queues/billing", Some(&queue), false),
        ("agent", "PUT", "/v1/queues/billing", Some(&queue), false),
        ("viewer", "GET", "/v1/queues", None, true),
        ("partner", "GET", "/v1/queues", None, false),
        ("agent", "POST", "/v1/contacts", Some(&new_contact), true),
        ("viewer", "POST", "/v1/contacts", Some(&new_contact), false),
        (
            "operator",
            "POST",
            "/v1/contacts",
            Some(&new_contact),
            false,
        ),
        ("operator", "GET", "/v1/audit", None, true),
        ("agent", "GET", "/v1/audit", None, false),
        ("operator", "GET", "/v1/tokens", None, false),
    ];
    for (role, method, path, body, allowed) in cases {
        let (status, out) = call(method, path, body, Some(&tokens[role]));
        if allowed {
            assert!(status < 300, "{role} {method} {path}: {status} {out}");
        } else {
            assert_eq!(status, 403, "{role} {method} {path}: {out}");
            assert!(out["detail"].as_str().unwrap().contains(role), "{out}");
        }
    }
    // Admin actions are audited with the acting token's id.
    let (_, audit) = server.get("/v1/audit?kind=queue.upsert");
    let actor = audit["records"][0]["entry"]["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, list) = server.get("/v1/tokens");
    let operator_id = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "operator")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(actor, format!("token:{operator_id}"));
    assert!(
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("hash").is_none())
    );
    // A revoked token stops working.
    let (status, _) = call(
        "DELETE",
        &format!("/v1/tokens/{operator_id}"),
        None,
        Some(&server.token),
    );
    assert_eq!(status, 204);
    assert_eq!(
        call("GET", "/v1/queues", None, Some(&tokens["operator"])).0,
        401
    );
}
