//! Agents' reply drafts: compliance checks and supervisor approval.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{
    Allowed, ApiResult, AppState, Body, Id, Params, Problem, created, next_after, page_limit,
};
use crate::auth::Action;
use crate::engine::{DraftRecord, DraftState, EngineError};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DraftBody {
    /// The agent who wrote it (an agent's own token may only name itself).
    #[schema(schema_with = crate::domain::bounds::schema::non_blank)]
    agent_id: String,
    #[schema(schema_with = crate::domain::bounds::schema::draft_text)]
    text: String,
}

/// Submit an agent's reply to a contact: the active compliance checks run
/// and the draft comes back approved (possibly redacted), back with the
/// agent for revision (findings with character spans), blocked, or pending
/// a supervisor's approval.
#[utoipa::path(post, path = "/v1/contacts/{id}/drafts", tag = "drafts",
    params(("id" = String, Path, description = "Contact id")),
    request_body = DraftBody,
    responses(
        (status = 201, description = "Checked", body = DraftRecord),
        (status = 404, description = "No such contact", body = Problem),
        (status = 422, description = "Empty or oversize text", body = Problem)),
    extensions(("x-roles" = json!(Action::WriteContacts.roles()))))]
pub(super) async fn submit_draft(
    State(state): State<AppState>,
    caller: Allowed<perm::WriteContacts>,
    Id(id): Id<String>,
    Body(body): Body<DraftBody>,
) -> ApiResult<Response> {
    caller.require_agent(&body.agent_id)?;
    let d = state
        .engine(move |e| e.submit_draft(&id, &body.agent_id, &body.text))
        .await?;
    Ok(created(d))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DraftParams {
    /// e.g. `pending_approval` for the supervisors' queue.
    state: Option<DraftState>,
    /// Agent id (an agent's own token always sees only its own).
    agent: Option<String>,
    /// Cursor: `next_after` of the previous page.
    after: Option<String>,
    /// Page size (default 100); larger than 1,000 gives 1,000, 0 gives 1.
    #[param(value_type = Option<u64>)]
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DraftPage {
    drafts: Vec<DraftRecord>,
    next_after: Option<String>,
}

/// List drafts, e.g. the approval queue (`state=pending_approval`).
#[utoipa::path(get, path = "/v1/drafts", tag = "drafts",
    params(DraftParams),
    responses((status = 200, description = "A page of drafts", body = DraftPage)),
    extensions(("x-roles" = json!(Action::ReadContacts.roles()))))]
pub(super) async fn list_drafts(
    State(state): State<AppState>,
    caller: Allowed<perm::ReadContacts>,
    Params(mut p): Params<DraftParams>,
) -> ApiResult<Json<DraftPage>> {
    if let Some(own) = caller.own_agent() {
        // An agent sees their own drafts.
        caller.require_agent(p.agent.as_deref().unwrap_or(own))?;
        p.agent = Some(own.to_owned());
    }
    let limit = page_limit(p.limit);
    let drafts = state
        .engine(move |e| e.drafts(p.state, p.agent.as_deref(), p.after.as_deref(), limit))
        .await?;
    let next_after = next_after(&drafts, limit, |d| d.id.clone());
    Ok(Json(DraftPage { drafts, next_after }))
}

/// One draft.
#[utoipa::path(get, path = "/v1/drafts/{id}", tag = "drafts",
    params(("id" = String, Path, description = "Draft id")),
    responses(
        (status = 200, description = "The draft", body = DraftRecord),
        (status = 404, description = "No such draft", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadContacts.roles()))))]
pub(super) async fn get_draft(
    State(state): State<AppState>,
    caller: Allowed<perm::ReadContacts>,
    Id(id): Id<String>,
) -> ApiResult<Json<DraftRecord>> {
    let d = state
        .engine(move |e| e.draft(&id)?.ok_or_else(|| EngineError::no_draft(&id)))
        .await?;
    caller.require_agent(&d.agent_id)?;
    Ok(Json(d))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    /// Why; a rejected draft returns to the agent with it.
    #[serde(default)]
    comment: Option<String>,
}

