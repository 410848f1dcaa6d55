//! The contact pipeline: ingest a contact, ask the active routing policy
//! (bounded, with the slot's fail policy when the plugin fails), persist the
//! contact and an audit record of the decision, and acknowledge only once
//! both are durable (group commit). Calls `plugins`, `domain`, `store`,
//! `audit`; called by the API. Synchronous: call it from a blocking thread.

mod convert;
mod events;
mod floor;
mod history;

pub use events::{ContactEvent, EventKind, RecordedEvent};

use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{AuditEntry, AuditLog};
use crate::domain::{Agent, AgentStatus, Channel, ContactState, Queue, Requirements};
use crate::plugins::{Activation, CallOutcome, FailPolicy, RoutingPolicy};
use crate::store::{SledStore, StoreError};

/// A contact as accepted over the API or from an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub channel: Channel,
    pub customer_id: String,
    #[serde(default = "standard")]
    pub customer_tier: String,
    #[serde(default = "english")]
    pub language: String,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub sentiment: Option<f32>,
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// Event time (ms since the epoch); the engine's clock when absent.
    #[serde(default)]
    pub occurred_at: Option<i64>,
}

fn standard() -> String {
    "standard".into()
}

fn english() -> String {
    "en".into()
}

/// A contact as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub id: String,
    pub channel: Channel,
    pub customer_id: String,
    pub customer_tier: String,
    pub language: String,
    pub topics: Vec<String>,
    pub text: String,
    pub sentiment: Option<f32>,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub state: ContactState,
    pub requirements: Requirements,
    pub created_at: i64,
    pub queued_at: Option<i64>,
    /// The agent offered or handling the contact.
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub offered_at: Option<i64>,
    #[serde(default)]
    pub answered_at: Option<i64>,
    #[serde(default)]
    pub wrap_up_at: Option<i64>,
    #[serde(default)]
    pub resolved_at: Option<i64>,
    #[serde(default)]
    pub abandoned_at: Option<i64>,
    /// Total time on hold, in milliseconds.
    #[serde(default)]
    pub hold_ms: u64,
    /// Since when the contact is on hold, if it is.
    #[serde(default)]
    pub held_since: Option<i64>,
    #[serde(default)]
    pub transfers: u32,
    /// Time of the latest event; later events may not be earlier.
    #[serde(default)]
    pub last_event_at: i64,
    /// Events recorded so far (the next event's sequence number).
    #[serde(default)]
    pub events: u64,
}

/// Who made a routing decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum DecidedBy {
    /// The active routing plugin answered.
    Plugin {
        plugin: String,
        version: String,
        digest: String,
    },
    /// The plugin failed (or none is active); the slot's fail policy decided.
    FailPolicy {
        policy: FailPolicy,
        outcome: Option<CallOutcome>,
        error: String,
    },
}

/// What `ingest` returns once the contact is durable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingested {
    pub contact: ContactRecord,
    pub decided_by: DecidedBy,
    pub reason: String,
    /// The audit record of the decision.
    pub audit_seq: u64,
    /// The agent the contact was offered to at once, if one was free.
    pub offered_to: Option<String>,
}

/// Why the engine refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Invalid(String),
    #[error("no contact with id `{0}`: check the id returned when it was created")]
    NotFound(String),
    #[error(transparent)]
    Transition(#[from] crate::domain::TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The audit data of a routing decision: enough to replay it.
#[derive(Serialize)]
struct DecisionRecord<'a> {
    decided_by: &'a DecidedBy,
    config_digest: &'a str,
    input_digest: &'a str,
    input: &'a serde_json::value::RawValue,
    output: &'a Option<Box<serde_json::value::RawValue>>,
    outcome: CallOutcome,
    duration_us: u64,
    queue: &'a str,
}

/// Queues the engine falls back to when a routing plugin fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackQueues {
    /// Fail-open: the contact is routed here, unskilled.
    pub default_queue: String,
    /// Fail-closed: the contact is held here for a person to triage.
    pub triage_queue: String,
}

