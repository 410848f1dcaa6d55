//! Agent schedules, adherence and goals (seed article 002: "realistic goals
//! and schedules, monitoring agent performance, daily reports per agent").
//!
//! - A **schedule** is a list of planned activities per agent: on the queue
//!   (`available`), `break`, `lunch`, `training`, `meeting`. Routing never
//!   offers a contact to an agent whose schedule has them off the queue,
//!   whatever status they set.
//! - **Presence**: every period of one agent status is kept (`presence`
//!   keyspace, written with the `agent.status_changed` audit record), so
//!   adherence can be computed for any window.
//! - **Adherence** = time in the planned state / scheduled time;
//!   **conformance** = time logged in / scheduled time (see
//!   [`Adherence`] for the exact rules).
//! - **Goals**: a target for one measure, per agent, per team or for
//!   everyone; the agent report shows progress.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, all, decode, encode};
use crate::domain::AgentStatus;
use crate::store::{StoreError, Writes};

pub(super) const SCHEDULES: &str = "schedules";
pub(super) const PRESENCE: &str = "presence";
pub(super) const GOALS: &str = "goals";

/// The longest window one schedule request may cover: two weeks.
const MAX_SCHEDULE_MS: i64 = 14 * 86_400_000;

/// What an agent is planned to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// On the queue, taking contacts.
    Available,
    Break,
    Lunch,
    Training,
    Meeting,
}

impl Activity {
    /// Whether the agent takes contacts during it.
    pub fn on_queue(self) -> bool {
        self == Activity::Available
    }

    /// Whether being in `status` during this activity is adherent: on the
    /// queue means available, busy or in wrap-up; off the queue means on a
    /// break or logged out (nobody is offered contacts).
    pub fn adheres(self, status: AgentStatus) -> bool {
        match status {
            AgentStatus::Available | AgentStatus::Busy | AgentStatus::WrapUp => self.on_queue(),
            AgentStatus::Break | AgentStatus::Offline => !self.on_queue(),
        }
    }
}

/// One planned activity, `[start, end)` in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedActivity {
    pub activity: Activity,
    pub start: i64,
    pub end: i64,
}

/// A schedule as put over the API: it replaces the agent's activities in
/// `[from, to)` (default: the first start to the last end given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePut {
    #[serde(default)]
    pub from: Option<i64>,
    #[serde(default)]
    pub to: Option<i64>,
    pub activities: Vec<PlannedActivity>,
}

/// An agent's planned activities in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schedule {
    pub agent_id: String,
    pub activities: Vec<PlannedActivity>,
}

/// Every agent's plan, in memory for routing.
#[derive(Debug, Default)]
pub(crate) struct Plans(HashMap<String, BTreeMap<i64, PlannedActivity>>);

impl Plans {
    /// The activity planned for `agent` at `t`.
    pub fn at(&self, agent: &str, t: i64) -> Option<PlannedActivity> {
        let plan = self.0.get(agent)?;
        let (_, a) = plan.range(..=t).next_back()?;
        (t < a.end).then_some(*a)
    }

    /// Whether `agent` is planned off the queue at `t`.
    pub fn off_queue(&self, agent: &str, t: i64) -> bool {
        self.at(agent, t).is_some_and(|a| !a.activity.on_queue())
    }

    /// Whether an off-queue activity ended in `(after, upto]`: agents may be
    /// routable again.
    pub fn off_queue_ended(&self, after: i64, upto: i64) -> bool {
        self.0.values().any(|plan| {
            plan.values()
                .any(|a| !a.activity.on_queue() && after < a.end && a.end <= upto)
        })
    }

    fn in_window(&self, agent: &str, from: i64, to: i64) -> Vec<PlannedActivity> {
        self.0.get(agent).map_or_else(Vec::new, |plan| {
            plan.values()
                .filter(|a| a.start < to && from < a.end)
                .copied()
                .collect()
        })
    }

    fn replace(&mut self, agent: &str, from: i64, to: i64, activities: &[PlannedActivity]) {
        let plan = self.0.entry(agent.to_owned()).or_default();
        plan.retain(|_, a| !(from <= a.start && a.start < to));
        for a in activities {
            plan.insert(a.start, *a);
        }
    }
}

/// A period of one agent status, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct Presence {
    pub status: AgentStatus,
    pub start: i64,
    pub end: i64,
}

fn time_key(agent: &str, t: i64) -> Vec<u8> {
    let mut k = agent.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&((t as u64) ^ (1 << 63)).to_be_bytes());
    k
}

