//! Between the engine's records and the WIT types plugins see.

use crate::domain::{
    Channel, ContactState, PreferredSkill, Relaxation, RelaxationStep, RequiredSkill, Requirements,
};
use crate::plugins::routing::{RelaxationAction, RoutingDecision, RoutingInput};
use crate::plugins::types as wit;

use super::ContactRecord;

pub(super) fn channel(c: Channel) -> wit::Channel {
    match c {
        Channel::Voice => wit::Channel::Voice,
        Channel::Email => wit::Channel::Email,
        Channel::Chat => wit::Channel::Chat,
        Channel::Sms => wit::Channel::Sms,
        Channel::Social => wit::Channel::Social,
    }
}

pub(super) fn state(s: ContactState) -> wit::ContactState {
    match s {
        ContactState::New => wit::ContactState::New,
        ContactState::Queued => wit::ContactState::Queued,
        ContactState::Offered => wit::ContactState::Offered,
        ContactState::Assigned => wit::ContactState::Assigned,
        ContactState::WrapUp => wit::ContactState::WrapUp,
        ContactState::Resolved => wit::ContactState::Resolved,
        ContactState::Abandoned => wit::ContactState::Abandoned,
        ContactState::Transferred => wit::ContactState::Transferred,
        ContactState::Escalated => wit::ContactState::Escalated,
    }
}

pub(super) fn contact(c: &ContactRecord) -> wit::Contact {
    wit::Contact {
        id: c.id.clone(),
        channel: channel(c.channel),
        customer_id: c.customer_id.clone(),
        customer_tier: c.customer_tier.clone(),
        language: c.language.clone(),
        topics: c.topics.clone(),
        text: c.text.clone(),
        sentiment: c.sentiment,
        attributes: c
            .attributes
            .iter()
            .map(|(k, v)| wit::KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        tags: c.tags.clone(),
        state: state(c.state),
        queue: (!c.requirements.queue.is_empty()).then(|| c.requirements.queue.clone()),
        priority: c.requirements.priority,
        agent_id: None,
        transfers: 0,
        complaint: false,
        times: wit::ContactTimes {
            created_at: c.created_at,
            queued_at: c.queued_at,
            offered_at: None,
            answered_at: None,
            wrap_up_at: None,
            resolved_at: None,
            abandoned_at: None,
            hold_ms: 0,
        },
    }
}

/// The routing input for a new contact. Queue and skill snapshots are
/// empty until the engine tracks them.
pub(super) fn routing_input(
    c: &ContactRecord,
    history: wit::CustomerHistory,
    now: i64,
) -> RoutingInput {
    RoutingInput {
        now,
        contact: contact(c),
        history,
        queues: Vec::new(),
        skills: Vec::new(),
        incidents: Vec::new(),
    }
}

/// A plugin's decision as requirements, tags and reason.
pub(super) fn requirements(d: RoutingDecision) -> (Requirements, Vec<String>, String) {
    let req = Requirements {
        queue: d.queue,
        priority: d.priority,
        required: d
            .required_skills
            .into_iter()
            .map(|s| RequiredSkill {
                skill: s.skill,
                min: s.proficiency,
            })
            .collect(),
        preferred: d
            .preferred_skills
            .into_iter()
            .map(|s| PreferredSkill {
                skill: s.skill,
                min: s.min_proficiency,
                weight: s.weight,
            })
            .collect(),
        team: d.team,
        language: d.language,
        preferred_agent: d.preferred_agent.map(|p| (p.agent_id, p.timeout_secs)),
        relaxation: d
            .relaxation
            .into_iter()
            .map(|step| RelaxationStep {
                after_secs: step.after_secs,
                actions: step
                    .actions
                    .into_iter()
                    .map(|a| match a {
                        RelaxationAction::DropPreferredSkills => Relaxation::DropPreferredSkills,
                        RelaxationAction::LowerProficiency(l) => Relaxation::LowerProficiency(l),
                        RelaxationAction::DropRequiredSkill(s) => Relaxation::DropRequiredSkill(s),
                        RelaxationAction::DropTeam => Relaxation::DropTeam,
                        RelaxationAction::RaisePriority(p) => Relaxation::RaisePriority(p),
                        RelaxationAction::Overflow(q) => Relaxation::Overflow(q),
                    })
                    .collect(),
            })
            .collect(),
    };
    (req, d.tags, d.reason)
}
