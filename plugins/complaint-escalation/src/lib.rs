//! `complaint-escalation`: tells complaints from noise, escalates crises
//! and what needs a supervisor, and keeps regulatory complaint clocks
//! (seed articles 001 and 000).
//!
//! On what customers write (the `created` contact's text and customer
//! `message`s):
//! - a **crisis** keyword (outage, data breach, legal threat, regulator)
//!   marks a `crisis[:kind]` complaint (critical), pages the supervisor,
//!   tags `crisis`, and may move it to a crisis queue and notify a team;
//! - otherwise a **complaint score** (keyword, negative sentiment, a low
//!   review rating, brand mention, repeat contact, open complaint, noise
//!   keywords; per-channel threshold) marks a complaint in the category of
//!   the contact's most specific topic and may route it to that category's
//!   queue;
//! - a `created` contact that is none of that and has a noise keyword (or
//!   is a social post too short to say anything) is tagged **noise**, which
//!   the social and review intake takes as "discard";
//! - a request for a **manager** pages the supervisor;
//! - a match with an active **incident** tags the contact and may route it
//!   to the incident queue.
//!
//! A new complaint starts the `acknowledge` clock (hours, or business days
//! with a holiday calendar) and, if configured, the `resolve` clock
//! (calendar days, per product), with warnings; the first answer (or agent
//! message) stops the first, the resolution the second; warnings and
//! breaches page the supervisor. Negative sentiment, VIP complaints,
//! repeated transfers and a service level about to be missed raise the
//! priority and page the supervisor as configured. Every step happens once
//! per contact (tags, the complaint flag and running clocks say what was
//! done). See `docs/plugins/complaint-escalation.md` for the reference.

mod calendar;

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_sdk::escalation::Complaint;
use switchboard_sdk::prelude::*;
use switchboard_sdk::types::{HOUR_MS, Incident};

pub use calendar::{Calendar, DAY_MS};

/// The acknowledgement deadline clock.
pub const ACKNOWLEDGE: &str = "acknowledge";
/// The resolution deadline clock.
pub const RESOLVE: &str = "resolve";
/// The re-check asked for to watch the service level.
pub const SLA_CHECK: &str = "sla-check";
/// Tag added to contacts with a crisis keyword.
pub const TAG_CRISIS: &str = "crisis";
/// Tag added to complaints.
pub const TAG_COMPLAINT: &str = "complaint";
/// Tag added when negative sentiment raised the priority.
pub const TAG_NEGATIVE: &str = "negative-sentiment";
/// Tag added when the customer asked for a manager.
pub const TAG_MANAGER: &str = "manager-requested";
/// Tag added after too many transfers.
pub const TAG_TRANSFERS: &str = "repeated-transfers";
/// Tag added when the service level was about to be missed.
pub const TAG_SLA: &str = "sla-at-risk";
/// Tag added to VIP complaints.
pub const TAG_VIP_COMPLAINT: &str = "vip-complaint";
/// Tag added when the resolve clock was breached.
pub const TAG_OVERDUE: &str = "resolve-overdue";
/// Tag added to a `created` contact that is noise (spam, chatter). The
/// social and review intake discards a post whose outcome adds it.
pub const TAG_NOISE: &str = "noise";
/// The contact attribute holding a review's star rating, "1" to "5".
pub const RATING_ATTRIBUTE: &str = "rating";

/// How urgent, in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UrgencyConfig {
    /// Low.
    Low,
    /// Normal.
    Normal,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl From<UrgencyConfig> for Urgency {
    fn from(u: UrgencyConfig) -> Self {
        match u {
            UrgencyConfig::Low => Urgency::Low,
            UrgencyConfig::Normal => Urgency::Normal,
            UrgencyConfig::High => Urgency::High,
            UrgencyConfig::Critical => Urgency::Critical,
        }
    }
}

fn high() -> Option<UrgencyConfig> {
    Some(UrgencyConfig::High)
}

fn ten() -> u32 {
    10
}

