//! The contact pipeline: ingest a contact, ask the active routing policy
//! (bounded, with the slot's fail policy when the plugin fails), feed every
//! lifecycle event to the escalation rules and KPI definitions, apply what
//! they decide, keep durable timers, and acknowledge only once the contact,
//! its events and the audit records of every decision are durable (group
//! commit). Calls `plugins`, `domain`, `store`, `audit`; called by the API.
//! Synchronous: call it from a blocking thread.

mod backfill;
mod convert;
mod drafts;
mod events;
mod floor;
mod history;
mod incidents;
mod intake;
mod kpi;
mod marks;
mod offers;
mod reactions;
mod reports;
mod schedules;
mod slots;
mod timers;

pub use backfill::{BackfillReport, StillFailing};
pub use drafts::{DraftCheck, DraftRecord, DraftState, SlotFinding};
pub use events::{ContactEvent, EventKind, RecordedEvent};
pub use incidents::{Incident, NewIncident, ProactiveMessage};
use intake::Intake;
pub use intake::{
    AuthLevel, CustomerContext, Handoff, HandoffSource, IntakeOutcome, LastSurvey, NOISE_TAG,
    OpenComplaint, PastContactView, SocialPost,
};
pub use kpi::{Aggregates, Aggregation, KpiPoint, KpiQuery, KpiSeries, MeasureInfo};
pub use marks::{Complaint, DeadlineClock, Notification};
pub use reports::{AgentReport, GoalProgress, REPORT_MEASURES, ReportRow, goal_measures};
pub use schedules::{
    Activity, Adherence, Direction, Goal, GoalScope, PlannedActivity, Schedule, SchedulePut,
};
pub use slots::{
    AutoRollback, DEFAULT_QUARANTINE_AFTER, Quarantined, RollbackBell, RolledBack, Slot, SlotMap,
    Unserved,
};
pub use timers::{Timer, TimerKind};

use std::ops::Bound;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{AuditEntry, AuditLog};
use crate::domain::{Agent, AgentStatus, Channel, ContactState, Queue, Requirements, bounds};
use crate::plugins::types as wit;
use crate::plugins::{
    Activation, CallOutcome, ComplianceCheck, EscalationRule, FailPolicy, KpiDefinition,
    RoutingPolicy,
};
use crate::store::{Store, StoreError, Writes};

/// A contact as accepted over the API or from an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub channel: Channel,
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
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
    #[schema(schema_with = crate::domain::bounds::schema::sentiment)]
    pub sentiment: Option<f64>,
    #[serde(default, deserialize_with = "crate::domain::unique_keys")]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// Event time (ms since the epoch); the engine's clock when absent.
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::event_time)]
    pub occurred_at: Option<i64>,
}

fn standard() -> String {
    "standard".into()
}

fn english() -> String {
    "en".into()
}

/// A contact as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Set when an escalation rule marked the contact as a complaint.
    #[serde(default)]
    pub complaint: Option<Complaint>,
    /// Deadline clocks started by escalation rules.
    #[serde(default)]
    pub deadlines: Vec<DeadlineClock>,
    /// The customer's survey answer, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<SurveyScores>,
    /// While offered: when the offer expires unanswered (the queue's
    /// `offer_timeout_secs` after the offer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_expires_at: Option<i64>,
    /// The id of the offer's expiry timer, removed when the offer closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_timer: Option<u64>,
    /// When it entered its current queue, if an overflow moved it there
    /// after `queued_at` (its wait still counts from `queued_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_queue_since: Option<i64>,
    /// The latest offer of this contact that expired unanswered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_offer: Option<MissedOffer>,
}

/// An offer that expired unanswered: the agent who missed it is not
/// offered the contact again before `retry_after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MissedOffer {
    pub agent_id: String,
    pub at: i64,
    pub retry_after: i64,
}

/// A post-contact survey answer, as kept on the contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurveyScores {
    pub csat: Option<u8>,
    pub nps: Option<u8>,
    pub ces: Option<u8>,
    pub comment: Option<String>,
    pub at: i64,
}

/// Who made a routing decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum DecidedBy {
    /// The active routing plugin answered.
    Plugin {
        plugin: String,
        version: String,
        digest: String,
        /// Under `last-good`: how the current version failed before this
        /// (previous) version answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary_error: Option<String>,
    },
    /// The plugin failed (or none is active); the slot's fail policy decided.
    FailPolicy {
        policy: FailPolicy,
        outcome: Option<CallOutcome>,
        error: String,
    },
    /// Nobody routed it: an IVR or bot session resolved in self-service.
    SelfService,
}

/// What `ingest` returns once the contact is durable.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Ingested {
    pub contact: ContactRecord,
    pub decided_by: DecidedBy,
    pub reason: String,
    /// The audit record of the decision.
    pub audit_seq: u64,
    /// The agent the contact was offered to at once, if one was free.
    pub offered_to: Option<String>,
    /// The operator's approved message about an incident the contact
    /// matched, for the channel to send or play to the customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proactive_message: Option<ProactiveMessage>,
}

/// Why the engine refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Invalid(String),
    /// The message names what is missing and where to find valid ids.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Transition(#[from] crate::domain::TransitionError),
    /// The request clashes with the current state (e.g. deleting an agent
    /// who is handling contacts).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    pub fn no_contact(id: &str) -> Self {
        Self::NotFound(format!(
            "no contact with id `{id}`: use the id returned when it was created (GET /v1/contacts lists them)"
        ))
    }

    pub fn no_agent(id: &str) -> Self {
        Self::NotFound(format!(
            "no agent with id `{id}`: create it with PUT /v1/agents/{id} (GET /v1/agents lists them)"
        ))
    }

    pub fn no_queue(name: &str) -> Self {
        Self::NotFound(format!(
            "no queue named `{name}`: create it with PUT /v1/queues/{name} (GET /v1/queues lists them)"
        ))
    }

    pub fn no_draft(id: &str) -> Self {
        Self::NotFound(format!(
            "no draft with id `{id}`: use the id returned when it was submitted (GET /v1/drafts lists them)"
        ))
    }
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
    /// Instructions the call used (its outcome does not depend on time).
    fuel: u64,
    queue: &'a str,
}

/// See [`Engine::on_commit`].
pub type CommitListener = Arc<dyn Fn(&[crate::audit::AuditRecord]) + Send + Sync>;

/// The host's check of a routing decision, as the engine makes it (for
/// replay: a decision refused then is refused again).
pub(crate) fn check_routing_decision(
    d: &crate::plugins::routing::RoutingDecision,
) -> Result<(), String> {
    convert::check_decision(d)
}

/// The host's check of a compliance result for a draft of `chars`
/// characters, as the engine makes it.
pub(crate) fn check_compliance_spans(
    r: &crate::plugins::compliance::ComplianceResult,
    chars: usize,
) -> Result<(), String> {
    drafts::check_spans(r, chars)
}

