//! An escalation rule: flag contacts whose customer is getting upset.
//!
//! The host calls `new` once per instance with the configuration (already
//! validated against `config_schema` in manifest.json), then `on_event` for
//! every event of every contact.
//!
//! The rule: when an event brings a customer sentiment below
//! `negative_sentiment_below` (a `sentiment-changed` event, or a message from
//! the customer with a sentiment), add `tag` to the contact, raise its
//! priority by `raise_priority` (if not 0) and, if `notify_supervisor`, page
//! a supervisor. A contact that already has the tag is left alone, so this
//! happens once per contact. Any other event: no actions.

use serde::Deserialize;
use switchboard_sdk::prelude::*;

/// The configuration, as in manifest.json's `config_schema`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    negative_sentiment_below: f64,
    tag: String,
    raise_priority: u32,
    notify_supervisor: bool,
}

struct AtRisk {
    config: Config,
}

impl EscalationRule for AtRisk {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(AtRisk { config })
    }

    fn on_event(&self, input: EscalationInput) -> Result<EscalationOutcome, String> {
        let config = &self.config;
        let contact = &input.contact;

        // The sentiment this event reports, if any.
        let sentiment = match &input.event.kind {
            EventKind::SentimentChanged(s) => Some(*s),
            EventKind::Message(m) if m.from_customer => m.sentiment,
            _ => None,
        };
        let Some(sentiment) = sentiment else {
            return Ok(EscalationOutcome::nothing(
                "no customer sentiment in this event",
            ));
        };
        if f64::from(sentiment) >= config.negative_sentiment_below {
            return Ok(EscalationOutcome::nothing("sentiment not below threshold"));
        }
        if contact.tags.contains(&config.tag) {
            return Ok(EscalationOutcome::nothing(format!(
                "already tagged {}",
                config.tag
            )));
        }

        // Below the threshold for the first time: act, and say what was done.
        let mut actions = vec![EscalationAction::AddTag(config.tag.clone())];
        let mut reason = format!("sentiment below threshold -> tag {}", config.tag);
        if config.raise_priority > 0 {
            actions.push(EscalationAction::RaisePriority(config.raise_priority));
            reason.push_str(&format!(", priority +{}", config.raise_priority));
        }
        if config.notify_supervisor {
            actions.push(EscalationAction::Notify(Notification {
                target: NotifyTarget::Supervisor,
                urgency: Urgency::High,
                message: format!(
                    "contact {} is at risk: customer sentiment dropped below the threshold",
                    contact.id
                ),
            }));
            reason.push_str(", supervisor notified");
        }
        switchboard_sdk::log::info!("contact {}: {reason}", contact.id);
        Ok(EscalationOutcome {
            actions,
            recheck: None,
            reason,
        })
    }
}

switchboard_sdk::export_escalation_rule!(AtRisk);

// Unit tests run natively: `cargo test`. The fixtures in fixtures/ run the
// built component in the real sandbox: `switchboard plugin test`.
#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::testing;

    /// The manifest's `default_config`: also checks it fits `Config`.
    fn default_rule() -> AtRisk {
        let config = testing::default_config_from_manifest(include_str!("../manifest.json"));
        AtRisk::new(config.expect("default_config fits Config")).expect("a valid config")
    }

    #[test]
    fn negative_sentiment_tags_the_contact() {
        let contact = testing::contact("c-1", Channel::Chat);
        let input = testing::escalation_input(contact, EventKind::SentimentChanged(-0.9));
        let outcome = default_rule().on_event(input).expect("an outcome");
        assert_eq!(
            outcome.actions[0],
            EscalationAction::AddTag("at-risk".into())
        );
    }

    #[test]
    fn calm_contacts_are_left_alone() {
        let contact = testing::contact("c-1", Channel::Chat);
        let input = testing::escalation_input(contact, EventKind::SentimentChanged(0.4));
        assert!(
            default_rule()
                .on_event(input)
                .expect("an outcome")
                .actions
                .is_empty()
        );
    }
}
