//! An independent model of the `core-kpis` measures (and the host's own
//! `missed_offers`): every KPI the server reports, recomputed from raw
//! records and the client's own log (contacts, their recorded events, and
//! the agent status changes the client asked for) with nothing but `std`
//! and `serde_json`, for the KPI correctness test. Agent time (occupancy,
//! utilization, agent cost) is rebuilt from those inputs too: each agent's
//! status from the client's requests, their load from the contacts'
//! events, never from the engine's `agent.status_changed` periods (the
//! thing being checked).
//!
//! Three layers, each written from its spec rather than from the code it
//! checks:
//!
//! 1. **Replay** (`host/src/engine/events.rs` `apply`, `mod.rs` `ingest`,
//!    `convert.rs`, `history.rs`, `reactions.rs`): every contact is rebuilt
//!    event by event, all contacts and agents merged in time order, so each
//!    event sees the contact (`times`, `queue`, `agent-id`, `transfers`),
//!    the customer history (the 20 newest other contacts, as they are at
//!    that moment) and the agent (`input.agent`) the KPI plugin saw.
//! 2. **Samples** (`docs/plugins/core-kpis.md`): which event emits which
//!    sample, with which value, denominator, dimensions and id.
//! 3. **Aggregates** (`host/src/engine/kpi.rs`): samples fold into per
//!    (bucket, dimension set) cells in commit order (`record`; `replace`
//!    stays in the replaced sample's bucket and is ignored when there is
//!    nothing to replace), and a query merges the cells of its window per
//!    group (a sample without the grouped dimension groups under `""`).
//!
//! Exactness: counts and ratios of counts (every value and denominator an
//! integer) do not depend on the order of additions and are compared bit
//! for bit. Seconds and costs (fractional values) are summed per cell in
//! the engine's order, bit for bit; but the host merges the cells of one
//! group in `HashMap` order (random per process), so a group made of more
//! than one cell per bucket cannot be reproduced to the last bit: for it
//! [`Reported`] carries an error bound (twice the worst case of any
//! summation order), and [`Reported::check`]
//! uses it.
//!
//! Entry points: [`recompute`] (or [`recompute_with`]), then
//! [`Model::check_series`] per measure and grouping with the points of
//! `POST /v1/kpis/query` ([`query_body`] builds the request).

#![allow(dead_code)] // each test uses a subset

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

/// One day, ms.
pub const DAY_MS: i64 = 86_400_000;
/// The host's finest KPI bucket and its roll-up levels (`kpi.rs` `LEVELS`).
pub const LEVELS: [i64; 3] = [60_000, 3_600_000, DAY_MS];
/// How many earlier contacts a customer history lists (`history.rs` `RECENT`).
pub const RECENT: usize = 20;
/// The engine's default history window (`EngineSettings::history_days`).
pub const HISTORY_DAYS: u32 = 30;
/// The channels, in the order the channel mix emits them.
pub const CHANNELS: [&str; 5] = ["voice", "email", "chat", "sms", "social"];
/// The dimensions a sample may carry (besides `mix`).
pub const DIMENSIONS: [&str; 5] = ["queue", "channel", "agent", "team", "topic"];

// ---------------------------------------------------------------------------
// Configuration and measures
// ---------------------------------------------------------------------------

/// How samples of a measure combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Sum of values.
    Sum,
    /// Sum of values / number of samples.
    Mean,
    /// Sum of values / sum of denominators.
    Ratio,
}

impl Aggregation {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Mean => "mean",
            Aggregation::Ratio => "ratio",
        }
    }
}

/// The measures of the doc's table, in `measures()` order, without
/// `cost_per_contact` (declared last, only with a `cost_model`).
pub const MEASURES: [(&str, Aggregation); 23] = [
    ("contacts_handled", Aggregation::Sum),
    ("abandonment_rate", Aggregation::Ratio),
    ("service_level", Aggregation::Ratio),
    ("average_speed_of_answer", Aggregation::Mean),
    ("csat", Aggregation::Ratio),
    ("short_abandons", Aggregation::Sum),
    ("contacts_created", Aggregation::Sum),
    ("first_contact_resolution", Aggregation::Ratio),
    ("repeat_contact_rate", Aggregation::Ratio),
    ("nps", Aggregation::Mean),
    ("nps_promoters", Aggregation::Ratio),
    ("nps_detractors", Aggregation::Ratio),
    ("ces", Aggregation::Mean),
    ("average_handle_time", Aggregation::Ratio),
    ("average_after_contact_work", Aggregation::Mean),
    ("occupancy", Aggregation::Ratio),
    ("agent_utilization", Aggregation::Ratio),
    ("channel_mix", Aggregation::Ratio),
    ("contact_type_mix", Aggregation::Ratio),
    ("time_to_assign", Aggregation::Mean),
    ("transfer_rate", Aggregation::Ratio),
    ("skill_match_rate", Aggregation::Ratio),
    ("self_service_containment", Aggregation::Ratio),
];
/// Declared after the others, only with a `cost_model`.
pub const COST_PER_CONTACT: &str = "cost_per_contact";
/// The measures the host records itself (`engine/kpi.rs` `host_measures`).
pub const HOST_MEASURES: [(&str, Aggregation); 1] = [(MISSED_OFFERS, Aggregation::Sum)];
/// Offers that expired unanswered: one sample per `offer_expired` event.
pub const MISSED_OFFERS: &str = "missed_offers";

/// Every measure the server declares with `config`: the plugin's, then
/// the host's.
pub fn all_measures(config: &Config) -> Vec<(String, Aggregation)> {
    let mut m = config.measures();
    m.extend(HOST_MEASURES.iter().map(|(n, a)| ((*n).to_owned(), *a)));
    m
}
/// The measures that carry a `mix` dimension (query them grouped by `mix`).
pub const MIX_MEASURES: [&str; 2] = ["channel_mix", "contact_type_mix"];

/// The cost model of the config.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    pub currency: String,
    pub per_agent_hour: f64,
    pub per_contact: BTreeMap<String, f64>,
}

/// The core-kpis configuration, with the doc's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// T, ms.
    pub threshold_ms: i64,
    /// S, ms.
    pub short_abandon_ms: i64,
    /// F, ms.
    pub fcr_window_ms: i64,
    /// R, ms.
    pub repeat_window_ms: i64,
    /// The configured dimensions (`queue`, `channel`, `agent`, `team`, `topic`).
    pub dimensions: Vec<String>,
    pub contact_types: Vec<String>,
    /// Topic -> (skill, min proficiency).
    pub topic_skills: BTreeMap<String, Vec<(String, u8)>>,
    pub cost_model: Option<CostModel>,
}

fn get_u32(obj: &serde_json::Map<String, Value>, key: &str, default: u32) -> Result<u32, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("config `{key}` must be a non-negative integer, got {v}")),
    }
}

