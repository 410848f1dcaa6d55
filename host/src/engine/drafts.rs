//! Agent drafts through the active compliance checks: each check sees the
//! draft, answers a verdict with findings (character spans in the draft)
//! and optionally a redacted text; the worst verdict wins. When a check
//! fails, its slot's policy decides: `fail-open` lets the draft through and
//! flags it as unchecked, `fail-closed` blocks it, `last-good` asks the
//! previous version. Every call is audited (`compliance.decision`).

use serde::{Deserialize, Serialize};

use crate::plugins::FailPolicy;
use crate::plugins::compliance::{
    ComplianceResult, Draft, DraftContext, Finding, Severity, Verdict,
};

use crate::audit::AuditEntry;
use crate::domain::bounds;
use crate::store::{StoreError, Writes};

use super::reactions::{Reaction, call_entries};
use super::{Engine, EngineError, convert, decode, encode};

const DRAFTS: &str = "drafts";

/// Where a draft is in the review cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DraftState {
    /// May be sent (`final_text`).
    Approved,
    /// Back to the agent: fix the findings and submit again.
    NeedsRevision,
    /// Waiting for a supervisor.
    PendingApproval,
    /// Rejected by a supervisor: back to the agent with the comment.
    Rejected,
    /// Must not be sent.
    Blocked,
}

/// A submitted draft and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DraftRecord {
    pub id: String,
    pub contact_id: String,
    pub agent_id: String,
    pub text: String,
    pub state: DraftState,
    pub check: DraftCheck,
    /// The text to send once approved (redacted when a check redacted it).
    pub final_text: Option<String>,
    pub submitted_at: i64,
    pub decided_at: Option<i64>,
    /// `compliance`, or the supervisor's `token:<id>`.
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    /// The draft this one revises by accepting suggestions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_of: Option<String>,
}

/// A finding, with the check that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotFinding {
    pub slot: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// What the compliance checks made of a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DraftCheck {
    /// The worst verdict of all checks.
    pub verdict: Verdict,
    /// Findings of every check; spans index the draft's characters.
    pub findings: Vec<SlotFinding>,
    /// The text to send when it differs from the draft (redactions).
    pub redacted_text: Option<String>,
    /// Checks that could not run and were skipped (fail-open), with why.
    pub unchecked: Vec<String>,
    /// Audit sequence numbers of the checks' decisions.
    pub audit: Vec<u64>,
}

/// Every finding's span must lie within the draft (`chars` Unicode scalar
/// values) with `start < end`: a verdict that points outside the text it
/// judged cannot be trusted, so the whole result is invalid output.
pub(super) fn check_spans(result: &ComplianceResult, chars: usize) -> Result<(), String> {
    for (i, f) in result.findings.iter().enumerate() {
        let Some(span) = &f.span else { continue };
        if span.start >= span.end || span.end as usize > chars {
            return Err(format!(
                "`findings[{i}].span` is {}..{}; a span must have start < end <= {chars}, the draft's length in characters",
                span.start, span.end
            ));
        }
    }
    Ok(())
}

fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Approve => 0,
        Verdict::Revise => 1,
        Verdict::NeedsApproval => 2,
        Verdict::Block => 3,
    }
}

