//! Every event of a contact goes to the active escalation rules and KPI
//! definitions. Escalation actions change the contact (priority, queue,
//! tags, complaint, deadline clocks), record notifications for
//! supervisors and schedule re-checks; KPI emissions become samples. Each
//! call is audited (plugin version and digest, config digest, input and its
//! digest, output, outcome, duration), and everything a reaction writes is
//! committed atomically with the event that caused it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::AuditEntry;
use crate::domain::bounds;
use crate::plugins::escalation::{
    EscalationAction, EscalationInput, EscalationOutcome, NotifyTarget, Urgency,
};
use crate::plugins::kpi::KpiInput;
use crate::plugins::types as wit;
use crate::plugins::{Activation, CallOutcome, FailPolicy, World};
use crate::store::{StoreError, Writes};

use super::marks::{Complaint, DeadlineClock, Notification};
use super::slots::{Slot, SlotCall, Unserved};
use super::timers::{self, TimerKind};
use super::{ContactRecord, Engine, EngineError, convert, encode, kpi};

pub(super) const NOTIFICATIONS: &str = "notifications";

/// Most deadline clocks one contact keeps, running or finished.
pub const MAX_DEADLINES_PER_CONTACT: usize = 32;
/// Most warning times one deadline clock has.
pub const MAX_WARNINGS_PER_DEADLINE: usize = 8;
/// Most warning times over all deadline clocks of one contact.
pub const MAX_WARNINGS_PER_CONTACT: usize = 64;
/// Most actions in one escalation outcome.
pub const MAX_ACTIONS: usize = 64;
/// A re-check comes due no sooner than this after the event that asked for
/// it: a rule that asks for `now` (or the past) on every firing must not
/// loop the timer thread, so an earlier time is moved to `now` + this.
pub const MIN_RECHECK_DELAY_MS: i64 = 1_000;

/// What a reaction adds to the commit of the event that caused it.
#[derive(Debug, Default)]
pub(super) struct Reaction {
    pub audit: Vec<AuditEntry>,
    pub writes: Writes,
    pub kpi: Vec<kpi::Change>,
    /// New timers were scheduled: wake the timer thread.
    pub timers: bool,
    /// Offers that expired: (queue, agent), counted in `/metrics` once
    /// committed.
    pub missed: Vec<(String, String)>,
    /// Records read before deciding, with their versions: checked at apply.
    pub reads: Vec<(String, u64)>,
    /// Keys that must still be absent at apply (deduplication keys).
    pub absent: Vec<(&'static str, Vec<u8>)>,
    /// KPI emissions (slot, emissions, time): turned into samples at apply,
    /// where a replacement sees the stored sample it replaces.
    pub emissions: Vec<(String, Vec<crate::plugins::kpi::Emission>, i64)>,
    /// Agents whose period starts anew at apply: (agent id, since).
    pub agent_periods: Vec<(String, i64)>,
    /// Agent records the floor takes at apply.
    pub agents: Vec<crate::domain::Agent>,
    /// Contacts the floor follows at apply, with the time of the change.
    pub track: Vec<(ContactRecord, i64)>,
}

impl Reaction {
    /// Note that this change reads record `key` (a contact or agent
    /// version key) now, before reading it.
    pub fn read(&mut self, versions: &super::Versions, key: String) {
        if !self.reads.iter().any(|(k, _)| *k == key) {
            let v = versions.get(&key);
            self.reads.push((key, v));
        }
    }
}

/// The audit data of one plugin call: enough to replay it.
#[derive(Serialize)]
struct CallRecord<'a, O: Serialize> {
    slot: &'a str,
    plugin: &'a str,
    version: &'a str,
    digest: &'a str,
    config_digest: &'a str,
    input_digest: String,
    input: &'a serde_json::value::RawValue,
    output: Option<&'a O>,
    outcome: CallOutcome,
    error: Option<String>,
    /// Under `last-good`: how the current version failed before the
    /// previous one (this record's `version`) answered.
    primary_error: Option<String>,
    fail_policy: FailPolicy,
    duration_us: u64,
    /// Instructions the call used (its outcome does not depend on time).
    fuel: u64,
}

