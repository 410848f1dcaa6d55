//! A KPI definition built against the frozen `switchboard:rules@0.1.0`
//! (`wit/0.1.0`). The KPI interface did not change in 0.2.0, so the host
//! calls it with its current types, checked structurally against the
//! component's: this guest proves that path (measures, on-event, configure).
//!
//! It counts contacts created, per channel.
//!
//! Only a wasm32 build has a body: built natively (as `cargo build --workspace`
//! does), the export names of 0.1.0 (`...routing@0.1.0#configure`) are not valid
//! symbols for the native linker, so the crate is empty there.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "kpi-definition",
});

use exports::switchboard::rules::kpi::{Aggregation, Emission, Guest, KpiInput, Measure, Sample};
use switchboard::rules::types::{Channel, EventKind, KeyValue};

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Voice => "voice",
        Channel::Email => "email",
        Channel::Chat => "chat",
        Channel::Sms => "sms",
        Channel::Social => "social",
    }
}

struct Frozen;

impl Guest for Frozen {
    fn configure(config: String) -> Result<(), String> {
        if config.trim() == "{}" {
            Ok(())
        } else {
            Err(format!(
                "this definition takes no configuration, got {config}"
            ))
        }
    }

    fn measures() -> Vec<Measure> {
        vec![Measure {
            name: "contacts_created".into(),
            unit: "contacts".into(),
            aggregation: Aggregation::Sum,
            description: "Contacts created, per channel".into(),
        }]
    }

    fn on_event(input: KpiInput) -> Result<Vec<Emission>, String> {
        let (EventKind::Created, Some(contact)) = (&input.event.kind, &input.contact) else {
            return Ok(Vec::new());
        };
        Ok(vec![Emission::Record(Sample {
            measure: "contacts_created".into(),
            id: Some(contact.id.clone()),
            dimensions: vec![KeyValue {
                key: "channel".into(),
                value: channel_name(contact.channel).into(),
            }],
            value: 1.0,
            denominator: 1.0,
        })])
    }
}

export!(Frozen);