impl Engine {
    /// Run agent `agent_id`'s draft `text` for contact `contact_id` through
    /// every active compliance check. All checks see the original draft, so
    /// every span refers to it; when several checks redact, the last one
    /// (by slot name) gives `redacted_text`.
    pub fn check_draft(
        &self,
        contact_id: &str,
        agent_id: &str,
        text: &str,
    ) -> Result<DraftCheck, EngineError> {
        let c = self
            .contact(contact_id)?
            .ok_or_else(|| EngineError::no_contact(contact_id))?;
        let now = (self.clock)();
        let draft = Draft {
            now,
            text: text.to_owned(),
            context: DraftContext {
                contact_id: c.id.clone(),
                channel: convert::channel(c.channel),
                customer_id: c.customer_id.clone(),
                customer_tier: c.customer_tier.clone(),
                topics: c.topics.clone(),
                language: c.language.clone(),
                agent_id: agent_id.to_owned(),
            },
        };
        let mut out = DraftCheck {
            verdict: Verdict::Approve,
            findings: Vec::new(),
            redacted_text: None,
            unchecked: Vec::new(),
            audit: Vec::new(),
        };
        let mut r = Reaction::default();
        let chars = draft.text.chars().count();
        let check = |result: &ComplianceResult| check_spans(result, chars);
        for slot in self.compliance.all() {
            let call = match slot.call_metered(|a| a.check_metered(&draft, &check)) {
                Ok(call) => call,
                Err(unserved) => {
                    if let super::Unserved::Quarantined { policy, .. } = &unserved
                        && *policy == FailPolicy::FailClosed
                    {
                        out.verdict = Verdict::Block;
                    }
                    out.unchecked.push(format!("{}: {unserved}", slot.name()));
                    continue;
                }
            };
            r.audit.extend(call_entries(
                &slot,
                &call,
                "compliance.decision",
                &c.id,
                now,
                &draft,
            )?);
            match call.result {
                Ok(result) => {
                    if rank(result.verdict) > rank(out.verdict) {
                        out.verdict = result.verdict;
                    }
                    out.findings
                        .extend(result.findings.into_iter().map(|finding| SlotFinding {
                            slot: slot.name().to_owned(),
                            finding,
                        }));
                    if result.redacted_text.is_some() {
                        out.redacted_text = result.redacted_text;
                    }
                }
                Err(e) if call.policy == FailPolicy::FailClosed => {
                    out.verdict = Verdict::Block;
                    out.findings.push(SlotFinding {
                        slot: slot.name().to_owned(),
                        finding: Finding {
                            rule_id: "switchboard.check-failed".into(),
                            severity: Severity::Critical,
                            message: format!(
                                "the compliance check could not run ({e}); its policy is fail-closed, so the draft is blocked"
                            ),
                            span: None,
                            suggestion: None,
                        },
                    });
                }
                Err(e) => out.unchecked.push(format!("{}: {e}", slot.name())),
            }
        }
        let records = self.audit.commit(r.audit, r.writes)?;
        self.store.make_durable()?;
        out.audit = records.iter().map(|r| r.seq).collect();
        Ok(out)
    }

    /// An agent submits a draft: the compliance checks decide whether it is
    /// approved, goes back for revision, waits for a supervisor, or is
    /// blocked. The draft and its state are stored.
    pub fn submit_draft(
        &self,
        contact_id: &str,
        agent_id: &str,
        text: &str,
    ) -> Result<DraftRecord, EngineError> {
        if bounds::is_blank(agent_id) {
            return Err(EngineError::Invalid(
                "`agent_id` must not be empty: say which agent wrote the draft".into(),
            ));
        }
        if bounds::is_blank(text) {
            return Err(EngineError::Invalid(
                "`text` must not be empty or only white space: submit the reply you mean to send"
                    .into(),
            ));
        }
        let chars = text.chars().count();
        if chars > bounds::MAX_DRAFT_CHARS {
            return Err(EngineError::Invalid(format!(
                "`text` has {chars} characters; a draft may have at most {}: shorten the reply or split it",
                bounds::MAX_DRAFT_CHARS
            )));
        }
        let check = self.check_draft(contact_id, agent_id, text)?;
        let state = match check.verdict {
            Verdict::Approve => DraftState::Approved,
            Verdict::Revise => DraftState::NeedsRevision,
            Verdict::NeedsApproval => DraftState::PendingApproval,
            Verdict::Block => DraftState::Blocked,
        };
        let now = (self.clock)();
        let approved = state == DraftState::Approved;
        let draft = DraftRecord {
            id: format!("d-{:012}", self.store.generate_id()?),
            contact_id: contact_id.to_owned(),
            agent_id: agent_id.to_owned(),
            text: text.to_owned(),
            state,
            final_text: approved.then(|| {
                check
                    .redacted_text
                    .clone()
                    .unwrap_or_else(|| text.to_owned())
            }),
            check,
            submitted_at: now,
            decided_at: (state != DraftState::PendingApproval).then_some(now),
            decided_by: (state != DraftState::PendingApproval).then(|| "compliance".to_owned()),
            comment: None,
            revision_of: None,
        };
        let mut w = Writes::default();
        w.put(DRAFTS, draft.id.as_bytes(), encode(&draft)?);
        self.store.commit(w)?;
        self.store.make_durable()?;
        Ok(draft)
    }

