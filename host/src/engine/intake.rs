//! Intake beyond `POST /v1/contacts`: public social posts and reviews
//! (seed articles 000 and 001, "social listening"), IVR and bot hand-offs
//! (articles 000 and 004), and the customer context an agent sees when a
//! contact is assigned (article 000, "research the customer's background").
//!
//! Both intakes are idempotent: a deduplication key (`social/<source>/<post>`
//! or `handoff/<source>/<session>`) is written in the same commit as the
//! contact (or the discard), so a re-delivered post or hand-off returns the
//! first outcome and never makes a second contact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::reactions::{call_entries, escalation_input};
use super::{
    Complaint, ContactRecord, DeadlineClock, Engine, EngineError, Ingested, NewContact,
    SurveyScores, decode, encode, history,
};
use crate::domain::{Channel, ContactState};
use crate::plugins::escalation::EscalationAction;
use crate::plugins::types as wit;

pub(super) const INTAKE: &str = "intake";

/// The tag an escalation rule adds on `created` to discard a post as noise.
pub const NOISE_TAG: &str = "noise";

/// Options of [`Engine::ingest_with`].
#[derive(Debug, Default)]
pub(super) struct Intake {
    /// Deduplication key, written with the contact.
    pub dedup: Option<Vec<u8>>,
    /// Resolved in self-service: not routed, resolved at creation.
    pub contained: bool,
}

/// What a deduplication key remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum Seen {
    Contact { contact_id: String },
    Discarded { reason: String, at: i64 },
}

/// A public post or review to take in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialPost {
    /// Where it was posted, e.g. "twitter", "facebook", "app-store".
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
    pub source: String,
    /// The post's id at the source; with `source`, the deduplication key.
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
    pub post_id: String,
    /// The author's handle.
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
    pub author: String,
    pub text: String,
    /// A review's star rating, 1-5.
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::stars)]
    pub rating: Option<u8>,
    #[serde(default)]
    pub url: Option<String>,
    /// When it was posted (ms since the epoch); the engine's clock when absent.
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::event_time)]
    pub posted_at: Option<i64>,
    /// The customer's id when the author is known; else `social:<source>:<author>`.
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::sentiment)]
    pub sentiment: Option<f64>,
}

/// Where a hand-off comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandoffSource {
    Ivr,
    Bot,
}

impl HandoffSource {
    fn as_str(self) -> &'static str {
        match self {
            HandoffSource::Ivr => "ivr",
            HandoffSource::Bot => "bot",
        }
    }
}

/// How far the IVR or bot authenticated the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthLevel {
    None,
    Basic,
    Strong,
}

/// A contact handed over by an IVR or a bot, with what it collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    pub source: HandoffSource,
    /// The IVR call or bot session id; with `source`, the idempotency key.
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
    pub external_id: String,
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
    pub customer_id: String,
    /// Default: `voice` from an IVR, `chat` from a bot.
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub customer_tier: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// The IVR menu choices in order, e.g. ["billing", "card", "lost"].
    #[serde(default)]
    pub menu_path: Vec<String>,
    /// The intent the bot recognised; becomes the first topic.
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub auth_level: Option<AuthLevel>,
    /// Fields collected (order number, account type, ...).
    #[serde(default, deserialize_with = "crate::domain::unique_keys")]
    pub collected: BTreeMap<String, String>,
    #[serde(default)]
    pub topics: Vec<String>,
    /// The customer's words or the bot transcript summary.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::sentiment)]
    pub sentiment: Option<f64>,
    /// The session ended in self-service: the customer needed no agent.
    /// The contact is recorded resolved (for containment), not routed.
    #[serde(default)]
    pub resolved: bool,
    /// Hand-off time (ms since the epoch); the engine's clock when absent.
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::event_time)]
    pub occurred_at: Option<i64>,
}

/// What an intake did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntakeOutcome {
    /// `contact` or `discarded`.
    pub outcome: String,
    /// The contact made (now or by the first delivery).
    pub contact_id: Option<String>,
    /// This delivery was seen before; nothing new was made.
    pub duplicate: bool,
    /// Why it was discarded, or how the contact was routed.
    pub reason: String,
    /// The contact as made, on the first delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingested: Option<Ingested>,
}

