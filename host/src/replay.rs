//! Exact replay (issue 20): re-run recorded plugin decisions through the
//! component and config that made them, and compare the answers byte for
//! byte.
//!
//! Every plugin decision is audited with its component digest, config
//! digest, full input, output and outcome (`routing.decision`,
//! `escalation.decision`, `intake.classification`, `compliance.decision`,
//! `kpi.samples`, `kpi.backfill`). A plugin is a pure function of its
//! input and config: its instruction budget is fuel (not wall time), its
//! clock is frozen and its random bytes start over at every call, so the
//! same call gives the same answer on a fresh or a warm instance, on any
//! machine. [`Replayer`] finds each selected record's component (by plugin
//! id and version, checked against the recorded digest) and its config
//! (by digest, from the slot's activation records or the manifest's
//! default), calls it with the recorded input, and reports every record
//! whose outcome or output differs, with a JSON-path diff.
//!
//! With a candidate ([`Candidate`]), the same inputs go to another version
//! or config instead: every difference is then what the candidate would
//! have decided otherwise.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::audit::{AuditLog, AuditQuery, AuditRecord};
use crate::plugins::{
    Activation, CallOutcome, ComplianceCheck, EscalationRule, KpiDefinition, LoadedPlugin,
    PluginKind, RoutingPolicy,
};
use crate::store::StoreError;

/// Records read per page while selecting.
const PAGE: usize = 1_000;
/// Mismatches and skips reported in full (all are counted).
pub const MAX_EXAMPLES: usize = 100;
/// Differences listed per mismatch.
const MAX_DIFFS: usize = 20;

/// The audit record kinds that are plugin decisions, and the plugin kind
/// that makes each.
pub const DECISION_KINDS: [(&str, PluginKind); 6] = [
    ("routing.decision", PluginKind::Routing),
    ("escalation.decision", PluginKind::Escalation),
    ("intake.classification", PluginKind::Escalation),
    ("compliance.decision", PluginKind::Compliance),
    ("kpi.samples", PluginKind::Kpi),
    ("kpi.backfill", PluginKind::Kpi),
];

/// Which recorded decisions to replay (every given field must match), and
/// optionally a candidate to run them through instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// One record, by sequence number.
    pub seq: Option<u64>,
    /// Decisions about this contact (or draft, or post).
    pub contact: Option<String>,
    /// Decisions made by this plugin: `id` or `id@version`.
    pub plugin: Option<String>,
    /// Recorded at or after (ms since the epoch).
    pub from: Option<i64>,
    /// Recorded before (ms since the epoch).
    pub to: Option<i64>,
    /// Cursor: start after this sequence number (`next_after` of a
    /// previous report).
    pub after: Option<u64>,
    /// Replay at most this many decisions; the report's `next_after`
    /// continues from there.
    pub limit: Option<u64>,
    /// Run the inputs through this version (and config) instead of the
    /// one that decided: every difference is then what it would have
    /// decided otherwise.
    pub candidate: Option<Candidate>,
}

/// Another version (or config) to run the recorded inputs through
/// instead of the one that decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// An uploaded plugin id.
    pub plugin: String,
    pub version: String,
    /// Its config (the manifest's default when absent).
    pub config: Option<Value>,
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplayReport {
    /// Decisions run again.
    pub replayed: u64,
    /// Decisions run again, per record kind (`routing.decision`, ...).
    pub by_kind: std::collections::BTreeMap<String, u64>,
    /// Same outcome and, when it answered, the same output bytes.
    pub matched: u64,
    /// A different outcome or output (the first [`MAX_EXAMPLES`] are in
    /// `mismatches`).
    pub mismatched: u64,
    /// Decisions that could not be run again (the first [`MAX_EXAMPLES`]
    /// are in `skips`, with the reason).
    pub skipped: u64,
    /// Of those matched, how many used another number of instructions
    /// than recorded: the same answer by another path (a warm instance's
    /// allocator state, for one). Informational; records written before
    /// fuel was recorded are not counted.
    pub fuel_differs: u64,
    pub mismatches: Vec<Mismatch>,
    pub skips: Vec<Skip>,
    /// The last record looked at: pass it as `after` to go on, when the
    /// replay stopped at its `limit`. Absent when the selection is done.
    pub next_after: Option<u64>,
    /// Wall time of the replay, in milliseconds.
    pub elapsed_ms: u64,
}