/// Audit entries for a call: the decision, and a quarantine if it caused one.
/// What an escalation rule sees of contact `c` at `event`: its running
/// deadline clocks, the customer history, its queue and the incidents.
pub(super) fn escalation_input(
    c: &ContactRecord,
    event: wit::Event,
    now: i64,
    history: &wit::CustomerHistory,
    queue: Option<wit::QueueStatus>,
    incidents: &[wit::Incident],
) -> EscalationInput {
    EscalationInput {
        now,
        event,
        contact: convert::contact(c),
        history: history.clone(),
        queue,
        deadlines: c
            .deadlines
            .iter()
            .filter(|d| d.running())
            .map(|d| wit::Deadline {
                name: d.name.clone(),
                started_at: d.started_at,
                due_at: d.due_at,
            })
            .collect(),
        incidents: incidents.to_vec(),
    }
}

pub(super) fn call_entries<W: World, T: Serialize>(
    slot: &Slot<W>,
    call: &SlotCall<W, T>,
    kind: &str,
    subject: &str,
    at: i64,
    input: &impl Serialize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let input = serde_json::value::to_raw_value(input)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode plugin input: {e}")))?;
    let p = call.by.plugin().id();
    let record = CallRecord {
        slot: slot.name(),
        plugin: &p.id,
        version: &p.version,
        digest: &p.digest,
        config_digest: call.by.config_digest(),
        input_digest: hex::encode(Sha256::digest(input.get().as_bytes())),
        input: &input,
        output: call.result.as_ref().ok(),
        outcome: call.outcome(),
        error: call.result.as_ref().err().map(|e| e.to_string()),
        primary_error: call.primary_error.as_ref().map(|e| e.to_string()),
        fail_policy: call.policy,
        duration_us: call.duration_us,
        fuel: call.fuel,
    };
    let mut entries = vec![AuditEntry {
        at,
        actor: actor(&call.by),
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        data: raw(&record)?,
    }];
    if let Some(q) = &call.quarantined {
        entries.push(quarantine_entry(
            slot.name(),
            &q.activation,
            &q.last_error,
            q.failures,
            at,
        )?);
    }
    Ok(entries)
}

/// Feed `input` to KPI slot `slot`: the call is audited about `subject`
/// at `now` (a call no version could answer too, with its input, for a
/// backfill), and its emissions become samples at `at` when applied.
fn feed_kpi(
    slot: &Slot<crate::plugins::KpiDefinition>,
    input: &KpiInput,
    subject: &str,
    now: i64,
    at: i64,
    r: &mut Reaction,
) -> Result<(), StoreError> {
    let call = match slot.call_metered(|a| a.on_event_metered(input)) {
        Ok(call) => call,
        Err(Unserved::Empty) => return Ok(()),
        Err(unserved) => {
            r.audit.push(unserved_entry(
                slot.name(),
                "kpi.samples",
                &unserved,
                subject,
                now,
                input,
            )?);
            return Ok(());
        }
    };
    r.audit.extend(call_entries(
        slot,
        &call,
        "kpi.samples",
        subject,
        now,
        input,
    )?);
    if let Ok(emissions) = call.result {
        r.emissions.push((slot.name().to_owned(), emissions, at));
    }
    Ok(())
}

/// The audit entry of a call no version could answer (the slot's version
/// is quarantined): outcome `unserved`, with the input the rule did not
/// see, so nothing is lost (a KPI backfill re-runs it).
pub(super) fn unserved_entry(
    slot: &str,
    kind: &str,
    unserved: &Unserved,
    subject: &str,
    at: i64,
    input: &impl Serialize,
) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        at,
        actor: "engine".into(),
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        data: raw(&serde_json::json!({
            "slot": slot,
            "outcome": "unserved",
            "error": unserved.to_string(),
            "input": input,
        }))?,
    })
}

