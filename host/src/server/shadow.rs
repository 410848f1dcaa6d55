//! Shadow mode over HTTP: run a candidate beside a slot's live version on
//! real traffic (`crate::shadow`), see the agreement, promote or stop.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Body, Id, Params, Problem};
use crate::auth::Action;
use crate::registry::Activated;
use crate::replay::Candidate;
use crate::shadow::{ShadowRequest, ShadowStatus};
use crate::whatif::WhatIfRequest;

fn no_shadow(slot: &str) -> ApiError {
    ApiError::not_found(format!(
        "slot `{slot}` has no shadow; start one with PUT /v1/slots/{slot}/shadow"
    ))
}

/// Run a candidate beside the slot's live version on real traffic: the
/// live version answers and its decision is applied; a sample of the live
/// decisions also goes, off the request path, to the candidate, whose
/// answer is recorded (`shadow.decision`) and never applied. Replaces the
/// slot's shadow, if it had one. Audited as `plugin.shadow_start`.
#[utoipa::path(put, path = "/v1/slots/{slot}/shadow", tag = "plugins",
    params(("slot" = String, Path, description = "Slot name (`routing` for the routing policy)")),
    request_body = ShadowRequest,
    responses(
        (status = 200, description = "Shadowing", body = ShadowStatus),
        (status = 404, description = "No such version, or no such slot", body = Problem),
        (status = 409, description = "The slot runs plugins of another kind", body = Problem),
        (status = 422, description = "The candidate cannot run, does not fit the slot, or `sample` is outside 0..1", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn start_shadow(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Id(slot): Id<String>,
    Body(req): Body<ShadowRequest>,
) -> ApiResult<Json<ShadowStatus>> {
    let candidate = Candidate {
        plugin: req.plugin.clone(),
        version: req.version.clone(),
        config: req.config.clone(),
    };
    let sample = req.sample.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&sample) {
        return Err(ApiError::invalid(format!(
            "`sample` is {sample}; it is the share of live decisions the candidate also makes, from 0 to 1"
        )));
    }
    let (registry, check, on) = (state.registry.clone(), candidate.clone(), slot.clone());
    let act = super::off_thread(move || {
        let load = |id: &str, v: &str| registry.plugin(id, v).map_err(|e| e.to_string());
        let req = WhatIfRequest {
            candidate: check,
            slot: Some(on),
            from: None,
            to: None,
        };
        let (act, kind, slot) = crate::whatif::prepare(&load, &req)?;
        // A shadow stands beside a live version of its own kind.
        match registry.slot(&slot) {
            Ok(Some(s)) if s.kind == kind => Ok(act),
            Ok(Some(s)) => Err(crate::registry::RegistryError::Conflict(format!(
                "slot `{slot}` runs {} plugins, not {kind}; shadow it with a {} plugin",
                s.kind, s.kind
            ))
            .into()),
            Ok(None) => Err(ApiError::not_found(format!(
                "no slot `{slot}`: a shadow runs beside a slot's live version (GET /v1/slots lists them)"
            ))),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    // The record first: no shadow decision before the record of its start.
    state
        .audit_action(&caller, "plugin.shadow_start", &slot, &req)
        .await?;
    let status = state
        .shadows
        .start(
            &slot,
            candidate,
            act,
            sample,
            caller.actor(),
            state.engine.now(),
        )
        .map_err(ApiError::invalid)?;
    Ok(Json(status))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct StatusParams {
    /// Answer once every live decision handed to the shadow so far is
    /// done (at most 10 s).
    settle: Option<bool>,
}

/// How the slot's shadow agrees with the live version: decisions
/// compared, agreement rate, where it differs most, the latest
/// disagreements.
#[utoipa::path(get, path = "/v1/slots/{slot}/shadow", tag = "plugins",
    params(("slot" = String, Path, description = "Slot name"), StatusParams),
    responses(
        (status = 200, description = "The shadow", body = ShadowStatus),
        (status = 404, description = "The slot has no shadow", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadPlugins.roles()))))]
pub(super) async fn shadow_status(
    State(state): State<AppState>,
    _: Allowed<perm::ReadPlugins>,
    Id(slot): Id<String>,
    Params(p): Params<StatusParams>,
) -> ApiResult<Json<ShadowStatus>> {
    let settle = p
        .settle
        .unwrap_or(false)
        .then_some(std::time::Duration::from_secs(10));
    let shadows = state.shadows.clone();
    let on = slot.clone();
    let status = super::off_thread(move || Ok::<_, ApiError>(shadows.status(&on, settle))).await?;
    status.map(Json).ok_or_else(|| no_shadow(&slot))
}

/// Stop the slot's shadow; its last status. Audited as
/// `plugin.shadow_stop`.
#[utoipa::path(delete, path = "/v1/slots/{slot}/shadow", tag = "plugins",
    params(("slot" = String, Path, description = "Slot name")),
    responses(
        (status = 200, description = "Stopped; its last status", body = ShadowStatus),
        (status = 404, description = "The slot has no shadow", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn stop_shadow(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Id(slot): Id<String>,
) -> ApiResult<Json<ShadowStatus>> {
    let status = state.shadows.stop(&slot).ok_or_else(|| no_shadow(&slot))?;
    state
        .audit_action(&caller, "plugin.shadow_stop", &slot, &status)
        .await?;
    Ok(Json(status))
}

/// Make the shadow's candidate the slot's live version (the normal
/// activation, audited as `plugin.activate`), and stop the shadow.
#[utoipa::path(post, path = "/v1/slots/{slot}/shadow/promote", tag = "plugins",
    params(("slot" = String, Path, description = "Slot name")),
    responses(
        (status = 200, description = "Active", body = Activated),
        (status = 404, description = "The slot has no shadow", body = Problem),
        (status = 409, description = "The slot changed kind since the shadow started", body = Problem),
        (status = 422, description = "The candidate's config no longer validates", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn promote_shadow(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Id(slot): Id<String>,
) -> ApiResult<Json<Activated>> {
    let status = state
        .shadows
        .status(&slot, None)
        .ok_or_else(|| no_shadow(&slot))?;
    let actor = caller.actor();
    let on = slot.clone();
    let c = status.candidate;
    let done = state
        .registry(move |r| r.activate(&on, &c.plugin, &c.version, c.config, &actor))
        .await?;
    if let Some(last) = state.shadows.stop(&slot) {
        state
            .audit_action(&caller, "plugin.shadow_stop", &slot, &last)
            .await?;
    }
    Ok(Json(done))
}
