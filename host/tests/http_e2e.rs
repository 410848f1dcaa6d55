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
    let (status, _) = server.put(
        "/v1/queues/billing",
        &json!({"name": "billing", "priority": 2, "service_level": {"share": 0.8, "within_secs": 30}}),
    );
    assert_eq!(status, 204);
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

    // Lists with filters and a cursor; live queue figures.
    let (_, second) = server.post("/v1/contacts", &contact("cust-10", "hello", "technical"));
    let second_id = second["contact"]["id"].as_str().unwrap().to_owned();
    let (status, page) = server.get("/v1/contacts?limit=1");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["contacts"][0]["id"], id.as_str());
    let next = page["next_after"].as_str().unwrap().to_owned();
    let (_, page) = server.get(&format!("/v1/contacts?limit=1&after={next}"));
    assert_eq!(page["contacts"][0]["id"], second_id.as_str());
    let (_, queued) = server.get("/v1/contacts?state=queued&channel=chat");
    let ids: Vec<&str> = queued["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second_id.as_str()], "the first one is assigned");
    let (_, mine) = server.get("/v1/contacts?customer=cust-9");
    assert_eq!(mine["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(server.get("/v1/contacts?state=sleeping").0, 400);
    let (status, stats) = server.get("/v1/queues/billing/stats");
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["waiting"], 0);
    assert_eq!(stats["service_level_today"], 1.0, "answered at once");
    assert_eq!(server.get("/v1/queues/nope/stats").0, 404);

    // Prometheus metrics, without a token (scrapers on the internal network).
    let (status, text) = request(server.addr, "GET", "/metrics", None, None).unwrap();
    assert_eq!(status, 200);
    let text = text.as_str().unwrap().to_owned();
    for needle in [
        "switchboard_http_requests_total{method=\"POST\",route=\"/v1/contacts\",status=\"201\"} 2",
        "switchboard_plugin_calls_total{outcome=\"ok\",plugin=\"skill-routing\",slot=\"routing\"",
        "switchboard_plugin_call_duration_seconds_bucket",
        "switchboard_store_durable_write_duration_seconds_count",
        "switchboard_queue_depth{queue=\"billing\"} 0",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from /metrics:\n{text}"
        );
    }
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

fn misbehaving_upload(version: &str, bytes: &[u8]) -> serde_json::Value {
    use base64::Engine as _;
    json!({
        "manifest": {
            "id": "misbehaving", "version": version, "kind": "routing", "wit": "0.2.0",
            "description": "test guest",
            "config_schema": {"type": "object", "additionalProperties": false,
                              "properties": {"fail_configure": {"type": "boolean"}}},
            "default_config": {},
            "limits": {"timeout_ms": 1000},
            "fail_policy": "fail-open"
        },
        "component": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

#[test]
fn admins_upload_activate_roll_back_and_delete_plugins_and_it_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let (routing_digest, misbehaving_digest);
    {
        let server = Server::start(dir.path());
        let (_, list) = server.get("/v1/plugins");
        assert_eq!(list["versions"].as_array().unwrap().len(), 4, "{list}");
        assert_eq!(list["slots"].as_array().unwrap().len(), 4, "{list}");

        // Bad uploads are refused with what to fix; nothing is stored.
        let (status, err) = server.post("/v1/plugins", &misbehaving_upload("1.0.0", b"not wasm"));
        assert_eq!(status, 422, "{err}");
        assert!(
            err["detail"]
                .as_str()
                .unwrap()
                .contains("not a WebAssembly file"),
            "{err}"
        );
        let (status, err) =
            server.post("/v1/plugins", &json!({"manifest": {}, "component": "%%%"}));
        assert_eq!(status, 400, "{err}");
        let (status, v) = server.post("/v1/plugins/validate", &misbehaving_upload("1.0.0", &bytes));
        assert_eq!((status, v["valid"].as_bool()), (200, Some(true)), "{v}");
        assert_eq!(
            server.get("/v1/plugins").1["versions"]
                .as_array()
                .unwrap()
                .len(),
            4
        );

        let (status, up) = server.post("/v1/plugins", &misbehaving_upload("1.0.0", &bytes));
        assert_eq!(status, 201, "{up}");
        misbehaving_digest = up["digest"].as_str().unwrap().to_owned();
        assert_eq!(
            server
                .post("/v1/plugins", &misbehaving_upload("1.0.0", &bytes))
                .0,
            201,
            "idempotent"
        );
        let mut other = bytes.clone();
        other.extend_from_slice(&[0, 0]); // a trailing custom-section-less pad changes the digest
        let (status, err) = server.post("/v1/plugins", &misbehaving_upload("1.0.0", &other));
        assert_eq!(status, 409, "{err}");
        // The same component with another manifest is not silently dropped.
        let mut changed = misbehaving_upload("1.0.0", &bytes);
        changed["manifest"]["limits"]["timeout_ms"] = json!(500);
        let (status, err) = server.post("/v1/plugins", &changed);
        assert_eq!(status, 409, "{err}");
        assert!(
            err["detail"].as_str().unwrap().contains("another manifest"),
            "{err}"
        );

        // A config that breaks the schema names the field.
        let (status, err) = server.post(
            "/v1/slots/routing/activate",
            &json!({"plugin": "misbehaving", "version": "1.0.0", "config": {"fail_configure": "yes"}}),
        );
        assert_eq!(status, 422, "{err}");
        assert!(
            err["detail"].as_str().unwrap().contains("fail_configure"),
            "{err}"
        );
        let (status, err) = server.post(
            "/v1/slots/not-routing/activate",
            &json!({"plugin": "misbehaving", "version": "1.0.0"}),
        );
        assert_eq!(status, 422, "{err}");

        let (status, done) = server.post(
            "/v1/slots/routing/activate",
            &json!({"plugin": "misbehaving", "version": "1.0.0"}),
        );
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["slot"]["previous"]["plugin"], "skill-routing");
        // Activating what already runs keeps the way back.
        let (status, again) = server.post(
            "/v1/slots/routing/activate",
            &json!({"plugin": "misbehaving", "version": "1.0.0"}),
        );
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            again["slot"]["previous"]["plugin"], "skill-routing",
            "{again}"
        );
        let (_, got) = server.post("/v1/contacts", &contact("cust-1", "hello", "billing"));
        assert_eq!(got["decided_by"]["plugin"], "misbehaving", "{got}");
        assert_eq!(got["reason"], "echo:hello");

        // In use: cannot be deleted.
        let (status, err) = server.post("/v1/slots/routing/rollback", &json!({}));
        assert_eq!(status, 200, "{err}");
        let (_, got) = server.post("/v1/contacts", &contact("cust-1", "hello", "billing"));
        assert_eq!(got["decided_by"]["plugin"], "skill-routing", "{got}");
        routing_digest = got["decided_by"]["digest"].as_str().unwrap().to_owned();
        let (status, err) = request(
            server.addr,
            "DELETE",
            "/v1/plugins/misbehaving/1.0.0",
            None,
            Some(&server.token),
        )
        .unwrap();
        assert_eq!(status, 409, "rollback target: {err}");

        // The audit trail has each change with the acting token.
        let (_, audit) = server.get("/v1/audit?subject=routing");
        let kinds: Vec<&str> = audit["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["entry"]["actor"].as_str().unwrap().starts_with("token:"))
            .map(|r| r["entry"]["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["plugin.activate", "plugin.activate", "plugin.rollback"]
        );
        let (_, log) = server.get("/v1/plugins/misbehaving/1.0.0/log");
        assert!(log["lines"].is_array(), "{log}");
        server.kill();
    }
    // After a restart the slots are as they were, previous version included.
    let server = Server::start(dir.path());
    let (_, list) = server.get("/v1/slots");
    let routing = list["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slot"] == "routing")
        .unwrap()
        .clone();
    assert_eq!(routing["current"]["plugin"], "skill-routing");
    assert_eq!(routing["previous"]["plugin"], "misbehaving");
    let (_, got) = server.post("/v1/contacts", &contact("cust-2", "hello", "billing"));
    assert_eq!(
        got["decided_by"]["digest"].as_str(),
        Some(routing_digest.as_str())
    );
    let (status, _) = server.post("/v1/slots/routing/rollback", &json!({}));
    assert_eq!(status, 200);
    let (_, got) = server.post("/v1/contacts", &contact("cust-2", "hello", "billing"));
    assert_eq!(
        format!("sha256:{}", got["decided_by"]["digest"].as_str().unwrap()),
        misbehaving_digest
    );
}

#[test]
fn hot_swapping_the_routing_policy_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let server = Server::start(dir.path());
    assert_eq!(
        server
            .post("/v1/plugins", &misbehaving_upload("1.0.0", &bytes))
            .0,
        201
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, token) = (server.addr, server.token.clone());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, token) = (stop.clone(), token.clone());
            std::thread::spawn(move || {
                let mut results = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = contact(&format!("cust-{w}-{i}"), "hello", "billing").to_string();
                    let (status, got) =
                        request(addr, "POST", "/v1/contacts", Some(&body), Some(&token)).unwrap();
                    results.push((status, got));
                    i += 1;
                }
                results
            })
        })
        .collect();
    let mut swaps_us = Vec::new();
    for i in 0..100 {
        let (status, done) = if i % 2 == 0 {
            server.post(
                "/v1/slots/routing/activate",
                &json!({"plugin": "misbehaving", "version": "1.0.0"}),
            )
        } else {
            server.post("/v1/slots/routing/rollback", &json!({}))
        };
        assert_eq!(status, 200, "{done}");
        swaps_us.push(done["swap_us"].as_u64().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let results: Vec<(u16, serde_json::Value)> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let failed = results.iter().filter(|(s, _)| *s != 201).count();
    assert_eq!(failed, 0, "requests failed during swaps");
    let mut by = std::collections::BTreeMap::<String, usize>::new();
    for (_, got) in &results {
        // Every decision was made by a plugin, and the audit record names
        // the version that made it.
        let plugin = got["decided_by"]["plugin"]
            .as_str()
            .expect("decided by a plugin");
        *by.entry(plugin.to_owned()).or_default() += 1;
        let seq = got["audit_seq"].as_u64().unwrap();
        let (_, audit) = server.get(&format!(
            "/v1/audit?subject={}&kind=routing.decision",
            got["contact"]["id"].as_str().unwrap()
        ));
        let record = &audit["records"][0];
        assert_eq!(record["seq"].as_u64(), Some(seq));
        assert_eq!(
            record["entry"]["data"]["decided_by"]["plugin"].as_str(),
            Some(plugin)
        );
    }
    swaps_us.sort_unstable();
    eprintln!(
        "hot swap under load: {} requests, 0 failed, by plugin {by:?}; swap p50 {} us, max {} us",
        results.len(),
        swaps_us[swaps_us.len() / 2],
        swaps_us[swaps_us.len() - 1]
    );
}

#[test]
fn a_new_version_that_keeps_failing_is_rolled_back_automatically_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let server = Server::start(dir.path());
    assert_eq!(
        server
            .post("/v1/plugins", &misbehaving_upload("2.0.0", &bytes))
            .0,
        201
    );
    let (status, _) = server.post(
        "/v1/slots/routing/activate",
        &json!({"plugin": "misbehaving", "version": "2.0.0"}),
    );
    assert_eq!(status, 200);
    // The new version traps on every call: contacts are still routed (fail-open)...
    for i in 0..5 {
        let (status, got) = server.post(
            "/v1/contacts",
            &contact(&format!("c{i}"), "panic", "billing"),
        );
        assert_eq!(status, 201, "{got}");
        assert_eq!(got["decided_by"]["by"], "fail_policy", "{got}");
    }
    // ...and after five failures out of five, the previous version is back.
    let (_, got) = server.post("/v1/contacts", &contact("c6", "panic", "billing"));
    assert_eq!(got["decided_by"]["plugin"], "skill-routing", "{got}");
    let (_, slots) = server.get("/v1/slots");
    let routing = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slot"] == "routing")
        .unwrap()
        .clone();
    assert_eq!(routing["current"]["plugin"], "skill-routing", "{routing}");
    assert_eq!(routing["previous"]["plugin"], "misbehaving");
    let (_, audit) = server.get("/v1/audit?kind=plugin.auto_rollback");
    let record = &audit["records"][0]["entry"];
    assert_eq!(record["actor"], "engine");
    assert_eq!(record["data"]["rollback"]["failures"], 5, "{record}");
    assert_eq!(record["data"]["rollback"]["from"]["version"], "2.0.0");
}