pub(super) fn quarantine_entry<W: World>(
    slot: &str,
    act: &Activation<W>,
    error: &str,
    failures: u32,
    at: i64,
) -> Result<AuditEntry, StoreError> {
    let p = act.plugin().id();
    Ok(AuditEntry {
        at,
        actor: "engine".into(),
        kind: "plugin.quarantine".into(),
        subject: p.id.to_string(),
        data: raw(&serde_json::json!({
            "slot": slot,
            "plugin": p.id.to_string(),
            "version": p.version.to_string(),
            "digest": p.digest.to_string(),
            "consecutive_failures": failures,
            "last_error": error,
        }))?,
    })
}

pub(super) fn actor<W: World>(act: &Activation<W>) -> String {
    let p = act.plugin().id();
    format!("plugin:{}@{}", p.id, p.version)
}

fn raw(v: &impl Serialize) -> Result<Box<serde_json::value::RawValue>, StoreError> {
    serde_json::value::to_raw_value(v)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode audit record: {e}")))
}

/// Check an escalation outcome as strictly as API input, against the
/// contact it would change: bounded names, priority in range, at most
/// [`MAX_ACTIONS`] actions, and the contact's tags, deadline clocks and
/// warnings within their caps once the outcome is applied.
fn check_outcome(o: &EscalationOutcome, c: &ContactRecord) -> Result<(), String> {
    bounds::count("actions", o.actions.len(), MAX_ACTIONS)?;
    let mut tags: Vec<&str> = c.tags.iter().map(String::as_str).collect();
    // (name, running, warnings) of every clock the contact would keep.
    let mut clocks: Vec<(&str, bool, usize)> = (c.deadlines.iter())
        .map(|d| (d.name.as_str(), d.running(), d.warn_at.len()))
        .collect();
    for (i, action) in o.actions.iter().enumerate() {
        let field = |what: &str| format!("actions[{i}].{what}");
        match action {
            EscalationAction::SetPriority(p) => bounds::priority(&field("set_priority"), *p)?,
            EscalationAction::RaisePriority(_) | EscalationAction::StopDeadline(_) => {}
            EscalationAction::MoveQueue(q) => bounds::name(&field("move_queue"), q)?,
            EscalationAction::AddTag(t) => {
                bounds::name(&field("add_tag"), t)?;
                if !tags.contains(&t.as_str()) {
                    tags.push(t);
                }
            }
            EscalationAction::Notify(n) => match &n.target {
                NotifyTarget::Team(t) => bounds::name(&field("notify.team"), t)?,
                NotifyTarget::Agent(a) => bounds::name(&field("notify.agent"), a)?,
                NotifyTarget::Supervisor => {}
            },
            EscalationAction::MarkComplaint(m) => {
                bounds::name(&field("mark_complaint.category"), &m.category)?;
                if !tags.contains(&"complaint") {
                    tags.push("complaint");
                }
            }
            EscalationAction::StartDeadline(d) => {
                bounds::name(&field("start_deadline.name"), &d.name)?;
                bounds::count(
                    &field("start_deadline.warn_at"),
                    d.warn_at.len(),
                    MAX_WARNINGS_PER_DEADLINE,
                )?;
                clocks.retain(|(name, running, _)| *name != d.name || !running);
                clocks.push((&d.name, true, d.warn_at.len()));
            }
        }
    }
    if tags.len() > bounds::MAX_TAGS && tags.len() > c.tags.len() {
        return Err(format!(
            "`actions` would give the contact {} tags; a contact has at most {}",
            tags.len(),
            bounds::MAX_TAGS
        ));
    }
    if clocks.len() > MAX_DEADLINES_PER_CONTACT {
        return Err(format!(
            "`actions` would give the contact {} deadline clocks (running or finished); a contact has at most {MAX_DEADLINES_PER_CONTACT}",
            clocks.len()
        ));
    }
    let warnings: usize = clocks.iter().map(|(_, _, w)| w).sum();
    if warnings > MAX_WARNINGS_PER_CONTACT {
        return Err(format!(
            "`actions` would give the contact {warnings} deadline warnings; a contact has at most {MAX_WARNINGS_PER_CONTACT}"
        ));
    }
    if let Some(r) = &o.recheck {
        bounds::name("recheck.name", &r.name)?;
    }
    Ok(())
}

