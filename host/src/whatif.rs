//! What-if over recorded history (issue 20): run a candidate (an uploaded
//! version and a config, not active) over the recorded inputs of the slot
//! it would replace, in a time window, and report what would change:
//!
//! - routing: decisions whose queue, priority, required skills or tags
//!   change, the volume that moves between queues, and examples with both
//!   decisions and their reasons;
//! - escalation: the actions added and removed (complaints, clocks,
//!   notifications, ...), by action;
//! - compliance: verdict changes on the recorded drafts, with the findings;
//! - KPI definitions: each measure's samples and totals, recorded and
//!   recomputed.
//!
//! The candidate is called with exactly the inputs the live version saw
//! (the records' `input`), on every core ([`run`] splits each batch over
//! the machine's threads), off the request path: the server runs it as a
//! job ([`Jobs`]) and reports its progress. Nothing is written: a what-if
//! changes no state and no audit record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::{AuditLog, AuditQuery};
use crate::plugins::PluginKind;
use crate::replay::{Act, Answer, Candidate, Loader, ReplayError, Skip, decision};

/// Examples kept per report section.
pub const MAX_EXAMPLES: usize = 20;
/// Records fetched and compared per batch (each batch is split over the
/// worker threads).
const BATCH: usize = 512;

/// What to try, on which slot, over which window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    pub candidate: Candidate,
    /// The slot the candidate would replace: `routing` for a routing
    /// policy (the default), the slot's name for the other kinds.
    pub slot: Option<String>,
    /// Decisions recorded at or after (ms since the epoch).
    pub from: Option<i64>,
    /// Decisions recorded before (ms since the epoch).
    pub to: Option<i64>,
}

/// Routing decisions, recorded and as the candidate would make them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoutingChanges {
    pub queue_changed: u64,
    pub priority_changed: u64,
    pub skills_changed: u64,
    pub tags_changed: u64,
    /// Contacts that would go to another queue, by (recorded, candidate)
    /// queue, largest first.
    pub moves: Vec<QueueMove>,
    /// Contacts per queue, recorded and with the candidate.
    pub queues: Vec<QueueVolume>,
    pub examples: Vec<RoutingExample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueMove {
    pub from: String,
    pub to: String,
    pub contacts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueVolume {
    pub queue: String,
    pub recorded: u64,
    pub candidate: u64,
}

/// One changed routing decision: both answers, as routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoutingExample {
    pub seq: u64,
    pub contact: String,
    pub at: i64,
    #[schema(value_type = Object)]
    pub recorded: Value,
    #[schema(value_type = Object)]
    pub candidate: Value,
}

/// Escalation actions the candidate adds and removes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationChanges {
    /// By action (`MarkComplaint`, `StartDeadline`, `Notify`, ...).
    pub actions: Vec<ActionChange>,
    pub examples: Vec<EscalationExample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionChange {
    pub action: String,
    pub added: u64,
    pub removed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationExample {
    pub seq: u64,
    pub contact: String,
    pub at: i64,
    #[schema(value_type = Vec<Object>)]
    pub added: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub removed: Vec<Value>,
    pub recorded_reason: String,
    pub candidate_reason: String,
}

/// Compliance verdicts on the recorded drafts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComplianceChanges {
    /// Drafts whose verdict would change, by (recorded, candidate) verdict.
    pub verdicts: Vec<VerdictChange>,
    pub examples: Vec<ComplianceExample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerdictChange {
    pub from: String,
    pub to: String,
    pub drafts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComplianceExample {
    pub seq: u64,
    pub contact: String,
    pub at: i64,
    pub text: String,
    #[schema(value_type = Object)]
    pub recorded: Value,
    #[schema(value_type = Object)]
    pub candidate: Value,
}

/// KPI samples, recorded and recomputed by the candidate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KpiChanges {
    pub measures: Vec<MeasureChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeasureChange {
    pub measure: String,
    pub recorded: Totals,
    pub candidate: Totals,
}

/// Samples of one measure (records and replacements; retractions
/// counted apart), with the sums of their values and denominators: a
/// `sum` measure is `value`, a `mean` `value / samples`, a `ratio`
/// `value / denominator`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    pub samples: u64,
    pub retractions: u64,
    pub value: f64,
    pub denominator: f64,
}

/// What the candidate would have changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhatIfReport {
    /// `id@version` of the candidate.
    pub candidate: String,
    pub kind: Option<PluginKind>,
    pub slot: String,
    /// Recorded decisions of the slot in the window.
    pub decisions: u64,
    /// Of those, both the recorded and the candidate's call answered.
    pub compared: u64,
    /// Of those compared, the candidate would have decided otherwise.
    pub changed: u64,
    /// The candidate failed (by outcome: `error`, `trap`, `limit`, ...):
    /// under its fail policy, those contacts would not have been decided
    /// by it.
    pub candidate_failed: BTreeMap<String, u64>,
    /// The recorded call had failed; the candidate's answer has nothing to
    /// be compared with.
    pub recorded_failed: u64,
    /// Records that could not be run (the first ones, with the reason).
    pub skipped: u64,
    pub skips: Vec<Skip>,
    pub routing: Option<RoutingChanges>,
    pub escalation: Option<EscalationChanges>,
    pub compliance: Option<ComplianceChanges>,
    pub kpi: Option<KpiChanges>,
    pub elapsed_ms: u64,
    /// Decisions run through the candidate per second.
    pub per_sec: f64,
}

