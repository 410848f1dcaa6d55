//! `hostile-escalation`: an escalation rule for the host's output-validation
//! tests. What it does is chosen by `input.contact.text`:
//!
//! | text | on every event |
//! |---|---|
//! | `recheck-now` | adds a new tag `fire-<n>` and asks for a re-check at `input.now` |
//! | `recheck-past` | asks for a re-check one second before `input.now` |
//! | `warnings:N` | starts clock `resolve`, due in an hour, with N warnings |
//! | `cascade` | starts a new clock `d-<n>` due 1 ms after `now` (each breach starts another) |
//! | `clocks:N` | starts N clocks `c-0`.. due in an hour, each with 8 warnings |
//! | `tags:N` | adds N distinct tags |
//! | `long-tag:N` | adds one tag of N bytes |
//! | `hold` | logs `hold <contact id> <sequence>` (the host's engine tests hold the call there), nothing else |
//! | anything else | nothing |

use switchboard_sdk::prelude::*;

/// The hostile rule (no configuration).
#[derive(Debug)]
pub struct HostileEscalation;

impl EscalationRule for HostileEscalation {
    type Config = serde_json::Value;

    fn new(_config: serde_json::Value) -> Result<Self, String> {
        Ok(HostileEscalation)
    }

    fn on_event(&self, input: EscalationInput) -> Result<EscalationOutcome, String> {
        let text = input.contact.text.as_str();
        let now = input.now;
        let mut out = EscalationOutcome::nothing(format!("hostile:{text}"));
        let number = |prefix: &str| -> Option<Result<usize, String>> {
            text.strip_prefix(prefix)
                .map(|n| n.parse().map_err(|e| format!("{prefix}{n}: {e}")))
        };
        match text {
            "recheck-now" => {
                let tag = format!("fire-{}", input.contact.tags.len());
                out.actions.push(EscalationAction::AddTag(tag));
                out.recheck = Some(Recheck {
                    name: "again".into(),
                    at: now,
                });
            }
            "recheck-past" => {
                out.recheck = Some(Recheck {
                    name: "again".into(),
                    at: now - 1_000,
                });
            }
            "hold" => {
                switchboard_sdk::log::info(&format!(
                    "hold {} {}",
                    input.contact.id, input.event.sequence
                ));
            }
            "cascade" => {
                out.actions
                    .push(EscalationAction::StartDeadline(DeadlineStart {
                        name: format!("d-{}", input.deadlines.len()),
                        due_at: now + 1,
                        warn_at: Vec::new(),
                    }));
            }
            _ => {
                if let Some(n) = number("warnings:") {
                    let n = n?;
                    out.actions
                        .push(EscalationAction::StartDeadline(DeadlineStart {
                            name: "resolve".into(),
                            due_at: now + 3_600_000,
                            warn_at: (1..=n as i64).map(|i| now + i).collect(),
                        }));
                } else if let Some(n) = number("clocks:") {
                    for i in 0..n? {
                        out.actions
                            .push(EscalationAction::StartDeadline(DeadlineStart {
                                name: format!("c-{i}"),
                                due_at: now + 3_600_000,
                                warn_at: (1..=8).map(|w| now + 3_600_000 - w).collect(),
                            }));
                    }
                } else if let Some(n) = number("tags:") {
                    for i in 0..n? {
                        out.actions.push(EscalationAction::AddTag(format!("t-{i}")));
                    }
                } else if let Some(n) = number("long-tag:") {
                    out.actions.push(EscalationAction::AddTag("x".repeat(n?)));
                }
            }
        }
        Ok(out)
    }
}

switchboard_sdk::export_escalation_rule!(HostileEscalation);