#[test]
fn drafts_go_through_compliance_and_supervisors_approve_or_reject_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (_, got) = server.post(
        "/v1/contacts",
        &contact("cust-1", "I will sue you", "legal"),
    );
    let id = got["contact"]["id"].as_str().unwrap().to_owned();
    let submit = |text: &str| {
        server.post(
            &format!("/v1/contacts/{id}/drafts"),
            &json!({"agent_id": "a-1", "text": text}),
        )
    };

    // Each verdict puts the draft in its state.
    let (status, d) = submit("Calm down, please.");
    assert_eq!((status, d["state"].as_str()), (201, Some("blocked")), "{d}");
    let (_, other) = server.post(
        "/v1/contacts",
        &contact("cust-2", "charged twice", "billing"),
    );
    let (_, d) = server.post(
        &format!(
            "/v1/contacts/{}/drafts",
            other["contact"]["id"].as_str().unwrap()
        ),
        &json!({"agent_id": "a-1", "text": "Your card 4111 1111 1111 1111 is noted."}),
    );
    assert_eq!(d["state"], "needs_revision", "{d}");
    assert!(
        !d["check"]["redacted_text"]
            .as_str()
            .unwrap()
            .contains("4111 1111")
    );
    let (_, d) = submit("We will look into your case.");
    assert_eq!(d["state"], "pending_approval", "{d}");
    let draft = d["id"].as_str().unwrap().to_owned();

    // The supervisor's queue; a rejection needs a reason and goes back.
    let (_, pending) = server.get("/v1/drafts?state=pending_approval");
    assert_eq!(pending["drafts"].as_array().unwrap().len(), 1);
    let (status, err) = server.post(&format!("/v1/drafts/{draft}/reject"), &json!({}));
    assert_eq!(status, 422, "{err}");
    let (status, d) = server.post(
        &format!("/v1/drafts/{draft}/reject"),
        &json!({"comment": "Do not promise anything on legal matters; offer a call back."}),
    );
    assert_eq!(
        (status, d["state"].as_str()),
        (200, Some("rejected")),
        "{d}"
    );
    assert!(d["comment"].as_str().unwrap().contains("call back"));
    let (_, mine) = server.get("/v1/drafts?agent=a-1&state=rejected");
    assert_eq!(
        mine["drafts"][0]["id"],
        draft.as_str(),
        "back with the agent"
    );
    let (status, _) = server.post(&format!("/v1/drafts/{draft}/approve"), &json!({}));
    assert_eq!(status, 409, "no longer pending: a conflict with its state");

    // The revised draft is approved by an operator; a viewer may not.
    let (_, d) = submit("We will call you back today to discuss your case.");
    let second = d["id"].as_str().unwrap().to_owned();
    let (_, viewer) = server.post("/v1/tokens", &json!({"role": "viewer"}));
    let (_, operator) = server.post("/v1/tokens", &json!({"role": "operator"}));
    let path = format!("/v1/drafts/{second}/approve");
    let (status, _) = request(
        server.addr,
        "POST",
        &path,
        Some("{}"),
        viewer["token"].as_str(),
    )
    .unwrap();
    assert_eq!(status, 403);
    let (status, d) = request(
        server.addr,
        "POST",
        &path,
        Some("{}"),
        operator["token"].as_str(),
    )
    .unwrap();
    assert_eq!(
        (status, d["state"].as_str()),
        (200, Some("approved")),
        "{d}"
    );
    assert_eq!(
        d["final_text"],
        "We will call you back today to discuss your case."
    );
    // An agent's own token submits and reads as that agent only.
    let (_, ana) = server.post("/v1/tokens", &json!({"role": "agent", "agent_id": "a-1"}));
    let ana = ana["token"].as_str().unwrap().to_owned();
    let as_ana = |method: &str, path: &str, body: Option<serde_json::Value>| {
        let body = body.map(|b| b.to_string());
        request(server.addr, method, path, body.as_deref(), Some(&ana)).unwrap()
    };
    let drafts_path = format!("/v1/contacts/{id}/drafts");
    let (status, err) = as_ana(
        "POST",
        &drafts_path,
        Some(json!({"agent_id": "a-2", "text": "hi"})),
    );
    assert_eq!(status, 403, "{err}");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("acts as agent `a-1`"),
        "{err}"
    );
    let (status, _) = as_ana(
        "POST",
        &drafts_path,
        Some(json!({"agent_id": "a-1", "text": "Thanks for waiting."})),
    );
    assert_eq!(status, 201);
    server.post(
        &drafts_path,
        &json!({"agent_id": "a-2", "text": "Hello from Bo."}),
    );
    let (_, mine) = as_ana("GET", "/v1/drafts", None);
    let mine = mine["drafts"].as_array().unwrap();
    assert!(
        !mine.is_empty() && mine.iter().all(|d| d["agent_id"] == "a-1"),
        "{mine:?}"
    );
    assert_eq!(as_ana("GET", "/v1/drafts?agent=a-2", None).0, 403);

    let (_, audit) = server.get(&format!("/v1/audit?subject={id}"));
    let kinds: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["entry"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"compliance.decision")
            && kinds.contains(&"draft.reject")
            && kinds.contains(&"draft.approve"),
        "{kinds:?}"
    );
}

