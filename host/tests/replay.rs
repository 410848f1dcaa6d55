//! Exact replay (issue 20) against the real binary: a seeded simulated day
//! runs through `serve --simulated-clock`, then every plugin decision it
//! recorded (routing, escalation and intake classification, compliance,
//! KPIs) is run again through the component and config that made it, over
//! HTTP and offline from the data directory, and must come out byte for
//! byte the same. A deliberately different component as the candidate
//! shows the decisions it would have changed.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::process::Command;

use common::Server;
use serde_json::{Value, json};

/// 2025-11-23T00:00:00Z.
const DAY: i64 = 1_763_856_000_000;

fn replay_all(server: &Server, body: Value) -> Value {
    let (status, report) = server.post("/v1/audit/replay", &body);
    assert_eq!(status, 200, "{report}");
    assert!(report["next_after"].is_null(), "one page: {report}");
    report
}

fn upload_misbehaving(server: &Server) {
    use base64::Engine as _;
    let bytes = std::fs::read(switchboard::bundled::test_guests::MISBEHAVING).unwrap();
    let (status, body) = server.post(
        "/v1/plugins",
        &json!({
            "manifest": {
                "id": "misbehaving", "version": "1.0.0", "kind": "routing", "wit": "0.2.0",
                "description": "test guest",
                "config_schema": {"type": "object"},
                "default_config": {},
                "fail_policy": "fail-open"
            },
            "component": base64::engine::general_purpose::STANDARD.encode(bytes),
        }),
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn a_simulated_day_replays_byte_for_byte_and_a_different_component_shows_what_it_would_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &["--simulated-clock", &DAY.to_string()]);
    common::simulate(
        &server,
        &[
            "--seed",
            "11",
            "--contacts",
            "400",
            "--agents",
            "12",
            "--hours",
            "6",
        ],
    );

    // Over HTTP: every decision of the day, the same answer.
    let report = replay_all(&server, json!({"limit": 100_000}));
    assert_eq!(report["mismatched"], 0, "{report:#}");
    assert_eq!(report["skipped"], 0, "{report:#}");
    let replayed = report["replayed"].as_u64().unwrap();
    assert!(replayed >= 1_000, "thousands of decisions: {report}");
    for kind in [
        "routing.decision",
        "escalation.decision",
        "compliance.decision",
        "kpi.samples",
    ] {
        assert!(
            report["by_kind"][kind].as_u64().unwrap_or(0) > 0,
            "no {kind} replayed: {report}"
        );
    }
    assert_eq!(
        report["matched"].as_u64().unwrap(),
        replayed,
        "every replayed decision matched"
    );

    // One record, one contact, one plugin version: the same selection
    // machinery, each narrower.
    let (_, page) = server.get("/v1/audit?kind=routing.decision&limit=1");
    let first = &page["records"][0];
    let fuel = first["entry"]["data"]["fuel"].as_u64().unwrap();
    assert!(
        fuel > 0,
        "the instructions the call used are recorded: {first}"
    );
    let one = replay_all(&server, json!({"seq": first["seq"]}));
    assert_eq!(
        (one["replayed"].as_u64(), one["matched"].as_u64()),
        (Some(1), Some(1)),
        "{one}"
    );
    let contact = first["entry"]["subject"].as_str().unwrap();
    let about = replay_all(&server, json!({"contact": contact}));
    assert!(
        about["replayed"].as_u64().unwrap() >= 2,
        "routing and KPIs at least: {about}"
    );
    assert_eq!(about["mismatched"], 0, "{about}");
    let by = first["entry"]["actor"]
        .as_str()
        .unwrap()
        .trim_start_matches("plugin:");
    let routing = replay_all(&server, json!({"plugin": by}));
    assert_eq!(
        routing["replayed"], report["by_kind"]["routing.decision"],
        "every routing decision was made by {by}: {routing}"
    );

    // Paging: a limit stops the replay and `next_after` goes on from there.
    let (_, page1) = server.post("/v1/audit/replay", &json!({"limit": 10}));
    assert_eq!(
        page1["replayed"].as_u64().unwrap() + page1["skipped"].as_u64().unwrap(),
        10
    );
    assert!(page1["next_after"].as_u64().is_some(), "{page1}");

    // A record that is not a decision, and an unknown one: clear refusals.
    let (status, err) = server.post("/v1/audit/replay", &json!({"seq": 1}));
    assert_eq!(status, 422, "{err}");
    assert!(
        err["detail"]
            .as_str()
            .unwrap()
            .contains("not a plugin decision"),
        "{err}"
    );
    let (status, _) = server.post("/v1/audit/replay", &json!({"seq": 999_999_999u64}));
    assert_eq!(status, 404);
    let (status, _) = server.post("/v1/audit/replay", &json!({"sequence": 1}));
    assert_eq!(status, 400, "unknown fields are refused");

    // A deliberately different component: every contact to `general`.
    upload_misbehaving(&server);
    let what_if = replay_all(
        &server,
        json!({"limit": 100_000, "candidate": {"plugin": "misbehaving", "version": "1.0.0"}}),
    );
    assert_eq!(
        what_if["replayed"], report["by_kind"]["routing.decision"],
        "{what_if}"
    );
    let changed = what_if["mismatched"].as_u64().unwrap();
    assert!(changed > 0, "{what_if}");
    let m = &what_if["mismatches"][0];
    assert_eq!(m["replayed_by"], "misbehaving@1.0.0");
    let diff: Vec<&str> = m["diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        diff.iter()
            .any(|d| d.starts_with("/reason: ") && d.contains("echo:")),
        "the diff names the field and both values: {diff:?}"
    );

    // What-if, through the server as a job, with the CLI's progress.
    let day = report.clone();
    let routed = recorded_queues(&server);
    let report = whatif(&["--candidate", "misbehaving@1.0.0"], Some(&server), &data);
    let decisions = report["decisions"].as_u64().unwrap();
    assert_eq!(decisions, routed.values().sum::<u64>(), "{report:#}");
    assert_eq!(
        report["compared"].as_u64().unwrap(),
        decisions,
        "{report:#}"
    );
    let routing = &report["routing"];
    let queues: std::collections::BTreeMap<String, (u64, u64)> = routing["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let n = |k: &str| q[k].as_u64().unwrap();
            (
                q["queue"].as_str().unwrap().to_owned(),
                (n("recorded"), n("candidate")),
            )
        })
        .collect();
    for (queue, (recorded, candidate)) in &queues {
        // Recorded volumes as the raw records say; every contact to
        // `general` with the candidate.
        assert_eq!(
            *recorded,
            routed.get(queue).copied().unwrap_or(0),
            "{queue}"
        );
        let all = if queue == "general" { decisions } else { 0 };
        assert_eq!(*candidate, all, "{queue}: {report:#}");
    }
    let moved: u64 = routing["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["contacts"].as_u64().unwrap())
        .sum();
    assert_eq!(moved, routing["queue_changed"].as_u64().unwrap());
    assert_eq!(
        moved,
        decisions - routed.get("general").copied().unwrap_or(0)
    );
    let e = &routing["examples"][0];
    assert_eq!(e["candidate"]["queue"], "general", "{e}");
    assert!(
        e["candidate"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("echo:"),
        "{e}"
    );
    let (_, jobs) = server.get("/v1/whatif");
    let job = &jobs["jobs"][0];
    assert_eq!(job["state"], "done", "{jobs}");
    assert_eq!(job["done"], job["total"], "progress reached the end: {job}");

    // The live KPI definition as its own candidate: nothing changes.
    let (_, slots) = server.get("/v1/slots");
    let version_in = |slot: &str| {
        let all = slots["slots"].as_array().unwrap();
        let s = all.iter().find(|s| s["slot"] == slot).unwrap();
        let c = &s["current"];
        format!(
            "{}@{}",
            c["plugin"].as_str().unwrap(),
            c["version"].as_str().unwrap()
        )
    };
    let kpi_candidate = version_in("core-kpis");
    let kpis = whatif(
        &["--candidate", &kpi_candidate, "--slot", "core-kpis"],
        Some(&server),
        &data,
    );
    assert_eq!(kpis["changed"], 0, "{kpis:#}");
    assert!(kpis["decisions"].as_u64().unwrap() > 0);
    for m in kpis["kpi"]["measures"].as_array().unwrap() {
        assert_eq!(m["recorded"], m["candidate"], "{m}");
    }
    // And the live compliance check: every verdict the same.
    let check = version_in("brand-compliance");
    let verdicts = whatif(
        &["--candidate", &check, "--slot", "brand-compliance"],
        Some(&server),
        &data,
    );
    assert_eq!(verdicts["changed"], 0, "{verdicts:#}");
    assert_eq!(
        verdicts["decisions"], day["by_kind"]["compliance.decision"],
        "{verdicts:#}"
    );
    assert_eq!(
        verdicts["compliance"]["verdicts"],
        json!([]),
        "{verdicts:#}"
    );
    let escalation = version_in("complaint-escalation");

    // Offline, from the data directory, with the server stopped.
    server.kill();

    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["audit", "replay", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(offline["mismatched"], 0, "{offline:#}");
    assert_eq!(
        offline["replayed"], day["replayed"],
        "the same decisions offline"
    );

    // Mismatches make the command fail, and say what differed.
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "audit",
            "replay",
            "--candidate",
            "misbehaving@1.0.0",
            "--limit",
            "50",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("differ") && text.contains("by misbehaving@1.0.0"),
        "{text}"
    );

    // What-if offline: the escalation rule raising priority by 25, not 10.
    let (id, version) = escalation.split_once('@').unwrap();
    let bundled = switchboard::bundled::BUNDLED
        .iter()
        .find(|p| p.crate_name == id)
        .unwrap();
    let manifest: Value = serde_json::from_str(bundled.manifest).unwrap();
    assert_eq!(manifest["version"], version);
    let mut config = manifest["default_config"].clone();
    assert_eq!(config["priority_raise"], 10, "the bundled default");
    config["priority_raise"] = 25.into();
    let file = dir.path().join("raise-25.json");
    std::fs::write(&file, config.to_string()).unwrap();
    let args = [
        "--candidate",
        &escalation,
        "--slot",
        id,
        "--candidate-config",
        file.to_str().unwrap(),
    ];
    let report = whatif(&args, None, &data);
    let actions = report["escalation"]["actions"].as_array().unwrap();
    let raise = actions
        .iter()
        .find(|a| a["action"] == "RaisePriority")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert!(raise["added"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(
        raise["added"], raise["removed"],
        "each raise by 10 becomes one by 25: {report:#}"
    );
    assert_eq!(report["changed"], raise["added"], "{report:#}");
}

/// Routing decisions per queue, from the raw audit records.
fn recorded_queues(server: &Server) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let mut after = 0;
    loop {
        let path = format!("/v1/audit?kind=routing.decision&limit=1000&after={after}");
        let (_, page) = server.get(&path);
        for r in page["records"].as_array().unwrap() {
            let d = &r["entry"]["data"];
            if d["outcome"] == "ok" && d["decided_by"]["by"] == "plugin" {
                let queue = d["output"]["queue"].as_str().unwrap().to_owned();
                *out.entry(queue).or_default() += 1;
            }
        }
        match page["next_after"].as_u64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

/// `switchboard whatif <args> --json`, through `server` or offline from
/// `data`; the report.
fn whatif(args: &[&str], server: Option<&Server>, data: &std::path::Path) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.arg("whatif").args(args).arg("--json");
    match server {
        Some(s) => cmd
            .args(["--server", &format!("http://{}", s.addr)])
            .args(["--token", &s.token]),
        None => cmd.arg("--data-dir").arg(data),
    };
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("100%"), "progress to the end: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_shadow_candidate_sees_live_traffic_changes_nothing_for_it_and_can_be_promoted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    upload_misbehaving(&server);
    let (status, started) = server.put(
        "/v1/slots/routing/shadow",
        &json!({"plugin": "misbehaving", "version": "1.0.0", "sample": 1.0}),
    );
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["offered"], 0);
    let (status, err) = server.put(
        "/v1/slots/routing/shadow",
        &json!({"plugin": "misbehaving", "version": "1.0.0", "sample": 2}),
    );
    assert_eq!(status, 422, "{err}");
    let (status, _) = server.put(
        "/v1/slots/core-kpis/shadow",
        &json!({"plugin": "misbehaving", "version": "1.0.0"}),
    );
    assert_eq!(status, 422, "a routing policy cannot shadow a KPI slot");
    let (_, slots) = server.get("/v1/slots");
    let check = &slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "compliance")
        .unwrap()["current"];
    let (status, err) = server.put(
        "/v1/slots/complaint-escalation/shadow",
        &json!({"plugin": check["plugin"], "version": check["version"]}),
    );
    assert_eq!(
        status, 409,
        "a compliance check cannot shadow an escalation rule: {err}"
    );
    let (status, _) = server.put(
        "/v1/slots/no-such-slot/shadow",
        &json!({"plugin": check["plugin"], "version": check["version"]}),
    );
    assert_eq!(status, 404, "a shadow needs a live version beside it");

    // Live traffic: the shadow traps on `panic`, runs out of fuel on
    // `loop`, and sends everything else to `general`.
    let texts = [
        "panic",
        "loop",
        "billing please",
        "panic",
        "my bill",
        "loop",
        "panic",
    ];
    let mut queues = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let body = json!({"channel": "chat", "customer_id": format!("cust-{i}"),
            "customer_tier": "standard", "language": "en", "topics": ["billing"], "text": text});
        let (status, got) = server.post("/v1/contacts", &body);
        assert_eq!(status, 201, "a failing shadow fails no live request: {got}");
        assert_eq!(got["decided_by"]["plugin"], "skill-routing", "{got}");
        queues.push(
            got["contact"]["requirements"]["queue"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        queues.iter().all(|q| q != "general"),
        "never applied: {queues:?}"
    );
    // The live decisions are exactly what the live version makes.
    let (_, replayed) = server.post("/v1/audit/replay", &json!({"plugin": "skill-routing"}));
    assert_eq!(replayed["replayed"], texts.len(), "{replayed}");
    assert_eq!(replayed["mismatched"], 0, "{replayed}");

    let (status, s) = server.get("/v1/slots/routing/shadow?settle=true");
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["offered"], texts.len(), "{s:#}");
    assert_eq!(s["pending"], 0, "{s:#}");
    assert_eq!(
        s["candidate_failed"],
        json!({"trap": 3, "limit": 2}),
        "{s:#}"
    );
    assert_eq!(s["compared"], 2, "{s:#}");
    assert_eq!(s["agreed"], 0, "{s:#}");
    assert_eq!(s["agreement"], 0.0, "{s:#}");
    assert!(
        s["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "/queue" && d["count"] == 2),
        "{s:#}"
    );
    let example = &s["examples"][0];
    assert!(example["diff"].to_string().contains("general"), "{example}");

    // Recorded, after the record of the shadow's start, each naming the
    // live decision it stands beside.
    let (_, shadowed) = server.get("/v1/audit?kind=shadow.decision");
    let records = shadowed["records"].as_array().unwrap();
    assert_eq!(records.len(), texts.len(), "{shadowed}");
    let (_, start) = server.get("/v1/audit?kind=plugin.shadow_start");
    let start_seq = start["records"][0]["seq"].as_u64().unwrap();
    for r in records {
        assert!(r["seq"].as_u64().unwrap() > start_seq);
        let live_seq = r["entry"]["data"]["live_seq"].as_u64().unwrap();
        let (_, live) = server.get(&format!(
            "/v1/audit?kind=routing.decision&after={}&limit=1",
            live_seq - 1
        ));
        assert_eq!(live["records"][0]["seq"], live_seq, "{r}");
        assert_eq!(r["entry"]["actor"], "plugin:misbehaving@1.0.0");
    }

    // The CLI shows the same.
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["plugin", "shadow", "routing", "--server"])
        .arg(format!("http://{}", server.addr))
        .args(["--token", &server.token])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("shadowed by misbehaving@1.0.0")
            && text.contains("2 compared: 0 agree, 2 differ")
            && text.contains("3 trap"),
        "{text}"
    );

    // Promote: the normal, audited activation; the shadow ends.
    let (status, done) = server.post("/v1/slots/routing/shadow/promote", &json!({}));
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["slot"]["current"]["plugin"], "misbehaving");
    assert_eq!(server.get("/v1/slots/routing/shadow").0, 404);
    let body = json!({"channel": "chat", "customer_id": "cust-x", "customer_tier": "standard",
        "language": "en", "topics": ["billing"], "text": "hello"});
    let (_, got) = server.post("/v1/contacts", &body);
    assert_eq!(got["contact"]["requirements"]["queue"], "general", "{got}");

    // Stop: the last status, and no shadow after.
    let (status, _) = server.put(
        "/v1/slots/routing/shadow",
        &json!({"plugin": "skill-routing", "version": done["slot"]["previous"]["version"]}),
    );
    assert_eq!(status, 200);
    let (status, last) = server.delete("/v1/slots/routing/shadow");
    assert_eq!(status, 200, "{last}");
    assert_eq!(last["candidate"]["plugin"], "skill-routing");
    assert_eq!(server.delete("/v1/slots/routing/shadow").0, 404);
}