/// Record a presence period (in `writes`, with the status change).
pub(super) fn record_presence(
    writes: &mut Writes,
    agent: &str,
    p: Presence,
    id: u64,
) -> Result<(), StoreError> {
    if p.end <= p.start {
        return Ok(());
    }
    let mut key = time_key(agent, p.start);
    key.extend_from_slice(&id.to_be_bytes());
    writes.put(PRESENCE, key, encode(&p)?);
    Ok(())
}

/// How an agent kept to their schedule over a window (up to now).
///
/// - `scheduled_ms`: planned time in the window, up to now.
/// - `adherent_ms`: planned time spent in a matching status (on-queue
///   activities: available, busy or wrap-up; off-queue activities: break or
///   offline).
/// - `worked_ms`: time logged in (any status but offline) in the window,
///   planned or not.
/// - `adherence` = adherent / scheduled; `conformance` = worked /
///   scheduled; both `null` without scheduled time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Adherence {
    pub scheduled_ms: i64,
    pub adherent_ms: i64,
    pub worked_ms: i64,
    pub adherence: Option<f64>,
    pub conformance: Option<f64>,
}

impl Adherence {
    /// Sum of several agents' (a team's) times, with the ratios recomputed.
    pub fn sum<'a>(rows: impl IntoIterator<Item = &'a Adherence>) -> Adherence {
        let mut total = Adherence::default();
        for r in rows {
            total.scheduled_ms += r.scheduled_ms;
            total.adherent_ms += r.adherent_ms;
            total.worked_ms += r.worked_ms;
        }
        total.finish()
    }

    fn finish(mut self) -> Self {
        let ratio = |n: i64| (self.scheduled_ms > 0).then(|| n as f64 / self.scheduled_ms as f64);
        self.adherence = ratio(self.adherent_ms);
        self.conformance = ratio(self.worked_ms);
        self
    }
}

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

/// Whose performance a goal is about: `"all"`, `{"agent": "a-7"}` or
/// `{"team": "billing"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalScope {
    /// Everyone.
    All,
    /// One agent, by id.
    Agent(String),
    /// One team, by name: the team's row, and each member's.
    Team(String),
}

/// Whether a goal is met above or below its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    AtLeast,
    AtMost,
}

/// A target for one measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// Set from the path.
    #[serde(default)]
    pub id: String,
    pub scope: GoalScope,
    /// A measure of the agent report, or `adherence`, `conformance`,
    /// `contacts_per_hour`.
    pub measure: String,
    pub target: f64,
    /// Default: `at_most` for times and costs (`average_*`, `cost_*`),
    /// `at_least` otherwise.
    #[serde(default)]
    pub direction: Option<Direction>,
}

impl Goal {
    pub fn direction(&self) -> Direction {
        self.direction.unwrap_or(
            if self.measure.starts_with("average_")
                || self.measure.starts_with("cost_")
                || self.measure == "missed_offers"
            {
                Direction::AtMost
            } else {
                Direction::AtLeast
            },
        )
    }

    /// Whether `value` meets the goal.
    pub fn met(&self, value: f64) -> bool {
        match self.direction() {
            Direction::AtLeast => value >= self.target,
            Direction::AtMost => value <= self.target,
        }
    }
}

impl Engine {
    /// Load every schedule into the floor (at start).
    pub(super) fn load_plans(&self) -> Result<(), EngineError> {
        let mut plans = Plans::default();
        for kv in self.store.scan(SCHEDULES, all(), false) {
            let (k, v) = kv?;
            let agent = k.split(|b| *b == 0).next().unwrap_or_default();
            let a: PlannedActivity = decode(&v, "planned activity")?;
            plans
                .0
                .entry(String::from_utf8_lossy(agent).into_owned())
                .or_default()
                .insert(a.start, a);
        }
        self.floor.lock().plans = plans;
        Ok(())
    }

