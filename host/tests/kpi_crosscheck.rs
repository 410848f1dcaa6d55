//! KPI correctness: a seeded simulated day of 10,000 contacts runs through
//! the real server (`switchboard simulate` against `serve
//! --simulated-clock`), then every KPI the API reports, overall and grouped
//! by each dimension, is compared with an independent computation from the
//! raw event stream and the client's own request log (`common/kpi_model.rs`,
//! written from the formulas in `docs/plugins/core-kpis.md`, not from the
//! plugin; agent time from the client's status requests and the contacts'
//! events, not from the engine's period records).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;
#[path = "common/kpi_model.rs"]
mod kpi_model;

use std::collections::BTreeMap;

use common::{Server, request};
use serde_json::Value;

/// 2025-11-23T00:00:00Z: a day boundary, so the whole-day query reads the
/// day roll-up.
const DAY: i64 = 1_763_856_000_000;
const DAY_MS: i64 = 86_400_000;

fn get(server: &Server, path: &str) -> Value {
    let (status, body) = request(server.addr, "GET", path, None, Some(&server.token)).unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Every item of a cursor-paged list.
fn all(server: &Server, path: &str, field: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(a) => format!("{path}{sep}limit=1000&after={a}"),
            None => format!("{path}{sep}limit=1000"),
        };
        let page = get(server, &url);
        out.extend(page[field].as_array().unwrap().iter().cloned());
        match &page["next_after"] {
            Value::Null => return out,
            v => after = Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
        }
    }
}

