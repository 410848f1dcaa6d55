//! Lifecycle events of a contact: validated against the state machine and
//! the contact's timeline, recorded in order, and durable when acknowledged.

use serde::{Deserialize, Serialize};

use crate::domain::{ContactState, Transition, bounds};

use super::reactions::Reaction;
use super::{CONTACTS, ContactRecord, EVENTS, Engine, EngineError, decode, encode};
use crate::plugins::types as wit;

/// What happened to a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// Offered to an agent.
    Offer { agent_id: String },
    /// The agent declined; back to its place in the queue.
    Decline,
    /// The agent let the offer ring out: back to its place in the queue,
    /// counted as a missed offer. The engine records it when the queue's
    /// `offer_timeout_secs` pass; a channel may report it too.
    OfferExpired,
    /// Recorded by the engine: the contact waited too long in queue `from`
    /// (the queue's `overflow`, or a routing relaxation step) and now
    /// waits in queue `to`, keeping its place by wait time.
    Overflow { from: String, to: String },
    /// The agent answered.
    Answer,
    /// Put on hold (while assigned).
    Hold,
    /// Taken off hold.
    Resume,
    /// Conversation over; after-contact work starts.
    WrapUp,
    /// Closed.
    Resolve,
    /// The customer left before an agent answered.
    Abandon,
    /// Handed to another queue.
    Transfer {
        #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
        queue: String,
    },
    /// Escalated by a supervisor or a rule.
    Escalate { reason: String },
    /// A message in the conversation, with its sentiment (-1.0 to 1.0)
    /// when known; the contact's sentiment follows the customer's messages.
    Message {
        from_customer: bool,
        text: String,
        #[serde(default)]
        #[schema(schema_with = crate::domain::bounds::schema::sentiment)]
        sentiment: Option<f64>,
    },
    /// A survey answer after resolution.
    Survey {
        #[schema(schema_with = crate::domain::bounds::schema::csat)]
        csat: Option<u8>,
        #[schema(schema_with = crate::domain::bounds::schema::nps)]
        nps: Option<u8>,
        #[schema(schema_with = crate::domain::bounds::schema::ces)]
        ces: Option<u8>,
        comment: Option<String>,
    },
}

/// An event as posted over the API: `{"type": "offer", "agent_id": "a-7",
/// "occurred_at": 1700000000000}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactEvent {
    #[serde(flatten, deserialize_with = "named_kind")]
    pub kind: EventKind,
    /// Event time (ms since the epoch); the engine's clock when absent.
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::event_time)]
    pub occurred_at: Option<i64>,
}

/// An [`EventKind`] whose `type` is its name: serde's internally tagged
/// enums also take a variant's index (`"type": 0`), which the API does not.
fn named_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<EventKind, D::Error> {
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    match v.get("type") {
        Some(serde_json::Value::String(_)) => EventKind::deserialize(v).map_err(D::Error::custom),
        Some(other) => Err(D::Error::custom(format_args!(
            "`type` must be an event name such as \"answer\", got {other}"
        ))),
        None => Err(D::Error::missing_field("type")),
    }
}

/// An event in a contact's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordedEvent {
    pub contact_id: String,
    pub sequence: u64,
    pub at: i64,
    pub kind: EventKind,
}

/// The WIT event for an API event that took `before` to `after`.
fn wit_kind(before: &ContactRecord, after: &ContactRecord, kind: &EventKind) -> wit::EventKind {
    let agent = || after.agent_id.clone().unwrap_or_default();
    match kind {
        EventKind::Offer { agent_id } => wit::EventKind::Offered(agent_id.clone()),
        EventKind::Decline
        | EventKind::OfferExpired
        | EventKind::Overflow { .. }
        | EventKind::Escalate { .. } => wit::EventKind::Queued(after.requirements.queue.clone()),
        EventKind::Answer => wit::EventKind::Answered(agent()),
        EventKind::Hold => wit::EventKind::Held,
        EventKind::Resume => wit::EventKind::Resumed,
        EventKind::WrapUp => wit::EventKind::WrapUp,
        EventKind::Resolve => wit::EventKind::Resolved,
        EventKind::Abandon => wit::EventKind::Abandoned,
        EventKind::Transfer { queue } => wit::EventKind::Transferred(wit::Transfer {
            from_queue: Some(before.requirements.queue.clone()).filter(|q| !q.is_empty()),
            to_queue: queue.clone(),
            from_agent: before.agent_id.clone(),
        }),
        EventKind::Message {
            from_customer,
            text,
            sentiment,
        } => wit::EventKind::Message(wit::Message {
            from_customer: *from_customer,
            text: text.clone(),
            #[allow(clippy::cast_possible_truncation)] // checked to be in -1..1
            sentiment: sentiment.map(|s| s as f32),
        }),
        EventKind::Survey {
            csat,
            nps,
            ces,
            comment,
        } => wit::EventKind::SurveyAnswered(wit::Survey {
            csat: *csat,
            nps: *nps,
            ces: *ces,
            comment: comment.clone(),
        }),
    }
}