/// An earlier (or the current) contact of the customer, as an agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PastContactView {
    pub id: String,
    pub channel: Channel,
    pub state: ContactState,
    pub topics: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub agent_id: Option<String>,
    pub complaint: Option<Complaint>,
    pub survey: Option<SurveyScores>,
    /// The first 200 characters of the customer's text.
    pub excerpt: String,
}

/// A complaint not yet resolved, with its running clocks.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OpenComplaint {
    pub contact_id: String,
    pub complaint: Complaint,
    pub clocks: Vec<DeadlineClock>,
}

/// Everything the agent should know before answering, so the customer
/// never has to repeat themselves.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerContext {
    pub contact_id: String,
    pub customer_id: String,
    pub customer_tier: String,
    /// Tags the rules added to this contact.
    pub tags: Vec<String>,
    /// What the IVR, bot or CRM collected.
    pub attributes: BTreeMap<String, String>,
    /// How many days back `recent` goes.
    pub window_days: u32,
    /// The customer's other contacts in the window, newest first, across channels.
    pub recent: Vec<PastContactView>,
    pub open_complaints: Vec<OpenComplaint>,
    /// Agents who handled the customer before, most recent first.
    pub previous_agents: Vec<String>,
    /// The latest survey answer in the window.
    pub last_survey: Option<LastSurvey>,
}

/// A survey answer and the contact it was about.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LastSurvey {
    pub contact_id: String,
    #[serde(flatten)]
    pub scores: SurveyScores,
}

const CONTEXT_CONTACTS: usize = 50;
const DAY_MS: i64 = 86_400_000;

fn dedup_key(kind: &str, source: &str, id: &str) -> Vec<u8> {
    format!("{kind}/{source}/{id}").into_bytes()
}

fn required(name: &str, value: &str, example: &str) -> Result<(), EngineError> {
    if crate::domain::bounds::is_blank(value) {
        return Err(EngineError::Invalid(format!(
            "`{name}` must not be empty, e.g. {example}"
        )));
    }
    Ok(())
}

impl Engine {
    pub(super) fn seen(&self, key: &[u8]) -> Result<Option<Seen>, EngineError> {
        Ok(self
            .store
            .get(INTAKE, key)?
            .map(|v| decode(&v, "intake record"))
            .transpose()?)
    }

    fn repeat(seen: Seen) -> IntakeOutcome {
        match seen {
            Seen::Contact { contact_id } => IntakeOutcome {
                outcome: "contact".into(),
                contact_id: Some(contact_id),
                duplicate: true,
                reason: "delivered before; the first delivery made this contact".into(),
                ingested: None,
            },
            Seen::Discarded { reason, .. } => IntakeOutcome {
                outcome: "discarded".into(),
                contact_id: None,
                duplicate: true,
                reason,
                ingested: None,
            },
        }
    }

    fn made(ingested: Ingested) -> IntakeOutcome {
        IntakeOutcome {
            outcome: "contact".into(),
            contact_id: Some(ingested.contact.id.clone()),
            duplicate: false,
            reason: ingested.reason.clone(),
            ingested: Some(ingested),
        }
    }