/// The plugin configuration; `manifest.json` holds its JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Words or phrases that make a message a complaint.
    #[serde(default)]
    pub complaint_keywords: Vec<String>,
    /// Crisis words (category `crisis`).
    #[serde(default)]
    pub crisis_keywords: Vec<String>,
    /// Sentiment (-1.0 to 1.0) below which the priority is raised.
    #[serde(default = "default_threshold")]
    pub negative_sentiment_threshold: f32,
    /// How much negative sentiment raises the priority by.
    #[serde(default = "ten")]
    pub priority_raise: u32,
    /// Hours until a complaint must be acknowledged (answered).
    #[serde(default = "default_acknowledge_hours")]
    pub acknowledge_within_hours: u32,
    /// Page the supervisor on negative sentiment, at this urgency.
    #[serde(default)]
    pub negative_sentiment_notify: Option<UrgencyConfig>,
    /// Crisis kind -> words (category `crisis:<kind>`).
    #[serde(default)]
    pub crisis_categories: BTreeMap<String, Vec<String>>,
    /// Move crises to this queue.
    #[serde(default)]
    pub crisis_queue: Option<String>,
    /// Notify this team of crises.
    #[serde(default)]
    pub crisis_team: Option<String>,
    /// Raise the priority of crises by this much.
    #[serde(default)]
    pub crisis_priority_raise: u32,
    /// Complaint category (topic) -> queue.
    #[serde(default)]
    pub complaint_queues: BTreeMap<String, String>,
    /// Queue for complaints whose category has none.
    #[serde(default)]
    pub complaint_queue: Option<String>,
    /// How a message is told from noise.
    #[serde(default)]
    pub detection: Detection,
    /// Customer tiers that are VIPs.
    #[serde(default)]
    pub vip_tiers: Vec<String>,
    /// Raise a VIP complaint's priority by this much.
    #[serde(default)]
    pub vip_complaint_priority_raise: u32,
    /// Page the supervisor of a VIP complaint at this urgency.
    #[serde(default)]
    pub vip_complaint_notify: Option<UrgencyConfig>,
    /// Words of a customer asking for a manager.
    #[serde(default)]
    pub manager_keywords: Vec<String>,
    /// Raise the priority by this much when a manager is asked for.
    #[serde(default = "ten")]
    pub manager_priority_raise: u32,
    /// Page the supervisor when a manager is asked for.
    #[serde(default = "high")]
    pub manager_notify: Option<UrgencyConfig>,
    /// Escalate a contact transferred this many times; none: never.
    #[serde(default)]
    pub transfer_limit: Option<u32>,
    /// Raise the priority by this much at the transfer limit.
    #[serde(default = "ten")]
    pub transfer_priority_raise: u32,
    /// Page the supervisor at the transfer limit.
    #[serde(default = "high")]
    pub transfer_notify: Option<UrgencyConfig>,
    /// Watch the service level of waiting contacts.
    #[serde(default)]
    pub service_level: Option<ServiceLevelWatch>,
    /// Regulatory complaint clocks (ASIC RG 271 style).
    #[serde(default)]
    pub regulatory: Option<Regulatory>,
    /// Move contacts matching an active incident to this queue.
    #[serde(default)]
    pub incident_queue: Option<String>,
    /// Page the supervisor about contacts matching an incident.
    #[serde(default)]
    pub incident_notify: Option<UrgencyConfig>,
    /// An agent's message acknowledges the complaint, as an answer does.
    #[serde(default = "default_true")]
    pub acknowledged_by_agent_message: bool,
}

fn default_threshold() -> f32 {
    -0.5
}

fn default_acknowledge_hours() -> u32 {
    24
}

fn default_true() -> bool {
    true
}

/// Complaint or noise: signals add up to a score.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// A complaint needs a score at least this high.
    #[serde(default = "one")]
    pub threshold: f32,
    /// Channel -> threshold (e.g. social posts need more).
    #[serde(default)]
    pub channel_thresholds: BTreeMap<String, f32>,
    /// A complaint keyword adds this.
    #[serde(default = "one")]
    pub keyword_weight: f32,
    /// Sentiment below this adds `negative_sentiment_weight`.
    #[serde(default = "minus_point_three")]
    pub negative_sentiment_below: f32,
    /// Weight of negative sentiment.
    #[serde(default = "half")]
    pub negative_sentiment_weight: f32,
    /// The brand's handles and names (`@acme`); a mention adds `mention_weight`.
    #[serde(default)]
    pub brand_handles: Vec<String>,
    /// Weight of a mention.
    #[serde(default = "half")]
    pub mention_weight: f32,
    /// An earlier same-topic contact adds this.
    #[serde(default = "half")]
    pub repeat_weight: f32,
    /// An open complaint of the customer adds this.
    #[serde(default = "half")]
    pub open_complaint_weight: f32,
    /// Spam and chatter words; one adds `noise_weight`.
    #[serde(default)]
    pub noise_keywords: Vec<String>,
    /// Weight of noise (negative).
    #[serde(default = "minus_two")]
    pub noise_weight: f32,
    /// A review `rating` (1-5) at or below this is a signal, like negative
    /// sentiment; 0: off. At most 3 (4 and 5 stars are never a signal).
    #[serde(default = "two")]
    pub low_rating_at_most: u8,
    /// Weight of a low rating.
    #[serde(default = "one")]
    pub low_rating_weight: f32,
    /// Social posts shorter than this many characters with no complaint
    /// signal are noise; 0: off.
    #[serde(default)]
    pub noise_min_chars: u32,
}

fn two() -> u8 {
    2
}

fn one() -> f32 {
    1.0
}

fn half() -> f32 {
    0.5
}

fn minus_point_three() -> f32 {
    -0.3
}

fn minus_two() -> f32 {
    -2.0
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            threshold: 1.0,
            channel_thresholds: BTreeMap::new(),
            keyword_weight: 1.0,
            negative_sentiment_below: -0.3,
            negative_sentiment_weight: 0.5,
            brand_handles: Vec::new(),
            mention_weight: 0.5,
            repeat_weight: 0.5,
            open_complaint_weight: 0.5,
            noise_keywords: Vec::new(),
            noise_weight: -2.0,
            low_rating_at_most: 2,
            low_rating_weight: 1.0,
            noise_min_chars: 0,
        }
    }
}