impl ReplayReport {
    /// Add a later page of the same replay.
    pub fn absorb(&mut self, page: ReplayReport) {
        self.replayed += page.replayed;
        for (k, n) in page.by_kind {
            *self.by_kind.entry(k).or_default() += n;
        }
        self.matched += page.matched;
        self.mismatched += page.mismatched;
        self.skipped += page.skipped;
        self.fuel_differs += page.fuel_differs;
        let room = MAX_EXAMPLES.saturating_sub(self.mismatches.len());
        self.mismatches
            .extend(page.mismatches.into_iter().take(room));
        let room = MAX_EXAMPLES.saturating_sub(self.skips.len());
        self.skips.extend(page.skips.into_iter().take(room));
        self.next_after = page.next_after;
        self.elapsed_ms += page.elapsed_ms;
    }

    /// The report as text, for a terminal.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "replayed {} decisions: {} match, {} differ, {} skipped ({} ms){}\n",
            self.replayed,
            self.matched,
            self.mismatched,
            self.skipped,
            self.elapsed_ms,
            if self.fuel_differs > 0 {
                format!("; {} matched with other fuel", self.fuel_differs)
            } else {
                String::new()
            }
        );
        for m in &self.mismatches {
            s.push_str(&format!(
                "#{} {} about {}: recorded {} by {}, replayed {} by {}\n",
                m.seq,
                m.kind,
                m.subject,
                m.recorded_outcome,
                m.recorded_by,
                m.replayed_outcome,
                m.replayed_by
            ));
            for d in &m.diff {
                s.push_str(&format!("    {d}\n"));
            }
            if let Some(e) = &m.replayed_error {
                s.push_str(&format!("    error: {e}\n"));
            }
        }
        for k in &self.skips {
            s.push_str(&format!("#{} {} skipped: {}\n", k.seq, k.kind, k.reason));
        }
        if self.mismatched as usize > self.mismatches.len() {
            s.push_str(&format!(
                "(the first {} differences are listed)\n",
                self.mismatches.len()
            ));
        }
        s.trim_end().to_owned()
    }
}

/// A recorded decision that came out differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mismatch {
    pub seq: u64,
    pub kind: String,
    pub subject: String,
    /// `id@version` that decided.
    pub recorded_by: String,
    /// `id@version` run now.
    pub replayed_by: String,
    pub recorded_outcome: String,
    pub replayed_outcome: String,
    /// One line per JSON path that differs: `/path: want X, got Y`
    /// (recorded, then replayed).
    pub diff: Vec<String>,
    /// The replayed call's error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_error: Option<String>,
}

/// A recorded decision that was not run again, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Skip {
    pub seq: u64,
    pub kind: String,
    pub reason: String,
}

/// Why a replay could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The fields of a decision record that replay reads (the routing record
/// names its plugin in `decided_by`, the others at the top level).
#[derive(Deserialize)]
struct Recorded<'a> {
    slot: Option<String>,
    plugin: Option<String>,
    version: Option<String>,
    digest: Option<String>,
    decided_by: Option<Value>,
    #[serde(default)]
    config_digest: String,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    output: Option<&'a RawValue>,
    outcome: String,
    /// Absent in records written before fuel was recorded.
    #[serde(default)]
    fuel: Option<u64>,
}

