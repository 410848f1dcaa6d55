//! `complaint-escalation`: spots complaints, crises and very negative
//! sentiment in what customers write, and keeps the acknowledgement clock.
//!
//! - a crisis keyword marks a `crisis` complaint, pages a supervisor
//!   (critical) and tags the contact `crisis`;
//! - a complaint keyword marks a complaint (category: the contact's most
//!   specific topic, else `general`) and tags it `complaint`;
//! - either starts the `acknowledge` deadline (due after
//!   `acknowledge_within_hours`, with a warning at 75%), which the first
//!   answer stops; a warning or breach of it notifies the supervisor;
//! - sentiment below the threshold raises the priority once and tags the
//!   contact `negative-sentiment`.
//!
//! Keywords match case-insensitively anywhere in the text, in any script.
//! Each step happens once per contact: the rule reads the contact's tags,
//! complaint flag and running deadlines. See README.md for the config.

use serde::Deserialize;
use switchboard_sdk::escalation::Complaint;
use switchboard_sdk::prelude::*;
use switchboard_sdk::types::HOUR_MS;

/// The name of the deadline clock this rule starts and stops.
pub const ACKNOWLEDGE: &str = "acknowledge";
/// Tag added to contacts with a crisis keyword.
pub const TAG_CRISIS: &str = "crisis";
/// Tag added to contacts with a complaint keyword.
pub const TAG_COMPLAINT: &str = "complaint";
/// Tag added when negative sentiment raised the priority.
pub const TAG_NEGATIVE: &str = "negative-sentiment";

/// The plugin configuration; `manifest.json` holds its JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Words or phrases that make a message a complaint.
    #[serde(default)]
    pub complaint_keywords: Vec<String>,
    /// Words or phrases that make a message a crisis (outage, data leak, legal threat).
    #[serde(default)]
    pub crisis_keywords: Vec<String>,
    /// Sentiment (-1.0 to 1.0) below which the priority is raised.
    #[serde(default = "default_threshold")]
    pub negative_sentiment_threshold: f32,
    /// How much to raise the priority by.
    #[serde(default = "default_priority_raise")]
    pub priority_raise: u32,
    /// Hours until a complaint must be acknowledged (answered).
    #[serde(default = "default_acknowledge_hours")]
    pub acknowledge_within_hours: u32,
}

fn default_threshold() -> f32 {
    -0.5
}

fn default_priority_raise() -> u32 {
    10
}

fn default_acknowledge_hours() -> u32 {
    24
}

/// The escalation rule.
#[derive(Debug)]
pub struct ComplaintEscalation {
    /// Lower-cased once, so matching only lowers the text.
    complaint_keywords: Vec<String>,
    crisis_keywords: Vec<String>,
    threshold: f32,
    priority_raise: u32,
    acknowledge_ms: i64,
}

impl EscalationRule for ComplaintEscalation {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if !(-1.0..=1.0).contains(&config.negative_sentiment_threshold) {
            return Err(format!(
                "negative_sentiment_threshold must be between -1.0 and 1.0, got {}",
                config.negative_sentiment_threshold
            ));
        }
        if config.acknowledge_within_hours == 0 {
            return Err("acknowledge_within_hours must be at least 1".into());
        }
        Ok(ComplaintEscalation {
            complaint_keywords: normalize(config.complaint_keywords),
            crisis_keywords: normalize(config.crisis_keywords),
            threshold: config.negative_sentiment_threshold,
            priority_raise: config.priority_raise,
            acknowledge_ms: i64::from(config.acknowledge_within_hours) * HOUR_MS,
        })
    }

    fn on_event(&self, input: EscalationInput) -> Result<EscalationOutcome, String> {
        let contact = &input.contact;
        let mut out = Outcome::default();
        match &input.event.kind {
            EventKind::Created => {
                self.read_text(&input, &contact.text, &mut out);
                self.check_sentiment(&input, contact.sentiment, &mut out);
            }
            EventKind::Message(m) if m.from_customer => {
                self.read_text(&input, &m.text, &mut out);
                self.check_sentiment(&input, m.sentiment.or(contact.sentiment), &mut out);
            }
            EventKind::SentimentChanged(s) => self.check_sentiment(&input, Some(*s), &mut out),
            EventKind::Answered(agent) if self.acknowledge_running(&input) => {
                out.actions
                    .push(EscalationAction::StopDeadline(ACKNOWLEDGE.into()));
                out.reasons
                    .push(format!("answered by {agent} -> complaint acknowledged"));
            }
            EventKind::DeadlineWarning(d) if d.name == ACKNOWLEDGE => {
                out.notify(
                    Urgency::High,
                    format!(
                        "complaint on contact {} not yet acknowledged; due in {} min",
                        contact.id,
                        (d.due_at - input.now).max(0) / 60_000
                    ),
                );
                out.reasons
                    .push("acknowledge deadline warning -> supervisor notified".into());
            }
            EventKind::DeadlineBreached(d) if d.name == ACKNOWLEDGE => {
                out.notify(
                    Urgency::Critical,
                    format!(
                        "complaint on contact {} was not acknowledged in time",
                        contact.id
                    ),
                );
                out.reasons
                    .push("acknowledge deadline breached -> supervisor notified".into());
            }
            _ => {}
        }
        Ok(out.finish())
    }
}