impl WhatIfReport {
    /// The report as text, for a terminal.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} in slot `{}`: {} recorded decisions, {} compared, {} would change ({:.1}%), {} skipped ({} ms, {:.0} decisions/s)\n",
            self.candidate,
            self.slot,
            self.decisions,
            self.compared,
            self.changed,
            if self.compared == 0 {
                0.0
            } else {
                self.changed as f64 * 100.0 / self.compared as f64
            },
            self.skipped,
            self.elapsed_ms,
            self.per_sec
        );
        for (outcome, n) in &self.candidate_failed {
            s.push_str(&format!("  the candidate failed {n} times ({outcome})\n"));
        }
        if self.recorded_failed > 0 {
            s.push_str(&format!(
                "  {} recorded calls had failed: nothing to compare with\n",
                self.recorded_failed
            ));
        }
        if let Some(r) = &self.routing {
            s.push_str(&format!(
                "  changed: queue {}, priority {}, required skills {}, tags {}\n",
                r.queue_changed, r.priority_changed, r.skills_changed, r.tags_changed
            ));
            s.push_str("  queue                 recorded  candidate\n");
            for q in &r.queues {
                s.push_str(&format!(
                    "  {:<20} {:>9} {:>10}\n",
                    q.queue, q.recorded, q.candidate
                ));
            }
            for m in r.moves.iter().take(10) {
                s.push_str(&format!(
                    "  {} -> {}: {} contacts\n",
                    m.from, m.to, m.contacts
                ));
            }
            for e in r.examples.iter().take(5) {
                s.push_str(&format!(
                    "  #{} {}: {} (p{}) \"{}\" -> {} (p{}) \"{}\"\n",
                    e.seq,
                    e.contact,
                    str_of(&e.recorded["queue"]),
                    e.recorded["priority"],
                    str_of(&e.recorded["reason"]),
                    str_of(&e.candidate["queue"]),
                    e.candidate["priority"],
                    str_of(&e.candidate["reason"])
                ));
            }
        }
        if let Some(e) = &self.escalation {
            for a in &e.actions {
                s.push_str(&format!(
                    "  {}: {} added, {} removed\n",
                    a.action, a.added, a.removed
                ));
            }
            for x in e.examples.iter().take(5) {
                s.push_str(&format!(
                    "  #{} {}: +{} -{} \"{}\" -> \"{}\"\n",
                    x.seq,
                    x.contact,
                    x.added.len(),
                    x.removed.len(),
                    x.recorded_reason,
                    x.candidate_reason
                ));
            }
        }
        if let Some(c) = &self.compliance {
            for v in &c.verdicts {
                s.push_str(&format!("  {} -> {}: {} drafts\n", v.from, v.to, v.drafts));
            }
        }
        if let Some(k) = &self.kpi {
            s.push_str(
                "  measure                    recorded samples/value   candidate samples/value\n",
            );
            for m in &k.measures {
                s.push_str(&format!(
                    "  {:<26} {:>8} {:>14.2}   {:>8} {:>14.2}\n",
                    m.measure,
                    m.recorded.samples,
                    m.recorded.value,
                    m.candidate.samples,
                    m.candidate.value
                ));
            }
        }
        for k in &self.skips {
            s.push_str(&format!("  #{} {} skipped: {}\n", k.seq, k.kind, k.reason));
        }
        s.trim_end().to_owned()
    }
}

