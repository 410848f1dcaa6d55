//! What escalation rules leave on a contact and for people: complaint
//! marks, named deadline clocks, and notifications. Plain records, shared
//! by the reactions that make them and the conversions that show them to
//! plugins.

use serde::{Deserialize, Serialize};

/// A contact marked as a complaint by a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Complaint {
    pub category: String,
    pub urgency: String,
    pub marked_at: i64,
    /// The escalation slot that marked it.
    pub by: String,
}

/// A named deadline clock on a contact (e.g. "acknowledge", "resolve").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadlineClock {
    pub name: String,
    pub started_at: i64,
    pub due_at: i64,
    #[serde(default)]
    pub warn_at: Vec<i64>,
    #[serde(default)]
    pub stopped_at: Option<i64>,
    #[serde(default)]
    pub breached_at: Option<i64>,
    /// The escalation slot that started it.
    pub by: String,
}

impl DeadlineClock {
    pub fn running(&self) -> bool {
        self.stopped_at.is_none()
    }
}

/// A notification for a supervisor, a team or an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: u64,
    pub at: i64,
    pub contact_id: String,
    /// `supervisor`, `team:<name>` or `agent:<id>`.
    pub target: String,
    pub urgency: String,
    pub message: String,
    /// The escalation slot that sent it.
    pub by: String,
}