/// Raise the priority of contacts about to miss the service level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLevelWatch {
    /// Seconds within which a queued contact should be answered.
    #[serde(default = "thirty")]
    pub answer_within_secs: u32,
    /// Queue -> its own target.
    #[serde(default)]
    pub queue_targets: BTreeMap<String, u32>,
    /// Act this many seconds before the target is missed.
    #[serde(default = "ten")]
    pub warn_before_secs: u32,
    /// Raise the priority by this much.
    #[serde(default = "twenty")]
    pub priority_raise: u32,
    /// Page the supervisor at this urgency.
    #[serde(default)]
    pub notify: Option<UrgencyConfig>,
}

fn thirty() -> u32 {
    30
}

fn twenty() -> u32 {
    20
}

/// Regulatory complaint clocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regulatory {
    /// Acknowledge within this many business days (instead of hours).
    #[serde(default)]
    pub acknowledge_business_days: Option<u32>,
    /// Resolve within this many calendar days; none: no resolve clock.
    #[serde(default)]
    pub resolve_calendar_days: Option<u32>,
    /// Product -> its own limits.
    #[serde(default)]
    pub products: BTreeMap<String, ProductClock>,
    /// The contact attribute naming the product (else the topics are tried).
    #[serde(default = "product")]
    pub product_attribute: String,
    /// Warn this many hours before the resolve deadline.
    #[serde(default = "warn_hours")]
    pub resolve_warn_before_hours: Vec<u32>,
    /// Offset of local time from UTC, in minutes (AEST: 600).
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Working weekdays.
    #[serde(default = "weekdays")]
    pub business_days: Vec<Weekday>,
    /// Holidays, `YYYY-MM-DD` local dates.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Day-based deadlines end at 24:00 local of the last day.
    #[serde(default = "default_true")]
    pub end_of_day: bool,
}

fn product() -> String {
    "product".into()
}

fn warn_hours() -> Vec<u32> {
    vec![72, 24]
}

fn weekdays() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// A product's own limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductClock {
    /// Acknowledge within this many business days.
    #[serde(default)]
    pub acknowledge_business_days: Option<u32>,
    /// Resolve within this many calendar days.
    #[serde(default)]
    pub resolve_calendar_days: Option<u32>,
}

/// The escalation rule.
#[derive(Debug)]
pub struct ComplaintEscalation {
    config: Config,
    /// Keywords lower-cased once, so matching only lowers the text.
    complaint_keywords: Vec<String>,
    crisis: Vec<(Option<String>, Vec<String>)>,
    manager_keywords: Vec<String>,
    noise_keywords: Vec<String>,
    handles: Vec<String>,
    acknowledge_ms: i64,
    calendar: Option<Calendar>,
}

fn normalize(keywords: &[String]) -> Vec<String> {
    keywords
        .iter()
        .map(|k| k.trim().to_lowercase())
        .filter(|k| !k.is_empty())
        .collect()
}

/// The first keyword (in configured order) contained in the lower-cased text.
fn first_match<'k>(lowered_text: &str, keywords: &'k [String]) -> Option<&'k str> {
    keywords
        .iter()
        .find(|k| lowered_text.contains(k.as_str()))
        .map(String::as_str)
}

fn has_tag(contact: &Contact, tag: &str) -> bool {
    contact.tags.iter().any(|t| t == tag)
}

/// Still waiting for an agent.
fn waiting(contact: &Contact) -> bool {
    matches!(
        contact.state,
        ContactState::New
            | ContactState::Queued
            | ContactState::Offered
            | ContactState::Transferred
            | ContactState::Escalated
    )
}

