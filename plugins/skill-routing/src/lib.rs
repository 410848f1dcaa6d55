//! `skill-routing`: a configurable skill-based routing policy (seed article
//! 003, "skill-based routing").
//!
//! One decision per contact, built in this order (each step explained in the
//! decision's `reason`):
//!
//! 1. **queue**: an active incident the contact matches (`incident_queue`),
//!    else the first matching attribute rule with a queue
//!    (`attribute_rules`: IVR menu path, bot intent, authentication level,
//!    bot-collected data), else a chronic bug (`chronic_bugs.queue`), else a
//!    legacy customer
//!    (`legacy.queue`), else a repeat caller who has called too often
//!    (`repeat_callers.senior_queue`), else the most specific topic with a
//!    queue (`topic_queues`), else `default_queue`; then `busy_overflow` may
//!    move it to an overflow queue at once;
//! 2. **priority**: `base_priority` + tier bonus + topic bonus + repeat,
//!    chronic-bug, legacy and attribute-rule bonuses (saturating);
//! 3. **skills**: required skills of every topic (highest level wins),
//!    legacy skill and attribute rules' skills, raised by
//!    `proficiency_boost` for escalated repeat callers; preferred skills of
//!    every topic;
//! 4. **team** (group skills): the first matching attribute rule's team,
//!    senior team, chronic-bug team, legacy team or the topic's team, in
//!    that order;
//! 5. **language**, **preferred agent** (repeat callers' previous agent) and
//!    **relaxation** steps (per queue, else global);
//! 6. notes on what the snapshots say (nobody with a required skill free).
//!
//! See `docs/plugins/skill-routing.md` for the full reference.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_sdk::prelude::*;
use switchboard_sdk::routing::PreferredAgent;
use switchboard_sdk::types::{Incident, QueueStatus};

const DAY_MS: i64 = 86_400_000;

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
    /// Priority of every contact before the bonuses.
    #[serde(default = "default_base_priority")]
    pub base_priority: u32,
    /// Require an agent speaking the contact's language.
    #[serde(default)]
    pub require_language: bool,
    /// Steps applied while the contact waits (queues without their own).
    #[serde(default)]
    pub relaxation: Vec<RelaxationConfig>,
    /// Topic -> skills an agent must have for it.
    #[serde(default)]
    pub topic_skills: BTreeMap<String, Vec<SkillRequirement>>,
    /// How long a repeat caller is offered to their previous agent first.
    #[serde(default = "default_repeat_agent_timeout_secs")]
    pub repeat_agent_timeout_secs: u32,
    /// Topic -> priority bonus; the most specific topic with a bonus counts.
    #[serde(default)]
    pub topic_priority: BTreeMap<String, u32>,
    /// Topic -> skills used to rank the agents who qualify.
    #[serde(default)]
    pub topic_preferred_skills: BTreeMap<String, Vec<SkillPreferenceConfig>>,
    /// Topic -> team (group skills); the most specific topic with a team counts.
    #[serde(default)]
    pub topic_teams: BTreeMap<String, String>,
    /// Queue -> relaxation steps, replacing `relaxation` for that queue.
    #[serde(default)]
    pub queue_relaxation: BTreeMap<String, Vec<RelaxationConfig>>,
    /// Repeat callers: same customer, same topic within a window.
    #[serde(default)]
    pub repeat_callers: RepeatCallers,
    /// Customers who keep reporting a known bug.
    #[serde(default)]
    pub chronic_bugs: Option<ChronicBugs>,
    /// Customers of the legacy product.
    #[serde(default)]
    pub legacy: Option<Legacy>,
    /// Move a contact to an overflow queue at once when its queue is swamped.
    #[serde(default)]
    pub busy_overflow: Option<BusyOverflow>,
    /// Queue for contacts that match an active incident; none: incidents are ignored.
    #[serde(default)]
    pub incident_queue: Option<String>,
    /// Rules on contact attributes (IVR menu path, bot intent, auth level,
    /// bot-collected data), applied in order.
    #[serde(default)]
    pub attribute_rules: Vec<AttributeRule>,
}

fn default_base_priority() -> u32 {
    1
}

fn default_repeat_agent_timeout_secs() -> u32 {
    60
}

fn default_one() -> u32 {
    1
}

fn default_two() -> u32 {
    2
}

fn default_true() -> bool {
    true
}

fn default_boost() -> u8 {
    1
}

fn tag_repeat() -> String {
    "repeat".into()
}

fn tag_chronic() -> String {
    "chronic-bug".into()
}

