//! Agent drafts through the active compliance checks: each check sees the
//! draft, answers a verdict with findings (character spans in the draft)
//! and optionally a redacted text; the worst verdict wins. When a check
//! fails, its slot's policy decides: `fail-open` lets the draft through and
//! flags it as unchecked, `fail-closed` blocks it, `last-good` asks the
//! previous version. Every call is audited (`compliance.decision`).

use serde::{Deserialize, Serialize};

use crate::plugins::FailPolicy;
use crate::plugins::compliance::{Draft, DraftContext, Finding, Severity, Verdict};

use super::reactions::{Reaction, call_entries};
use super::{Engine, EngineError, convert};

/// A finding, with the check that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotFinding {
    pub slot: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// What the compliance checks made of a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            .ok_or_else(|| EngineError::NotFound(contact_id.to_owned()))?;
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
        for slot in self.compliance.all() {
            let call = match slot.call(|a| a.check(&draft)) {
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
        let records = {
            let _guard = self.updates.lock();
            self.audit.commit(r.audit, r.writes)?
        };
        self.store.make_durable()?;
        out.audit = records.iter().map(|r| r.seq).collect();
        Ok(out)
    }
}