/// A decision record, read.
pub(crate) struct Decision<'a> {
    pub(crate) kind: PluginKind,
    pub(crate) slot: String,
    pub(crate) plugin: String,
    pub(crate) version: String,
    digest: Option<String>,
    config_digest: String,
    pub(crate) input: &'a RawValue,
    pub(crate) output: Option<&'a RawValue>,
    pub(crate) outcome: String,
    pub(crate) fuel: Option<u64>,
}

/// `Ok(None)`: not a decision a plugin made (no version answered, or
/// another kind of record).
pub(crate) fn decision<'a>(record: &'a AuditRecord) -> Result<Option<Decision<'a>>, String> {
    let Some((_, kind)) = DECISION_KINDS.iter().find(|(k, _)| *k == record.entry.kind) else {
        return Ok(None);
    };
    let r: Recorded<'a> = serde_json::from_str(record.entry.data.get())
        .map_err(|e| format!("the record cannot be read as a decision: {e}"))?;
    if r.outcome == "unserved" {
        return Ok(None);
    }
    let (plugin, version, digest) = match (&r.decided_by, r.plugin, r.version) {
        (Some(by), _, _) => match by["by"].as_str() {
            Some("plugin") => (
                by["plugin"].as_str().map(str::to_owned),
                by["version"].as_str().map(str::to_owned),
                by["digest"].as_str().map(str::to_owned),
            ),
            // The slot's fail policy answered; the actor names the version
            // that failed, if one was asked.
            _ => match record.entry.actor.strip_prefix("plugin:") {
                Some(pv) => match pv.rsplit_once('@') {
                    Some((p, v)) => (Some(p.to_owned()), Some(v.to_owned()), None),
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        },
        (None, p, v) => (p, v, r.digest),
    };
    let (Some(plugin), Some(version)) = (plugin, version) else {
        return Err("the record names no plugin version".into());
    };
    let Some(input) = r.input else {
        return Err("the record has no input".into());
    };
    let slot = r.slot.unwrap_or_else(|| "routing".into());
    Ok(Some(Decision {
        kind: *kind,
        slot,
        plugin,
        version,
        digest,
        config_digest: r.config_digest,
        input,
        output: r.output,
        outcome: r.outcome,
        fuel: r.fuel,
    }))
}

/// One activated version, of any kind.
#[derive(Clone)]
pub(crate) enum Act {
    Routing(Arc<Activation<RoutingPolicy>>),
    Escalation(Arc<Activation<EscalationRule>>),
    Compliance(Arc<Activation<ComplianceCheck>>),
    Kpi(Arc<Activation<KpiDefinition>>),
}

/// What a call gave: the outcome, the output as the engine serializes it,
/// and the error message when it failed.
pub(crate) struct Answer {
    pub(crate) outcome: CallOutcome,
    pub(crate) output: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) fuel: u64,
}

fn answer<T: Serialize>(m: crate::plugins::Metered<T>) -> Answer {
    match m.result {
        Ok(v) => Answer {
            outcome: CallOutcome::Ok,
            output: serde_json::to_string(&v).ok(),
            error: None,
            fuel: m.fuel,
        },
        Err(e) => Answer {
            outcome: e.outcome(),
            output: None,
            error: Some(e.to_string()),
            fuel: m.fuel,
        },
    }
}

fn parse<T: serde::de::DeserializeOwned>(input: &RawValue) -> Result<T, String> {
    serde_json::from_str(input.get())
        .map_err(|e| format!("its recorded input does not fit this contract's input type: {e}"))
}

impl Act {
    pub(crate) fn kind(&self) -> PluginKind {
        match self {
            Act::Routing(_) => PluginKind::Routing,
            Act::Escalation(_) => PluginKind::Escalation,
            Act::Compliance(_) => PluginKind::Compliance,
            Act::Kpi(_) => PluginKind::Kpi,
        }
    }