/// Which contacts [`Engine::list_contacts`] returns; every given field
/// must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactFilter {
    pub state: Option<ContactState>,
    pub queue: Option<String>,
    pub channel: Option<Channel>,
    pub customer: Option<String>,
    /// Created at or after (ms since the epoch).
    pub from: Option<i64>,
    /// Created before.
    pub to: Option<i64>,
    /// Carrying this tag (e.g. `incident:inc-7`, `complaint`).
    pub tag: Option<String>,
    /// Marked as a complaint by an escalation rule (or not).
    pub complaint: Option<bool>,
    /// Cursor: the last id of the previous page.
    pub after: Option<String>,
}

impl ContactFilter {
    fn matches(&self, c: &ContactRecord) -> bool {
        self.state.is_none_or(|s| c.state == s)
            && self
                .queue
                .as_ref()
                .is_none_or(|q| &c.requirements.queue == q)
            && self.channel.is_none_or(|ch| c.channel == ch)
            && self.customer.as_ref().is_none_or(|cu| &c.customer_id == cu)
            && self.from.is_none_or(|f| c.created_at >= f)
            && self.to.is_none_or(|t| c.created_at < t)
            && self.tag.as_ref().is_none_or(|t| c.tags.contains(t))
            && self.complaint.is_none_or(|x| c.complaint.is_some() == x)
    }
}

/// A queue's live figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub queue: Queue,
    pub waiting: u32,
    pub oldest_wait_secs: u32,
    /// Agents with a free seat who qualify for the oldest waiting contact.
    pub available_agents: u32,
    /// Share answered within the threshold today (`None` before the first
    /// answered or abandoned contact, or without a `service_level` KPI).
    pub service_level_today: Option<f64>,
    /// Offers of this queue's contacts that expired unanswered today.
    pub missed_offers_today: u64,
}

/// A change on the floor, for live views (`GET /v1/stream`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A contact was created or changed.
    Contact {
        id: String,
        state: ContactState,
        channel: Channel,
        queue: String,
        priority: u32,
        agent_id: Option<String>,
        tags: Vec<String>,
        complaint: bool,
        /// What happened: `created` or the event type (`offer`, `answer`, ...).
        change: String,
        at: i64,
    },
}

impl LiveEvent {
    fn contact(c: &ContactRecord, change: &str, at: i64) -> Self {
        LiveEvent::Contact {
            id: c.id.clone(),
            state: c.state,
            channel: c.channel,
            queue: c.requirements.queue.clone(),
            priority: c.requirements.priority,
            agent_id: c.agent_id.clone(),
            tags: c.tags.clone(),
            complaint: c.complaint.is_some(),
            change: change.to_owned(),
            at,
        }
    }
}

/// What routing came to, with its audit entries.
struct Routed {
    decided_by: DecidedBy,
    requirements: Requirements,
    tags: Vec<String>,
    /// Attributes the policy set on the contact (WIT 0.2.0).
    attributes: Vec<(String, String)>,
    reason: String,
    audit: Vec<AuditEntry>,
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

/// A clock that moves only when told to, never backwards: for simulations
/// (`switchboard serve --simulated-clock`) and imports. Timers fire when it
/// passes their due time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<std::sync::atomic::AtomicI64>);

impl ManualClock {
    pub fn new(start: i64) -> Self {
        Self(Arc::new(std::sync::atomic::AtomicI64::new(start)))
    }

    pub fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Move to `t`; `Err(now)` if `t` is earlier than now.
    pub fn advance_to(&self, t: i64) -> Result<(), i64> {
        let prev = self.0.fetch_max(t, std::sync::atomic::Ordering::SeqCst);
        if t < prev { Err(prev) } else { Ok(()) }
    }
}

/// How an engine behaves (the `[engine]` part of the server's config file).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    pub fallback: FallbackQueues,
    /// Failed calls in a row after which a plugin version is quarantined.
    pub quarantine_after: u32,
    /// When a newly activated version is rolled back on its own.
    pub auto_rollback: AutoRollback,
    /// How far back the customer history plugins see goes, in days.
    pub history_days: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            fallback: FallbackQueues::default(),
            quarantine_after: DEFAULT_QUARANTINE_AFTER,
            auto_rollback: AutoRollback::default(),
            history_days: 30,
        }
    }
}

/// The engine.
pub struct Engine {
    store: Arc<dyn Store>,
    audit: Arc<AuditLog>,
    /// Days of customer history routing sees.
    history_days: u32,
    floor: parking_lot::Mutex<floor::Floor>,
    /// Serializes the apply-and-commit of changes (decision 0003): held
    /// for in-memory work and buffered store writes only, never across a
    /// plugin call, a flush or an await.
    apply: parking_lot::Mutex<()>,
    /// Versions of the records changes read before they decide.
    versions: Versions,
    routing: Slot<RoutingPolicy>,
    escalation: SlotMap<EscalationRule>,
    compliance: SlotMap<ComplianceCheck>,
    kpis: SlotMap<KpiDefinition>,
    /// Rung by every slot that rolls back on its own.
    rollbacks: Arc<RollbackBell>,
    /// Told of every commit's audit records, after the apply lock is
    /// released (shadow mode: [`Engine::on_commit`]).
    listener: parking_lot::RwLock<Option<CommitListener>>,
    aggregates: parking_lot::RwLock<kpi::Aggregates>,
    wakeup: timers::Wakeup,
    live: tokio::sync::broadcast::Sender<LiveEvent>,
    fallback: FallbackQueues,
    /// Declared incidents, open and closed.
    incidents: parking_lot::RwLock<Vec<Incident>>,
    /// The time timers were last fired up to (planned breaks ending since
    /// then make agents routable again).
    last_tick: std::sync::atomic::AtomicI64,
    clock: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Stripes in the version table: bounded memory whatever the number of
/// contacts; two records that share a stripe only cost a spurious retry.
const VERSION_STRIPES: usize = 4096;

/// A change whose inputs moved this many times in a row while it was being
/// decided gives up with a conflict (the client sends it again).
const MAX_ATTEMPTS: usize = 64;

/// Versions of the records a change reads and then rewrites (a contact, an
/// agent): read before the record, checked and bumped under the apply lock
/// (decision 0003). A striped table of counters keyed by a hash of the
/// record's key.
struct Versions(Box<[std::sync::atomic::AtomicU64]>);

impl Default for Versions {
    fn default() -> Self {
        Self(
            (0..VERSION_STRIPES)
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
        )
    }
}

impl Versions {
    fn stripe(&self, key: &str) -> &std::sync::atomic::AtomicU64 {
        // FNV-1a: cheap, and stable for one process's life (all it needs).
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.0[(h as usize) % self.0.len()]
    }

    /// The version of record `key` now.
    pub fn get(&self, key: &str) -> u64 {
        self.stripe(key).load(std::sync::atomic::Ordering::Acquire)
    }

    fn bump(&self, key: &str) {
        self.stripe(key)
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The version key of contact `id`.
fn contact_key(id: &str) -> String {
    format!("c:{id}")
}

/// The version key of agent `id`.
fn agent_key(id: &str) -> String {
    format!("a:{id}")
}

const CONTACTS: &str = "contacts";
const EVENTS: &str = "events";
pub(super) const AGENTS: &str = "agents";
const QUEUES: &str = "queues";

fn all() -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    (Bound::Unbounded, Bound::Unbounded)
}

impl Engine {
    /// An engine over `store`, reading wall time. Plugins whose calls fail
    /// [`DEFAULT_QUARANTINE_AFTER`] times in a row are quarantined.
    pub fn new(store: impl Store, fallback: FallbackQueues) -> Result<Self, EngineError> {
        Self::with_quarantine(Arc::new(store), fallback, DEFAULT_QUARANTINE_AFTER)
    }