    /// Replace agent `id`'s planned activities in the request's window.
    pub fn put_schedule(&self, id: &str, put: SchedulePut) -> Result<Schedule, EngineError> {
        self.agent(id)?;
        let mut activities = put.activities;
        activities.sort_by_key(|a| a.start);
        let from = put
            .from
            .or(activities.first().map(|a| a.start))
            .ok_or_else(|| {
                EngineError::Invalid(
                    "give `activities`, or `from` and `to` with no activities to clear a window"
                        .into(),
                )
            })?;
        let to = put
            .to
            .or(activities.iter().map(|a| a.end).max())
            .unwrap_or(from);
        if to <= from || to.checked_sub(from).is_none_or(|d| d > MAX_SCHEDULE_MS) {
            return Err(EngineError::Invalid(format!(
                "the window [{from}, {to}) must be non-empty and at most 14 days"
            )));
        }
        for (i, a) in activities.iter().enumerate() {
            if a.end <= a.start {
                return Err(EngineError::Invalid(format!(
                    "activity {i} ({:?}) ends at {} before it starts at {}",
                    a.activity, a.end, a.start
                )));
            }
            if a.start < from || a.end > to {
                return Err(EngineError::Invalid(format!(
                    "activity {i} [{}, {}) is outside the window [{from}, {to})",
                    a.start, a.end
                )));
            }
            if let Some(next) = activities.get(i + 1)
                && next.start < a.end
            {
                return Err(EngineError::Invalid(format!(
                    "activities {i} and {} overlap ({:?} until {}, {:?} from {}): an agent does one thing at a time",
                    i + 1,
                    a.activity,
                    a.end,
                    next.activity,
                    next.start
                )));
            }
        }
        let mut writes = Writes::default();
        let range = (
            Bound::Included(time_key(id, from)),
            Bound::Excluded(time_key(id, to)),
        );
        for kv in self.store.scan(SCHEDULES, range, false) {
            writes.remove(SCHEDULES, kv?.0);
        }
        for a in &activities {
            writes.put(SCHEDULES, time_key(id, a.start), encode(a)?);
        }
        let now = (self.clock)();
        {
            let _apply = self.apply.lock();
            self.store.commit(writes)?;
            self.floor.lock().plans.replace(id, from, to, &activities);
        }
        self.store.make_durable()?;
        // A break may have started or ended now.
        self.dispatch(now)?;
        Ok(Schedule {
            agent_id: id.to_owned(),
            activities,
        })
    }

    /// Planned activities overlapping `[from, to)`, per agent (one agent
    /// or all).
    pub fn schedules(&self, agent: Option<&str>, from: i64, to: i64) -> Vec<Schedule> {
        let floor = self.floor.lock();
        let ids: Vec<String> = match agent {
            Some(a) => vec![a.to_owned()],
            None => floor.agents.keys().cloned().collect(),
        };
        ids.into_iter()
            .map(|id| Schedule {
                activities: floor.plans.in_window(&id, from, to),
                agent_id: id,
            })
            .filter(|s| agent.is_some() || !s.activities.is_empty())
            .collect()
    }

    /// The activity planned for `agent` at `t`.
    pub fn planned_at(&self, agent: &str, t: i64) -> Option<PlannedActivity> {
        self.floor.lock().plans.at(agent, t)
    }

    /// How agent `id` kept to their schedule in `[from, to)` (up to now).
    pub fn adherence(&self, id: &str, from: i64, to: i64) -> Result<Adherence, EngineError> {
        let agent = self.agent(id)?;
        let now = (self.clock)();
        let to = to.min(now);
        let window = (from, to);
        let plan = self.floor.lock().plans.in_window(id, from, to);
        let mut periods: Vec<Presence> = Vec::new();
        // Periods are keyed by start: the last one that began before
        // `from` may still reach into the window, however long it was.
        let before = (
            Bound::Included(time_key(id, i64::MIN)),
            Bound::Excluded(time_key(id, from)),
        );
        let inside = (
            Bound::Included(time_key(id, from)),
            Bound::Excluded(time_key(id, to)),
        );
        let earlier = self.store.scan(PRESENCE, before, true).take(1);
        for kv in earlier.chain(self.store.scan(PRESENCE, inside, false)) {
            let p: Presence = decode(&kv?.1, "presence")?;
            if p.end > from {
                periods.push(p);
            }
        }
        // The current status, not yet ended.
        let since = agent.period_since.max(agent.status_since);
        if since > 0 && since < to {
            periods.push(Presence {
                status: agent.status,
                start: since,
                end: now,
            });
        }
        let mut out = Adherence::default();
        for a in &plan {
            let planned = (a.start.max(from), a.end.min(to));
            out.scheduled_ms += overlap(planned, window);
            out.adherent_ms += periods
                .iter()
                .filter(|p| a.activity.adheres(p.status))
                .map(|p| overlap((p.start, p.end), planned))
                .sum::<i64>();
        }
        out.worked_ms = periods
            .iter()
            .filter(|p| p.status != AgentStatus::Offline)
            .map(|p| overlap((p.start, p.end), window))
            .sum();
        Ok(out.finish())
    }