impl Config {
    /// Parse the plugin config (`null` or `{}`: every default).
    pub fn from_json(v: &Value) -> Result<Config, String> {
        let empty = serde_json::Map::new();
        let obj = match v {
            Value::Null => &empty,
            Value::Object(o) => o,
            other => return Err(format!("config must be an object, got {other}")),
        };
        for key in obj.keys() {
            if ![
                "service_level_threshold_secs",
                "short_abandon_secs",
                "fcr_window_days",
                "repeat_window_days",
                "dimensions",
                "contact_types",
                "topic_skills",
                "cost_model",
            ]
            .contains(&key.as_str())
            {
                return Err(format!("unknown config field `{key}`"));
            }
        }
        let threshold = get_u32(obj, "service_level_threshold_secs", 30)?;
        let short = get_u32(obj, "short_abandon_secs", 0)?;
        let fcr = get_u32(obj, "fcr_window_days", 7)?;
        let repeat = get_u32(obj, "repeat_window_days", 7)?;
        let dimensions = match obj.get("dimensions") {
            None | Some(Value::Null) => DIMENSIONS.iter().map(|d| (*d).to_owned()).collect(),
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for d in a {
                    let d = d
                        .as_str()
                        .filter(|d| DIMENSIONS.contains(d) || *d == "incident")
                        .ok_or_else(|| format!("unknown dimension {d}"))?;
                    out.push(d.to_owned());
                }
                out
            }
            Some(other) => return Err(format!("`dimensions` must be a list, got {other}")),
        };
        let contact_types = match obj.get("contact_types") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|t| {
                    t.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("contact type {t} is not a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("`contact_types` must be a list, got {other}")),
        };
        let mut topic_skills = BTreeMap::new();
        if let Some(Value::Object(m)) = obj.get("topic_skills") {
            for (topic, reqs) in m {
                let mut list = Vec::new();
                for r in reqs.as_array().into_iter().flatten() {
                    let skill = r["skill"]
                        .as_str()
                        .ok_or_else(|| format!("topic_skills.{topic}: `skill` missing"))?;
                    let min = r["min_proficiency"]
                        .as_u64()
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or_else(|| format!("topic_skills.{topic}: bad `min_proficiency`"))?;
                    list.push((skill.to_owned(), min));
                }
                topic_skills.insert(topic.clone(), list);
            }
        }
        let cost_model = match obj.get("cost_model") {
            None | Some(Value::Null) => None,
            Some(Value::Object(c)) => {
                let currency = c
                    .get("currency")
                    .and_then(Value::as_str)
                    .ok_or("cost_model.currency is required")?
                    .to_owned();
                let per_agent_hour = match c.get("per_agent_hour") {
                    None | Some(Value::Null) => 0.0,
                    Some(v) => v
                        .as_f64()
                        .ok_or("cost_model.per_agent_hour must be a number")?,
                };
                let mut per_contact = BTreeMap::new();
                if let Some(Value::Object(m)) = c.get("per_contact") {
                    for (ch, v) in m {
                        per_contact.insert(
                            ch.clone(),
                            v.as_f64().ok_or_else(|| {
                                format!("cost_model.per_contact.{ch} must be a number")
                            })?,
                        );
                    }
                }
                Some(CostModel {
                    currency,
                    per_agent_hour,
                    per_contact,
                })
            }
            Some(other) => return Err(format!("`cost_model` must be an object, got {other}")),
        };
        Ok(Config {
            threshold_ms: i64::from(threshold) * 1000,
            short_abandon_ms: i64::from(short) * 1000,
            fcr_window_ms: i64::from(fcr) * DAY_MS,
            repeat_window_ms: i64::from(repeat) * DAY_MS,
            dimensions,
            contact_types,
            topic_skills,
            cost_model,
        })
    }

    /// The declared measures, in `measures()` order.
    pub fn measures(&self) -> Vec<(String, Aggregation)> {
        let mut m: Vec<(String, Aggregation)> = MEASURES
            .iter()
            .map(|(n, a)| ((*n).to_owned(), *a))
            .collect();
        if self.cost_model.is_some() {
            m.push((COST_PER_CONTACT.to_owned(), Aggregation::Ratio));
        }
        m
    }

    fn wants(&self, d: &str) -> bool {
        self.dimensions.iter().any(|x| x == d)
    }
}

/// The measures the plugin declares with `config`, with their aggregation
/// (`sum`, `mean`, `ratio`), in `measures()` order.
pub fn declared_measures(config: &Value) -> Result<Vec<(String, String)>, String> {
    Ok(Config::from_json(config)?
        .measures()
        .into_iter()
        .map(|(n, a)| (n, a.as_str().to_owned()))
        .collect())
}

// ---------------------------------------------------------------------------
// What the plugin sees (the WIT input, as far as the measures read it)
// ---------------------------------------------------------------------------

/// The contact of a KPI input (`types.wit` `contact`, the fields read).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactView {
    pub id: String,
    pub channel: String,
    pub topics: Vec<String>,
    /// `none` when empty (`convert::contact`).
    pub queue: Option<String>,
    pub agent_id: Option<String>,
    pub transfers: u32,
    pub created_at: i64,
    pub queued_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub wrap_up_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub abandoned_at: Option<i64>,
}

/// A `past-contact` of the customer history.
#[derive(Debug, Clone, PartialEq)]
pub struct PastContact {
    pub id: String,
    pub channel: String,
    pub topics: Vec<String>,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub agent_id: Option<String>,
}

/// An `agent-info`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentInfo {
    pub id: String,
    pub teams: Vec<String>,
    pub skills: Vec<(String, u8)>,
}

/// The event kinds the measures read; everything else emits nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum KpiEvent {
    Created,
    /// Answered by this agent id (`""` when the contact has none).
    Answered(String),
    Abandoned,
    Transferred {
        from_queue: Option<String>,
        to_queue: String,
        from_agent: Option<String>,
    },
    Resolved,
    Survey {
        csat: Option<u8>,
        nps: Option<u8>,
        ces: Option<u8>,
    },
    /// `agent-status-changed`; statuses snake_case (`wrap_up`).
    AgentStatus {
        agent: AgentInfo,
        from: String,
        to: String,
        duration_ms: u64,
        load: u32,
    },
    /// Offered, queued, held, resumed, wrap-up, message, timers: no sample.
    Other,
}

/// A KPI input (`kpi.wit` `kpi-input`).
#[derive(Debug, Clone, PartialEq)]
pub struct KpiInput {
    pub at: i64,
    pub event: KpiEvent,
    pub contact: Option<ContactView>,
    /// `history.recent` (newest first, at most 20), `None` without history.
    pub history: Option<Vec<PastContact>>,
    pub agent: Option<AgentInfo>,
}

/// Whether an emission records a new sample or replaces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Record,
    Replace,
}

/// A sample the plugin emits (dimensions in emission order).
#[derive(Debug, Clone, PartialEq)]
pub struct Emission {
    pub op: Op,
    pub measure: &'static str,
    pub id: Option<String>,
    pub dims: Vec<(String, String)>,
    pub value: f64,
    pub denominator: f64,
}

// ---------------------------------------------------------------------------
// The measures (docs/plugins/core-kpis.md, "Formulas")
// ---------------------------------------------------------------------------