    /// Take in a public post or review: a social contact, or discarded as
    /// noise when an escalation rule tags it `noise` on creation.
    pub fn intake_social(&self, post: SocialPost) -> Result<IntakeOutcome, EngineError> {
        required("source", &post.source, "\"twitter\"")?;
        required("post_id", &post.post_id, "the post's id at the source")?;
        required("author", &post.author, "the author's handle")?;
        if let Some(r) = post
            .rating
            .filter(|r| !crate::domain::bounds::STARS.contains(r))
        {
            return Err(EngineError::Invalid(format!(
                "`rating` is 1-5 stars, got {r}"
            )));
        }
        let key = dedup_key("social", &post.source, &post.post_id);
        // Checked now, and again when the decision is applied: two
        // deliveries racing make one contact (decision 0003).
        if let Some(seen) = self.seen(&key)? {
            return Ok(Self::repeat(seen));
        }
        let mut attributes = BTreeMap::from([
            ("social.source".to_owned(), post.source.clone()),
            ("social.author".to_owned(), post.author.clone()),
            ("social.post_id".to_owned(), post.post_id.clone()),
        ]);
        if let Some(url) = &post.url {
            attributes.insert("social.url".into(), url.clone());
        }
        if let Some(r) = post.rating {
            attributes.insert("rating".into(), r.to_string());
        }
        let new = NewContact {
            channel: Channel::Social,
            customer_id: post
                .customer_id
                .clone()
                .unwrap_or_else(|| format!("social:{}:{}", post.source, post.author)),
            customer_tier: "standard".into(),
            language: post.language.clone().unwrap_or_else(|| "en".into()),
            topics: post.topics.clone(),
            text: post.text.clone(),
            sentiment: post.sentiment,
            attributes,
            occurred_at: post.posted_at,
        };
        let candidate = self.new_record(new)?;
        match self.noise(&candidate, &key)? {
            Some(Ok(reason)) => {
                return Ok(IntakeOutcome {
                    outcome: "discarded".into(),
                    contact_id: None,
                    duplicate: false,
                    reason,
                    ingested: None,
                });
            }
            Some(Err(seen)) => return Ok(Self::repeat(seen)),
            None => {}
        }
        let ingested = self.ingest_with(
            candidate,
            super::Intake {
                dedup: Some(key),
                contained: false,
            },
        )?;
        Ok(ingested.map_or_else(Self::repeat, Self::made))
    }

    /// Ask the escalation rules whether `c` is noise; a discard is recorded
    /// (audit with the deciding plugin version, and the deduplication key).
    /// `Some(Err(seen))`: another delivery of the same post was taken in
    /// while the rules were deciding.
    #[allow(clippy::type_complexity)]
    fn noise(
        &self,
        c: &ContactRecord,
        key: &[u8],
    ) -> Result<Option<Result<String, Seen>>, EngineError> {
        let now = c.created_at;
        let history = self.history_of(c, now)?;
        let incidents = self.active_incidents(now);
        let subject = String::from_utf8_lossy(key).into_owned();
        for slot in self.escalation.all() {
            let event = wit::Event {
                kind: wit::EventKind::Created,
                at: now,
                sequence: 0,
            };
            let input = escalation_input(c, event, now, &history, None, &incidents);
            let Ok(call) = slot.call_metered(|a| a.on_event_metered(&input, &|_| Ok(()))) else {
                continue;
            };
            let noise = call.result.as_ref().ok().and_then(|o| {
                o.actions
                    .iter()
                    .any(|a| matches!(a, EscalationAction::AddTag(t) if t == NOISE_TAG))
                    .then(|| format!("noise by `{}`: {}", slot.name(), o.reason))
            });
            let Some(reason) = noise else {
                continue;
            };
            let mut audit =
                call_entries(&slot, &call, "intake.classification", &subject, now, &input)?;
            audit.push(crate::audit::AuditEntry {
                at: now,
                actor: "engine".into(),
                kind: "intake.discarded".into(),
                subject: subject.clone(),
                data: serde_json::value::to_raw_value(&serde_json::json!({
                    "reason": reason,
                    "text": c.text,
                    "attributes": c.attributes,
                }))
                .map_err(|e| crate::store::StoreError::Corrupt(format!("cannot encode: {e}")))?,
            });
            let mut r = super::reactions::Reaction {
                audit,
                absent: vec![(INTAKE, key.to_vec())],
                ..Default::default()
            };
            r.writes.put(
                INTAKE,
                key.to_vec(),
                encode(&Seen::Discarded {
                    reason: reason.clone(),
                    at: now,
                })?,
            );
            if self.commit_change(&mut r, true)?.is_none() {
                return match self.seen(key)? {
                    Some(seen) => Ok(Some(Err(seen))),
                    None => Err(EngineError::Conflict(
                        "this delivery raced another one; send it again".into(),
                    )),
                };
            }
            self.store.make_durable()?;
            return Ok(Some(Ok(reason)));
        }
        Ok(None)
    }