impl EscalationRule for ComplaintEscalation {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if !(-1.0..=1.0).contains(&config.negative_sentiment_threshold) {
            return Err(format!(
                "negative_sentiment_threshold must be between -1.0 and 1.0, got {}",
                config.negative_sentiment_threshold
            ));
        }
        if config.acknowledge_within_hours == 0 {
            return Err("acknowledge_within_hours must be at least 1".into());
        }
        if config.transfer_limit == Some(0) {
            return Err("transfer_limit must be at least 1".into());
        }
        let d = &config.detection;
        if !(-1.0..=1.0).contains(&d.negative_sentiment_below) {
            return Err("detection.negative_sentiment_below must be between -1.0 and 1.0".into());
        }
        if d.low_rating_at_most > 3 {
            return Err(format!(
                "detection.low_rating_at_most must be 0-3 (4 and 5 stars are no complaint), got {}",
                d.low_rating_at_most
            ));
        }
        if let Some(s) = &config.service_level
            && s.warn_before_secs > s.answer_within_secs
        {
            return Err("service_level.warn_before_secs must not exceed answer_within_secs".into());
        }
        let calendar = match &config.regulatory {
            Some(r) => {
                let days: Vec<u8> = r
                    .business_days
                    .iter()
                    .map(|d| match d {
                        Weekday::Mon => 0,
                        Weekday::Tue => 1,
                        Weekday::Wed => 2,
                        Weekday::Thu => 3,
                        Weekday::Fri => 4,
                        Weekday::Sat => 5,
                        Weekday::Sun => 6,
                    })
                    .collect();
                if !(-14 * 60..=14 * 60).contains(&r.utc_offset_minutes) {
                    return Err("regulatory.utc_offset_minutes must be within -840..840".into());
                }
                Some(Calendar::new(r.utc_offset_minutes, &days, &r.holidays)?)
            }
            None => None,
        };
        let mut crisis: Vec<(Option<String>, Vec<String>)> = config
            .crisis_categories
            .iter()
            .map(|(kind, words)| (Some(kind.clone()), normalize(words)))
            .collect();
        crisis.push((None, normalize(&config.crisis_keywords)));
        Ok(ComplaintEscalation {
            complaint_keywords: normalize(&config.complaint_keywords),
            crisis,
            manager_keywords: normalize(&config.manager_keywords),
            noise_keywords: normalize(&config.detection.noise_keywords),
            handles: normalize(&config.detection.brand_handles),
            acknowledge_ms: i64::from(config.acknowledge_within_hours) * HOUR_MS,
            calendar,
            config,
        })
    }

    fn on_event(&self, input: EscalationInput) -> Result<EscalationOutcome, String> {
        let contact = &input.contact;
        let mut out = Outcome::default();
        match &input.event.kind {
            EventKind::Created => {
                let rating = review_rating(contact);
                let reading =
                    self.read_text(&input, &contact.text, contact.sentiment, rating, &mut out);
                self.check_sentiment(&input, contact.sentiment, &mut out);
                self.noise(&input, &reading, &mut out);
                self.watch_service_level(&input, &mut out);
            }
            EventKind::Message(m) if m.from_customer => {
                let sentiment = m.sentiment.or(contact.sentiment);
                self.read_text(&input, &m.text, sentiment, None, &mut out);
                self.check_sentiment(&input, sentiment, &mut out);
            }
            EventKind::Message(_)
                if self.config.acknowledged_by_agent_message && running(&input, ACKNOWLEDGE) =>
            {
                out.push(EscalationAction::StopDeadline(ACKNOWLEDGE.into()));
                out.reasons
                    .push("agent replied -> complaint acknowledged".into());
            }
            EventKind::SentimentChanged(s) => self.check_sentiment(&input, Some(*s), &mut out),
            EventKind::Answered(agent) if running(&input, ACKNOWLEDGE) => {
                out.push(EscalationAction::StopDeadline(ACKNOWLEDGE.into()));
                out.reasons
                    .push(format!("answered by {agent} -> complaint acknowledged"));
            }
            EventKind::Resolved if running(&input, RESOLVE) => {
                out.push(EscalationAction::StopDeadline(RESOLVE.into()));
                out.reasons.push("resolved -> resolve clock stopped".into());
            }
            EventKind::Transferred(_) => {
                self.check_transfers(&input, &mut out);
                self.watch_service_level(&input, &mut out);
            }
            EventKind::Queued(_) => self.watch_service_level(&input, &mut out),
            EventKind::TimerFired(name) if name == SLA_CHECK => {
                self.watch_service_level(&input, &mut out);
            }
            EventKind::DeadlineWarning(d) if d.name == ACKNOWLEDGE => {
                out.notify(
                    NotifyTarget::Supervisor,
                    Urgency::High,
                    format!(
                        "complaint on contact {} not yet acknowledged; due in {} min",
                        contact.id,
                        (d.due_at - input.now).max(0) / 60_000
                    ),
                );
                out.reasons
                    .push("acknowledge deadline warning -> supervisor notified".into());
            }
            EventKind::DeadlineBreached(d) if d.name == ACKNOWLEDGE => {
                out.notify(
                    NotifyTarget::Supervisor,
                    Urgency::Critical,
                    format!(
                        "complaint on contact {} was not acknowledged in time",
                        contact.id
                    ),
                );
                out.reasons
                    .push("acknowledge deadline breached -> supervisor notified".into());
            }
            EventKind::DeadlineWarning(d) if d.name == RESOLVE => {
                out.notify(
                    NotifyTarget::Supervisor,
                    Urgency::High,
                    format!(
                        "complaint on contact {} not yet resolved; due in {} h",
                        contact.id,
                        (d.due_at - input.now).max(0) / HOUR_MS
                    ),
                );
                out.reasons
                    .push("resolve deadline warning -> supervisor notified".into());
            }
            EventKind::DeadlineBreached(d) if d.name == RESOLVE => {
                out.notify(
                    NotifyTarget::Supervisor,
                    Urgency::Critical,
                    format!(
                        "complaint on contact {} was not resolved in time",
                        contact.id
                    ),
                );
                out.add_tag(contact, TAG_OVERDUE);
                out.reasons
                    .push("resolve deadline breached -> supervisor notified".into());
            }
            _ => {}
        }
        Ok(out.finish())
    }
}

fn running(input: &EscalationInput, name: &str) -> bool {
    input.deadlines.iter().any(|d| d.name == name)
}

/// Actions and the reasons for them, gathered while reading one event.
#[derive(Default)]
struct Outcome {
    actions: Vec<EscalationAction>,
    reasons: Vec<String>,
    recheck: Option<Recheck>,
}

impl Outcome {
    fn push(&mut self, action: EscalationAction) {
        self.actions.push(action);
    }