/// `max(0, ms)` as seconds.
fn secs(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

fn shares_topic(a: &[String], b: &[String]) -> bool {
    a.iter().any(|t| b.contains(t))
}

fn bit(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

struct Out(Vec<Emission>);

impl Out {
    fn record(&mut self, measure: &'static str, value: f64, den: f64, dims: &[(String, String)]) {
        self.0.push(Emission {
            op: Op::Record,
            measure,
            id: None,
            dims: dims.to_vec(),
            value,
            denominator: den,
        });
    }
}

/// Dimensions in the doc's order, only configured and non-empty ones.
fn dims_of(
    cfg: &Config,
    queue: Option<&str>,
    channel: Option<&str>,
    agent: Option<&str>,
    team: Option<&str>,
    topic: Option<&str>,
) -> Vec<(String, String)> {
    let mut d = Vec::new();
    for (key, v) in [
        ("queue", queue),
        ("channel", channel),
        ("agent", agent),
        ("team", team),
        ("topic", topic),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty())
            && cfg.wants(key)
        {
            d.push((key.to_owned(), v.to_owned()));
        }
    }
    d
}

/// The dimensions of a contact event (doc "Dimensions"): queue given or
/// the contact's; agent given, else `input.agent.id`, else the contact's;
/// team = first team of `input.agent` when it is that agent.
fn contact_dims(
    cfg: &Config,
    c: &ContactView,
    queue: Option<&str>,
    agent: Option<&str>,
    info: Option<&AgentInfo>,
) -> Vec<(String, String)> {
    let agent = agent
        .or(info.map(|a| a.id.as_str()))
        .or(c.agent_id.as_deref());
    let team = info
        .filter(|a| Some(a.id.as_str()) == agent)
        .and_then(|a| a.teams.first())
        .map(String::as_str);
    dims_of(
        cfg,
        queue.or(c.queue.as_deref()),
        Some(&c.channel),
        agent,
        team,
        c.topics.first().map(String::as_str),
    )
}

fn fcr_dims(
    cfg: &Config,
    channel: &str,
    agent: Option<&str>,
    topics: &[String],
) -> Vec<(String, String)> {
    dims_of(
        cfg,
        None,
        Some(channel),
        agent,
        None,
        topics.first().map(String::as_str),
    )
}

/// The samples of one KPI input, per the doc's formulas.
pub fn emissions(cfg: &Config, input: &KpiInput) -> Vec<Emission> {
    let mut out = Out(Vec::new());
    if let KpiEvent::AgentStatus {
        agent,
        from,
        duration_ms,
        load,
        ..
    } = &input.event
    {
        agent_status(cfg, agent, from, *duration_ms, *load, &mut out);
        return out.0;
    }
    let Some(c) = &input.contact else {
        return out.0;
    };
    let info = input.agent.as_ref();
    match &input.event {
        KpiEvent::Created => created(cfg, c, input.history.as_deref(), &mut out),
        KpiEvent::Answered(agent) => answered(cfg, input.at, c, agent, info, &mut out),
        KpiEvent::Abandoned => {
            // Queued, never answered.
            if let Some(queued_at) = c.queued_at
                && c.answered_at.is_none()
            {
                let dims = contact_dims(cfg, c, None, None, info);
                let w = (c.abandoned_at.unwrap_or(input.at) - queued_at).max(0);
                if cfg.short_abandon_ms > 0 && w <= cfg.short_abandon_ms {
                    out.record("short_abandons", 1.0, 0.0, &dims);
                } else {
                    out.record("abandonment_rate", 1.0, 1.0, &dims);
                    out.record("service_level", 0.0, 1.0, &dims);
                }
            }
        }
        KpiEvent::Transferred {
            from_queue,
            from_agent,
            ..
        } => {
            let dims = contact_dims(cfg, c, from_queue.as_deref(), from_agent.as_deref(), info);
            if let Some(answered_at) = c.answered_at {
                out.record("transfer_rate", 1.0, 0.0, &dims);
                out.record(
                    "average_handle_time",
                    secs(input.at - answered_at),
                    0.0,
                    &dims,
                );
                if let Some(w) = c.wrap_up_at.filter(|w| *w >= answered_at) {
                    out.record("average_after_contact_work", secs(input.at - w), 0.0, &dims);
                }
            }
        }
        KpiEvent::Resolved => resolved(cfg, input.at, c, input.history.as_deref(), info, &mut out),
        KpiEvent::Survey { csat, nps, ces } => {
            let dims = contact_dims(cfg, c, None, None, info);
            if let Some(csat) = csat {
                out.record("csat", bit(*csat >= 4), 1.0, &dims);
            }
            if let Some(nps) = nps {
                let (score, promoter, detractor) = match nps {
                    9..=10 => (100.0, 1.0, 0.0),
                    7..=8 => (0.0, 0.0, 0.0),
                    _ => (-100.0, 0.0, 1.0),
                };
                out.record("nps", score, 0.0, &dims);
                out.record("nps_promoters", promoter, 1.0, &dims);
                out.record("nps_detractors", detractor, 1.0, &dims);
            }
            if let Some(ces) = ces {
                out.record("ces", f64::from(*ces), 0.0, &dims);
            }
        }
        KpiEvent::AgentStatus { .. } | KpiEvent::Other => {}
    }
    out.0
}

fn created(cfg: &Config, c: &ContactView, history: Option<&[PastContact]>, out: &mut Out) {
    let topic = c.topics.first().map(String::as_str);
    let queue = c.queue.as_deref();
    let dims = dims_of(cfg, queue, Some(&c.channel), None, None, topic);
    out.record("contacts_created", 1.0, 0.0, &dims);
    for ch in CHANNELS {
        let mut d = vec![("mix".to_owned(), ch.to_owned())];
        d.extend(dims_of(cfg, queue, None, None, None, topic));
        out.record("channel_mix", bit(ch == c.channel), 1.0, &d);
    }
    let kind = c
        .topics
        .iter()
        .find(|t| cfg.contact_types.contains(t))
        .map_or("other", String::as_str);
    for t in cfg
        .contact_types
        .iter()
        .map(String::as_str)
        .chain(std::iter::once("other"))
    {
        let mut d = vec![("mix".to_owned(), t.to_owned())];
        d.extend(dims_of(cfg, queue, Some(&c.channel), None, None, None));
        out.record("contact_type_mix", bit(t == kind), 1.0, &d);
    }
    let Some(history) = history else { return };
    if c.topics.is_empty() {
        return;
    }
    let same = |p: &&PastContact| p.id != c.id && shares_topic(&p.topics, &c.topics);
    let repeat = history.iter().filter(same).any(|p| {
        let age = c.created_at - p.created_at;
        (0..=cfg.repeat_window_ms).contains(&age)
    });
    out.record("repeat_contact_rate", bit(repeat), 1.0, &dims);
    for p in history.iter().filter(same) {
        if let Some(resolved_at) = p.resolved_at
            && p.created_at < c.created_at
            && c.created_at <= resolved_at + cfg.fcr_window_ms
        {
            out.0.push(Emission {
                op: Op::Replace,
                measure: "first_contact_resolution",
                id: Some(format!("fcr:{}", p.id)),
                dims: fcr_dims(cfg, &p.channel, p.agent_id.as_deref(), &p.topics),
                value: 0.0,
                denominator: 1.0,
            });
        }
    }
}

fn answered(
    cfg: &Config,
    at: i64,
    c: &ContactView,
    agent: &str,
    info: Option<&AgentInfo>,
    out: &mut Out,
) {
    let dims = contact_dims(cfg, c, None, Some(agent), info);
    let answered_at = c.answered_at.unwrap_or(at);
    let first = c.transfers == 0;
    if first {
        out.record("contacts_handled", 1.0, 0.0, &dims);
        if let Some(cost) = &cfg.cost_model {
            let v = cost.per_contact.get(&c.channel).copied().unwrap_or(0.0);
            out.record(COST_PER_CONTACT, v, 1.0, &dims);
        }
    }
    if let Some(queued_at) = c.queued_at {
        let w = (answered_at - queued_at).max(0);
        if first {
            out.record("abandonment_rate", 0.0, 1.0, &dims);
            out.record("service_level", bit(w <= cfg.threshold_ms), 1.0, &dims);
            out.record("average_speed_of_answer", secs(w), 0.0, &dims);
        }
        out.record("time_to_assign", secs(w), 0.0, &dims);
    }
    out.record("transfer_rate", 0.0, 1.0, &dims);
    // Required skills of the contact's topics, the highest level per skill.
    let mut required: Vec<(String, u8)> = Vec::new();
    for (skill, min) in c
        .topics
        .iter()
        .filter_map(|t| cfg.topic_skills.get(t))
        .flatten()
    {
        match required.iter_mut().find(|(s, _)| s == skill) {
            Some((_, level)) => *level = (*level).max(*min),
            None => required.push((skill.clone(), *min)),
        }
    }
    if !required.is_empty()
        && let Some(info) = info.filter(|a| a.id == agent)
    {
        let ok = required
            .iter()
            .all(|(skill, min)| info.skills.iter().any(|(s, l)| s == skill && l >= min));
        out.record("skill_match_rate", bit(ok), 1.0, &dims);
    }
}

fn resolved(
    cfg: &Config,
    at: i64,
    c: &ContactView,
    history: Option<&[PastContact]>,
    info: Option<&AgentInfo>,
    out: &mut Out,
) {
    let resolved_at = c.resolved_at.unwrap_or(at);
    let dims = contact_dims(cfg, c, None, None, info);
    if let Some(answered_at) = c.answered_at {
        out.record(
            "average_handle_time",
            secs(resolved_at - answered_at),
            1.0,
            &dims,
        );
        if let Some(w) = c.wrap_up_at.filter(|w| *w >= answered_at) {
            out.record(
                "average_after_contact_work",
                secs(resolved_at - w),
                0.0,
                &dims,
            );
        }
    }
    if c.topics.is_empty() {
        return;
    }
    let came_back = history.is_some_and(|h| {
        h.iter().any(|p| {
            p.id != c.id
                && shares_topic(&p.topics, &c.topics)
                && p.created_at > c.created_at
                && p.created_at <= resolved_at + cfg.fcr_window_ms
        })
    });
    out.0.push(Emission {
        op: Op::Record,
        measure: "first_contact_resolution",
        id: Some(format!("fcr:{}", c.id)),
        dims: fcr_dims(cfg, &c.channel, c.agent_id.as_deref(), &c.topics),
        value: bit(!came_back),
        denominator: 1.0,
    });
}

fn agent_status(
    cfg: &Config,
    agent: &AgentInfo,
    from: &str,
    duration_ms: u64,
    load: u32,
    out: &mut Out,
) {
    if duration_ms == 0 {
        return;
    }
    let dims = dims_of(
        cfg,
        None,
        None,
        Some(&agent.id),
        agent.teams.first().map(String::as_str),
        None,
    );
    let d = duration_ms as f64 / 1000.0;
    let handling = matches!(from, "busy" | "wrap_up") || (from == "available" && load > 0);
    let idle = from == "available" && load == 0;
    let h = if handling { d } else { 0.0 };
    if handling || idle {
        out.record("occupancy", h, d, &dims);
    }
    if from != "offline" {
        out.record("agent_utilization", h, d, &dims);
        if let Some(cost) = cfg.cost_model.as_ref().filter(|c| c.per_agent_hour > 0.0) {
            let v = duration_ms as f64 / 3_600_000.0 * cost.per_agent_hour;
            out.record(COST_PER_CONTACT, v, 0.0, &dims);
        }
    }
}

// ---------------------------------------------------------------------------
// Aggregates (host/src/engine/kpi.rs)
// ---------------------------------------------------------------------------

/// Sorted dimensions: the host's cell key.
pub type Dims = Vec<(String, String)>;

/// A running aggregate: the host's `Agg` without min/max.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub count: f64,
    pub sum: f64,
    pub denominator: f64,
    /// Every value added is an integer (order-independent sums).
    pub sum_integral: bool,
    /// Every denominator added is an integer.
    pub den_integral: bool,
}