/// Actions and the reasons for them, gathered while reading one event.
#[derive(Default)]
struct Outcome {
    actions: Vec<EscalationAction>,
    reasons: Vec<String>,
}

impl Outcome {
    fn notify(&mut self, urgency: Urgency, message: String) {
        self.actions.push(EscalationAction::Notify(Notification {
            target: NotifyTarget::Supervisor,
            urgency,
            message,
        }));
    }

    fn finish(self) -> EscalationOutcome {
        if self.reasons.is_empty() {
            return EscalationOutcome::nothing("no complaint, crisis or negative sentiment");
        }
        EscalationOutcome {
            actions: self.actions,
            recheck: None,
            reason: self.reasons.join("; "),
        }
    }
}

impl ComplaintEscalation {
    /// Look for crisis and complaint keywords in `text`.
    fn read_text(&self, input: &EscalationInput, text: &str, out: &mut Outcome) {
        let contact = &input.contact;
        let text = text.to_lowercase();
        let crisis = first_match(&text, &self.crisis_keywords);
        let complaint = first_match(&text, &self.complaint_keywords);

        if let Some(keyword) = crisis {
            if has_tag(contact, TAG_CRISIS) {
                out.reasons.push(format!(
                    "crisis keyword \"{keyword}\" again, already escalated"
                ));
            } else {
                out.actions.push(EscalationAction::MarkComplaint(Complaint {
                    category: "crisis".into(),
                    urgency: Urgency::Critical,
                }));
                out.notify(
                    Urgency::Critical,
                    format!("crisis keyword \"{keyword}\" on contact {}", contact.id),
                );
                out.actions
                    .push(EscalationAction::AddTag(TAG_CRISIS.into()));
                out.reasons.push(format!(
                    "crisis keyword \"{keyword}\" -> crisis complaint, supervisor paged"
                ));
            }
        } else if let Some(keyword) = complaint {
            if contact.complaint || has_tag(contact, TAG_COMPLAINT) {
                out.reasons.push(format!(
                    "complaint keyword \"{keyword}\" again, already a complaint"
                ));
            } else {
                let category = contact
                    .topics
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "general".into());
                out.reasons.push(format!(
                    "complaint keyword \"{keyword}\" -> complaint ({category})"
                ));
                out.actions.push(EscalationAction::MarkComplaint(Complaint {
                    category,
                    urgency: Urgency::Normal,
                }));
                out.actions
                    .push(EscalationAction::AddTag(TAG_COMPLAINT.into()));
            }
        }

        if (crisis.is_some() || complaint.is_some())
            && !self.acknowledge_running(input)
            && contact.times.answered_at.is_none()
        {
            let due_at = input.now.saturating_add(self.acknowledge_ms);
            let warn_at = input.now.saturating_add(self.acknowledge_ms / 4 * 3);
            out.actions
                .push(EscalationAction::StartDeadline(DeadlineStart {
                    name: ACKNOWLEDGE.into(),
                    due_at,
                    warn_at: vec![warn_at],
                }));
            out.reasons.push(format!(
                "acknowledge within {}h",
                self.acknowledge_ms / HOUR_MS
            ));
        }
    }

    /// Raise the priority once if `sentiment` is below the threshold.
    fn check_sentiment(&self, input: &EscalationInput, sentiment: Option<f32>, out: &mut Outcome) {
        let Some(s) = sentiment else { return };
        if s >= self.threshold || has_tag(&input.contact, TAG_NEGATIVE) {
            return;
        }
        out.actions
            .push(EscalationAction::RaisePriority(self.priority_raise));
        out.actions
            .push(EscalationAction::AddTag(TAG_NEGATIVE.into()));
        out.reasons.push(format!(
            "sentiment {s:.2} < {:.2} -> priority +{}",
            self.threshold, self.priority_raise
        ));
    }

    fn acknowledge_running(&self, input: &EscalationInput) -> bool {
        input.deadlines.iter().any(|d| d.name == ACKNOWLEDGE)
    }
}