fn urgency(u: Urgency) -> &'static str {
    match u {
        Urgency::Low => "low",
        Urgency::Normal => "normal",
        Urgency::High => "high",
        Urgency::Critical => "critical",
    }
}

impl Engine {
    /// Feed `kind` (at `at`) to the escalation rules (only slot `only`, for
    /// a re-check) and, unless `only`, to the KPI definitions; apply what
    /// they answer to `c` and `r`. `history`: the customer's summary when
    /// the caller already has it (ingest built it for routing).
    pub(super) fn react(
        &self,
        c: &mut ContactRecord,
        kind: wit::EventKind,
        at: i64,
        only: Option<&str>,
        history: Option<wit::CustomerHistory>,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        let escalation = match only {
            Some(name) => self.escalation.get(name).into_iter().collect(),
            None => self.escalation.all(),
        };
        let kpis = if only.is_some() {
            Vec::new()
        } else {
            self.kpis.all()
        };
        if escalation.is_empty() && kpis.is_empty() {
            return Ok(());
        }
        let now = (self.clock)().max(at);
        let event = wit::Event {
            kind,
            at,
            sequence: c.events,
        };
        let history = match history {
            Some(h) => h,
            None => self.history_of(c, now)?,
        };
        let queue = if escalation.is_empty() {
            None
        } else {
            self.floor.lock().queue_status(&c.requirements.queue, now)
        };
        let incidents = if escalation.is_empty() {
            Vec::new()
        } else {
            self.active_incidents(at)
        };
        for slot in escalation {
            let input =
                escalation_input(c, event.clone(), now, &history, queue.clone(), &incidents);
            let check = |o: &EscalationOutcome| check_outcome(o, c);
            let call = match slot.call_metered(|a| a.on_event_metered(&input, &check)) {
                Ok(call) => call,
                Err(Unserved::Empty) => continue,
                // Quarantined: what the rule did not see is kept, with its
                // input; under fail-closed a person still looks at it, as
                // when a call fails.
                Err(unserved) => {
                    r.audit.push(unserved_entry(
                        slot.name(),
                        "escalation.decision",
                        &unserved,
                        &c.id,
                        now,
                        &input,
                    )?);
                    if let Unserved::Quarantined {
                        policy: FailPolicy::FailClosed,
                        ..
                    } = &unserved
                    {
                        self.notify(
                            c,
                            slot.name(),
                            "supervisor".into(),
                            "high",
                            format!(
                                "escalation rule `{}` did not look at this contact: {unserved}",
                                slot.name()
                            ),
                            now,
                            r,
                        )?;
                    }
                    continue;
                }
            };
            r.audit.extend(call_entries(
                &slot,
                &call,
                "escalation.decision",
                &c.id,
                now,
                &input,
            )?);
            match call.result {
                Ok(outcome) => {
                    for action in outcome.actions {
                        self.apply_action(c, slot.name(), action, now, r)?;
                    }
                    if let Some(recheck) = outcome.recheck {
                        timers::schedule(
                            &*self.store,
                            &mut r.writes,
                            &c.id,
                            recheck.at.max(now.saturating_add(MIN_RECHECK_DELAY_MS)),
                            TimerKind::Recheck {
                                slot: slot.name().to_owned(),
                                name: recheck.name,
                            },
                        )?;
                        r.timers = true;
                    }
                }
                Err(e) if call.policy == FailPolicy::FailClosed => {
                    // Fail-closed: a person looks at what the rule could not.
                    self.notify(
                        c,
                        slot.name(),
                        "supervisor".into(),
                        "high",
                        format!(
                            "escalation rule `{}` failed on this contact: {e}",
                            slot.name()
                        ),
                        now,
                        r,
                    )?;
                }
                Err(_) => {}
            }
        }
        for slot in kpis {
            // The agent the event is about: at a transfer, the one who made
            // it (the contact has none any more).
            let about = match &event.kind {
                wit::EventKind::Transferred(t) => t.from_agent.as_ref(),
                _ => c.agent_id.as_ref(),
            };
            let agent =
                about.and_then(|id| self.floor.lock().agents.get(id).map(convert::agent_info));
            let input = KpiInput {
                now,
                event: event.clone(),
                contact: Some(convert::contact(c)),
                history: Some(history.clone()),
                agent,
            };
            feed_kpi(&slot, &input, &c.id, now, at, r)?;
        }
        Ok(())
    }