#[test]
fn the_live_stream_sends_queue_snapshots_and_contact_changes() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.put("/v1/queues/billing", &json!({"name": "billing"}));
    let mut s = std::net::TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        server.token
    )
    .unwrap();
    let mut seen = String::new();
    let mut read_until = |needle: &str, seen: &mut String| {
        let mut buf = [0u8; 4096];
        while !seen.contains(needle) {
            let n = s.read(&mut buf).expect("the stream stays open");
            assert!(n > 0, "stream closed before {needle:?}:\n{seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    read_until("event: queues", &mut seen);
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("text/event-stream"), "{seen}");
    read_until("\"name\":\"billing\"", &mut seen);
    let (_, got) = server.post("/v1/contacts", &contact("cust-1", "hello", "billing"));
    let id = got["contact"]["id"].as_str().unwrap().to_owned();
    read_until(&format!("\"id\":\"{id}\""), &mut seen);
    let at = seen.find(&format!("\"id\":\"{id}\"")).unwrap();
    let line = &seen[seen[..at].rfind("data:").unwrap()..];
    assert!(line.contains("\"change\":\"created\""), "{line}");
    assert!(seen[..at].contains("event: contact"), "{seen}");
    // Without a token there is no stream.
    let (status, _) = request(server.addr, "GET", "/v1/stream", None, None).unwrap();
    assert_eq!(status, 401);
}

#[test]
fn the_cli_drives_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let cli = |args: &[&str], token: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .env("SWITCHBOARD_SERVER", format!("http://{}", server.addr))
            .env("SWITCHBOARD_TOKEN", token)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let t = server.token.clone();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        misbehaving_upload("3.0.0", b"")["manifest"].to_string(),
    )
    .unwrap();
    let wasm = switchboard::bundled::test_guests::MISBEHAVING;
    let (ok, out, err) = cli(
        &[
            "plugin",
            "push",
            wasm,
            "--manifest",
            manifest.to_str().unwrap(),
        ],
        &t,
    );
    assert!(ok, "{err}");
    assert!(out.contains("uploaded misbehaving@3.0.0 (sha256:"), "{out}");
    let (ok, out, err) = cli(
        &["plugin", "activate", "routing", "misbehaving", "3.0.0"],
        &t,
    );
    assert!(ok && out.contains("misbehaving@3.0.0 active"), "{out}{err}");
    let (ok, out, _) = cli(&["plugin", "list"], &t);
    assert!(
        ok && out.contains("misbehaving@3.0.0") && out.contains("skill-routing@"),
        "{out}"
    );
    // Uploaded versions too, with their digests.
    assert!(out.contains("UPLOADED") && out.contains("sha256:"), "{out}");
    let (ok, out, err) = cli(&["plugin", "rollback", "routing"], &t);
    assert!(ok && out.contains("back to skill-routing@"), "{out}{err}");
    let (ok, _, err) = cli(&["plugin", "logs", "misbehaving", "3.0.0"], &t);
    assert!(ok, "{err}");
    let (ok, out, _) = cli(&["kpi", "--list"], &t);
    assert!(ok && out.contains("service_level"), "{out}");
    server.post("/v1/contacts", &contact("cust-1", "hello", "billing"));
    let (ok, _, err) = cli(&["kpi", "contacts_handled", "--group-by", "queue"], &t);
    assert!(ok, "{err}");
    // Errors say what is wrong, with a non-zero exit.
    let (ok, _, err) = cli(&["plugin", "list"], "sb_00000000_00");
    assert!(!ok && err.contains("401") && err.contains("token"), "{err}");
    let (ok, _, err) = cli(&["plugin", "activate", "routing", "nope", "1.0.0"], &t);
    assert!(
        !ok && err.contains("404") && err.contains("upload it first"),
        "{err}"
    );
}

