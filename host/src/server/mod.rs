//! The HTTP API: axum over the engine. Every `/v1` request carries a bearer
//! token whose role must allow the action. Handlers parse and validate, run
//! the (synchronous, durable) engine call on a blocking thread, and answer
//! JSON. Errors are RFC 9457 `application/problem+json` with a status that
//! matches: 400 malformed, 401 no or bad token, 403 role, 404 unknown id,
//! 409 illegal transition or conflict, 413 too large, 415 not JSON, 422
//! invalid value, 500 storage (without internals).
//!
//! Each resource has its module; every handler carries a
//! `#[utoipa::path]` annotation, and the router is built from those
//! annotations, so `/openapi.json` cannot miss a route.

mod audit;
mod backup;
mod caller;
mod clock;
pub mod console;
mod contacts;
mod drafts;
mod edge;
mod error;
mod floor;
mod incidents;
mod intake;
mod kpis;
pub mod openapi;
mod plugins;
pub mod reports;
mod schedules;
mod shadow;
mod tokens;
mod whatif;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::AuditEntry;
use crate::engine::{Engine, EngineError};
use crate::registry::{Registry, RegistryError};

pub use caller::{Allowed, Caller};
pub use edge::{EdgeLimits, file_limit};
pub use error::{ApiError, ApiResult, Problem};

/// Largest request body accepted (a contact with a long e-mail body fits).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Largest plugin upload (a JavaScript or Python component is 10-20 MB,
/// base64 adds a third).
pub const MAX_UPLOAD_BYTES: usize = 64 << 20;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
    /// Set when the server runs on a simulated clock (`POST /v1/clock`
    /// moves it); `None` on wall time.
    pub clock: Option<crate::engine::ManualClock>,
    /// Tells open event streams to check their token again, or to end.
    pub streams: StreamControl,
    /// The tokens, in memory: a request is authenticated without a store read.
    pub tokens: Arc<crate::auth::TokenCache>,
    /// The audit log (the engine's: [`Engine::with_parts`]), for admin
    /// actions and the audit endpoints.
    pub audit: Arc<crate::audit::AuditLog>,
    /// What-if jobs (`POST /v1/whatif`), in memory.
    pub whatif: Arc<crate::whatif::Jobs>,
    /// Candidates running beside slots' live versions; the engine hands
    /// them its commits ([`Engine::on_commit`]).
    pub shadows: Arc<crate::shadow::Shadows>,
}

/// What open event streams listen to: a token was revoked (each stream
/// checks its own), or the server is shutting down (all end, so a graceful
/// shutdown does not wait on them forever).
#[derive(Clone)]
pub struct StreamControl(tokio::sync::watch::Sender<StreamSignal>);

/// The latest [`StreamControl`] signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamSignal {
    /// Bumped on every revocation.
    pub revocations: u64,
    pub closing: bool,
}

impl Default for StreamControl {
    fn default() -> Self {
        Self(tokio::sync::watch::channel(StreamSignal::default()).0)
    }
}

impl StreamControl {
    /// A token was revoked: streams check whether theirs still exists.
    pub fn token_revoked(&self) {
        self.0.send_modify(|s| s.revocations += 1);
    }

    /// The server is shutting down: every stream ends.
    pub fn close_all(&self) {
        self.0.send_modify(|s| s.closing = true);
    }

    fn watch(&self) -> tokio::sync::watch::Receiver<StreamSignal> {
        self.0.subscribe()
    }
}

