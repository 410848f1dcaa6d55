//! Builders for realistic plugin inputs in unit tests.
//!
//! Every builder fills in sensible defaults (empty lists, `None`, zero
//! counters) at the fixed time [`NOW`]; tests then change the fields they care
//! about. All fields of the generated types are public.
//!
//! ```
//! use switchboard_sdk::testing;
//! use switchboard_sdk::types::Channel;
//!
//! let mut contact = testing::contact("c-1", Channel::Chat);
//! contact.customer_tier = "vip".into();
//! contact.topics = vec!["billing".into()];
//! let input = testing::routing_input(contact);
//! assert_eq!(input.now, testing::NOW);
//! assert!(input.history.recent.is_empty());
//! ```
//!
//! Fixtures can also be loaded from JSON, since every type implements
//! `serde::Deserialize`.

use serde::de::DeserializeOwned;

use crate::compliance::{Draft, DraftContext};
use crate::escalation::EscalationInput;
use crate::kpi::KpiInput;
use crate::routing::RoutingInput;
use crate::types::{
    AgentInfo, AgentStatus, Channel, Contact, ContactState, ContactTimes, CustomerHistory, Event,
    EventKind, Timestamp,
};

/// The fixed "now" of every builder: 2026-01-05T09:00:00Z (a Monday morning),
/// in milliseconds since the Unix epoch.
pub const NOW: Timestamp = 1_767_603_600_000;

/// A contact `id` on `channel`, just created at [`NOW`]: customer
/// `"customer-1"`, tier `"standard"`, language `"en"`, state `new`, no
/// topics, text, sentiment, attributes, tags, queue or agent, priority 0.
pub fn contact(id: &str, channel: Channel) -> Contact {
    Contact {
        id: id.to_string(),
        channel,
        customer_id: "customer-1".to_string(),
        customer_tier: "standard".to_string(),
        language: "en".to_string(),
        topics: Vec::new(),
        text: String::new(),
        sentiment: None,
        attributes: Vec::new(),
        tags: Vec::new(),
        state: ContactState::New,
        queue: None,
        priority: 0,
        agent_id: None,
        transfers: 0,
        complaint: false,
        times: times(NOW),
    }
}

/// Lifecycle times of a contact created at `created_at` that reached no
/// other step yet.
pub fn times(created_at: Timestamp) -> ContactTimes {
    ContactTimes {
        created_at,
        queued_at: None,
        offered_at: None,
        answered_at: None,
        wrap_up_at: None,
        resolved_at: None,
        abandoned_at: None,
        hold_ms: 0,
    }
}

/// The history of a first-time customer: a 30-day window with nothing in it.
pub fn history() -> CustomerHistory {
    CustomerHistory {
        window_days: 30,
        recent: Vec::new(),
        topic_counts: Vec::new(),
        same_topic_repeats: 0,
        last_agent: None,
        open_complaints: 0,
        flags: Vec::new(),
    }
}

/// A routing input for `contact` at [`NOW`], with [`history()`] and no
/// queue, skill or incident snapshots.
pub fn routing_input(contact: Contact) -> RoutingInput {
    RoutingInput {
        now: NOW,
        contact,
        history: history(),
        queues: Vec::new(),
        skills: Vec::new(),
        incidents: Vec::new(),
    }
}

/// An event of `kind` at [`NOW`], sequence number 1.
pub fn event(kind: EventKind) -> Event {
    Event {
        kind,
        at: NOW,
        sequence: 1,
    }
}

/// An escalation input for an event of `kind` on `contact` at [`NOW`], with
/// [`history()`] and no queue, deadlines or incidents.
pub fn escalation_input(contact: Contact, kind: EventKind) -> EscalationInput {
    EscalationInput {
        now: NOW,
        event: event(kind),
        contact,
        history: history(),
        queue: None,
        deadlines: Vec::new(),
        incidents: Vec::new(),
    }
}

/// A KPI input for an event of `kind` on `contact` at [`NOW`], with
/// [`history()`] and no agent. For agent events pass `None` and set
/// `agent` yourself.
pub fn kpi_input(contact: Option<Contact>, kind: EventKind) -> KpiInput {
    let history = contact.as_ref().map(|_| history());
    KpiInput {
        now: NOW,
        event: event(kind),
        contact,
        history,
        agent: None,
    }
}

