//! The audit log: queries and chain verification.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{Allowed, ApiResult, AppState, Params, next_after, page_limit};
use crate::audit::{AuditQuery, AuditRecord, Verification};
use crate::auth::Action;
use crate::replay::{ReplayReport, ReplayRequest, Replayer};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditParams {
    /// What a record is about: a contact id, a plugin id, a slot, a token id.
    subject: Option<String>,
    /// Plugin id: the decisions it made.
    plugin: Option<String>,
    /// `token:<id>`, `plugin:<id>@<version>`, `engine`.
    actor: Option<String>,
    /// e.g. `routing.decision`, `plugin.activate`, `draft.decision`.
    kind: Option<String>,
    /// At or after (ms since the epoch).
    from: Option<i64>,
    /// Before (ms since the epoch).
    to: Option<i64>,
    /// Cursor: `next_after` of the previous page.
    after: Option<u64>,
    /// Page size (default 100); larger than 1,000 gives 1,000, 0 gives 1.
    #[param(value_type = Option<u64>)]
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct AuditPage {
    records: Vec<AuditRecord>,
    next_after: Option<u64>,
}

/// Audit records in chain order, filtered and paged.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(AuditParams),
    responses((status = 200, description = "A page of records", body = AuditPage)),
    extensions(("x-roles" = json!(Action::ReadAudit.roles()))))]
pub(super) async fn audit(
    State(state): State<AppState>,
    _: Allowed<perm::ReadAudit>,
    Params(p): Params<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let limit = page_limit(p.limit);
    let q = AuditQuery {
        subject: p.subject,
        plugin: p.plugin,
        actor: p.actor,
        kind: p.kind,
        from: p.from,
        to: p.to,
        after: p.after,
    };
    let audit = state.audit.clone();
    let records = state.engine(move |_| Ok(audit.query(&q, limit)?)).await?;
    let next_after = next_after(&records, limit, |r| r.seq);
    Ok(Json(AuditPage {
        records,
        next_after,
    }))
}

/// Walk the whole hash chain and report the first broken link, if any.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "The verification", body = Verification)),
    extensions(("x-roles" = json!(Action::ReadAudit.roles()))))]
pub(super) async fn audit_verify(
    State(state): State<AppState>,
    _: Allowed<perm::ReadAudit>,
) -> ApiResult<Json<Verification>> {
    let audit = state.audit.clone();
    Ok(Json(state.engine(move |_| Ok(audit.verify()?)).await?))
}

/// Decisions replayed per request when `limit` is not given, and at most.
const REPLAY_DEFAULT: u64 = 10_000;
const REPLAY_MAX: u64 = 100_000;

/// Re-run recorded plugin decisions through the component and config that
/// made them (or through `candidate`) and compare the answers byte for
/// byte. At most 100,000 decisions per request (10,000 unless `limit`
/// says otherwise); `next_after` continues.
#[utoipa::path(post, path = "/v1/audit/replay", tag = "audit",
    request_body = ReplayRequest,
    responses(
        (status = 200, description = "What the replay found", body = ReplayReport),
        (status = 400, description = "A malformed request", body = super::Problem),
        (status = 422, description = "The record is not a plugin decision, or the candidate cannot run", body = super::Problem),
        (status = 404, description = "No such record or candidate version", body = super::Problem),
    ),
    extensions(("x-roles" = json!(Action::ReadAudit.roles()))))]
pub(super) async fn audit_replay(
    State(state): State<AppState>,
    _: Allowed<perm::ReadAudit>,
    super::Body(mut req): super::Body<ReplayRequest>,
) -> ApiResult<Json<ReplayReport>> {
    req.limit = Some(req.limit.unwrap_or(REPLAY_DEFAULT).clamp(1, REPLAY_MAX));
    let audit = state.audit.clone();
    let registry = state.registry.clone();
    let report = super::off_thread(move || {
        let load =
            |id: &str, version: &str| registry.plugin(id, version).map_err(|e| e.to_string());
        let mut replayer = Replayer::new(&audit, &load, req.candidate.as_ref())?;
        replayer.run(&req)
    })
    .await?;
    Ok(Json(report))
}