impl AppState {
    /// Run a synchronous engine call off the async threads.
    async fn engine<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
    ) -> ApiResult<T> {
        let engine = self.engine.clone();
        off_thread(move || f(&engine)).await
    }

    /// Run a synchronous registry call off the async threads.
    async fn registry<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
    ) -> ApiResult<T> {
        let registry = self.registry.clone();
        off_thread(move || f(&registry)).await
    }

    /// Record an admin action by `caller` in the audit log (durably).
    async fn audit_action(
        &self,
        caller: &Caller,
        kind: &str,
        subject: &str,
        data: impl Serialize,
    ) -> ApiResult<()> {
        let entry = AuditEntry {
            at: self.engine.now(),
            actor: caller.actor(),
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            data: serde_json::value::to_raw_value(&data)
                .map_err(|e| ApiError::internal(e.to_string()))?,
        };
        let audit = self.audit.clone();
        self.engine(move |_| {
            audit.append_durable(entry)?;
            Ok(())
        })
        .await
    }
}

/// Run a synchronous call off the async threads; its error becomes the
/// matching API error.
async fn off_thread<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Into::into),
        Err(e) => Err(ApiError::internal(format!(
            "the request's worker failed: {e}"
        ))),
    }
}

/// A JSON request body; a malformed one is a problem response that says
/// what is wrong (400), too large (413) or not JSON (415). An integer
/// written as a whole float (`2.0`) is read as the integer, as JSON Schema
/// (and so the OpenAPI document) counts it one.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "bad_request",
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if error::body_timed_out(&e) {
                    ApiError::body_timeout()
                } else {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "bad_request", e.body_text())
                }
            })?;
        // Every request body is an object; serde would also read a struct
        // from an array of its fields.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the body must be a JSON object (`{...}`), as the operation's schema says",
            ));
        }
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(v)) => Ok(Body(v)),
            // Only a body refused as it is is read again; the error names
            // the body as sent.
            Err(e) => match whole_floats_as_integers(&bytes).map(|b| Json::<T>::from_bytes(&b)) {
                Some(Ok(Json(v))) => Ok(Body(v)),
                _ => Err(e.into()),
            },
        }
    }
}

/// `application/json` or `application/<anything>+json`, as axum's `Json`.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// The JSON text with every whole float outside strings (`2.0`, `-7.00`)
/// written as an integer; `None` when there is none.
fn whole_floats_as_integers(json: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len());
    let (mut i, mut changed, mut in_string) = (0, false, false);
    while let Some(&b) = json.get(i) {
        if in_string {
            out.push(b);
            if b == b'\\' {
                out.extend(json.get(i + 1));
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let digits = |from: usize| {
                json[from.min(json.len())..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count()
            };
            let int_end = i + 1 + digits(i + 1);
            out.extend_from_slice(&json[i..int_end]);
            i = int_end;
            if json.get(i) == Some(&b'.') {
                let zeros = json[i + 1..].iter().take_while(|c| **c == b'0').count();
                let after = json.get(i + 1 + zeros);
                let whole = zeros > 0
                    && !after.is_some_and(|c| c.is_ascii_digit() || *c == b'e' || *c == b'E');
                if whole {
                    i += 1 + zeros;
                    changed = true;
                }
            }
            continue;
        }
        in_string = b == b'"';
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Query parameters; unknown or malformed ones are a 400 problem response.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(v))
    }
}

/// Path parameters; a malformed one is a 400 problem response.
pub struct Id<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Id(v))
    }
}

#[cfg(test)]
mod tests {
    use super::whole_floats_as_integers;