    /// The component's digest and the config's.
    pub(crate) fn digests(&self) -> (String, String) {
        fn of<W: crate::plugins::World>(a: &Activation<W>) -> (String, String) {
            (
                a.plugin().id().digest.to_string(),
                a.config_digest().to_owned(),
            )
        }
        match self {
            Act::Routing(a) => of(a),
            Act::Escalation(a) => of(a),
            Act::Compliance(a) => of(a),
            Act::Kpi(a) => of(a),
        }
    }

    pub(crate) fn activate(
        plugin: &Arc<LoadedPlugin>,
        config: Option<Value>,
    ) -> Result<Act, String> {
        let err = |e: crate::plugins::PluginError| format!("cannot activate: {e}");
        Ok(match plugin.manifest().kind {
            PluginKind::Routing => Act::Routing(Arc::new(plugin.activate(config).map_err(err)?)),
            PluginKind::Escalation => {
                Act::Escalation(Arc::new(plugin.activate(config).map_err(err)?))
            }
            PluginKind::Compliance => {
                Act::Compliance(Arc::new(plugin.activate(config).map_err(err)?))
            }
            PluginKind::Kpi => Act::Kpi(Arc::new(plugin.activate(config).map_err(err)?)),
        })
    }

    /// Call with the recorded input, with the host's checks of the answer
    /// that depend on the input alone (as the engine made them).
    pub(crate) fn call(&self, input: &RawValue) -> Result<Answer, String> {
        Ok(match self {
            Act::Routing(a) => {
                let input = parse(input)?;
                answer(a.route_metered(&input, &crate::engine::check_routing_decision))
            }
            Act::Escalation(a) => answer(a.on_event_metered(&parse(input)?, &|_| Ok(()))),
            Act::Compliance(a) => {
                let draft: crate::plugins::compliance::Draft = parse(input)?;
                let chars = draft.text.chars().count();
                let check = |r: &crate::plugins::compliance::ComplianceResult| {
                    crate::engine::check_compliance_spans(r, chars)
                };
                answer(a.check_metered(&draft, &check))
            }
            Act::Kpi(a) => answer(a.on_event_metered(&parse(input)?)),
        })
    }
}

/// Loads an uploaded version by id and version.
pub type Loader<'a> = dyn Fn(&str, &str) -> Result<Arc<LoadedPlugin>, String> + 'a;

/// Runs recorded decisions again.
pub struct Replayer<'a> {
    audit: &'a AuditLog,
    load: &'a Loader<'a>,
    candidate: Option<Act>,
    candidate_by: String,
    /// Config digest -> config, from activation records and manifests.
    configs: HashMap<String, Value>,
    /// Slots whose activation records were read into `configs`.
    slots_read: Vec<String>,
    /// (plugin, version, config digest) -> activation.
    acts: HashMap<(String, String, String), Result<Act, String>>,
}

fn config_digest(config: &Value) -> String {
    hex::encode(Sha256::digest(config.to_string().as_bytes()))
}

impl<'a> Replayer<'a> {
    /// A replayer over `audit`, loading versions with `load`; with a
    /// candidate, every selected decision of the candidate's kind is run
    /// through it instead of the version that made it.
    pub fn new(
        audit: &'a AuditLog,
        load: &'a Loader<'a>,
        candidate: Option<&Candidate>,
    ) -> Result<Self, ReplayError> {
        let (candidate, candidate_by) = match candidate {
            None => (None, String::new()),
            Some(c) => {
                let plugin = (load)(&c.plugin, &c.version).map_err(ReplayError::NotFound)?;
                let act = Act::activate(&plugin, c.config.clone()).map_err(|e| {
                    ReplayError::Invalid(format!("candidate {}@{}: {e}", c.plugin, c.version))
                })?;
                (Some(act), format!("{}@{}", c.plugin, c.version))
            }
        };
        Ok(Self {
            audit,
            load,
            candidate,
            candidate_by,
            configs: HashMap::new(),
            slots_read: Vec::new(),
            acts: HashMap::new(),
        })
    }

