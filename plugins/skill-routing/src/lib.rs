//! `skill-routing`: a configurable skill-based routing policy.
//!
//! Queue by the contact's most specific topic that has a queue (else the
//! default queue), required skills from the topics, an optional language
//! requirement, a priority bonus per customer tier, the previous agent first
//! for repeat callers, and relaxation steps while the contact waits. The
//! decision's `reason` explains each part. See README.md for the config.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_sdk::prelude::*;
use switchboard_sdk::routing::PreferredAgent;

/// The plugin configuration; `manifest.json` holds its JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Queue for contacts whose topics have no queue of their own.
    pub default_queue: String,
    /// Topic -> queue.
    #[serde(default)]
    pub topic_queues: BTreeMap<String, String>,
    /// Customer tier -> priority bonus added to `base_priority`.
    #[serde(default)]
    pub tier_priority: BTreeMap<String, u32>,
    /// Priority of every contact before the tier bonus.
    #[serde(default = "default_base_priority")]
    pub base_priority: u32,
    /// Require an agent speaking the contact's language.
    #[serde(default)]
    pub require_language: bool,
    /// Steps applied while the contact waits.
    #[serde(default)]
    pub relaxation: Vec<RelaxationConfig>,
    /// Topic -> skills an agent must have for it.
    #[serde(default)]
    pub topic_skills: BTreeMap<String, Vec<SkillRequirement>>,
    /// How long a repeat caller is offered to their previous agent first.
    #[serde(default = "default_repeat_agent_timeout_secs")]
    pub repeat_agent_timeout_secs: u32,
}

fn default_base_priority() -> u32 {
    1
}

fn default_repeat_agent_timeout_secs() -> u32 {
    60
}

/// One relaxation step: after `after_secs` of waiting, apply what is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaxationConfig {
    /// Seconds of waiting before the step applies.
    pub after_secs: u32,
    /// Stop ranking by preferred skills.
    #[serde(default)]
    pub drop_preferred_skills: bool,
    /// Cap every required skill's minimum proficiency at this level (1-5).
    #[serde(default)]
    pub lower_proficiency: Option<u8>,
    /// Move the contact to this queue.
    #[serde(default)]
    pub overflow: Option<String>,
}

/// A skill an agent must have, at least at `min_proficiency` (1-5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillRequirement {
    /// Skill name, as agents' skills are named.
    pub skill: String,
    /// Minimum proficiency, 1 (novice) to 5 (expert).
    pub min_proficiency: u8,
}

/// The routing policy.
#[derive(Debug)]
pub struct SkillRouting {
    config: Config,
    /// Relaxation steps built once, ordered by `after_secs`.
    relaxation: Vec<RelaxationStep>,
}

