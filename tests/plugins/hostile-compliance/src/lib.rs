//! `hostile-compliance`: a compliance check for the host's output-validation
//! tests. A draft starting `span:S:E` gets verdict `revise` with one finding
//! spanning characters `S..E` (whatever the draft's length); any other draft
//! is approved.

use switchboard_sdk::prelude::*;

/// The hostile check (no configuration).
#[derive(Debug)]
pub struct HostileCompliance;

impl ComplianceCheck for HostileCompliance {
    type Config = serde_json::Value;

    fn new(_config: serde_json::Value) -> Result<Self, String> {
        Ok(HostileCompliance)
    }

    fn check(&self, draft: Draft) -> Result<ComplianceResult, String> {
        let Some(rest) = draft.text.strip_prefix("span:") else {
            return Ok(ComplianceResult::approved());
        };
        let spec = rest.split_whitespace().next().unwrap_or_default();
        let (start, end) = spec
            .split_once(':')
            .ok_or_else(|| format!("span:{spec}: expected span:S:E"))?;
        let parse = |n: &str| n.parse::<u32>().map_err(|e| format!("span {n}: {e}"));
        Ok(ComplianceResult {
            verdict: Verdict::Revise,
            findings: vec![Finding {
                rule_id: "hostile.span".into(),
                severity: Severity::Warning,
                message: "a span chosen by the draft".into(),
                span: Some(Span {
                    start: parse(start)?,
                    end: parse(end)?,
                }),
                suggestion: None,
            }],
            redacted_text: None,
        })
    }
}

switchboard_sdk::export_compliance_check!(HostileCompliance);