fn tag_legacy() -> String {
    "legacy".into()
}

fn flags_chronic() -> Vec<String> {
    vec!["chronic-bug".into()]
}

fn flags_legacy() -> Vec<String> {
    vec!["legacy".into()]
}

/// One relaxation step: after `after_secs` of waiting, apply what is set,
/// in the order of the fields below.
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
    /// No longer require these skills.
    #[serde(default)]
    pub drop_required_skills: Vec<String>,
    /// No longer restrict to the decision's team.
    #[serde(default)]
    pub drop_team: bool,
    /// Add this much to the priority.
    #[serde(default)]
    pub raise_priority: Option<u32>,
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

/// A skill that ranks agents: `weight` counts when the agent has it at
/// `min_proficiency` or better.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillPreferenceConfig {
    /// Skill name.
    pub skill: String,
    /// Minimum proficiency, 1-5.
    #[serde(default = "default_one_u8")]
    pub min_proficiency: u8,
    /// How much having it counts.
    #[serde(default = "default_one")]
    pub weight: u32,
}

fn default_one_u8() -> u8 {
    1
}

/// Repeat callers (article 003: "repeat callers ... raise their call to a
/// higher-level technician").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatCallers {
    /// Only earlier contacts created at most this many days before `now`
    /// count; none: the host's whole history window (`same_topic_repeats`).
    #[serde(default)]
    pub window_days: Option<u32>,
    /// Earlier same-topic contacts needed to be a repeat caller.
    #[serde(default = "default_one")]
    pub min_repeats: u32,
    /// Offer repeat callers to the agent who handled them last.
    #[serde(default = "default_true")]
    pub prefer_last_agent: bool,
    /// Tag added to repeat callers.
    #[serde(default = "tag_repeat")]
    pub tag: String,
    /// Priority bonus for repeat callers.
    #[serde(default)]
    pub priority_bonus: u32,
    /// From this many earlier same-topic contacts on, route to a higher tier
    /// (senior team/queue, higher proficiency) instead of the last agent.
    #[serde(default)]
    pub escalate_after: Option<u32>,
    /// Team of higher-tier agents for escalated repeat callers.
    #[serde(default)]
    pub senior_team: Option<String>,
    /// Queue for escalated repeat callers.
    #[serde(default)]
    pub senior_queue: Option<String>,
    /// Added to every required proficiency of escalated repeat callers (capped at 5).
    #[serde(default = "default_boost")]
    pub proficiency_boost: u8,
}

impl Default for RepeatCallers {
    fn default() -> Self {
        RepeatCallers {
            window_days: None,
            min_repeats: 1,
            prefer_last_agent: true,
            tag: tag_repeat(),
            priority_bonus: 0,
            escalate_after: None,
            senior_team: None,
            senior_queue: None,
            proficiency_boost: 1,
        }
    }
}

/// Chronic bugs (article 003: route callers about a known, lasting problem
/// straight to the people who handle it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChronicBugs {
    /// Topics that are known bugs.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Topic prefixes that mark known bugs, e.g. `bug:`.
    #[serde(default)]
    pub topic_prefixes: Vec<String>,
    /// Customer flags (`history.flags`) that mark a chronic-bug reporter.
    #[serde(default = "flags_chronic")]
    pub flags: Vec<String>,
    /// Reports of the same known bug needed, this contact included.
    #[serde(default = "default_two")]
    pub min_reports: u32,
    /// Dedicated queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// Dedicated team.
    #[serde(default)]
    pub team: Option<String>,
    /// Priority bonus.
    #[serde(default)]
    pub priority_bonus: u32,
    /// Tag added to the contact.
    #[serde(default = "tag_chronic")]
    pub tag: String,
}

/// Legacy customers (article 003: flag them and route to staff dedicated to
/// the legacy system).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Legacy {
    /// Customer tiers that are legacy accounts.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Customer flags (`history.flags`) that mark a legacy customer.
    #[serde(default = "flags_legacy")]
    pub flags: Vec<String>,
    /// Contact attribute -> values that mark a legacy customer.
    #[serde(default)]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Dedicated queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// Team of staff flagged for the legacy product.
    #[serde(default)]
    pub team: Option<String>,
    /// Skill of staff flagged for the legacy product.
    #[serde(default)]
    pub required_skill: Option<SkillRequirement>,
    /// Priority bonus.
    #[serde(default)]
    pub priority_bonus: u32,
    /// Tag added to the contact.
    #[serde(default = "tag_legacy")]
    pub tag: String,
}