impl RoutingPolicy for SkillRouting {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.default_queue.trim().is_empty() {
            return Err("default_queue must not be empty".into());
        }
        for (topic, skills) in &config.topic_skills {
            for s in skills {
                if !(1..=5).contains(&s.min_proficiency) {
                    return Err(format!(
                        "topic_skills.{topic}: min_proficiency of {} must be 1-5, got {}",
                        s.skill, s.min_proficiency
                    ));
                }
            }
        }
        let mut relaxation = Vec::with_capacity(config.relaxation.len());
        for step in &config.relaxation {
            let mut actions = Vec::new();
            if step.drop_preferred_skills {
                actions.push(RelaxationAction::DropPreferredSkills);
            }
            if let Some(level) = step.lower_proficiency {
                if !(1..=5).contains(&level) {
                    return Err(format!(
                        "relaxation after {}s: lower_proficiency must be 1-5, got {level}",
                        step.after_secs
                    ));
                }
                actions.push(RelaxationAction::LowerProficiency(level));
            }
            if let Some(queue) = &step.overflow {
                actions.push(RelaxationAction::Overflow(queue.clone()));
            }
            if actions.is_empty() {
                return Err(format!(
                    "relaxation after {}s does nothing: set drop_preferred_skills, lower_proficiency or overflow",
                    step.after_secs
                ));
            }
            relaxation.push(RelaxationStep {
                after_secs: step.after_secs,
                actions,
            });
        }
        // Stable: steps with equal times keep their configured order.
        relaxation.sort_by_key(|s| s.after_secs);
        Ok(SkillRouting { config, relaxation })
    }

    fn route(&self, input: RoutingInput) -> Result<RoutingDecision, String> {
        let contact = &input.contact;
        let mut reasons = Vec::new();

        // Topics are most specific first: the first one with a queue wins.
        let topic_queue = contact
            .topics
            .iter()
            .find_map(|t| self.config.topic_queues.get(t).map(|q| (t, q)));
        let queue = match topic_queue {
            Some((topic, queue)) => {
                reasons.push(format!("topic {topic} -> queue {queue}"));
                queue.clone()
            }
            None => {
                reasons.push(format!(
                    "no topic queue -> queue {}",
                    self.config.default_queue
                ));
                self.config.default_queue.clone()
            }
        };

        let bonus = self
            .config
            .tier_priority
            .get(&contact.customer_tier)
            .copied()
            .unwrap_or(0);
        let priority = self.config.base_priority.saturating_add(bonus);
        if bonus > 0 {
            reasons.push(format!("{} +{bonus}", contact.customer_tier));
        }

        let mut decision = RoutingDecision::to_queue(queue, priority);
        decision.required_skills = self.required_skills(&contact.topics);
        if !decision.required_skills.is_empty() {
            let skills: Vec<String> = decision
                .required_skills
                .iter()
                .map(|s| format!("{}>={}", s.skill, s.proficiency))
                .collect();
            reasons.push(format!("requires {}", skills.join(", ")));
        }

        if self.config.require_language {
            if contact.language.is_empty() {
                switchboard_sdk::log::warn!(
                    "contact {} has no language; not requiring one",
                    contact.id
                );
            } else {
                reasons.push(format!("language {} required", contact.language));
                decision.language = Some(contact.language.clone());
            }
        }

        if input.history.same_topic_repeats > 0 {
            decision.tags.push("repeat".into());
            match &input.history.last_agent {
                Some(agent) => {
                    let timeout = self.config.repeat_agent_timeout_secs;
                    reasons.push(format!(
                        "repeat caller -> prefer agent {agent} for {timeout}s"
                    ));
                    decision.preferred_agent = Some(PreferredAgent {
                        agent_id: agent.clone(),
                        timeout_secs: timeout,
                    });
                }
                None => reasons.push("repeat caller, previous agent unknown".into()),
            }
        }

        decision.relaxation = self.relaxation.clone();
        decision.reason = reasons.join("; ");
        Ok(decision)
    }
}

impl SkillRouting {
    /// The skills of all the contact's topics; a skill named by several
    /// topics needs the highest of their levels.
    fn required_skills(&self, topics: &[String]) -> Vec<SkillLevel> {
        let mut skills: Vec<SkillLevel> = Vec::new();
        for req in topics
            .iter()
            .filter_map(|t| self.config.topic_skills.get(t))
            .flatten()
        {
            match skills.iter_mut().find(|s| s.skill == req.skill) {
                Some(existing) => {
                    existing.proficiency = existing.proficiency.max(req.min_proficiency)
                }
                None => skills.push(SkillLevel {
                    skill: req.skill.clone(),
                    proficiency: req.min_proficiency,
                }),
            }
        }
        skills
    }
}

