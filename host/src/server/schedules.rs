//! Agent schedules, adherence and goals.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Body, Id, Params, Problem};
use crate::auth::Action;
use crate::engine::{Adherence, Goal, Schedule, SchedulePut};

const DAY_MS: i64 = 86_400_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct WindowParams {
    /// Start (ms since the epoch); default: the start of today (UTC).
    from: Option<i64>,
    /// End (ms since the epoch); default: `from` + 1 day.
    to: Option<i64>,
}

impl WindowParams {
    fn window(&self, state: &AppState) -> ApiResult<(i64, i64)> {
        let from = self
            .from
            .unwrap_or_else(|| state.engine.now().div_euclid(DAY_MS) * DAY_MS);
        let to = self.to.unwrap_or(from.saturating_add(DAY_MS));
        if to <= from {
            return Err(ApiError::invalid("`to` must be after `from`"));
        }
        Ok((from, to))
    }
}

/// Plan an agent's activities (on the queue, breaks, lunch, training,
/// meetings). Replaces their activities in `[from, to)`, by default from
/// the first start to the last end given. Routing offers nothing to an
/// agent planned off the queue.
#[utoipa::path(put, path = "/v1/agents/{id}/schedule", tag = "floor",
    params(("id" = String, Path, description = "Agent id")),
    request_body = SchedulePut,
    responses(
        (status = 200, description = "Saved", body = Schedule),
        (status = 404, description = "No such agent", body = Problem),
        (status = 422, description = "Overlapping or empty activities, or a window over 14 days", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn put_schedule(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(id): Id<String>,
    Body(put): Body<SchedulePut>,
) -> ApiResult<Json<Schedule>> {
    let who = id.clone();
    let schedule = state.engine(move |e| e.put_schedule(&who, put)).await?;
    state
        .audit_action(&caller, "schedule.put", &id, &schedule)
        .await?;
    Ok(Json(schedule))
}

/// An agent's planned activities in a window (default: today).
#[utoipa::path(get, path = "/v1/agents/{id}/schedule", tag = "floor",
    params(("id" = String, Path, description = "Agent id"), WindowParams),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 404, description = "No such agent", body = Problem),
        (status = 422, description = "`to` is not after `from`", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn get_schedule(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Id(id): Id<String>,
    Params(p): Params<WindowParams>,
) -> ApiResult<Json<Schedule>> {
    let (from, to) = p.window(&state)?;
    state.engine.agent(&id)?;
    let mut list = state.engine.schedules(Some(&id), from, to);
    Ok(Json(list.pop().unwrap_or(Schedule {
        agent_id: id,
        activities: Vec::new(),
    })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ScheduleList {
    /// Agents with activities in the window.
    schedules: Vec<Schedule>,
}

/// Every agent's planned activities in a window (default: today).
#[utoipa::path(get, path = "/v1/schedules", tag = "floor",
    params(WindowParams),
    responses(
        (status = 200, description = "The schedules", body = ScheduleList),
        (status = 422, description = "`to` is not after `from`", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn list_schedules(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Params(p): Params<WindowParams>,
) -> ApiResult<Json<ScheduleList>> {
    let (from, to) = p.window(&state)?;
    Ok(Json(ScheduleList {
        schedules: state.engine.schedules(None, from, to),
    }))
}

/// How an agent kept to their schedule in a window (default: today, up to
/// now): adherence = time in the planned state / scheduled time;
/// conformance = time logged in / scheduled time.
#[utoipa::path(get, path = "/v1/agents/{id}/adherence", tag = "floor",
    params(("id" = String, Path, description = "Agent id"), WindowParams),
    responses(
        (status = 200, description = "Adherence and conformance", body = Adherence),
        (status = 404, description = "No such agent", body = Problem),
        (status = 422, description = "`to` is not after `from`", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn adherence(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Id(id): Id<String>,
    Params(p): Params<WindowParams>,
) -> ApiResult<Json<Adherence>> {
    let (from, to) = p.window(&state)?;
    Ok(Json(
        state.engine(move |e| e.adherence(&id, from, to)).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct GoalList {
    goals: Vec<Goal>,
}

/// Every goal; the agent report shows each one's progress.
#[utoipa::path(get, path = "/v1/goals", tag = "kpis",
    responses((status = 200, description = "The goals", body = GoalList)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn list_goals(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
) -> ApiResult<Json<GoalList>> {
    Ok(Json(GoalList {
        goals: state.engine(|e| e.goals()).await?,
    }))
}

/// Set a goal: a target for one measure of the agent report (or
/// `adherence`, `conformance`, `contacts_per_hour`) for one agent, one
/// team, or everyone.
#[utoipa::path(put, path = "/v1/goals/{id}", tag = "kpis",
    params(("id" = String, Path, description = "Goal id")),
    request_body = Goal,
    responses(
        (status = 200, description = "Saved", body = Goal),
        (status = 422, description = "An unknown measure or a bad target", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn put_goal(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(id): Id<String>,
    Body(mut goal): Body<Goal>,
) -> ApiResult<Json<Goal>> {
    if !goal.id.is_empty() && goal.id != id {
        return Err(ApiError::invalid(format!(
            "the body's `id` ({}) differs from the path's ({id})",
            goal.id
        )));
    }
    goal.id = id.clone();
    let known = crate::engine::goal_measures();
    if !known.contains(&goal.measure) {
        return Err(ApiError::invalid(format!(
            "`{}` is not a measure of the agent report; use one of: {}",
            goal.measure,
            known.join(", ")
        )));
    }
    let goal = state.engine(move |e| e.put_goal(goal)).await?;
    state.audit_action(&caller, "goal.put", &id, &goal).await?;
    Ok(Json(goal))
}

/// Remove a goal.
#[utoipa::path(delete, path = "/v1/goals/{id}", tag = "kpis",
    params(("id" = String, Path, description = "Goal id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such goal", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn delete_goal(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(id): Id<String>,
) -> ApiResult<StatusCode> {
    let who = id.clone();
    let goal = state.engine(move |e| e.delete_goal(&who)).await?;
    state
        .audit_action(&caller, "goal.delete", &id, &goal)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