/// The client's own log: one JSON object per line.
fn read_log(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_simulated_day_reports_every_kpi_as_recomputed_from_the_raw_events() {
    let dir = tempfile::tempdir().unwrap();
    // The server's default plugin limits: a call's outcome does not depend
    // on how busy the two cores shared with the simulator are.
    let server = Server::start_with(
        &dir.path().join("data"),
        &[
            "--simulated-clock",
            &DAY.to_string(),
            "--durability",
            "deferred",
        ],
    );
    let started = std::time::Instant::now();
    // --classic: the stream the model replays (no intake, schedules or
    // incident); --log: the client's own record of what it asked for.
    let log_path = dir.path().join("client.jsonl");
    let (summary, stderr) = common::simulate(
        &server,
        &[
            "--contacts",
            "10000",
            "--agents",
            "60",
            "--seed",
            "11",
            "--classic",
            "--log",
            log_path.to_str().unwrap(),
        ],
    );
    eprintln!("{stderr}");
    assert_eq!(summary["contacts"], 10_000);
    assert!(summary["answered"].as_u64().unwrap() > 5_000, "{summary}");
    assert!(summary["abandoned"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary["transferred"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary["surveys"].as_u64().unwrap() > 0, "{summary}");
    eprintln!("simulated in {:.0} s", started.elapsed().as_secs_f64());

    // The raw event stream.
    let contacts = all(&server, "/v1/contacts", "contacts");
    assert_eq!(contacts.len(), 10_000);
    let mut events = BTreeMap::new();
    for c in &contacts {
        let id = c["id"].as_str().unwrap().to_owned();
        let list = get(&server, &format!("/v1/contacts/{id}/events"))["events"]
            .as_array()
            .unwrap()
            .clone();
        events.insert(id, list);
    }
    let client_log = read_log(&log_path);
    assert!(client_log.len() > 10_000, "{} log lines", client_log.len());
    let agents = get(&server, "/v1/agents")["agents"]
        .as_array()
        .unwrap()
        .clone();
    let slots = get(&server, "/v1/slots");
    let config = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"]["plugin"] == "core-kpis")
        .map(|s| s["current"]["config"].clone())
        .expect("core-kpis is active");
    // The plugin ran every event (a timeout would drop samples silently:
    // fail-open); then recompute from the raw events.
    let kpi_slot = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"]["plugin"] == "core-kpis")
        .unwrap();
    assert!(
        kpi_slot["stats"]["calls"].as_u64().unwrap() > 40_000,
        "{kpi_slot}"
    );
    assert_eq!(kpi_slot["stats"]["failures"], 0, "{kpi_slot}");
    let queues =
        kpi_model::creation_queues(&all(&server, "/v1/audit?kind=routing.decision", "records"));
    let window = kpi_model::Window {
        from: DAY,
        to: DAY + DAY_MS,
    };
    let model = kpi_model::recompute_with(&kpi_model::Input {
        contacts: &contacts,
        events: &events,
        client_log: &client_log,
        agents: &agents,
        config: &config,
        window,
        creation_queues: Some(&queues),
        history_days: kpi_model::HISTORY_DAYS,
    })
    .expect("the raw events replay");
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);

    // What the API reports, overall and by every dimension.
    let measures = get(&server, "/v1/kpis/measures")["measures"]
        .as_array()
        .unwrap()
        .clone();
    let mut declared: Vec<&str> = measures
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let mut modelled: Vec<&str> = model.measures.iter().map(|(m, _)| m.as_str()).collect();
    declared.sort_unstable();
    modelled.sort_unstable();
    assert_eq!(declared, modelled, "the measures the API declares");
    assert!(declared.len() >= 20, "{declared:?}");
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for (name, _) in &model.measures {
        for dim in kpi_model::Model::groupings(name) {
            let (status, series) = request(
                server.addr,
                "POST",
                "/v1/kpis/query",
                Some(&kpi_model::query_body(name, dim, window).to_string()),
                Some(&server.token),
            )
            .unwrap();
            assert_eq!(status, 200, "{series}");
            compared += series["points"].as_array().map_or(0, Vec::len);
            if let Err(e) = model.check_series(name, dim, &series) {
                mismatches.extend(e);
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} KPI values differ (of {compared}):\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(40)].join("\n")
    );
    assert!(compared > 300, "only {compared} values compared");
    eprintln!(
        "{compared} KPI values agree exactly ({} measures); total {:.0} s",
        measures.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Issue 18: one agent, a contact created and offered by the engine's own
/// dispatch at +60 s, answered, resolved at +120 s; the agent goes offline
/// at +180 s. Occupancy is 60 s handling of 180 s available: 1/3, as the
/// model computes it from the client's own log and the contact's events,
/// and as the API must report it.
#[test]
fn occupancy_after_an_offer_by_dispatch_agrees_with_the_model_from_the_clients_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--simulated-clock", &DAY.to_string()],
    );
    // The client's own log, as `switchboard simulate --log` writes it.
    let mut log: Vec<Value> = Vec::new();
    let mut call = |method: &str, path: &str, body: Value, at: i64| {
        let (status, answer) = request(
            server.addr,
            method,
            path,
            Some(&body.to_string()),
            Some(&server.token),
        )
        .unwrap();
        assert!(status < 300, "{method} {path}: {answer}");
        log.push(serde_json::json!({"at": at, "method": method, "path": path,
            "body": body, "status": status}));
        answer
    };
    call(
        "PUT",
        "/v1/agents/a-1",
        serde_json::json!({"id": "a-1", "languages": ["en"], "teams": ["tier1"],
            "skills": {"billing": 5, "technical": 5},
            "capacity": {"chat": 1}, "status": "available"}),
        DAY,
    );
    call(
        "POST",
        "/v1/clock",
        serde_json::json!({"now": DAY + 60_000}),
        DAY + 60_000,
    );
    let created = call(
        "POST",
        "/v1/contacts",
        serde_json::json!({"channel": "chat", "customer_id": "cust-1",
            "occurred_at": DAY + 60_000}),
        DAY + 60_000,
    );
    assert_eq!(
        created["offered_to"], "a-1",
        "offered by dispatch: {created}"
    );
    let id = created["contact"]["id"].as_str().unwrap().to_owned();
    for (kind, at) in [
        ("answer", 61_000),
        ("wrap_up", 119_000),
        ("resolve", 120_000),
    ] {
        call(
            "POST",
            &format!("/v1/contacts/{id}/events"),
            serde_json::json!({"type": kind, "occurred_at": DAY + at}),
            DAY + at,
        );
    }
    call(
        "POST",
        "/v1/agents/a-1/status",
        serde_json::json!({"status": "offline", "occurred_at": DAY + 180_000}),
        DAY + 180_000,
    );

    let contacts = all(&server, "/v1/contacts", "contacts");
    let events: BTreeMap<String, Vec<Value>> = contacts
        .iter()
        .map(|c| {
            let id = c["id"].as_str().unwrap().to_owned();
            let list = get(&server, &format!("/v1/contacts/{id}/events"))["events"]
                .as_array()
                .unwrap()
                .clone();
            (id, list)
        })
        .collect();
    let agents = get(&server, "/v1/agents")["agents"]
        .as_array()
        .unwrap()
        .clone();
    let slots = get(&server, "/v1/slots");
    let config = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"]["plugin"] == "core-kpis")
        .map(|s| s["current"]["config"].clone())
        .expect("core-kpis is active");
    let window = kpi_model::Window {
        from: DAY,
        to: DAY + DAY_MS,
    };
    let model = kpi_model::recompute(&contacts, &events, &log, &agents, &config, window)
        .expect("the day replays");
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    let occupancy = model.overall("occupancy").expect("an occupancy value");
    assert_eq!(
        occupancy.value,
        Some(60.0 / 180.0),
        "the model: 60 s handling of 180 s"
    );
    for measure in ["occupancy", "agent_utilization"] {
        for dim in ["", "agent"] {
            let (status, series) = request(
                server.addr,
                "POST",
                "/v1/kpis/query",
                Some(&kpi_model::query_body(measure, dim, window).to_string()),
                Some(&server.token),
            )
            .unwrap();
            assert_eq!(status, 200, "{series}");
            model
                .check_series(measure, dim, &series)
                .unwrap_or_else(|e| panic!("{measure} by {dim:?}: {e:?}"));
        }
    }
}