/// How far a what-if is: audit records looked at, of those in the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// The variant name of an externally tagged enum value (`{"AddTag": ..}`
/// or `"Unit"`).
fn variant(v: &Value) -> String {
    match v {
        Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// `a` minus `b`, as multisets.
fn minus(a: &[Value], b: &[Value]) -> Vec<Value> {
    let mut rest: Vec<&Value> = b.iter().collect();
    a.iter()
        .filter(|x| match rest.iter().position(|y| y == x) {
            Some(i) => {
                rest.swap_remove(i);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Accumulates the comparison of each decision.
#[derive(Default)]
struct Tally {
    report: WhatIfReport,
    moves: BTreeMap<(String, String), u64>,
    queues: BTreeMap<String, (u64, u64)>,
    actions: BTreeMap<String, (u64, u64)>,
    verdicts: BTreeMap<(String, String), u64>,
    measures: BTreeMap<String, (Totals, Totals)>,
}

/// One recorded decision, its candidate answer.
struct Compared {
    seq: u64,
    subject: String,
    at: i64,
    input: Value,
    recorded: Value,
    candidate: Value,
}

impl Tally {
    fn add_emissions(&mut self, emissions: &Value, candidate: bool) {
        for e in emissions.as_array().into_iter().flatten() {
            let (kind, body) = match e.as_object().and_then(|m| m.iter().next()) {
                Some((k, b)) => (k.as_str(), b),
                None => continue,
            };
            let entry = self.measures.entry(str_of(&body["measure"])).or_default();
            let t = if candidate {
                &mut entry.1
            } else {
                &mut entry.0
            };
            if kind == "Retract" {
                t.retractions += 1;
            } else {
                t.samples += 1;
                t.value += body["value"].as_f64().unwrap_or(0.0);
                t.denominator += body["denominator"].as_f64().unwrap_or(0.0);
            }
        }
    }

    fn compare(&mut self, kind: PluginKind, c: Compared) {
        let r = &mut self.report;
        r.compared += 1;
        match kind {
            PluginKind::Routing => {
                let (a, b) = (&c.recorded, &c.candidate);
                let (qa, qb) = (str_of(&a["queue"]), str_of(&b["queue"]));
                let section = r.routing.get_or_insert_with(Default::default);
                let queue = qa != qb;
                let priority = a["priority"] != b["priority"];
                let skills = sorted(&a["required_skills"]) != sorted(&b["required_skills"]);
                let tags = sorted(&a["tags"]) != sorted(&b["tags"]);
                section.queue_changed += u64::from(queue);
                section.priority_changed += u64::from(priority);
                section.skills_changed += u64::from(skills);
                section.tags_changed += u64::from(tags);
                self.queues.entry(qa.clone()).or_default().0 += 1;
                self.queues.entry(qb.clone()).or_default().1 += 1;
                if queue {
                    *self.moves.entry((qa, qb)).or_default() += 1;
                }
                if queue || priority || skills || tags {
                    r.changed += 1;
                    if section.examples.len() < MAX_EXAMPLES {
                        section.examples.push(RoutingExample {
                            seq: c.seq,
                            contact: c.subject,
                            at: c.at,
                            recorded: c.recorded,
                            candidate: c.candidate,
                        });
                    }
                }
            }
            PluginKind::Escalation => {
                let empty = Vec::new();
                let a = c.recorded["actions"].as_array().unwrap_or(&empty);
                let b = c.candidate["actions"].as_array().unwrap_or(&empty);
                let (added, removed) = (minus(b, a), minus(a, b));
                let section = r.escalation.get_or_insert_with(Default::default);
                for x in &added {
                    self.actions.entry(variant(x)).or_default().0 += 1;
                }
                for x in &removed {
                    self.actions.entry(variant(x)).or_default().1 += 1;
                }
                if !added.is_empty() || !removed.is_empty() {
                    r.changed += 1;
                    if section.examples.len() < MAX_EXAMPLES {
                        section.examples.push(EscalationExample {
                            seq: c.seq,
                            contact: c.subject,
                            at: c.at,
                            added,
                            removed,
                            recorded_reason: str_of(&c.recorded["reason"]),
                            candidate_reason: str_of(&c.candidate["reason"]),
                        });
                    }
                }
            }
            PluginKind::Compliance => {
                let (va, vb) = (
                    str_of(&c.recorded["verdict"]),
                    str_of(&c.candidate["verdict"]),
                );
                let section = r.compliance.get_or_insert_with(Default::default);
                if c.recorded != c.candidate {
                    r.changed += 1;
                }
                if va != vb {
                    *self.verdicts.entry((va, vb)).or_default() += 1;
                    if section.examples.len() < MAX_EXAMPLES {
                        section.examples.push(ComplianceExample {
                            seq: c.seq,
                            contact: c.subject,
                            at: c.at,
                            text: str_of(&c.input["text"]),
                            recorded: c.recorded,
                            candidate: c.candidate,
                        });
                    }
                }
            }
            PluginKind::Kpi => {
                r.kpi.get_or_insert_with(Default::default);
                if c.recorded != c.candidate {
                    r.changed += 1;
                }
                self.add_emissions(&c.recorded, false);
                self.add_emissions(&c.candidate, true);
            }
        }
    }

    fn finish(mut self) -> WhatIfReport {
        let r = &mut self.report;
        if let Some(s) = &mut r.routing {
            s.moves = (self.moves.into_iter())
                .map(|((from, to), contacts)| QueueMove { from, to, contacts })
                .collect();
            s.moves.sort_by_key(|m| std::cmp::Reverse(m.contacts));
            s.queues = (self.queues.into_iter())
                .map(|(queue, (recorded, candidate))| QueueVolume {
                    queue,
                    recorded,
                    candidate,
                })
                .collect();
        }
        if let Some(s) = &mut r.escalation {
            s.actions = (self.actions.into_iter())
                .map(|(action, (added, removed))| ActionChange {
                    action,
                    added,
                    removed,
                })
                .collect();
        }
        if let Some(s) = &mut r.compliance {
            s.verdicts = (self.verdicts.into_iter())
                .map(|((from, to), drafts)| VerdictChange { from, to, drafts })
                .collect();
            s.verdicts.sort_by_key(|v| std::cmp::Reverse(v.drafts));
        }
        if let Some(s) = &mut r.kpi {
            s.measures = (self.measures.into_iter())
                .map(|(measure, (recorded, candidate))| MeasureChange {
                    measure,
                    recorded,
                    candidate,
                })
                .collect();
        }
        self.report
    }
}

/// The candidate activated, its kind and the slot it stands in for: a
/// request that cannot run is refused before a job starts.
pub(crate) fn prepare(
    load: &Loader<'_>,
    req: &WhatIfRequest,
) -> Result<(Act, PluginKind, String), ReplayError> {
    let c = &req.candidate;
    let plugin = load(&c.plugin, &c.version).map_err(ReplayError::NotFound)?;
    let act = Act::activate(&plugin, c.config.clone())
        .map_err(|e| ReplayError::Invalid(format!("candidate {}@{}: {e}", c.plugin, c.version)))?;
    let kind = act.kind();
    let slot = match (&req.slot, kind) {
        (Some(s), _) => s.clone(),
        (None, PluginKind::Routing) => crate::registry::ROUTING_SLOT.to_owned(),
        (None, kind) => {
            return Err(ReplayError::Invalid(format!(
                "a {kind} candidate stands in for one slot: name it in `slot` (GET /v1/slots lists them)"
            )));
        }
    };
    if (slot == crate::registry::ROUTING_SLOT) != (kind == PluginKind::Routing) {
        return Err(ReplayError::Invalid(format!(
            "{}@{} is a {kind} plugin; slot `{}` takes the routing policy and routing policies go only there",
            c.plugin,
            c.version,
            crate::registry::ROUTING_SLOT
        )));
    }
    Ok((act, kind, slot))
}

/// Refuse a request that cannot run (an unknown or broken candidate, a
/// slot that does not fit it) before a job starts.
pub fn check(load: &Loader<'_>, req: &WhatIfRequest) -> Result<(), ReplayError> {
    prepare(load, req).map(|_| ())
}

/// Run `req` over `audit`, loading versions with `load`, calling
/// `progress` after each batch. Uses every core for the candidate's calls.
pub fn run(
    audit: &AuditLog,
    load: &Loader<'_>,
    req: &WhatIfRequest,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<WhatIfReport, ReplayError> {
    let started = Instant::now();
    let c = &req.candidate;
    let (act, kind, slot) = prepare(load, req)?;
    let seqs = audit.seqs(&AuditQuery {
        from: req.from,
        to: req.to,
        ..AuditQuery::default()
    })?;
    let total = seqs.len() as u64;
    let mut tally = Tally::default();
    tally.report.candidate = format!("{}@{}", c.plugin, c.version);
    tally.report.kind = Some(kind);
    tally.report.slot = slot.clone();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let done = AtomicU64::new(0);
    for batch in seqs.chunks(BATCH) {
        // Read the batch's decisions of this slot (in chain order).
        let mut records = Vec::with_capacity(batch.len());
        for seq in batch {
            if let Some(r) = audit.get(*seq)? {
                records.push(r);
            }
        }
        let mut mine = Vec::new();
        for record in &records {
            if req.from.is_some_and(|f| record.entry.at < f)
                || req.to.is_some_and(|t| record.entry.at >= t)
            {
                continue;
            }
            match decision(record) {
                Ok(Some(d)) if d.kind == kind && d.slot == slot => mine.push((record, d)),
                Ok(_) => {}
                Err(e) if tally.report.skips.len() < MAX_EXAMPLES => {
                    tally.report.skipped += 1;
                    tally.report.skips.push(Skip {
                        seq: record.seq,
                        kind: record.entry.kind.clone(),
                        reason: e,
                    });
                }
                Err(_) => tally.report.skipped += 1,
            }
        }
        // The candidate's calls, on every core.
        let per = mine.len().div_ceil(threads).max(1);
        let answers: Vec<Result<Answer, String>> = std::thread::scope(|s| {
            let workers: Vec<_> = mine
                .chunks(per)
                .map(|part| {
                    let act = &act;
                    s.spawn(move || {
                        part.iter()
                            .map(|(_, d)| act.call(d.input))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| {
                    w.join()
                        .unwrap_or_else(|_| vec![Err("the worker panicked".into())])
                })
                .collect()
        });
        for ((record, d), answer) in mine.into_iter().zip(answers) {
            let r = &mut tally.report;
            r.decisions += 1;
            let answer = match answer {
                Ok(a) => a,
                Err(reason) => {
                    r.skipped += 1;
                    if r.skips.len() < MAX_EXAMPLES {
                        r.skips.push(Skip {
                            seq: record.seq,
                            kind: record.entry.kind.clone(),
                            reason,
                        });
                    }
                    continue;
                }
            };
            let outcome = serde_json::to_value(answer.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            if outcome != "ok" {
                *r.candidate_failed.entry(outcome).or_default() += 1;
                continue;
            }
            let (Some(recorded), Some(candidate)) = (d.output, answer.output) else {
                r.recorded_failed += 1;
                continue;
            };
            let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            tally.compare(
                kind,
                Compared {
                    seq: record.seq,
                    subject: record.entry.subject.clone(),
                    at: record.entry.at,
                    input: parse(d.input.get()),
                    recorded: parse(recorded.get()),
                    candidate: parse(&candidate),
                },
            );
        }
        let done = done.fetch_add(batch.len() as u64, Ordering::Relaxed) + batch.len() as u64;
        progress(Progress { done, total });
    }
    let mut report = tally.finish();
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report.per_sec = report.decisions as f64 / started.elapsed().as_secs_f64().max(1e-9);
    Ok(report)
}

/// A what-if running (or run) on the server.
pub struct Job {
    pub id: String,
    pub request: WhatIfRequest,
    /// `token:<id>` of who started it.
    pub started_by: String,
    pub started_at: i64,
    done: AtomicU64,
    total: AtomicU64,
    outcome: parking_lot::Mutex<Option<Result<WhatIfReport, String>>>,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub request: WhatIfRequest,
    pub started_by: String,
    pub started_at: i64,
    /// Audit records looked at, of `total` in the window.
    pub done: u64,
    pub total: u64,
    /// The report, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<WhatIfReport>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Job {
    /// What the API shows; the report only when `full`.
    pub fn view(&self, full: bool) -> JobView {
        let outcome = self.outcome.lock();
        let (state, report, error) = match &*outcome {
            None => ("running", None, None),
            Some(Ok(r)) => ("done", full.then(|| r.clone()), None),
            Some(Err(e)) => ("failed", None, Some(e.clone())),
        };
        JobView {
            id: self.id.clone(),
            state: state.into(),
            request: self.request.clone(),
            started_by: self.started_by.clone(),
            started_at: self.started_at,
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            report,
            error,
        }
    }

    fn running(&self) -> bool {
        self.outcome.lock().is_none()
    }
}

/// The server's what-if jobs, in memory (a restart forgets them; the
/// report is in the answer of `GET /v1/whatif/{id}` until then).
#[derive(Default)]
pub struct Jobs {
    jobs: parking_lot::Mutex<Vec<Arc<Job>>>,
    next: AtomicU64,
}

/// Jobs kept (the oldest finished one goes first).
const KEEP: usize = 50;
/// Jobs running at once: each uses every core.
pub const MAX_RUNNING: usize = 2;

impl Jobs {
    /// Start `request` on its own thread; `None` when [`MAX_RUNNING`]
    /// are running. `work` runs the what-if, reporting progress.
    pub fn start(
        &self,
        request: WhatIfRequest,
        started_by: String,
        started_at: i64,
        work: impl FnOnce(&WhatIfRequest, &(dyn Fn(Progress) + Sync)) -> Result<WhatIfReport, String>
        + Send
        + 'static,
    ) -> Option<Arc<Job>> {
        let job = {
            let mut jobs = self.jobs.lock();
            if jobs.iter().filter(|j| j.running()).count() >= MAX_RUNNING {
                return None;
            }
            if jobs.len() >= KEEP
                && let Some(i) = jobs.iter().position(|j| !j.running())
            {
                jobs.remove(i);
            }
            let job = Arc::new(Job {
                id: format!("whatif-{}", self.next.fetch_add(1, Ordering::Relaxed) + 1),
                request,
                started_by,
                started_at,
                done: AtomicU64::new(0),
                total: AtomicU64::new(0),
                outcome: parking_lot::Mutex::new(None),
            });
            jobs.push(job.clone());
            job
        };
        let running = job.clone();
        let spawned = std::thread::Builder::new()
            .name("whatif".into())
            .spawn(move || {
                let progress = |p: Progress| {
                    running.done.store(p.done, Ordering::Relaxed);
                    running.total.store(p.total, Ordering::Relaxed);
                };
                let result = work(&running.request, &progress);
                *running.outcome.lock() = Some(result);
            });
        if let Err(e) = spawned {
            *job.outcome.lock() = Some(Err(format!("cannot start the job's thread: {e}")));
        }
        Some(job)
    }

    /// The job `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.lock().iter().find(|j| j.id == id).cloned()
    }

    /// Every job kept, newest first.
    pub fn list(&self) -> Vec<Arc<Job>> {
        self.jobs.lock().iter().rev().cloned().collect()
    }
}
