//! End to end over a real socket, the rest of the source articles: incident
//! mode, social and review intake, IVR and bot hand-offs with self-service
//! containment, the customer context an agent sees, brand-approved
//! rephrasing accepted in one step, and agent schedules with adherence and
//! goals. The real binary with its bundled plugins on a fresh data
//! directory.

mod common;

use common::{Server, request, token_for};
use serde_json::{Value, json};

const DAY: i64 = 1_795_392_000_000; // 2026-11-23 00:00 UTC
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn agent(id: &str, skills: Value) -> Value {
    json!({"id": id, "name": id, "skills": skills, "languages": ["en"],
           "capacity": {"chat": 2, "voice": 1, "email": 1, "social": 1}, "status": "available"})
}

fn kinds_of(server: &Server, query: &str) -> Vec<Value> {
    let (status, audit) = server.get(&format!("/v1/audit?{query}"));
    assert_eq!(status, 200, "{audit}");
    audit["records"].as_array().expect("records").clone()
}

#[test]
fn an_incident_tags_routes_and_messages_matching_contacts_until_it_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let message = "Card payments are failing since 09:00; we expect a fix by noon.";
    let incident = json!({"title": "Card payments failing", "keywords": ["payment failed"],
                          "products": ["cards"], "message": message});

    // Who may declare, and what a declaration needs.
    let viewer = token_for(&server, "viewer");
    let (status, _) = request(
        server.addr,
        "POST",
        "/v1/incidents",
        Some(&incident.to_string()),
        Some(&viewer),
    )
    .unwrap();
    assert_eq!(status, 403);
    let (status, err) = server.post("/v1/incidents", &json!({"title": "Something"}));
    assert_eq!(status, 422, "{err}");
    assert!(
        err["detail"].as_str().unwrap().contains("keywords"),
        "{err}"
    );

    let (status, declared) = server.post("/v1/incidents", &incident);
    assert_eq!(status, 201, "{declared}");
    let id = declared["id"].as_str().unwrap().to_owned();
    assert_eq!(declared["ended_at"], Value::Null);
    assert!(
        declared["declared_by"]
            .as_str()
            .unwrap()
            .starts_with("token:")
    );

    // A matching contact: tagged, to the incident queue, with the message.
    let (status, got) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "cust-1", "topics": ["billing"],
                "text": "My payment failed three times today"}),
    );
    assert_eq!(status, 201, "{got}");
    let contact = got["contact"]["id"].as_str().unwrap().to_owned();
    let tag = format!("incident:{id}");
    assert!(
        got["contact"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!(tag)),
        "{got}"
    );
    assert_eq!(got["contact"]["requirements"]["queue"], "incident");
    assert_eq!(got["proactive_message"]["text"], message);
    assert_eq!(got["proactive_message"]["incident"], id.as_str());
    let records = kinds_of(&server, &format!("subject={contact}"));
    let decision = records
        .iter()
        .find(|r| r["entry"]["kind"] == "routing.decision")
        .unwrap();
    assert_eq!(
        decision["entry"]["data"]["input"]["incidents"][0]["id"],
        id.as_str(),
        "the plugin saw the incident: {decision}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["entry"]["kind"] == "incident.message_sent")
    );
    // One that does not match routes as usual.
    let (_, other) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "cust-2", "topics": ["billing"],
                "text": "How do I change my address?"}),
    );
    assert_eq!(other["contact"]["requirements"]["queue"], "billing");
    assert_eq!(other.get("proactive_message"), None);
    // Incident volume: the contacts carrying its tag.
    let (status, tagged) = server.get(&format!("/v1/contacts?tag={tag}"));
    assert_eq!(status, 200, "{tagged}");
    let ids: Vec<&str> = tagged["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [contact.as_str()]);

    // Closing it returns routing to normal, and survives a restart.
    let (status, closed) = server.post(&format!("/v1/incidents/{id}/close"), &json!({}));
    assert_eq!(status, 200, "{closed}");
    assert!(closed["ended_at"].is_i64());
    let (status, _) = server.post(&format!("/v1/incidents/{id}/close"), &json!({}));
    assert_eq!(status, 409);
    assert_eq!(server.get("/v1/incidents/inc-nope").0, 404);
    let (_, after) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "cust-3", "topics": ["billing"],
                "text": "My payment failed again"}),
    );
    assert_eq!(after["contact"]["requirements"]["queue"], "billing");
    assert!(
        !after["contact"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!(tag))
    );
    server.kill();
    let server = Server::start(dir.path());
    let (_, list) = server.get("/v1/incidents");
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["incidents"][0]["ended_at"], closed["ended_at"]);
    let (_, active) = server.get("/v1/incidents?active=true");
    assert_eq!(active["incidents"], json!([]));
    let kinds: Vec<Value> = kinds_of(&server, &format!("subject={id}"))
        .iter()
        .map(|r| r["entry"]["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [json!("incident.declared"), json!("incident.closed")]
    );
}