/// Lower-case and trim the keywords, dropping empty ones (which would match
/// everything).
fn normalize(keywords: Vec<String>) -> Vec<String> {
    keywords
        .into_iter()
        .map(|k| k.trim().to_lowercase())
        .filter(|k| !k.is_empty())
        .collect()
}

/// The first keyword (in configured order) contained in the lower-cased text.
fn first_match<'k>(lowered_text: &str, keywords: &'k [String]) -> Option<&'k str> {
    keywords
        .iter()
        .find(|k| lowered_text.contains(k.as_str()))
        .map(String::as_str)
}

fn has_tag(contact: &Contact, tag: &str) -> bool {
    contact.tags.iter().any(|t| t == tag)
}

switchboard_sdk::export_escalation_rule!(ComplaintEscalation);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use switchboard_sdk::testing;
    use switchboard_sdk::types::{Deadline, Message};

    const MANIFEST: &str = include_str!("../manifest.json");

    fn rule() -> ComplaintEscalation {
        ComplaintEscalation::new(testing::default_config_from_manifest(MANIFEST).unwrap()).unwrap()
    }

    fn created(text: &str, sentiment: Option<f32>) -> EscalationInput {
        let mut c = testing::contact("c-1", Channel::Email);
        c.text = text.into();
        c.sentiment = sentiment;
        c.topics = vec!["billing".into()];
        testing::escalation_input(c, EventKind::Created)
    }

    fn tags(o: &EscalationOutcome) -> Vec<&str> {
        o.actions
            .iter()
            .filter_map(|a| match a {
                EscalationAction::AddTag(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    fn deadline(o: &EscalationOutcome) -> Option<&DeadlineStart> {
        o.actions.iter().find_map(|a| match a {
            EscalationAction::StartDeadline(d) => Some(d),
            _ => None,
        })
    }

    #[test]
    fn crisis_keyword_pages_supervisor_marks_crisis_and_starts_clock() {
        let o = rule()
            .on_event(created("Your OUTAGE cost me a day of sales", None))
            .unwrap();
        assert!(
            o.actions
                .contains(&EscalationAction::MarkComplaint(Complaint {
                    category: "crisis".into(),
                    urgency: Urgency::Critical
                }))
        );
        assert!(o.actions.iter().any(|a| matches!(a,
            EscalationAction::Notify(n) if n.target == NotifyTarget::Supervisor && n.urgency == Urgency::Critical)));
        assert_eq!(tags(&o), ["crisis"]);
        assert!(deadline(&o).is_some());
        assert!(
            o.reason.contains("crisis keyword \"outage\""),
            "{}",
            o.reason
        );
    }

    #[test]
    fn complaint_keyword_marks_complaint_with_topic_and_deadline_at_75_percent() {
        let o = rule()
            .on_event(created("I want to file a complaint about my bill", None))
            .unwrap();
        assert!(
            o.actions
                .contains(&EscalationAction::MarkComplaint(Complaint {
                    category: "billing".into(),
                    urgency: Urgency::Normal
                }))
        );
        assert_eq!(tags(&o), ["complaint"]);
        let d = deadline(&o).unwrap();
        assert_eq!(d.name, ACKNOWLEDGE);
        assert_eq!(d.due_at, testing::NOW + 24 * HOUR_MS);
        assert_eq!(d.warn_at, vec![testing::NOW + 18 * HOUR_MS]);
        assert_eq!(
            o.reason,
            "complaint keyword \"complaint\" -> complaint (billing); acknowledge within 24h"
        );
    }

    #[test]
    fn matching_is_case_insensitive_beyond_ascii() {
        let config = Config {
            complaint_keywords: vec!["BESCHWERDE".into(), "불만".into()],
            crisis_keywords: vec!["ДАННЫЕ УТЕКЛИ".into()],
            negative_sentiment_threshold: -0.5,
            priority_raise: 5,
            acknowledge_within_hours: 24,
        };
        let r = ComplaintEscalation::new(config).unwrap();
        let o = r
            .on_event(created("Ich habe eine beschwerde", None))
            .unwrap();
        assert_eq!(tags(&o), ["complaint"]);
        let o = r
            .on_event(created("서비스가 너무 불만입니다", None))
            .unwrap();
        assert_eq!(tags(&o), ["complaint"]);
        let o = r.on_event(created("мои данные утекли!", None)).unwrap();
        assert_eq!(tags(&o), ["crisis"]);
        let o = r.on_event(created("danke, alles gut", None)).unwrap();
        assert!(o.actions.is_empty());
        assert_eq!(o.reason, "no complaint, crisis or negative sentiment");
    }

    #[test]
    fn negative_sentiment_raises_priority_once() {
        let o = rule().on_event(created("hello", Some(-0.8))).unwrap();
        assert_eq!(
            o.actions,
            vec![
                EscalationAction::RaisePriority(10),
                EscalationAction::AddTag(TAG_NEGATIVE.into())
            ]
        );
        assert_eq!(o.reason, "sentiment -0.80 < -0.50 -> priority +10");

        // At the threshold: nothing. Already raised: nothing.
        assert!(
            rule()
                .on_event(created("hello", Some(-0.5)))
                .unwrap()
                .actions
                .is_empty()
        );
        let mut input = created("hello", Some(-0.9));
        input.contact.tags.push(TAG_NEGATIVE.into());
        assert!(rule().on_event(input).unwrap().actions.is_empty());
    }

    #[test]
    fn customer_messages_are_read_agent_messages_are_not() {
        let c = testing::contact("c-1", Channel::Chat);
        let msg = |from_customer| {
            testing::escalation_input(
                c.clone(),
                EventKind::Message(Message {
                    from_customer,
                    text: "this is a data breach".into(),
                    sentiment: Some(-0.9),
                }),
            )
        };
        let o = rule().on_event(msg(true)).unwrap();
        assert!(tags(&o).contains(&"crisis"));
        assert!(o.actions.contains(&EscalationAction::RaisePriority(10)));
        assert!(rule().on_event(msg(false)).unwrap().actions.is_empty());
    }

    #[test]
    fn repeated_complaint_does_not_restart_the_clock() {
        let mut input = created("another complaint", None);
        input.contact.complaint = true;
        input.deadlines.push(Deadline {
            name: ACKNOWLEDGE.into(),
            started_at: testing::NOW - HOUR_MS,
            due_at: testing::NOW + 23 * HOUR_MS,
        });
        let o = rule().on_event(input).unwrap();
        assert!(o.actions.is_empty(), "{:?}", o.actions);
        assert_eq!(
            o.reason,
            "complaint keyword \"complaint\" again, already a complaint"
        );
    }

    #[test]
    fn answer_stops_a_running_acknowledge_clock_only() {
        let mut input = testing::escalation_input(
            testing::contact("c-1", Channel::Voice),
            EventKind::Answered("a7".into()),
        );
        assert!(rule().on_event(input.clone()).unwrap().actions.is_empty());
        input.deadlines.push(Deadline {
            name: ACKNOWLEDGE.into(),
            started_at: testing::NOW - HOUR_MS,
            due_at: testing::NOW + HOUR_MS,
        });
        let o = rule().on_event(input).unwrap();
        assert_eq!(
            o.actions,
            vec![EscalationAction::StopDeadline(ACKNOWLEDGE.into())]
        );
        assert_eq!(o.reason, "answered by a7 -> complaint acknowledged");
    }

    #[test]
    fn breach_notifies_supervisor() {
        let input = testing::escalation_input(
            testing::contact("c-1", Channel::Voice),
            EventKind::DeadlineBreached(Deadline {
                name: ACKNOWLEDGE.into(),
                started_at: testing::NOW - 24 * HOUR_MS,
                due_at: testing::NOW,
            }),
        );
        let o = rule().on_event(input).unwrap();
        assert!(matches!(&o.actions[..],
            [EscalationAction::Notify(n)] if n.urgency == Urgency::Critical));
    }

    #[test]
    fn bad_configs_are_rejected() {
        let err = testing::parse_config::<Config>(
            "complaint-escalation",
            r#"{"negative_sentiment_threshold": -3}"#,
        )
        .and_then(ComplaintEscalation::new)
        .unwrap_err();
        assert!(err.contains("between -1.0 and 1.0"), "{err}");
        let err = testing::parse_config::<Config>("complaint-escalation", r#"{"keywords": []}"#)
            .unwrap_err();
        assert!(err.contains("unknown field `keywords`"), "{err}");
    }

    #[test]
    fn empty_keywords_never_match_everything() {
        let config: Config = serde_json::from_str(r#"{"complaint_keywords": ["", "  "]}"#).unwrap();
        let o = ComplaintEscalation::new(config)
            .unwrap()
            .on_event(created("anything", None))
            .unwrap();
        assert!(o.actions.is_empty());
    }
}
