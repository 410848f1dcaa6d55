//! The API's contract, checked against the real binary over a socket:
//! `/openapi.json` describes every route; every `/v1` operation admits
//! exactly the roles its `x-roles` documents (and answers 401 without a
//! token); real responses validate against the documented schemas.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;

use common::{Server, request, status_only, token_for};
use serde_json::{Value, json};

const METHODS: [&str; 4] = ["get", "put", "post", "delete"];

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// `/v1/agents/{id}` -> `/v1/agents/no-such-thing`.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push_str("no-such-thing");
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn the_document_is_openapi_3_1_and_describes_every_v1_operation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, doc) = request(server.addr, "GET", "/openapi.json", None, None).unwrap();
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let ops = operations(&doc);
    assert!(ops.len() >= 41, "only {} operations documented", ops.len());
    for (method, path, op) in &ops {
        assert!(
            op["responses"]
                .as_object()
                .is_some_and(|r| r.keys().any(|k| k.starts_with('2'))),
            "{method} {path} documents no success response"
        );
        if path.starts_with("/v1/") {
            let roles = op["x-roles"].as_array();
            assert!(
                roles.is_some_and(|r| !r.is_empty()),
                "{method} {path} has no x-roles"
            );
            assert_eq!(op["security"][0]["bearer"], json!([]), "{method} {path}");
            for status in ["400", "401", "403", "500"] {
                assert!(
                    op["responses"][status]["content"]["application/problem+json"].is_object(),
                    "{method} {path} does not document {status}"
                );
            }
            assert!(
                op["description"].as_str().unwrap_or("").contains("Roles:"),
                "{method} {path}"
            );
        }
    }
    // Routes that exist answer something other than "no such endpoint";
    // one that does not exist gets the problem that points at this document.
    let (status, body) = request(server.addr, "GET", "/v1/nothing-here", None, None).unwrap();
    assert_eq!(status, 404);
    assert!(body["detail"].as_str().unwrap().contains("/openapi.json"));
}

#[test]
fn every_v1_operation_admits_exactly_its_documented_roles() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (_, doc) = request(server.addr, "GET", "/openapi.json", None, None).unwrap();
    let roles = ["admin", "operator", "partner", "agent", "viewer"];
    let tokens: BTreeMap<&str, String> =
        roles.iter().map(|r| (*r, token_for(&server, r))).collect();
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        if !path.starts_with("/v1/") {
            continue;
        }
        let allowed: Vec<&str> = op["x-roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let url = concrete(&path);
        // A body that is wrong in every way: a denied role must still get
        // 403, not a hint about the body.
        let body = op.get("requestBody").map(|_| "{\"unexpected\": [}");
        let status = status_only(server.addr, &method, &url, body, None).unwrap();
        assert_eq!(status, 401, "{method} {url} without a token");
        let status = status_only(server.addr, &method, &url, body, Some("sb_bogus_token")).unwrap();
        assert_eq!(status, 401, "{method} {url} with a bogus token");
        for role in roles {
            let status =
                status_only(server.addr, &method, &url, body, Some(&tokens[role])).unwrap();
            if allowed.contains(&role) {
                assert!(
                    status != 401 && status != 403,
                    "{method} {url}: documented for {role} but got {status}"
                );
            } else {
                assert_eq!(status, 403, "{method} {url}: {role} is not documented");
            }
            checked += 1;
        }
    }
    assert!(checked >= 38 * 5, "only {checked} role checks");
}

/// A validator for the schema `schema` of the document `doc`
/// (`#/components/...` references resolve against the document).
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("bad schema {schema}: {e}"))
}

fn check(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let op = &doc["paths"][path][method.to_lowercase()];
    let content = &op["responses"][status.to_string()]["content"];
    let schema = if content["application/json"].is_object() {
        &content["application/json"]["schema"]
    } else {
        &content["application/problem+json"]["schema"]
    };
    assert!(
        schema.is_object(),
        "{method} {path} does not document a JSON {status}"
    );
    let v = validator(doc, schema);
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match its schema:\n{}\nbody: {body:#}",
        errors.join("\n")
    );
}