    /// A contact event changed who handles the contact (an offer, a
    /// wrap-up, a transfer, ...): the period of each agent whose load
    /// changes ends here, so every period has one status and one load.
    pub(super) fn load_changed(
        &self,
        before: &ContactRecord,
        after: &ContactRecord,
        at: i64,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        use crate::domain::ContactState;
        let handler = |c: &ContactRecord| {
            matches!(
                c.state,
                ContactState::Offered | ContactState::Assigned | ContactState::WrapUp
            )
            .then(|| c.agent_id.clone())
            .flatten()
        };
        let (was, is) = (handler(before), handler(after));
        if was == is {
            return Ok(());
        }
        for id in [was, is].into_iter().flatten() {
            r.read(&self.versions, super::agent_key(&id));
            let Ok(mut agent) = self.agent(&id) else {
                continue; // deleted meanwhile: nobody to measure
            };
            // The period ending here had the contacts recorded so far, not
            // the seats dispatch has reserved for offers being recorded.
            agent.load = self.floor.lock().recorded_load(&id);
            let mut next = agent.clone();
            // An event dated before the period began (a late `occurred_at`)
            // ends nothing: never move a period's start back.
            let since = at.max(agent.period_since);
            next.period_since = since;
            next.load.clear();
            self.agent_status_changed(&agent, &next, at, r)?;
            r.writes
                .put(super::AGENTS, id.as_bytes(), super::encode(&next)?);
            r.agent_periods.push((id, since));
        }
        Ok(())
    }