#[test]
fn a_day_on_the_floor_from_queue_setup_to_resolution_kpis_audit_and_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    for q in ["billing", "tech-support"] {
        assert_eq!(
            server
                .put(&format!("/v1/queues/{q}"), &json!({"name": q}))
                .0,
            204
        );
    }
    for (id, skill) in [("a-1", "billing"), ("a-2", "technical")] {
        let (status, _) = server.put(
            &format!("/v1/agents/{id}"),
            &json!({"id": id, "skills": {skill: 4}, "languages": ["en"],
                    "capacity": {"chat": 1}, "status": "available"}),
        );
        assert_eq!(status, 200);
    }
    let mut ids = Vec::new();
    for (i, topic) in ["billing", "technical", "billing"].iter().enumerate() {
        let (status, got) = server.post(
            "/v1/contacts",
            &contact(&format!("cust-{i}"), "hello", topic),
        );
        assert_eq!(status, 201);
        ids.push(got["contact"]["id"].as_str().unwrap().to_owned());
    }
    // Two agents, one seat each: the third contact waits for a-1.
    let ev = |id: &str, body: serde_json::Value| {
        let (status, got) = server.post(&format!("/v1/contacts/{id}/events"), &body);
        assert_eq!(status, 200, "{got}");
        got
    };
    for id in &ids[..2] {
        ev(id, json!({"type": "answer"}));
        ev(id, json!({"type": "wrap_up"}));
        ev(id, json!({"type": "resolve"}));
        ev(id, json!({"type": "survey", "csat": 5}));
    }
    let (_, third) = server.get(&format!("/v1/contacts/{}", ids[2]));
    assert_eq!(third["state"], "offered", "a-1 was free again: {third}");
    assert_eq!(third["agent_id"], "a-1");
    // The customer hangs up before a-1 answers.
    ev(&ids[2], json!({"type": "abandon"}));
    let (_, resolved) = server.get("/v1/contacts?state=resolved");
    assert_eq!(resolved["contacts"].as_array().unwrap().len(), 2);
    let kpi = |measure: &str| {
        let (status, s) = server.post(
            "/v1/kpis/query",
            &json!({"measure": measure, "from": 0, "to": 4_102_444_800_000i64,
                    "bucket_ms": 4_102_444_800_000i64}),
        );
        assert_eq!(status, 200, "{s}");
        s["points"][0]["value"].as_f64()
    };
    assert_eq!(kpi("contacts_handled"), Some(2.0));
    assert_eq!(kpi("csat"), Some(1.0));
    let rate = kpi("abandonment_rate").unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");
    let (_, verify) = server.get("/v1/audit/verify");
    assert_eq!(verify["broken"], serde_json::Value::Null);
    // SIGTERM: finish, flush, exit 0.
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "clean exit: {status:?}");
}

