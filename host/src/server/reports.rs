//! The agent daily report (seed article 002): per agent and per team, the
//! standard KPIs over a day, from the same aggregates as `/v1/kpis/query`,
//! with schedule adherence and conformance, contacts per logged-in hour,
//! and each goal's progress.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Params, Problem};
use crate::auth::Action;
use crate::engine::AgentReport;

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
/// The agent daily report: per agent and per team, contacts handled,
/// average handle time, after-contact work, occupancy, utilization, CSAT,
/// first-contact resolution, transfer rate, NPS and cost per contact, plus
/// schedule adherence and conformance, contacts per logged-in hour, and
/// the progress of every goal that applies.
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
    let to = p.to.unwrap_or(from.saturating_add(DAY_MS));
    // `checked_sub`: a window wider than i64 is refused, not an overflow.
    let whole = |span: i64| span % 60_000 == 0;
    if to <= from || !to.checked_sub(from).is_some_and(whole) || from % 60_000 != 0 {
        return Err(ApiError::invalid(
            "`from` and `to` must be whole minutes (ms since the epoch) with `to` after `from`",
        ));
    }
    let report = state.engine.agent_report(from, to)?;
    Ok(Json(report))
}
