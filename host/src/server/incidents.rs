//! Incident mode: declare, list, close.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::caller::perm;
use super::{Allowed, ApiResult, AppState, Body, Id, Params, Problem, created};
use crate::auth::Action;
use crate::engine::{Incident, NewIncident};

/// Declare an incident (an outage, a security issue). From its start,
/// routing and escalation rules receive it in their input: contacts that
/// match are tagged `incident:<id>`, routed to the incident queue, and get
/// the approved `message` back from intake.
#[utoipa::path(post, path = "/v1/incidents", tag = "incidents",
    request_body = NewIncident,
    responses(
        (status = 201, description = "Declared", body = Incident),
        (status = 422, description = "No title, or neither keywords nor products", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn declare_incident(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Body(new): Body<NewIncident>,
) -> ApiResult<Response> {
    let actor = caller.actor();
    let incident = state
        .engine(move |e| e.declare_incident(new, &actor))
        .await?;
    Ok(created(incident))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct IncidentParams {
    /// Only incidents in force now.
    #[serde(default)]
    active: bool,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct IncidentList {
    /// Newest first.
    incidents: Vec<Incident>,
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents",
    params(IncidentParams),
    responses((status = 200, description = "The incidents", body = IncidentList)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn list_incidents(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Params(p): Params<IncidentParams>,
) -> ApiResult<Json<IncidentList>> {
    Ok(Json(IncidentList {
        incidents: state.engine.incidents(p.active),
    }))
}

/// One incident.
#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 404, description = "No such incident", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn get_incident(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Id(id): Id<String>,
) -> ApiResult<Json<Incident>> {
    Ok(Json(state.engine.incident(&id)?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CloseBody {
    /// When it ended (ms since the epoch); now when absent.
    #[serde(default)]
    ended_at: Option<i64>,
}

/// Close an incident: later contacts route as before.
#[utoipa::path(post, path = "/v1/incidents/{id}/close", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    request_body = CloseBody,
    responses(
        (status = 200, description = "Closed", body = Incident),
        (status = 404, description = "No such incident", body = Problem),
        (status = 409, description = "Already closed", body = Problem),
        (status = 422, description = "`ended_at` is before the incident started", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn close_incident(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(id): Id<String>,
    Body(body): Body<CloseBody>,
) -> ApiResult<Json<Incident>> {
    let actor = caller.actor();
    Ok(Json(
        state
            .engine(move |e| e.close_incident(&id, body.ended_at, &actor))
            .await?,
    ))
}
