//! Shadow mode (issue 20): a candidate runs beside a slot's live version on
//! real traffic. The live version answers and its decision is applied as
//! always; each live decision's audit record (input and output) is handed,
//! after the commit and off the request path, to the shadow's own thread,
//! which calls the candidate with the same input, records its answer as a
//! `shadow.decision` audit record (never applied) and keeps the agreement:
//! how often the candidate agrees, the JSON paths where it differs most,
//! the latest disagreements.
//!
//! Bounded in cost: a deterministic sample of the decisions (by sequence
//! number), a bounded queue (a decision that finds it full is dropped and
//! counted, never waited for), one thread per shadow, and the candidate's
//! own fuel and memory limits. Nothing the shadow does can delay or fail a
//! live request: the committing thread only samples and `try_send`s.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::{AuditEntry, AuditLog, AuditRecord};
use crate::replay::{Act, Candidate, decision};

/// Decisions waiting for a shadow's thread; more are dropped (counted).
const QUEUE: usize = 4_096;
/// Disagreements kept as examples (the latest).
const EXAMPLES: usize = 20;
/// Differing JSON paths listed (the most frequent).
const PATHS: usize = 20;

/// Start shadowing a slot with a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowRequest {
    pub plugin: String,
    pub version: String,
    /// Its config (the manifest's default when absent).
    pub config: Option<Value>,
    /// The share of live decisions the candidate also makes, 0 to 1
    /// (default 1: every one). Chosen by sequence number: the same
    /// decisions on every run.
    pub sample: Option<f64>,
}

/// A JSON path where the candidate differed, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PathCount {
    pub path: String,
    pub count: u64,
}

/// A live decision the candidate would have made otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShadowExample {
    /// The live decision's audit record.
    pub live_seq: u64,
    /// The candidate's `shadow.decision` record.
    pub shadow_seq: u64,
    pub subject: String,
    pub live_outcome: String,
    pub candidate_outcome: String,
    /// `/path: want <live>, got <candidate>`.
    pub diff: Vec<String>,
}

/// How a shadow is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShadowStatus {
    pub slot: String,
    pub candidate: Candidate,
    pub sample: f64,
    pub started_at: i64,
    pub started_by: String,
    /// Live decisions sampled for the candidate.
    pub offered: u64,
    /// Of those, dropped because the shadow's queue was full.
    pub dropped: u64,
    /// Waiting in the queue now.
    pub pending: u64,
    /// Both answered; compared.
    pub compared: u64,
    pub agreed: u64,
    pub disagreed: u64,
    /// `agreed / compared`; absent before the first comparison.
    pub agreement: Option<f64>,
    /// The candidate failed (by outcome) where the live version answered.
    pub candidate_failed: BTreeMap<String, u64>,
    /// The live call had failed: nothing to compare with.
    pub live_failed: u64,
    /// Where the candidate differs, most frequent first.
    pub differences: Vec<PathCount>,
    /// The latest disagreements, newest first.
    pub examples: Vec<ShadowExample>,
}

#[derive(Default)]
struct Stats {
    compared: u64,
    agreed: u64,
    candidate_failed: BTreeMap<String, u64>,
    live_failed: u64,
    paths: HashMap<String, u64>,
    examples: VecDeque<ShadowExample>,
    /// Decisions the thread is done with.
    processed: u64,
}

/// One slot's shadow.
struct Shadow {
    slot: String,
    candidate: Candidate,
    digest: String,
    config_digest: String,
    sample: f64,
    started_at: i64,
    started_by: String,
    tx: parking_lot::Mutex<Option<SyncSender<AuditRecord>>>,
    offered: AtomicU64,
    dropped: AtomicU64,
    stats: parking_lot::Mutex<Stats>,
    settled: parking_lot::Condvar,
}

/// Whether decision `seq` is in a sample of `rate` (0 to 1): a hash of the
/// sequence number, so the sample is the same on every run.
fn sampled(seq: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let h = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    (h as f64) < rate * (1u64 << 53) as f64
}

/// Record kinds a shadow sees: live decisions (a backfill is not one).
fn live(kind: &str) -> bool {
    matches!(
        kind,
        "routing.decision"
            | "escalation.decision"
            | "intake.classification"
            | "compliance.decision"
            | "kpi.samples"
    )
}