impl Default for Cell {
    /// Empty: nothing added, so every value so far is an integer.
    fn default() -> Cell {
        Cell {
            count: 0.0,
            sum: 0.0,
            denominator: 0.0,
            sum_integral: true,
            den_integral: true,
        }
    }
}

impl Cell {
    fn add(&mut self, value: f64, den: f64, sign: f64) {
        self.count += sign;
        self.sum += sign * value;
        self.denominator += sign * den;
        self.sum_integral &= value.fract() == 0.0;
        self.den_integral &= den.fract() == 0.0;
    }
}

/// A stored sample (for replacements).
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    at: i64,
    dims: Dims,
    value: f64,
    denominator: f64,
}

/// Where a sample came from, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleLog {
    pub measure: &'static str,
    pub op: Op,
    /// Ignored: a replace with nothing to replace.
    pub ignored: bool,
    /// The bucket time (the replaced sample's for a replace).
    pub at: i64,
    pub dims: Dims,
    pub value: f64,
    pub denominator: f64,
    /// `c-…#seq type` or `agent <id>` (or `c-… created`).
    pub origin: String,
}

#[derive(Debug, Default)]
struct Aggregates {
    width: i64,
    cells: HashMap<&'static str, BTreeMap<(i64, Dims), Cell>>,
    ided: HashMap<(&'static str, String), Stored>,
    log: Vec<SampleLog>,
}

impl Aggregates {
    fn fold(&mut self, measure: &'static str, s: &Stored, sign: f64) {
        let bucket = s.at.div_euclid(self.width) * self.width;
        self.cells
            .entry(measure)
            .or_default()
            .entry((bucket, s.dims.clone()))
            .or_default()
            .add(s.value, s.denominator, sign);
    }

    /// `kpi::plan` + `Aggregates::apply` for one emission at `at`.
    fn apply(&mut self, e: Emission, at: i64, origin: &str) {
        let mut dims = e.dims;
        dims.sort();
        let mut new = Stored {
            at,
            dims,
            value: e.value,
            denominator: e.denominator,
        };
        let key = e.id.clone().map(|id| (e.measure, id));
        let old = key.as_ref().and_then(|k| self.ided.get(k).cloned());
        let ignored = e.op == Op::Replace && old.is_none();
        if let Some(o) = &old {
            new.at = o.at;
        }
        self.log.push(SampleLog {
            measure: e.measure,
            op: e.op,
            ignored,
            at: new.at,
            dims: new.dims.clone(),
            value: new.value,
            denominator: new.denominator,
            origin: origin.to_owned(),
        });
        if ignored {
            return;
        }
        if let Some(o) = &old {
            self.fold(e.measure, o, -1.0);
        }
        self.fold(e.measure, &new, 1.0);
        if let Some(k) = key {
            self.ided.insert(k, new);
        }
    }
}

/// A KPI query window: one bucket from `from` to `to` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    /// The UTC day holding `t` (the host's daily roll-up: every cell of
    /// the day is one bucket, summed in event order).
    pub fn utc_day_of(t: i64) -> Window {
        let from = t.div_euclid(DAY_MS) * DAY_MS;
        Window {
            from,
            to: from + DAY_MS,
        }
    }

    /// The query's bucket size: the whole window.
    pub fn bucket_ms(&self) -> i64 {
        self.to - self.from
    }

    /// The roll-up level the host reads for this window (`Aggregates::query`).
    pub fn level(&self) -> i64 {
        LEVELS
            .iter()
            .rev()
            .copied()
            .find(|w| self.from % w == 0 && self.to % w == 0 && self.bucket_ms() % w == 0)
            .unwrap_or(LEVELS[0])
    }
}

/// The body of `POST /v1/kpis/query` for `measure` over `window` in one
/// bucket, grouped by `dimension` (`""`: not grouped).
pub fn query_body(measure: &str, dimension: &str, window: Window) -> Value {
    let group_by: Vec<&str> = if dimension.is_empty() {
        vec![]
    } else {
        vec![dimension]
    };
    json!({
        "measure": measure,
        "from": window.from,
        "to": window.to,
        "bucket_ms": window.bucket_ms(),
        "group_by": group_by,
    })
}

/// `serde_json`'s f64 text and back: what a value becomes on its way
/// through the API (the parser without `float_roundtrip` is not always
/// correctly rounded, so compare a model value after the same trip).
pub fn json_roundtrip(v: f64) -> f64 {
    serde_json::to_string(&v)
        .ok()
        .and_then(|s| serde_json::from_str::<f64>(&s).ok())
        .unwrap_or(v)
}

/// What the API should report for one measure and group.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub aggregation: Aggregation,
    /// `Aggregates::query`'s value: sum, sum/count, sum/denominator.
    pub value: Option<f64>,
    pub sum: f64,
    pub denominator: f64,
    pub count: f64,
    /// The API's `samples` (count rounded).
    pub samples: u64,
    /// (bucket, dimension set) cells merged into this group.
    pub cells: usize,
    /// The host's value does not depend on its merge order: compare bit
    /// for bit (after [`json_roundtrip`]).
    pub exact: bool,
    /// Bound on |host sum − `sum`| from the merge order (0 when exact).
    pub sum_tolerance: f64,
    /// Bound on |host denominator − `denominator`|.
    pub denominator_tolerance: f64,
}

impl Reported {
    /// Bound on |host value − `value`|.
    pub fn tolerance(&self) -> f64 {
        let Some(v) = self.value else { return 0.0 };
        if self.exact {
            return 0.0;
        }
        let rounding = 4.0 * f64::EPSILON * v.abs();
        match self.aggregation {
            Aggregation::Sum => self.sum_tolerance,
            Aggregation::Mean => self.sum_tolerance / self.count.abs() + rounding,
            Aggregation::Ratio => {
                let den =
                    (self.denominator.abs() - self.denominator_tolerance).max(f64::MIN_POSITIVE);
                (self.sum_tolerance + v.abs() * self.denominator_tolerance) / den + rounding
            }
        }
    }

    /// Compare with the API's point (`value`, `samples`).
    pub fn check(&self, api_value: Option<f64>, api_samples: u64) -> Result<(), String> {
        if api_samples != self.samples {
            return Err(format!(
                "samples: API {api_samples}, model {} ({self:?})",
                self.samples
            ));
        }
        match (self.value, api_value) {
            (None, None) => Ok(()),
            (Some(m), Some(a)) if self.exact => {
                if json_roundtrip(m).to_bits() == a.to_bits() {
                    Ok(())
                } else {
                    Err(format!(
                        "value: API {a:?}, model {m:?} (must match to the last bit; {self:?})"
                    ))
                }
            }
            (Some(m), Some(a)) => {
                // One more unit in the last place for the JSON parse.
                let tol = self.tolerance() + f64::EPSILON * m.abs();
                if (m - a).abs() <= tol {
                    Ok(())
                } else {
                    Err(format!(
                        "value: API {a:?}, model {m:?}, |diff| {:e} > tolerance {tol:e} ({self:?})",
                        (m - a).abs()
                    ))
                }
            }
            (m, a) => Err(format!("value: API {a:?}, model {m:?} ({self:?})")),
        }
    }
}