    /// A draft by id.
    pub fn draft(&self, id: &str) -> Result<Option<DraftRecord>, EngineError> {
        Ok(self
            .store
            .get(DRAFTS, id.as_bytes())?
            .map(|v| decode(&v, "draft"))
            .transpose()?)
    }

    /// Drafts in `state` (all when `None`), of `agent` (all when `None`),
    /// oldest first, after id `after`, at most `limit`.
    pub fn drafts(
        &self,
        state: Option<DraftState>,
        agent: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DraftRecord>, EngineError> {
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a.as_bytes().to_vec()),
            None => std::ops::Bound::Unbounded,
        };
        let mut out = Vec::new();
        for kv in self
            .store
            .scan(DRAFTS, (start, std::ops::Bound::Unbounded), false)
        {
            let d: DraftRecord = decode(&kv?.1, "draft")?;
            if state.is_none_or(|s| d.state == s) && agent.is_none_or(|a| d.agent_id == a) {
                out.push(d);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Accept the suggested rephrasings of draft `id` (the findings at
    /// `indexes`, or every finding with a suggestion and a span): the
    /// suggestions replace their spans and the new text is submitted as a
    /// new draft, checked again, that records which draft it revises.
    pub fn accept_suggestions(
        &self,
        id: &str,
        indexes: Option<&[usize]>,
    ) -> Result<DraftRecord, EngineError> {
        let d = self.draft(id)?.ok_or_else(|| EngineError::no_draft(id))?;
        if d.state == DraftState::Approved {
            return Err(EngineError::Conflict(format!(
                "draft {id} is already approved: there is nothing to revise"
            )));
        }
        let usable = |f: &SlotFinding| f.finding.span.is_some() && f.finding.suggestion.is_some();
        let chosen: Vec<&SlotFinding> = match indexes {
            Some(list) => list
                .iter()
                .map(|&i| match d.check.findings.get(i) {
                    Some(f) if usable(f) => Ok(f),
                    Some(f) => Err(EngineError::Invalid(format!(
                        "finding {i} (`{}`) has no suggestion to accept",
                        f.finding.rule_id
                    ))),
                    None => Err(EngineError::Invalid(format!(
                        "draft {id} has {} findings; there is no finding {i}",
                        d.check.findings.len()
                    ))),
                })
                .collect::<Result<_, _>>()?,
            None => d.check.findings.iter().filter(|f| usable(f)).collect(),
        };
        if chosen.is_empty() {
            return Err(EngineError::Invalid(format!(
                "draft {id} has no suggestions to accept; edit the text and submit it again"
            )));
        }
        let text = apply_suggestions(&d.text, &chosen, indexes.is_some())?;
        let mut revised = self.submit_draft(&d.contact_id, &d.agent_id, &text)?;
        revised.revision_of = Some(d.id.clone());
        let mut w = Writes::default();
        w.put(DRAFTS, revised.id.as_bytes(), encode(&revised)?);
        self.store.commit(w)?;
        self.store.make_durable()?;
        Ok(revised)
    }

    /// A supervisor approves or rejects a pending draft; a rejected draft
    /// goes back to the agent with the comment. Audited with `actor`.
    pub fn decide_draft(
        &self,
        id: &str,
        approve: bool,
        comment: Option<String>,
        actor: &str,
    ) -> Result<DraftRecord, EngineError> {
        let d = self.decide_draft_applied(id, approve, comment, actor)?;
        self.store.make_durable()?;
        Ok(d)
    }

    /// [`Engine::decide_draft`]'s check and commit, in one apply (no
    /// plugin call, no flush).
    fn decide_draft_applied(
        &self,
        id: &str,
        approve: bool,
        comment: Option<String>,
        actor: &str,
    ) -> Result<DraftRecord, EngineError> {
        let _apply = self.apply.lock();
        let mut d = self.draft(id)?.ok_or_else(|| EngineError::no_draft(id))?;
        if d.state != DraftState::PendingApproval {
            return Err(EngineError::Conflict(format!(
                "draft {id} is {:?}, not pending approval: only pending drafts can be approved or rejected",
                d.state
            )));
        }
        if !approve && comment.as_deref().is_none_or(bounds::is_blank) {
            return Err(EngineError::Invalid(
                "a rejection needs a `comment` telling the agent what to change".into(),
            ));
        }
        let now = (self.clock)();
        d.state = if approve {
            DraftState::Approved
        } else {
            DraftState::Rejected
        };
        if approve {
            d.final_text = Some(
                d.check
                    .redacted_text
                    .clone()
                    .unwrap_or_else(|| d.text.clone()),
            );
        }
        d.decided_at = Some(now);
        d.decided_by = Some(actor.to_owned());
        d.comment = comment;
        let mut w = Writes::default();
        w.put(DRAFTS, d.id.as_bytes(), encode(&d)?);
        let entry = AuditEntry {
            at: now,
            actor: actor.to_owned(),
            kind: if approve {
                "draft.approve"
            } else {
                "draft.reject"
            }
            .into(),
            subject: d.contact_id.clone(),
            data: serde_json::value::to_raw_value(&serde_json::json!({
                "draft": d.id, "agent": d.agent_id, "comment": d.comment,
            }))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        };
        self.audit.commit(vec![entry], w)?;
        Ok(d)
    }
}

/// `text` with each finding's span (in characters) replaced by its
/// suggestion. Overlapping suggestions: an error when chosen explicitly
/// (`strict`), else the later one is left out.
fn apply_suggestions(
    text: &str,
    findings: &[&SlotFinding],
    strict: bool,
) -> Result<String, EngineError> {
    let chars: Vec<char> = text.chars().collect();
    let mut edits: Vec<(usize, usize, &str)> = findings
        .iter()
        .filter_map(|f| {
            let span = f.finding.span?;
            Some((
                span.start as usize,
                span.end as usize,
                f.finding.suggestion.as_deref()?,
            ))
        })
        .collect();
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, replacement) in edits {
        if start < at || end < start || end > chars.len() {
            if strict {
                return Err(EngineError::Invalid(format!(
                    "the suggestions for characters {start}-{end} overlap another one or fall outside the draft; accept them one at a time"
                )));
            }
            continue;
        }
        out.extend(&chars[at..start]);
        out.push_str(replacement);
        at = end;
    }
    out.extend(&chars[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::compliance::Span;

    fn finding(start: u32, end: u32, suggestion: &str) -> SlotFinding {
        SlotFinding {
            slot: "brand".into(),
            finding: Finding {
                rule_id: "phrasebook".into(),
                severity: Severity::Warning,
                message: String::new(),
                span: Some(Span { start, end }),
                suggestion: Some(suggestion.into()),
            },
        }
    }

    #[test]
    fn suggestions_replace_their_spans_in_characters() {
        // "고객님" is 3 characters and 9 bytes: spans count characters.
        let text = "고객님, no problem, we will fix it asap.";
        let a = finding(5, 15, "certainly");
        let b = finding(32, 36, "as soon as possible");
        let out = apply_suggestions(text, &[&b, &a], true).unwrap();
        assert_eq!(
            out,
            "고객님, certainly, we will fix it as soon as possible."
        );
    }

    #[test]
    fn overlapping_suggestions_are_refused_when_chosen_and_skipped_otherwise() {
        let text = "no problem at all";
        let a = finding(0, 10, "certainly");
        let b = finding(3, 17, "worries");
        assert!(apply_suggestions(text, &[&a, &b], true).is_err());
        assert_eq!(
            apply_suggestions(text, &[&a, &b], false).unwrap(),
            "certainly at all"
        );
        let outside = finding(10, 99, "x");
        assert!(apply_suggestions(text, &[&outside], true).is_err());
    }
}
