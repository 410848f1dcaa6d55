//! Plugins and slots: upload, validate, list, delete, logs; activate, roll
//! back, deactivate.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Body, Id, Problem, created};
use crate::auth::Action;
use crate::engine::Engine;
use crate::plugins::{CallStats, Limits, LogLine, PluginKind};
use crate::registry::{Activated, SlotInfo, VersionInfo};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadBody {
    /// The plugin's `manifest.json`: id, version, kind, wit, config_schema,
    /// default_config, limits, fail_policy.
    manifest: serde_json::Value,
    /// The component (`.wasm`), base64 (standard alphabet, padded).
    #[schema(schema_with = base64_schema)]
    component: String,
    /// A detached signature over the component and manifest
    /// (`switchboard plugin sign`); required when the server is configured
    /// with `require_signatures`.
    #[serde(default)]
    signature: Option<crate::signing::PluginSignature>,
}

/// Canonical padded base64 (what `component_bytes` decodes), surrounding
/// white space allowed.
const BASE64_PATTERN: &str =
    r"^\s*(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?\s*$";

fn base64_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(BASE64_PATTERN))
        .content_encoding("base64")
        .build()
}

fn component_bytes(b64: &str) -> ApiResult<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("`component` is not base64 ({e}): send the .wasm file base64-encoded, e.g. `base64 -w0 plugin.wasm`"),
            )
        })
}

/// Upload a plugin version: the manifest is checked, the component
/// compiled (off the request path's async threads; cached by digest) and
/// checked against the kind's WIT world. It is not active until a slot
/// activates it.
#[utoipa::path(post, path = "/v1/plugins", tag = "plugins",
    request_body = UploadBody,
    responses(
        (status = 201, description = "Stored", body = VersionInfo),
        (status = 409, description = "This id and version exist with other bytes", body = Problem),
        (status = 422, description = "Invalid manifest or component (the message says which field or export)", body = Problem)),
    extensions(("x-roles" = json!(Action::UploadPlugins.roles()))))]
pub(super) async fn upload_plugin(
    State(state): State<AppState>,
    caller: Allowed<perm::UploadPlugins>,
    Body(body): Body<UploadBody>,
) -> ApiResult<Response> {
    let bytes = component_bytes(&body.component)?;
    let actor = caller.actor();
    let info = state
        .registry(move |r| r.upload(&body.manifest, &bytes, body.signature.as_ref(), &actor))
        .await?;
    Ok(created(info))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Validated {
    valid: bool,
    id: String,
    version: String,
    kind: PluginKind,
    digest: String,
    /// The limits it would run under (its manifest's, capped by the host's).
    limits: Limits,
}

/// Check a manifest and component as an upload would, without storing
/// anything.
#[utoipa::path(post, path = "/v1/plugins/validate", tag = "plugins",
    request_body = UploadBody,
    responses(
        (status = 200, description = "Valid", body = Validated),
        (status = 422, description = "Invalid (the message says which field or export)", body = Problem)),
    extensions(("x-roles" = json!(Action::UploadPlugins.roles()))))]