    #[test]
    fn whole_floats_outside_strings_become_integers() {
        let got = whole_floats_as_integers(
            br#"{"a": 2.0, "b": -7.00, "c": "3.0 \" 4.0", "d": [1.5, 2.0e3, 10.0]}"#,
        );
        assert_eq!(
            String::from_utf8(got.unwrap()).unwrap(),
            r#"{"a": 2, "b": -7, "c": "3.0 \" 4.0", "d": [1.5, 2.0e3, 10]}"#
        );
        assert_eq!(
            whole_floats_as_integers(br#"{"a": 2, "b": 1.5, "c": "2.0"}"#),
            None
        );
    }
}

/// A page size: 100 unless asked, at most 1,000.
fn page_limit(asked: Option<usize>) -> usize {
    asked.unwrap_or(100).clamp(1, 1000)
}

/// The cursor of the next page: the last item's key when the page is full.
fn next_after<T, K>(items: &[T], limit: usize, key: impl Fn(&T) -> K) -> Option<K> {
    (items.len() == limit)
        .then(|| items.last().map(key))
        .flatten()
}

/// `201 Created` with a JSON body.
fn created<T: Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// The routes with their OpenAPI description.
fn api() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(plugins::list_plugins, plugins::upload_plugin))
        .routes(routes!(plugins::validate_plugin))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES));
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(contacts::create_contact, contacts::list_contacts))
        .routes(routes!(contacts::get_contact))
        .routes(routes!(contacts::list_events, contacts::post_event))
        .routes(routes!(drafts::submit_draft))
        .routes(routes!(drafts::list_drafts))
        .routes(routes!(drafts::get_draft))
        .routes(routes!(drafts::approve_draft))
        .routes(routes!(drafts::reject_draft))
        .routes(routes!(drafts::accept_suggestions))
        .routes(routes!(contacts::customer_context))
        .routes(routes!(intake::social))
        .routes(routes!(intake::handoff))
        .routes(routes!(
            incidents::declare_incident,
            incidents::list_incidents
        ))
        .routes(routes!(incidents::get_incident))
        .routes(routes!(incidents::close_incident))
        .routes(routes!(schedules::put_schedule, schedules::get_schedule))
        .routes(routes!(schedules::list_schedules))
        .routes(routes!(schedules::adherence))
        .routes(routes!(schedules::list_goals))
        .routes(routes!(schedules::put_goal, schedules::delete_goal))
        .routes(routes!(floor::list_agents))
        .routes(routes!(
            floor::get_agent,
            floor::put_agent,
            floor::delete_agent
        ))
        .routes(routes!(floor::set_status))
        .routes(routes!(floor::list_queues))
        .routes(routes!(floor::put_queue, floor::delete_queue))
        .routes(routes!(floor::queue_stats))
        .routes(routes!(floor::stream))
        .routes(routes!(floor::notifications))
        .routes(routes!(clock::get_clock, clock::set_clock))
        .routes(routes!(kpis::measures))
        .routes(routes!(kpis::kpi_query))
        .routes(routes!(kpis::kpi_backfill))
        .routes(routes!(reports::agents))
        .routes(routes!(audit::audit))
        .routes(routes!(audit::audit_verify))
        .routes(routes!(audit::audit_replay))
        .routes(routes!(whatif::start_whatif, whatif::list_whatif))
        .routes(routes!(whatif::get_whatif))
        .routes(routes!(backup::backup))
        .routes(routes!(tokens::whoami))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .merge(uploads)
        .routes(routes!(plugins::delete_plugin))
        .routes(routes!(plugins::plugin_log))
        .routes(routes!(plugins::list_slots))
        .routes(routes!(plugins::activate_slot))
        .routes(routes!(plugins::rollback_slot))
        .routes(routes!(plugins::deactivate_slot))
        .routes(routes!(
            shadow::start_shadow,
            shadow::shadow_status,
            shadow::stop_shadow
        ))
        .routes(routes!(shadow::promote_shadow))
}