    /// An engine over `store` that quarantines a plugin version after
    /// `quarantine_after` failed calls in a row.
    pub fn with_quarantine(
        store: Arc<dyn Store>,
        fallback: FallbackQueues,
        quarantine_after: u32,
    ) -> Result<Self, EngineError> {
        Self::with_settings(
            store,
            EngineSettings {
                fallback,
                quarantine_after,
                ..EngineSettings::default()
            },
        )
    }

    /// An engine over `store` with `settings`, with an audit log of its own.
    pub fn with_settings(
        store: Arc<dyn Store>,
        settings: EngineSettings,
    ) -> Result<Self, EngineError> {
        let audit = Arc::new(AuditLog::open(store.clone())?);
        Self::with_parts(store, audit, settings)
    }

    /// An engine over `store` appending to `audit` (the one audit log over
    /// that store, shared with the plugin registry and the server's admin
    /// actions: one hash chain has one writer object), with `settings`.
    pub fn with_parts(
        store: Arc<dyn Store>,
        audit: Arc<AuditLog>,
        settings: EngineSettings,
    ) -> Result<Self, EngineError> {
        let EngineSettings {
            fallback,
            quarantine_after,
            auto_rollback,
            history_days,
        } = settings;
        let rollbacks = Arc::<RollbackBell>::default();
        let engine = Self {
            audit,
            floor: parking_lot::Mutex::new(floor::Floor::default()),
            apply: parking_lot::Mutex::new(()),
            versions: Versions::default(),
            history_days: history_days.max(1),
            store,
            routing: Slot::new("routing", quarantine_after)
                .with_auto_rollback(auto_rollback)
                .with_bell(rollbacks.clone()),
            escalation: SlotMap::new(quarantine_after)
                .with_auto_rollback(auto_rollback)
                .with_bell(rollbacks.clone()),
            compliance: SlotMap::new(quarantine_after)
                .with_auto_rollback(auto_rollback)
                .with_bell(rollbacks.clone()),
            kpis: SlotMap::new(quarantine_after)
                .with_auto_rollback(auto_rollback)
                .with_bell(rollbacks.clone()),
            rollbacks,
            listener: Default::default(),
            aggregates: Default::default(),
            wakeup: Default::default(),
            live: tokio::sync::broadcast::channel(1024).0,
            fallback,
            incidents: Default::default(),
            last_tick: Default::default(),
            clock: Box::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            }),
        };
        engine.rebuild_floor()?;
        engine.load_incidents()?;
        engine.load_plans()?;
        for m in kpi::host_measures() {
            engine.aggregates.write().declare(m);
        }
        let samples = engine.aggregates.write().load(&*engine.store)?;
        tracing::debug!(samples, "KPI aggregates rebuilt");
        Ok(engine)
    }

    /// Apply and commit change `r` (decision 0003): under the apply lock,
    /// check that every record it read is still at the version it read
    /// and every key it must not find is still absent, turn its KPI
    /// emissions into samples (a replacement sees the stored sample now),
    /// append its audit records and write its effects (buffered, not yet
    /// durable), then bring the floor and the KPI aggregates in line and
    /// bump the versions. `None`: an input moved; decide again.
    /// `atomic`: all or nothing across a crash (a fired timer).
    fn commit_change(
        &self,
        r: &mut reactions::Reaction,
        atomic: bool,
    ) -> Result<Option<Vec<crate::audit::AuditRecord>>, EngineError> {
        let records = self.commit_locked(r, atomic)?;
        if let Some(records) = &records {
            let listener = self.listener.read().clone();
            if let Some(listen) = listener {
                listen(records);
            }
        }
        Ok(records)
    }

    /// Call `listener` with the audit records of every change the engine
    /// commits from now on (not yet durable), after the apply lock is
    /// released, on the committing thread: it must only hand them on
    /// (shadow mode queues them for its own thread). `None` stops it.
    pub fn on_commit(&self, listener: Option<CommitListener>) {
        *self.listener.write() = listener;
    }

    /// [`Engine::commit_change`] under the apply lock.
    fn commit_locked(
        &self,
        r: &mut reactions::Reaction,
        atomic: bool,
    ) -> Result<Option<Vec<crate::audit::AuditRecord>>, EngineError> {
        let _apply = self.apply.lock();
        if r.reads.iter().any(|(k, v)| self.versions.get(k) != *v) {
            return Ok(None);
        }
        for (keyspace, key) in &r.absent {
            if self.store.get(keyspace, key)?.is_some() {
                return Ok(None);
            }
        }
        for (slot, emissions, at) in std::mem::take(&mut r.emissions) {
            kpi::plan(
                &*self.store,
                &slot,
                emissions,
                at,
                &mut r.writes,
                &mut r.kpi,
            )?;
        }
        let audit = std::mem::take(&mut r.audit);
        let writes = std::mem::take(&mut r.writes);
        let records = if atomic {
            self.audit.commit_atomic(audit, writes)?
        } else {
            self.audit.commit(audit, writes)?
        };
        self.aggregates.write().apply(&r.kpi);
        {
            // The floor first, then the versions: whoever reads a new
            // version reads the floor that goes with it.
            let mut floor = self.floor.lock();
            for (id, since) in &r.agent_periods {
                if let Some(a) = floor.agents.get_mut(id) {
                    a.period_since = *since;
                }
            }
            for a in std::mem::take(&mut r.agents) {
                floor.agents.insert(a.id.clone(), a);
            }
            for (c, at) in &r.track {
                floor.track(c, *at);
            }
        }
        for (k, _) in &r.reads {
            self.versions.bump(k);
        }
        Ok(Some(records))
    }

    /// Run `decide` (no lock held: it reads, calls plugins and fills a
    /// [`reactions::Reaction`]) and commit what it decided; when an input
    /// moved meanwhile, decide again. Returns what `decide` returned and
    /// the audit records, or `Err(Retry::Gone(x))` when `decide` says
    /// the change is no longer to be made.
    fn decide_and_commit<T>(
        &self,
        what: &str,
        atomic: bool,
        mut decide: impl FnMut(&mut reactions::Reaction) -> Result<T, EngineError>,
    ) -> Result<(T, reactions::Reaction, Vec<crate::audit::AuditRecord>), EngineError> {
        for _ in 0..MAX_ATTEMPTS {
            let mut r = reactions::Reaction::default();
            let out = decide(&mut r)?;
            if let Some(records) = self.commit_change(&mut r, atomic)? {
                return Ok((out, r, records));
            }
            tracing::debug!(what, "inputs moved while deciding; deciding again");
        }
        Err(EngineError::Conflict(format!(
            "{what} changed {MAX_ATTEMPTS} times while this change was being decided; send it again"
        )))
    }