    /// The config with digest `digest` that ran in `slot`, from the slot's
    /// activation and rollback records (read once per slot).
    fn config(&mut self, slot: &str, digest: &str) -> Result<Option<Value>, StoreError> {
        if !self.configs.contains_key(digest) && !self.slots_read.iter().any(|s| s == slot) {
            self.slots_read.push(slot.to_owned());
            let mut after = 0;
            loop {
                let page = self.audit.query(
                    &AuditQuery {
                        subject: Some(slot.to_owned()),
                        after: Some(after),
                        ..AuditQuery::default()
                    },
                    PAGE,
                )?;
                for r in &page {
                    if !r.entry.kind.starts_with("plugin.") {
                        continue;
                    }
                    let data = r.entry.data();
                    for side in ["current", "previous"] {
                        let c = &data[side]["config"];
                        if !c.is_null() {
                            self.configs.insert(config_digest(c), c.clone());
                        }
                    }
                }
                match page.last() {
                    Some(last) if page.len() == PAGE => after = last.seq,
                    _ => break,
                }
            }
        }
        Ok(self.configs.get(digest).cloned())
    }

    /// The activation that made decision `d`, or why there is none.
    fn act_for(&mut self, d: &Decision<'_>) -> Result<Result<Act, String>, StoreError> {
        let key = (d.plugin.clone(), d.version.clone(), d.config_digest.clone());
        if let Some(a) = self.acts.get(&key) {
            return Ok(a.clone());
        }
        let act = match (self.load)(&d.plugin, &d.version) {
            Err(e) => Err(e),
            Ok(plugin)
                if d.digest
                    .as_ref()
                    .is_some_and(|x| **x != *plugin.id().digest) =>
            {
                Err(format!(
                    "the stored component of {}@{} is {}, not the {} that decided",
                    d.plugin,
                    d.version,
                    plugin.id().digest,
                    d.digest.as_deref().unwrap_or_default()
                ))
            }
            Ok(plugin) => {
                let default = &plugin.manifest().default_config;
                self.configs
                    .entry(config_digest(default))
                    .or_insert_with(|| default.clone());
                match self.config(&d.slot, &d.config_digest)? {
                    Some(config) => Act::activate(&plugin, Some(config)),
                    None => Err(format!(
                        "no activation of slot `{}` recorded the config with digest {}",
                        d.slot, d.config_digest
                    )),
                }
            }
        };
        self.acts.insert(key, act.clone());
        Ok(act)
    }