/// An available agent `id` with no teams and no skills.
pub fn agent(id: &str) -> AgentInfo {
    AgentInfo {
        id: id.to_string(),
        teams: Vec::new(),
        skills: Vec::new(),
        status: AgentStatus::Available,
    }
}

/// A draft reply `text` at [`NOW`] by agent `"agent-1"` to contact
/// `"c-1"` of customer `"customer-1"` (tier `"standard"`) on chat, in `"en"`,
/// with no topics.
pub fn draft(text: &str) -> Draft {
    Draft {
        now: NOW,
        text: text.to_string(),
        context: DraftContext {
            contact_id: "c-1".to_string(),
            channel: Channel::Chat,
            customer_id: "customer-1".to_string(),
            customer_tier: "standard".to_string(),
            topics: Vec::new(),
            language: "en".to_string(),
            agent_id: "agent-1".to_string(),
        },
    }
}

/// Parse `json` as a plugin configuration, with the exact error message the
/// host would get from `configure` (`plugin` stands for the crate name).
pub fn parse_config<C: DeserializeOwned>(plugin: &str, json: &str) -> Result<C, String> {
    crate::__private::parse_config(plugin, json)
}

/// Parse the `default_config` of a plugin's `manifest.json` as its
/// configuration type: a test that the manifest and the config struct agree.
///
/// ```
/// # use serde::Deserialize;
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config { default_queue: String }
///
/// let manifest = r#"{ "id": "p", "default_config": { "default_queue": "general" } }"#;
/// let config: Config = switchboard_sdk::testing::default_config_from_manifest(manifest).unwrap();
/// assert_eq!(config.default_queue, "general");
/// ```
pub fn default_config_from_manifest<C: DeserializeOwned>(manifest: &str) -> Result<C, String> {
    let manifest: serde_json::Value =
        serde_json::from_str(manifest).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let id = manifest
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or("plugin")
        .to_string();
    let config = manifest
        .get("default_config")
        .ok_or_else(|| format!("{id}: manifest has no default_config"))?;
    parse_config(&id, &config.to_string())
}

/// Check every `fixtures/*.json` of a plugin crate natively (the same files
/// `switchboard plugin test` runs through the real Wasm runtime), so
/// fixtures cannot rot. `call(config, call, input)` runs the plugin: build
/// it from `config` (the manifest's `default_config` when the fixture's is
/// null) and answer `call` (`route`, `on-event`, `check`, `measures`) for
/// `input`, as JSON. Panics with every mismatch. With `SWITCHBOARD_BLESS=1`
/// each `expected` is rewritten with what the plugin answers now (review
/// the diff before committing).
///
/// ```no_run
/// # fn run(_: &serde_json::Value, _: &str, _: &serde_json::Value) -> Result<serde_json::Value, String> { todo!() }
/// // tests/fixtures.rs of a plugin crate
/// #[test]
/// fn every_fixture_holds() {
///     let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
///     switchboard_sdk::testing::check_fixtures(dir, 8, run);
/// }
/// ```
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn check_fixtures(
    crate_dir: &std::path::Path,
    at_least: usize,
    call: impl Fn(&serde_json::Value, &str, &serde_json::Value) -> Result<serde_json::Value, String>,
) {
    use serde_json::Value;
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(crate_dir.join("manifest.json")).unwrap())
            .unwrap();
    let dir = crate_dir.join("fixtures");
    let bless = std::env::var_os("SWITCHBOARD_BLESS").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= at_least,
        "at least {at_least} fixtures, found {}",
        paths.len()
    );
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut fixture: Value = serde_json::from_str(&text).unwrap();
        assert!(
            fixture["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}: no description",
            path.display()
        );
        let config = match &fixture["config"] {
            Value::Null => manifest["default_config"].clone(),
            c => c.clone(),
        };
        let name = fixture["call"].as_str().unwrap_or_default().to_owned();
        let got = call(&config, &name, &fixture["input"])
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if bless {
            fixture["expected"] = got;
            let mut out = serde_json::to_string_pretty(&fixture).unwrap();
            out.push('\n');
            std::fs::write(&path, out).unwrap();
        } else if got != fixture["expected"] {
            failures.push(format!(
                "{}:\n  expected {}\n  got      {}",
                path.display(),
                fixture["expected"],
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