#[test]
fn real_responses_match_the_documented_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (_, doc) = request(server.addr, "GET", "/openapi.json", None, None).unwrap();
    let mut seen = 0;
    let mut call = |method: &str, template: &str, url: &str, body: Option<Value>| -> Value {
        let text = body.map(|b| b.to_string());
        let (status, got) = request(
            server.addr,
            method,
            url,
            text.as_deref(),
            Some(&server.token),
        )
        .unwrap();
        if status == 204 {
            return got;
        }
        check(&doc, method, template, status, &got);
        seen += 1;
        got
    };
    call(
        "PUT",
        "/v1/queues/{name}",
        "/v1/queues/billing",
        Some(json!({"name": "billing"})),
    );
    call(
        "PUT",
        "/v1/agents/{id}",
        "/v1/agents/a-1",
        Some(
            json!({"id": "a-1", "skills": {"billing": 4}, "languages": ["en"], "status": "available"}),
        ),
    );
    let created = call(
        "POST",
        "/v1/contacts",
        "/v1/contacts",
        Some(
            json!({"channel": "chat", "customer_id": "c-1", "topics": ["billing"], "text": "my invoice is wrong"}),
        ),
    );
    let id = created["contact"]["id"]
        .as_str()
        .or_else(|| created["id"].as_str())
        .expect("contact id")
        .to_owned();
    call(
        "GET",
        "/v1/contacts/{id}",
        &format!("/v1/contacts/{id}"),
        None,
    );
    call(
        "POST",
        "/v1/contacts/{id}/events",
        &format!("/v1/contacts/{id}/events"),
        Some(json!({"type": "answer"})),
    );
    call(
        "GET",
        "/v1/contacts/{id}/events",
        &format!("/v1/contacts/{id}/events"),
        None,
    );
    let draft = call(
        "POST",
        "/v1/contacts/{id}/drafts",
        &format!("/v1/contacts/{id}/drafts"),
        Some(json!({"agent_id": "a-1", "text": "Your card 4111 1111 1111 1111 is noted."})),
    );
    let draft_id = draft["id"].as_str().unwrap().to_owned();
    call(
        "GET",
        "/v1/drafts/{id}",
        &format!("/v1/drafts/{draft_id}"),
        None,
    );
    call(
        "POST",
        "/v1/kpis/query",
        "/v1/kpis/query",
        Some(
            json!({"measure": "contacts_handled", "from": 0, "to": 4_000_000_000_000i64, "bucket_ms": 86_400_000, "group_by": ["queue"]}),
        ),
    );
    // The floor's day: context, suggestions, intake, incidents, schedules, goals.
    call(
        "GET",
        "/v1/contacts/{id}/context",
        &format!("/v1/contacts/{id}/context"),
        None,
    );
    let revisable = call(
        "POST",
        "/v1/contacts/{id}/drafts",
        &format!("/v1/contacts/{id}/drafts"),
        Some(json!({"agent_id": "a-1", "text": "We will fix it asap."})),
    );
    call(
        "POST",
        "/v1/drafts/{id}/accept-suggestions",
        &format!(
            "/v1/drafts/{}/accept-suggestions",
            revisable["id"].as_str().unwrap()
        ),
        Some(json!({})),
    );
    for post_id in ["p-1", "p-1", "p-2"] {
        let text = if post_id == "p-2" {
            "giveaway, follow back"
        } else {
            "@acme unacceptable service"
        };
        call(
            "POST",
            "/v1/intake/social",
            "/v1/intake/social",
            Some(json!({"source": "twitter", "post_id": post_id, "author": "@a", "text": text})),
        );
    }
    call(
        "POST",
        "/v1/intake/handoffs",
        "/v1/intake/handoffs",
        Some(
            json!({"source": "bot", "external_id": "s-1", "customer_id": "c-2", "intent": "hours", "resolved": true}),
        ),
    );
    let incident = call(
        "POST",
        "/v1/incidents",
        "/v1/incidents",
        Some(json!({"title": "Outage", "keywords": ["outage"], "message": "We know."})),
    );
    let incident = incident["id"].as_str().unwrap().to_owned();
    call(
        "GET",
        "/v1/incidents/{id}",
        &format!("/v1/incidents/{incident}"),
        None,
    );
    for _ in 0..2 {
        // Closed, then a conflict.
        call(
            "POST",
            "/v1/incidents/{id}/close",
            &format!("/v1/incidents/{incident}/close"),
            Some(json!({})),
        );
    }
    call(
        "PUT",
        "/v1/agents/{id}/schedule",
        "/v1/agents/a-1/schedule",
        Some(json!({"activities": [
            {"activity": "available", "start": 0, "end": 3_600_000},
            {"activity": "break", "start": 3_600_000, "end": 4_500_000}]})),
    );
    call(
        "GET",
        "/v1/agents/{id}/schedule",
        "/v1/agents/a-1/schedule?from=0&to=86400000",
        None,
    );
    call(
        "GET",
        "/v1/agents/{id}/adherence",
        "/v1/agents/a-1/adherence?from=0&to=86400000",
        None,
    );
    call(
        "PUT",
        "/v1/goals/{id}",
        "/v1/goals/g-1",
        Some(json!({"scope": {"team": "red"}, "measure": "csat", "target": 0.85})),
    );
    for path in ["/v1/incidents", "/v1/schedules", "/v1/goals"] {
        call("GET", path, path, None);
    }
    for path in [
        "/healthz",
        "/readyz",
        "/v1/contacts",
        "/v1/drafts",
        "/v1/agents",
        "/v1/queues",
        "/v1/notifications",
        "/v1/kpis/measures",
        "/v1/audit",
        "/v1/audit/verify",
        "/v1/tokens",
        "/v1/whoami",
        "/v1/plugins",
        "/v1/slots",
        "/v1/clock",
        "/v1/reports/agents",
    ] {
        call("GET", path, path, None);
    }
    call("GET", "/v1/agents/{id}", "/v1/agents/a-1", None);
    call(
        "GET",
        "/v1/queues/{name}/stats",
        "/v1/queues/billing/stats",
        None,
    );
    let (_, plugins) =
        request(server.addr, "GET", "/v1/plugins", None, Some(&server.token)).unwrap();
    let v = &plugins["versions"][0];
    let (id, version) = (v["id"].as_str().unwrap(), v["version"].as_str().unwrap());
    call(
        "GET",
        "/v1/plugins/{id}/{version}/log",
        &format!("/v1/plugins/{id}/{version}/log"),
        None,
    );
    // Errors are problems, documented as such.
    call(
        "GET",
        "/v1/contacts/{id}",
        "/v1/contacts/no-such-contact",
        None,
    );
    call(
        "POST",
        "/v1/contacts/{id}/events",
        &format!("/v1/contacts/{id}/events"),
        Some(json!({"type": "abandon"})),
    );
    assert!(seen >= 47, "only {seen} responses checked");
}