    /// Load agents and queues, and track every open contact.
    fn rebuild_floor(&self) -> Result<(), EngineError> {
        let mut floor = self.floor.lock();
        for kv in self.store.scan(AGENTS, all(), false) {
            let (_, v) = kv?;
            let a: Agent = decode(&v, "agent")?;
            floor.agents.insert(a.id.clone(), a);
        }
        for kv in self.store.scan(QUEUES, all(), false) {
            let (_, v) = kv?;
            let q: Queue = decode(&v, "queue")?;
            floor.queues.insert(q.name.clone(), q);
        }
        for kv in self.store.scan(CONTACTS, all(), false) {
            let (_, v) = kv?;
            let c: ContactRecord = decode(&v, "contact")?;
            if !c.state.is_terminal() {
                floor.track(&c, c.last_event_at);
            }
        }
        Ok(())
    }

    /// Add or replace an agent; contacts waiting for them are offered.
    pub fn upsert_agent(&self, agent: Agent) -> Result<Vec<(String, String)>, EngineError> {
        self.upsert_agent_at(agent, None)
    }

    /// [`Engine::upsert_agent`] as of `at` (ms since the epoch; the
    /// engine's clock when `None`), for status changes reported late or
    /// replayed. A status change may not be earlier than the current
    /// status began.
    pub fn upsert_agent_at(
        &self,
        agent: Agent,
        at: Option<i64>,
    ) -> Result<Vec<(String, String)>, EngineError> {
        bounds::name("id", &agent.id).map_err(|e| EngineError::Invalid(format!("agent {e}")))?;
        bounds::event_time("occurred_at", at).map_err(EngineError::Invalid)?;
        for (skill, level) in &agent.skills {
            bounds::name("skills", skill).map_err(EngineError::Invalid)?;
            bounds::proficiency(&format!("skills.{skill}"), *level)
                .map_err(EngineError::Invalid)?;
        }
        let now = at.unwrap_or_else(|| (self.clock)());
        // One change of an agent at a time, so durations chain exactly:
        // decided outside any lock (the KPI definitions see the period
        // that ends), applied if the agent is still as read.
        self.decide_and_commit(&format!("agent {}", agent.id), false, |r| {
            r.read(&self.versions, agent_key(&agent.id));
            let mut agent = agent.clone();
            let before = {
                let floor = self.floor.lock();
                floor.agents.get(&agent.id).cloned().map(|mut b| {
                    // The period's load: recorded contacts, not seats
                    // reserved by a dispatch in flight.
                    b.load = floor.recorded_load(&b.id);
                    b
                })
            };
            agent.status_since = match &before {
                Some(b) if b.status == agent.status => b.status_since,
                Some(b) if now < b.status_since => {
                    return Err(EngineError::Invalid(format!(
                        "`occurred_at` {now} is before agent `{}` entered their current status ({}): status changes of one agent must not go back in time",
                        b.id, b.status_since
                    )));
                }
                Some(b) => {
                    self.agent_status_changed(b, &agent, now, r)?;
                    now
                }
                None => now,
            };
            agent.period_since = match &before {
                Some(b) if b.status == agent.status => b.period_since,
                _ => now,
            };
            if let Some(b) = &before {
                agent.idle_since = b.idle_since;
            }
            agent.load.clear();
            r.writes.put(AGENTS, agent.id.as_bytes(), encode(&agent)?);
            r.agents.push(agent);
            Ok(())
        })?;
        self.store.make_durable()?;
        self.dispatch(now)
    }

