//! `core-kpis`: the contact-center KPIs every operator reports.
//!
//! | measure | aggregation | sample |
//! |---|---|---|
//! | `contacts_handled` | sum (contacts) | 1 per `answered` |
//! | `abandonment_rate` | ratio | 0/1 per `answered`, 1/1 per `abandoned` (queued contacts only) |
//! | `service_level` | ratio | 1/1 if answered within the threshold else 0/1; 0/1 per `abandoned` (queued contacts only) |
//! | `average_speed_of_answer` | mean (seconds) | `answered_at - queued_at` per `answered` |
//! | `csat` | ratio | 1/1 for a CSAT of 4 or 5, else 0/1, per `survey-answered` with a CSAT |
//!
//! Every sample carries the dimensions `queue` (when the contact is in one),
//! `channel`, and `agent` when known. Times come from `contact.times`,
//! falling back to the event time. See README.md for the config.

use serde::Deserialize;
use switchboard_sdk::prelude::*;

/// Contacts answered by an agent.
pub const CONTACTS_HANDLED: &str = "contacts_handled";
/// Abandoned / queued contacts.
pub const ABANDONMENT_RATE: &str = "abandonment_rate";
/// Answered within the threshold / queued contacts.
pub const SERVICE_LEVEL: &str = "service_level";
/// Mean time from queued to answered.
pub const AVERAGE_SPEED_OF_ANSWER: &str = "average_speed_of_answer";
/// Satisfied (4-5 of 5) / all CSAT answers.
pub const CSAT: &str = "csat";

/// The plugin configuration; `manifest.json` holds its JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A contact answered within this many seconds of being queued counts
    /// toward the service level.
    #[serde(default = "default_threshold")]
    pub service_level_threshold_secs: u32,
}

fn default_threshold() -> u32 {
    30
}

/// The KPI definition.
#[derive(Debug)]
pub struct CoreKpis {
    threshold_ms: i64,
}

impl KpiDefinition for CoreKpis {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(CoreKpis {
            threshold_ms: i64::from(config.service_level_threshold_secs) * 1000,
        })
    }

    fn measures(&self) -> Vec<Measure> {
        vec![
            Measure::new(
                CONTACTS_HANDLED,
                "contacts",
                Aggregation::Sum,
                "Contacts answered by an agent.",
            ),
            Measure::new(
                ABANDONMENT_RATE,
                "ratio",
                Aggregation::Ratio,
                "Queued contacts abandoned before an agent answered / queued contacts answered or abandoned.",
            ),
            Measure::new(
                SERVICE_LEVEL,
                "ratio",
                Aggregation::Ratio,
                format!(
                    "Queued contacts answered within {} s / queued contacts answered or abandoned.",
                    self.threshold_ms / 1000
                ),
            ),
            Measure::new(
                AVERAGE_SPEED_OF_ANSWER,
                "seconds",
                Aggregation::Mean,
                "Mean time from queued to answered.",
            ),
            Measure::new(
                CSAT,
                "ratio",
                Aggregation::Ratio,
                "Survey answers with a satisfaction of 4 or 5 (of 5) / all satisfaction answers.",
            ),
        ]
    }

    fn on_event(&self, input: KpiInput) -> Result<Vec<Emission>, String> {
        // Agent events carry no contact: nothing here measures them.
        let Some(contact) = &input.contact else {
            return Ok(Vec::new());
        };
        let event = &input.event;
        let answering_agent = match &event.kind {
            EventKind::Answered(agent) => Some(agent.as_str()),
            _ => None,
        };
        let dims = dimensions(
            contact,
            answering_agent,
            input.agent.as_ref().map(|a| a.id.as_str()),
        );
        let sample = |s: Sample| Emission::Record(s.with_dimensions(dims.clone()));

        let mut out = Vec::new();
        match &event.kind {
            EventKind::Answered(_) => {
                out.push(sample(Sample::value(CONTACTS_HANDLED, 1.0)));
                if let Some(queued_at) = contact.times.queued_at {
                    let answered_at = contact.times.answered_at.unwrap_or(event.at);
                    // A clock that went backwards is no negative wait.
                    let wait_ms = answered_at.saturating_sub(queued_at).max(0);
                    let within = f64::from(u8::from(wait_ms <= self.threshold_ms));
                    out.push(sample(Sample::ratio(ABANDONMENT_RATE, 0.0, 1.0)));
                    out.push(sample(Sample::ratio(SERVICE_LEVEL, within, 1.0)));
                    out.push(sample(Sample::value(
                        AVERAGE_SPEED_OF_ANSWER,
                        wait_ms as f64 / 1000.0,
                    )));
                }
            }
            // Abandoned before reaching a queue (in the IVR, say) is not a
            // queued contact, so neither rate counts it.
            EventKind::Abandoned if contact.times.queued_at.is_some() => {
                out.push(sample(Sample::ratio(ABANDONMENT_RATE, 1.0, 1.0)));
                out.push(sample(Sample::ratio(SERVICE_LEVEL, 0.0, 1.0)));
            }
            EventKind::SurveyAnswered(survey) => {
                if let Some(csat) = survey.csat {
                    let satisfied = f64::from(u8::from(csat >= 4));
                    out.push(sample(Sample::ratio(CSAT, satisfied, 1.0)));
                }
            }
            _ => {}
        }
        Ok(out)
    }
}

