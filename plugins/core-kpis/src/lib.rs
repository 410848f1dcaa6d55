//! `core-kpis`: the contact-center KPIs every operator reports (seed
//! articles 004 and 002).
//!
//! Service level, abandonment, speed of answer, contacts handled and
//! created, first-contact resolution (revoked with `replace` when the
//! customer comes back), repeat contacts, CSAT, NPS, CES, handle time,
//! after-contact work, occupancy, utilization, cost per contact, channel
//! and contact-type mix, routing effectiveness (time to assign,
//! transfers after assignment, skill-match rate), and the self-service
//! containment of contacts handed off from an IVR or bot.
//!
//! Every formula (numerator, denominator, event, time) is in
//! `docs/plugins/core-kpis.md`; the doc comment of each measure constant
//! below says it in one line.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_sdk::prelude::*;
use switchboard_sdk::types::{AgentInfo, AgentStatus, AgentStatusChange, PastContact, Survey};

/// 1 per first answer (`answered` with `contact.transfers == 0`).
pub const CONTACTS_HANDLED: &str = "contacts_handled";
/// Queued contacts abandoned before any answer / those plus first answers of queued contacts.
pub const ABANDONMENT_RATE: &str = "abandonment_rate";
/// First answers within the threshold / first answers plus abandons (queued contacts).
pub const SERVICE_LEVEL: &str = "service_level";
/// Mean of `answered_at - queued_at` over first answers of queued contacts.
pub const AVERAGE_SPEED_OF_ANSWER: &str = "average_speed_of_answer";
/// CSAT answers of 4 or 5 / all CSAT answers.
pub const CSAT: &str = "csat";
/// Queued contacts abandoned within `short_abandon_secs` (left out of the two rates).
pub const SHORT_ABANDONS: &str = "short_abandons";
/// 1 per `created` contact.
pub const CONTACTS_CREATED: &str = "contacts_created";
/// Resolved contacts with no same-topic contact of the customer within N days / resolved contacts.
pub const FIRST_CONTACT_RESOLUTION: &str = "first_contact_resolution";
/// Created contacts whose customer had a same-topic contact in the N days before / created contacts.
pub const REPEAT_CONTACT_RATE: &str = "repeat_contact_rate";
/// Mean of +100 (promoter, 9-10), 0 (passive, 7-8), -100 (detractor, 0-6).
pub const NPS: &str = "nps";
/// Promoters (9-10) / NPS answers.
pub const NPS_PROMOTERS: &str = "nps_promoters";
/// Detractors (0-6) / NPS answers.
pub const NPS_DETRACTORS: &str = "nps_detractors";
/// Mean customer-effort score (1-7).
pub const CES: &str = "ces";
/// Seconds from answer to transfer or resolution, over all legs / resolved answered contacts.
pub const AVERAGE_HANDLE_TIME: &str = "average_handle_time";
/// Mean seconds from wrap-up to the end of the leg (resolution or transfer).
pub const AVERAGE_AFTER_CONTACT_WORK: &str = "average_after_contact_work";
/// Handling time / (handling + available idle time), from agent status changes.
pub const OCCUPANCY: &str = "occupancy";
/// Handling time / logged-in time (every status but offline).
pub const AGENT_UTILIZATION: &str = "agent_utilization";
/// (Agent hours x hourly cost + per-contact channel costs) / contacts handled.
pub const COST_PER_CONTACT: &str = "cost_per_contact";
/// One-hot share of created contacts per channel (group by `mix`).
pub const CHANNEL_MIX: &str = "channel_mix";
/// One-hot share of created contacts per contact type (group by `mix`).
pub const CONTACT_TYPE_MIX: &str = "contact_type_mix";
/// Mean seconds from entering the queue to each answer (every leg).
pub const TIME_TO_ASSIGN: &str = "time_to_assign";
/// Transfers after assignment / assignments (answers).
pub const TRANSFER_RATE: &str = "transfer_rate";
/// Answers by an agent with every required skill of the contact's topics / answers with requirements.
pub const SKILL_MATCH_RATE: &str = "skill_match_rate";
/// IVR/bot hand-offs resolved without an agent's answer / hand-offs resolved or abandoned.
pub const SELF_SERVICE_CONTAINMENT: &str = "self_service_containment";