fn event_key(contact: &str, seq: u64) -> Vec<u8> {
    let mut k = contact.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl EventKind {
    /// The lifecycle step this event is, if it changes the state.
    fn transition(&self) -> Option<Transition> {
        Some(match self {
            EventKind::Offer { .. } => Transition::Offer,
            EventKind::Decline | EventKind::OfferExpired => Transition::Decline,
            EventKind::Answer => Transition::Answer,
            EventKind::WrapUp => Transition::WrapUp,
            EventKind::Resolve => Transition::Resolve,
            EventKind::Abandon => Transition::Abandon,
            EventKind::Transfer { .. } => Transition::Transfer,
            EventKind::Escalate { .. } => Transition::Escalate,
            EventKind::Hold
            | EventKind::Overflow { .. }
            | EventKind::Resume
            | EventKind::Message { .. }
            | EventKind::Survey { .. } => {
                return None;
            }
        })
    }
}

fn check_score(
    name: &str,
    value: Option<u8>,
    range: std::ops::RangeInclusive<u8>,
) -> Result<(), EngineError> {
    match value {
        Some(v) if !range.contains(&v) => Err(EngineError::Invalid(format!(
            "survey `{name}` must be {}-{}, got {v}",
            range.start(),
            range.end()
        ))),
        _ => Ok(()),
    }
}

/// Apply `kind` at `at` to `c`, or say why it cannot happen.
fn apply(c: &mut ContactRecord, kind: &EventKind, at: i64) -> Result<(), EngineError> {
    if let Some(t) = kind.transition() {
        let next = c.state.apply(t)?;
        c.state = next;
    }
    match kind {
        EventKind::Offer { agent_id } => {
            c.agent_id = Some(agent_id.clone());
            c.offered_at = Some(at);
        }
        EventKind::Decline | EventKind::OfferExpired => c.agent_id = None,
        EventKind::Overflow { from, to } => {
            if c.state != ContactState::Queued || &c.requirements.queue != from {
                return Err(EngineError::Invalid(format!(
                    "cannot overflow a contact that is {} in queue `{}` from queue `{from}`",
                    c.state, c.requirements.queue
                )));
            }
            c.requirements.queue = to.clone();
            c.in_queue_since = Some(at);
            // The steps that moved it (or that its move supersedes) are
            // spent: waiting longer must not pull it back.
            let waited = ((at - c.queued_at.unwrap_or(at)).max(0) / 1000) as u32;
            for step in &mut c.requirements.relaxation {
                if step.after_secs <= waited {
                    step.actions
                        .retain(|a| !matches!(a, crate::domain::Relaxation::Overflow(_)));
                }
            }
            c.requirements.relaxation.retain(|s| !s.actions.is_empty());
        }
        EventKind::Answer => c.answered_at = Some(at),
        EventKind::Hold => {
            if c.state != ContactState::Assigned || c.held_since.is_some() {
                return Err(EngineError::Invalid(format!(
                    "cannot hold a contact that is {}{}: only an assigned contact that is not already on hold can be held",
                    c.state,
                    if c.held_since.is_some() {
                        " and on hold"
                    } else {
                        ""
                    }
                )));
            }
            c.held_since = Some(at);
        }
        EventKind::Resume => {
            let Some(since) = c.held_since.take() else {
                return Err(EngineError::Invalid(
                    "cannot resume a contact that is not on hold: post `hold` first".into(),
                ));
            };
            c.hold_ms += (at - since).max(0) as u64;
        }
        EventKind::WrapUp => {
            if let Some(since) = c.held_since.take() {
                c.hold_ms += (at - since).max(0) as u64;
            }
            c.wrap_up_at = Some(at);
        }
        EventKind::Resolve => c.resolved_at = Some(at),
        EventKind::Abandon => c.abandoned_at = Some(at),
        EventKind::Transfer { queue } => {
            crate::domain::bounds::name("queue", queue)
                .map_err(|e| EngineError::Invalid(format!("transfer: {e}")))?;
            c.transfers += 1;
            c.agent_id = None;
            c.held_since = None;
            c.requirements.queue = queue.clone();
            // A transfer re-queues the contact at once.
            c.state = c.state.apply(Transition::Enqueue)?;
            c.queued_at = Some(at);
            c.in_queue_since = None;
        }
        EventKind::Escalate { .. } => {
            // Back in the queue for someone more senior: like a transfer,
            // a new queue entry, counted in `transfers`, so KPIs count the
            // next answer as a further leg, not a first answer.
            c.state = c.state.apply(Transition::Enqueue)?;
            c.transfers += 1;
            c.queued_at = Some(at);
            c.in_queue_since = None;
            c.agent_id = None;
            c.held_since = None;
            if !c.tags.iter().any(|t| t == "escalated") {
                c.tags.push("escalated".into());
            }
        }
        EventKind::Message {
            from_customer,
            sentiment,
            ..
        } => {
            if c.state.is_terminal() {
                return Err(EngineError::Invalid(format!(
                    "cannot add a message to a contact that is {}: open a new contact",
                    c.state
                )));
            }
            let s = bounds::sentiment("sentiment", *sentiment).map_err(EngineError::Invalid)?;
            if s.is_some() && *from_customer {
                c.sentiment = s;
            }
        }
        EventKind::Survey {
            csat,
            nps,
            ces,
            comment,
        } => {
            if c.state != ContactState::Resolved {
                return Err(EngineError::Invalid(format!(
                    "a survey answer needs a resolved contact; this one is {}",
                    c.state
                )));
            }
            check_score("csat", *csat, bounds::CSAT)?;
            check_score("nps", *nps, bounds::NPS)?;
            check_score("ces", *ces, bounds::CES)?;
            c.survey = Some(super::SurveyScores {
                csat: *csat,
                nps: *nps,
                ces: *ces,
                comment: comment.clone(),
                at,
            });
        }
    }
    Ok(())
}

impl Engine {
    /// Record an event of contact `id`, feed it to the escalation rules and
    /// KPI definitions and apply what they decide; returns the contact
    /// after it, once all of it is durable.
    #[tracing::instrument(skip_all, fields(contact = %id))]
    pub fn record_event(
        &self,
        id: &str,
        event: ContactEvent,
    ) -> Result<(ContactRecord, RecordedEvent), EngineError> {
        self.record_event_and_offer(id, event)
            .map(|(c, e, _)| (c, e))
    }

    /// [`Engine::record_event`], also returning the offers the event made
    /// possible (capacity freed up, or the contact waiting again).
    #[allow(clippy::type_complexity)]
    pub fn record_event_and_offer(
        &self,
        id: &str,
        event: ContactEvent,
    ) -> Result<(ContactRecord, RecordedEvent, Vec<(String, String)>), EngineError> {
        let (contact, recorded) = self.record_event_inner(id, event, false)?;
        let offers = self.dispatch(recorded.at)?;
        Ok((contact, recorded, offers))
    }

    /// `internal`: an offer made by the engine's own dispatch (its time is
    /// clamped to the contact's timeline, and it does not dispatch again).
    pub(super) fn record_event_inner(
        &self,
        id: &str,
        event: ContactEvent,
        internal: bool,
    ) -> Result<(ContactRecord, RecordedEvent), EngineError> {
        bounds::event_time("occurred_at", event.occurred_at).map_err(EngineError::Invalid)?;
        if !internal && matches!(event.kind, EventKind::Overflow { .. }) {
            return Err(EngineError::Invalid(
                "`overflow` is recorded by the engine when a queue's `overflow_after_secs` pass; to move a contact to another queue post `transfer`".into(),
            ));
        }
        let asked = event.occurred_at.unwrap_or_else(|| (self.clock)());
        // Decided with no lock held (the plugins are called here), then
        // applied if the contact is still as read (decision 0003).
        let ((contact, recorded), r, _) =
            self.decide_and_commit(&format!("contact {id}"), false, |r| {
                r.read(&self.versions, super::contact_key(id));
                let mut c = self
                    .contact(id)?
                    .ok_or_else(|| EngineError::no_contact(id))?;
                let at = if internal {
                    asked.max(c.last_event_at)
                } else {
                    asked
                };
                if at < c.last_event_at {
                    return Err(EngineError::Invalid(format!(
                        "`occurred_at` {at} is before this contact's latest event ({}): events of one contact must not go back in time",
                        c.last_event_at
                    )));
                }
                let recorded = self.apply_event(&mut c, event.kind.clone(), at, r)?;
                r.track.push((c.clone(), at));
                Ok((c, recorded))
            })?;
        self.store.make_durable()?;
        super::count_missed(&r.missed);
        if r.timers {
            self.wakeup.notify();
        }
        self.event_recorded(&contact, &recorded);
        Ok((contact, recorded))
    }

    /// Apply event `kind` at `at` to contact `c` (as read for this change)
    /// with all it causes (agent periods, offer and overflow timers,
    /// plugin reactions, the event and contact rows) into `r`; the caller
    /// commits `r` and then calls [`Engine::event_recorded`].
    pub(super) fn apply_event(
        &self,
        c: &mut ContactRecord,
        kind: EventKind,
        at: i64,
        r: &mut Reaction,
    ) -> Result<RecordedEvent, EngineError> {
        let before = c.clone();
        apply(c, &kind, at)?;
        c.last_event_at = at;
        c.events += 1;
        self.load_changed(&before, c, at, r)?;
        self.offer_changed(&before, c, &kind, at, r)?;
        let requeued = c.state == ContactState::Queued && before.state != ContactState::Queued;
        if requeued {
            self.schedule_rematch(c, r)?;
        }
        if let EventKind::Overflow { from, to } = &kind {
            // Audited before the state it explains (same commit).
            r.audit.push(crate::audit::AuditEntry {
                at,
                actor: "engine".into(),
                kind: "queue.overflow".into(),
                subject: c.id.clone(),
                data: serde_json::value::to_raw_value(&serde_json::json!({
                    "from": from,
                    "to": to,
                    "queued_at": c.queued_at,
                    "waited_ms": c.queued_at.map(|q| at - q),
                }))
                .map_err(|e| {
                    crate::store::StoreError::Corrupt(format!("cannot encode audit record: {e}"))
                })?,
            });
        }
        if requeued || matches!(kind, EventKind::Overflow { .. }) {
            self.schedule_overflow(c, at, r)?;
        }
        let wit_kind = wit_kind(&before, c, &kind);
        self.react(c, wit_kind, at, None, None, r)?;
        let recorded = RecordedEvent {
            contact_id: c.id.clone(),
            sequence: c.events,
            at,
            kind,
        };
        r.writes.put(
            EVENTS,
            event_key(&c.id, recorded.sequence),
            encode(&recorded)?,
        );
        r.writes.put(CONTACTS, c.id.as_bytes(), encode(&*c)?);
        Ok(recorded)
    }

    /// After the commit of an event (the floor followed the contact in
    /// it): live views hear of it.
    pub(super) fn event_recorded(&self, contact: &ContactRecord, recorded: &RecordedEvent) {
        let change = serde_json::to_value(&recorded.kind)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.publish(contact, &change, recorded.at);
    }

    /// The events of contact `id`, in order.
    pub fn events(&self, id: &str) -> Result<Vec<RecordedEvent>, EngineError> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        self.store
            .scan_prefix(EVENTS, &prefix)
            .map(|kv| Ok(decode(&kv?.1, "event")?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel;
    use crate::engine::{FallbackQueues, NewContact};
    use crate::store::{Durability, SledStore};

    const T0: i64 = 1_700_000_000_000;

    fn engine(dir: &std::path::Path) -> Engine {
        Engine::new(
            SledStore::open(dir, Durability::Group).unwrap(),
            FallbackQueues::default(),
        )
        .unwrap()
    }

    fn new_contact(engine: &Engine) -> String {
        engine
            .ingest(NewContact {
                channel: Channel::Voice,
                customer_id: "cust-1".into(),
                customer_tier: "standard".into(),
                language: "en".into(),
                topics: vec![],
                text: String::new(),
                sentiment: None,
                attributes: Default::default(),
                occurred_at: Some(T0),
            })
            .unwrap()
            .contact
            .id
    }

    fn ev(kind: EventKind, at: i64) -> ContactEvent {
        ContactEvent {
            kind,
            occurred_at: Some(T0 + at),
        }
    }

    #[test]
    fn a_contact_is_driven_to_resolution_with_its_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let id = new_contact(&e);
        let steps = [
            (
                EventKind::Offer {
                    agent_id: "a-1".into(),
                },
                5_000,
            ),
            (EventKind::Answer, 8_000),
            (EventKind::Hold, 20_000),
            (EventKind::Resume, 50_000),
            (
                EventKind::Message {
                    from_customer: true,
                    text: "thanks".into(),
                    sentiment: Some(0.6),
                },
                60_000,
            ),
            (EventKind::WrapUp, 90_000),
            (EventKind::Resolve, 120_000),
            (
                EventKind::Survey {
                    csat: Some(5),
                    nps: Some(9),
                    ces: Some(2),
                    comment: None,
                },
                130_000,
            ),
        ];
        for (kind, at) in steps {
            e.record_event(&id, ev(kind, at)).unwrap();
        }
        drop(e);
        let e = engine(dir.path());
        let c = e.contact(&id).unwrap().unwrap();
        assert_eq!(c.state, ContactState::Resolved);
        assert_eq!(c.agent_id.as_deref(), Some("a-1"));
        assert_eq!(
            (c.offered_at, c.answered_at),
            (Some(T0 + 5_000), Some(T0 + 8_000))
        );
        assert_eq!(c.hold_ms, 30_000);
        assert_eq!(
            (c.wrap_up_at, c.resolved_at),
            (Some(T0 + 90_000), Some(T0 + 120_000))
        );
        let events = e.events(&id).unwrap();
        assert_eq!(events.len(), 8, "every event is kept, in order");
        assert!(
            events
                .windows(2)
                .all(|w| w[0].sequence + 1 == w[1].sequence)
        );
    }

    #[test]
    fn illegal_steps_and_bad_input_are_refused_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let id = new_contact(&e);
        let err = e.record_event(&id, ev(EventKind::Resolve, 1)).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot resolve a contact that is queued"),
            "{err}"
        );
        let err = e.record_event(&id, ev(EventKind::Hold, 1)).unwrap_err();
        assert!(
            err.to_string().contains("only an assigned contact"),
            "{err}"
        );
        let err = e
            .record_event(
                &id,
                ev(
                    EventKind::Survey {
                        csat: Some(5),
                        nps: None,
                        ces: None,
                        comment: None,
                    },
                    1,
                ),
            )
            .unwrap_err();
        assert!(err.to_string().contains("resolved"), "{err}");
        e.record_event(
            &id,
            ev(
                EventKind::Offer {
                    agent_id: "a".into(),
                },
                10,
            ),
        )
        .unwrap();
        let err = e.record_event(&id, ev(EventKind::Answer, 5)).unwrap_err();
        assert!(err.to_string().contains("go back in time"), "{err}");
        let err = e
            .record_event("c-nope", ev(EventKind::Answer, 20))
            .unwrap_err();
        assert!(matches!(err, EngineError::NotFound(_)), "{err}");
        let c = e.contact(&id).unwrap().unwrap();
        assert_eq!(
            (c.state, c.events),
            (ContactState::Offered, 1),
            "rejected events left no trace"
        );
    }

    #[test]
    fn transfer_and_escalation_requeue_and_abandon_closes() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let id = new_contact(&e);
        e.record_event(
            &id,
            ev(
                EventKind::Offer {
                    agent_id: "a".into(),
                },
                1,
            ),
        )
        .unwrap();
        e.record_event(&id, ev(EventKind::Answer, 2)).unwrap();
        let (c, _) = e
            .record_event(
                &id,
                ev(
                    EventKind::Transfer {
                        queue: "tech".into(),
                    },
                    3,
                ),
            )
            .unwrap();
        assert_eq!(
            (c.state, c.transfers, c.requirements.queue.as_str()),
            (ContactState::Queued, 1, "tech")
        );
        let (c, _) = e
            .record_event(
                &id,
                ev(
                    EventKind::Escalate {
                        reason: "asked for a manager".into(),
                    },
                    4,
                ),
            )
            .unwrap();
        assert_eq!(c.state, ContactState::Queued);
        assert!(c.tags.contains(&"escalated".to_owned()));
        let (c, _) = e.record_event(&id, ev(EventKind::Abandon, 5)).unwrap();
        assert_eq!(
            (c.state, c.abandoned_at),
            (ContactState::Abandoned, Some(T0 + 5))
        );
        let err = e
            .record_event(
                &id,
                ev(
                    EventKind::Message {
                        from_customer: true,
                        text: "hello?".into(),
                        sentiment: None,
                    },
                    6,
                ),
            )
            .unwrap_err();
        assert!(err.to_string().contains("open a new contact"), "{err}");
    }

    #[test]
    fn events_parse_from_the_api_json() {
        let e: ContactEvent =
            serde_json::from_str(r#"{"type":"offer","agent_id":"a-7","occurred_at":5}"#).unwrap();
        assert_eq!(
            e.kind,
            EventKind::Offer {
                agent_id: "a-7".into()
            }
        );
        let e: ContactEvent = serde_json::from_str(r#"{"type":"resolve"}"#).unwrap();
        assert_eq!((e.kind, e.occurred_at), (EventKind::Resolve, None));
        assert!(serde_json::from_str::<ContactEvent>(r#"{"type":"teleport"}"#).is_err());
    }
}