#[test]
fn a_server_that_requires_signatures_takes_signed_plugins_only() {
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], server: Option<&Server>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(args);
        if let Some(s) = server {
            cmd.env("SWITCHBOARD_SERVER", format!("http://{}", s.addr))
                .env("SWITCHBOARD_TOKEN", &s.token);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    // The partner's key, and someone else's.
    let (ok, out, err) = cli(&["plugin", "keygen", "--out", &path("partner.key")], None);
    assert!(ok, "{err}");
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap()
        .to_owned();
    assert!(cli(&["plugin", "keygen", "--out", &path("other.key")], None).0);
    let (ok, _, err) = cli(&["plugin", "keygen", "--out", &path("partner.key")], None);
    assert!(!ok && err.contains("never overwritten"), "{err}");

    std::fs::write(
        path("server.toml"),
        format!("[plugins]\nrequire_signatures = true\ntrusted_keys = [\"{public}\"]\n"),
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", &path("server.toml")],
    );
    std::fs::copy(
        switchboard::bundled::test_guests::MISBEHAVING,
        path("p.wasm"),
    )
    .unwrap();
    let manifest = |version: &str| {
        std::fs::write(
            path("manifest.json"),
            misbehaving_upload(version, b"")["manifest"].to_string(),
        )
        .unwrap();
    };
    manifest("1.0.0");
    let push = |extra: &[&str]| {
        let mut args = vec!["plugin", "push", "--manifest"];
        let (m, w) = (path("manifest.json"), path("p.wasm"));
        args.extend([m.as_str(), w.as_str()]);
        args.extend(extra);
        cli(&args, Some(&server))
    };
    // Unsigned: refused, saying how to fix it.
    let (ok, _, err) = push(&[]);
    assert!(!ok && err.contains("only signed plugins"), "{err}");
    // Signed by the trusted key: stored, with the signer recorded.
    let sign = |key: &str, out: &str| {
        let (m, w, k, o) = (path("manifest.json"), path("p.wasm"), path(key), path(out));
        cli(
            &[
                "plugin",
                "sign",
                &w,
                "--manifest",
                &m,
                "--key",
                &k,
                "--out",
                &o,
            ],
            None,
        )
    };
    let (ok, out, err) = sign("partner.key", "p.wasm.sig.json");
    assert!(ok, "{err}");
    assert!(out.contains(&public), "{out}");
    let (ok, out, err) = push(&[]);
    assert!(ok, "{err}");
    assert!(out.contains("uploaded misbehaving@1.0.0"), "{out}");
    let (_, versions) = server.get("/v1/plugins");
    let stored = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "misbehaving")
        .unwrap();
    assert_eq!(stored["signed_by"], public.as_str());
    // Tampered after signing (the manifest raised a limit): refused.
    let mut raised = misbehaving_upload("1.0.1", b"")["manifest"].clone();
    raised["limits"]["timeout_ms"] = json!(5000);
    std::fs::write(path("manifest.json"), raised.to_string()).unwrap();
    let (ok, _, err) = push(&[]);
    assert!(!ok && err.contains("does not match"), "{err}");
    // Validly signed by a key the server does not trust: refused.
    let (ok, _, err) = sign("other.key", "other.sig.json");
    assert!(ok, "{err}");
    let other = path("other.sig.json");
    let (ok, _, err) = push(&["--signature", &other]);
    assert!(!ok && err.contains("does not trust"), "{err}");
    // The bundled plugins, part of the binary, still run.
    let (_, health) = server.get("/healthz");
    assert_eq!(health["plugins"].as_array().unwrap().len(), 4);
}

