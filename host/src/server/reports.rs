//! The agent daily report (seed article 002): per agent and per team, the
//! standard KPIs over a day, from the same aggregates as `/v1/kpis/query`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Params, Problem};
use crate::auth::Action;
use crate::engine::{Engine, KpiQuery};

/// The measures a report shows, in order (those no active KPI definition
/// declares are left out).
pub const REPORT_MEASURES: [&str; 10] = [
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
];

const DAY_MS: i64 = 86_400_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportParams {
    /// Start (ms since the epoch, whole minutes); default: the start of
    /// today (UTC) by the server's clock.
    from: Option<i64>,
    /// End (ms since the epoch); default: `from` + 1 day.
    to: Option<i64>,
}

/// One row: an agent or a team.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    /// The agent id or team name.
    pub id: String,
    /// The agent's name, or the team's members.
    pub name: String,
    /// Measure -> value (`null` when undefined, e.g. no surveys).
    pub kpis: BTreeMap<String, Option<f64>>,
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

/// Build the report over `[from, to)`.
pub fn agent_report(engine: &Engine, from: i64, to: i64) -> Result<AgentReport, String> {
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
            });
            if !row.name.is_empty() {
                row.name.push_str(", ");
            }
            row.name.push_str(&a.id);
        }
    }
    for m in &measures {
        for (dim, rows) in [("agent", &mut by_agent), ("team", &mut by_team)] {
            let series = engine
                .kpi_query(&KpiQuery {
                    measure: m.clone(),
                    slot: None,
                    from,
                    to,
                    bucket_ms: to - from,
                    group_by: vec![dim.to_owned()],
                    filter: BTreeMap::new(),
                })
                .map_err(|e| e.to_string())?;
            for row in rows.values_mut() {
                row.kpis.insert(m.clone(), None);
            }
            for p in series.points {
                let Some(key) = p.group.get(dim).filter(|k| !k.is_empty()) else {
                    continue;
                };
                let row = rows.entry(key.clone()).or_insert_with(|| ReportRow {
                    id: key.clone(),
                    name: String::new(),
                    kpis: BTreeMap::new(),
                });
                row.kpis.insert(m.clone(), p.value);
            }
        }
    }
    Ok(AgentReport {
        from,
        to,
        measures,
        agents: by_agent.into_values().collect(),
        teams: by_team.into_values().collect(),
    })
}

/// The agent daily report: per agent and per team, contacts handled,
/// average handle time, after-contact work, occupancy, utilization, CSAT,
/// first-contact resolution, transfer rate, NPS and cost per contact.
#[utoipa::path(get, path = "/v1/reports/agents", tag = "kpis",
    params(ReportParams),
    responses(
        (status = 200, description = "The report", body = AgentReport),
        (status = 422, description = "A bad window", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn agents(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Params(p): Params<ReportParams>,
) -> ApiResult<Json<AgentReport>> {
    let from = p
        .from
        .unwrap_or_else(|| state.engine.now().div_euclid(DAY_MS) * DAY_MS);
    let to = p.to.unwrap_or(from + DAY_MS);
    if to <= from || (to - from) % 60_000 != 0 || from % 60_000 != 0 {
        return Err(ApiError::invalid(
            "`from` and `to` must be whole minutes (ms since the epoch) with `to` after `from`",
        ));
    }
    let report = agent_report(&state.engine, from, to).map_err(ApiError::invalid)?;
    Ok(Json(report))
}