    fn notify(&mut self, target: NotifyTarget, urgency: Urgency, message: String) {
        self.actions.push(EscalationAction::Notify(Notification {
            target,
            urgency,
            message,
        }));
    }

    fn add_tag(&mut self, contact: &Contact, tag: &str) {
        let new = |a: &EscalationAction| !matches!(a, EscalationAction::AddTag(t) if t == tag);
        if !has_tag(contact, tag) && self.actions.iter().all(new) {
            self.actions.push(EscalationAction::AddTag(tag.into()));
        }
    }

    fn raise(&mut self, by: u32) {
        if by > 0 {
            self.actions.push(EscalationAction::RaisePriority(by));
        }
    }

    /// Move a contact that still waits for an agent to `queue`.
    fn move_to(&mut self, contact: &Contact, queue: &str) -> bool {
        let already = contact.queue.as_deref() == Some(queue)
            || self
                .actions
                .iter()
                .any(|a| matches!(a, EscalationAction::MoveQueue(_)));
        if already || !waiting(contact) {
            return false;
        }
        self.actions.push(EscalationAction::MoveQueue(queue.into()));
        true
    }

    fn finish(self) -> EscalationOutcome {
        if self.reasons.is_empty() {
            return EscalationOutcome::nothing("no complaint, crisis or negative sentiment");
        }
        EscalationOutcome {
            actions: self.actions,
            recheck: self.recheck,
            reason: self.reasons.join("; "),
        }
    }
}

impl ComplaintEscalation {
    /// Crisis, complaint, manager request and incidents in `text`; the
    /// review `rating` counts only for the `created` text.
    fn read_text(
        &self,
        input: &EscalationInput,
        text: &str,
        sentiment: Option<f32>,
        rating: Option<u8>,
        out: &mut Outcome,
    ) -> Reading<'_> {
        let contact = &input.contact;
        let lowered = text.to_lowercase();
        let crisis = self
            .crisis
            .iter()
            .find_map(|(kind, words)| first_match(&lowered, words).map(|w| (kind.as_deref(), w)));
        let mut complaint_found = false;
        let mut newly_marked = false;
        let score = self.complaint_score(input, &lowered, sentiment, rating);
        let complaint_signal = score.complaint_signal;

