//! Agents and queues.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Channel;

/// An agent's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Offline,
    /// Logged in, waiting for contacts.
    Available,
    /// Handling contacts; may take more on channels with spare capacity.
    Busy,
    /// On a break: offered nothing.
    Break,
    /// Doing after-contact work: offered nothing.
    WrapUp,
}

impl AgentStatus {
    /// Whether contacts may be offered in this status (capacity permitting).
    pub fn accepts_contacts(self) -> bool {
        matches!(self, AgentStatus::Available | AgentStatus::Busy)
    }
}

/// An agent as routing sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Agent {
    /// In `PUT /v1/agents/{id}`: the path's id, or empty for it.
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Skill -> proficiency, 1 (novice) to 5 (expert).
    #[serde(default, deserialize_with = "super::unique_keys")]
    #[schema(schema_with = super::bounds::schema::skills)]
    pub skills: BTreeMap<String, u8>,
    /// BCP 47 language tags the agent serves in.
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    /// Contacts the agent can handle at once, per channel (e.g. voice 1, chat 3).
    #[serde(default, deserialize_with = "super::unique_keys")]
    pub capacity: BTreeMap<Channel, u32>,
    pub status: AgentStatus,
    /// Contacts being handled now, per channel.
    #[serde(default, deserialize_with = "super::unique_keys")]
    pub load: BTreeMap<Channel, u32>,
    /// When the agent last became idle (ms since the epoch), for longest-idle.
    #[serde(default)]
    pub idle_since: i64,
    /// When the current status began (ms since the epoch); set by the
    /// server, ignored in requests.
    #[serde(default)]
    pub status_since: i64,
    /// When the current period of one status and one load began (a status
    /// change or a contact offered or finished ends a period); set by the
    /// server, ignored in requests.
    #[serde(default)]
    pub period_since: i64,
}

impl Agent {
    /// Contacts on `channel` the agent could still take.
    pub fn spare(&self, channel: Channel) -> u32 {
        let cap = self.capacity.get(&channel).copied().unwrap_or(0);
        cap.saturating_sub(self.load.get(&channel).copied().unwrap_or(0))
    }

    /// Share of total capacity in use, 0.0-1.0 (1.0 if the agent has none).
    pub fn occupancy(&self) -> f64 {
        let cap: u32 = self.capacity.values().sum();
        if cap == 0 {
            return 1.0;
        }
        f64::from(self.load.values().sum::<u32>()) / f64::from(cap)
    }

    /// Proficiency in `skill`, 0 if the agent lacks it.
    pub fn proficiency(&self, skill: &str) -> u8 {
        self.skills.get(skill).copied().unwrap_or(0)
    }

    /// Whether the agent serves in `language` (`en` matches `en-GB` and back).
    pub fn speaks(&self, language: &str) -> bool {
        let primary = |l: &str| {
            l.split(['-', '_'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        let wanted = primary(language);
        self.languages.iter().any(|l| primary(l) == wanted)
    }
}

/// How a queue picks among the agents who qualify equally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SelectionStrategy {
    /// The agent idle the longest.
    #[default]
    LongestIdle,
    /// The agent with the lowest share of capacity in use.
    LeastOccupied,
    /// Agents in turn.
    RoundRobin,
    /// The agent with the highest proficiency in the required skills.
    MostSkilled,
}

/// "80 % of contacts answered within 30 s".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceLevelTarget {
    /// Share to answer in time, 0.0-1.0.
    pub share: f64,
    pub within_secs: u32,
}

impl Default for ServiceLevelTarget {
    fn default() -> Self {
        Self {
            share: 0.8,
            within_secs: 30,
        }
    }
}

/// A queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Queue {
    #[schema(schema_with = super::bounds::schema::non_blank)]
    pub name: String,
    #[serde(default)]
    pub service_level: ServiceLevelTarget,
    /// Queues with higher priority are served first when an agent frees up.
    #[serde(default)]
    pub priority: u32,
    /// Where contacts go when this queue cannot serve them in time: a
    /// contact still waiting here `overflow_after_secs` after it entered
    /// the queue moves to this queue, keeping its wait time.
    #[serde(default)]
    pub overflow: Option<String>,
    /// Seconds a contact waits here before it overflows (with `overflow`).
    #[serde(default = "default_overflow_after_secs")]
    pub overflow_after_secs: u32,
    #[serde(default)]
    pub strategy: SelectionStrategy,
    /// Seconds an agent has to answer an offer from this queue before it
    /// expires and the contact goes back to its place in line; 0: never.
    #[serde(default = "default_offer_timeout_secs")]
    pub offer_timeout_secs: u32,
}

/// A contact in a queue with `overflow` moves after this long by default.
pub const DEFAULT_OVERFLOW_AFTER_SECS: u32 = 120;
/// An offer expires after this long unless the queue says otherwise.
pub const DEFAULT_OFFER_TIMEOUT_SECS: u32 = 30;

fn default_overflow_after_secs() -> u32 {
    DEFAULT_OVERFLOW_AFTER_SECS
}

fn default_offer_timeout_secs() -> u32 {
    DEFAULT_OFFER_TIMEOUT_SECS
}