    /// Replay the decisions `selection` picks (its candidate is the one
    /// given to [`Replayer::new`]).
    pub fn run(&mut self, selection: &ReplayRequest) -> Result<ReplayReport, ReplayError> {
        let started = Instant::now();
        let mut report = ReplayReport::default();
        let (plugin, version) = match &selection.plugin {
            Some(p) => match p.split_once('@') {
                Some((p, v)) => (Some(p.to_owned()), Some(v.to_owned())),
                None => (Some(p.clone()), None),
            },
            None => (None, None),
        };
        let limit = selection.limit.unwrap_or(u64::MAX);
        if let Some(seq) = selection.seq {
            let record = self
                .audit
                .get(seq)?
                .ok_or_else(|| ReplayError::NotFound(format!("no audit record {seq}")))?;
            if DECISION_KINDS.iter().all(|(k, _)| *k != record.entry.kind) {
                return Err(ReplayError::Invalid(format!(
                    "audit record {seq} is a `{}`, not a plugin decision ({})",
                    record.entry.kind,
                    DECISION_KINDS.map(|(k, _)| k).join(", ")
                )));
            }
            self.one(&record, &mut report)?;
        } else {
            let mut after = selection.after.unwrap_or(0);
            'pages: loop {
                let page = self.audit.query(
                    &AuditQuery {
                        subject: selection.contact.clone(),
                        plugin: plugin.clone(),
                        from: selection.from,
                        to: selection.to,
                        after: Some(after),
                        ..AuditQuery::default()
                    },
                    PAGE,
                )?;
                for record in &page {
                    if report.replayed + report.skipped >= limit {
                        report.next_after = Some(after);
                        break 'pages;
                    }
                    after = record.seq;
                    if let Some(v) = &version
                        && !record.entry.actor.ends_with(&format!("@{v}"))
                    {
                        continue;
                    }
                    self.one(record, &mut report)?;
                }
                if page.len() < PAGE {
                    break;
                }
            }
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Replay one record into `report` (nothing when it is not a decision).
    fn one(&mut self, record: &AuditRecord, report: &mut ReplayReport) -> Result<(), StoreError> {
        let skip = |report: &mut ReplayReport, reason: String| {
            report.skipped += 1;
            if report.skips.len() < MAX_EXAMPLES {
                report.skips.push(Skip {
                    seq: record.seq,
                    kind: record.entry.kind.clone(),
                    reason,
                });
            }
        };
        let d = match decision(record) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(()),
            Err(e) => {
                skip(report, e);
                return Ok(());
            }
        };
        let recorded_by = format!("{}@{}", d.plugin, d.version);
        let (act, replayed_by) = match &self.candidate {
            Some(c) if c.kind() != d.kind => return Ok(()),
            Some(c) => (c.clone(), self.candidate_by.clone()),
            None => {
                if d.kind == PluginKind::Escalation && d.outcome == "invalid" {
                    skip(
                        report,
                        "the host refused this escalation outcome with a check that reads the contact's state at that time (its tags and clocks), which the record does not hold".into(),
                    );
                    return Ok(());
                }
                if d.outcome == "timeout" {
                    skip(
                        report,
                        "it stopped at the wall-clock backstop, which depends on the machine; only fuel limits replay exactly".into(),
                    );
                    return Ok(());
                }
                match self.act_for(&d)? {
                    Ok(a) => (a, recorded_by.clone()),
                    Err(e) => {
                        skip(report, e);
                        return Ok(());
                    }
                }
            }
        };
        let got = match act.call(d.input) {
            Ok(got) => got,
            Err(e) => {
                skip(report, e);
                return Ok(());
            }
        };
        report.replayed += 1;
        *report.by_kind.entry(record.entry.kind.clone()).or_default() += 1;
        let outcome = serde_json::to_value(got.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let recorded = d.output.map(RawValue::get);
        if outcome == d.outcome && (outcome != "ok" || recorded == got.output.as_deref()) {
            report.matched += 1;
            if d.fuel.is_some_and(|f| f != got.fuel) {
                report.fuel_differs += 1;
            }
            return Ok(());
        }
        report.mismatched += 1;
        if report.mismatches.len() >= MAX_EXAMPLES {
            return Ok(());
        }
        let as_value = |s: Option<&str>| {
            s.and_then(|s| serde_json::from_str::<Value>(s).ok())
                .unwrap_or(Value::Null)
        };
        let mut diff = Vec::new();
        crate::fixtures::diff(
            "",
            &as_value(recorded),
            &as_value(got.output.as_deref()),
            &mut diff,
        );
        if diff.is_empty() && outcome == d.outcome {
            // Equal as JSON, different as bytes (e.g. a number's form).
            diff.push(format!(
                "/: the same JSON, other bytes: want {}, got {}",
                recorded.unwrap_or("nothing"),
                got.output.as_deref().unwrap_or("nothing")
            ));
        }
        diff.truncate(MAX_DIFFS);
        report.mismatches.push(Mismatch {
            seq: record.seq,
            kind: record.entry.kind.clone(),
            subject: record.entry.subject.clone(),
            recorded_by,
            replayed_by,
            recorded_outcome: d.outcome,
            replayed_outcome: outcome,
            diff,
            replayed_error: got.error,
        });
        Ok(())
    }
}
