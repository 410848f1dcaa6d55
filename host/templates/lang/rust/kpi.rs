//! A KPI definition: resolved contacts and how long they took.
//!
//! The host calls `new` once per instance with the configuration (already
//! validated against `config_schema` in manifest.json), `measures` once, then
//! `on_event` for every contact and agent event. It adds the samples up into
//! time buckets per dimension value.
//!
//! The rule: when a contact is resolved, emit
//! - `contacts_resolved` (sum): 1;
//! - `resolution_time` (mean, seconds): from the contact's creation to its
//!   resolution.
//!
//! Each sample carries the dimensions listed in `dimensions`, in that order,
//! each only when known: `channel`, `queue` (the contact's), `tier` (the
//! customer's). Every other event emits nothing.

use serde::Deserialize;
use switchboard_sdk::prelude::*;

/// The configuration, as in manifest.json's `config_schema`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    dimensions: Vec<Dimension>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Dimension {
    Channel,
    Queue,
    Tier,
}

struct Resolutions {
    config: Config,
}

impl KpiDefinition for Resolutions {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(Resolutions { config })
    }

    fn measures(&self) -> Vec<Measure> {
        vec![
            Measure::new(
                "contacts_resolved",
                "contacts",
                Aggregation::Sum,
                "Contacts resolved.",
            ),
            Measure::new(
                "resolution_time",
                "seconds",
                Aggregation::Mean,
                "Time from the contact's creation to its resolution.",
            ),
        ]
    }

    fn on_event(&self, input: KpiInput) -> Result<Vec<Emission>, String> {
        // Only resolutions count, and agent events have no contact.
        let (EventKind::Resolved, Some(contact)) = (&input.event.kind, &input.contact) else {
            return Ok(Vec::new());
        };

        // The dimensions, in the configured order, each when known.
        let mut dimensions = Vec::new();
        for dimension in &self.config.dimensions {
            match dimension {
                Dimension::Channel => {
                    dimensions.push(KeyValue::new("channel", contact.channel.as_str()))
                }
                Dimension::Queue => {
                    if let Some(queue) = &contact.queue {
                        dimensions.push(KeyValue::new("queue", queue));
                    }
                }
                Dimension::Tier => {
                    if !contact.customer_tier.is_empty() {
                        dimensions.push(KeyValue::new("tier", &contact.customer_tier));
                    }
                }
            }
        }

        // Times are milliseconds; the event time stands in for a missing resolved_at.
        let resolved_at = contact.times.resolved_at.unwrap_or(input.event.at);
        let millis = (resolved_at - contact.times.created_at).max(0);
        let seconds = millis as f64 / 1000.0;

        let mut count = Sample::value("contacts_resolved", 1.0);
        count.dimensions = dimensions.clone();
        let mut time = Sample::value("resolution_time", seconds);
        time.dimensions = dimensions;
        Ok(vec![Emission::Record(count), Emission::Record(time)])
    }
}

switchboard_sdk::export_kpi_definition!(Resolutions);

// Unit tests run natively: `cargo test`. The fixtures in fixtures/ run the
// built component in the real sandbox: `switchboard plugin test`.
#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::testing;

    /// The manifest's `default_config`: also checks it fits `Config`.
    fn default_definition() -> Resolutions {
        let config = testing::default_config_from_manifest(include_str!("../manifest.json"));
        Resolutions::new(config.expect("default_config fits Config")).expect("a valid config")
    }

    #[test]
    fn resolution_is_counted_per_channel() {
        let mut contact = testing::contact("c-1", Channel::Email);
        contact.times.resolved_at = Some(contact.times.created_at + 90_000);
        let input = testing::kpi_input(Some(contact), EventKind::Resolved);
        let emissions = default_definition().on_event(input).expect("emissions");
        let Emission::Record(time) = &emissions[1] else {
            panic!("a record")
        };
        assert_eq!(time.value, 90.0);
        assert_eq!(time.dimensions, [KeyValue::new("channel", "email")]);
    }
}
