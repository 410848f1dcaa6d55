//! A routing policy built against the frozen `switchboard:rules@0.1.0`
//! (`wit/0.1.0`), whose `routing-decision` has no `attributes`. It uses
//! every part of the 0.1.0 decision so the host's conversion to the current
//! version is checked field by field: skills, preferences, a preferred agent,
//! every relaxation action, tags, and a log line through `log@0.1.0`.
//!
//! Config: `{"queue": "<name>"}` (required).
//!
//! Only a wasm32 build has a body: built natively (as `cargo build --workspace`
//! does), the export names of 0.1.0 (`...routing@0.1.0#configure`) are not valid
//! symbols for the native linker, so the crate is empty there.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "routing-policy",
});

use std::cell::RefCell;

use exports::switchboard::rules::routing::{
    Guest, PreferredAgent, RelaxationAction, RelaxationStep, RoutingDecision, RoutingInput,
    SkillPreference,
};
use switchboard::rules::log::{Level, log};
use switchboard::rules::types::SkillLevel;

thread_local! {
    static QUEUE: RefCell<String> = const { RefCell::new(String::new()) };
}

struct Frozen;

impl Guest for Frozen {
    fn configure(config: String) -> Result<(), String> {
        // A tiny reader for {"queue": "..."}: no serde, to stay small.
        let queue = config
            .split("\"queue\"")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
            .ok_or_else(|| format!("config needs a \"queue\": {config}"))?;
        QUEUE.with(|q| *q.borrow_mut() = queue.to_owned());
        Ok(())
    }

    fn route(input: RoutingInput) -> Result<RoutingDecision, String> {
        let queue = QUEUE.with(|q| q.borrow().clone());
        log(
            Level::Info,
            &format!("0.1.0 policy routed {}", input.contact.id),
        );
        Ok(RoutingDecision {
            queue: queue.clone(),
            priority: 3 + input.contact.priority,
            required_skills: vec![SkillLevel {
                skill: "billing".into(),
                proficiency: 3,
            }],
            preferred_skills: vec![SkillPreference {
                skill: "retention".into(),
                min_proficiency: 2,
                weight: 5,
            }],
            team: Some("team-a".into()),
            language: Some(input.contact.language.clone()),
            preferred_agent: Some(PreferredAgent {
                agent_id: "a-1".into(),
                timeout_secs: 20,
            }),
            relaxation: vec![
                RelaxationStep {
                    after_secs: 30,
                    actions: vec![
                        RelaxationAction::DropPreferredSkills,
                        RelaxationAction::LowerProficiency(2),
                        RelaxationAction::DropTeam,
                    ],
                },
                RelaxationStep {
                    after_secs: 90,
                    actions: vec![
                        RelaxationAction::DropRequiredSkill("billing".into()),
                        RelaxationAction::RaisePriority(4),
                        RelaxationAction::Overflow("general".into()),
                    ],
                },
            ],
            tags: vec!["wit-0.1.0".into()],
            reason: format!("frozen 0.1.0 policy: {queue}"),
        })
    }
}

export!(Frozen);