/// The contact attribute naming the self-service system a contact came
/// from (`ivr`, `bot`); its value is the `handoff` dimension.
pub const HANDOFF_ATTRIBUTE: &str = "handoff.source";
/// The tag routing and escalation rules put on contacts of an incident:
/// `incident:<id>`.
pub const INCIDENT_TAG_PREFIX: &str = "incident:";

const DAY_MS: i64 = 86_400_000;
const CHANNELS: [Channel; 5] = [
    Channel::Voice,
    Channel::Email,
    Channel::Chat,
    Channel::Sms,
    Channel::Social,
];

/// A dimension samples may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The contact's queue.
    Queue,
    /// The contact's channel.
    Channel,
    /// The agent of the event.
    Agent,
    /// The first team of that agent.
    Team,
    /// The contact's most specific topic.
    Topic,
    /// The id of the contact's first `incident:<id>` tag.
    Incident,
}

fn all_dimensions() -> Vec<Dimension> {
    vec![
        Dimension::Queue,
        Dimension::Channel,
        Dimension::Agent,
        Dimension::Team,
        Dimension::Topic,
        Dimension::Incident,
    ]
}

/// The plugin configuration; `manifest.json` holds its JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A contact answered within this many seconds of being queued counts
    /// toward the service level.
    #[serde(default = "default_threshold")]
    pub service_level_threshold_secs: u32,
    /// Queued contacts abandoned within this many seconds (inclusive) are
    /// left out of the abandonment rate and the service level; 0: none are.
    #[serde(default)]
    pub short_abandon_secs: u32,
    /// N of first-contact resolution: a same-topic contact up to N days
    /// after the resolution revokes it.
    #[serde(default = "default_window")]
    pub fcr_window_days: u32,
    /// N of the repeat-contact rate.
    #[serde(default = "default_window")]
    pub repeat_window_days: u32,
    /// The dimensions samples carry (where they apply).
    #[serde(default = "all_dimensions")]
    pub dimensions: Vec<Dimension>,
    /// Contact types of the contact-type mix; other topics count as `other`.
    #[serde(default)]
    pub contact_types: Vec<String>,
    /// Topic -> skills an agent needs, for the skill-match rate.
    #[serde(default)]
    pub topic_skills: BTreeMap<String, Vec<SkillRequirement>>,
    /// Costs for the cost per contact; none: the measure is not declared.
    #[serde(default)]
    pub cost_model: Option<CostModel>,
}

fn default_threshold() -> u32 {
    30
}

fn default_window() -> u32 {
    7
}

/// A skill an agent needs, at least at `min_proficiency` (1-5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillRequirement {
    /// Skill name.
    pub skill: String,
    /// Minimum proficiency, 1-5.
    pub min_proficiency: u8,
}

/// What the contact center costs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostModel {
    /// The unit of the measure, e.g. "EUR".
    pub currency: String,
    /// Cost of one logged-in agent hour (wages, seat, overhead).
    #[serde(default)]
    pub per_agent_hour: f64,
    /// Channel -> variable cost of one handled contact (telephony, SMS, ...).
    #[serde(default)]
    pub per_contact: BTreeMap<String, f64>,
}

/// The KPI definition.
#[derive(Debug)]
pub struct CoreKpis {
    config: Config,
    threshold_ms: i64,
    short_abandon_ms: i64,
    fcr_window_ms: i64,
    repeat_window_ms: i64,
}