    /// Change an agent's status; when they become available, waiting
    /// contacts are offered.
    pub fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
    ) -> Result<Vec<(String, String)>, EngineError> {
        self.set_agent_status_at(id, status, None)
    }

    /// [`Engine::set_agent_status`] as of `at` (the engine's clock when `None`).
    pub fn set_agent_status_at(
        &self,
        id: &str,
        status: AgentStatus,
        at: Option<i64>,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let mut agent = self
            .floor
            .lock()
            .agents
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::no_agent(id))?;
        agent.status = status;
        self.upsert_agent_at(agent, at)
    }

    /// Add or replace a queue.
    pub fn upsert_queue(&self, queue: Queue) -> Result<(), EngineError> {
        bounds::name("name", &queue.name)
            .map_err(|e| EngineError::Invalid(format!("queue {e}")))?;
        if let Some(to) = &queue.overflow {
            bounds::name("overflow", to).map_err(|e| EngineError::Invalid(format!("queue {e}")))?;
            if to.trim().is_empty() || to == &queue.name {
                return Err(EngineError::Invalid(format!(
                    "queue `{}` cannot overflow to `{to}`: name another queue, or leave `overflow` out",
                    queue.name
                )));
            }
            if queue.overflow_after_secs == 0 {
                return Err(EngineError::Invalid(
                    "`overflow_after_secs` must be at least 1 when `overflow` is set".into(),
                ));
            }
        }
        let mut writes = Writes::default();
        writes.put(QUEUES, queue.name.as_bytes(), encode(&queue)?);
        self.store.commit(writes)?;
        self.store.make_durable()?;
        self.floor.lock().queues.insert(queue.name.clone(), queue);
        Ok(())
    }

    /// Remove an agent. Refused while they are offered or handling
    /// contacts: set them `offline` and let those finish first.
    pub fn delete_agent(&self, id: &str) -> Result<Agent, EngineError> {
        let agent = {
            // Check and remove in one apply: no offer slips in between.
            let _apply = self.apply.lock();
            let agent = self.agent(id)?;
            let load: u32 = agent.load.values().sum();
            if load > 0 {
                return Err(EngineError::Conflict(format!(
                    "agent `{id}` is handling {load} contact(s); set their status to `offline` and delete them once those are resolved or transferred"
                )));
            }
            let mut writes = Writes::default();
            writes.remove(AGENTS, id.as_bytes());
            self.store.commit(writes)?;
            self.floor.lock().agents.remove(id);
            self.versions.bump(&agent_key(id));
            agent
        };
        self.store.make_durable()?;
        Ok(agent)
    }

    /// Remove a queue. Refused while contacts wait in it.
    pub fn delete_queue(&self, name: &str) -> Result<Queue, EngineError> {
        let queue = self.delete_queue_applied(name)?;
        self.store.make_durable()?;
        Ok(queue)
    }

    /// [`Engine::delete_queue`]'s check and removal, in one apply.
    fn delete_queue_applied(&self, name: &str) -> Result<Queue, EngineError> {
        let _apply = self.apply.lock();
        let queue = self
            .floor
            .lock()
            .queues
            .get(name)
            .cloned()
            .ok_or_else(|| EngineError::no_queue(name))?;
        let waiting = self.floor.lock().waiting_in(name);
        if waiting > 0 {
            return Err(EngineError::Conflict(format!(
                "{waiting} contact(s) wait in queue `{name}`; move them (transfer) or let them be answered before deleting it"
            )));
        }
        let mut writes = Writes::default();
        writes.remove(QUEUES, name.as_bytes());
        self.store.commit(writes)?;
        self.floor.lock().queues.remove(name);
        Ok(queue)
    }

    /// One agent with their current load.
    pub fn agent(&self, id: &str) -> Result<Agent, EngineError> {
        self.floor
            .lock()
            .agent(id)
            .ok_or_else(|| EngineError::no_agent(id))
    }

    /// Live changes from now on (contacts created and changed). A
    /// receiver that falls more than 1,024 events behind skips ahead.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LiveEvent> {
        self.live.subscribe()
    }

    pub(crate) fn publish(&self, c: &ContactRecord, change: &str, at: i64) {
        // No receiver is fine: nobody is watching.
        let _ = self.live.send(LiveEvent::contact(c, change, at));
    }

    /// The engine's clock (ms since the epoch).
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Contacts waiting, per queue (queues with none waiting included).
    pub fn queue_depths(&self) -> Vec<(String, usize)> {
        let floor = self.floor.lock();
        let mut depths: std::collections::BTreeMap<String, usize> =
            floor.queues.keys().map(|q| (q.clone(), 0)).collect();
        for (q, n) in floor.waiting_per_queue() {
            *depths.entry(q.to_owned()).or_default() += n;
        }
        depths.into_iter().collect()
    }

    /// The queues, by name.
    pub fn queues(&self) -> Vec<Queue> {
        self.floor.lock().queues.values().cloned().collect()
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

    /// Make `activation` the routing policy for new contacts (`None`:
    /// deactivate). Calls already running finish on the version they
    /// started with.
    pub fn set_routing(&self, activation: Option<Arc<Activation<RoutingPolicy>>>) {
        match activation {
            Some(a) => self.routing.activate(a),
            None => {
                self.routing.deactivate();
            }
        }
    }

    /// Rings when any slot rolls back on its own.
    pub fn rollback_bell(&self) -> Arc<RollbackBell> {
        self.rollbacks.clone()
    }

    /// The routing slot.
    pub fn routing(&self) -> &Slot<RoutingPolicy> {
        &self.routing
    }

    /// The escalation rule slots.
    pub fn escalation(&self) -> &SlotMap<EscalationRule> {
        &self.escalation
    }

    /// The compliance check slots.
    pub fn compliance(&self) -> &SlotMap<ComplianceCheck> {
        &self.compliance
    }

    /// The KPI definition slots. Activate through [`Engine::activate_kpi`]
    /// so the definition's measures are registered.
    pub fn kpis(&self) -> &SlotMap<KpiDefinition> {
        &self.kpis
    }

    /// Activate a KPI definition in slot `name` and register its measures.
    pub fn activate_kpi(
        &self,
        name: &str,
        activation: Arc<Activation<KpiDefinition>>,
    ) -> Result<Vec<MeasureInfo>, crate::plugins::PluginError> {
        let measures = self.register_measures(name, &activation)?;
        self.kpis.activate(name, activation);
        Ok(measures)
    }

    /// Ask a KPI definition for its measures and register them for slot
    /// `name` (before activating it there).
    pub fn register_measures(
        &self,
        name: &str,
        activation: &Activation<KpiDefinition>,
    ) -> Result<Vec<MeasureInfo>, crate::plugins::PluginError> {
        let measures = self.declared_measures(name, activation)?;
        self.set_measures(name, measures.clone());
        Ok(measures)
    }

    /// The measures `activation` declares, for slot `name` (asks the plugin;
    /// registers nothing).
    pub fn declared_measures(
        &self,
        name: &str,
        activation: &Activation<KpiDefinition>,
    ) -> Result<Vec<MeasureInfo>, crate::plugins::PluginError> {
        Ok(activation
            .measures()?
            .into_iter()
            .map(|m| MeasureInfo {
                slot: name.to_owned(),
                name: m.name,
                unit: m.unit,
                aggregation: m.aggregation.into(),
                description: m.description,
            })
            .collect())
    }

    /// Make `measures` the ones KPI slot `name` declares.
    pub fn set_measures(&self, name: &str, measures: Vec<MeasureInfo>) {
        let mut agg = self.aggregates.write();
        agg.measures.retain(|(slot, _), _| slot != name);
        for m in measures {
            agg.measures.insert((name.to_owned(), m.name.clone()), m);
        }
    }

    /// The measures the active KPI definitions declared.
    pub fn measures(&self) -> Vec<MeasureInfo> {
        self.aggregates.read().measures.values().cloned().collect()
    }

    /// Aggregate a KPI measure over a window, in buckets, by dimensions.
    pub fn kpi_query(&self, q: &KpiQuery) -> Result<KpiSeries, EngineError> {
        self.aggregates
            .read()
            .query(q)
            .map_err(EngineError::Invalid)
    }

    /// Notifications recorded for supervisors, teams and agents, oldest
    /// first, after id `after`, at most `limit`.
    pub fn notifications(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Notification>, EngineError> {
        self.store
            .scan(
                reactions::NOTIFICATIONS,
                (
                    Bound::Excluded(after.to_be_bytes().to_vec()),
                    Bound::Unbounded,
                ),
                false,
            )
            .take(limit)
            .map(|kv| Ok(decode(&kv?.1, "notification")?))
            .collect()
    }

    /// Write a point-in-time copy of the whole store to `out` as a backup
    /// stream (`switchboard backup`; docs/operations.md).
    pub fn backup(
        &self,
        out: &mut dyn std::io::Write,
    ) -> Result<crate::store::BackupSummary, EngineError> {
        Ok(self.store.backup(out)?)
    }

    /// A contact by id.
    pub fn contact(&self, id: &str) -> Result<Option<ContactRecord>, EngineError> {
        match self.store.get(CONTACTS, id.as_bytes())? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode(&bytes, "contact")?)),
        }
    }

    /// Contacts matching `filter`, in creation order, after the contact id
    /// `filter.after` (a cursor), at most `limit`.
    pub fn list_contacts(
        &self,
        filter: &ContactFilter,
        limit: usize,
    ) -> Result<Vec<ContactRecord>, EngineError> {
        let start = match &filter.after {
            Some(id) => Bound::Excluded(id.as_bytes().to_vec()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for kv in self.store.scan(CONTACTS, (start, Bound::Unbounded), false) {
            let c: ContactRecord = decode(&kv?.1, "contact")?;
            if filter.matches(&c) {
                out.push(c);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Queue `name` now: waiting contacts, oldest wait, agents able to take
    /// one, and today's service level (from the `service_level` KPI, when a
    /// KPI definition declares it).
    pub fn queue_stats(&self, name: &str) -> Result<QueueStats, EngineError> {
        let now = (self.clock)();
        let queue = self
            .floor
            .lock()
            .queues
            .get(name)
            .cloned()
            .ok_or_else(|| EngineError::no_queue(name))?;
        let status = self
            .floor
            .lock()
            .queue_status(name, now)
            .unwrap_or(wit::QueueStatus {
                name: name.to_owned(),
                waiting: 0,
                oldest_wait_secs: 0,
                available_agents: 0,
                service_level: None,
            });
        let day_start = now.div_euclid(86_400_000) * 86_400_000;
        let to = (now.div_euclid(kpi::BUCKET_MS) + 1) * kpi::BUCKET_MS;
        let service_level = self
            .aggregates
            .read()
            .query(&KpiQuery {
                measure: "service_level".into(),
                slot: None,
                from: day_start,
                to,
                bucket_ms: to - day_start,
                group_by: Vec::new(),
                filter: [("queue".to_owned(), name.to_owned())].into(),
            })
            .ok()
            .and_then(|s| s.points.first().and_then(|p| p.value));
        let missed = self
            .aggregates
            .read()
            .query(&KpiQuery {
                measure: kpi::MISSED_OFFERS.into(),
                slot: Some(kpi::HOST_SLOT.into()),
                from: day_start,
                to,
                bucket_ms: to - day_start,
                group_by: Vec::new(),
                filter: [("queue".to_owned(), name.to_owned())].into(),
            })
            .ok()
            .and_then(|s| s.points.first().and_then(|p| p.value))
            .unwrap_or(0.0);
        Ok(QueueStats {
            queue,
            waiting: status.waiting,
            oldest_wait_secs: status.oldest_wait_secs,
            available_agents: status.available_agents,
            service_level_today: service_level,
            missed_offers_today: missed.max(0.0) as u64,
        })
    }

    /// The history summary plugins see for contact `c` at `now`.
    fn history_of(&self, c: &ContactRecord, now: i64) -> Result<wit::CustomerHistory, EngineError> {
        // Account flags (e.g. "legacy", "chronic-bug") arrive as the
        // comma-separated `flags` attribute from the CRM or IVR.
        let flags = c
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
        Ok(history::summary(
            &*self.store,
            &c.id,
            &c.customer_id,
            &c.topics,
            now,
            self.history_days,
            flags,
        )?)
    }

    /// Durable timers not yet fired, earliest first.
    pub fn pending_timers(&self) -> Result<Vec<Timer>, EngineError> {
        Ok(timers::pending(&*self.store)?)
    }

    /// Accept a contact: route it, feed its creation to the escalation
    /// rules and KPI definitions, persist it with audit records of every
    /// decision, and return once all of it is durable.
    #[tracing::instrument(skip_all, fields(customer = %new.customer_id))]
    pub fn ingest(&self, new: NewContact) -> Result<Ingested, EngineError> {
        match self.ingest_with(self.new_record(new)?, Intake::default())? {
            Ok(ingested) => Ok(ingested),
            // No deduplication key, so nothing can have been seen.
            Err(_) => Err(EngineError::Conflict(
                "the contact was not taken in; send it again".into(),
            )),
        }
    }

    fn new_record(&self, new: NewContact) -> Result<ContactRecord, EngineError> {
        if crate::domain::bounds::is_blank(&new.customer_id) {
            return Err(EngineError::Invalid(
                "`customer_id` must not be empty: give the customer's id in your CRM".into(),
            ));
        }
        let sentiment = crate::domain::bounds::sentiment("sentiment", new.sentiment)
            .map_err(EngineError::Invalid)?;
        crate::domain::bounds::event_time("occurred_at", new.occurred_at)
            .map_err(EngineError::Invalid)?;
        let now = new.occurred_at.unwrap_or_else(|| (self.clock)());
        Ok(ContactRecord {
            id: format!("c-{:012}", self.store.generate_id()?),
            channel: new.channel,
            customer_id: new.customer_id,
            customer_tier: new.customer_tier,
            language: new.language,
            topics: new.topics,
            text: new.text,
            sentiment,
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
            complaint: None,
            deadlines: Vec::new(),
            survey: None,
            offer_expires_at: None,
            offer_timer: None,
            in_queue_since: None,
            missed_offer: None,
        })
    }

    /// [`Engine::ingest`] of a new record with intake options: a
    /// deduplication key written in the same commit, or a session
    /// self-service already resolved.
    fn ingest_with(
        &self,
        new: ContactRecord,
        intake: Intake,
    ) -> Result<Result<Ingested, intake::Seen>, EngineError> {
        let now = new.created_at;
        // Decided with no lock held: history, routing, escalation and KPI
        // calls; applied under the apply lock if the deduplication key is
        // still free (decision 0003).
        let (decided, r, records) = self.decide_and_commit("the intake key", false, |r| {
            if let Some(key) = &intake.dedup
                && let Some(seen) = self.seen(key)?
            {
                return Ok(Err(seen));
            }
            let mut contact = new.clone();
            let history = self.history_of(&contact, now)?;
            let (routed, history) = if intake.contained {
                // Resolved by the bot or IVR: nobody routes it, nobody answers.
                let routed = Routed {
                    decided_by: DecidedBy::SelfService,
                    requirements: Requirements::default(),
                    tags: vec!["self-service".to_owned()],
                    attributes: Vec::new(),
                    reason: "resolved in self-service before any hand-off to an agent".to_owned(),
                    audit: Vec::new(),
                };
                (routed, history)
            } else {
                let snapshot = self.floor.lock().snapshot(now);
                let incidents = self.active_incidents(now);
                let input = convert::routing_input(&contact, history, now, snapshot, incidents);
                let routed = self.route(&input, now, &contact.id)?;
                contact.state = ContactState::Queued;
                contact.queued_at = Some(now);
                (routed, input.history)
            };
            contact.tags = routed.tags;
            contact.attributes.extend(routed.attributes);
            contact.requirements = routed.requirements;
            r.audit.extend(routed.audit);
            let proactive = self.proactive_message(&contact.tags, now);
            if let Some(m) = &proactive {
                r.audit.push(AuditEntry {
                    at: now,
                    actor: "engine".into(),
                    kind: "incident.message_sent".into(),
                    subject: contact.id.clone(),
                    data: serde_json::value::to_raw_value(m)
                        .map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))?,
                });
            }
            self.schedule_rematch(&contact, r)?;
            self.schedule_overflow(&contact, now, r)?;
            self.react(
                &mut contact,
                wit::EventKind::Created,
                now,
                None,
                Some(history),
                r,
            )?;
            if intake.contained {
                contact.state = ContactState::Resolved;
                contact.resolved_at = Some(now);
                self.react(&mut contact, wit::EventKind::Resolved, now, None, None, r)?;
            }
            r.writes
                .put(CONTACTS, contact.id.as_bytes(), encode(&contact)?);
            if let Some(key) = &intake.dedup {
                let seen = intake::Seen::Contact {
                    contact_id: contact.id.clone(),
                };
                r.writes.put(intake::INTAKE, key.clone(), encode(&seen)?);
                r.absent.push((intake::INTAKE, key.clone()));
            }
            history::record(
                &mut r.writes,
                &contact.customer_id,
                &contact.id,
                contact.channel,
                &contact.topics,
                now,
            )?;
            r.track.push((contact.clone(), now));
            Ok(Ok((contact, routed.decided_by, routed.reason, proactive)))
        })?;
        let (contact, decided_by, reason, proactive) = match decided {
            Ok(d) => d,
            Err(seen) => return Ok(Err(seen)),
        };
        self.store.make_durable()?;
        if r.timers {
            self.wakeup.notify();
        }
        self.publish(&contact, "created", now);
        let offered_to = self
            .dispatch(now)?
            .into_iter()
            .find(|(c, _)| c == &contact.id)
            .map(|(_, agent)| agent);
        Ok(Ok(Ingested {
            contact,
            decided_by,
            reason,
            audit_seq: records.first().map_or(0, |r| r.seq),
            offered_to,
            proactive_message: proactive,
        }))
    }

    /// Ask the routing slot; its fail policy answers when it cannot.
    fn route(
        &self,
        input: &crate::plugins::routing::RoutingInput,
        now: i64,
        subject: &str,
    ) -> Result<Routed, EngineError> {
        // Serialized once: digested, then embedded in the audit record as is.
        let input_json = serde_json::value::to_raw_value(input)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode routing input: {e}")))?;
        let input_digest = hex::encode(Sha256::digest(input_json.get().as_bytes()));
        let mut audit = Vec::new();
        let (
            decided_by,
            requirements,
            labels,
            reason,
            output,
            outcome,
            (duration_us, fuel),
            actor,
            config,
        ) = match self
            .routing
            .call_metered(|a| a.route_metered(input, &convert::check_decision))
        {
            Ok(call) => {
                let actor = reactions::actor(&call.by);
                let config = call.by.config_digest().to_owned();
                if let Some(q) = &call.quarantined {
                    audit.push(reactions::quarantine_entry(
                        self.routing.name(),
                        &q.activation,
                        &q.last_error,
                        q.failures,
                        now,
                    )?);
                }
                let outcome = call.outcome();
                match call.result {
                    Ok(mut decision) => {
                        let p = call.by.plugin().id();
                        let output = serde_json::value::to_raw_value(&decision).ok();
                        let attributes = std::mem::take(&mut decision.attributes);
                        let attributes = attributes.into_iter().map(|kv| (kv.key, kv.value));
                        let (req, tags, reason) = convert::requirements(decision);
                        (
                            DecidedBy::Plugin {
                                plugin: p.id.to_string(),
                                version: p.version.to_string(),
                                digest: p.digest.to_string(),
                                primary_error: call.primary_error.map(|e| e.to_string()),
                            },
                            req,
                            (tags, attributes.collect()),
                            reason,
                            output,
                            outcome,
                            (call.duration_us, call.fuel),
                            actor,
                            config,
                        )
                    }
                    Err(err) => {
                        let (req, reason) = self.fallback(call.policy, &err.to_string());
                        (
                            DecidedBy::FailPolicy {
                                policy: call.policy,
                                outcome: Some(err.outcome()),
                                error: err.to_string(),
                            },
                            req,
                            (Vec::new(), Vec::new()),
                            reason,
                            None,
                            outcome,
                            (call.duration_us, call.fuel),
                            actor,
                            config,
                        )
                    }
                }
            }
            Err(unserved) => {
                let policy = match &unserved {
                    Unserved::Quarantined { policy, .. } => *policy,
                    Unserved::Empty => FailPolicy::FailOpen,
                };
                let error = unserved.to_string();
                let (req, reason) = self.fallback(policy, &error);
                (
                    DecidedBy::FailPolicy {
                        policy,
                        outcome: None,
                        error,
                    },
                    req,
                    (Vec::new(), Vec::new()),
                    reason,
                    None,
                    CallOutcome::Error,
                    (0, 0),
                    "engine".to_owned(),
                    String::new(),
                )
            }
        };
        audit.insert(
            0,
            AuditEntry {
                at: now,
                actor,
                kind: "routing.decision".into(),
                subject: subject.to_owned(),
                data: serde_json::value::to_raw_value(&DecisionRecord {
                    decided_by: &decided_by,
                    config_digest: &config,
                    input_digest: &input_digest,
                    input: &input_json,
                    output: &output,
                    outcome,
                    duration_us,
                    fuel,
                    queue: &requirements.queue,
                })
                .map_err(|e| StoreError::Corrupt(format!("cannot encode audit record: {e}")))?,
            },
        );
        let (tags, attributes) = labels;
        Ok(Routed {
            decided_by,
            requirements,
            tags,
            attributes,
            reason,
            audit,
        })
    }

    /// Timers that re-run matching when a relaxation step or the preferred
    /// agent's timeout comes due for a waiting contact.
    fn schedule_rematch(
        &self,
        c: &ContactRecord,
        r: &mut reactions::Reaction,
    ) -> Result<(), EngineError> {
        let Some(queued) = c.queued_at else {
            return Ok(());
        };
        let mut secs: Vec<u32> = c
            .requirements
            .relaxation
            .iter()
            .map(|s| s.after_secs)
            .chain(c.requirements.preferred_agent.as_ref().map(|(_, t)| *t))
            .filter(|s| *s > 0)
            .collect();
        secs.sort_unstable();
        secs.dedup();
        for s in secs {
            timers::schedule(
                &*self.store,
                &mut r.writes,
                &c.id,
                // Saturating: an event time near the end of i64 is accepted.
                queued.saturating_add(i64::from(s) * 1000),
                TimerKind::Rematch,
            )?;
            r.timers = true;
        }
        Ok(())
    }

    /// Fire every timer due at `now`, each exactly once; returns how many.
    /// The timer thread ([`Engine::start_timers`]) calls this; tests and
    /// simulations with their own clock call it directly.
    pub fn fire_due_timers(&self, now: i64) -> Result<usize, EngineError> {
        Ok(self.fire_and_offer(now, false)?.0)
    }

    /// Fire the timers due at `now`; then offer waiting contacts if one
    /// asked for a re-match (or `always`). Returns the timers fired and
    /// the offers made.
    fn fire_and_offer(
        &self,
        now: i64,
        always: bool,
    ) -> Result<(usize, Vec<(String, String)>), EngineError> {
        let mut fired = 0;
        let mut rematch = always;
        while let Some((key, timer)) = timers::first(&*self.store)? {
            if timer.due_at > now {
                break;
            }
            rematch |= self.fire(key, timer, now)?;
            fired += 1;
        }
        let offers = if rematch {
            self.dispatch(now)?
        } else {
            Vec::new()
        };
        if fired > 0 {
            self.wakeup.fired(fired as u64);
        }
        Ok((fired, offers))
    }

    /// Offer waiting contacts when a planned break (or other off-queue
    /// activity) ended since the last look: its agent is routable again.
    fn breaks_ended(&self, now: i64) -> Result<(), EngineError> {
        let last = self
            .last_tick
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
        if last < now && self.floor.lock().plans.off_queue_ended(last, now) {
            self.dispatch(now)?;
        }
        Ok(())
    }

    /// With a [`ManualClock`]: the clock moved to `now`; fire what came due
    /// and offer waiting contacts. Returns the timers fired and the offers.
    pub fn advance(&self, now: i64) -> Result<(usize, Vec<(String, String)>), EngineError> {
        self.fire_and_offer(now, true)
    }

    /// Fire one timer: its decision and its removal in one commit.
    fn fire(&self, key: Vec<u8>, timer: Timer, now: i64) -> Result<bool, EngineError> {
        // Decided with no lock held (a re-check calls its rule), applied
        // if the contact is still as read, atomically with the timer's
        // removal (decision 0003).
        let ((changed, recorded, rematch), r, _) =
            self.decide_and_commit(&format!("contact {}", timer.contact_id), true, |r| {
                self.decide_timer(&key, &timer, now, r)
            })?;
        self.store.make_durable()?;
        count_missed(&r.missed);
        if r.timers {
            self.wakeup.notify();
        }
        let mut rematch = rematch;
        if let Some(c) = changed {
            if let Some(e) = &recorded {
                self.event_recorded(&c, e);
            }
            rematch |= c.state == ContactState::Queued;
        }
        Ok(rematch)
    }

    /// What timer `timer` (stored at `key`) decides at `now`, into `r`:
    /// the contact it changed, the event it recorded, whether to re-match.
    #[allow(clippy::type_complexity)]
    fn decide_timer(
        &self,
        key: &[u8],
        timer: &Timer,
        now: i64,
        r: &mut reactions::Reaction,
    ) -> Result<(Option<ContactRecord>, Option<events::RecordedEvent>, bool), EngineError> {
        let mut rematch = false;
        r.read(&self.versions, contact_key(&timer.contact_id));
        let contact = self.contact(&timer.contact_id)?;
        let mut changed = None;
        let mut recorded = None;
        if let Some(mut c) = contact {
            let before = c.clone();
            let at = timer.due_at;
            // An offer that expired, or a contact that waited long enough
            // to move on: an event of its own, in this timer's commit.
            // Dated when due, but never before what is already recorded:
            // the contact's latest event, and for an expiry the start of
            // its agent's current period (the seat stayed taken until the
            // engine acted, so a period must not be rewritten).
            let mut acted = at.max(c.last_event_at);
            if let (TimerKind::OfferExpiry { .. }, Some(agent)) = (&timer.kind, &c.agent_id)
                && let Some(a) = self.floor.lock().agents.get(agent)
            {
                acted = acted.max(a.period_since.max(a.status_since));
            }
            let event = match &timer.kind {
                TimerKind::OfferExpiry { offered_at }
                    if c.state == ContactState::Offered && c.offered_at == Some(*offered_at) =>
                {
                    Some(EventKind::OfferExpired)
                }
                TimerKind::Overflow { .. } | TimerKind::Rematch => self
                    .overflow_target(&c, &timer.kind, acted)
                    .map(|(from, to)| EventKind::Overflow { from, to }),
                _ => None,
            };
            if let Some(kind) = event {
                let mut next = c.clone();
                let mut caused = reactions::Reaction {
                    reads: std::mem::take(&mut r.reads),
                    ..Default::default()
                };
                match self.apply_event(&mut next, kind, acted, &mut caused) {
                    Ok(e) => {
                        c = next;
                        *r = caused;
                        recorded = Some(e);
                        rematch = true;
                    }
                    // Cannot happen after the checks above; never let a
                    // timer that cannot apply fire forever.
                    Err(e @ (EngineError::Invalid(_) | EngineError::Transition(_))) => {
                        r.reads = caused.reads;
                        tracing::warn!(contact = %c.id, error = %e, "timer event not applied");
                    }
                    Err(e) => return Err(e),
                }
            }
            match &timer.kind {
                TimerKind::Rematch => rematch |= c.state == ContactState::Queued,
                TimerKind::OfferExpiry { .. } | TimerKind::Overflow { .. } => {}
                TimerKind::Recheck { slot, name } => {
                    self.react(
                        &mut c,
                        wit::EventKind::TimerFired(name.clone()),
                        at,
                        Some(slot),
                        None,
                        r,
                    )?;
                }
                TimerKind::DeadlineWarning { name, due_at } => {
                    let clock = c
                        .deadlines
                        .iter()
                        .find(|d| &d.name == name && d.due_at == *due_at && d.running())
                        .map(convert::deadline);
                    if let Some(d) = clock {
                        self.react(
                            &mut c,
                            wit::EventKind::DeadlineWarning(d),
                            at,
                            None,
                            None,
                            r,
                        )?;
                    }
                }
                TimerKind::DeadlineDue { name, due_at } => {
                    let clock = c.deadlines.iter_mut().find(|d| {
                        &d.name == name
                            && d.due_at == *due_at
                            && d.running()
                            && d.breached_at.is_none()
                    });
                    if let Some(d) = clock {
                        d.breached_at = Some(at);
                        let d = convert::deadline(d);
                        self.react(
                            &mut c,
                            wit::EventKind::DeadlineBreached(d),
                            at,
                            None,
                            None,
                            r,
                        )?;
                    }
                }
            }
            if c != before {
                r.writes.put(CONTACTS, c.id.as_bytes(), encode(&c)?);
                let at = recorded
                    .as_ref()
                    .map_or(now, |e: &events::RecordedEvent| e.at);
                r.track.push((c.clone(), at));
                changed = Some(c);
            }
        }
        // The timer goes in the same all-or-nothing commit as its decision:
        // delivered exactly once, across crashes and restarts.
        r.writes.remove(timers::TIMERS, key.to_vec());
        Ok((changed, recorded, rematch))
    }

    /// Start the timer thread: it sleeps until the earliest timer is due
    /// (at most a second, or until an earlier timer is scheduled) and fires
    /// what is due. Stop it with [`Engine::stop_timers`].
    pub fn start_timers(self: &Arc<Self>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let engine = self.clone();
        std::thread::Builder::new()
            .name("switchboard-timers".into())
            .spawn(move || {
                loop {
                    let now = (engine.clock)();
                    if let Err(e) = engine.fire_due_timers(now) {
                        tracing::error!(error = %e, "firing timers failed; retrying in a second");
                    }
                    if let Err(e) = engine.breaks_ended(now) {
                        tracing::error!(error = %e, "offering after planned breaks failed; retrying in a second");
                    }
                    let wait = match timers::first(&*engine.store) {
                        Ok(Some((_, t))) => (t.due_at - (engine.clock)()).clamp(0, 1000),
                        _ => 1000,
                    };
                    if !engine
                        .wakeup
                        .wait(std::time::Duration::from_millis(wait as u64))
                    {
                        break;
                    }
                }
            })
    }

    /// Stop the timer thread (it finishes the timer it is firing).
    pub fn stop_timers(&self) {
        self.wakeup.stop();
    }

    /// Wait until at least `n` timers have fired since the engine started,
    /// or `timeout` passed; returns how many have fired.
    pub fn wait_timers_fired(&self, n: u64, timeout: std::time::Duration) -> u64 {
        self.wakeup.wait_fired(n, timeout)
    }

    fn fallback(&self, policy: FailPolicy, error: &str) -> (Requirements, String) {
        let (queue, what) = match policy {
            FailPolicy::FailClosed => (&self.fallback.triage_queue, "fail-closed: held for triage"),
            // `last-good` reaches here only when no previous version
            // answered either: then it behaves as fail-open.
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

/// Count committed missed offers in `/metrics`.
fn count_missed(missed: &[(String, String)]) {
    let m = crate::metrics::metrics();
    for (queue, agent) in missed {
        m.missed_offers.with_label_values(&[queue]).inc();
        m.agent_missed_offers.with_label_values(&[agent]).inc();
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