/// A rule on a contact attribute: it matches when the attribute equals one
/// of `values` (or, with `prefix`, starts with one), ignoring case, and
/// then contributes what is set. Queue and team: the first matching rule
/// that sets one wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeRule {
    /// The attribute, e.g. `auth.level`, `ivr.menu_path`, `bot.intent`,
    /// `collected.account_type`.
    pub attribute: String,
    /// Values that match.
    pub values: Vec<String>,
    /// Match the values as prefixes (`billing>` matches `billing>card>lost`).
    #[serde(default)]
    pub prefix: bool,
    /// Route to this queue (over the topic queue, not over an incident queue).
    #[serde(default)]
    pub queue: Option<String>,
    /// Priority bonus.
    #[serde(default)]
    pub priority_bonus: u32,
    /// A skill the agent must have.
    #[serde(default)]
    pub required_skill: Option<SkillRequirement>,
    /// Restrict to this team.
    #[serde(default)]
    pub team: Option<String>,
    /// Tag added to the contact.
    #[serde(default)]
    pub tag: Option<String>,
}

/// Overflow on arrival: when the chosen queue's snapshot meets any set
/// condition, route to `queue` at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusyOverflow {
    /// The overflow queue.
    pub queue: String,
    /// Overflow when this many contacts or more are waiting.
    #[serde(default)]
    pub max_waiting: Option<u32>,
    /// Overflow when the oldest waiting contact has waited this long or longer.
    #[serde(default)]
    pub max_oldest_wait_secs: Option<u32>,
    /// Overflow when the queue has no available agent.
    #[serde(default)]
    pub when_no_agents: bool,
}

/// The routing policy.
#[derive(Debug)]
pub struct SkillRouting {
    config: Config,
    /// Relaxation steps built once, ordered by `after_secs`.
    relaxation: Vec<RelaxationStep>,
    queue_relaxation: BTreeMap<String, Vec<RelaxationStep>>,
    /// The `values` of each attribute rule, trimmed and lower-cased once.
    attribute_values: Vec<Vec<String>>,
}

fn check_level(what: &str, level: u8) -> Result<(), String> {
    if (1..=5).contains(&level) {
        Ok(())
    } else {
        Err(format!("{what} must be 1-5, got {level}"))
    }
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err(format!("{what} must not be empty"))
    } else {
        Ok(())
    }
}

fn build_relaxation(steps: &[RelaxationConfig]) -> Result<Vec<RelaxationStep>, String> {
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        let mut actions = Vec::new();
        if step.drop_preferred_skills {
            actions.push(RelaxationAction::DropPreferredSkills);
        }
        if let Some(level) = step.lower_proficiency {
            check_level(
                &format!("relaxation after {}s: lower_proficiency", step.after_secs),
                level,
            )?;
            actions.push(RelaxationAction::LowerProficiency(level));
        }
        for skill in &step.drop_required_skills {
            check_name("relaxation drop_required_skills entries", skill)?;
            actions.push(RelaxationAction::DropRequiredSkill(skill.clone()));
        }
        if step.drop_team {
            actions.push(RelaxationAction::DropTeam);
        }
        if let Some(by) = step.raise_priority.filter(|by| *by > 0) {
            actions.push(RelaxationAction::RaisePriority(by));
        }
        if let Some(queue) = &step.overflow {
            check_name("relaxation overflow", queue)?;
            actions.push(RelaxationAction::Overflow(queue.clone()));
        }
        if actions.is_empty() {
            return Err(format!(
                "relaxation after {}s does nothing: set drop_preferred_skills, lower_proficiency, \
                 drop_required_skills, drop_team, raise_priority or overflow",
                step.after_secs
            ));
        }
        out.push(RelaxationStep {
            after_secs: step.after_secs,
            actions,
        });
    }
    // Stable: steps with equal times keep their configured order.
    out.sort_by_key(|s| s.after_secs);
    Ok(out)
}