    /// Take in a hand-off from an IVR or bot, idempotently by its session id.
    pub fn intake_handoff(&self, h: Handoff) -> Result<IntakeOutcome, EngineError> {
        required(
            "external_id",
            &h.external_id,
            "the IVR call or bot session id",
        )?;
        let source = h.source.as_str();
        let key = dedup_key("handoff", source, &h.external_id);
        if let Some(seen) = self.seen(&key)? {
            return Ok(Self::repeat(seen));
        }
        let mut attributes = BTreeMap::from([
            ("handoff.source".to_owned(), source.to_owned()),
            ("handoff.id".to_owned(), h.external_id.clone()),
        ]);
        if !h.menu_path.is_empty() {
            attributes.insert("ivr.menu_path".into(), h.menu_path.join(">"));
        }
        if let Some(intent) = &h.intent {
            attributes.insert(format!("{source}.intent"), intent.clone());
        }
        if let Some(level) = h.auth_level {
            let level = serde_json::to_value(level)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            attributes.insert("auth.level".into(), level);
        }
        for (k, v) in &h.collected {
            required("collected key", k, "\"order_number\"")?;
            attributes.insert(format!("collected.{k}"), v.clone());
        }
        let mut topics = h.topics.clone();
        if let Some(intent) = h.intent.as_ref().filter(|i| !i.trim().is_empty()) {
            topics.retain(|t| t != intent);
            topics.insert(0, intent.clone());
        }
        let new = NewContact {
            channel: h.channel.unwrap_or(match h.source {
                HandoffSource::Ivr => Channel::Voice,
                HandoffSource::Bot => Channel::Chat,
            }),
            customer_id: h.customer_id,
            customer_tier: h.customer_tier.unwrap_or_else(|| "standard".into()),
            language: h.language.unwrap_or_else(|| "en".into()),
            topics,
            text: h.text,
            sentiment: h.sentiment,
            attributes,
            occurred_at: h.occurred_at,
        };
        let ingested = self.ingest_with(
            self.new_record(new)?,
            super::Intake {
                dedup: Some(key),
                contained: h.resolved,
            },
        )?;
        Ok(ingested.map_or_else(Self::repeat, Self::made))
    }

    /// What the agent handling contact `id` should know about its customer.
    pub fn customer_context(&self, id: &str) -> Result<CustomerContext, EngineError> {
        let c = self
            .contact(id)?
            .ok_or_else(|| EngineError::no_contact(id))?;
        let window_days = self.history_days;
        let to = c.created_at.max((self.clock)());
        let from = c.created_at.saturating_sub(i64::from(window_days) * DAY_MS);
        let ids = history::contact_ids(&*self.store, &c.customer_id, from, to, CONTEXT_CONTACTS)?;
        let mut recent = Vec::new();
        let mut open_complaints = Vec::new();
        let mut previous_agents: Vec<String> = Vec::new();
        let mut last_survey = None;
        let current = std::iter::once(Ok(Some(c.clone())));
        let others = ids
            .iter()
            .filter(|other| *other != id)
            .map(|other| self.contact(other));
        for past in current.chain(others) {
            let Some(p) = past? else { continue };
            if let Some(complaint) = p.complaint.clone().filter(|_| p.resolved_at.is_none()) {
                open_complaints.push(OpenComplaint {
                    contact_id: p.id.clone(),
                    complaint,
                    clocks: p
                        .deadlines
                        .iter()
                        .filter(|d| d.running())
                        .cloned()
                        .collect(),
                });
            }
            if p.id == id {
                continue;
            }
            if let Some(a) = p.agent_id.as_ref().filter(|a| !previous_agents.contains(a)) {
                previous_agents.push(a.clone());
            }
            if last_survey.is_none()
                && let Some(s) = &p.survey
            {
                last_survey = Some(LastSurvey {
                    contact_id: p.id.clone(),
                    scores: s.clone(),
                });
            }
            recent.push(PastContactView {
                excerpt: p.text.chars().take(200).collect(),
                id: p.id,
                channel: p.channel,
                state: p.state,
                topics: p.topics,
                tags: p.tags,
                created_at: p.created_at,
                resolved_at: p.resolved_at,
                agent_id: p.agent_id,
                complaint: p.complaint,
                survey: p.survey,
            });
        }
        Ok(CustomerContext {
            contact_id: c.id,
            customer_id: c.customer_id,
            customer_tier: c.customer_tier,
            tags: c.tags,
            attributes: c.attributes,
            window_days,
            recent,
            open_complaints,
            previous_agents,
            last_survey,
        })
    }
}