impl KpiDefinition for CoreKpis {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.service_level_threshold_secs > 86_400 {
            return Err("service_level_threshold_secs must be at most 86400".into());
        }
        for (name, days) in [
            ("fcr_window_days", config.fcr_window_days),
            ("repeat_window_days", config.repeat_window_days),
        ] {
            if !(1..=365).contains(&days) {
                return Err(format!("{name} must be 1-365, got {days}"));
            }
        }
        for (topic, skills) in &config.topic_skills {
            for s in skills {
                if !(1..=5).contains(&s.min_proficiency) {
                    return Err(format!(
                        "topic_skills.{topic}: min_proficiency of {} must be 1-5, got {}",
                        s.skill, s.min_proficiency
                    ));
                }
            }
        }
        if let Some(cost) = &config.cost_model {
            if cost.currency.trim().is_empty() {
                return Err("cost_model.currency must not be empty".into());
            }
            if !(cost.per_agent_hour.is_finite() && cost.per_agent_hour >= 0.0) {
                return Err("cost_model.per_agent_hour must be a number >= 0".into());
            }
            for (channel, c) in &cost.per_contact {
                if !CHANNELS.iter().any(|ch| ch.as_str() == channel) {
                    return Err(format!(
                        "cost_model.per_contact: unknown channel {channel:?} (voice, email, chat, sms, social)"
                    ));
                }
                if !(c.is_finite() && *c >= 0.0) {
                    return Err(format!(
                        "cost_model.per_contact.{channel} must be a number >= 0"
                    ));
                }
            }
        }
        if config.contact_types.iter().any(|t| t.trim().is_empty()) {
            return Err("contact_types must not contain empty names".into());
        }
        Ok(CoreKpis {
            threshold_ms: i64::from(config.service_level_threshold_secs) * 1000,
            short_abandon_ms: i64::from(config.short_abandon_secs) * 1000,
            fcr_window_ms: i64::from(config.fcr_window_days) * DAY_MS,
            repeat_window_ms: i64::from(config.repeat_window_days) * DAY_MS,
            config,
        })
    }

    fn measures(&self) -> Vec<Measure> {
        use Aggregation::{Mean, Ratio, Sum};
        let threshold = self.config.service_level_threshold_secs;
        let fcr = self.config.fcr_window_days;
        let repeat = self.config.repeat_window_days;
        let mut m = vec![
            Measure::new(
                CONTACTS_HANDLED,
                "contacts",
                Sum,
                "Contacts answered by an agent (first answer only, not again after a transfer).",
            ),
            Measure::new(
                ABANDONMENT_RATE,
                "ratio",
                Ratio,
                "Queued contacts abandoned before an agent answered / queued contacts answered or abandoned.",
            ),
            Measure::new(
                SERVICE_LEVEL,
                "ratio",
                Ratio,
                format!(
                    "Queued contacts answered within {threshold} s / queued contacts answered or abandoned."
                ),
            ),
            Measure::new(
                AVERAGE_SPEED_OF_ANSWER,
                "seconds",
                Mean,
                "Mean time from queued to answered.",
            ),
            Measure::new(
                CSAT,
                "ratio",
                Ratio,
                "Survey answers with a satisfaction of 4 or 5 (of 5) / all satisfaction answers.",
            ),
            Measure::new(
                SHORT_ABANDONS,
                "contacts",
                Sum,
                format!(
                    "Queued contacts abandoned within {} s (left out of abandonment_rate and service_level).",
                    self.config.short_abandon_secs
                ),
            ),
            Measure::new(CONTACTS_CREATED, "contacts", Sum, "Contacts created."),
            Measure::new(
                FIRST_CONTACT_RESOLUTION,
                "ratio",
                Ratio,
                format!(
                    "Resolved contacts with no contact from the same customer about the same topic up to {fcr} days after the resolution / resolved contacts with topics."
                ),
            ),
            Measure::new(
                REPEAT_CONTACT_RATE,
                "ratio",
                Ratio,
                format!(
                    "Contacts whose customer had a contact on the same topic in the {repeat} days before / contacts with topics."
                ),
            ),
            Measure::new(
                NPS,
                "score",
                Mean,
                "Net promoter score: mean of +100 per promoter (9-10), 0 per passive (7-8), -100 per detractor (0-6) = % promoters - % detractors.",
            ),
            Measure::new(
                NPS_PROMOTERS,
                "ratio",
                Ratio,
                "NPS answers of 9 or 10 / all NPS answers.",
            ),
            Measure::new(
                NPS_DETRACTORS,
                "ratio",
                Ratio,
                "NPS answers of 0 to 6 / all NPS answers.",
            ),
            Measure::new(CES, "score", Mean, "Mean customer-effort score (1-7)."),
            Measure::new(
                AVERAGE_HANDLE_TIME,
                "seconds",
                Ratio,
                "Talk + hold + after-contact work of every leg (answer to transfer or resolution) / answered contacts resolved.",
            ),
            Measure::new(
                AVERAGE_AFTER_CONTACT_WORK,
                "seconds",
                Mean,
                "Mean time from wrap-up to the end of the leg (resolution or transfer).",
            ),
            Measure::new(
                OCCUPANCY,
                "ratio",
                Ratio,
                "Agent time handling contacts / (handling + available idle time).",
            ),
            Measure::new(
                AGENT_UTILIZATION,
                "ratio",
                Ratio,
                "Agent time handling contacts / logged-in time (every status but offline).",
            ),
            Measure::new(
                CHANNEL_MIX,
                "ratio",
                Ratio,
                "Share of created contacts per channel: group by `mix`.",
            ),
            Measure::new(
                CONTACT_TYPE_MIX,
                "ratio",
                Ratio,
                "Share of created contacts per contact type (configured topics, else other): group by `mix`.",
            ),
            Measure::new(
                TIME_TO_ASSIGN,
                "seconds",
                Mean,
                "Mean time from entering the queue to being answered by an agent, every assignment (also after a transfer).",
            ),
            Measure::new(
                TRANSFER_RATE,
                "ratio",
                Ratio,
                "Transfers after assignment / assignments (answers).",
            ),
            Measure::new(
                SKILL_MATCH_RATE,
                "ratio",
                Ratio,
                "Answers by an agent with every skill the contact's topics require / answers of contacts with required skills.",
            ),
            Measure::new(
                SELF_SERVICE_CONTAINMENT,
                "ratio",
                Ratio,
                "Contacts handed off from an IVR or bot (attribute handoff.source) resolved without ever being answered by an agent / those resolved or abandoned: group by `handoff`.",
            ),
        ];
        if let Some(cost) = &self.config.cost_model {
            m.push(Measure::new(
                COST_PER_CONTACT,
                cost.currency.clone(),
                Ratio,
                "Operating cost (logged-in agent hours x per_agent_hour + per-contact channel costs) / contacts handled.",
            ));
        }
        m
    }

    fn on_event(&self, input: KpiInput) -> Result<Vec<Emission>, String> {
        let mut out = Vec::new();
        if let EventKind::AgentStatusChanged(change) = &input.event.kind {
            self.agent_status(change, &mut out);
            return Ok(out);
        }
        // Every other event is about a contact.
        let Some(contact) = &input.contact else {
            return Ok(out);
        };
        let event = &input.event;
        match &event.kind {
            EventKind::Created => self.created(&input, contact, &mut out),
            EventKind::Answered(agent) => self.answered(&input, contact, agent, &mut out),
            EventKind::Abandoned => {
                self.abandoned(&input, contact, &mut out);
                self.containment(contact, false, &mut out);
            }
            EventKind::Transferred(t) => {
                let dims = self.dims(
                    contact,
                    t.from_queue.as_deref(),
                    t.from_agent.as_deref(),
                    input.agent.as_ref(),
                );
                if let Some(answered_at) = contact.times.answered_at {
                    record(&mut out, Sample::ratio(TRANSFER_RATE, 1.0, 0.0), &dims);
                    let leg = secs(event.at - answered_at);
                    record(
                        &mut out,
                        Sample::ratio(AVERAGE_HANDLE_TIME, leg, 0.0),
                        &dims,
                    );
                    if let Some(wrap) = contact.times.wrap_up_at.filter(|w| *w >= answered_at) {
                        record(
                            &mut out,
                            Sample::value(AVERAGE_AFTER_CONTACT_WORK, secs(event.at - wrap)),
                            &dims,
                        );
                    }
                }
            }
            EventKind::Resolved => {
                self.resolved(&input, contact, &mut out);
                let contained = contact.times.answered_at.is_none();
                self.containment(contact, contained, &mut out);
            }
            EventKind::SurveyAnswered(survey) => self.survey(&input, contact, survey, &mut out),
            _ => {}
        }
        Ok(out)
    }
}