impl RoutingPolicy for SkillRouting {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        check_name("default_queue", &config.default_queue)?;
        for (topic, skills) in &config.topic_skills {
            for s in skills {
                check_level(
                    &format!("topic_skills.{topic}: min_proficiency of {}", s.skill),
                    s.min_proficiency,
                )?;
            }
        }
        for (topic, skills) in &config.topic_preferred_skills {
            for s in skills {
                check_level(
                    &format!(
                        "topic_preferred_skills.{topic}: min_proficiency of {}",
                        s.skill
                    ),
                    s.min_proficiency,
                )?;
            }
        }
        for (topic, queue) in &config.topic_queues {
            check_name(&format!("topic_queues.{topic}"), queue)?;
        }
        for (topic, team) in &config.topic_teams {
            check_name(&format!("topic_teams.{topic}"), team)?;
        }
        let r = &config.repeat_callers;
        if r.min_repeats == 0 {
            return Err("repeat_callers.min_repeats must be at least 1".into());
        }
        if r.proficiency_boost > 4 {
            return Err(format!(
                "repeat_callers.proficiency_boost must be 0-4, got {}",
                r.proficiency_boost
            ));
        }
        if r.escalate_after == Some(0) {
            return Err("repeat_callers.escalate_after must be at least 1".into());
        }
        if let Some(c) = &config.chronic_bugs {
            if c.queue.is_none() && c.team.is_none() {
                return Err("chronic_bugs needs a queue or a team".into());
            }
            if c.min_reports == 0 {
                return Err("chronic_bugs.min_reports must be at least 1".into());
            }
        }
        if let Some(l) = &config.legacy {
            if l.queue.is_none() && l.team.is_none() && l.required_skill.is_none() {
                return Err("legacy needs a queue, a team or a required_skill".into());
            }
            if let Some(s) = &l.required_skill {
                check_level("legacy.required_skill.min_proficiency", s.min_proficiency)?;
            }
        }
        if let Some(b) = &config.busy_overflow {
            check_name("busy_overflow.queue", &b.queue)?;
            if b.max_waiting.is_none() && b.max_oldest_wait_secs.is_none() && !b.when_no_agents {
                return Err(
                    "busy_overflow needs max_waiting, max_oldest_wait_secs or when_no_agents"
                        .into(),
                );
            }
        }
        let attribute_values = config
            .attribute_rules
            .iter()
            .enumerate()
            .map(|(i, r)| check_attribute_rule(i, r))
            .collect::<Result<_, String>>()?;
        let relaxation = build_relaxation(&config.relaxation)?;
        let queue_relaxation = config
            .queue_relaxation
            .iter()
            .map(|(q, steps)| Ok((q.clone(), build_relaxation(steps)?)))
            .collect::<Result<_, String>>()?;
        Ok(SkillRouting {
            config,
            relaxation,
            queue_relaxation,
            attribute_values,
        })
    }

    fn route(&self, input: RoutingInput) -> Result<RoutingDecision, String> {
        let contact = &input.contact;
        let cfg = &self.config;
        let mut reasons: Vec<String> = Vec::new();
        let mut tags: Vec<String> = Vec::new();

        let incident = self.matching_incident(&input);
        let chronic = self.chronic_bug(&input);
        let legacy = self.legacy_reason(&input);
        let repeat = self.repeat_caller(&input);
        let escalated = repeat.as_ref().is_some_and(|r| r.escalated);
        let attributes = self.matching_attribute_rules(contact);
        // Queue and team: the first matching rule that sets one.
        let attribute_queue = attributes.iter().position(|(r, _)| r.queue.is_some());
        let attribute_team = attributes.iter().position(|(r, _)| r.team.is_some());
        // An attribute rule's queue takes the place of a chronic-bug or
        // legacy queue, whose reason then goes with the tag below.
        let attribute_queue_won = incident.is_none() && attribute_queue.is_some();

        // 1. Queue.
        let topic_queue = contact
            .topics
            .iter()
            .find_map(|t| cfg.topic_queues.get(t).map(|q| (t, q)));
        let mut queue = if let (Some(inc), Some(q)) = (&incident, &cfg.incident_queue) {
            reasons.push(format!("incident {} -> queue {q}", inc.id));
            q.clone()
        } else if let Some(q) = attribute_queue.and_then(|i| attributes[i].0.queue.as_ref()) {
            // Explained by the rule's part below.
            q.clone()
        } else if let (Some(why), Some(q)) = (
            &chronic,
            cfg.chronic_bugs.as_ref().and_then(|c| c.queue.as_ref()),
        ) {
            reasons.push(format!("{why} -> queue {q}"));
            q.clone()
        } else if let (Some(why), Some(q)) =
            (&legacy, cfg.legacy.as_ref().and_then(|l| l.queue.as_ref()))
        {
            reasons.push(format!("{why} -> queue {q}"));
            q.clone()
        } else if let (true, Some(q)) = (escalated, &cfg.repeat_callers.senior_queue) {
            reasons.push(format!("repeat caller escalated -> queue {q}"));
            q.clone()
        } else if let Some((topic, q)) = topic_queue {
            reasons.push(format!("topic {topic} -> queue {q}"));
            q.clone()
        } else {
            reasons.push(format!("no topic queue -> queue {}", cfg.default_queue));
            cfg.default_queue.clone()
        };
        if let Some(inc) = &incident
            && cfg.incident_queue.is_some()
        {
            add_tag(&mut tags, &format!("incident:{}", inc.id));
        }
        let mut attribute_bonus = 0u32;
        for (i, (rule, value)) in attributes.iter().enumerate() {
            let mut effects = Vec::new();
            if let Some(q) = &rule.queue {
                effects.push(match (&incident, attribute_queue) {
                    (Some(_), _) => format!("queue {q} not applied (incident queue)"),
                    (None, Some(first)) if first == i => format!("queue {q}"),
                    _ => format!("queue {q} not applied (queue {queue} from an earlier rule)"),
                });
            }
            if rule.priority_bonus > 0 {
                attribute_bonus = attribute_bonus.saturating_add(rule.priority_bonus);
                effects.push(format!("priority +{}", rule.priority_bonus));
            }
            if let Some(s) = &rule.required_skill {
                effects.push(format!("requires {}>={}", s.skill, s.min_proficiency));
            }
            if let Some(t) = &rule.team {
                effects.push(match attribute_team {
                    Some(first) if first == i => format!("team {t}"),
                    _ => format!("team {t} not applied (an earlier rule sets the team)"),
                });
            }
            if let Some(tag) = &rule.tag {
                add_tag(&mut tags, tag);
                effects.push(format!("tag {tag}"));
            }
            reasons.push(format!(
                "attribute {}={value} -> {}",
                rule.attribute,
                effects.join(", ")
            ));
        }

        // 2. Priority.
        let mut priority = cfg.base_priority;
        let tier_bonus = cfg
            .tier_priority
            .get(&contact.customer_tier)
            .copied()
            .unwrap_or(0);
        if tier_bonus > 0 {
            priority = priority.saturating_add(tier_bonus);
            reasons.push(format!("{} +{tier_bonus}", contact.customer_tier));
        }
        if let Some((topic, bonus)) = contact
            .topics
            .iter()
            .find_map(|t| cfg.topic_priority.get(t).map(|b| (t, *b)))
            .filter(|(_, b)| *b > 0)
        {
            priority = priority.saturating_add(bonus);
            reasons.push(format!("topic {topic} +{bonus}"));
        }
        if repeat.is_some() && cfg.repeat_callers.priority_bonus > 0 {
            let b = cfg.repeat_callers.priority_bonus;
            priority = priority.saturating_add(b);
            reasons.push(format!("repeat caller +{b}"));
        }
        if let (Some(_), Some(c)) = (&chronic, &cfg.chronic_bugs)
            && c.priority_bonus > 0
        {
            priority = priority.saturating_add(c.priority_bonus);
            reasons.push(format!("chronic bug +{}", c.priority_bonus));
        }
        if let (Some(_), Some(l)) = (&legacy, &cfg.legacy)
            && l.priority_bonus > 0
        {
            priority = priority.saturating_add(l.priority_bonus);
            reasons.push(format!("legacy +{}", l.priority_bonus));
        }
        // Explained by the attribute rules' parts.
        priority = priority.saturating_add(attribute_bonus);

        // 3. Skills.
        let mut required = self.required_skills(&contact.topics);
        if let (Some(_), Some(skill)) = (
            &legacy,
            cfg.legacy.as_ref().and_then(|l| l.required_skill.as_ref()),
        ) {
            merge_requirement(&mut required, &skill.skill, skill.min_proficiency);
        }
        for skill in attributes
            .iter()
            .filter_map(|(r, _)| r.required_skill.as_ref())
        {
            merge_requirement(&mut required, &skill.skill, skill.min_proficiency);
        }
        let boost = cfg.repeat_callers.proficiency_boost;
        if escalated && boost > 0 && !required.is_empty() {
            for s in &mut required {
                s.proficiency = s.proficiency.saturating_add(boost).min(5);
            }
            reasons.push(format!("repeat caller escalated -> proficiency +{boost}"));
        }
        if !required.is_empty() {
            let skills: Vec<String> = required
                .iter()
                .map(|s| format!("{}>={}", s.skill, s.proficiency))
                .collect();
            reasons.push(format!("requires {}", skills.join(", ")));
        }
        let preferred = self.preferred_skills(&contact.topics);
        if !preferred.is_empty() {
            let skills: Vec<String> = preferred
                .iter()
                .map(|s| format!("{}>={} (weight {})", s.skill, s.min_proficiency, s.weight))
                .collect();
            reasons.push(format!("prefers {}", skills.join(", ")));
        }

        // 4. Team.
        let team = if let Some(t) = attribute_team.and_then(|i| attributes[i].0.team.as_ref()) {
            // Explained by the rule's part.
            Some(t.clone())
        } else if let (true, Some(t)) = (escalated, &cfg.repeat_callers.senior_team) {
            reasons.push(format!("repeat caller escalated -> team {t}"));
            Some(t.clone())
        } else if let (Some(_), Some(t)) = (
            &chronic,
            cfg.chronic_bugs.as_ref().and_then(|c| c.team.as_ref()),
        ) {
            reasons.push(format!("chronic bug -> team {t}"));
            Some(t.clone())
        } else if let (Some(_), Some(t)) =
            (&legacy, cfg.legacy.as_ref().and_then(|l| l.team.as_ref()))
        {
            reasons.push(format!("legacy customer -> team {t}"));
            Some(t.clone())
        } else if let Some((topic, t)) = contact
            .topics
            .iter()
            .find_map(|t| cfg.topic_teams.get(t).map(|team| (t, team)))
        {
            reasons.push(format!("topic {topic} -> team {t}"));
            Some(t.clone())
        } else {
            None
        };

        // 5. Language, repeat callers, tags.
        let mut language = None;
        if cfg.require_language {
            if contact.language.trim().is_empty() {
                switchboard_sdk::log::warn!(
                    "contact {} has no language; not requiring one",
                    contact.id
                );
                reasons.push("no language on the contact, none required".into());
            } else {
                reasons.push(format!("language {} required", contact.language));
                language = Some(contact.language.clone());
            }
        }

        let mut preferred_agent = None;
        if let Some(r) = &repeat {
            add_tag(&mut tags, &cfg.repeat_callers.tag);
            if r.escalated {
                reasons.push(format!(
                    "repeat caller ({} same-topic contacts) -> higher tier",
                    r.count
                ));
            } else if !cfg.repeat_callers.prefer_last_agent {
                reasons.push(format!("repeat caller ({} same-topic contacts)", r.count));
            } else {
                match &r.last_agent {
                    Some(agent) => {
                        let timeout = cfg.repeat_agent_timeout_secs;
                        reasons.push(format!(
                            "repeat caller -> prefer agent {agent} for {timeout}s"
                        ));
                        preferred_agent = Some(PreferredAgent {
                            agent_id: agent.clone(),
                            timeout_secs: timeout,
                        });
                    }
                    None => reasons.push("repeat caller, previous agent unknown".into()),
                }
            }
        }
        if let (Some(why), Some(c)) = (&chronic, &cfg.chronic_bugs) {
            add_tag(&mut tags, &c.tag);
            if c.queue.is_none() || attribute_queue_won {
                reasons.push(why.clone());
            }
        }
        if let (Some(why), Some(l)) = (&legacy, &cfg.legacy) {
            add_tag(&mut tags, &l.tag);
            if l.queue.is_none() || attribute_queue_won {
                reasons.push(why.clone());
            }
        }

        // Overflow on arrival, then the queue's relaxation.
        if let Some(b) = &cfg.busy_overflow
            && let Some(status) = input.queues.iter().find(|q| q.name == queue)
            && let Some(why) = busy(b, status)
            && b.queue != queue
        {
            reasons.push(format!("queue {queue} {why} -> overflow to {}", b.queue));
            queue = b.queue.clone();
        }
        self.availability_notes(&input, &queue, &required, &mut reasons);
        let relaxation = self
            .queue_relaxation
            .get(&queue)
            .unwrap_or(&self.relaxation)
            .clone();

        Ok(RoutingDecision {
            queue,
            priority,
            required_skills: required,
            preferred_skills: preferred,
            team,
            language,
            preferred_agent,
            relaxation,
            tags,
            attributes: Vec::new(),
            reason: reasons.join("; "),
        })
    }
}