/// The routing slot as `GET /v1/slots` shows it.
fn routing_slot(server: &Server) -> serde_json::Value {
    let (status, slots) = server.get("/v1/slots");
    assert_eq!(status, 200, "{slots}");
    slots["slots"]
        .as_array()
        .expect("a list of slots")
        .iter()
        .find(|s| s["slot"] == "routing")
        .expect("the routing slot")
        .clone()
}

#[test]
fn an_automatic_rollback_into_a_deactivated_slot_is_stored_as_it_runs_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    {
        let server = Server::start(dir.path());
        let (status, up) = server.post("/v1/plugins", &misbehaving_upload("2.0.0", &bytes));
        assert_eq!(status, 201, "{up}");
        let (status, off) = server.post("/v1/slots/routing/deactivate", &json!({}));
        assert_eq!(status, 200, "{off}");
        let (status, on) = server.post(
            "/v1/slots/routing/activate",
            &json!({"plugin": "misbehaving", "version": "2.0.0"}),
        );
        assert_eq!(status, 200, "{on}");
        // The way back is what ran before the deactivation, as the engine
        // keeps it.
        assert_eq!(on["slot"]["previous"]["plugin"], "skill-routing", "{on}");
        for i in 0..5 {
            let (status, got) = server.post(
                "/v1/contacts",
                &contact(&format!("c{i}"), "panic", "billing"),
            );
            assert_eq!(status, 201, "{got}");
        }
        let (_, got) = server.post("/v1/contacts", &contact("c5", "hello", "billing"));
        assert_eq!(got["decided_by"]["plugin"], "skill-routing", "{got}");
        // What is stored is what runs.
        let routing = routing_slot(&server);
        assert_eq!(routing["current"]["plugin"], "skill-routing", "{routing}");
        assert_eq!(routing["previous"]["plugin"], "misbehaving", "{routing}");
        server.kill();
    }
    let server = Server::start(dir.path());
    let (status, got) = server.post("/v1/contacts", &contact("c6", "hello", "billing"));
    assert_eq!(status, 201, "{got}");
    assert_eq!(got["decided_by"]["plugin"], "skill-routing", "{got}");
    let (status, ready) = request(server.addr, "GET", "/readyz", None, None).unwrap();
    assert_eq!(status, 200, "{ready}");
}