    /// Feed the end of an agent's period (a status change, or a change of
    /// load) to the KPI definitions (occupancy, utilization): `before` is
    /// the agent with their load during the period.
    pub(super) fn agent_status_changed(
        &self,
        before: &crate::domain::Agent,
        after: &crate::domain::Agent,
        at: i64,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        let info = convert::agent_info(after);
        let change = wit::AgentStatusChange {
            agent: info.clone(),
            from: convert::agent_status(before.status),
            to: convert::agent_status(after.status),
            duration_ms: match before.period_since.max(before.status_since) {
                0 => 0,
                since => u64::try_from(at - since).unwrap_or(0),
            },
            load: before.load.values().sum(),
        };
        // The agent's event stream: what every KPI of agent time is
        // computed from (`GET /v1/audit?kind=agent.status_changed`).
        let record = serde_json::json!({
            "agent": after.id,
            "at": at,
            "from": before.status,
            "to": after.status,
            "duration_ms": change.duration_ms,
            "load": change.load,
        });
        super::schedules::record_presence(
            &mut r.writes,
            &after.id,
            super::schedules::Presence {
                status: before.status,
                start: at - change.duration_ms as i64,
                end: at,
            },
            self.store.generate_id()?,
        )?;
        r.audit.push(AuditEntry {
            at,
            actor: "engine".into(),
            kind: "agent.status_changed".into(),
            subject: after.id.clone(),
            data: serde_json::value::to_raw_value(&record)
                .map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))?,
        });
        let kpis = self.kpis.all();
        if kpis.is_empty() {
            return Ok(());
        }
        let input = KpiInput {
            now: at,
            event: wit::Event {
                kind: wit::EventKind::AgentStatusChanged(change),
                at,
                sequence: 0,
            },
            contact: None,
            history: None,
            agent: Some(info),
        };
        let subject = format!("agent:{}", after.id);
        for slot in kpis {
            feed_kpi(&slot, &input, &subject, at, at, r)?;
        }
        Ok(())
    }

    fn apply_action(
        &self,
        c: &mut ContactRecord,
        slot: &str,
        action: EscalationAction,
        now: i64,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        match action {
            EscalationAction::SetPriority(p) => c.requirements.priority = p,
            EscalationAction::RaisePriority(p) => {
                c.requirements.priority =
                    (c.requirements.priority.saturating_add(p)).min(bounds::MAX_PRIORITY);
            }
            EscalationAction::MoveQueue(q) => {
                if !q.trim().is_empty() {
                    c.requirements.queue = q;
                }
            }
            EscalationAction::AddTag(t) => {
                if !c.tags.contains(&t) {
                    c.tags.push(t);
                }
            }
            EscalationAction::Notify(n) => {
                let target = match n.target {
                    NotifyTarget::Supervisor => "supervisor".to_owned(),
                    NotifyTarget::Team(t) => format!("team:{t}"),
                    NotifyTarget::Agent(a) => format!("agent:{a}"),
                };
                self.notify(c, slot, target, urgency(n.urgency), n.message, now, r)?;
            }
            EscalationAction::MarkComplaint(m) => {
                c.complaint = Some(Complaint {
                    category: m.category,
                    urgency: urgency(m.urgency).to_owned(),
                    marked_at: now,
                    by: slot.to_owned(),
                });
                if !c.tags.iter().any(|t| t == "complaint") {
                    c.tags.push("complaint".into());
                }
            }
            EscalationAction::StartDeadline(d) => {
                // Restarting a clock of the same name replaces it.
                c.deadlines.retain(|x| x.name != d.name || !x.running());
                for warn in &d.warn_at {
                    timers::schedule(
                        &*self.store,
                        &mut r.writes,
                        &c.id,
                        *warn,
                        TimerKind::DeadlineWarning {
                            name: d.name.clone(),
                            due_at: d.due_at,
                        },
                    )?;
                }
                timers::schedule(
                    &*self.store,
                    &mut r.writes,
                    &c.id,
                    d.due_at,
                    TimerKind::DeadlineDue {
                        name: d.name.clone(),
                        due_at: d.due_at,
                    },
                )?;
                r.timers = true;
                c.deadlines.push(DeadlineClock {
                    name: d.name,
                    started_at: now,
                    due_at: d.due_at,
                    warn_at: d.warn_at,
                    stopped_at: None,
                    breached_at: None,
                    by: slot.to_owned(),
                });
            }
            EscalationAction::StopDeadline(name) => {
                for d in c.deadlines.iter_mut().filter(|d| d.name == name) {
                    if d.running() {
                        d.stopped_at = Some(now);
                    }
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        c: &ContactRecord,
        slot: &str,
        target: String,
        urgency: &str,
        message: String,
        now: i64,
        r: &mut Reaction,
    ) -> Result<(), EngineError> {
        let n = Notification {
            id: self.store.generate_id()?,
            at: now,
            contact_id: c.id.clone(),
            target,
            urgency: urgency.to_owned(),
            message,
            by: slot.to_owned(),
        };
        r.writes
            .put(NOTIFICATIONS, n.id.to_be_bytes().to_vec(), encode(&n)?);
        Ok(())
    }
}