/// Every schema object of `v`, with where it is.
fn schemas<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("type") {
                out.push((at.clone(), v));
            }
            for (k, child) in m {
                schemas(child, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                schemas(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn is_type(schema: &Value, t: &str) -> bool {
    schema["type"] == t
        || schema["type"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|x| x == t))
}

/// The document promises what the server enforces: a client generated
/// from it sends nothing the server refuses for its range, and reads
/// problems by their real content type.
#[test]
fn the_document_states_every_bound_the_server_enforces() {
    let doc = serde_json::to_value(switchboard::server::openapi_document()).unwrap();
    let mut all = Vec::new();
    schemas(&doc, String::new(), &mut all);
    let mut integers = 0;
    for (at, s) in &all {
        if !is_type(s, "integer") {
            continue;
        }
        integers += 1;
        let (lo, hi): (i128, i128) = match s["format"].as_str() {
            Some("int8") => (i8::MIN.into(), i8::MAX.into()),
            Some("int16") => (i16::MIN.into(), i16::MAX.into()),
            Some("int32") => (i32::MIN.into(), i32::MAX.into()),
            Some("int64") => (i64::MIN.into(), i64::MAX.into()),
            Some("uint8") => (0, u8::MAX.into()),
            Some("uint16") => (0, u16::MAX.into()),
            Some("uint32") => (0, u32::MAX.into()),
            Some("uint64") => (0, u64::MAX.into()),
            other => panic!("the integer at {at} has no integer format: {other:?}"),
        };
        let bound = |k: &str| -> i128 {
            let v = &s[k];
            v.as_i64()
                .map(i128::from)
                .or_else(|| v.as_u64().map(i128::from))
                .unwrap_or_else(|| panic!("the integer at {at} has no {k}: {s}"))
        };
        assert!(
            lo <= bound("minimum") && bound("maximum") <= hi,
            "the bounds at {at} exceed its format: {s}"
        );
    }
    assert!(integers >= 50, "only {integers} integers found");
    let components = &doc["components"]["schemas"];
    let sentiment = &components["NewContact"]["properties"]["sentiment"];
    assert_eq!(
        (sentiment["minimum"].as_f64(), sentiment["maximum"].as_f64()),
        (Some(-1.0), Some(1.0)),
        "{sentiment}"
    );
    assert_eq!(
        components["Queue"]["properties"]["priority"]["maximum"],
        json!(u32::MAX)
    );
    let draft = &components["DraftBody"]["properties"]["text"];
    assert_eq!(draft["minLength"], 1, "{draft}");
    assert_eq!(draft["maxLength"], 20_000, "{draft}");
    assert!(draft["pattern"].is_string(), "{draft}");
    assert_eq!(
        components["NewContact"]["properties"]["customer_id"]["minLength"],
        1
    );
    let skill = &components["Agent"]["properties"]["skills"]["additionalProperties"];
    assert_eq!(
        (&skill["minimum"], &skill["maximum"]),
        (&json!(1), &json!(5))
    );
    // Problems are documented with the content type they are sent with.
    let mut problems = 0;
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let content = &response["content"];
            let problem = content["application/problem+json"].is_object();
            problems += usize::from(problem);
            let json_problem = content["application/json"]["schema"]["$ref"]
                .as_str()
                .is_some_and(|r| r.ends_with("/Problem"));
            assert!(
                !json_problem,
                "{method} {path} {status} documents a problem as application/json"
            );
        }
    }
    assert!(problems >= 250, "only {problems} problem responses");
    assert!(
        doc["paths"]["/readyz"]["get"]["responses"]["503"]["content"]["application/json"]
            .is_object()
    );
}