/// `queue` (when in one), `channel`, and `agent`: the answering agent, else
/// the event's agent, else the contact's.
fn dimensions(
    contact: &Contact,
    answering_agent: Option<&str>,
    event_agent: Option<&str>,
) -> Vec<KeyValue> {
    let mut dims = Vec::with_capacity(3);
    if let Some(queue) = &contact.queue {
        dims.push(KeyValue::new("queue", queue.as_str()));
    }
    dims.push(KeyValue::new("channel", contact.channel.as_str()));
    if let Some(agent) = answering_agent
        .or(event_agent)
        .or(contact.agent_id.as_deref())
    {
        dims.push(KeyValue::new("agent", agent));
    }
    dims
}

switchboard_sdk::export_kpi_definition!(CoreKpis);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use switchboard_sdk::testing;
    use switchboard_sdk::types::Survey;

    const MANIFEST: &str = include_str!("../manifest.json");

    fn kpis() -> CoreKpis {
        CoreKpis::new(testing::default_config_from_manifest(MANIFEST).unwrap()).unwrap()
    }

    /// A billing voice contact queued at NOW and answered `wait_secs` later.
    fn answered_after(wait_secs: i64) -> KpiInput {
        let mut c = testing::contact("c-1", Channel::Voice);
        c.queue = Some("billing".into());
        c.times.queued_at = Some(testing::NOW);
        c.times.answered_at = Some(testing::NOW + wait_secs * 1000);
        let mut input = testing::kpi_input(Some(c), EventKind::Answered("a7".into()));
        input.event.at = testing::NOW + wait_secs * 1000;
        input
    }

    fn samples(emissions: &[Emission]) -> Vec<&Sample> {
        emissions
            .iter()
            .map(|e| match e {
                Emission::Record(s) => s,
                other => panic!("only records expected, got {other:?}"),
            })
            .collect()
    }

    fn get<'a>(emissions: &'a [Emission], measure: &str) -> Option<&'a Sample> {
        samples(emissions)
            .into_iter()
            .find(|s| s.measure == measure)
    }

    #[test]
    fn measures_are_unique_and_every_emitted_measure_is_declared() {
        let k = kpis();
        let names: Vec<String> = k.measures().into_iter().map(|m| m.name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        let mut emitted = k.on_event(answered_after(10)).unwrap();
        let mut survey = testing::contact("c-1", Channel::Chat);
        survey.queue = Some("q".into());
        emitted.extend(
            k.on_event(testing::kpi_input(
                Some(survey),
                EventKind::SurveyAnswered(Survey {
                    csat: Some(5),
                    nps: None,
                    ces: None,
                    comment: None,
                }),
            ))
            .unwrap(),
        );
        for s in samples(&emitted) {
            assert!(
                names.contains(&s.measure),
                "undeclared measure {}",
                s.measure
            );
        }
    }

    #[test]
    fn answered_within_threshold_counts_for_service_level() {
        let e = kpis().on_event(answered_after(30)).unwrap();
        let sl = get(&e, SERVICE_LEVEL).unwrap();
        assert_eq!((sl.value, sl.denominator), (1.0, 1.0));
        let asa = get(&e, AVERAGE_SPEED_OF_ANSWER).unwrap();
        assert_eq!(asa.value, 30.0);
        assert_eq!(get(&e, CONTACTS_HANDLED).unwrap().value, 1.0);
        let ab = get(&e, ABANDONMENT_RATE).unwrap();
        assert_eq!((ab.value, ab.denominator), (0.0, 1.0));
    }

    #[test]
    fn answered_after_threshold_misses_service_level() {
        let e = kpis().on_event(answered_after(31)).unwrap();
        let sl = get(&e, SERVICE_LEVEL).unwrap();
        assert_eq!((sl.value, sl.denominator), (0.0, 1.0));
        assert_eq!(get(&e, AVERAGE_SPEED_OF_ANSWER).unwrap().value, 31.0);
    }

    #[test]
    fn threshold_is_configurable() {
        let k = CoreKpis::new(Config {
            service_level_threshold_secs: 60,
        })
        .unwrap();
        let e = k.on_event(answered_after(45)).unwrap();
        assert_eq!(get(&e, SERVICE_LEVEL).unwrap().value, 1.0);
    }

    #[test]
    fn dimensions_are_queue_channel_and_agent() {
        let e = kpis().on_event(answered_after(5)).unwrap();
        let s = get(&e, CONTACTS_HANDLED).unwrap();
        assert_eq!(s.dimension("queue"), Some("billing"));
        assert_eq!(s.dimension("channel"), Some("voice"));
        assert_eq!(s.dimension("agent"), Some("a7"));
    }

    #[test]
    fn abandoned_counts_against_both_rates_without_an_agent() {
        let mut c = testing::contact("c-2", Channel::Chat);
        c.queue = Some("general".into());
        c.times.queued_at = Some(testing::NOW - 90_000);
        c.times.abandoned_at = Some(testing::NOW);
        let e = kpis()
            .on_event(testing::kpi_input(Some(c), EventKind::Abandoned))
            .unwrap();
        assert_eq!(e.len(), 2);
        let ab = get(&e, ABANDONMENT_RATE).unwrap();
        assert_eq!((ab.value, ab.denominator), (1.0, 1.0));
        let sl = get(&e, SERVICE_LEVEL).unwrap();
        assert_eq!((sl.value, sl.denominator), (0.0, 1.0));
        assert_eq!(ab.dimension("agent"), None);
        assert_eq!(ab.dimension("channel"), Some("chat"));
    }

    #[test]
    fn abandoned_before_queueing_is_not_counted() {
        let e = kpis()
            .on_event(testing::kpi_input(
                Some(testing::contact("c-3", Channel::Voice)),
                EventKind::Abandoned,
            ))
            .unwrap();
        assert!(e.is_empty());
    }

    #[test]
    fn csat_counts_4_and_5_as_satisfied() {
        let survey = |csat| {
            let mut c = testing::contact("c-4", Channel::Email);
            c.agent_id = Some("a9".into());
            testing::kpi_input(
                Some(c),
                EventKind::SurveyAnswered(Survey {
                    csat,
                    nps: Some(9),
                    ces: None,
                    comment: None,
                }),
            )
        };
        for (score, satisfied) in [(5, 1.0), (4, 1.0), (3, 0.0), (1, 0.0)] {
            let e = kpis().on_event(survey(Some(score))).unwrap();
            let s = get(&e, CSAT).unwrap();
            assert_eq!((s.value, s.denominator), (satisfied, 1.0), "csat {score}");
            assert_eq!(s.dimension("agent"), Some("a9"));
        }
        assert!(kpis().on_event(survey(None)).unwrap().is_empty());
    }

    #[test]
    fn clock_skew_never_yields_a_negative_wait() {
        let e = kpis().on_event(answered_after(-5)).unwrap();
        assert_eq!(get(&e, AVERAGE_SPEED_OF_ANSWER).unwrap().value, 0.0);
    }

    #[test]
    fn agent_events_and_other_contact_events_emit_nothing() {
        let k = kpis();
        assert!(
            k.on_event(testing::kpi_input(None, EventKind::Held))
                .unwrap()
                .is_empty()
        );
        let c = testing::contact("c-5", Channel::Sms);
        assert!(
            k.on_event(testing::kpi_input(Some(c), EventKind::Resolved))
                .unwrap()
                .is_empty()
        );
    }
}
