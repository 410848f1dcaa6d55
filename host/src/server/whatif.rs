//! What-if jobs: a candidate run over recorded history, off the request
//! path, with progress (`crate::whatif`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Body, Id, Problem};
use crate::auth::Action;
use crate::whatif::{JobView, MAX_RUNNING, WhatIfRequest};

/// Run a candidate (an uploaded version and a config, not active) over the
/// recorded inputs of the slot it would replace, in a window, and report
/// what would change: routing decisions and queue volumes, escalation
/// actions, compliance verdicts, KPI samples. Answers at once with the job
/// (`202`); `GET /v1/whatif/{id}` shows its progress, then its report.
/// Nothing is applied or recorded.
#[utoipa::path(post, path = "/v1/whatif", tag = "audit",
    request_body = WhatIfRequest,
    responses(
        (status = 202, description = "The job, started", body = JobView),
        (status = 404, description = "No such candidate version", body = Problem),
        (status = 422, description = "The candidate cannot run, or the slot does not fit it", body = Problem),
        (status = 429, description = "Two what-if jobs are running already", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn start_whatif(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Body(req): Body<WhatIfRequest>,
) -> ApiResult<Response> {
    let registry = state.registry.clone();
    let checked = req.clone();
    super::off_thread(move || {
        let load = |id: &str, v: &str| registry.plugin(id, v).map_err(|e| e.to_string());
        crate::whatif::check(&load, &checked)
    })
    .await?;
    let (audit, registry) = (state.audit.clone(), state.registry.clone());
    let job = state.whatif.start(
        req,
        caller.actor(),
        state.engine.now(),
        move |req, progress| {
            let load = |id: &str, v: &str| registry.plugin(id, v).map_err(|e| e.to_string());
            crate::whatif::run(&audit, &load, req, progress).map_err(|e| e.to_string())
        },
    );
    match job {
        Some(job) => Ok((StatusCode::ACCEPTED, Json(job.view(false))).into_response()),
        None => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            format!(
                "{MAX_RUNNING} what-if jobs are running, each on every core; wait for one to finish (GET /v1/whatif)"
            ),
        )),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct JobList {
    jobs: Vec<JobView>,
}

/// What-if jobs kept in memory (the last 50), newest first, without their
/// reports.
#[utoipa::path(get, path = "/v1/whatif", tag = "audit",
    responses((status = 200, description = "The jobs", body = JobList)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn list_whatif(
    State(state): State<AppState>,
    _: Allowed<perm::ActivatePlugins>,
) -> ApiResult<Json<JobList>> {
    Ok(Json(JobList {
        jobs: state.whatif.list().iter().map(|j| j.view(false)).collect(),
    }))
}

/// A what-if job: its progress while it runs, then its report.
#[utoipa::path(get, path = "/v1/whatif/{id}", tag = "audit",
    params(("id" = String, Path, description = "Job id, e.g. `whatif-1`")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job (jobs are kept in memory until a restart)", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn get_whatif(
    State(state): State<AppState>,
    _: Allowed<perm::ActivatePlugins>,
    Id(id): Id<String>,
) -> ApiResult<Json<JobView>> {
    match state.whatif.get(&id) {
        Some(job) => Ok(Json(job.view(true))),
        None => Err(ApiError::not_found(format!(
            "no what-if job `{id}`; jobs are kept in memory until the server restarts (GET /v1/whatif lists them)"
        ))),
    }
}