impl Shadow {
    fn status(&self) -> ShadowStatus {
        let s = self.stats.lock();
        let offered = self.offered.load(Ordering::Relaxed);
        let dropped = self.dropped.load(Ordering::Relaxed);
        let mut differences: Vec<PathCount> = (s.paths.iter())
            .map(|(path, count)| PathCount {
                path: path.clone(),
                count: *count,
            })
            .collect();
        differences.sort_by(|a, b| b.count.cmp(&a.count).then(a.path.cmp(&b.path)));
        differences.truncate(PATHS);
        ShadowStatus {
            slot: self.slot.clone(),
            candidate: self.candidate.clone(),
            sample: self.sample,
            started_at: self.started_at,
            started_by: self.started_by.clone(),
            offered,
            dropped,
            pending: offered.saturating_sub(dropped + s.processed),
            compared: s.compared,
            agreed: s.agreed,
            disagreed: s.compared - s.agreed,
            agreement: (s.compared > 0).then(|| s.agreed as f64 / s.compared as f64),
            candidate_failed: s.candidate_failed.clone(),
            live_failed: s.live_failed,
            differences,
            examples: s.examples.iter().cloned().collect(),
        }
    }

    /// Hand `record` to the thread, unless the queue is full.
    fn offer(&self, record: &AuditRecord) {
        if !sampled(record.seq, self.sample) {
            return;
        }
        self.offered.fetch_add(1, Ordering::Relaxed);
        let tx = self.tx.lock().clone();
        let sent = match tx {
            Some(tx) => match tx.try_send(record.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.settled.notify_all();
        }
    }

    /// The shadow's thread: call the candidate for each live decision,
    /// record its answer, keep the agreement.
    fn work(self: Arc<Self>, act: Act, rx: Receiver<AuditRecord>, audit: Arc<AuditLog>) {
        for record in rx {
            self.one(&act, &record, &audit);
            self.stats.lock().processed += 1;
            self.settled.notify_all();
        }
    }

    fn one(&self, act: &Act, record: &AuditRecord, audit: &AuditLog) {
        let Ok(Some(d)) = decision(record) else {
            return;
        };
        let answer = match act.call(d.input) {
            Ok(a) => a,
            Err(e) => {
                *self
                    .stats
                    .lock()
                    .candidate_failed
                    .entry(format!("unreadable input: {e}"))
                    .or_default() += 1;
                return;
            }
        };
        let outcome = serde_json::to_value(answer.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let live = d.output.map(|o| o.get().to_owned());
        let agrees = outcome == d.outcome && live == answer.output;
        let mut diff = Vec::new();
        if !agrees {
            let parse = |s: Option<&str>| {
                s.and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .unwrap_or(Value::Null)
            };
            crate::fixtures::diff(
                "",
                &parse(live.as_deref()),
                &parse(answer.output.as_deref()),
                &mut diff,
            );
            diff.truncate(PATHS);
        }
        let output: Option<Box<serde_json::value::RawValue>> = answer
            .output
            .as_deref()
            .and_then(|o| serde_json::value::RawValue::from_string(o.to_owned()).ok());
        let data = serde_json::json!({
            "slot": self.slot,
            "plugin": self.candidate.plugin,
            "version": self.candidate.version,
            "digest": self.digest,
            "config_digest": self.config_digest,
            "live_seq": record.seq,
            "outcome": outcome,
            "output": output,
            "error": answer.error,
            "agrees": agrees,
            "diff": diff,
        });
        // Recorded, never applied; durable with the next group flush.
        let shadow_seq = serde_json::value::to_raw_value(&data)
            .ok()
            .and_then(|data| {
                audit
                    .append(AuditEntry {
                        at: record.entry.at,
                        actor: format!(
                            "plugin:{}@{}",
                            self.candidate.plugin, self.candidate.version
                        ),
                        kind: "shadow.decision".into(),
                        subject: record.entry.subject.clone(),
                        data,
                    })
                    .ok()
            })
            .map_or(0, |r| r.seq);
        let mut s = self.stats.lock();
        if d.outcome != "ok" {
            s.live_failed += 1;
            return;
        }
        if outcome != "ok" {
            *s.candidate_failed.entry(outcome).or_default() += 1;
            return;
        }
        s.compared += 1;
        if agrees {
            s.agreed += 1;
            return;
        }
        for line in &diff {
            let path = line.split(": ").next().unwrap_or_default().to_owned();
            *s.paths.entry(path).or_default() += 1;
        }
        if s.examples.len() >= EXAMPLES {
            s.examples.pop_back();
        }
        s.examples.push_front(ShadowExample {
            live_seq: record.seq,
            shadow_seq,
            subject: record.entry.subject.clone(),
            live_outcome: d.outcome,
            candidate_outcome: outcome,
            diff,
        });
    }
}

/// The shadows of every slot.
pub struct Shadows {
    audit: Arc<AuditLog>,
    slots: parking_lot::RwLock<HashMap<String, Arc<Shadow>>>,
}

impl Shadows {
    /// Shadows recording their answers in `audit`.
    pub fn new(audit: Arc<AuditLog>) -> Self {
        Self {
            audit,
            slots: Default::default(),
        }
    }

    /// Hand a commit's live decisions to the shadows of their slots (the
    /// engine's commit listener: only samples and queues, never waits).
    pub fn offer(&self, records: &[AuditRecord]) {
        let slots = self.slots.read();
        if slots.is_empty() {
            return;
        }
        for record in records.iter().filter(|r| live(&r.entry.kind)) {
            let Ok(Some(d)) = decision(record) else {
                continue;
            };
            if let Some(shadow) = slots.get(&d.slot) {
                shadow.offer(record);
            }
        }
    }

    /// Run `act` (the candidate, already checked to fit `slot`) beside
    /// `slot`'s live version, replacing any shadow it had.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        &self,
        slot: &str,
        candidate: Candidate,
        act: Act,
        sample: f64,
        started_by: String,
        started_at: i64,
    ) -> Result<ShadowStatus, String> {
        if !(0.0..=1.0).contains(&sample) {
            return Err(format!(
                "`sample` is {sample}; it is the share of live decisions the candidate also makes, from 0 to 1"
            ));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let (digest, config_digest) = act.digests();
        let shadow = Arc::new(Shadow {
            slot: slot.to_owned(),
            candidate,
            digest,
            config_digest,
            sample,
            started_at,
            started_by,
            tx: parking_lot::Mutex::new(Some(tx)),
            offered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            stats: Default::default(),
            settled: parking_lot::Condvar::new(),
        });
        let worker = shadow.clone();
        let audit = self.audit.clone();
        std::thread::Builder::new()
            .name(format!("shadow-{slot}"))
            .spawn(move || worker.work(act, rx, audit))
            .map_err(|e| format!("cannot start the shadow's thread: {e}"))?;
        let status = shadow.status();
        if let Some(old) = self.slots.write().insert(slot.to_owned(), shadow) {
            old.tx.lock().take();
        }
        Ok(status)
    }

    /// The shadow of `slot`, if any; with `settle`, once every decision
    /// handed to it so far is done (waiting at most `settle`).
    pub fn status(&self, slot: &str, settle: Option<Duration>) -> Option<ShadowStatus> {
        let shadow = self.slots.read().get(slot).cloned()?;
        if let Some(wait) = settle {
            let deadline = Instant::now() + wait;
            let mut s = shadow.stats.lock();
            while s.processed + shadow.dropped.load(Ordering::Relaxed)
                < shadow.offered.load(Ordering::Relaxed)
            {
                if shadow.settled.wait_until(&mut s, deadline).timed_out() {
                    break;
                }
            }
        }
        Some(shadow.status())
    }

    /// Stop shadowing `slot`; its last status.
    pub fn stop(&self, slot: &str) -> Option<ShadowStatus> {
        let shadow = self.slots.write().remove(slot)?;
        shadow.tx.lock().take();
        Some(shadow.status())
    }

    /// Every running shadow.
    pub fn all(&self) -> Vec<ShadowStatus> {
        let mut all: Vec<ShadowStatus> = self.slots.read().values().map(|s| s.status()).collect();
        all.sort_by(|a, b| a.slot.cmp(&b.slot));
        all
    }
}
