//! Incident mode (seed article 000: "engage proactively on downtime and
//! security issues"). An operator declares an incident; while it is active
//! every routing and escalation call sees it in its input, so rules can tag
//! matching contacts (`incident:<id>`) and route them to an incident queue.
//! A contact tagged with an incident that carries an approved message gets
//! that message back from intake (for the channel to play or send), with an
//! audit record. Closing the incident ends all of it: later contacts route
//! as before.

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, all, decode, encode};
use crate::audit::AuditEntry;
use crate::plugins::types as wit;
use crate::store::{StoreError, Writes};

pub(super) const INCIDENTS: &str = "incidents";

/// An incident as declared over the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    /// What customers are told and supervisors see, e.g. "Card payments failing".
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
    pub title: String,
    /// Words that mark a contact as about this incident (matched in its text
    /// and topics, case-insensitively, by the rules).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Affected products (matched against topics and the `product` attribute).
    #[serde(default)]
    pub products: Vec<String>,
    /// When it began (ms since the epoch); the engine's clock when absent.
    #[serde(default)]
    pub started_at: Option<i64>,
    /// When it is expected to end, if known; it can be closed earlier or later.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// The approved proactive message for customers who contact about it.
    #[serde(default)]
    pub message: Option<String>,
}

/// A declared incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub keywords: Vec<String>,
    pub products: Vec<String>,
    pub started_at: i64,
    /// When it ended (or will end); `null` while open-ended.
    pub ended_at: Option<i64>,
    pub message: Option<String>,
    /// Who declared it (the token's actor name).
    pub declared_by: String,
    /// Who closed it, once closed.
    #[serde(default)]
    pub closed_by: Option<String>,
}

impl Incident {
    /// Whether the incident is in force at `t`.
    pub fn active_at(&self, t: i64) -> bool {
        self.started_at <= t && self.ended_at.is_none_or(|end| t < end)
    }

    fn wit(&self) -> wit::Incident {
        wit::Incident {
            id: self.id.clone(),
            title: self.title.clone(),
            keywords: self.keywords.clone(),
            products: self.products.clone(),
            started_at: self.started_at,
        }
    }
}

/// The message a contact should receive about an incident it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProactiveMessage {
    pub incident: String,
    pub text: String,
}

fn clean(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = words
        .into_iter()
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    out.dedup();
    out
}

impl Engine {
    /// Load declared incidents (at start).
    pub(super) fn load_incidents(&self) -> Result<(), EngineError> {
        let mut list = Vec::new();
        for kv in self.store.scan(INCIDENTS, all(), false) {
            list.push(decode::<Incident>(&kv?.1, "incident")?);
        }
        *self.incidents.write() = list;
        Ok(())
    }

    /// Declare an incident; rules see it from its start.
    pub fn declare_incident(&self, new: NewIncident, actor: &str) -> Result<Incident, EngineError> {
        if crate::domain::bounds::is_blank(&new.title) {
            return Err(EngineError::Invalid(
                "an incident needs a `title`, e.g. \"Card payments failing\"".into(),
            ));
        }
        let (keywords, products) = (clean(new.keywords), clean(new.products));
        if keywords.is_empty() && products.is_empty() {
            return Err(EngineError::Invalid(
                "give `keywords` or `products` so rules can tell which contacts are about the incident".into(),
            ));
        }
        let now = (self.clock)();
        let started_at = new.started_at.unwrap_or(now);
        if new.ends_at.is_some_and(|end| end <= started_at) {
            return Err(EngineError::Invalid(
                "`ends_at` must be after `started_at`".into(),
            ));
        }
        let incident = Incident {
            id: format!("inc-{}", self.store.generate_id()?),
            title: new.title.trim().to_owned(),
            keywords,
            products,
            started_at,
            ended_at: new.ends_at,
            message: new
                .message
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty()),
            declared_by: actor.to_owned(),
            closed_by: None,
        };
        self.save_incident(&incident, "incident.declared", now, actor)?;
        self.incidents.write().push(incident.clone());
        Ok(incident)
    }

    /// Close an incident at `at` (the engine's clock when `None`).
    pub fn close_incident(
        &self,
        id: &str,
        at: Option<i64>,
        actor: &str,
    ) -> Result<Incident, EngineError> {
        let now = (self.clock)();
        let at = at.unwrap_or(now);
        let mut incident = self.incident(id)?;
        if incident.closed_by.is_some() {
            return Err(EngineError::Conflict(format!(
                "incident `{id}` was already closed by {}",
                incident.closed_by.as_deref().unwrap_or("?")
            )));
        }
        if at < incident.started_at {
            return Err(EngineError::Invalid(format!(
                "cannot close incident `{id}` at {at}, before it started ({})",
                incident.started_at
            )));
        }
        incident.ended_at = Some(at);
        incident.closed_by = Some(actor.to_owned());
        self.save_incident(&incident, "incident.closed", now, actor)?;
        if let Some(i) = self.incidents.write().iter_mut().find(|i| i.id == id) {
            *i = incident.clone();
        }
        Ok(incident)
    }

    fn save_incident(
        &self,
        incident: &Incident,
        kind: &str,
        now: i64,
        actor: &str,
    ) -> Result<(), EngineError> {
        let mut writes = Writes::default();
        writes.put(INCIDENTS, incident.id.as_bytes(), encode(incident)?);
        let entry = AuditEntry {
            at: now,
            actor: actor.to_owned(),
            kind: kind.to_owned(),
            subject: incident.id.clone(),
            data: serde_json::value::to_raw_value(incident)
                .map_err(|e| StoreError::Corrupt(format!("cannot encode incident: {e}")))?,
        };
        self.audit.commit_atomic(vec![entry], writes)?;
        self.store.make_durable()?;
        Ok(())
    }

    /// One incident.
    pub fn incident(&self, id: &str) -> Result<Incident, EngineError> {
        self.incidents
            .read()
            .iter()
            .find(|i| i.id == id)
            .cloned()
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "no incident `{id}`; list them with GET /v1/incidents"
                ))
            })
    }

    /// Every incident, newest first; only those active at `now` if `active`.
    pub fn incidents(&self, active: bool) -> Vec<Incident> {
        let now = (self.clock)();
        let mut list: Vec<Incident> = self
            .incidents
            .read()
            .iter()
            .filter(|i| !active || i.active_at(now))
            .cloned()
            .collect();
        list.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
        list
    }

    /// The incidents in force at `t`, as plugins see them.
    pub(super) fn active_incidents(&self, t: i64) -> Vec<wit::Incident> {
        self.incidents
            .read()
            .iter()
            .filter(|i| i.active_at(t))
            .map(Incident::wit)
            .collect()
    }

    /// The approved message for the first active incident `tags` name.
    pub(super) fn proactive_message(&self, tags: &[String], t: i64) -> Option<ProactiveMessage> {
        let incidents = self.incidents.read();
        tags.iter()
            .filter_map(|tag| tag.strip_prefix("incident:"))
            .find_map(|id| {
                let i = incidents.iter().find(|i| i.id == id && i.active_at(t))?;
                Some(ProactiveMessage {
                    incident: i.id.clone(),
                    text: i.message.clone()?,
                })
            })
    }
}