    /// Set goal `goal.id`.
    pub fn put_goal(&self, goal: Goal) -> Result<Goal, EngineError> {
        if goal.id.trim().is_empty() || goal.measure.trim().is_empty() {
            return Err(EngineError::Invalid(
                "a goal needs an `id` and a `measure`".into(),
            ));
        }
        if !goal.target.is_finite() {
            return Err(EngineError::Invalid("`target` must be a number".into()));
        }
        let mut writes = Writes::default();
        writes.put(GOALS, goal.id.as_bytes(), encode(&goal)?);
        self.store.commit(writes)?;
        self.store.make_durable()?;
        Ok(goal)
    }

    /// Every goal, by id.
    pub fn goals(&self) -> Result<Vec<Goal>, EngineError> {
        self.store
            .scan(GOALS, all(), false)
            .map(|kv| Ok(decode(&kv?.1, "goal")?))
            .collect()
    }

    /// Remove a goal.
    pub fn delete_goal(&self, id: &str) -> Result<Goal, EngineError> {
        let goal: Goal = self
            .store
            .get(GOALS, id.as_bytes())?
            .map(|v| decode(&v, "goal"))
            .transpose()?
            .ok_or_else(|| {
                EngineError::NotFound(format!("no goal `{id}`; list them with GET /v1/goals"))
            })?;
        let mut writes = Writes::default();
        writes.remove(GOALS, id.as_bytes().to_vec());
        self.store.commit(writes)?;
        self.store.make_durable()?;
        Ok(goal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(items: &[(Activity, i64, i64)]) -> Plans {
        let mut p = Plans::default();
        let acts: Vec<PlannedActivity> = items
            .iter()
            .map(|&(activity, start, end)| PlannedActivity {
                activity,
                start,
                end,
            })
            .collect();
        p.replace("a", 0, 1_000, &acts);
        p
    }

    #[test]
    fn an_agent_on_a_planned_break_is_off_the_queue_until_it_ends() {
        let p = plan(&[
            (Activity::Available, 0, 100),
            (Activity::Break, 100, 115),
            (Activity::Available, 115, 200),
        ]);
        assert!(!p.off_queue("a", 99));
        assert!(p.off_queue("a", 100));
        assert!(p.off_queue("a", 114));
        assert!(!p.off_queue("a", 115));
        assert!(
            !p.off_queue("a", 500),
            "after the shift: no plan, no constraint"
        );
        assert!(!p.off_queue("b", 100), "an agent without a schedule");
        assert!(p.off_queue_ended(110, 115));
        assert!(!p.off_queue_ended(115, 200));
    }

    #[test]
    fn replacing_a_window_keeps_what_is_outside_it() {
        let mut p = plan(&[(Activity::Available, 0, 100), (Activity::Meeting, 500, 600)]);
        p.replace(
            "a",
            0,
            200,
            &[PlannedActivity {
                activity: Activity::Training,
                start: 10,
                end: 20,
            }],
        );
        assert_eq!(p.at("a", 5), None);
        assert_eq!(p.at("a", 15).map(|a| a.activity), Some(Activity::Training));
        assert_eq!(p.at("a", 550).map(|a| a.activity), Some(Activity::Meeting));
    }

    #[test]
    fn adherence_matches_statuses_to_activities() {
        for (activity, status, adherent) in [
            (Activity::Available, AgentStatus::Busy, true),
            (Activity::Available, AgentStatus::WrapUp, true),
            (Activity::Available, AgentStatus::Break, false),
            (Activity::Break, AgentStatus::Break, true),
            (Activity::Lunch, AgentStatus::Offline, true),
            (Activity::Training, AgentStatus::Available, false),
        ] {
            assert_eq!(
                activity.adheres(status),
                adherent,
                "{activity:?} {status:?}"
            );
        }
        let team = Adherence::sum(&[
            Adherence {
                scheduled_ms: 100,
                adherent_ms: 90,
                worked_ms: 100,
                ..Default::default()
            },
            Adherence {
                scheduled_ms: 300,
                adherent_ms: 150,
                worked_ms: 240,
                ..Default::default()
            },
        ]);
        assert_eq!(team.adherence, Some(0.6));
        assert_eq!(team.conformance, Some(0.85));
        assert_eq!(Adherence::sum(&[]).adherence, None);
    }

    #[test]
    fn goal_directions_default_by_measure() {
        let goal = |measure: &str, target| Goal {
            id: "g".into(),
            scope: GoalScope::All,
            measure: measure.into(),
            target,
            direction: None,
        };
        assert!(goal("average_handle_time", 300.0).met(280.0));
        assert!(!goal("average_handle_time", 300.0).met(320.0));
        assert!(goal("csat", 4.2).met(4.5));
        assert!(!goal("adherence", 0.9).met(0.85));
    }
}
