//! Matching a waiting contact to an agent: required skills and proficiency,
//! language, team, free capacity on the channel, a preferred agent with a
//! timeout, ranking by preferred skills and then the queue's selection
//! strategy, and the relaxation steps that loosen all this as the contact
//! waits. Pure: the engine calls it with a snapshot and applies the result.

use serde::{Deserialize, Serialize};

use super::{Agent, Channel, SelectionStrategy};

/// A skill the agent must have, at least at `min`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequiredSkill {
    pub skill: String,
    pub min: u8,
}

/// A skill that ranks agents who qualify; higher weight counts more.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreferredSkill {
    pub skill: String,
    pub min: u8,
    pub weight: u32,
}

/// One loosening of the requirements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Relaxation {
    DropPreferredSkills,
    /// Cap every required minimum at this level.
    LowerProficiency(u8),
    DropRequiredSkill(String),
    DropTeam,
    RaisePriority(u32),
    Overflow(String),
}

/// After `after_secs` of waiting, apply `actions`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RelaxationStep {
    pub after_secs: u32,
    pub actions: Vec<Relaxation>,
}

/// What a routing decision asks of the agent who gets the contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Requirements {
    pub queue: String,
    pub priority: u32,
    pub required: Vec<RequiredSkill>,
    pub preferred: Vec<PreferredSkill>,
    pub team: Option<String>,
    pub language: Option<String>,
    /// Offer to this agent only, for this many seconds.
    pub preferred_agent: Option<(String, u32)>,
    pub relaxation: Vec<RelaxationStep>,
}

impl Requirements {
    /// The requirements in force after waiting `waited_secs`: every step
    /// whose time has come applied in order.
    pub fn after(&self, waited_secs: u32) -> Requirements {
        let mut r = self.clone();
        let mut steps: Vec<&RelaxationStep> = self
            .relaxation
            .iter()
            .filter(|s| s.after_secs <= waited_secs)
            .collect();
        steps.sort_by_key(|s| s.after_secs);
        for action in steps.iter().flat_map(|s| &s.actions) {
            match action {
                Relaxation::DropPreferredSkills => r.preferred.clear(),
                Relaxation::LowerProficiency(level) => {
                    for s in &mut r.required {
                        s.min = s.min.min(*level);
                    }
                }
                Relaxation::DropRequiredSkill(skill) => r.required.retain(|s| &s.skill != skill),
                Relaxation::DropTeam => r.team = None,
                Relaxation::RaisePriority(by) => {
                    r.priority = r
                        .priority
                        .saturating_add(*by)
                        .min(super::bounds::MAX_PRIORITY);
                }
                Relaxation::Overflow(queue) => r.queue = queue.clone(),
            }
        }
        r.relaxation.clear();
        r
    }

    /// Whether `agent` could take a contact on `channel` under these
    /// requirements right now (ignoring the preferred agent).
    pub fn qualifies(&self, agent: &Agent, channel: Channel) -> bool {
        agent.status.accepts_contacts()
            && agent.spare(channel) > 0
            && self
                .required
                .iter()
                .all(|s| agent.proficiency(&s.skill) >= s.min)
            && self.language.as_deref().is_none_or(|l| agent.speaks(l))
            && self
                .team
                .as_deref()
                .is_none_or(|t| agent.teams.iter().any(|x| x == t))
    }

    /// Sum of the weights of the preferred skills the agent has.
    pub fn preference_score(&self, agent: &Agent) -> u64 {
        self.preferred
            .iter()
            .filter(|p| agent.proficiency(&p.skill) >= p.min)
            .map(|p| u64::from(p.weight))
            .sum()
    }

    /// Share of required skills (and the language) the agent matches at the
    /// requested level, before relaxation: the skill-match rate of a match.
    pub fn skill_match(&self, agent: &Agent) -> f64 {
        let total = self.required.len() + usize::from(self.language.is_some());
        if total == 0 {
            return 1.0;
        }
        let hits = self
            .required
            .iter()
            .filter(|s| agent.proficiency(&s.skill) >= s.min)
            .count()
            + usize::from(self.language.as_deref().is_some_and(|l| agent.speaks(l)));
        hits as f64 / total as f64
    }
}

/// The agent chosen for a contact, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Match {
    pub agent_id: String,
    pub preference_score: u64,
    /// Whether this was the decision's preferred agent.
    pub preferred_agent: bool,
}