/// Values outside their documented range and keys given twice are refused
/// with a message that says what to fix; nothing is stored.
#[test]
fn out_of_range_values_and_duplicate_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (status, body) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "c-1", "sentiment": 5.0}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("-1.0 and 1.0"),
        "{body}"
    );
    for (path, text) in [
        (
            "/v1/contacts",
            r#"{"channel": "chat", "customer_id": "c-1", "attributes": {"a": "1", "a": "2"}}"#,
        ),
        (
            "/v1/agents/a-1",
            r#"{"id": "a-1", "status": "available", "skills": {"billing": 4, "billing": 1}}"#,
        ),
    ] {
        let method = if path.starts_with("/v1/agents") {
            "PUT"
        } else {
            "POST"
        };
        let (status, body) =
            request(server.addr, method, path, Some(text), Some(&server.token)).unwrap();
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("duplicate key \"")
                && body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("give each key once"),
            "{body}"
        );
    }
    let (_, contacts) = server.get("/v1/contacts");
    assert_eq!(contacts["contacts"], json!([]), "nothing was stored");
    // Drafts: blank and oversize text is refused, the limit itself is not.
    let (status, _) = server.put(
        "/v1/agents/a-1",
        &json!({"id": "a-1", "status": "available", "skills": {"billing": 4}}),
    );
    assert_eq!(status, 200);
    let (status, created) = server.post(
        "/v1/contacts",
        &json!({"channel": "chat", "customer_id": "c-1", "sentiment": -1.0}),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["contact"]["id"].as_str().unwrap().to_owned();
    let drafts = format!("/v1/contacts/{id}/drafts");
    let limit = "a".repeat(20_000);
    let over = format!("{limit}b");
    for text in ["", " \n\t", over.as_str()] {
        let (status, body) = server.post(&drafts, &json!({"agent_id": "a-1", "text": text}));
        assert_eq!(status, 422, "{} characters: {body}", text.len());
        assert!(
            body["detail"].as_str().unwrap().contains("`text`"),
            "{body}"
        );
    }
    let (status, body) = server.post(&drafts, &json!({"agent_id": "a-1", "text": limit}));
    assert_eq!(status, 201, "{body}");
}