/// A rejection: the agent needs to know what to change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RejectBody {
    /// What the agent should change. Required: without it the answer is
    /// 422 (after the draft is found), as for a blank one.
    #[serde(default)]
    #[schema(required = true, schema_with = crate::domain::bounds::schema::non_blank)]
    comment: Option<String>,
}

async fn decide(
    state: AppState,
    caller: Allowed<perm::ApproveDrafts>,
    id: String,
    approve: bool,
    body: DecisionBody,
) -> ApiResult<Json<DraftRecord>> {
    let actor = caller.actor();
    Ok(Json(
        state
            .engine(move |e| e.decide_draft(&id, approve, body.comment, &actor))
            .await?,
    ))
}

/// Approve a draft waiting for a supervisor.
#[utoipa::path(post, path = "/v1/drafts/{id}/approve", tag = "drafts",
    params(("id" = String, Path, description = "Draft id")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "Approved", body = DraftRecord),
        (status = 404, description = "No such draft", body = Problem),
        (status = 409, description = "The draft is not waiting for approval", body = Problem)),
    extensions(("x-roles" = json!(Action::ApproveDrafts.roles()))))]
pub(super) async fn approve_draft(
    State(state): State<AppState>,
    caller: Allowed<perm::ApproveDrafts>,
    Id(id): Id<String>,
    Body(body): Body<DecisionBody>,
) -> ApiResult<Json<DraftRecord>> {
    decide(state, caller, id, true, body).await
}

/// Reject a draft waiting for a supervisor; it returns to the agent with
/// the comment.
#[utoipa::path(post, path = "/v1/drafts/{id}/reject", tag = "drafts",
    params(("id" = String, Path, description = "Draft id")),
    request_body = RejectBody,
    responses(
        (status = 200, description = "Rejected", body = DraftRecord),
        (status = 404, description = "No such draft", body = Problem),
        (status = 409, description = "The draft is not waiting for approval", body = Problem),
        (status = 422, description = "The comment is missing or blank", body = Problem)),
    extensions(("x-roles" = json!(Action::ApproveDrafts.roles()))))]
pub(super) async fn reject_draft(
    State(state): State<AppState>,
    caller: Allowed<perm::ApproveDrafts>,
    Id(id): Id<String>,
    Body(body): Body<RejectBody>,
) -> ApiResult<Json<DraftRecord>> {
    let body = DecisionBody {
        comment: body.comment,
    };
    decide(state, caller, id, false, body).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptBody {
    /// Indexes into the draft's `check.findings`; every finding with a
    /// suggestion when absent.
    #[serde(default)]
    #[schema(value_type = Option<Vec<u64>>)]
    findings: Option<Vec<usize>>,
}

/// Accept suggested rephrasings in one step: each chosen finding's
/// suggestion replaces its span, and the new text is submitted as a new
/// draft (checked again; `revision_of` names this one).
#[utoipa::path(post, path = "/v1/drafts/{id}/accept-suggestions", tag = "drafts",
    params(("id" = String, Path, description = "Draft id")),
    request_body = AcceptBody,
    responses(
        (status = 201, description = "The revised draft", body = DraftRecord),
        (status = 404, description = "No such draft", body = Problem),
        (status = 409, description = "The draft is already approved", body = Problem),
        (status = 422, description = "No such finding, or it has no suggestion", body = Problem)),
    extensions(("x-roles" = json!(Action::WriteContacts.roles()))))]
pub(super) async fn accept_suggestions(
    State(state): State<AppState>,
    caller: Allowed<perm::WriteContacts>,
    Id(id): Id<String>,
    Body(body): Body<AcceptBody>,
) -> ApiResult<Response> {
    let who = id.clone();
    let d = state
        .engine(move |e| e.draft(&who)?.ok_or_else(|| EngineError::no_draft(&who)))
        .await?;
    caller.require_agent(&d.agent_id)?;
    let revised = state
        .engine(move |e| e.accept_suggestions(&id, body.findings.as_deref()))
        .await?;
    Ok(created(revised))
}