switchboard_sdk::export_routing_policy!(SkillRouting);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use switchboard_sdk::testing;

    const MANIFEST: &str = include_str!("../manifest.json");

    fn policy() -> SkillRouting {
        let config: Config = testing::default_config_from_manifest(MANIFEST).unwrap();
        SkillRouting::new(config).unwrap()
    }

    fn chat(topics: &[&str], tier: &str) -> Contact {
        let mut c = testing::contact("c-1", Channel::Chat);
        c.topics = topics.iter().map(|t| t.to_string()).collect();
        c.customer_tier = tier.into();
        c.language = "ko".into();
        c
    }

    #[test]
    fn manifest_default_config_parses_and_builds() {
        let p = policy();
        assert_eq!(p.config.default_queue, "general");
        assert!(!p.relaxation.is_empty());
    }

    #[test]
    fn vip_billing_repeat_caller_gets_everything_explained() {
        let mut input = testing::routing_input(chat(&["billing"], "vip"));
        input.history.same_topic_repeats = 2;
        input.history.last_agent = Some("a7".into());
        let d = policy().route(input).unwrap();
        assert_eq!(d.queue, "billing");
        assert_eq!(d.priority, 11);
        assert_eq!(d.language.as_deref(), Some("ko"));
        assert_eq!(
            d.required_skills,
            vec![SkillLevel {
                skill: "billing".into(),
                proficiency: 3
            }]
        );
        assert_eq!(
            d.preferred_agent,
            Some(PreferredAgent {
                agent_id: "a7".into(),
                timeout_secs: 60
            })
        );
        assert_eq!(d.tags, vec!["repeat".to_string()]);
        assert_eq!(
            d.reason,
            "topic billing -> queue billing; vip +10; requires billing>=3; \
             language ko required; repeat caller -> prefer agent a7 for 60s"
        );
    }

    #[test]
    fn unknown_topic_goes_to_default_queue_at_base_priority() {
        let d = policy()
            .route(testing::routing_input(chat(&["weather"], "standard")))
            .unwrap();
        assert_eq!(d.queue, "general");
        assert_eq!(d.priority, 1);
        assert!(d.required_skills.is_empty());
        assert!(d.preferred_agent.is_none());
        assert!(d.tags.is_empty());
        assert!(
            d.reason.starts_with("no topic queue -> queue general"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn most_specific_topic_with_a_queue_wins_and_skills_merge() {
        let d = policy()
            .route(testing::routing_input(chat(
                &["refund", "technical", "billing"],
                "gold",
            )))
            .unwrap();
        // "refund" has no queue, "technical" is the next most specific.
        assert_eq!(d.queue, "tech-support");
        assert_eq!(d.priority, 6);
        let names: Vec<&str> = d.required_skills.iter().map(|s| s.skill.as_str()).collect();
        assert_eq!(names, ["technical", "billing"]);
    }

    #[test]
    fn same_skill_from_two_topics_needs_the_higher_level() {
        let mut config: Config = testing::default_config_from_manifest(MANIFEST).unwrap();
        config.topic_skills.insert(
            "refund".into(),
            vec![SkillRequirement {
                skill: "billing".into(),
                min_proficiency: 4,
            }],
        );
        let d = SkillRouting::new(config)
            .unwrap()
            .route(testing::routing_input(chat(
                &["billing", "refund"],
                "standard",
            )))
            .unwrap();
        assert_eq!(d.required_skills.len(), 1);
        assert_eq!(d.required_skills[0].proficiency, 4);
    }

    #[test]
    fn repeat_without_known_agent_is_tagged_but_not_pinned() {
        let mut input = testing::routing_input(chat(&["billing"], "standard"));
        input.history.same_topic_repeats = 1;
        let d = policy().route(input).unwrap();
        assert_eq!(d.tags, vec!["repeat".to_string()]);
        assert!(d.preferred_agent.is_none());
    }

    #[test]
    fn language_not_required_unless_configured() {
        let mut config: Config = testing::default_config_from_manifest(MANIFEST).unwrap();
        config.require_language = false;
        let d = SkillRouting::new(config)
            .unwrap()
            .route(testing::routing_input(chat(&[], "standard")))
            .unwrap();
        assert_eq!(d.language, None);
    }

    #[test]
    fn relaxation_steps_are_sorted_and_translated() {
        let config: Config = serde_json::from_str(
            r#"{"default_queue": "general", "relaxation": [
                {"after_secs": 300, "overflow": "general"},
                {"after_secs": 30, "drop_preferred_skills": true, "lower_proficiency": 2}
            ]}"#,
        )
        .unwrap();
        let d = SkillRouting::new(config)
            .unwrap()
            .route(testing::routing_input(chat(&[], "standard")))
            .unwrap();
        assert_eq!(
            d.relaxation,
            vec![
                RelaxationStep {
                    after_secs: 30,
                    actions: vec![
                        RelaxationAction::DropPreferredSkills,
                        RelaxationAction::LowerProficiency(2)
                    ]
                },
                RelaxationStep {
                    after_secs: 300,
                    actions: vec![RelaxationAction::Overflow("general".into())]
                },
            ]
        );
    }

    #[test]
    fn bad_configs_are_rejected_with_the_reason() {
        let parse = |json: &str| {
            testing::parse_config::<Config>("skill-routing", json)
                .and_then(SkillRouting::new)
                .unwrap_err()
        };
        assert_eq!(
            parse("{}"),
            "skill-routing: invalid configuration: missing field `default_queue` at line 1 column 2"
        );
        assert!(parse(r#"{"default_queue":"g","typo":1}"#).contains("unknown field `typo`"));
        assert!(parse(r#"{"default_queue":" "}"#).contains("default_queue must not be empty"));
        assert!(
            parse(r#"{"default_queue":"g","relaxation":[{"after_secs":5}]}"#)
                .contains("relaxation after 5s does nothing")
        );
        assert!(
            parse(
                r#"{"default_queue":"g","topic_skills":{"x":[{"skill":"x","min_proficiency":9}]}}"#
            )
            .contains("must be 1-5")
        );
    }

    #[test]
    fn priority_saturates_instead_of_overflowing() {
        let config: Config = serde_json::from_str(
            r#"{"default_queue": "g", "base_priority": 4294967295, "tier_priority": {"vip": 10}}"#,
        )
        .unwrap();
        let d = SkillRouting::new(config)
            .unwrap()
            .route(testing::routing_input(chat(&[], "vip")))
            .unwrap();
        assert_eq!(d.priority, u32::MAX);
    }
}