/// What the policy found out about a repeat caller.
struct Repeat {
    /// Earlier same-topic contacts in the window.
    count: u32,
    /// The agent to offer the contact to first.
    last_agent: Option<String>,
    /// Whether to route to a higher tier instead.
    escalated: bool,
}

fn add_tag(tags: &mut Vec<String>, t: &str) {
    if !t.is_empty() && !tags.iter().any(|x| x == t) {
        tags.push(t.to_string());
    }
}

fn shares_topic(a: &[String], b: &[String]) -> bool {
    a.iter().any(|t| b.contains(t))
}

fn merge_requirement(skills: &mut Vec<SkillLevel>, skill: &str, level: u8) {
    match skills.iter_mut().find(|s| s.skill == skill) {
        Some(existing) => existing.proficiency = existing.proficiency.max(level),
        None => skills.push(SkillLevel {
            skill: skill.to_string(),
            proficiency: level,
        }),
    }
}

/// Check attribute rule `i`; its values trimmed and lower-cased.
fn check_attribute_rule(i: usize, r: &AttributeRule) -> Result<Vec<String>, String> {
    let what = format!("attribute_rules[{i}]");
    check_name(&format!("{what}.attribute"), &r.attribute)?;
    if r.values.is_empty() {
        return Err(format!("{what} ({}) needs at least one value", r.attribute));
    }
    for v in &r.values {
        check_name(&format!("{what}.values entries"), v)?;
    }
    for (field, name) in [("queue", &r.queue), ("team", &r.team), ("tag", &r.tag)] {
        if let Some(name) = name {
            check_name(&format!("{what}.{field}"), name)?;
        }
    }
    if let Some(s) = &r.required_skill {
        check_name(&format!("{what}.required_skill.skill"), &s.skill)?;
        check_level(
            &format!("{what}.required_skill.min_proficiency"),
            s.min_proficiency,
        )?;
    }
    if r.queue.is_none()
        && r.priority_bonus == 0
        && r.required_skill.is_none()
        && r.team.is_none()
        && r.tag.is_none()
    {
        return Err(format!(
            "{what} ({}) does nothing: set queue, priority_bonus, required_skill, team or tag",
            r.attribute
        ));
    }
    Ok(r.values.iter().map(|v| v.trim().to_lowercase()).collect())
}