#[test]
fn social_posts_become_contacts_or_are_discarded_as_noise_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let post = json!({"source": "twitter", "post_id": "p-1", "author": "@kim",
                      "text": "@acme this is unacceptable, you charged me twice",
                      "url": "https://x.example/p-1"});
    let (status, first) = server.post("/v1/intake/social", &post);
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["outcome"], "contact");
    assert_eq!(first["duplicate"], false);
    let c = &first["ingested"]["contact"];
    assert_eq!(c["channel"], "social");
    assert_eq!(c["customer_id"], "social:twitter:@kim");
    assert_eq!(c["attributes"]["social.url"], "https://x.example/p-1");
    assert!(c["complaint"].is_object(), "a complaint: {c}");
    // Re-delivered: the same contact, nothing new.
    let (status, again) = server.post("/v1/intake/social", &post);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["contact_id"], c["id"]);

    // Noise is discarded, audited with the plugin that decided, once.
    let noise = json!({"source": "twitter", "post_id": "p-2", "author": "@bot",
                       "text": "Giveaway!! follow back for a promo code"});
    let (status, dropped) = server.post("/v1/intake/social", &noise);
    assert_eq!(status, 200, "{dropped}");
    assert_eq!(dropped["outcome"], "discarded");
    assert!(
        dropped["reason"].as_str().unwrap().contains("noise"),
        "{dropped}"
    );
    let records = kinds_of(&server, "subject=social/twitter/p-2");
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["entry"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["intake.classification", "intake.discarded"]);
    assert!(
        records[0]["entry"]["actor"]
            .as_str()
            .unwrap()
            .starts_with("plugin:complaint-escalation@"),
        "{records:?}"
    );
    let (_, redelivered) = server.post("/v1/intake/social", &noise);
    assert_eq!(
        (&redelivered["outcome"], &redelivered["duplicate"]),
        (&json!("discarded"), &json!(true))
    );

    // A one-star review with a complaint is a contact carrying its rating.
    let (status, review) = server.post(
        "/v1/intake/social",
        &json!({"source": "app-store", "post_id": "r-1", "author": "lee", "rating": 1,
                "text": "Disappointed: it crashes every time I open it"}),
    );
    assert_eq!(status, 201, "{review}");
    assert_eq!(review["ingested"]["contact"]["attributes"]["rating"], "1");
    let (status, err) = server.post(
        "/v1/intake/social",
        &json!({"source": "app-store", "post_id": "r-2", "author": "x", "rating": 7, "text": "?"}),
    );
    assert_eq!(status, 422, "{err}");
    let (status, err) = server.post("/v1/intake/social", &json!({"source": "twitter"}));
    assert!(status == 400 || status == 422, "{status} {err}");

    let (_, social) = server.get("/v1/contacts?channel=social");
    assert_eq!(social["contacts"].as_array().unwrap().len(), 2, "{social}");
    let (_, complaints) = server.get("/v1/contacts?channel=social&complaint=true");
    assert_eq!(complaints["contacts"].as_array().unwrap().len(), 2);
    let (_, calm) = server.get("/v1/contacts?complaint=false");
    assert_eq!(calm["contacts"], json!([]), "{calm}");
}

