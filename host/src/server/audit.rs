//! The audit log: queries and chain verification.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{Allowed, ApiResult, AppState, Params, next_after, page_limit};
use crate::audit::{AuditQuery, AuditRecord, Verification};
use crate::auth::Action;

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