/// `(measure, dimension or "" for overall, dimension value or "")`.
pub type Key = (String, String, String);

/// The recomputed KPIs.
#[derive(Debug)]
pub struct Model {
    pub config: Config,
    pub window: Window,
    /// The declared measures, in order.
    pub measures: Vec<(String, Aggregation)>,
    /// Per measure, grouping and group: what the API should report. A
    /// group the model does not list has no point in the API's answer.
    pub reported: BTreeMap<Key, Reported>,
    /// Every emission in commit order, for explaining a mismatch.
    pub samples: Vec<SampleLog>,
    /// Where the replay disagrees with the final contact records (should
    /// be empty: anything here means the model saw a different day).
    pub warnings: Vec<String>,
}

impl Model {
    /// The groupings every measure is reported for: `""` (overall), the
    /// five dimensions and `mix`. The API answers all of them for any
    /// measure: samples without the grouped dimension form the group `""`
    /// (so a measure without `mix` grouped by `mix` is one `""` group).
    pub fn groupings(_measure: &str) -> Vec<&'static str> {
        let mut g = vec![""];
        g.extend(DIMENSIONS);
        g.push("mix");
        g
    }

    /// The model's groups of `measure` grouped by `dimension`.
    pub fn groups(&self, measure: &str, dimension: &str) -> BTreeMap<String, &Reported> {
        self.reported
            .iter()
            .filter(|((m, d, _), _)| m == measure && d == dimension)
            .map(|((_, _, v), r)| (v.clone(), r))
            .collect()
    }

    /// Overall value of `measure`.
    pub fn overall(&self, measure: &str) -> Option<&Reported> {
        self.reported
            .get(&(measure.to_owned(), String::new(), String::new()))
    }

    /// Compare the API's answer to [`query_body`]`(measure, dimension,
    /// window)` (the whole response or its `points`) with the model; one
    /// message per disagreement.
    pub fn check_series(
        &self,
        measure: &str,
        dimension: &str,
        api: &Value,
    ) -> Result<(), Vec<String>> {
        let points = api.get("points").unwrap_or(api);
        let mut errors = Vec::new();
        let mut seen: BTreeMap<String, (Option<f64>, u64)> = BTreeMap::new();
        for p in points.as_array().into_iter().flatten() {
            let group = if dimension.is_empty() {
                String::new()
            } else {
                p["group"][dimension]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            if p["start"].as_i64() != Some(self.window.from) {
                errors.push(format!(
                    "{measure} by {dimension:?}: point outside the one bucket: {p}"
                ));
            }
            let value = p["value"].as_f64();
            let samples = p["samples"].as_u64().unwrap_or(0);
            if seen.insert(group.clone(), (value, samples)).is_some() {
                errors.push(format!("{measure} by {dimension:?}: group {group:?} twice"));
            }
        }
        let model = self.groups(measure, dimension);
        for (g, r) in &model {
            match seen.get(g) {
                None => errors.push(format!(
                    "{measure} by {dimension:?} = {g:?}: missing from the API, model {r:?}"
                )),
                Some((v, n)) => {
                    if let Err(e) = r.check(*v, *n) {
                        errors.push(format!("{measure} by {dimension:?} = {g:?}: {e}"));
                    }
                }
            }
        }
        for (g, p) in &seen {
            if !model.contains_key(g) {
                errors.push(format!(
                    "{measure} by {dimension:?} = {g:?}: API reports {p:?}, the model has no such group"
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The samples of `measure` that fall into `dimension = value`
    /// (`dimension` `""`: all), to explain a mismatch.
    pub fn samples_of<'a>(
        &'a self,
        measure: &'a str,
        dimension: &'a str,
        value: &'a str,
    ) -> impl Iterator<Item = &'a SampleLog> + 'a {
        self.samples.iter().filter(move |s| {
            s.measure == measure
                && (dimension.is_empty()
                    || s.dims
                        .iter()
                        .find(|(k, _)| k == dimension)
                        .map_or("", |(_, v)| v.as_str())
                        == value)
        })
    }
}

fn report(config: &Config, window: Window, agg: &Aggregates) -> BTreeMap<Key, Reported> {
    let mut out = BTreeMap::new();
    let width = window.level();
    let start = window.from.div_euclid(width) * width;
    for (measure, how) in all_measures(config) {
        let Some(cells) = agg.cells.get(measure.as_str()) else {
            continue;
        };
        for dim in Model::groupings(&measure) {
            #[derive(Default)]
            struct G {
                agg: Cell,
                cells: usize,
                last_bucket: Option<i64>,
                shared_bucket: bool,
                sum_integral: bool,
                den_integral: bool,
                sum_abs: f64,
                den_abs: f64,
            }
            let mut groups: BTreeMap<String, G> = BTreeMap::new();
            // Buckets ascending (as the host), cells of a bucket in dims
            // order (the host: HashMap order).
            for ((bucket, dims), cell) in cells.range((start, Vec::new())..) {
                if *bucket >= window.to {
                    break;
                }
                let g = if dim.is_empty() {
                    String::new()
                } else {
                    dims.iter()
                        .find(|(k, _)| k == dim)
                        .map_or(String::new(), |(_, v)| v.clone())
                };
                let g = groups.entry(g).or_insert_with(|| G {
                    sum_integral: true,
                    den_integral: true,
                    ..G::default()
                });
                g.agg.count += cell.count;
                g.agg.sum += cell.sum;
                g.agg.denominator += cell.denominator;
                g.cells += 1;
                g.shared_bucket |= g.last_bucket == Some(*bucket);
                g.last_bucket = Some(*bucket);
                g.sum_integral &= cell.sum_integral;
                g.den_integral &= cell.den_integral;
                g.sum_abs += cell.sum.abs();
                g.den_abs += cell.denominator.abs();
            }
            for (value, g) in groups {
                let a = g.agg;
                let v = match how {
                    Aggregation::Sum => Some(a.sum),
                    Aggregation::Mean => (a.count > 0.0).then(|| a.sum / a.count),
                    Aggregation::Ratio => (a.denominator != 0.0).then(|| a.sum / a.denominator),
                };
                let n = g.cells as f64;
                let sum_exact = g.sum_integral || !g.shared_bucket;
                let den_exact = g.den_integral || !g.shared_bucket;
                let exact = match how {
                    Aggregation::Sum | Aggregation::Mean => sum_exact,
                    Aggregation::Ratio => sum_exact && den_exact,
                };
                out.insert(
                    (measure.clone(), dim.to_owned(), value),
                    Reported {
                        aggregation: how,
                        value: v,
                        sum: a.sum,
                        denominator: a.denominator,
                        count: a.count,
                        samples: a.count.round() as u64,
                        cells: g.cells,
                        exact,
                        sum_tolerance: if sum_exact {
                            0.0
                        } else {
                            2.0 * n * f64::EPSILON * g.sum_abs
                        },
                        denominator_tolerance: if den_exact {
                            0.0
                        } else {
                            2.0 * n * f64::EPSILON * g.den_abs
                        },
                    },
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Replay (host/src/engine: ingest, events::apply, convert, history, reactions)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Queued,
    Offered,
    Assigned,
    WrapUp,
    Resolved,
    Abandoned,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Offered => "offered",
            State::Assigned => "assigned",
            State::WrapUp => "wrap_up",
            State::Resolved => "resolved",
            State::Abandoned => "abandoned",
        }
    }
}

/// A contact as the engine keeps it while the day is replayed.
#[derive(Debug, Clone)]
struct Live {
    id: String,
    channel: String,
    customer: String,
    topics: Vec<String>,
    created_at: i64,
    state: State,
    queue: String,
    queued_at: Option<i64>,
    agent_id: Option<String>,
    offered_at: Option<i64>,
    answered_at: Option<i64>,
    wrap_up_at: Option<i64>,
    resolved_at: Option<i64>,
    abandoned_at: Option<i64>,
    transfers: u32,
}

impl Live {
    fn view(&self) -> ContactView {
        ContactView {
            id: self.id.clone(),
            channel: self.channel.clone(),
            topics: self.topics.clone(),
            queue: (!self.queue.is_empty()).then(|| self.queue.clone()),
            agent_id: self.agent_id.clone(),
            transfers: self.transfers,
            created_at: self.created_at,
            queued_at: self.queued_at,
            answered_at: self.answered_at,
            wrap_up_at: self.wrap_up_at,
            resolved_at: self.resolved_at,
            abandoned_at: self.abandoned_at,
        }
    }
}

/// A recorded event (`RecordedEvent`), parsed.
#[derive(Debug, Clone)]
struct Event {
    sequence: u64,
    at: i64,
    kind: String,
    agent_id: Option<String>,
    queue: Option<String>,
    /// An overflow's new queue.
    to: Option<String>,
    csat: Option<u8>,
    nps: Option<u8>,
    ces: Option<u8>,
}

fn parse_event(v: &Value) -> Result<Event, String> {
    let kind = v.get("kind").unwrap_or(v);
    let ty = kind["type"]
        .as_str()
        .ok_or_else(|| format!("event without a `kind.type`: {v}"))?;
    let score = |k: &str| kind[k].as_u64().and_then(|n| u8::try_from(n).ok());
    Ok(Event {
        sequence: v["sequence"].as_u64().unwrap_or(0),
        at: v["at"]
            .as_i64()
            .ok_or_else(|| format!("event without `at`: {v}"))?,
        kind: ty.to_owned(),
        agent_id: kind["agent_id"].as_str().map(str::to_owned),
        queue: kind["queue"].as_str().map(str::to_owned),
        to: kind["to"].as_str().map(str::to_owned),
        csat: score("csat"),
        nps: score("nps"),
        ces: score("ces"),
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn parse_agent(v: &Value) -> Result<AgentInfo, String> {
    let id = v["id"]
        .as_str()
        .ok_or_else(|| format!("agent without `id`: {v}"))?
        .to_owned();
    let skills = match &v["skills"] {
        // `Agent.skills`: skill -> proficiency (a BTreeMap: name order).
        Value::Object(m) => m
            .iter()
            .filter_map(|(s, l)| Some((s.clone(), u8::try_from(l.as_u64()?).ok()?)))
            .collect(),
        // `agent-info.skills`: [{skill, proficiency}].
        Value::Array(a) => a
            .iter()
            .filter_map(|s| {
                Some((
                    s["skill"].as_str()?.to_owned(),
                    u8::try_from(s["proficiency"].as_u64()?).ok()?,
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(AgentInfo {
        id,
        teams: strings(&v["teams"]),
        skills,
    })
}

/// An agent status the client asked for and the server accepted (a line
/// of the client's own log).
#[derive(Debug, Clone)]
struct StatusRequest {
    agent: String,
    at: i64,
    status: String,
}

/// The accepted agent status requests of the client's log (`switchboard
/// simulate --log`: `{at, method, path, body, status}` per request): `PUT
/// /v1/agents/{id}` and `POST /v1/agents/{id}/status`, at the body's
/// `occurred_at` (else the line's `at`, the server's clock then).
fn parse_requests(log: &[Value]) -> Result<Vec<StatusRequest>, String> {
    let mut out = Vec::new();
    for line in log {
        if line["status"].as_u64().is_none_or(|s| s >= 400) {
            continue;
        }
        let path = line["path"].as_str().unwrap_or_default();
        let Some(rest) = path.strip_prefix("/v1/agents/") else {
            continue;
        };
        let agent = match (line["method"].as_str(), rest.strip_suffix("/status")) {
            (Some("POST"), Some(id)) => id,
            (Some("PUT"), None) if !rest.contains('/') => rest,
            _ => continue,
        };
        let body = &line["body"];
        let status = body["status"]
            .as_str()
            .ok_or_else(|| format!("agent request without a `status`: {line}"))?;
        let at = body["occurred_at"]
            .as_i64()
            .or(line["at"].as_i64())
            .ok_or_else(|| format!("log line without `at`: {line}"))?;
        out.push(StatusRequest {
            agent: agent.to_owned(),
            at,
            status: status.to_owned(),
        });
    }
    Ok(out)
}

/// An agent's time as the model keeps it: the status the client set and
/// since when, the start of the current period (one status, one load),
/// and the contacts they handle.
#[derive(Debug, Clone)]
struct AgentTime {
    status: String,
    status_since: i64,
    period_since: i64,
}

/// The period of `a` that ends at `at` (`to`: the status after it).
fn period_end(a: &AgentTime, info: AgentInfo, to: &str, at: i64, load: u32) -> KpiEvent {
    let since = a.period_since.max(a.status_since);
    KpiEvent::AgentStatus {
        agent: info,
        from: a.status.clone(),
        to: to.to_owned(),
        duration_ms: if since == 0 {
            0
        } else {
            u64::try_from(at - since).unwrap_or(0)
        },
        load,
    }
}

/// Contact id -> queue at creation, from the routing decisions
/// (`GET /v1/audit?kind=routing.decision` records: `entry.subject` is the
/// contact, `entry.data.queue` the queue routing chose).
pub fn creation_queues(routing_decisions: &[Value]) -> BTreeMap<String, String> {
    routing_decisions
        .iter()
        .filter_map(|r| {
            let e = r.get("entry").unwrap_or(r);
            Some((
                e["subject"].as_str()?.to_owned(),
                e["data"]["queue"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// Everything the model reads, as the HTTP API returns it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// `GET /v1/contacts`: final records, or the records `POST
    /// /v1/contacts` returned (`contact`, as created). A final record of a
    /// transferred contact no longer holds its queue at creation: give it
    /// in `creation_queues`.
    pub contacts: &'a [Value],
    /// Contact id -> `GET /v1/contacts/{id}/events`, in sequence order.
    pub events: &'a BTreeMap<String, Vec<Value>>,
    /// The client's own log, one object per request (`switchboard simulate
    /// --log`): `{at, method, path, body, status}`. The agents' statuses
    /// come from here, their loads from `events`.
    pub client_log: &'a [Value],
    /// `GET /v1/agents` `agents`.
    pub agents: &'a [Value],
    /// The core-kpis config the server ran.
    pub config: &'a Value,
    /// The query window: one bucket.
    pub window: Window,
    /// Contact id -> queue at creation (the routing decision), for
    /// contacts whose record is final and was transferred: see
    /// [`creation_queues`].
    pub creation_queues: Option<&'a BTreeMap<String, String>>,
    /// The engine's `history_days` (30 unless configured).
    pub history_days: u32,
}

/// Recompute every declared measure over `window` (one bucket), overall
/// and grouped by each dimension, from the raw day.
pub fn recompute(
    contacts: &[Value],
    events: &BTreeMap<String, Vec<Value>>,
    client_log: &[Value],
    agents: &[Value],
    config: &Value,
    window: Window,
) -> Result<Model, String> {
    recompute_with(&Input {
        contacts,
        events,
        client_log,
        agents,
        config,
        window,
        creation_queues: None,
        history_days: HISTORY_DAYS,
    })
}

/// An item of the merged timeline.
#[derive(Debug, Clone, Copy)]
enum Item {
    Created(usize),
    Event(usize, usize),
    Agent(usize),
}

/// [`recompute`] with every input.
pub fn recompute_with(input: &Input<'_>) -> Result<Model, String> {
    let config = Config::from_json(input.config)?;
    let window = input.window;
    if window.to <= window.from || window.bucket_ms() % LEVELS[0] != 0 {
        return Err(format!(
            "window {window:?}: `to` must be after `from` by whole minutes (the host refuses it otherwise)"
        ));
    }
    let mut warnings = Vec::new();

    let mut agents: HashMap<String, AgentInfo> = HashMap::new();
    for a in input.agents {
        let a = parse_agent(a)?;
        agents.insert(a.id.clone(), a);
    }

    // Contacts as created.
    let mut live: Vec<Live> = Vec::with_capacity(input.contacts.len());
    let mut finals: Vec<Option<&Value>> = Vec::with_capacity(input.contacts.len());
    let mut streams: Vec<Vec<Event>> = Vec::with_capacity(input.contacts.len());
    for c in input.contacts {
        let id = c["id"]
            .as_str()
            .ok_or_else(|| format!("contact without `id`: {c}"))?
            .to_owned();
        let stream = input
            .events
            .get(&id)
            .map(|evs| evs.iter().map(parse_event).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default();
        if stream
            .windows(2)
            .any(|w| w[0].sequence >= w[1].sequence || w[0].at > w[1].at)
        {
            return Err(format!("events of {id} are not in sequence and time order"));
        }
        let recorded = c["events"].as_u64().unwrap_or(0);
        let is_final = recorded as usize == stream.len();
        if (recorded as usize) > stream.len() {
            return Err(format!(
                "contact {id} has {recorded} events, only {} given",
                stream.len()
            ));
        }
        let transferred = stream.iter().any(|e| e.kind == "transfer");
        let record_queue = c["requirements"]["queue"].as_str().unwrap_or_default();
        let queue = match input.creation_queues.and_then(|q| q.get(&id)) {
            Some(q) => q.clone(),
            None if is_final && transferred => {
                return Err(format!(
                    "contact {id} was transferred: its final record no longer holds its queue at creation; pass it in `creation_queues` (or pass the record `POST /v1/contacts` returned)"
                ));
            }
            None => record_queue.to_owned(),
        };
        let channel = c["channel"]
            .as_str()
            .filter(|ch| CHANNELS.contains(ch))
            .ok_or_else(|| format!("contact {id}: unknown channel {}", c["channel"]))?
            .to_owned();
        let created_at = c["created_at"]
            .as_i64()
            .ok_or_else(|| format!("contact {id} without `created_at`"))?;
        // `ingest`: queued at creation, in the routing decision's queue.
        live.push(Live {
            id,
            channel,
            customer: c["customer_id"].as_str().unwrap_or_default().to_owned(),
            topics: strings(&c["topics"]),
            created_at,
            state: State::Queued,
            queue,
            queued_at: Some(created_at),
            agent_id: None,
            offered_at: None,
            answered_at: None,
            wrap_up_at: None,
            resolved_at: None,
            abandoned_at: None,
            transfers: 0,
        });
        finals.push(is_final.then_some(c));
        streams.push(stream);
    }
    {
        let known: std::collections::HashSet<&str> = live.iter().map(|c| c.id.as_str()).collect();
        if let Some(id) = input.events.keys().find(|id| !known.contains(id.as_str())) {
            return Err(format!("events of {id}, which is not among the contacts"));
        }
    }
    let changes = parse_requests(input.client_log)?;

    // The merged timeline: ascending `at`; at one millisecond, creations
    // first, then the action, then the offers the engine made after it.
    let mut timeline: Vec<((i64, u8, usize), Item)> = Vec::new();
    for (i, c) in live.iter().enumerate() {
        timeline.push(((c.created_at, 0, timeline.len()), Item::Created(i)));
        for (j, e) in streams[i].iter().enumerate() {
            let rank = if e.kind == "offer" { 2 } else { 1 };
            timeline.push(((e.at, rank, timeline.len()), Item::Event(i, j)));
        }
    }
    for (k, ch) in changes.iter().enumerate() {
        timeline.push(((ch.at, 1, timeline.len()), Item::Agent(k)));
    }
    timeline.sort_by_key(|(k, _)| *k);
    {
        // Each contact's own order must survive the merge.
        let mut next: Vec<usize> = vec![0; live.len()];
        let mut created = vec![false; live.len()];
        for (_, item) in &timeline {
            match *item {
                Item::Created(i) => created[i] = true,
                Item::Event(i, j) => {
                    if !created[i] || next[i] != j {
                        return Err(format!(
                            "contact {}: event #{} at {} cannot be placed in time order after its creation and earlier events (two actions at one millisecond?)",
                            live[i].id, streams[i][j].sequence, streams[i][j].at
                        ));
                    }
                    next[i] += 1;
                }
                Item::Agent(_) => {}
            }
        }
    }

    // The customer history index: customer -> (created_at, id, contact).
    let mut customers: HashMap<String, Vec<(i64, String, usize)>> = HashMap::new();
    let window_ms = i64::from(input.history_days.max(1)) * DAY_MS;
    let history = |customers: &HashMap<String, Vec<(i64, String, usize)>>,
                   live: &[Live],
                   current: usize,
                   now: i64|
     -> Vec<PastContact> {
        let c = &live[current];
        let Some(list) = customers.get(&c.customer) else {
            return Vec::new();
        };
        list.iter()
            .rev()
            .filter(|(t, _, _)| *t <= now && *t >= now - window_ms)
            .filter(|(_, id, _)| *id != c.id)
            .take(RECENT)
            .map(|(_, _, k)| {
                let p = &live[*k];
                PastContact {
                    id: p.id.clone(),
                    channel: p.channel.clone(),
                    topics: p.topics.clone(),
                    created_at: p.created_at,
                    resolved_at: p.resolved_at,
                    agent_id: p.agent_id.clone(),
                }
            })
            .collect()
    };
    let info_of = |agents: &HashMap<String, AgentInfo>, id: Option<&String>| {
        id.and_then(|id| agents.get(id)).cloned()
    };

    let mut agg = Aggregates {
        width: window.level(),
        ..Aggregates::default()
    };
    let mut missing_agents = std::collections::BTreeSet::new();
    let mut times: HashMap<String, AgentTime> = HashMap::new();
    // Agent -> contacts offered to, assigned to or wrapped up by them.
    let mut loads: HashMap<String, u32> = HashMap::new();
    let handler = |c: &Live| {
        matches!(c.state, State::Offered | State::Assigned | State::WrapUp)
            .then(|| c.agent_id.clone())
            .flatten()
    };
    for (_, item) in &timeline {
        match *item {
            Item::Created(i) => {
                let at = live[i].created_at;
                let h = history(&customers, &live, i, at);
                let kin = KpiInput {
                    at,
                    event: KpiEvent::Created,
                    contact: Some(live[i].view()),
                    history: Some(h),
                    agent: None,
                };
                let origin = format!("{} created", live[i].id);
                for e in emissions(&config, &kin) {
                    agg.apply(e, at, &origin);
                }
                let c = &live[i];
                let list = customers.entry(c.customer.clone()).or_default();
                let key = (c.created_at, c.id.clone(), i);
                let pos = list
                    .binary_search_by(|(t, id, _)| (*t, id.as_str()).cmp(&(key.0, key.1.as_str())))
                    .unwrap_or_else(|p| p);
                list.insert(pos, key);
            }
            Item::Event(i, j) => {
                let e = &streams[i][j];
                let at = e.at;
                let before = live[i].clone();
                let c = &mut live[i];
                let illegal = |c: &Live| {
                    format!(
                        "contact {}: `{}` at {} is illegal in state {} (replay out of order?)",
                        c.id,
                        e.kind,
                        at,
                        c.state.as_str()
                    )
                };
                let event = match e.kind.as_str() {
                    "offer" => {
                        if c.state != State::Queued {
                            return Err(illegal(c));
                        }
                        c.state = State::Offered;
                        c.agent_id = e.agent_id.clone();
                        c.offered_at = Some(at);
                        KpiEvent::Other
                    }
                    "decline" | "offer_expired" => {
                        if c.state != State::Offered {
                            return Err(illegal(c));
                        }
                        c.state = State::Queued;
                        c.agent_id = None;
                        KpiEvent::Other
                    }
                    "overflow" => {
                        // Recorded by the engine: it now waits in `to`,
                        // keeping its wait (no new queue entry).
                        if c.state != State::Queued {
                            return Err(illegal(c));
                        }
                        c.queue = e.to.clone().unwrap_or_default();
                        KpiEvent::Other
                    }
                    "answer" => {
                        if c.state != State::Offered {
                            return Err(illegal(c));
                        }
                        c.state = State::Assigned;
                        c.answered_at = Some(at);
                        KpiEvent::Answered(c.agent_id.clone().unwrap_or_default())
                    }
                    "wrap_up" => {
                        if c.state != State::Assigned {
                            return Err(illegal(c));
                        }
                        c.state = State::WrapUp;
                        c.wrap_up_at = Some(at);
                        KpiEvent::Other
                    }
                    "resolve" => {
                        if c.state != State::WrapUp {
                            return Err(illegal(c));
                        }
                        c.state = State::Resolved;
                        c.resolved_at = Some(at);
                        KpiEvent::Resolved
                    }
                    "abandon" => {
                        if !matches!(c.state, State::Queued | State::Offered) {
                            return Err(illegal(c));
                        }
                        c.state = State::Abandoned;
                        c.abandoned_at = Some(at);
                        KpiEvent::Abandoned
                    }
                    "transfer" => {
                        if !matches!(c.state, State::Assigned | State::WrapUp) {
                            return Err(illegal(c));
                        }
                        let to = e.queue.clone().unwrap_or_default();
                        c.transfers += 1;
                        c.agent_id = None;
                        c.queue = to.clone();
                        c.state = State::Queued;
                        c.queued_at = Some(at);
                        KpiEvent::Transferred {
                            from_queue: Some(before.queue.clone()).filter(|q| !q.is_empty()),
                            to_queue: to,
                            from_agent: before.agent_id.clone(),
                        }
                    }
                    "escalate" => {
                        // Back to the queue like a transfer: a new leg
                        // (events.rs: transfers + 1, new queue entry, no agent).
                        if !matches!(c.state, State::Queued | State::Offered | State::Assigned) {
                            return Err(illegal(c));
                        }
                        c.state = State::Queued;
                        c.transfers += 1;
                        c.agent_id = None;
                        c.queued_at = Some(at);
                        KpiEvent::Other
                    }
                    "survey" => {
                        if c.state != State::Resolved {
                            return Err(illegal(c));
                        }
                        KpiEvent::Survey {
                            csat: e.csat,
                            nps: e.nps,
                            ces: e.ces,
                        }
                    }
                    "hold" | "resume" | "message" => KpiEvent::Other,
                    other => return Err(format!("contact {}: unknown event type `{other}`", c.id)),
                };
                // The engine ends the period of each agent whose load this
                // event changes, before the contact's own samples.
                let (was, is) = (handler(&before), handler(&live[i]));
                if was != is {
                    for id in [&was, &is].into_iter().flatten() {
                        if let Some(a) = times.get_mut(id) {
                            let load = loads.get(id).copied().unwrap_or(0);
                            let info = info_of(&agents, Some(id)).unwrap_or_else(|| AgentInfo {
                                id: id.clone(),
                                ..AgentInfo::default()
                            });
                            let status = a.status.clone();
                            let kin = KpiInput {
                                at,
                                event: period_end(a, info, &status, at, load),
                                contact: None,
                                history: None,
                                agent: None,
                            };
                            // A late-dated event never moves a period's start back.
                            a.period_since = a.period_since.max(at);
                            let origin = format!("agent {id} load {load} to {at}");
                            for em in emissions(&config, &kin) {
                                agg.apply(em, at, &origin);
                            }
                        }
                    }
                    if let Some(id) = &was {
                        let n = loads.entry(id.clone()).or_default();
                        *n = n.saturating_sub(1);
                    }
                    if let Some(id) = &is {
                        *loads.entry(id.clone()).or_default() += 1;
                    }
                }
                if e.kind == "offer_expired" {
                    // The host's own sample (`engine/offers.rs`).
                    let agent = before.agent_id.clone().unwrap_or_default();
                    let c = &live[i];
                    let mut dims = vec![
                        ("queue".to_owned(), c.queue.clone()),
                        ("agent".to_owned(), agent.clone()),
                        ("channel".to_owned(), c.channel.clone()),
                    ];
                    if let Some(t) = agents.get(&agent).and_then(|a| a.teams.first()) {
                        dims.push(("team".to_owned(), t.clone()));
                    }
                    let origin = format!("{}#{} offer_expired", c.id, e.sequence);
                    agg.apply(
                        Emission {
                            op: Op::Record,
                            measure: MISSED_OFFERS,
                            id: None,
                            dims,
                            value: 1.0,
                            denominator: 0.0,
                        },
                        at,
                        &origin,
                    );
                }
                if matches!(event, KpiEvent::Other) {
                    continue;
                }
                // The agent the event is about: at a transfer, the one who
                // made it (reactions.rs), else the contact's.
                let about = match &event {
                    KpiEvent::Transferred { from_agent, .. } => from_agent.clone(),
                    _ => live[i].agent_id.clone(),
                };
                let agent = info_of(&agents, about.as_ref());
                if agent.is_none()
                    && let Some(a) = &about
                {
                    missing_agents.insert(a.clone());
                }
                let needs_history = matches!(event, KpiEvent::Resolved);
                let kin = KpiInput {
                    at,
                    event,
                    contact: Some(live[i].view()),
                    history: Some(if needs_history {
                        history(&customers, &live, i, at)
                    } else {
                        Vec::new()
                    }),
                    agent,
                };
                let origin = format!("{}#{} {}", live[i].id, e.sequence, e.kind);
                for em in emissions(&config, &kin) {
                    agg.apply(em, at, &origin);
                }
            }
            Item::Agent(k) => {
                let req = &changes[k];
                let Some(a) = times.get_mut(&req.agent) else {
                    // Created: the first period starts now.
                    times.insert(
                        req.agent.clone(),
                        AgentTime {
                            status: req.status.clone(),
                            status_since: req.at,
                            period_since: req.at,
                        },
                    );
                    continue;
                };
                if a.status == req.status {
                    continue; // no change: the period goes on
                }
                let info = agents.get(&req.agent).cloned().unwrap_or_else(|| {
                    missing_agents.insert(req.agent.clone());
                    AgentInfo {
                        id: req.agent.clone(),
                        ..AgentInfo::default()
                    }
                });
                let load = loads.get(&req.agent).copied().unwrap_or(0);
                let kin = KpiInput {
                    at: req.at,
                    event: period_end(a, info, &req.status, req.at, load),
                    contact: None,
                    history: None,
                    agent: None,
                };
                let origin = format!("agent {} {}->{}", req.agent, a.status, req.status);
                a.status = req.status.clone();
                a.status_since = req.at;
                a.period_since = req.at;
                for em in emissions(&config, &kin) {
                    agg.apply(em, req.at, &origin);
                }
            }
        }
    }
    for a in missing_agents {
        warnings.push(format!(
            "agent {a} is not among the agents: no team, no skills (the host knew them if they were on the floor)"
        ));
    }

    // The replay must end where the engine did.
    for (c, f) in live.iter().zip(&finals) {
        let Some(f) = f else { continue };
        let mut diff = Vec::new();
        let opt = |v: &Value| v.as_i64();
        if f["state"].as_str() != Some(c.state.as_str()) {
            diff.push(format!("state {} vs {}", f["state"], c.state.as_str()));
        }
        if f["requirements"]["queue"].as_str().unwrap_or_default() != c.queue {
            diff.push(format!(
                "queue {} vs {}",
                f["requirements"]["queue"], c.queue
            ));
        }
        if f["agent_id"].as_str() != c.agent_id.as_deref() {
            diff.push(format!("agent_id {} vs {:?}", f["agent_id"], c.agent_id));
        }
        if f["transfers"].as_u64().unwrap_or(0) != u64::from(c.transfers) {
            diff.push(format!("transfers {} vs {}", f["transfers"], c.transfers));
        }
        for (k, mine) in [
            ("queued_at", c.queued_at),
            ("offered_at", c.offered_at),
            ("answered_at", c.answered_at),
            ("wrap_up_at", c.wrap_up_at),
            ("resolved_at", c.resolved_at),
            ("abandoned_at", c.abandoned_at),
        ] {
            if opt(&f[k]) != mine {
                diff.push(format!("{k} {} vs {mine:?}", f[k]));
            }
        }
        if !diff.is_empty() {
            warnings.push(format!(
                "contact {}: final record vs replay: {}",
                c.id,
                diff.join(", ")
            ));
        }
    }

    let reported = report(&config, window, &agg);
    Ok(Model {
        measures: all_measures(&config),
        config,
        window,
        reported,
        samples: agg.log,
        warnings,
    })
}
