//! Write switchboard rules in Rust and compile them to sandboxed WebAssembly
//! components.
//!
//! A switchboard plugin is one of four kinds, each a WIT world of the package
//! `switchboard:rules@0.2.0` (see `wit/` in the repository):
//!
//! | kind | trait | export macro | question it answers |
//! |---|---|---|---|
//! | routing policy | [`RoutingPolicy`] | [`export_routing_policy!`] | which queue, priority and skills does this contact need? |
//! | escalation rule | [`EscalationRule`] | [`export_escalation_rule!`] | must this contact be escalated, tagged, or a supervisor paged? |
//! | compliance check | [`ComplianceCheck`] | [`export_compliance_check!`] | may this draft reply be sent as is? |
//! | KPI definition | [`KpiDefinition`] | [`export_kpi_definition!`] | which measures does this event contribute to? |
//!
//! A plugin is a pure function of its input and its configuration: it never
//! reads a clock, a file, the network or the environment (the host supplies
//! the time and every bit of context in the input), so every decision can be
//! replayed from the audit log. It may write to its log with [`log`].
//!
//! # A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "vip-first"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]   # cdylib: the component; rlib: native unit tests
//!
//! [dependencies]
//! switchboard-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use serde::Deserialize;
//! use switchboard_sdk::prelude::*;
//!
//! /// Validated by the host against the manifest's `config_schema` first.
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     default_queue: String,
//!     #[serde(default)]
//!     vip_bonus: u32,
//! }
//!
//! struct VipFirst {
//!     config: Config,
//! }
//!
//! impl RoutingPolicy for VipFirst {
//!     type Config = Config;
//!
//!     fn new(config: Config) -> Result<Self, String> {
//!         if config.default_queue.is_empty() {
//!             return Err("default_queue must not be empty".into());
//!         }
//!         Ok(VipFirst { config })
//!     }
//!
//!     fn route(&self, input: RoutingInput) -> Result<RoutingDecision, String> {
//!         let mut decision = RoutingDecision::to_queue(&self.config.default_queue, 1);
//!         decision.reason = format!("default queue {}", self.config.default_queue);
//!         if input.contact.customer_tier == "vip" {
//!             decision.priority += self.config.vip_bonus;
//!             decision.tags.push("vip".into());
//!             decision.reason.push_str(&format!("; vip +{}", self.config.vip_bonus));
//!         }
//!         switchboard_sdk::log::debug!("routed {}: {}", input.contact.id, decision.reason);
//!         Ok(decision)
//!     }
//! }
//!
//! switchboard_sdk::export_routing_policy!(VipFirst);
//!
//! // Natively the same code is plain Rust, so the logic is unit-testable:
//! # fn main() {
//! let policy = VipFirst::new(Config { default_queue: "general".into(), vip_bonus: 10 }).unwrap();
//! let mut contact = switchboard_sdk::testing::contact("c-1", Channel::Chat);
//! contact.customer_tier = "vip".into();
//! let decision = policy.route(switchboard_sdk::testing::routing_input(contact)).unwrap();
//! assert_eq!(decision.priority, 11);
//! assert_eq!(decision.reason, "default queue general; vip +10");
//! # }
//! ```
//!
//! Build the component with
//! `cargo build --target wasm32-wasip2 --release` (after
//! `rustup target add wasm32-wasip2`): `target/wasm32-wasip2/release/vip_first.wasm`
//! is the plugin. Ship it with a `manifest.json` that declares its id, kind,
//! JSON Schema for the configuration, default configuration, limits and fail
//! policy; see the bundled plugins in `plugins/`.
//!
//! # What the export macros do
//!
//! Each macro implements the world's generated `Guest` trait for you:
//! `configure` parses the host's JSON into the trait's `Config` type (errors
//! name the plugin crate and say what was wrong, e.g. `vip-first: invalid
//! configuration: missing field `default_queue` at line 1 column 2`), calls
//! `new` and keeps the instance; every other function calls that instance,
//! or returns `"<plugin>: <function> called before configure"` if there is
//! none. A second `configure` replaces the instance (and a failed one leaves
//! none). The plugin crate needs no `wit-bindgen` dependency of its own.
//!
//! Only a `wasm32` build exports anything: compiled natively (for unit
//! tests) the macros still type-check the glue but export no symbols, so the
//! plugin's `cdylib` links on any target.
//!
//! # Testing
//!
//! [`testing`] builds realistic inputs with sensible defaults, and every
//! generated type implements `serde::Deserialize`, so fixtures can be JSON
//! files. On native targets [`log`] writes to stderr.

#![warn(missing_docs)]

// Lets the generated bindings name this crate as `::switchboard_sdk`, both
// here and when the export macros expand inside a plugin crate.
extern crate self as switchboard_sdk;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub mod compliance;
pub mod escalation;
pub mod kpi;
pub mod log;
pub mod routing;
pub mod testing;
pub mod types;

pub use compliance::ComplianceCheck;
pub use escalation::EscalationRule;
pub use kpi::KpiDefinition;
pub use routing::RoutingPolicy;

/// The version of the WIT package (`switchboard:rules`) this SDK builds
/// plugins against; a manifest's `"wit"` field must name it.
pub const WIT_VERSION: &str = "0.2.0";

/// The traits, export macros and most used types, for a glob import:
/// `use switchboard_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::compliance::{
        ComplianceCheck, ComplianceResult, Draft, Finding, Severity, Span, Verdict,
    };
    pub use crate::escalation::{
        DeadlineStart, EscalationAction, EscalationInput, EscalationOutcome, EscalationRule,
        Notification, NotifyTarget, Recheck, Urgency,
    };
    pub use crate::kpi::{Aggregation, Emission, KpiDefinition, KpiInput, Measure, Sample};
    pub use crate::routing::{
        PreferredAgent, RelaxationAction, RelaxationStep, RoutingDecision, RoutingInput,
        RoutingPolicy, SkillPreference,
    };
    pub use crate::types::{
        Channel, Contact, ContactState, CustomerHistory, Event, EventKind, KeyValue, SkillLevel,
        Timestamp,
    };
    pub use crate::{
        export_compliance_check, export_escalation_rule, export_kpi_definition,
        export_routing_policy,
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
