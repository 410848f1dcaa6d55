//! Types shared by every plugin kind: contacts, events, customer history,
//! queue and agent snapshots (the WIT interface `switchboard:rules/types`).
//!
//! These are the generated WIT types, one Rust type each for all four plugin
//! kinds. Every type derives `Debug`, `Clone`, `PartialEq`, `serde::Serialize`
//! and `serde::Deserialize`, so test fixtures can be written as JSON: record
//! fields use their Rust (snake_case) names and enum cases their Rust
//! (CamelCase) names, e.g. `{"channel": "Chat", "state": "WrapUp"}`. Variant
//! cases with a payload are objects with one key, e.g. `{"Answered": "agent-7"}`.
//! This is exactly the JSON the host uses for the same types (in the audit
//! log and in `switchboard plugin test` fixtures), so one fixture file works
//! both natively and through the runtime.

pub use crate::__private::types_iface::{
    AgentInfo, AgentStatus, AgentStatusChange, Channel, Contact, ContactState, ContactTimes,
    CustomerHistory, Deadline, Event, EventKind, Incident, KeyValue, Message, PastContact,
    QueueStatus, SkillAvailability, SkillLevel, Survey, TopicCount, Transfer,
};

/// Milliseconds since the Unix epoch, UTC. The host supplies every time a
/// plugin sees; plugins never read a clock of their own.
pub type Timestamp = crate::__private::types_iface::Timestamp;

/// One minute in [`Timestamp`] units (milliseconds).
pub const MINUTE_MS: Timestamp = 60_000;
/// One hour in [`Timestamp`] units (milliseconds).
pub const HOUR_MS: Timestamp = 60 * MINUTE_MS;

impl KeyValue {
    /// A key-value pair, e.g. a KPI dimension `("queue", "billing")`.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl Contact {
    /// The value of the structured attribute `key`, if the contact has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }

    /// Whether `topic` is one of the contact's topic tags (exact match).
    pub fn has_topic(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }
}

impl Channel {
    /// The WIT name of the channel (`"voice"`, `"chat"`, ...), handy as a KPI
    /// dimension or in a reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Sms => "sms",
            Channel::Social => "social",
        }
    }
}