#[test]
fn a_quarantined_slot_shows_a_flag_keeps_its_stats_and_fail_closed_keeps_holding_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let server = Server::start(dir.path());
    let mut upload = misbehaving_upload("1.0.0", &bytes);
    upload["manifest"]["fail_policy"] = json!("fail-closed");
    assert_eq!(server.post("/v1/plugins", &upload).0, 201);
    let (status, on) = server.post(
        "/v1/slots/routing/activate",
        &json!({"plugin": "misbehaving", "version": "1.0.0"}),
    );
    assert_eq!(status, 200, "{on}");
    // Enough good calls first that five failures in a row quarantine it
    // rather than roll it back (half of its calls failing).
    for i in 0..10 {
        let (_, got) = server.post("/v1/contacts", &contact(&format!("ok{i}"), "hi", "billing"));
        assert_eq!(got["decided_by"]["plugin"], "misbehaving", "{got}");
    }
    for i in 0..5 {
        let (_, got) = server.post(
            "/v1/contacts",
            &contact(&format!("p{i}"), "panic", "billing"),
        );
        assert_eq!(got["decided_by"]["policy"], "fail-closed", "{got}");
    }
    let routing = routing_slot(&server);
    let q = &routing["quarantined"];
    assert_eq!(
        (q["plugin"].as_str(), q["version"].as_str()),
        (Some("misbehaving"), Some("1.0.0")),
        "{routing}"
    );
    assert_eq!(q["consecutive_failures"], 5, "{routing}");
    assert!(q["since"].as_i64().unwrap() > 0, "{routing}");
    assert!(
        q["reason"].as_str().unwrap().contains("trapped"),
        "{routing}"
    );
    assert_eq!(
        (
            routing["stats"]["calls"].as_u64(),
            routing["stats"]["failures"].as_u64()
        ),
        (Some(15), Some(5)),
        "{routing}"
    );
    let (_, list) = server.get("/v1/plugins");
    let listed = list["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slot"] == "routing")
        .unwrap();
    assert_eq!(listed["quarantined"]["version"], "1.0.0", "{list}");
    let (_, health) = request(server.addr, "GET", "/healthz", None, None).unwrap();
    let running = health["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["slot"] == "routing")
        .unwrap();
    assert_eq!(running["quarantined"]["version"], "1.0.0", "{health}");
    let (status, ready) = request(server.addr, "GET", "/readyz", None, None).unwrap();
    assert_eq!(
        (status, &ready["routing_quarantined"]),
        (503, &json!(true)),
        "{ready}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["plugin", "list"])
        .env("SWITCHBOARD_SERVER", format!("http://{}", server.addr))
        .env("SWITCHBOARD_TOKEN", &server.token)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("QUARANTINED misbehaving@1.0.0 after 5 failures in a row"),
        "{listed}"
    );
    // Fail-closed still holds contacts for a person, without calling it.
    let (_, got) = server.post("/v1/contacts", &contact("after", "hi", "billing"));
    assert_eq!(got["decided_by"]["policy"], "fail-closed", "{got}");
    assert_eq!(got["contact"]["requirements"]["queue"], "triage", "{got}");
    assert_eq!(routing_slot(&server)["stats"]["calls"], 15);
    // Activating a version ends the quarantine.
    let (status, _) = server.post(
        "/v1/slots/routing/activate",
        &json!({"plugin": "misbehaving", "version": "1.0.0"}),
    );
    assert_eq!(status, 200);
    assert!(routing_slot(&server)["quarantined"].is_null());
}

