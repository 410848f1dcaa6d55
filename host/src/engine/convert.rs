//! Between the engine's records and the WIT types plugins see.

use crate::domain::{
    AgentStatus, Channel, ContactState, PreferredSkill, Relaxation, RelaxationStep, RequiredSkill,
    Requirements,
};
use crate::plugins::routing::{RelaxationAction, RoutingDecision, RoutingInput};
use crate::plugins::types as wit;

use super::{ContactRecord, DeadlineClock};

pub(super) fn agent_status(s: AgentStatus) -> wit::AgentStatus {
    match s {
        AgentStatus::Offline => wit::AgentStatus::Offline,
        AgentStatus::Available => wit::AgentStatus::Available,
        AgentStatus::Busy => wit::AgentStatus::Busy,
        AgentStatus::Break => wit::AgentStatus::Break,
        AgentStatus::WrapUp => wit::AgentStatus::WrapUp,
    }
}

pub(super) fn agent_info(a: &crate::domain::Agent) -> wit::AgentInfo {
    wit::AgentInfo {
        id: a.id.clone(),
        teams: a.teams.clone(),
        skills: a
            .skills
            .iter()
            .map(|(s, l)| wit::SkillLevel {
                skill: s.clone(),
                proficiency: *l,
            })
            .collect(),
        status: agent_status(a.status),
    }
}

pub(super) fn deadline(d: &DeadlineClock) -> wit::Deadline {
    wit::Deadline {
        name: d.name.clone(),
        started_at: d.started_at,
        due_at: d.due_at,
    }
}

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
        agent_id: c.agent_id.clone(),
        transfers: c.transfers,
        complaint: c.complaint.is_some(),
        times: wit::ContactTimes {
            created_at: c.created_at,
            queued_at: c.queued_at,
            offered_at: c.offered_at,
            answered_at: c.answered_at,
            wrap_up_at: c.wrap_up_at,
            resolved_at: c.resolved_at,
            abandoned_at: c.abandoned_at,
            hold_ms: c.hold_ms,
        },
    }
}

/// The routing input for a new contact, with the floor's queue and skill
/// snapshots.
pub(super) fn routing_input(
    c: &ContactRecord,
    history: wit::CustomerHistory,
    now: i64,
    (queues, skills): (Vec<wit::QueueStatus>, Vec<wit::SkillAvailability>),
    incidents: Vec<wit::Incident>,
) -> RoutingInput {
    RoutingInput {
        now,
        contact: contact(c),
        history,
        queues,
        skills,
        incidents,
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

/// Check a routing decision as strictly as API input (`domain::bounds`):
/// non-blank bounded names, proficiency 1-5, priority and list sizes in
/// range. The message names the field.
pub(super) fn check_decision(d: &RoutingDecision) -> Result<(), String> {
    use crate::domain::bounds::{self, MAX_ATTRIBUTES, MAX_LIST, MAX_TAGS};
    bounds::name("queue", &d.queue)?;
    bounds::priority("priority", d.priority)?;
    bounds::count("required_skills", d.required_skills.len(), MAX_LIST)?;
    for (i, s) in d.required_skills.iter().enumerate() {
        bounds::name(&format!("required_skills[{i}].skill"), &s.skill)?;
        bounds::proficiency(&format!("required_skills[{i}].proficiency"), s.proficiency)?;
    }
    bounds::count("preferred_skills", d.preferred_skills.len(), MAX_LIST)?;
    for (i, s) in d.preferred_skills.iter().enumerate() {
        bounds::name(&format!("preferred_skills[{i}].skill"), &s.skill)?;
        bounds::proficiency(
            &format!("preferred_skills[{i}].min_proficiency"),
            s.min_proficiency,
        )?;
    }
    if let Some(team) = &d.team {
        bounds::name("team", team)?;
    }
    if let Some(language) = &d.language {
        bounds::name("language", language)?;
    }
    if let Some(p) = &d.preferred_agent {
        bounds::name("preferred_agent.agent_id", &p.agent_id)?;
    }
    bounds::count("relaxation", d.relaxation.len(), MAX_LIST)?;
    for (i, step) in d.relaxation.iter().enumerate() {
        bounds::count(
            &format!("relaxation[{i}].actions"),
            step.actions.len(),
            MAX_LIST,
        )?;
        for (j, a) in step.actions.iter().enumerate() {
            let field = format!("relaxation[{i}].actions[{j}]");
            match a {
                RelaxationAction::LowerProficiency(l) => bounds::proficiency(&field, *l)?,
                RelaxationAction::DropRequiredSkill(s) => bounds::name(&field, s)?,
                RelaxationAction::Overflow(q) => bounds::name(&field, q)?,
                RelaxationAction::RaisePriority(p) => bounds::priority(&field, *p)?,
                RelaxationAction::DropPreferredSkills | RelaxationAction::DropTeam => {}
            }
        }
    }
    bounds::count("tags", d.tags.len(), MAX_TAGS)?;
    for (i, t) in d.tags.iter().enumerate() {
        bounds::name(&format!("tags[{i}]"), t)?;
    }
    bounds::count("attributes", d.attributes.len(), MAX_ATTRIBUTES)?;
    for (i, kv) in d.attributes.iter().enumerate() {
        bounds::attribute(&format!("attributes[{i}]"), &kv.key, &kv.value)?;
    }
    Ok(())
}