/// Why `status` meets a condition of `b`, if it does.
fn busy(b: &BusyOverflow, status: &QueueStatus) -> Option<String> {
    if b.when_no_agents && status.available_agents == 0 {
        return Some("has no available agent".into());
    }
    if let Some(max) = b.max_waiting.filter(|m| status.waiting >= *m) {
        return Some(format!("has {} waiting (max {max})", status.waiting));
    }
    if let Some(max) = b
        .max_oldest_wait_secs
        .filter(|m| status.oldest_wait_secs >= *m)
    {
        return Some(format!(
            "oldest wait {}s (max {max}s)",
            status.oldest_wait_secs
        ));
    }
    None
}

/// Lower-cased words of an incident match `text` (lower-cased) or one of
/// its products is a topic or the `product` attribute of the contact.
fn incident_matches(incident: &Incident, contact: &Contact, lowered_text: &str) -> bool {
    let keyword = incident.keywords.iter().any(|k| {
        let k = k.trim().to_lowercase();
        !k.is_empty() && lowered_text.contains(&k)
    });
    let product = incident.products.iter().any(|p| {
        contact.topics.iter().any(|t| t.eq_ignore_ascii_case(p))
            || contact
                .attribute("product")
                .is_some_and(|a| a.eq_ignore_ascii_case(p))
    });
    keyword || product
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
            merge_requirement(&mut skills, &req.skill, req.min_proficiency);
        }
        skills
    }

    /// The preferred skills of all topics; for a skill named twice the
    /// higher level and the higher weight win.
    fn preferred_skills(&self, topics: &[String]) -> Vec<SkillPreference> {
        let mut skills: Vec<SkillPreference> = Vec::new();
        for p in topics
            .iter()
            .filter_map(|t| self.config.topic_preferred_skills.get(t))
            .flatten()
        {
            match skills.iter_mut().find(|s| s.skill == p.skill) {
                Some(s) => {
                    s.min_proficiency = s.min_proficiency.max(p.min_proficiency);
                    s.weight = s.weight.max(p.weight);
                }
                None => skills.push(SkillPreference {
                    skill: p.skill.clone(),
                    min_proficiency: p.min_proficiency,
                    weight: p.weight,
                }),
            }
        }
        skills
    }

    /// The attribute rules the contact matches, in order, with the
    /// attribute's value as the contact has it.
    fn matching_attribute_rules<'a>(
        &'a self,
        contact: &'a Contact,
    ) -> Vec<(&'a AttributeRule, &'a str)> {
        self.config
            .attribute_rules
            .iter()
            .zip(&self.attribute_values)
            .filter_map(|(rule, values)| {
                let value = contact.attribute(&rule.attribute)?;
                let v = value.trim().to_lowercase();
                let hit = values.iter().any(|x| {
                    if rule.prefix {
                        v.starts_with(x.as_str())
                    } else {
                        &v == x
                    }
                });
                hit.then_some((rule, value))
            })
            .collect()
    }

    /// The first active incident the contact matches, when incidents route.
    fn matching_incident<'a>(&self, input: &'a RoutingInput) -> Option<&'a Incident> {
        self.config.incident_queue.as_ref()?;
        let text = input.contact.text.to_lowercase();
        input
            .incidents
            .iter()
            .find(|i| incident_matches(i, &input.contact, &text))
    }

    fn repeat_caller(&self, input: &RoutingInput) -> Option<Repeat> {
        let r = &self.config.repeat_callers;
        let h = &input.history;
        let topics = &input.contact.topics;
        let within = |created_at: i64| match r.window_days {
            // A contact from the future (clock skew) is as recent as can be.
            Some(days) => input.now.saturating_sub(created_at) <= i64::from(days) * DAY_MS,
            None => true,
        };
        let same_topic = h
            .recent
            .iter()
            .filter(|p| p.id != input.contact.id && shares_topic(&p.topics, topics))
            .filter(|p| within(p.created_at));
        let count = match r.window_days {
            Some(days) if days < h.window_days => {
                u32::try_from(same_topic.clone().count()).unwrap_or(u32::MAX)
            }
            _ => h.same_topic_repeats,
        };
        if count < r.min_repeats {
            return None;
        }
        let last_agent = same_topic
            .clone()
            .find_map(|p| p.agent_id.clone())
            .or_else(|| h.last_agent.clone());
        let escalated = r.escalate_after.is_some_and(|n| count >= n);
        Some(Repeat {
            count,
            last_agent,
            escalated,
        })
    }

    /// Why the contact is a chronic-bug reporter, if it is.
    fn chronic_bug(&self, input: &RoutingInput) -> Option<String> {
        let c = self.config.chronic_bugs.as_ref()?;
        if let Some(flag) = input.history.flags.iter().find(|f| c.flags.contains(f)) {
            return Some(format!("customer flagged {flag}"));
        }
        for topic in &input.contact.topics {
            let known = c.topics.contains(topic)
                || c.topic_prefixes
                    .iter()
                    .any(|p| !p.is_empty() && topic.starts_with(p.as_str()));
            if !known {
                continue;
            }
            let earlier = input
                .history
                .topic_counts
                .iter()
                .find(|tc| &tc.topic == topic)
                .map_or(0, |tc| tc.count);
            let reports = earlier.saturating_add(1);
            if reports >= c.min_reports {
                return Some(format!("chronic bug {topic} reported {reports} times"));
            }
        }
        None
    }

    /// Why the contact is a legacy customer, if it is.
    fn legacy_reason(&self, input: &RoutingInput) -> Option<String> {
        let l = self.config.legacy.as_ref()?;
        let contact = &input.contact;
        if l.tiers.contains(&contact.customer_tier) {
            return Some(format!("legacy tier {}", contact.customer_tier));
        }
        if let Some(flag) = input.history.flags.iter().find(|f| l.flags.contains(f)) {
            return Some(format!("legacy customer (flag {flag})"));
        }
        for (key, values) in &l.attributes {
            if let Some(v) = contact
                .attribute(key)
                .filter(|v| values.iter().any(|x| x == v))
            {
                return Some(format!("legacy customer ({key}={v})"));
            }
        }
        None
    }

    /// Notes for the reason when the snapshots say nobody can take the
    /// contact now. Empty snapshots mean "unknown" and add nothing.
    fn availability_notes(
        &self,
        input: &RoutingInput,
        queue: &str,
        required: &[SkillLevel],
        reasons: &mut Vec<String>,
    ) {
        if let Some(q) = input.queues.iter().find(|q| q.name == queue)
            && q.available_agents == 0
        {
            reasons.push(format!(
                "queue {queue}: no agent available now, {} waiting",
                q.waiting
            ));
        }
        if input.skills.is_empty() {
            return;
        }
        for req in required {
            let free = input
                .skills
                .iter()
                .find(|s| s.skill == req.skill)
                .filter(|s| s.available_agents > 0 && s.best_proficiency >= req.proficiency);
            if free.is_none() {
                reasons.push(format!(
                    "no {}>={} agent available now",
                    req.skill, req.proficiency
                ));
            }
        }
    }
}

switchboard_sdk::export_routing_policy!(SkillRouting);

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