pub(super) async fn validate_plugin(
    State(state): State<AppState>,
    _: Allowed<perm::UploadPlugins>,
    Body(body): Body<UploadBody>,
) -> ApiResult<Json<Validated>> {
    let bytes = component_bytes(&body.component)?;
    let plugin = state
        .registry(move |r| {
            r.check_signature(&body.manifest, &bytes, body.signature.as_ref())?;
            r.validate(&body.manifest, &bytes)
        })
        .await?;
    Ok(Json(Validated {
        valid: true,
        id: plugin.id().id.to_string(),
        version: plugin.id().version.to_string(),
        kind: plugin.manifest().kind,
        digest: format!("sha256:{}", plugin.id().digest),
        limits: plugin.limits(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PluginList {
    versions: Vec<VersionInfo>,
    slots: Vec<SlotView>,
}

/// Every uploaded version with its digest, and what each slot runs (with
/// its statistics and quarantine, as `GET /v1/slots`).
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, description = "Versions and slots", body = PluginList)),
    extensions(("x-roles" = json!(Action::ReadPlugins.roles()))))]
pub(super) async fn list_plugins(
    State(state): State<AppState>,
    _: Allowed<perm::ReadPlugins>,
) -> ApiResult<Json<PluginList>> {
    let (engine, shadows) = (state.engine.clone(), state.shadows.clone());
    let (versions, slots) = state
        .registry(move |r| Ok((r.versions()?, slot_views(&engine, &shadows, r.slots()?))))
        .await?;
    Ok(Json(PluginList { versions, slots }))
}

/// Delete a version no slot runs (current or previous).
#[utoipa::path(delete, path = "/v1/plugins/{id}/{version}", tag = "plugins",
    params(
        ("id" = String, Path, description = "Plugin id"),
        ("version" = String, Path, description = "Plugin version")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such version", body = Problem),
        (status = 409, description = "A slot runs or may roll back to it", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn delete_plugin(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Id((id, version)): Id<(String, String)>,
) -> ApiResult<StatusCode> {
    let actor = caller.actor();
    state
        .registry(move |r| r.delete(&id, &version, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PluginLog {
    /// The newest lines the buffer holds, oldest first.
    lines: Vec<LogLine>,
    /// Lines written since the version was loaded.
    written: u64,
    /// Lines dropped because the buffer was full.
    dropped: u64,
}

/// A version's log buffer: what the plugin logged, and the host's notes on
/// its failures (traps, timeouts, bad output).
#[utoipa::path(get, path = "/v1/plugins/{id}/{version}/log", tag = "plugins",
    params(
        ("id" = String, Path, description = "Plugin id"),
        ("version" = String, Path, description = "Plugin version")),
    responses(
        (status = 200, description = "The log", body = PluginLog),
        (status = 404, description = "No such version", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadPlugins.roles()))))]
pub(super) async fn plugin_log(
    State(state): State<AppState>,
    _: Allowed<perm::ReadPlugins>,
    Id((id, version)): Id<(String, String)>,
) -> ApiResult<Json<PluginLog>> {
    let plugin = state.registry(move |r| r.plugin(&id, &version)).await?;
    let log = plugin.log();
    Ok(Json(PluginLog {
        lines: log.lines(),
        written: log.written(),
        dropped: log.dropped(),
    }))
}

/// A version a slot took out of service after repeated failures. The
/// slot's fail policy answers in its place (under `last-good`, the
/// previous version serves) until a version is activated there again.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SlotQuarantine {
    pub plugin: String,
    pub version: String,
    /// When it was quarantined (ms since the epoch, server wall time).
    pub since: i64,
    /// The failure that tipped it over.
    pub reason: String,
    /// Failed calls in a row that quarantined it.
    pub consecutive_failures: u32,
}

impl<W: crate::plugins::World> From<crate::engine::Quarantined<W>> for SlotQuarantine {
    fn from(q: crate::engine::Quarantined<W>) -> Self {
        let p = q.activation.plugin().id();
        Self {
            plugin: p.id.to_string(),
            version: p.version.to_string(),
            since: q.since,
            reason: q.last_error,
            consecutive_failures: q.failures,
        }
    }
}

/// What the engine's slot shows live: its quarantine, and the call
/// statistics of the version it runs (or, quarantined with nothing
/// standing in, of the quarantined version).
fn live<W: crate::plugins::World>(
    slot: Option<&crate::engine::Slot<W>>,
) -> (Option<CallStats>, Option<SlotQuarantine>) {
    let Some(slot) = slot else {
        return (None, None);
    };
    let quarantined = slot.quarantined();
    let stats = slot
        .current()
        .or_else(|| quarantined.as_ref().map(|q| q.activation.clone()))
        .map(|a| a.call_stats());
    (stats, quarantined.map(SlotQuarantine::from))
}

/// The live part of slot `slot` of `kind`.
pub(super) fn slot_live(
    engine: &Engine,
    slot: &str,
    kind: PluginKind,
) -> (Option<CallStats>, Option<SlotQuarantine>) {
    match kind {
        PluginKind::Routing => live(Some(engine.routing())),
        PluginKind::Escalation => live(engine.escalation().get(slot).as_deref()),
        PluginKind::Compliance => live(engine.compliance().get(slot).as_deref()),
        PluginKind::Kpi => live(engine.kpis().get(slot).as_deref()),
    }
}

fn slot_views(
    engine: &Engine,
    shadows: &crate::shadow::Shadows,
    slots: Vec<SlotInfo>,
) -> Vec<SlotView> {
    slots
        .into_iter()
        .map(|slot| {
            let (stats, quarantined) = slot_live(engine, &slot.slot, slot.kind);
            SlotView {
                stats,
                quarantined,
                shadow: shadows.status(&slot.slot, None),
                slot,
            }
        })
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SlotView {
    #[serde(flatten)]
    slot: SlotInfo,
    /// Calls to the running version since it was activated (or the server
    /// started); under quarantine with nothing standing in, those of the
    /// quarantined version; none when the slot is empty.
    stats: Option<CallStats>,
    /// Set while a version of this slot is quarantined.
    quarantined: Option<SlotQuarantine>,
    /// Set while a candidate runs beside the live version (shadow mode):
    /// its live agreement.
    shadow: Option<crate::shadow::ShadowStatus>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SlotList {
    slots: Vec<SlotView>,
}

/// Every slot: current and previous version with config, and live call
/// statistics (calls, failures, p50/p99 duration).
#[utoipa::path(get, path = "/v1/slots", tag = "plugins",
    responses((status = 200, description = "The slots", body = SlotList)),
    extensions(("x-roles" = json!(Action::ReadPlugins.roles()))))]
pub(super) async fn list_slots(
    State(state): State<AppState>,
    _: Allowed<perm::ReadPlugins>,
) -> ApiResult<Json<SlotList>> {
    let (engine, shadows) = (state.engine.clone(), state.shadows.clone());
    let slots = state
        .registry(move |r| Ok(slot_views(&engine, &shadows, r.slots()?)))
        .await?;
    Ok(Json(SlotList { slots }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivateBody {
    plugin: String,
    version: String,
    /// The configuration, validated against the manifest's `config_schema`;
    /// the manifest's `default_config` when absent.
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// Activate a version in a slot (created on first use), atomically: calls
/// already running finish on the old version, new calls use the new one.
/// The previous version is kept for rollback, automatic when the new one
/// fails too often right after the swap.
#[utoipa::path(post, path = "/v1/slots/{slot}/activate", tag = "plugins",
    params(("slot" = String, Path, description = "Slot name (`routing` for the routing policy)")),
    request_body = ActivateBody,
    responses(
        (status = 200, description = "Active", body = Activated),
        (status = 404, description = "No such version", body = Problem),
        (status = 409, description = "The slot exists and runs plugins of another kind", body = Problem),
        (status = 422, description = "The config violates the schema (the message names the field), or a routing policy outside the routing slot (or another kind in it)", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn activate_slot(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Id(slot): Id<String>,
    Body(body): Body<ActivateBody>,
) -> ApiResult<Json<Activated>> {
    let actor = caller.actor();
    let done = state
        .registry(move |r| r.activate(&slot, &body.plugin, &body.version, body.config, &actor))
        .await?;
    Ok(Json(done))
}

/// Swap the slot back to its previous version (and config).
#[utoipa::path(post, path = "/v1/slots/{slot}/rollback", tag = "plugins",
    params(("slot" = String, Path, description = "Slot name")),
    responses(
        (status = 200, description = "Rolled back", body = Activated),
        (status = 404, description = "No such slot", body = Problem),
        (status = 409, description = "Nothing to roll back to", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn rollback_slot(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Id(slot): Id<String>,
) -> ApiResult<Json<Activated>> {
    let actor = caller.actor();
    Ok(Json(
        state.registry(move |r| r.rollback(&slot, &actor)).await?,
    ))
}

/// Empty a slot: its kind's fallback applies (routing: the fallback queue).
#[utoipa::path(post, path = "/v1/slots/{slot}/deactivate", tag = "plugins",
    params(("slot" = String, Path, description = "Slot name")),
    responses(
        (status = 200, description = "Deactivated", body = SlotInfo),
        (status = 404, description = "No such slot", body = Problem)),
    extensions(("x-roles" = json!(Action::ActivatePlugins.roles()))))]
pub(super) async fn deactivate_slot(
    State(state): State<AppState>,
    caller: Allowed<perm::ActivatePlugins>,
    Id(slot): Id<String>,
) -> ApiResult<Json<SlotInfo>> {
    let actor = caller.actor();
    Ok(Json(
        state.registry(move |r| r.deactivate(&slot, &actor)).await?,
    ))
}
