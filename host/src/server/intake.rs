//! Intake of social posts and reviews, and IVR and bot hand-offs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::caller::perm;
use super::{Allowed, ApiResult, AppState, Body, Problem};
use crate::auth::Action;
use crate::engine::{Handoff, IntakeOutcome, SocialPost};

/// 201 when a contact was made now, 200 for a discard or a re-delivery.
fn respond(outcome: IntakeOutcome) -> Response {
    let status = if outcome.ingested.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(outcome)).into_response()
}

/// Take in a public post or review. The escalation rules classify it: a
/// rule that tags it `noise` on creation discards it (recorded in the
/// audit log as `intake.discarded` with the deciding plugin version);
/// otherwise it becomes a `social` contact. Idempotent by `source` and
/// `post_id`: a re-delivered post returns the first outcome.
#[utoipa::path(post, path = "/v1/intake/social", tag = "contacts",
    request_body = SocialPost,
    responses(
        (status = 201, description = "A contact was made", body = IntakeOutcome),
        (status = 200, description = "Discarded as noise, or delivered before", body = IntakeOutcome),
        (status = 422, description = "A field is missing or out of range", body = Problem)),
    extensions(("x-roles" = json!(Action::WriteContacts.roles()))))]
pub(super) async fn social(
    State(state): State<AppState>,
    _: Allowed<perm::WriteContacts>,
    Body(post): Body<SocialPost>,
) -> ApiResult<Response> {
    Ok(respond(state.engine(move |e| e.intake_social(post)).await?))
}

/// Take in a contact handed over by an IVR or a bot, with what it
/// collected as attributes routing rules can use (`handoff.source`,
/// `ivr.menu_path`, `<source>.intent`, `auth.level`, `collected.<field>`);
/// the intent becomes the first topic. A session the bot resolved itself
/// (`resolved: true`) is recorded resolved, not routed, for the
/// self-service containment KPI. Idempotent by `source` and `external_id`.
#[utoipa::path(post, path = "/v1/intake/handoffs", tag = "contacts",
    request_body = Handoff,
    responses(
        (status = 201, description = "A contact was made", body = IntakeOutcome),
        (status = 200, description = "Delivered before: the first contact", body = IntakeOutcome),
        (status = 422, description = "A field is missing or out of range", body = Problem)),
    extensions(("x-roles" = json!(Action::WriteContacts.roles()))))]
pub(super) async fn handoff(
    State(state): State<AppState>,
    _: Allowed<perm::WriteContacts>,
    Body(h): Body<Handoff>,
) -> ApiResult<Response> {
    Ok(respond(state.engine(move |e| e.intake_handoff(h)).await?))
}