#[test]
fn refused_uploads_and_validation_leave_no_compiled_artifact_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let server = Server::start(dir.path());
    let cache = dir.path().join("cache");
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = files();
    let (status, v) = server.post("/v1/plugins/validate", &misbehaving_upload("1.0.0", &bytes));
    assert_eq!((status, v["valid"].as_bool()), (200, Some(true)), "{v}");
    // Compiles, then cannot start with its default config.
    let mut broken = misbehaving_upload("1.0.0", &bytes);
    broken["manifest"]["default_config"] = json!({"fail_configure": true});
    let (status, err) = server.post("/v1/plugins", &broken);
    assert_eq!(status, 422, "{err}");
    // Compiles, then is not the world its manifest names.
    let mut wrong = misbehaving_upload("1.0.0", &bytes);
    wrong["manifest"]["kind"] = json!("kpi");
    let (status, err) = server.post("/v1/plugins", &wrong);
    assert_eq!(status, 422, "{err}");
    assert_eq!(files(), before, "nothing was stored, so nothing is cached");
    // An accepted upload is cached.
    let (status, up) = server.post("/v1/plugins", &misbehaving_upload("1.0.0", &bytes));
    assert_eq!(status, 201, "{up}");
    assert_eq!(files().len(), before.len() + 1, "{:?}", files());
}

#[test]
fn under_traffic_every_decision_comes_after_the_record_of_its_versions_activation() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let server = Server::start(dir.path());
    // One component, many versions: each activation is told apart in the log.
    let versions: Vec<String> = (1..=20).map(|i| format!("1.0.{i}")).collect();
    for v in &versions {
        assert_eq!(
            server.post("/v1/plugins", &misbehaving_upload(v, &bytes)).0,
            201
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, token) = (server.addr, server.token.clone());
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (stop, token) = (stop.clone(), token.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = contact(&format!("w{w}-{i}"), "hello", "billing").to_string();
                    let (status, got) =
                        request(addr, "POST", "/v1/contacts", Some(&body), Some(&token)).unwrap();
                    assert_eq!(status, 201, "{got}");
                    i += 1;
                }
            })
        })
        .collect();
    for v in &versions {
        let (status, done) = server.post(
            "/v1/slots/routing/activate",
            &json!({"plugin": "misbehaving", "version": v}),
        );
        assert_eq!(status, 200, "{done}");
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    // The raw log, oldest first: the seq of each version's activation record.
    let mut activated = std::collections::HashMap::<String, u64>::new();
    let mut decisions = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = server.get(&format!("/v1/audit?after={after}&limit=1000"));
        assert_eq!(status, 200, "{page}");
        let records = page["records"].as_array().unwrap().clone();
        if records.is_empty() {
            break;
        }
        for r in &records {
            let seq = r["seq"].as_u64().unwrap();
            after = after.max(seq);
            let e = &r["entry"];
            match e["kind"].as_str().unwrap() {
                "plugin.activate" | "plugin.rollback" | "plugin.auto_rollback" => {
                    let c = &e["data"]["current"];
                    let key = format!(
                        "{}@{}",
                        c["plugin"].as_str().unwrap(),
                        c["version"].as_str().unwrap()
                    );
                    activated.entry(key).or_insert(seq);
                }
                "routing.decision" => {
                    let d = &e["data"]["decided_by"];
                    if let (Some(p), Some(v)) = (d["plugin"].as_str(), d["version"].as_str()) {
                        decisions.push((seq, format!("{p}@{v}")));
                    }
                }
                _ => {}
            }
        }
    }
    let early: Vec<_> = decisions
        .iter()
        .filter(|(seq, v)| activated.get(v).is_none_or(|a| a > seq))
        .collect();
    eprintln!(
        "{} decisions under {} activations; {} before their activation record",
        decisions.len(),
        versions.len(),
        early.len()
    );
    assert!(
        early.is_empty(),
        "decided before the activation record: {early:?}"
    );
    assert!(
        versions.iter().any(|v| decisions
            .iter()
            .any(|(_, d)| *d == format!("misbehaving@{v}"))),
        "the new versions made decisions"
    );
}