/// Milliseconds as seconds; a negative duration (clock skew) is 0.
fn secs(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

fn record(out: &mut Vec<Emission>, sample: Sample, dims: &[KeyValue]) {
    out.push(Emission::Record(sample.with_dimensions(dims.to_vec())));
}

/// The id of the contact's first `incident:<id>` tag.
fn incident_of(contact: &Contact) -> Option<&str> {
    contact
        .tags
        .iter()
        .find_map(|t| t.strip_prefix(INCIDENT_TAG_PREFIX))
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

/// The self-service system the contact was handed off from, if any.
fn handoff_of(contact: &Contact) -> Option<&str> {
    contact
        .attribute(HANDOFF_ATTRIBUTE)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn shares_topic(a: &[String], b: &[String]) -> bool {
    a.iter().any(|t| b.contains(t))
}

/// The sample id of a contact's first-contact-resolution sample.
pub fn fcr_id(contact_id: &str) -> String {
    format!("fcr:{contact_id}")
}

impl CoreKpis {
    fn wants(&self, d: Dimension) -> bool {
        self.config.dimensions.contains(&d)
    }

    /// Dimensions in a fixed order (queue, channel, agent, team, topic,
    /// incident), only those configured and known.
    fn dims_of(
        &self,
        queue: Option<&str>,
        channel: Option<Channel>,
        agent: Option<&str>,
        team: Option<&str>,
        topic: Option<&str>,
        incident: Option<&str>,
    ) -> Vec<KeyValue> {
        let mut dims = Vec::with_capacity(6);
        let mut push = |d: Dimension, key: &str, value: Option<&str>| {
            if let Some(v) = value.filter(|v| !v.is_empty())
                && self.wants(d)
            {
                dims.push(KeyValue::new(key, v));
            }
        };
        push(Dimension::Queue, "queue", queue);
        push(Dimension::Channel, "channel", channel.map(Channel::as_str));
        push(Dimension::Agent, "agent", agent);
        push(Dimension::Team, "team", team);
        push(Dimension::Topic, "topic", topic);
        push(Dimension::Incident, "incident", incident);
        dims
    }

    /// The dimensions of a contact event: `queue` (given, else the
    /// contact's), `channel`, `agent` (given, else the input's agent, else
    /// the contact's), `team` (the first team of the input's agent when it
    /// is that agent), `topic` (the most specific), `incident`.
    fn dims(
        &self,
        contact: &Contact,
        queue: Option<&str>,
        agent: Option<&str>,
        info: Option<&AgentInfo>,
    ) -> Vec<KeyValue> {
        let agent = agent
            .or(info.map(|a| a.id.as_str()))
            .or(contact.agent_id.as_deref());
        let team = info
            .filter(|a| Some(a.id.as_str()) == agent)
            .and_then(|a| a.teams.first())
            .map(String::as_str);
        self.dims_of(
            queue.or(contact.queue.as_deref()),
            Some(contact.channel),
            agent,
            team,
            contact.topics.first().map(String::as_str),
            incident_of(contact),
        )
    }

    /// First-contact-resolution dimensions: only what a past contact in a
    /// later customer history also carries (channel, agent, topic), so a
    /// revocation can repeat them exactly.
    fn fcr_dims(&self, channel: Channel, agent: Option<&str>, topics: &[String]) -> Vec<KeyValue> {
        self.dims_of(
            None,
            Some(channel),
            agent,
            None,
            topics.first().map(String::as_str),
            None,
        )
    }

    fn created(&self, input: &KpiInput, contact: &Contact, out: &mut Vec<Emission>) {
        let incident = incident_of(contact);
        let dims = self.dims_of(
            contact.queue.as_deref(),
            Some(contact.channel),
            None,
            None,
            contact.topics.first().map(String::as_str),
            incident,
        );
        record(out, Sample::value(CONTACTS_CREATED, 1.0), &dims);

        // Mixes: one sample per category, 1 for the contact's, so grouping
        // by `mix` gives each category's share.
        let topic = contact.topics.first().map(String::as_str);
        for ch in CHANNELS {
            let mut d = vec![KeyValue::new("mix", ch.as_str())];
            d.extend(self.dims_of(contact.queue.as_deref(), None, None, None, topic, incident));
            let hit = f64::from(u8::from(ch == contact.channel));
            record(out, Sample::ratio(CHANNEL_MIX, hit, 1.0), &d);
        }
        let kind = contact
            .topics
            .iter()
            .find(|t| self.config.contact_types.contains(t))
            .map_or("other", String::as_str);
        let types = self
            .config
            .contact_types
            .iter()
            .map(String::as_str)
            .chain(std::iter::once("other"));
        for t in types {
            let mut d = vec![KeyValue::new("mix", t)];
            d.extend(self.dims_of(
                contact.queue.as_deref(),
                Some(contact.channel),
                None,
                None,
                None,
                incident,
            ));
            let hit = f64::from(u8::from(t == kind));
            record(out, Sample::ratio(CONTACT_TYPE_MIX, hit, 1.0), &d);
        }

        let Some(history) = &input.history else {
            return;
        };
        if contact.topics.is_empty() {
            return;
        }
        let created = contact.times.created_at;
        let earlier =
            |p: &&PastContact| p.id != contact.id && shares_topic(&p.topics, &contact.topics);
        let repeat = history.recent.iter().filter(earlier).any(|p| {
            let age = created - p.created_at;
            (0..=self.repeat_window_ms).contains(&age)
        });
        record(
            out,
            Sample::ratio(REPEAT_CONTACT_RATE, f64::from(u8::from(repeat)), 1.0),
            &dims,
        );
        // This contact revokes the first-contact resolution of every
        // earlier same-topic contact resolved at most N days before it.
        for p in history.recent.iter().filter(earlier) {
            let Some(resolved_at) = p.resolved_at else {
                continue;
            };
            if p.created_at < created && created <= resolved_at.saturating_add(self.fcr_window_ms) {
                out.push(Emission::Replace(
                    Sample::ratio(FIRST_CONTACT_RESOLUTION, 0.0, 1.0)
                        .with_id(fcr_id(&p.id))
                        .with_dimensions(self.fcr_dims(
                            p.channel,
                            p.agent_id.as_deref(),
                            &p.topics,
                        )),
                ));
            }
        }
    }

    fn answered(&self, input: &KpiInput, contact: &Contact, agent: &str, out: &mut Vec<Emission>) {
        let dims = self.dims(contact, None, Some(agent), input.agent.as_ref());
        let answered_at = contact.times.answered_at.unwrap_or(input.event.at);
        // After a transfer the contact is answered again: it was handled
        // (and its speed of answer measured) at its first answer.
        let first = contact.transfers == 0;
        if first {
            record(out, Sample::value(CONTACTS_HANDLED, 1.0), &dims);
            if let Some(cost) = &self.config.cost_model {
                let c = cost
                    .per_contact
                    .get(contact.channel.as_str())
                    .copied()
                    .unwrap_or(0.0);
                record(out, Sample::ratio(COST_PER_CONTACT, c, 1.0), &dims);
            }
        }
        if let Some(queued_at) = contact.times.queued_at {
            let wait_ms = (answered_at - queued_at).max(0);
            if first {
                let within = f64::from(u8::from(wait_ms <= self.threshold_ms));
                record(out, Sample::ratio(ABANDONMENT_RATE, 0.0, 1.0), &dims);
                record(out, Sample::ratio(SERVICE_LEVEL, within, 1.0), &dims);
                record(
                    out,
                    Sample::value(AVERAGE_SPEED_OF_ANSWER, secs(wait_ms)),
                    &dims,
                );
            }
            record(out, Sample::value(TIME_TO_ASSIGN, secs(wait_ms)), &dims);
        }
        record(out, Sample::ratio(TRANSFER_RATE, 0.0, 1.0), &dims);
        let required = self.required_skills(&contact.topics);
        if !required.is_empty()
            && let Some(info) = input.agent.as_ref().filter(|a| a.id == agent)
        {
            let ok = required.iter().all(|(skill, min)| {
                info.skills
                    .iter()
                    .any(|s| &s.skill == skill && s.proficiency >= *min)
            });
            record(
                out,
                Sample::ratio(SKILL_MATCH_RATE, f64::from(u8::from(ok)), 1.0),
                &dims,
            );
        }
    }

    fn abandoned(&self, input: &KpiInput, contact: &Contact, out: &mut Vec<Emission>) {
        // Abandoned before reaching a queue (in the IVR, say), or after an
        // agent had answered (a transfer left waiting), is no abandon.
        let Some(queued_at) = contact.times.queued_at else {
            return;
        };
        if contact.times.answered_at.is_some() {
            return;
        }
        let dims = self.dims(contact, None, None, input.agent.as_ref());
        let abandoned_at = contact.times.abandoned_at.unwrap_or(input.event.at);
        let wait_ms = (abandoned_at - queued_at).max(0);
        if self.short_abandon_ms > 0 && wait_ms <= self.short_abandon_ms {
            record(out, Sample::value(SHORT_ABANDONS, 1.0), &dims);
            return;
        }
        record(out, Sample::ratio(ABANDONMENT_RATE, 1.0, 1.0), &dims);
        record(out, Sample::ratio(SERVICE_LEVEL, 0.0, 1.0), &dims);
    }

    fn resolved(&self, input: &KpiInput, contact: &Contact, out: &mut Vec<Emission>) {
        let resolved_at = contact.times.resolved_at.unwrap_or(input.event.at);
        let dims = self.dims(contact, None, None, input.agent.as_ref());
        if let Some(answered_at) = contact.times.answered_at {
            record(
                out,
                Sample::ratio(AVERAGE_HANDLE_TIME, secs(resolved_at - answered_at), 1.0),
                &dims,
            );
            if let Some(wrap) = contact.times.wrap_up_at.filter(|w| *w >= answered_at) {
                record(
                    out,
                    Sample::value(AVERAGE_AFTER_CONTACT_WORK, secs(resolved_at - wrap)),
                    &dims,
                );
            }
        }
        if contact.topics.is_empty() {
            return;
        }
        // The customer already came back about the topic after this
        // contact started: not resolved at first contact.
        let came_back = input.history.as_ref().is_some_and(|h| {
            h.recent.iter().any(|p| {
                p.id != contact.id
                    && shares_topic(&p.topics, &contact.topics)
                    && p.created_at > contact.times.created_at
                    && p.created_at <= resolved_at.saturating_add(self.fcr_window_ms)
            })
        });
        out.push(Emission::Record(
            Sample::ratio(
                FIRST_CONTACT_RESOLUTION,
                f64::from(u8::from(!came_back)),
                1.0,
            )
            .with_id(fcr_id(&contact.id))
            .with_dimensions(self.fcr_dims(
                contact.channel,
                contact.agent_id.as_deref(),
                &contact.topics,
            )),
        ));
    }

    /// Self-service containment of a contact handed off from an IVR or
    /// bot, at its end: `contained` 1/1, else 0/1.
    fn containment(&self, contact: &Contact, contained: bool, out: &mut Vec<Emission>) {
        let Some(source) = handoff_of(contact) else {
            return;
        };
        let mut dims = vec![KeyValue::new("handoff", source)];
        dims.extend(self.dims_of(
            contact.queue.as_deref(),
            Some(contact.channel),
            None,
            None,
            None,
            None,
        ));
        let value = f64::from(u8::from(contained));
        record(
            out,
            Sample::ratio(SELF_SERVICE_CONTAINMENT, value, 1.0),
            &dims,
        );
    }

    fn survey(&self, input: &KpiInput, contact: &Contact, s: &Survey, out: &mut Vec<Emission>) {
        let dims = self.dims(contact, None, None, input.agent.as_ref());
        if let Some(csat) = s.csat {
            let satisfied = f64::from(u8::from(csat >= 4));
            record(out, Sample::ratio(CSAT, satisfied, 1.0), &dims);
        }
        if let Some(nps) = s.nps {
            let (score, promoter, detractor) = match nps {
                9.. => (100.0, 1.0, 0.0),
                7 | 8 => (0.0, 0.0, 0.0),
                _ => (-100.0, 0.0, 1.0),
            };
            record(out, Sample::value(NPS, score), &dims);
            record(out, Sample::ratio(NPS_PROMOTERS, promoter, 1.0), &dims);
            record(out, Sample::ratio(NPS_DETRACTORS, detractor, 1.0), &dims);
        }
        if let Some(ces) = s.ces {
            record(out, Sample::value(CES, f64::from(ces)), &dims);
        }
    }

    fn agent_status(&self, change: &AgentStatusChange, out: &mut Vec<Emission>) {
        if change.duration_ms == 0 {
            return;
        }
        let agent = &change.agent;
        let dims = self.dims_of(
            None,
            None,
            Some(&agent.id),
            agent.teams.first().map(String::as_str),
            None,
            None,
        );
        let d = change.duration_ms as f64 / 1000.0;
        let handling = matches!(change.from, AgentStatus::Busy | AgentStatus::WrapUp)
            || (change.from == AgentStatus::Available && change.load > 0);
        let idle = change.from == AgentStatus::Available && change.load == 0;
        let h = if handling { d } else { 0.0 };
        if handling || idle {
            record(out, Sample::ratio(OCCUPANCY, h, d), &dims);
        }
        if change.from != AgentStatus::Offline {
            record(out, Sample::ratio(AGENT_UTILIZATION, h, d), &dims);
            if let Some(cost) = self
                .config
                .cost_model
                .as_ref()
                .filter(|c| c.per_agent_hour > 0.0)
            {
                let c = change.duration_ms as f64 / 3_600_000.0 * cost.per_agent_hour;
                record(out, Sample::ratio(COST_PER_CONTACT, c, 0.0), &dims);
            }
        }
    }

    /// The skills the contact's topics require; the highest level of a
    /// skill named twice.
    fn required_skills(&self, topics: &[String]) -> Vec<(String, u8)> {
        let mut skills: Vec<(String, u8)> = Vec::new();
        for req in topics
            .iter()
            .filter_map(|t| self.config.topic_skills.get(t))
            .flatten()
        {
            match skills.iter_mut().find(|(s, _)| s == &req.skill) {
                Some((_, level)) => *level = (*level).max(req.min_proficiency),
                None => skills.push((req.skill.clone(), req.min_proficiency)),
            }
        }
        skills
    }
}

switchboard_sdk::export_kpi_definition!(CoreKpis);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