        if let Some((kind, keyword)) = crisis {
            complaint_found = true;
            if has_tag(contact, TAG_CRISIS) {
                out.reasons.push(format!(
                    "crisis keyword \"{keyword}\" again, already escalated"
                ));
            } else {
                newly_marked = true;
                let category = kind.map_or_else(|| "crisis".to_string(), |k| format!("crisis:{k}"));
                out.push(EscalationAction::MarkComplaint(Complaint {
                    category: category.clone(),
                    urgency: Urgency::Critical,
                }));
                out.notify(
                    NotifyTarget::Supervisor,
                    Urgency::Critical,
                    format!("crisis keyword \"{keyword}\" on contact {}", contact.id),
                );
                out.add_tag(contact, TAG_CRISIS);
                if kind.is_some() {
                    out.add_tag(contact, &category);
                }
                let mut why = format!(
                    "crisis keyword \"{keyword}\" -> {category} complaint, supervisor paged"
                );
                if let Some(team) = &self.config.crisis_team {
                    out.notify(
                        NotifyTarget::Team(team.clone()),
                        Urgency::Critical,
                        format!("{category} on contact {}: {keyword}", contact.id),
                    );
                    why.push_str(&format!(", team {team} notified"));
                }
                if let Some(q) = &self.config.crisis_queue
                    && out.move_to(contact, q)
                {
                    why.push_str(&format!(", moved to {q}"));
                }
                out.raise(self.config.crisis_priority_raise);
                if self.config.crisis_priority_raise > 0 {
                    why.push_str(&format!(
                        ", priority +{}",
                        self.config.crisis_priority_raise
                    ));
                }
                out.reasons.push(why);
            }
        } else if score.spoke {
            let keyword = score.keyword;
            let already = contact.complaint || has_tag(contact, TAG_COMPLAINT);
            if already && (score.is_complaint || keyword.is_some()) {
                // Still keeps the acknowledge clock if it is not running.
                complaint_found = true;
                out.reasons.push(match keyword {
                    Some(k) => format!("complaint keyword \"{k}\" again, already a complaint"),
                    None => "complaint signals again, already a complaint".into(),
                });
            } else if score.is_complaint {
                complaint_found = true;
                newly_marked = true;
                let category = contact
                    .topics
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "general".into());
                let vip = self.config.vip_tiers.contains(&contact.customer_tier);
                let mut why = if score.signals.len() == 1 && keyword.is_some() {
                    format!(
                        "complaint keyword \"{}\" -> complaint ({category})",
                        keyword.unwrap_or_default()
                    )
                } else {
                    format!(
                        "complaint score {:.2} >= {:.2} ({}) -> complaint ({category})",
                        score.total,
                        score.threshold,
                        score.signals.join(", ")
                    )
                };
                out.push(EscalationAction::MarkComplaint(Complaint {
                    category: category.clone(),
                    urgency: if vip { Urgency::High } else { Urgency::Normal },
                }));
                out.add_tag(contact, TAG_COMPLAINT);
                let queue = self
                    .config
                    .complaint_queues
                    .get(&category)
                    .or(self.config.complaint_queue.as_ref());
                if let Some(q) = queue
                    && out.move_to(contact, q)
                {
                    why.push_str(&format!(", moved to {q}"));
                }
                if vip {
                    out.add_tag(contact, TAG_VIP_COMPLAINT);
                    out.raise(self.config.vip_complaint_priority_raise);
                    if self.config.vip_complaint_priority_raise > 0 {
                        why.push_str(&format!(
                            ", vip priority +{}",
                            self.config.vip_complaint_priority_raise
                        ));
                    }
                    if let Some(u) = self.config.vip_complaint_notify {
                        out.notify(
                            NotifyTarget::Supervisor,
                            u.into(),
                            format!(
                                "complaint ({category}) from {} customer on contact {}",
                                contact.customer_tier, contact.id
                            ),
                        );
                        why.push_str(", vip -> supervisor paged");
                    }
                }
                out.reasons.push(why);
            } else if keyword.is_some() || score.low_rating {
                out.reasons.push(format!(
                    "complaint score {:.2} < {:.2} ({}) -> not a complaint",
                    score.total,
                    score.threshold,
                    score.signals.join(", ")
                ));
            }
        }

        if complaint_found {
            self.start_clocks(input, newly_marked, out);
        }
        let manager = self.manager_request(input, &lowered, out);
        let incident = self.incidents(input, &lowered, out);
        Reading {
            kept: complaint_found || manager || incident,
            noise_keyword: score.noise_keyword,
            complaint_signal,
        }
    }

    fn complaint_score(
        &self,
        input: &EscalationInput,
        lowered: &str,
        sentiment: Option<f32>,
        rating: Option<u8>,
    ) -> Score<'_> {
        let d = &self.config.detection;
        let contact = &input.contact;
        let mut signals = Vec::new();
        let mut total = 0.0f32;
        let keyword = first_match(lowered, &self.complaint_keywords);
        if let Some(k) = keyword {
            total += d.keyword_weight;
            signals.push(format!("keyword \"{k}\" {:+.2}", d.keyword_weight));
        }
        let negative = sentiment.filter(|s| *s < d.negative_sentiment_below);
        if let Some(s) = negative {
            total += d.negative_sentiment_weight;
            signals.push(format!(
                "sentiment {s:.2} {:+.2}",
                d.negative_sentiment_weight
            ));
        }
        // A low star rating says what negative sentiment says.
        let low_rating = rating.filter(|r| *r <= d.low_rating_at_most);
        if let Some(r) = low_rating {
            total += d.low_rating_weight;
            signals.push(format!("rating {r} {:+.2}", d.low_rating_weight));
        }
        if let Some(h) = first_match(lowered, &self.handles) {
            total += d.mention_weight;
            signals.push(format!("mention {h} {:+.2}", d.mention_weight));
        }
        let repeat = input.history.same_topic_repeats > 0;
        if repeat {
            total += d.repeat_weight;
            signals.push(format!("repeat contact {:+.2}", d.repeat_weight));
        }
        let open = input.history.open_complaints > 0;
        if open {
            total += d.open_complaint_weight;
            signals.push(format!("open complaint {:+.2}", d.open_complaint_weight));
        }
        let noise_keyword = first_match(lowered, &self.noise_keywords);
        if let Some(n) = noise_keyword {
            total += d.noise_weight;
            signals.push(format!("noise \"{n}\" {:+.2}", d.noise_weight));
        }
        // Signals without a keyword, negative sentiment or a low rating (a
        // repeat caller saying hello) are no complaint on their own.
        let spoke = keyword.is_some() || negative.is_some() || low_rating.is_some();
        let threshold = d
            .channel_thresholds
            .get(contact.channel.as_str())
            .copied()
            .unwrap_or(d.threshold);
        Score {
            keyword,
            spoke,
            low_rating: low_rating.is_some(),
            // A brand mention is how a post reaches the intake, not a grievance.
            complaint_signal: spoke || repeat || open,
            noise_keyword,
            is_complaint: spoke && total >= threshold,
            total,
            threshold,
            signals,
        }
    }

    /// Tag a `created` contact `noise` when it is no complaint (nor a
    /// crisis, manager request or incident, which a person must see) and a
    /// noise keyword matched, or it is a social post shorter than
    /// `noise_min_chars` with no complaint signal.
    fn noise(&self, input: &EscalationInput, reading: &Reading, out: &mut Outcome) {
        let contact = &input.contact;
        let complaint_already =
            contact.complaint || has_tag(contact, TAG_COMPLAINT) || has_tag(contact, TAG_CRISIS);
        if reading.kept || complaint_already {
            return;
        }
        let why = if let Some(k) = reading.noise_keyword {
            format!("noise keyword \"{k}\" -> noise")
        } else {
            let min = self.config.detection.noise_min_chars;
            let chars = contact.text.trim().chars().count();
            let short = usize::try_from(min).is_ok_and(|min| chars < min);
            if contact.channel != Channel::Social || !short || reading.complaint_signal {
                return;
            }
            format!(
                "social post of {chars} characters < noise_min_chars {min}, no complaint signal -> noise"
            )
        };
        // Always in the outcome, even on a contact tagged already: the
        // intake decides on this action.
        out.push(EscalationAction::AddTag(TAG_NOISE.into()));
        out.reasons.push(why);
    }

    /// Start the acknowledge clock (if not answered and not running) and,
    /// for a new complaint, the resolve clock.
    fn start_clocks(&self, input: &EscalationInput, newly_marked: bool, out: &mut Outcome) {
        let contact = &input.contact;
        let received = input.event.at;
        let product = self.product_clock(contact);
        let reg = self.config.regulatory.as_ref();
        if !running(input, ACKNOWLEDGE) && contact.times.answered_at.is_none() {
            let business_days = product
                .and_then(|p| p.acknowledge_business_days)
                .or(reg.and_then(|r| r.acknowledge_business_days));
            let (due_at, why) = match (business_days, &self.calendar, reg) {
                (Some(n), Some(cal), Some(r)) => (
                    cal.add_business_days(received, n, r.end_of_day),
                    format!("acknowledge within {n} business day{}", plural(n)),
                ),
                _ => (
                    received.saturating_add(self.acknowledge_ms),
                    format!("acknowledge within {}h", self.acknowledge_ms / HOUR_MS),
                ),
            };
            let warn = received.saturating_add((due_at - received).max(0) / 4 * 3);
            out.push(EscalationAction::StartDeadline(DeadlineStart {
                name: ACKNOWLEDGE.into(),
                due_at,
                warn_at: vec![warn],
            }));
            out.reasons.push(why);
        }
        let days = product
            .and_then(|p| p.resolve_calendar_days)
            .or(reg.and_then(|r| r.resolve_calendar_days));
        if let (true, Some(n), Some(cal), Some(r)) = (newly_marked, days, &self.calendar, reg)
            && !running(input, RESOLVE)
            && contact.times.resolved_at.is_none()
        {
            let due_at = cal.add_calendar_days(received, n, r.end_of_day);
            let mut warn_at: Vec<i64> = r
                .resolve_warn_before_hours
                .iter()
                .map(|h| due_at - i64::from(*h) * HOUR_MS)
                .filter(|w| *w > received)
                .collect();
            warn_at.sort_unstable();
            warn_at.dedup();
            out.push(EscalationAction::StartDeadline(DeadlineStart {
                name: RESOLVE.into(),
                due_at,
                warn_at,
            }));
            out.reasons
                .push(format!("resolve within {n} calendar day{}", plural(n)));
        }
    }

    /// The product's own limits: the product attribute, else the first
    /// topic with limits.
    fn product_clock(&self, contact: &Contact) -> Option<&ProductClock> {
        let r = self.config.regulatory.as_ref()?;
        contact
            .attribute(&r.product_attribute)
            .and_then(|p| r.products.get(p))
            .or_else(|| contact.topics.iter().find_map(|t| r.products.get(t)))
    }

    /// Whether the customer asks for a manager (acted on once).
    fn manager_request(&self, input: &EscalationInput, lowered: &str, out: &mut Outcome) -> bool {
        let contact = &input.contact;
        let Some(k) = first_match(lowered, &self.manager_keywords) else {
            return false;
        };
        if has_tag(contact, TAG_MANAGER) {
            return true;
        }
        out.add_tag(contact, TAG_MANAGER);
        out.raise(self.config.manager_priority_raise);
        let mut why = format!("asked for a manager (\"{k}\")");
        if self.config.manager_priority_raise > 0 {
            why.push_str(&format!(
                " -> priority +{}",
                self.config.manager_priority_raise
            ));
        }
        if let Some(u) = self.config.manager_notify {
            out.notify(
                NotifyTarget::Supervisor,
                u.into(),
                format!("customer on contact {} asks for a manager", contact.id),
            );
            why.push_str(", supervisor paged");
        }
        out.reasons.push(why);
        true
    }

    /// Whether the contact matches an active incident (tagged once).
    fn incidents(&self, input: &EscalationInput, lowered: &str, out: &mut Outcome) -> bool {
        let contact = &input.contact;
        let mut matched = false;
        for incident in input
            .incidents
            .iter()
            .filter(|i| incident_matches(i, contact, lowered))
        {
            matched = true;
            let tag = format!("incident:{}", incident.id);
            if has_tag(contact, &tag) {
                continue;
            }
            out.add_tag(contact, &tag);
            let mut why = format!("matches incident {} ({})", incident.id, incident.title);
            if let Some(q) = &self.config.incident_queue
                && out.move_to(contact, q)
            {
                why.push_str(&format!(" -> moved to {q}"));
            }
            if let Some(u) = self.config.incident_notify {
                out.notify(
                    NotifyTarget::Supervisor,
                    u.into(),
                    format!("contact {} matches incident {}", contact.id, incident.id),
                );
            }
            out.reasons.push(why);
        }
        matched
    }

    /// Raise the priority once if `sentiment` is below the threshold.
    fn check_sentiment(&self, input: &EscalationInput, sentiment: Option<f32>, out: &mut Outcome) {
        let Some(s) = sentiment else { return };
        let threshold = self.config.negative_sentiment_threshold;
        if s >= threshold || has_tag(&input.contact, TAG_NEGATIVE) {
            return;
        }
        out.raise(self.config.priority_raise);
        out.add_tag(&input.contact, TAG_NEGATIVE);
        let mut why = format!(
            "sentiment {s:.2} < {threshold:.2} -> priority +{}",
            self.config.priority_raise
        );
        if let Some(u) = self.config.negative_sentiment_notify {
            out.notify(
                NotifyTarget::Supervisor,
                u.into(),
                format!(
                    "very negative customer on contact {} ({s:.2})",
                    input.contact.id
                ),
            );
            why.push_str(", supervisor paged");
        }
        out.reasons.push(why);
    }

    fn check_transfers(&self, input: &EscalationInput, out: &mut Outcome) {
        let contact = &input.contact;
        let Some(limit) = self.config.transfer_limit else {
            return;
        };
        if contact.transfers < limit || has_tag(contact, TAG_TRANSFERS) {
            return;
        }
        out.add_tag(contact, TAG_TRANSFERS);
        out.raise(self.config.transfer_priority_raise);
        let mut why = format!(
            "transferred {} times (limit {limit}) -> priority +{}",
            contact.transfers, self.config.transfer_priority_raise
        );
        if let Some(u) = self.config.transfer_notify {
            out.notify(
                NotifyTarget::Supervisor,
                u.into(),
                format!(
                    "contact {} was transferred {} times",
                    contact.id, contact.transfers
                ),
            );
            why.push_str(", supervisor paged");
        }
        out.reasons.push(why);
    }

    /// Act when a waiting contact is about to miss its queue's target, or
    /// ask to be called again when it will be.
    fn watch_service_level(&self, input: &EscalationInput, out: &mut Outcome) {
        let Some(s) = &self.config.service_level else {
            return;
        };
        let contact = &input.contact;
        let Some(queued_at) = contact.times.queued_at else {
            return;
        };
        if !waiting(contact) || has_tag(contact, TAG_SLA) {
            return;
        }
        let target = contact
            .queue
            .as_ref()
            .and_then(|q| s.queue_targets.get(q))
            .copied()
            .unwrap_or(s.answer_within_secs);
        let act_at =
            queued_at.saturating_add(i64::from(target.saturating_sub(s.warn_before_secs)) * 1000);
        if input.now < act_at {
            out.recheck = Some(Recheck {
                name: SLA_CHECK.into(),
                at: act_at,
            });
            out.reasons.push(format!(
                "service level: check again {}s after queueing (target {target}s)",
                target.saturating_sub(s.warn_before_secs)
            ));
            return;
        }
        out.add_tag(contact, TAG_SLA);
        out.raise(s.priority_raise);
        let waited = (input.now - queued_at).max(0) / 1000;
        let mut why = format!(
            "waited {waited}s of a {target}s target -> priority +{}",
            s.priority_raise
        );
        if let Some(u) = s.notify {
            out.notify(
                NotifyTarget::Supervisor,
                u.into(),
                format!(
                    "contact {} in {} is about to miss its {target}s service level",
                    contact.id,
                    contact.queue.as_deref().unwrap_or("its queue")
                ),
            );
            why.push_str(", supervisor paged");
        }
        out.reasons.push(why);
    }
}

