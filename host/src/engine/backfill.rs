//! KPI backfill (issue 19, decision 0003): a KPI definition call that
//! failed (an error, a trap, a limit, garbage, or no version to answer
//! while quarantined) is recorded with its full input in its `kpi.samples`
//! audit record. Once the definition works again, [`Engine::backfill_kpis`]
//! re-runs each such input through the slot's current version and applies
//! the samples it emits, each failed call exactly once (a marker keyed by
//! the failed record's sequence number is written in the same commit), so
//! a transient failure never leaves the KPIs short for good.

use serde::Serialize;

use crate::audit::AuditQuery;
use crate::plugins::kpi::KpiInput;
use crate::store::StoreError;

use super::reactions::{Reaction, call_entries};
use super::{Engine, EngineError};

/// Failed calls already backfilled: failed record's sequence number (big
/// endian) -> the backfill record's.
pub(super) const BACKFILLED: &str = "kpi_backfilled";

/// Audit records read per page while looking for failed calls.
const PAGE: usize = 1_000;

/// What a backfill did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BackfillReport {
    /// Failed KPI calls found in the audit log.
    pub failed: u64,
    /// Re-run now, and their samples applied.
    pub backfilled: u64,
    /// Samples those re-runs emitted.
    pub samples: u64,
    /// Backfilled before (each failed call is backfilled once).
    pub already: u64,
    /// Failed again (or their slot has nothing active): try later.
    pub still_failing: Vec<StillFailing>,
}

/// A failed call that could not be backfilled now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StillFailing {
    /// The failed call's audit record.
    pub seq: u64,
    pub slot: String,
    pub error: String,
}

fn marker(seq: u64) -> Vec<u8> {
    seq.to_be_bytes().to_vec()
}

impl Engine {
    /// Re-run every failed KPI definition call not yet backfilled through
    /// its slot's current version, and apply the samples (in the buckets
    /// of the original events). Each re-run is audited as `kpi.backfill`
    /// with the failed record's sequence number. Safe to run again: what
    /// was backfilled is skipped.
    pub fn backfill_kpis(&self) -> Result<BackfillReport, EngineError> {
        let mut report = BackfillReport::default();
        let mut after = 0;
        loop {
            let page = self.audit.query(
                &AuditQuery {
                    kind: Some("kpi.samples".into()),
                    after: Some(after),
                    ..AuditQuery::default()
                },
                PAGE,
            )?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            for record in &page {
                let data = record.entry.data();
                if data["outcome"] == "ok" {
                    continue;
                }
                report.failed += 1;
                if self.store.get(BACKFILLED, &marker(record.seq))?.is_some() {
                    report.already += 1;
                    continue;
                }
                let slot_name = data["slot"].as_str().unwrap_or_default().to_owned();
                let failing = |error: String| StillFailing {
                    seq: record.seq,
                    slot: slot_name.clone(),
                    error,
                };
                let input: KpiInput = match serde_json::from_value(data["input"].clone()) {
                    Ok(i) => i,
                    Err(e) => {
                        report
                            .still_failing
                            .push(failing(format!("its recorded input cannot be read: {e}")));
                        continue;
                    }
                };
                let Some(slot) = self.kpis.get(&slot_name) else {
                    report.still_failing.push(failing(format!(
                        "KPI slot `{slot_name}` has no active version; activate one and backfill again"
                    )));
                    continue;
                };
                let call = match slot.call_metered(|a| a.on_event_metered(&input)) {
                    Ok(call) => call,
                    Err(unserved) => {
                        report.still_failing.push(failing(unserved.to_string()));
                        continue;
                    }
                };
                let emissions = match &call.result {
                    Ok(e) => e.clone(),
                    Err(e) => {
                        report.still_failing.push(failing(e.to_string()));
                        continue;
                    }
                };
                let now = (self.clock)();
                let mut audit = call_entries(
                    &slot,
                    &call,
                    "kpi.backfill",
                    &record.entry.subject,
                    now,
                    &input,
                )?;
                // The backfill names the failed call it stands in for.
                let mut first: serde_json::Value = audit[0].data();
                first["backfills"] = record.seq.into();
                audit[0].data = serde_json::value::to_raw_value(&first)
                    .map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))?;
                let samples = emissions.len() as u64;
                let mut r = Reaction {
                    audit,
                    absent: vec![(BACKFILLED, marker(record.seq))],
                    ..Reaction::default()
                };
                r.emissions
                    .push((slot_name.clone(), emissions, input.event.at));
                r.writes.put(BACKFILLED, marker(record.seq), Vec::new());
                match self.commit_change(&mut r, false)? {
                    Some(_) => {
                        report.backfilled += 1;
                        report.samples += samples;
                    }
                    // Another backfill took it meanwhile.
                    None => report.already += 1,
                }
            }
            if page.len() < PAGE {
                break;
            }
        }
        self.store.make_durable()?;
        Ok(report)
    }
}
