//! KPI measures and queries.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::caller::perm;
use super::{Allowed, ApiResult, AppState, Body, Problem};
use crate::auth::Action;
use crate::engine::{KpiQuery, KpiSeries, MeasureInfo};

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct MeasureList {
    measures: Vec<MeasureInfo>,
}

/// The measures the active KPI definitions declare.
#[utoipa::path(get, path = "/v1/kpis/measures", tag = "kpis",
    responses((status = 200, description = "Declared measures", body = MeasureList)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn measures(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
) -> ApiResult<Json<MeasureList>> {
    Ok(Json(MeasureList {
        measures: state.engine.measures(),
    }))
}

/// Query a measure over a time window, in buckets, grouped by dimensions
/// (queue, agent, team, channel, topic) and filtered. Answers from
/// incremental aggregates: it never rescans contacts.
#[utoipa::path(post, path = "/v1/kpis/query", tag = "kpis",
    request_body = KpiQuery,
    responses(
        (status = 200, description = "The series", body = KpiSeries),
        (status = 422, description = "Unknown measure, bad window or bucket", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn kpi_query(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Body(q): Body<KpiQuery>,
) -> ApiResult<Json<KpiSeries>> {
    Ok(Json(state.engine.kpi_query(&q)?))
}

/// Re-run the KPI definition calls that failed (errors, traps, limits,
/// quarantine) through their slots' current versions and apply the
/// samples, each failed call exactly once; safe to repeat. Run it after
/// fixing or rolling back a failing KPI definition. The re-runs are
/// audited as `kpi.backfill`, each naming the failed record it stands in for.
#[utoipa::path(post, path = "/v1/kpis/backfill", tag = "kpis",
    responses(
        (status = 200, description = "What was backfilled, and what still fails", body = crate::engine::BackfillReport)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn kpi_backfill(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
) -> ApiResult<Json<crate::engine::BackfillReport>> {
    let report = state.engine(|e| e.backfill_kpis()).await?;
    state
        .audit_action(
            &caller,
            "kpi.backfill_run",
            "kpis",
            serde_json::json!({
                "failed": report.failed,
                "backfilled": report.backfilled,
                "still_failing": report.still_failing.len(),
            }),
        )
        .await?;
    Ok(Json(report))
}
