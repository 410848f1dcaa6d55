//! The agent daily report (seed article 002): per agent and per team, the
//! standard KPIs over a day, from the same aggregates as KPI queries, with
//! schedule adherence and conformance, contacts per logged-in hour, and
//! each goal's progress. Served by `GET /v1/reports/agents`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Adherence, Direction, Engine, EngineError, Goal, GoalScope, KpiQuery};

/// The measures a report shows, in order (those no active KPI definition
/// declares are left out).
pub const REPORT_MEASURES: [&str; 11] = [
    "contacts_handled",
    "average_handle_time",
    "average_after_contact_work",
    "occupancy",
    "agent_utilization",
    "csat",
    "first_contact_resolution",
    "transfer_rate",
    "nps",
    "cost_per_contact",
    // Recorded by the host itself (offers that expired unanswered).
    "missed_offers",
];

/// Measures the host computes from schedules and presence.
pub const HOST_MEASURES: [&str; 3] = ["adherence", "conformance", "contacts_per_hour"];

/// What a goal may target.
pub fn goal_measures() -> Vec<String> {
    REPORT_MEASURES
        .iter()
        .chain(&HOST_MEASURES)
        .map(|m| (*m).to_owned())
        .collect()
}

const HOUR_MS: f64 = 3_600_000.0;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    /// The agent id or team name.
    pub id: String,
    /// The agent's name, or the team's members.
    pub name: String,
    /// Measure -> value (`null` when undefined, e.g. no surveys).
    pub kpis: BTreeMap<String, Option<f64>>,
    /// Scheduled, adherent and logged-in time (the sum of the members' for a team).
    pub schedule: Adherence,
    /// The goals that apply, with progress.
    pub goals: Vec<GoalProgress>,
}

/// A goal and where the row stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoalProgress {
    pub goal: String,
    pub measure: String,
    pub target: f64,
    pub direction: Direction,
    pub value: Option<f64>,
    /// `null` while the measure has no value.
    pub met: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentReport {
    pub from: i64,
    pub to: i64,
    /// The measures shown, in order.
    pub measures: Vec<String>,
    pub agents: Vec<ReportRow>,
    pub teams: Vec<ReportRow>,
}

impl Engine {
    /// Build the report over `[from, to)`.
    pub fn agent_report(&self, from: i64, to: i64) -> Result<AgentReport, EngineError> {
        let engine = self;
        let declared: Vec<String> = engine.measures().into_iter().map(|m| m.name).collect();
        let measures: Vec<String> = REPORT_MEASURES
            .iter()
            .filter(|m| declared.iter().any(|d| d == *m))
            .map(|m| (*m).to_owned())
            .collect();
        let (agents, _) = engine.floor();
        let mut by_agent: BTreeMap<String, ReportRow> = agents
            .iter()
            .map(|a| {
                (
                    a.id.clone(),
                    ReportRow {
                        id: a.id.clone(),
                        name: a.name.clone(),
                        kpis: BTreeMap::new(),
                        schedule: Adherence::default(),
                        goals: Vec::new(),
                    },
                )
            })
            .collect();
        let mut by_team: BTreeMap<String, ReportRow> = BTreeMap::new();
        for a in &agents {
            for t in &a.teams {
                let row = by_team.entry(t.clone()).or_insert_with(|| ReportRow {
                    id: t.clone(),
                    name: String::new(),
                    kpis: BTreeMap::new(),
                    schedule: Adherence::default(),
                    goals: Vec::new(),
                });
                if !row.name.is_empty() {
                    row.name.push_str(", ");
                }
                row.name.push_str(&a.id);
            }
        }
        for m in &measures {
            for (dim, rows) in [("agent", &mut by_agent), ("team", &mut by_team)] {
                let series = engine.kpi_query(&KpiQuery {
                    measure: m.clone(),
                    slot: None,
                    from,
                    to,
                    bucket_ms: to - from,
                    group_by: vec![dim.to_owned()],
                    filter: BTreeMap::new(),
                })?;
                // A count with no sample is zero, not undefined.
                let none = (m == "missed_offers").then_some(0.0);
                for row in rows.values_mut() {
                    row.kpis.insert(m.clone(), none);
                }
                for p in series.points {
                    let Some(key) = p.group.get(dim).filter(|k| !k.is_empty()) else {
                        continue;
                    };
                    let row = rows.entry(key.clone()).or_insert_with(|| ReportRow {
                        id: key.clone(),
                        name: String::new(),
                        kpis: BTreeMap::new(),
                        schedule: Adherence::default(),
                        goals: Vec::new(),
                    });
                    row.kpis.insert(m.clone(), p.value);
                }
            }
        }
        // Schedules: per agent, summed per team.
        let mut schedules: BTreeMap<String, Adherence> = BTreeMap::new();
        for a in &agents {
            let s = engine.adherence(&a.id, from, to)?;
            schedules.insert(a.id.clone(), s);
        }
        for (id, row) in &mut by_agent {
            row.schedule = schedules.get(id).cloned().unwrap_or_default();
        }
        for (team, row) in &mut by_team {
            let members = agents.iter().filter(|a| a.teams.contains(team));
            row.schedule = Adherence::sum(members.filter_map(|a| schedules.get(&a.id)));
        }
        let goals = engine.goals()?;
        for (rows, is_team) in [(&mut by_agent, false), (&mut by_team, true)] {
            for row in rows.values_mut() {
                host_measures(row);
                let teams: Vec<&String> = if is_team {
                    vec![&row.id]
                } else {
                    agents
                        .iter()
                        .find(|a| a.id == row.id)
                        .map(|a| a.teams.iter().collect())
                        .unwrap_or_default()
                };
                row.goals = goals
                    .iter()
                    .filter(|g| match &g.scope {
                        GoalScope::All => true,
                        GoalScope::Agent(id) => !is_team && id == &row.id,
                        GoalScope::Team(t) => teams.contains(&t),
                    })
                    .map(|g| progress(g, &row.kpis))
                    .collect();
            }
        }
        let mut measures = measures;
        measures.extend(HOST_MEASURES.iter().map(|m| (*m).to_owned()));
        Ok(AgentReport {
            from,
            to,
            measures,
            agents: by_agent.into_values().collect(),
            teams: by_team.into_values().collect(),
        })
    }
}

/// Adherence, conformance and contacts per logged-in hour from the row's
/// schedule and contacts handled.
fn host_measures(row: &mut ReportRow) {
    let s = &row.schedule;
    row.kpis.insert("adherence".into(), s.adherence);
    row.kpis.insert("conformance".into(), s.conformance);
    let handled = row.kpis.get("contacts_handled").copied().flatten();
    let per_hour = handled
        .filter(|_| s.worked_ms > 0)
        .map(|n| n / (s.worked_ms as f64 / HOUR_MS));
    row.kpis.insert("contacts_per_hour".into(), per_hour);
}

fn progress(goal: &Goal, kpis: &BTreeMap<String, Option<f64>>) -> GoalProgress {
    let value = kpis.get(&goal.measure).copied().flatten();
    GoalProgress {
        goal: goal.id.clone(),
        measure: goal.measure.clone(),
        target: goal.target,
        direction: goal.direction(),
        value,
        met: value.map(|v| goal.met(v)),
    }
}