/// Choose an agent for a contact on `channel` that has waited `waited_secs`
/// under `requirements` (relaxation applied here). `rotation` is the queue's
/// round-robin position, advanced when that strategy picks.
pub fn select_agent(
    requirements: &Requirements,
    channel: Channel,
    waited_secs: u32,
    agents: &[Agent],
    strategy: SelectionStrategy,
    rotation: &mut usize,
) -> Option<Match> {
    let req = requirements.after(waited_secs);
    if let Some((preferred, timeout)) = &requirements.preferred_agent
        && waited_secs < *timeout
    {
        // Only the preferred agent, until the timeout.
        return agents
            .iter()
            .find(|a| &a.id == preferred && req.qualifies(a, channel))
            .map(|a| Match {
                agent_id: a.id.clone(),
                preference_score: req.preference_score(a),
                preferred_agent: true,
            });
    }
    let mut candidates: Vec<(usize, &Agent)> = agents
        .iter()
        .enumerate()
        .filter(|(_, a)| req.qualifies(a, channel))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let best_score = candidates
        .iter()
        .map(|(_, a)| req.preference_score(a))
        .max()
        .unwrap_or(0);
    candidates.retain(|(_, a)| req.preference_score(a) == best_score);
    let chosen = match strategy {
        SelectionStrategy::LongestIdle => candidates.iter().min_by(|x, y| {
            x.1.idle_since
                .cmp(&y.1.idle_since)
                .then(x.1.id.cmp(&y.1.id))
        }),
        SelectionStrategy::LeastOccupied => candidates.iter().min_by(|x, y| {
            x.1.occupancy()
                .total_cmp(&y.1.occupancy())
                .then(x.1.id.cmp(&y.1.id))
        }),
        SelectionStrategy::MostSkilled => candidates.iter().max_by(|x, y| {
            let skill = |a: &Agent| -> u32 {
                req.required
                    .iter()
                    .map(|s| u32::from(a.proficiency(&s.skill)))
                    .sum()
            };
            skill(x.1).cmp(&skill(y.1)).then(y.1.id.cmp(&x.1.id))
        }),
        SelectionStrategy::RoundRobin => {
            // The first candidate at or after the rotation point, wrapping.
            let n = agents.len().max(1);
            let start = *rotation % n;
            let pick = candidates.iter().min_by_key(|(i, _)| (i + n - start) % n);
            if let Some((i, _)) = pick {
                *rotation = (i + 1) % n;
            }
            pick
        }
    }?;
    Some(Match {
        agent_id: chosen.1.id.clone(),
        preference_score: best_score,
        preferred_agent: false,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::AgentStatus;

    fn agent(id: &str, skills: &[(&str, u8)], idle_since: i64) -> Agent {
        Agent {
            id: id.into(),
            name: String::new(),
            skills: skills.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
            languages: vec!["en".into()],
            teams: vec![],
            capacity: BTreeMap::from([(Channel::Voice, 1), (Channel::Chat, 3)]),
            status: AgentStatus::Available,
            load: BTreeMap::new(),
            idle_since,
            status_since: 0,
            period_since: 0,
        }
    }

    fn billing(min: u8) -> Requirements {
        Requirements {
            queue: "billing".into(),
            required: vec![RequiredSkill {
                skill: "billing".into(),
                min,
            }],
            ..Requirements::default()
        }
    }

    fn pick(req: &Requirements, waited: u32, agents: &[Agent]) -> Option<String> {
        select_agent(
            req,
            Channel::Chat,
            waited,
            agents,
            SelectionStrategy::LongestIdle,
            &mut 0,
        )
        .map(|m| m.agent_id)
    }

    #[test]
    fn required_skill_and_proficiency_threshold_are_enforced() {
        let agents = [
            agent("novice", &[("billing", 2)], 0),
            agent("expert", &[("billing", 4)], 100),
        ];
        assert_eq!(pick(&billing(3), 0, &agents).as_deref(), Some("expert"));
        assert_eq!(pick(&billing(5), 0, &agents), None, "nobody at level 5");
        let agents = [agent("tech", &[("technical", 5)], 0)];
        assert_eq!(
            pick(&billing(1), 0, &agents),
            None,
            "a missing skill never matches"
        );
    }

    #[test]
    fn preferred_skills_rank_before_the_selection_strategy() {
        let mut req = billing(1);
        req.preferred = vec![PreferredSkill {
            skill: "spanish".into(),
            min: 3,
            weight: 10,
        }];
        // "idle" has been idle longest, but "bilingual" has the preferred skill.
        let agents = [
            agent("idle", &[("billing", 3)], 0),
            agent("bilingual", &[("billing", 3), ("spanish", 4)], 500),
        ];
        assert_eq!(pick(&req, 0, &agents).as_deref(), Some("bilingual"));
    }

    #[test]
    fn language_must_match() {
        let mut req = billing(1);
        req.language = Some("ko".into());
        let mut korean = agent("ko-agent", &[("billing", 3)], 50);
        korean.languages = vec!["ko-KR".into()];
        let agents = [agent("en-agent", &[("billing", 3)], 0), korean];
        assert_eq!(pick(&req, 0, &agents).as_deref(), Some("ko-agent"));
        req.language = Some("fr".into());
        assert_eq!(pick(&req, 0, &agents), None);
    }

    #[test]
    fn relaxation_lowers_proficiency_drops_preferences_and_overflows_over_time() {
        let mut req = billing(4);
        req.relaxation = vec![
            RelaxationStep {
                after_secs: 300,
                actions: vec![Relaxation::Overflow("general".into())],
            },
            RelaxationStep {
                after_secs: 90,
                actions: vec![
                    Relaxation::LowerProficiency(2),
                    Relaxation::RaisePriority(5),
                ],
            },
        ];
        let agents = [agent("junior", &[("billing", 2)], 0)];
        assert_eq!(
            pick(&req, 89, &agents),
            None,
            "before 90 s level 4 is required"
        );
        assert_eq!(pick(&req, 90, &agents).as_deref(), Some("junior"));
        let at_90 = req.after(90);
        assert_eq!((at_90.queue.as_str(), at_90.priority), ("billing", 5));
        assert_eq!(req.after(300).queue, "general");
    }

    #[test]
    fn preferred_agent_is_waited_for_until_the_timeout() {
        let mut req = billing(1);
        req.preferred_agent = Some(("last".into(), 60));
        let mut last = agent("last", &[("billing", 3)], 900);
        last.status = AgentStatus::Break;
        let agents = [agent("other", &[("billing", 3)], 0), last.clone()];
        assert_eq!(
            pick(&req, 10, &agents),
            None,
            "hold for the preferred agent"
        );
        assert_eq!(
            pick(&req, 60, &agents).as_deref(),
            Some("other"),
            "then anyone"
        );
        last.status = AgentStatus::Available;
        let agents = [agent("other", &[("billing", 3)], 0), last];
        let m = select_agent(
            &req,
            Channel::Chat,
            5,
            &agents,
            SelectionStrategy::LongestIdle,
            &mut 0,
        )
        .unwrap();
        assert_eq!(m.agent_id, "last");
        assert!(m.preferred_agent);
    }

    #[test]
    fn capacity_per_channel_is_never_exceeded() {
        let mut agents = vec![
            agent("a", &[("billing", 3)], 0),
            agent("b", &[("billing", 3)], 1),
        ];
        let req = billing(1);
        let mut assigned = 0;
        while let Some(m) = select_agent(
            &req,
            Channel::Chat,
            0,
            &agents,
            SelectionStrategy::LeastOccupied,
            &mut 0,
        ) {
            let a = agents.iter_mut().find(|a| a.id == m.agent_id).unwrap();
            *a.load.entry(Channel::Chat).or_default() += 1;
            a.status = AgentStatus::Busy;
            assigned += 1;
            assert!(assigned <= 6, "more chats than capacity");
        }
        assert_eq!(assigned, 6, "3 chats each");
        for a in &agents {
            assert_eq!(a.load[&Channel::Chat], 3);
        }
        assert!(
            select_agent(
                &req,
                Channel::Voice,
                0,
                &agents,
                SelectionStrategy::LongestIdle,
                &mut 0
            )
            .is_some(),
            "voice capacity is separate"
        );
    }

    #[test]
    fn statuses_that_take_no_contacts_are_skipped() {
        for status in [
            AgentStatus::Offline,
            AgentStatus::Break,
            AgentStatus::WrapUp,
        ] {
            let mut a = agent("a", &[("billing", 3)], 0);
            a.status = status;
            assert_eq!(pick(&billing(1), 0, &[a]), None, "{status:?}");
        }
    }

    #[test]
    fn strategies_pick_as_named() {
        let mut busy = agent("busy", &[("billing", 5)], 0);
        busy.load.insert(Channel::Chat, 2);
        let idle = agent("idle", &[("billing", 2)], 10);
        let agents = [busy, idle];
        let req = billing(1);
        let by = |s| {
            select_agent(&req, Channel::Chat, 0, &agents, s, &mut 0)
                .unwrap()
                .agent_id
        };
        assert_eq!(by(SelectionStrategy::LongestIdle), "busy");
        assert_eq!(by(SelectionStrategy::LeastOccupied), "idle");
        assert_eq!(by(SelectionStrategy::MostSkilled), "busy");
        let mut rotation = 0;
        let mut turns = Vec::new();
        for _ in 0..4 {
            turns.push(
                select_agent(
                    &req,
                    Channel::Chat,
                    0,
                    &agents,
                    SelectionStrategy::RoundRobin,
                    &mut rotation,
                )
                .unwrap()
                .agent_id,
            );
        }
        assert_eq!(turns, ["busy", "idle", "busy", "idle"]);
    }

    #[test]
    fn team_restriction_and_drop_team() {
        let mut req = billing(1);
        req.team = Some("legacy".into());
        req.relaxation = vec![RelaxationStep {
            after_secs: 120,
            actions: vec![Relaxation::DropTeam],
        }];
        let mut veteran = agent("veteran", &[("billing", 3)], 100);
        veteran.status = AgentStatus::Break;
        veteran.teams = vec!["legacy".into()];
        let agents = [agent("new-hire", &[("billing", 3)], 0), veteran];
        assert_eq!(pick(&req, 0, &agents), None);
        assert_eq!(pick(&req, 120, &agents).as_deref(), Some("new-hire"));
        assert!((req.skill_match(&agents[0]) - 1.0).abs() < f64::EPSILON);
    }
}