#[test]
fn ivr_and_bot_handoffs_carry_what_was_collected_once_and_count_containment() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let ivr = json!({"source": "ivr", "external_id": "call-1", "customer_id": "cust-7",
                     "menu_path": ["billing", "card", "lost"], "intent": "card_lost",
                     "auth_level": "strong", "collected": {"last4": "1234"},
                     "occurred_at": DAY + 9 * HOUR});
    let (status, got) = server.post("/v1/intake/handoffs", &ivr);
    assert_eq!(status, 201, "{got}");
    let c = &got["ingested"]["contact"];
    assert_eq!(c["channel"], "voice");
    assert_eq!(c["topics"][0], "card_lost");
    assert_eq!(c["attributes"]["ivr.menu_path"], "billing>card>lost");
    assert_eq!(c["attributes"]["auth.level"], "strong");
    assert_eq!(c["attributes"]["collected.last4"], "1234");
    assert_eq!(c["attributes"]["handoff.source"], "ivr");
    // The routing rule on the menu path asked for a billing skill.
    assert!(
        c["requirements"]["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["skill"] == "billing"),
        "{c}"
    );
    let (status, again) = server.post("/v1/intake/handoffs", &ivr);
    assert_eq!(status, 200);
    assert_eq!(
        (&again["duplicate"], &again["contact_id"]),
        (&json!(true), &c["id"])
    );

    // An unauthenticated bot customer goes to verification.
    let (_, unverified) = server.post(
        "/v1/intake/handoffs",
        &json!({"source": "bot", "external_id": "s-1", "customer_id": "cust-8",
                "intent": "password_reset", "auth_level": "none",
                "occurred_at": DAY + 9 * HOUR + 1}),
    );
    let c1 = &unverified["ingested"]["contact"];
    assert_eq!(c1["channel"], "chat");
    assert_eq!(c1["requirements"]["queue"], "verification", "{c1}");
    assert!(
        c1["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("unverified"))
    );
    // A session the bot resolved itself: recorded resolved, never routed.
    let (status, contained) = server.post(
        "/v1/intake/handoffs",
        &json!({"source": "bot", "external_id": "s-2", "customer_id": "cust-9",
                "intent": "opening_hours", "resolved": true,
                "occurred_at": DAY + 9 * HOUR + 2}),
    );
    assert_eq!(status, 201, "{contained}");
    let c2 = &contained["ingested"]["contact"];
    assert_eq!(c2["state"], "resolved");
    assert_eq!(c2["agent_id"], Value::Null);
    assert_eq!(contained["ingested"]["decided_by"]["by"], "self_service");
    // The other bot customer gives up: containment is 1 of 2 bot sessions.
    // On this wall-clock server the 2025 contact has waited long past its
    // routing's 300 s overflow step, which the engine may record at once:
    // the customer leaves after that.
    let id1 = c1["id"].as_str().unwrap();
    let (status, answer) = server.post(
        &format!("/v1/contacts/{id1}/events"),
        &json!({"type": "abandon", "occurred_at": DAY + 9 * HOUR + 600_000}),
    );
    assert_eq!(status, 200, "{answer}");
    let (status, series) = server.post(
        "/v1/kpis/query",
        &json!({"measure": "self_service_containment", "from": DAY, "to": DAY + 24 * HOUR,
                "bucket_ms": 24 * HOUR, "group_by": ["handoff"]}),
    );
    assert_eq!(status, 200, "{series}");
    let points = series["points"].as_array().unwrap();
    let bot = points
        .iter()
        .find(|p| p["group"]["handoff"] == "bot")
        .unwrap_or_else(|| panic!("{series}"));
    assert_eq!(bot["value"], 0.5, "{series}");
}

#[test]
fn the_agent_sees_the_customers_history_complaints_agents_and_last_survey() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    assert_eq!(
        server
            .put("/v1/agents/a-1", &agent("a-1", json!({"billing": 4})))
            .0,
        200
    );
    let post = |body: Value| {
        let (status, got) = server.post("/v1/contacts", &body);
        assert_eq!(status, 201, "{got}");
        got["contact"]["id"].as_str().unwrap().to_owned()
    };
    let event = |id: &str, body: Value| {
        let (status, got) = server.post(&format!("/v1/contacts/{id}/events"), &body);
        assert_eq!(status, 200, "{got}");
    };
    // An email, handled and resolved by a-1, rated 2 stars.
    let email = post(
        json!({"channel": "email", "customer_id": "cust-5", "topics": ["billing"],
                            "text": "Where is my invoice?"}),
    );
    for e in ["answer", "wrap_up", "resolve"] {
        event(&email, json!({"type": e}));
    }
    event(
        &email,
        json!({"type": "survey", "csat": 2, "comment": "slow"}),
    );
    // A complaint on chat, still open.
    let complaint = post(
        json!({"channel": "chat", "customer_id": "cust-5", "topics": ["billing"],
                                "text": "This is unacceptable, charged twice"}),
    );
    // Now they call.
    let call = post(
        json!({"channel": "voice", "customer_id": "cust-5", "topics": ["billing"],
                           "text": "Calling about my bill"}),
    );
    let (status, ctx) = server.get(&format!("/v1/contacts/{call}/context"));
    assert_eq!(status, 200, "{ctx}");
    let recent: Vec<&str> = ctx["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(recent, [complaint.as_str(), email.as_str()], "newest first");
    assert_eq!(ctx["recent"][1]["survey"]["csat"], 2);
    assert_eq!(ctx["last_survey"]["contact_id"], email.as_str());
    assert_eq!(ctx["last_survey"]["comment"], "slow");
    assert_eq!(ctx["previous_agents"], json!(["a-1"]));
    let open = ctx["open_complaints"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{ctx}");
    assert_eq!(open[0]["contact_id"], complaint.as_str());
    assert!(
        open[0]["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "acknowledge"),
        "{ctx}"
    );
    assert_eq!(server.get("/v1/contacts/c-nope/context").0, 404);
    // An agent token may read it.
    let agent_token = token_for(&server, "agent");
    let (status, _) = request(
        server.addr,
        "GET",
        &format!("/v1/contacts/{call}/context"),
        None,
        Some(&agent_token),
    )
    .unwrap();
    assert_eq!(status, 200);
}

#[test]
fn an_agent_accepts_the_brand_approved_rephrasing_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (_, got) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "cust-1", "text": "Is my order late?"}),
    );
    let contact = got["contact"]["id"].as_str().unwrap();
    let (status, draft) = server.post(
        &format!("/v1/contacts/{contact}/drafts"),
        &json!({"agent_id": "a-1", "text": "Unfortunately it is late; we will ship it asap."}),
    );
    assert_eq!(status, 201, "{draft}");
    let id = draft["id"].as_str().unwrap();
    let suggestions: Vec<&str> = draft["check"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["suggestion"].as_str())
        .collect();
    assert!(suggestions.contains(&"as soon as possible"), "{draft}");
    let (status, err) = server.post(
        &format!("/v1/drafts/{id}/accept-suggestions"),
        &json!({"findings": [99]}),
    );
    assert_eq!(status, 422, "{err}");
    let (status, revised) = server.post(&format!("/v1/drafts/{id}/accept-suggestions"), &json!({}));
    assert_eq!(status, 201, "{revised}");
    assert_eq!(
        revised["text"],
        "I'm sorry, but it is late; we will ship it as soon as possible."
    );
    assert_eq!(revised["revision_of"], id);
    assert_eq!(revised["state"], "approved", "{revised}");
    let (status, _) = server.post(
        &format!(
            "/v1/drafts/{}/accept-suggestions",
            revised["id"].as_str().unwrap()
        ),
        &json!({}),
    );
    assert_eq!(status, 409, "an approved draft has nothing to revise");
}