impl Default for FallbackQueues {
    fn default() -> Self {
        Self {
            default_queue: "general".into(),
            triage_queue: "triage".into(),
        }
    }
}

/// The engine.
pub struct Engine {
    store: SledStore,
    audit: AuditLog,
    contacts: sled::Tree,
    customers: sled::Tree,
    /// Days of customer history routing sees.
    history_days: u32,
    events: sled::Tree,
    agents: sled::Tree,
    queues: sled::Tree,
    floor: parking_lot::Mutex<floor::Floor>,
    /// Serializes read-modify-write of existing contacts.
    updates: parking_lot::Mutex<()>,
    routing: RwLock<Option<Arc<Activation<RoutingPolicy>>>>,
    fallback: FallbackQueues,
    clock: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

const CONTACTS: &str = "contacts";
const CUSTOMERS: &str = "customers";
const EVENTS: &str = "events";
const AGENTS: &str = "agents";
const QUEUES: &str = "queues";

impl Engine {
    /// An engine over `store`, reading wall time.
    pub fn new(store: SledStore, fallback: FallbackQueues) -> Result<Self, EngineError> {
        let engine = Self {
            audit: AuditLog::open(&store)?,
            contacts: store.tree(CONTACTS)?,
            customers: store.tree(CUSTOMERS)?,
            events: store.tree(EVENTS)?,
            agents: store.tree(AGENTS)?,
            queues: store.tree(QUEUES)?,
            floor: parking_lot::Mutex::new(floor::Floor::default()),
            updates: parking_lot::Mutex::new(()),
            history_days: 30,
            store,
            routing: RwLock::new(None),
            fallback,
            clock: Box::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            }),
        };
        engine.rebuild_floor()?;
        Ok(engine)
    }

    /// Load agents and queues, and track every open contact.
    fn rebuild_floor(&self) -> Result<(), EngineError> {
        let mut floor = self.floor.lock();
        for kv in self.agents.iter() {
            let (_, v) = kv.map_err(StoreError::from)?;
            let a: Agent = decode(&v, "agent")?;
            floor.agents.insert(a.id.clone(), a);
        }
        for kv in self.queues.iter() {
            let (_, v) = kv.map_err(StoreError::from)?;
            let q: Queue = decode(&v, "queue")?;
            floor.queues.insert(q.name.clone(), q);
        }
        for kv in self.contacts.iter() {
            let (_, v) = kv.map_err(StoreError::from)?;
            let c: ContactRecord = decode(&v, "contact")?;
            if !c.state.is_terminal() {
                floor.track(&c, c.last_event_at);
            }
        }
        Ok(())
    }

    /// Add or replace an agent; contacts waiting for them are offered.
    pub fn upsert_agent(&self, agent: Agent) -> Result<Vec<(String, String)>, EngineError> {
        if agent.id.trim().is_empty() {
            return Err(EngineError::Invalid("agent `id` must not be empty".into()));
        }
        if let Some((skill, level)) = agent.skills.iter().find(|(_, l)| !(1..=5).contains(*l)) {
            return Err(EngineError::Invalid(format!(
                "skill `{skill}` has proficiency {level}; proficiency is 1 (novice) to 5 (expert)"
            )));
        }
        self.agents
            .insert(agent.id.as_bytes(), encode(&agent)?)
            .map_err(StoreError::from)?;
        self.store.make_durable()?;
        let now = (self.clock)();
        self.floor.lock().agents.insert(agent.id.clone(), agent);
        self.dispatch(now)
    }

    /// Change an agent's status; when they become available, waiting
    /// contacts are offered.
    pub fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let mut agent = self
            .floor
            .lock()
            .agents
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(id.to_owned()))?;
        agent.status = status;
        self.upsert_agent(agent)
    }

    /// Add or replace a queue.
    pub fn upsert_queue(&self, queue: Queue) -> Result<(), EngineError> {
        if queue.name.trim().is_empty() {
            return Err(EngineError::Invalid(
                "queue `name` must not be empty".into(),
            ));
        }
        self.queues
            .insert(queue.name.as_bytes(), encode(&queue)?)
            .map_err(StoreError::from)?;
        self.store.make_durable()?;
        self.floor.lock().queues.insert(queue.name.clone(), queue);
        Ok(())
    }

    /// Agents with their current load, and how many contacts wait.
    pub fn floor(&self) -> (Vec<Agent>, usize) {
        let floor = self.floor.lock();
        (floor.agents_with_load(), floor.waiting())
    }

    /// Offer waiting contacts to free agents; returns (contact, agent) pairs.
    pub fn dispatch(&self, now: i64) -> Result<Vec<(String, String)>, EngineError> {
        let offers = self.floor.lock().dispatch(now);
        let mut made = Vec::new();
        for offer in offers {
            let event = ContactEvent {
                kind: EventKind::Offer {
                    agent_id: offer.agent_id.clone(),
                },
                occurred_at: Some(now),
            };
            match self.record_event_inner(&offer.contact_id, event, true) {
                Ok(_) => made.push((offer.contact_id, offer.agent_id)),
                Err(e) => {
                    // The contact moved on meanwhile (e.g. abandoned): re-sync.
                    tracing::debug!(contact = %offer.contact_id, error = %e, "offer not made");
                    if let Some(c) = self.contact(&offer.contact_id)? {
                        self.floor.lock().track(&c, now);
                    }
                }
            }
        }
        Ok(made)
    }

    /// Read time from `clock` instead (imports, simulations, tests).
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Make `activation` the routing policy for new contacts. Calls already
    /// running finish on the version they started with.
    pub fn set_routing(&self, activation: Option<Arc<Activation<RoutingPolicy>>>) {
        *self.routing.write() = activation;
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The store.
    pub fn store(&self) -> &SledStore {
        &self.store
    }

    /// A contact by id.
    pub fn contact(&self, id: &str) -> Result<Option<ContactRecord>, EngineError> {
        match self.contacts.get(id.as_bytes()).map_err(StoreError::from)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("contact {id}: {e}")).into()),
        }
    }

    /// Accept a contact: route it, persist it with an audit record of the
    /// decision, and return once both are durable.
    #[tracing::instrument(skip_all, fields(customer = %new.customer_id))]
    pub fn ingest(&self, new: NewContact) -> Result<Ingested, EngineError> {
        if new.customer_id.trim().is_empty() {
            return Err(EngineError::Invalid(
                "`customer_id` must not be empty: give the customer's id in your CRM".into(),
            ));
        }
        let now = new.occurred_at.unwrap_or_else(|| (self.clock)());
        let id = format!("c-{:012}", self.store.generate_id()?);
        let mut contact = ContactRecord {
            id,
            channel: new.channel,
            customer_id: new.customer_id,
            customer_tier: new.customer_tier,
            language: new.language,
            topics: new.topics,
            text: new.text,
            sentiment: new.sentiment,
            attributes: new.attributes,
            tags: Vec::new(),
            state: ContactState::New,
            requirements: Requirements::default(),
            created_at: now,
            queued_at: None,
            agent_id: None,
            offered_at: None,
            answered_at: None,
            wrap_up_at: None,
            resolved_at: None,
            abandoned_at: None,
            hold_ms: 0,
            held_since: None,
            transfers: 0,
            last_event_at: now,
            events: 0,
        };

        let routing = self.routing.read().clone();
        // Account flags (e.g. "legacy", "chronic-bug") arrive as the
        // comma-separated `flags` attribute from the CRM or IVR.
        let flags = contact
            .attributes
            .get("flags")
            .map(|f| {
                f.split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let history = history::summary(
            &self.customers,
            &contact.customer_id,
            &contact.topics,
            now,
            self.history_days,
            flags,
        )?;
        let input = convert::routing_input(&contact, history, now);
        let started = Instant::now();
        let (decided_by, requirements, tags, reason, output, outcome) = match &routing {
            Some(act) => match act.route(&input) {
                Ok(decision) => {
                    let p = act.plugin().id();
                    let output = serde_json::value::to_raw_value(&decision).ok();
                    let (req, tags, reason) = convert::requirements(decision);
                    (
                        DecidedBy::Plugin {
                            plugin: p.id.to_string(),
                            version: p.version.to_string(),
                            digest: p.digest.to_string(),
                        },
                        req,
                        tags,
                        reason,
                        output,
                        CallOutcome::Ok,
                    )
                }
                Err(err) => {
                    let policy = act.plugin().manifest().fail_policy;
                    let (req, reason) = self.fallback(policy, &err.to_string());
                    (
                        DecidedBy::FailPolicy {
                            policy,
                            outcome: Some(err.outcome()),
                            error: err.to_string(),
                        },
                        req,
                        Vec::new(),
                        reason,
                        None,
                        err.outcome(),
                    )
                }
            },
            None => {
                let (req, reason) =
                    self.fallback(FailPolicy::FailOpen, "no routing policy is active");
                (
                    DecidedBy::FailPolicy {
                        policy: FailPolicy::FailOpen,
                        outcome: None,
                        error: "no routing policy is active".into(),
                    },
                    req,
                    Vec::new(),
                    reason,
                    None,
                    CallOutcome::Error,
                )
            }
        };
        let duration_us = started.elapsed().as_micros() as u64;

        contact.state = ContactState::Queued;
        contact.queued_at = Some(now);
        contact.tags = tags;
        contact.requirements = requirements;

        // Serialized once: digested, then embedded in the audit record as is.
        let input_json = serde_json::value::to_raw_value(&input)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode routing input: {e}")))?;
        let input_digest = hex::encode(Sha256::digest(input_json.get().as_bytes()));
        let (actor, config_digest) = match &routing {
            Some(act) => (
                format!(
                    "plugin:{}@{}",
                    act.plugin().id().id,
                    act.plugin().id().version
                ),
                act.config_digest().to_owned(),
            ),
            None => ("engine".to_owned(), String::new()),
        };
        let record = self.audit.append(AuditEntry {
            at: now,
            actor,
            kind: "routing.decision".into(),
            subject: contact.id.clone(),
            data: serde_json::value::to_raw_value(&DecisionRecord {
                decided_by: &decided_by,
                config_digest: &config_digest,
                input_digest: &input_digest,
                input: &input_json,
                output: &output,
                outcome,
                duration_us,
                queue: &contact.requirements.queue,
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot encode audit record: {e}")))?,
        })?;
        let bytes = serde_json::to_vec(&contact)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode contact: {e}")))?;
        self.contacts
            .insert(contact.id.as_bytes(), bytes)
            .map_err(StoreError::from)?;
        history::record(
            &self.customers,
            &contact.customer_id,
            &contact.id,
            contact.channel,
            &contact.topics,
            now,
        )?;
        self.store.make_durable()?;
        self.floor.lock().track(&contact, now);
        let offered_to = self
            .dispatch(now)?
            .into_iter()
            .find(|(c, _)| c == &contact.id)
            .map(|(_, agent)| agent);
        Ok(Ingested {
            contact,
            decided_by,
            reason,
            audit_seq: record.seq,
            offered_to,
        })
    }

    fn fallback(&self, policy: FailPolicy, error: &str) -> (Requirements, String) {
        let (queue, what) = match policy {
            FailPolicy::FailClosed => (&self.fallback.triage_queue, "fail-closed: held for triage"),
            // `last-good` needs version history; until a previous version is
            // known it behaves as fail-open.
            FailPolicy::FailOpen | FailPolicy::LastGood => {
                (&self.fallback.default_queue, "fail-open: default queue")
            }
        };
        (
            Requirements {
                queue: queue.clone(),
                ..Requirements::default()
            },
            format!("routing plugin failed ({error}); {what} {queue}"),
        )
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("stored {what}: {e}")))
}

#[cfg(test)]
mod tests;