/// A complaint score and how it came about.
struct Score<'k> {
    keyword: Option<&'k str>,
    /// A complaint keyword, negative sentiment or a low rating: the text
    /// may be a complaint (the other signals only add to it).
    spoke: bool,
    low_rating: bool,
    /// Any signal but a brand mention or noise.
    complaint_signal: bool,
    noise_keyword: Option<&'k str>,
    is_complaint: bool,
    total: f32,
    threshold: f32,
    signals: Vec<String>,
}

/// What reading a text found, for the noise decision.
struct Reading<'k> {
    /// A crisis, a complaint (new or already marked), a manager request or
    /// an incident: a person must see the contact.
    kept: bool,
    noise_keyword: Option<&'k str>,
    complaint_signal: bool,
}

/// The review's star rating: the `rating` attribute as an integer 1-5;
/// anything else ("4.5", "five", "0") is ignored.
fn review_rating(contact: &Contact) -> Option<u8> {
    contact
        .attribute(RATING_ATTRIBUTE)?
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|r| (1..=5).contains(r))
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A keyword of the incident in the (lower-cased) text, or one of its
/// products among the topics or the `product` attribute.
fn incident_matches(incident: &Incident, contact: &Contact, lowered: &str) -> bool {
    let keyword = incident.keywords.iter().any(|k| {
        let k = k.trim().to_lowercase();
        !k.is_empty() && lowered.contains(&k)
    });
    let product = incident.products.iter().any(|p| {
        contact.topics.iter().any(|t| t.eq_ignore_ascii_case(p))
            || contact
                .attribute("product")
                .is_some_and(|a| a.eq_ignore_ascii_case(p))
    });
    keyword || product
}

switchboard_sdk::export_escalation_rule!(ComplaintEscalation);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