#[test]
fn schedules_keep_agents_on_break_unoffered_and_the_report_shows_adherence_and_goals() {
    let dir = tempfile::tempdir().unwrap();
    let start = (DAY + 8 * HOUR).to_string();
    let server = Server::start_with(dir.path(), &["--simulated-clock", &start]);
    let mut a = agent("a-1", json!({"billing": 4}));
    a["teams"] = json!(["red"]);
    assert_eq!(server.put("/v1/agents/a-1", &a).0, 200);
    let plan = json!({"activities": [
        {"activity": "available", "start": DAY + 8 * HOUR, "end": DAY + 10 * HOUR},
        {"activity": "break", "start": DAY + 10 * HOUR, "end": DAY + 10 * HOUR + 15 * MIN},
        {"activity": "available", "start": DAY + 10 * HOUR + 15 * MIN, "end": DAY + 12 * HOUR},
    ]});
    let (status, saved) = server.put("/v1/agents/a-1/schedule", &plan);
    assert_eq!(status, 200, "{saved}");
    let (status, err) = server.put(
        "/v1/agents/a-1/schedule",
        &json!({"activities": [
            {"activity": "available", "start": DAY, "end": DAY + HOUR},
            {"activity": "meeting", "start": DAY + 30 * MIN, "end": DAY + 2 * HOUR}]}),
    );
    assert_eq!(status, 422);
    assert!(err["detail"].as_str().unwrap().contains("overlap"), "{err}");
    assert_eq!(server.put("/v1/agents/nobody/schedule", &plan).0, 404);

    // On the planned break the agent is offered nothing, though available.
    let at = DAY + 10 * HOUR + 30_000;
    assert_eq!(server.post("/v1/clock", &json!({"now": at})).0, 200);
    let (_, got) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "cust-1", "topics": ["billing"],
                "text": "Question about my bill", "occurred_at": at}),
    );
    let contact = got["contact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(got["offered_to"], Value::Null, "{got}");
    // When the break ends, the waiting contact is offered.
    let (status, moved) = server.post("/v1/clock", &json!({"now": DAY + 10 * HOUR + 15 * MIN}));
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["offers"], json!([[contact, "a-1"]]), "{moved}");

    // Adherence so far: 120 of 135 scheduled minutes in the planned state
    // (available through the break); logged in all 135.
    let window = format!("from={DAY}&to={}", DAY + 24 * HOUR);
    let (_, adh) = server.get(&format!("/v1/agents/a-1/adherence?{window}"));
    assert_eq!(adh["scheduled_ms"], 135 * MIN, "{adh}");
    assert_eq!(adh["adherent_ms"], 120 * MIN, "{adh}");
    assert_eq!(adh["worked_ms"], 135 * MIN, "{adh}");
    assert_eq!(adh["conformance"], 1.0);

    let (status, err) = server.put(
        "/v1/goals/g-1",
        &json!({"scope": {"agent": "a-1"}, "measure": "happiness", "target": 1}),
    );
    assert_eq!(status, 422, "{err}");
    for (id, goal) in [
        (
            "g-1",
            json!({"scope": {"agent": "a-1"}, "measure": "adherence", "target": 0.9}),
        ),
        (
            "g-2",
            json!({"scope": {"team": "red"}, "measure": "conformance", "target": 0.95}),
        ),
    ] {
        let (status, saved) = server.put(&format!("/v1/goals/{id}"), &goal);
        assert_eq!(status, 200, "{saved}");
    }
    let (_, report) = server.get(&format!("/v1/reports/agents?{window}"));
    let row = &report["agents"][0];
    assert_eq!(row["id"], "a-1");
    let expected = 120.0 / 135.0;
    assert!(
        (row["kpis"]["adherence"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{row}"
    );
    let goals: Vec<(&str, &Value)> = row["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["goal"].as_str().unwrap(), &g["met"]))
        .collect();
    assert_eq!(goals, [("g-1", &json!(false)), ("g-2", &json!(true))]);
    let team = &report["teams"][0];
    assert_eq!(
        (&team["id"], &team["schedule"]["scheduled_ms"]),
        (&json!("red"), &json!(135 * MIN))
    );
    assert_eq!(
        server.get("/v1/schedules").1["schedules"][0]["activities"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (status, _) = request(
        server.addr,
        "DELETE",
        "/v1/goals/g-1",
        None,
        Some(&server.token),
    )
    .unwrap();
    assert_eq!(status, 204);
    assert_eq!(
        server.get("/v1/goals").1["goals"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn a_simulated_day_exercises_schedules_goals_intake_handoffs_incidents_and_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let start = DAY.to_string();
    let server = Server::start_with(
        dir.path(),
        &["--simulated-clock", &start, "--durability", "deferred"],
    );
    let (summary, _) = common::simulate(
        &server,
        &["--contacts", "400", "--agents", "12", "--seed", "5"],
    );
    for key in [
        "social_posts",
        "noise_discarded",
        "duplicates",
        "handoffs",
        "contained",
        "incident_messages",
        "suggestions_accepted",
    ] {
        assert!(summary[key].as_u64().unwrap() > 0, "{key}: {summary}");
    }
    // What the server kept of it.
    let (_, incidents) = server.get("/v1/incidents");
    let incidents = incidents["incidents"].as_array().unwrap().clone();
    assert_eq!(incidents.len(), 1);
    // Closed at noon (each simulated action has its own millisecond).
    let ended = incidents[0]["ended_at"].as_i64().unwrap();
    assert!(
        (DAY + 12 * HOUR..DAY + 12 * HOUR + MIN).contains(&ended),
        "{ended}"
    );
    let discarded = kinds_of(&server, "kind=intake.discarded");
    assert_eq!(
        discarded.len() as u64,
        summary["noise_discarded"].as_u64().unwrap()
    );
    let (_, report) = server.get(&format!(
        "/v1/reports/agents?from={DAY}&to={}",
        DAY + 24 * HOUR
    ));
    let rows = report["agents"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    for row in rows {
        let adherence = row["kpis"]["adherence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&adherence), "{row}");
        // sim-agent-N is in tier1 when N % 4 < 2: one more goal.
        let n: usize = row["id"].as_str().unwrap()[10..].parse().unwrap();
        let goals: Vec<&str> = row["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["goal"].as_str().unwrap())
            .collect();
        let expected: &[&str] = if n % 4 < 2 {
            &["adherence", "csat", "tier1-aht"]
        } else {
            &["adherence", "csat"]
        };
        assert_eq!(goals, expected, "{row}");
    }
    let (_, goals) = server.get("/v1/goals");
    assert_eq!(goals["goals"].as_array().unwrap().len(), 3);
}

/// Issue 18: an offer nobody answers expires after the queue's
/// `offer_timeout_secs`; the contact is back in line, and the miss shows in
/// queue stats, `/metrics` and the agent report.
#[test]
fn an_expired_offer_is_requeued_and_counted_in_stats_metrics_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let start = DAY + 8 * HOUR;
    let server = Server::start_with(dir.path(), &["--simulated-clock", &start.to_string()]);
    let (status, q) = server.put(
        "/v1/queues/general",
        &json!({"name": "general", "offer_timeout_secs": 20}),
    );
    assert_eq!(status, 204, "{q}");
    let (status, bad) = server.put(
        "/v1/queues/loop",
        &json!({"name": "loop", "overflow": "loop"}),
    );
    assert_eq!(status, 422, "{bad}");
    assert_eq!(
        server.put("/v1/agents/a-1", &agent("a-1", json!({}))).0,
        200
    );
    let (status, got) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "cust-1", "occurred_at": start}),
    );
    assert_eq!(status, 201, "{got}");
    assert_eq!(got["offered_to"], "a-1", "{got}");
    assert_eq!(got["contact"]["requirements"]["queue"], "general", "{got}");
    let id = got["contact"]["id"].as_str().unwrap().to_owned();
    let (_, c) = server.get(&format!("/v1/contacts/{id}"));
    assert_eq!(c["offer_expires_at"], start + 20_000, "{c}");

    let (status, moved) = server.post("/v1/clock", &json!({"now": start + 20_000}));
    assert_eq!(status, 200, "{moved}");
    let (_, c) = server.get(&format!("/v1/contacts/{id}"));
    assert_eq!(c["state"], "queued", "{c}");
    assert_eq!(c["queued_at"], start, "it keeps its place in line");
    assert_eq!(c["missed_offer"]["agent_id"], "a-1", "{c}");
    let (_, events) = server.get(&format!("/v1/contacts/{id}/events"));
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["offer", "offer_expired"]);

    let (_, stats) = server.get("/v1/queues/general/stats");
    assert_eq!(stats["missed_offers_today"], 1, "{stats}");
    let (status, text) = request(server.addr, "GET", "/metrics", None, None).unwrap();
    assert_eq!(status, 200);
    let text = text.as_str().unwrap_or_default().to_owned();
    for needle in [
        "switchboard_missed_offers_total{queue=\"general\"} 1",
        "switchboard_agent_missed_offers_total{agent=\"a-1\"} 1",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from /metrics:\n{text}"
        );
    }
    let (_, report) = server.get(&format!(
        "/v1/reports/agents?from={DAY}&to={}",
        DAY + 24 * HOUR
    ));
    let row = report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "a-1")
        .unwrap();
    assert_eq!(row["kpis"]["missed_offers"], 1.0, "{row}");
}
