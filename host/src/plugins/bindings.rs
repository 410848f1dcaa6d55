//! Host bindings generated from the WIT contract in `wit/`. WIT is the single
//! source of truth: no type here is written by hand. The shared `types` and
//! `log` interfaces are generated once (with the routing world) and reused
//! by the other three worlds.
//!
//! One module per WIT package version the host serves: the current one
//! (`wit/`, the modules at the top) and each frozen older one
//! (`wit/<version>/`, e.g. [`v0_1`]). The runtime drives a component through
//! the bindings of the version its export declares.

#![allow(missing_docs, clippy::all)]

/// The `routing-policy` world.
pub mod routing {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "routing-policy",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::routing::*;
}

/// The `escalation-rule` world.
pub mod escalation {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "escalation-rule",
        with: {
            "switchboard:rules/types": super::routing::switchboard::rules::types,
            "switchboard:rules/log": super::routing::switchboard::rules::log,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::escalation::*;
}

/// The `compliance-check` world.
pub mod compliance {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "compliance-check",
        with: {
            "switchboard:rules/types": super::routing::switchboard::rules::types,
            "switchboard:rules/log": super::routing::switchboard::rules::log,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::compliance::*;
}

/// The `kpi-definition` world.
pub mod kpi {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "kpi-definition",
        with: {
            "switchboard:rules/types": super::routing::switchboard::rules::types,
            "switchboard:rules/log": super::routing::switchboard::rules::log,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema],
    });
    pub use exports::switchboard::rules::kpi::*;
}

/// `switchboard:rules@0.1.0`, frozen in `wit/0.1.0/`. It differs from the
/// current version only in `routing-decision` (no `attributes`), so only
/// the routing world is generated: a 0.1.0 component of the other kinds is
/// called with the current Rust types, which the component model checks
/// structurally against the component's own (identical) types when it is
/// loaded.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "routing-policy",
        additional_derives: [PartialEq],
    });
    pub(crate) use self::switchboard::rules::log as log_iface;
    pub use exports::switchboard::rules::routing::*;
}

pub(crate) use routing::switchboard::rules::log as log_iface;
/// Types shared by every world (contacts, events, history, snapshots).
pub use routing::switchboard::rules::types;

/// A 0.1.0 routing decision is a current one without attributes.
impl From<v0_1::RoutingDecision> for routing::RoutingDecision {
    fn from(d: v0_1::RoutingDecision) -> Self {
        use routing::{PreferredAgent, RelaxationAction, RelaxationStep, SkillPreference};
        use v0_1::RelaxationAction as Old;
        let level = |l: v0_1::switchboard::rules::types::SkillLevel| types::SkillLevel {
            skill: l.skill,
            proficiency: l.proficiency,
        };
        Self {
            queue: d.queue,
            priority: d.priority,
            required_skills: d.required_skills.into_iter().map(level).collect(),
            preferred_skills: (d.preferred_skills.into_iter())
                .map(|p| SkillPreference {
                    skill: p.skill,
                    min_proficiency: p.min_proficiency,
                    weight: p.weight,
                })
                .collect(),
            team: d.team,
            language: d.language,
            preferred_agent: d.preferred_agent.map(|a| PreferredAgent {
                agent_id: a.agent_id,
                timeout_secs: a.timeout_secs,
            }),
            relaxation: (d.relaxation.into_iter())
                .map(|step| RelaxationStep {
                    after_secs: step.after_secs,
                    actions: (step.actions.into_iter())
                        .map(|a| match a {
                            Old::DropPreferredSkills => RelaxationAction::DropPreferredSkills,
                            Old::LowerProficiency(p) => RelaxationAction::LowerProficiency(p),
                            Old::DropRequiredSkill(s) => RelaxationAction::DropRequiredSkill(s),
                            Old::DropTeam => RelaxationAction::DropTeam,
                            Old::RaisePriority(p) => RelaxationAction::RaisePriority(p),
                            Old::Overflow(q) => RelaxationAction::Overflow(q),
                        })
                        .collect(),
                })
                .collect(),
            tags: d.tags,
            attributes: Vec::new(),
            reason: d.reason,
        }
    }
}