/// The OpenAPI 3.1 document of the API, generated from the handlers.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api().split_for_parts();
    openapi::finish(&mut doc);
    doc
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let (router, mut doc) = api().split_for_parts();
    openapi::finish(&mut doc);
    let doc: Arc<str> = doc.to_pretty_json().unwrap_or_default().into();
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .route("/", axum::routing::get(console::to_console))
        .route("/console", axum::routing::get(console::to_console))
        .route("/console/", axum::routing::get(console::index))
        .route("/console/{file}", axum::routing::get(console::file))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(track))
        .layer(axum::middleware::from_fn(edge::security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Count and time every request by its route template (not the raw path,
/// so ids do not explode the label set).
async fn track(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let m = crate::metrics::metrics();
    m.http_duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[method.as_str(), route.as_str(), res.status().as_str()])
        .inc();
    res
}

/// Prometheus metrics: HTTP requests and latency per route, plugin calls,
/// errors and duration, store write latency, queue depth.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    let m = crate::metrics::metrics();
    for (queue, depth) in state.engine.queue_depths() {
        m.queue_depth
            .with_label_values(&[queue.as_str()])
            .set(depth as i64);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such endpoint; the API lives under /v1 (GET /openapi.json lists every route)",
    )
}

/// A plugin a slot runs, as health reports it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RunningPlugin {
    slot: String,
    id: String,
    version: String,
    kind: crate::plugins::PluginKind,
    /// `sha256:<hex>` of the component.
    digest: String,
    /// Set while a version of this slot is quarantined (its fail policy
    /// answers instead).
    quarantined: Option<plugins::SlotQuarantine>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok` when the server answers.
    status: String,
    plugins: Vec<RunningPlugin>,
}

/// Liveness, with the plugin versions each slot runs.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server is up", body = Health)))]
async fn healthz(State(state): State<AppState>) -> Json<Health> {
    let engine = state.engine.clone();
    let plugins = state
        .registry(move |registry| {
            let mut out = Vec::new();
            for s in registry.slots()? {
                let Some(v) = s.current else { continue };
                let (_, quarantined) = plugins::slot_live(&engine, &s.slot, s.kind);
                let digest = registry
                    .plugin(&v.plugin, &v.version)
                    .map(|p| format!("sha256:{}", p.id().digest))
                    .unwrap_or_default();
                out.push(RunningPlugin {
                    slot: s.slot,
                    id: v.plugin,
                    version: v.version,
                    kind: s.kind,
                    digest,
                    quarantined,
                });
            }
            Ok(out)
        })
        .await
        .unwrap_or_default();
    Json(Health {
        status: "ok".into(),
        plugins,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Readiness {
    ready: bool,
    /// Whether a routing policy is active (contacts cannot be routed without one).
    routing_policy: bool,
    /// Whether the routing policy is quarantined: contacts are still taken
    /// and its fail policy routes them (under `last-good`, the previous
    /// version, and `routing_policy` stays true).
    routing_quarantined: bool,
}

/// Readiness: 200 once a routing policy is active, else 503.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to route contacts", body = Readiness),
        (status = 503, description = "No routing policy is active", body = Readiness)))]
async fn readyz(State(state): State<AppState>) -> Response {
    let routing = state.engine.routing().current().is_some();
    let routing_quarantined = state.engine.routing().quarantined().is_some();
    let status = if routing {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready: routing,
            routing_policy: routing,
            routing_quarantined,
        }),
    )
        .into_response()
}

/// Serve until Ctrl-C / SIGTERM, then finish in-flight requests.
pub async fn run(listen: SocketAddr, state: AppState, limits: EdgeLimits) -> anyhow::Result<()> {
    // The registry records automatic rollbacks as the engine makes them.
    state
        .registry
        .record_auto_rollbacks()
        .context("cannot start the thread that records automatic rollbacks")?;
    let files = file_limit();
    let effective = limits.within_file_limit(files);
    if effective.max_connections < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            file_limit = files,
            max_connections = effective.max_connections,
            "http.max_connections lowered to three quarters of the process's file limit; raise the limit (ulimit -n, systemd LimitNOFILE=) to allow more"
        );
    }
    tracing::info!(
        max_connections = effective.max_connections,
        max_connections_per_peer = effective.max_connections_per_peer,
        header_read_timeout_ms = effective.header_read_timeout.as_millis() as u64,
        body_read_timeout_ms = effective.body_read_timeout.as_millis() as u64,
        "HTTP limits"
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another server using that port? pick one with --listen"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "switchboard is listening; try: curl http://{local}/healthz");
    let streams = state.streams.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Open event streams never end on their own.
        streams.close_all();
    };
    edge::serve(listener, router(state), effective, shutdown).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