#[test]
fn a_simulated_ab_day_runs_the_same_day_with_the_candidate_and_compares_the_kpis() {
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/plugins/misbehaving/manifest.json"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "ab",
            "--candidate",
            switchboard::bundled::test_guests::MISBEHAVING,
        ])
        .args(["--manifest", manifest])
        .args([
            "--seed",
            "5",
            "--contacts",
            "120",
            "--agents",
            "8",
            "--hours",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["a"].as_str().unwrap().starts_with("skill-routing@"),
        "{r}"
    );
    assert_eq!(r["b"], "misbehaving@0.1.0");
    // The same seeded arrivals on both days.
    assert_eq!(r["day_a"]["contacts"], 120, "{r}");
    assert_eq!(r["day_b"]["contacts"], r["day_a"]["contacts"]);
    // Day A spreads contacts over the skill queues; day B sends them all
    // to `general` (escalation rules may still move some).
    let queues = r["contacts_by_queue"].as_object().unwrap();
    let count = |q: &str, day: &str| queues.get(q).and_then(|v| v[day].as_f64()).unwrap_or(0.0);
    let on_a = queues
        .values()
        .filter(|v| v["a"].as_f64().unwrap_or(0.0) > 0.0)
        .count();
    assert!(on_a > 1, "{queues:?}");
    assert!(count("general", "b") > count("general", "a"), "{queues:?}");
    let total = |day: &str| {
        queues
            .values()
            .map(|v| v[day].as_f64().unwrap_or(0.0))
            .sum::<f64>()
    };
    assert_eq!(
        total("a"),
        total("b"),
        "every contact has a queue on both days"
    );
    // KPIs side by side, overall and per queue, for both days.
    let sl = r["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["measure"] == "service_level")
        .unwrap();
    assert!(
        sl["overall"]["a"].is_number() && sl["overall"]["b"].is_number(),
        "{sl}"
    );
    assert!(sl["by_queue"]["general"]["b"].is_number(), "{sl}");
    assert!(
        r["complaints"]["a"].is_number() && r["breached"]["b"].is_number(),
        "{r}"
    );
}
