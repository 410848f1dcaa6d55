//! The HTTP API: axum over the engine. Every `/v1` request carries a bearer
//! token whose role must allow the action. Handlers parse and validate, run
//! the (synchronous, durable) engine call on a blocking thread, and answer
//! JSON. Errors are RFC 9457 `application/problem+json` with a status that
//! matches: 400 malformed, 401 no or bad token, 403 role, 404 unknown id,
//! 409 illegal transition, 413 too large, 422 invalid value, 500 storage
//! (without internals).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::audit::{AuditEntry, AuditQuery};
use crate::auth::{Action, AuthError, TokenInfo, Tokens};
use crate::domain::{Agent, AgentStatus, Queue};
use crate::engine::{ContactEvent, Engine, EngineError, KpiQuery, NewContact};
use crate::registry::{Registry, RegistryError};

/// Largest request body accepted (a contact with a long e-mail body fits).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
}

/// Largest plugin upload (a JavaScript or Python component is 10-20 MB,
/// base64 adds a third).
pub const MAX_UPLOAD_BYTES: usize = 64 << 20;

/// An API error: a status, a machine-readable kind and a message that says
/// how to fix the request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("urn:switchboard:problem:{}", self.kind),
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "detail": self.message,
            "error": self.kind,
            "message": self.message,
        });
        let mut res = (self.status, body.to_string()).into_response();
        res.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Forbidden { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            _ => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()),
        }
    }
}

/// The token a request was made with.
#[derive(Debug, Clone)]
pub struct Caller(pub TokenInfo);

impl Caller {
    /// Refuse with 403 unless the caller's role allows `action`.
    pub fn require(&self, action: Action) -> ApiResult<()> {
        if self.0.role.allows(action) {
            Ok(())
        } else {
            Err(AuthError::Forbidden { role: self.0.role }.into())
        }
    }

    /// The agent this token acts as, if it is an agent's own token.
    pub fn own_agent(&self) -> Option<&str> {
        (self.0.role == crate::auth::Role::Agent)
            .then_some(self.0.agent_id.as_deref())
            .flatten()
    }

    /// Refuse with 403 when an agent's own token acts for another agent.
    pub fn require_agent(&self, agent_id: &str) -> ApiResult<()> {
        match self.own_agent() {
            Some(own) if own != agent_id => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token acts as agent `{own}`; it cannot act for `{agent_id}`"),
            )),
            _ => Ok(()),
        }
    }

    /// `token:<id>`, as the audit log names the actor.
    pub fn actor(&self) -> String {
        format!("token:{}", self.0.id)
    }
}

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(AuthError::Missing)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(AuthError::Invalid)?
            .trim();
        Ok(Caller(
            Tokens::new(&**state.engine.store()).authenticate(token)?,
        ))
    }
}

/// Record an admin action by `caller` in the audit log.
async fn audit_action(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    subject: &str,
    data: serde_json::Value,
) -> ApiResult<()> {
    let entry = AuditEntry {
        at: state.engine.now(),
        actor: caller.actor(),
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        data: serde_json::value::to_raw_value(&data).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })?,
    };
    let engine = state.engine.clone();
    blocking(move || {
        engine.audit().append(entry)?;
        engine.store().make_durable()?;
        Ok(())
    })
    .await
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (status, kind) = match &e {
            EngineError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            EngineError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            EngineError::Transition(_) => (StatusCode::CONFLICT, "illegal_transition"),
            EngineError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The details go to the log, not to the client.
            tracing::error!(error = %e, "request failed");
            return ApiError::new(
                status,
                kind,
                "the store failed; nothing was acknowledged. The server log has the details",
            );
        }
        ApiError::new(status, kind, e.to_string())
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Invalid(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m)
            }
            RegistryError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            RegistryError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            RegistryError::Store(s) => EngineError::Store(s).into(),
        }
    }
}

/// Run a synchronous registry call off the async threads.
async fn registry_call<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> ApiResult<T> {
    off_thread(f).await
}

/// Run a synchronous call off the async threads; its error becomes the
/// matching API error.
async fn off_thread<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Into::into),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the request's worker failed: {e}"),
        )),
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

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "bad_request", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Run a synchronous engine call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> ApiResult<T> {
    off_thread(f).await
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/contacts", post(create_contact).get(list_contacts))
        .route("/v1/contacts/{id}", get(get_contact))
        .route(
            "/v1/contacts/{id}/events",
            get(list_events).post(post_event),
        )
        .route("/v1/contacts/{id}/drafts", post(submit_draft))
        .route("/v1/drafts", get(list_drafts))
        .route("/v1/drafts/{id}", get(get_draft))
        .route("/v1/drafts/{id}/approve", post(approve_draft))
        .route("/v1/drafts/{id}/reject", post(reject_draft))
        .route("/v1/agents", get(list_agents))
        .route("/v1/agents/{id}", put(put_agent))
        .route("/v1/agents/{id}/status", post(set_status))
        .route("/v1/queues", get(list_queues))
        .route("/v1/queues/{name}", put(put_queue))
        .route("/v1/queues/{name}/stats", get(queue_stats))
        .route("/v1/stream", get(stream))
        .route("/v1/notifications", get(notifications))
        .route("/v1/kpis/measures", get(measures))
        .route("/v1/kpis/query", post(kpi_query))
        .route("/v1/audit", get(audit))
        .route("/v1/audit/verify", get(audit_verify))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route(
            "/v1/plugins",
            get(list_plugins)
                .post(upload_plugin)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(
            "/v1/plugins/validate",
            post(validate_plugin).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(
            "/v1/plugins/{id}/{version}",
            axum::routing::delete(delete_plugin),
        )
        .route("/v1/plugins/{id}/{version}/log", get(plugin_log))
        .route("/v1/slots", get(list_slots))
        .route("/v1/slots/{slot}/activate", post(activate_slot))
        .route("/v1/slots/{slot}/rollback", post(rollback_slot))
        .route("/v1/slots/{slot}/deactivate", post(deactivate_slot))
        .route("/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(track))
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
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; the API lives under /v1 (see docs/api.md)",
    )
}

async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let registry = state.registry.clone();
    let plugins = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for s in registry.slots().unwrap_or_default() {
            let Some(v) = s.current else { continue };
            let digest = registry
                .plugin(&v.plugin, &v.version)
                .map(|p| format!("sha256:{}", p.id().digest))
                .unwrap_or_default();
            out.push(serde_json::json!({
                "slot": s.slot, "id": v.plugin, "version": v.version,
                "kind": s.kind, "digest": digest,
            }));
        }
        out
    })
    .await
    .unwrap_or_default();
    Json(serde_json::json!({ "status": "ok", "plugins": plugins }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let routing = state.engine.routing().current().is_some();
    let status = if routing {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({
            "ready": routing,
            "routing_policy": routing,
        })),
    )
        .into_response()
}

async fn create_contact(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewContact>, JsonRejection>,
) -> ApiResult<Response> {
    caller.require(Action::WriteContacts)?;
    let Json(new) = body?;
    let engine = state.engine.clone();
    let got = blocking(move || engine.ingest(new)).await?;
    Ok((StatusCode::CREATED, Json(got)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactParams {
    state: Option<crate::domain::ContactState>,
    queue: Option<String>,
    channel: Option<crate::domain::Channel>,
    customer: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    after: Option<String>,
    limit: Option<usize>,
}

async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ContactParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadContacts)?;
    let Query(p) = query?;
    let limit = page_limit(p.limit);
    let filter = crate::engine::ContactFilter {
        state: p.state,
        queue: p.queue,
        channel: p.channel,
        customer: p.customer,
        from: p.from,
        to: p.to,
        after: p.after,
    };
    let engine = state.engine.clone();
    let contacts = blocking(move || engine.list_contacts(&filter, limit)).await?;
    let next = next_after(&contacts, limit, |c| c.id.clone());
    Ok(Json(
        serde_json::json!({ "contacts": contacts, "next_after": next }),
    ))
}

async fn queue_stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<crate::engine::QueueStats>> {
    caller.require(Action::ReadFloor)?;
    let engine = state.engine.clone();
    Ok(Json(blocking(move || engine.queue_stats(&name)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftBody {
    agent_id: String,
    text: String,
}

async fn submit_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<DraftBody>, JsonRejection>,
) -> ApiResult<Response> {
    caller.require(Action::WriteContacts)?;
    let Json(body) = body?;
    caller.require_agent(&body.agent_id)?;
    let engine = state.engine.clone();
    let d = blocking(move || engine.submit_draft(&id, &body.agent_id, &body.text)).await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftParams {
    state: Option<crate::engine::DraftState>,
    agent: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

async fn list_drafts(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<DraftParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadContacts)?;
    let Query(mut p) = query?;
    if let Some(own) = caller.own_agent() {
        // An agent sees their own drafts.
        caller.require_agent(p.agent.as_deref().unwrap_or(own))?;
        p.agent = Some(own.to_owned());
    }
    let limit = page_limit(p.limit);
    let engine = state.engine.clone();
    let drafts =
        blocking(move || engine.drafts(p.state, p.agent.as_deref(), p.after.as_deref(), limit))
            .await?;
    let next = next_after(&drafts, limit, |d| d.id.clone());
    Ok(Json(
        serde_json::json!({ "drafts": drafts, "next_after": next }),
    ))
}

async fn get_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::engine::DraftRecord>> {
    caller.require(Action::ReadContacts)?;
    let engine = state.engine.clone();
    let d = blocking(move || {
        engine
            .draft(&id)?
            .ok_or_else(|| EngineError::NotFound(format!("draft {id}")))
    })
    .await?;
    caller.require_agent(&d.agent_id)?;
    Ok(Json(d))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    #[serde(default)]
    comment: Option<String>,
}

async fn decide(
    state: AppState,
    caller: Caller,
    id: String,
    approve: bool,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> ApiResult<Json<crate::engine::DraftRecord>> {
    caller.require(Action::ApproveDrafts)?;
    let Json(body) = body?;
    let engine = state.engine.clone();
    let actor = caller.actor();
    Ok(Json(
        blocking(move || engine.decide_draft(&id, approve, body.comment, &actor)).await?,
    ))
}

async fn approve_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> ApiResult<Json<crate::engine::DraftRecord>> {
    decide(state, caller, id, true, body).await
}

async fn reject_draft(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> ApiResult<Json<crate::engine::DraftRecord>> {
    decide(state, caller, id, false, body).await
}

/// Server-Sent Events: `contact` events as contacts are created and
/// change, and a `queues` snapshot (waiting, oldest wait, agents available,
/// service level today per queue) every second.
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    caller.require(Action::ReadFloor)?;
    let rx = state.engine.subscribe();
    let tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let engine = state.engine.clone();
    let events = futures_util::stream::unfold(
        (rx, tick, engine),
        |(mut rx, mut tick, engine)| async move {
            let event = tokio::select! {
                got = rx.recv() => match got {
                    Ok(e) => Event::default()
                        .event("contact")
                        .json_data(&e)
                        .unwrap_or_default(),
                    Err(RecvError::Lagged(n)) => Event::default()
                        .event("lagged")
                        .data(format!("{n} events skipped; re-read the state you need")),
                    Err(RecvError::Closed) => return None,
                },
                _ = tick.tick() => {
                    let queues: Vec<_> = engine
                        .queues()
                        .iter()
                        .filter_map(|q| engine.queue_stats(&q.name).ok())
                        .collect();
                    Event::default()
                        .event("queues")
                        .json_data(&queues)
                        .unwrap_or_default()
                }
            };
            Some((Ok(event), (rx, tick, engine)))
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

async fn get_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::engine::ContactRecord>> {
    caller.require(Action::ReadContacts)?;
    let engine = state.engine.clone();
    let c = blocking(move || {
        engine
            .contact(&id)?
            .ok_or_else(|| EngineError::NotFound(id.clone()))
    })
    .await?;
    Ok(Json(c))
}

async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadContacts)?;
    let engine = state.engine.clone();
    let events = blocking(move || {
        if engine.contact(&id)?.is_none() {
            return Err(EngineError::NotFound(id));
        }
        engine.events(&id)
    })
    .await?;
    Ok(Json(serde_json::json!({ "events": events })))
}

async fn post_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<ContactEvent>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::WriteContacts)?;
    let Json(event) = body?;
    let engine = state.engine.clone();
    let (contact, event) = blocking(move || engine.record_event(&id, event)).await?;
    Ok(Json(
        serde_json::json!({ "contact": contact, "event": event }),
    ))
}

async fn list_agents(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadFloor)?;
    let (agents, waiting) = state.engine.floor();
    Ok(Json(
        serde_json::json!({ "agents": agents, "waiting": waiting }),
    ))
}

async fn put_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Agent>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ManageFloor)?;
    let Json(mut agent) = body?;
    if agent.id.is_empty() {
        agent.id.clone_from(&id);
    }
    if agent.id != id {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "the body's `id` ({}) differs from the path's ({id})",
                agent.id
            ),
        ));
    }
    let engine = state.engine.clone();
    let data = serde_json::to_value(&agent).unwrap_or_default();
    let offers = blocking(move || engine.upsert_agent(agent)).await?;
    audit_action(&state, &caller, "agent.upsert", &id, data).await?;
    Ok(Json(serde_json::json!({ "offers": offers })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: AgentStatus,
}

async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ManageFloor)?;
    let Json(body) = body?;
    let engine = state.engine.clone();
    let status = body.status;
    let who = id.clone();
    let offers = blocking(move || engine.set_agent_status(&who, status)).await?;
    audit_action(
        &state,
        &caller,
        "agent.status",
        &id,
        serde_json::json!({ "status": status }),
    )
    .await?;
    Ok(Json(serde_json::json!({ "offers": offers })))
}

async fn list_queues(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadFloor)?;
    Ok(Json(serde_json::json!({ "queues": state.engine.queues() })))
}

async fn put_queue(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<Queue>, JsonRejection>,
) -> ApiResult<StatusCode> {
    caller.require(Action::ManageFloor)?;
    let Json(queue) = body?;
    if queue.name != name {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "the body's `name` ({}) differs from the path's ({name})",
                queue.name
            ),
        ));
    }
    let engine = state.engine.clone();
    let data = serde_json::to_value(&queue).unwrap_or_default();
    blocking(move || engine.upsert_queue(queue)).await?;
    audit_action(&state, &caller, "queue.upsert", &name, data).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<Page>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadFloor)?;
    let Query(page) = query?;
    let engine = state.engine.clone();
    let limit = page_limit(Some(page.limit));
    let items = blocking(move || engine.notifications(page.after, limit)).await?;
    let next = next_after(&items, limit, |n| n.id);
    Ok(Json(
        serde_json::json!({ "notifications": items, "next_after": next }),
    ))
}

async fn measures(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadFloor)?;
    Ok(Json(
        serde_json::json!({ "measures": state.engine.measures() }),
    ))
}

async fn kpi_query(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<KpiQuery>, JsonRejection>,
) -> ApiResult<Json<crate::engine::KpiSeries>> {
    caller.require(Action::ReadFloor)?;
    let Json(q) = body?;
    Ok(Json(state.engine.kpi_query(&q)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    subject: Option<String>,
    plugin: Option<String>,
    actor: Option<String>,
    kind: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    after: Option<u64>,
    #[serde(default = "default_limit")]
    limit: usize,
}

async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadAudit)?;
    let Query(p) = query?;
    let limit = page_limit(Some(p.limit));
    let q = AuditQuery {
        subject: p.subject,
        plugin: p.plugin,
        actor: p.actor,
        kind: p.kind,
        from: p.from,
        to: p.to,
        after: p.after,
    };
    let engine = state.engine.clone();
    let records = blocking(move || Ok(engine.audit().query(&q, limit)?)).await?;
    let next = next_after(&records, limit, |r| r.seq);
    Ok(Json(
        serde_json::json!({ "records": records, "next_after": next }),
    ))
}

async fn audit_verify(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadAudit)?;
    let engine = state.engine.clone();
    let v = blocking(move || Ok(engine.audit().verify()?)).await?;
    Ok(Json(serde_json::to_value(v).unwrap_or_default()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    role: crate::auth::Role,
    #[serde(default)]
    label: String,
    /// For agent tokens: the agent the token acts as.
    #[serde(default)]
    agent_id: Option<String>,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> ApiResult<Response> {
    caller.require(Action::ManageTokens)?;
    let Json(body) = body?;
    let engine = state.engine.clone();
    let now = engine.now();
    let t = blocking(move || {
        Ok(Tokens::new(&**engine.store()).create(
            body.role,
            &body.label,
            body.agent_id.as_deref(),
            now,
        )?)
    })
    .await?;
    audit_action(
        &state,
        &caller,
        "token.create",
        &t.info.id,
        serde_json::json!({ "role": t.info.role, "label": t.info.label }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ManageTokens)?;
    let engine = state.engine.clone();
    let tokens = blocking(move || Ok(Tokens::new(&**engine.store()).list()?)).await?;
    Ok(Json(serde_json::json!({ "tokens": tokens })))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Action::ManageTokens)?;
    let engine = state.engine.clone();
    let who = id.clone();
    let found = blocking(move || Ok(Tokens::new(&**engine.store()).revoke(&who)?)).await?;
    if !found {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no token with id `{id}`; list them with GET /v1/tokens"),
        ));
    }
    audit_action(&state, &caller, "token.revoke", &id, serde_json::json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadBody {
    /// The plugin's `manifest.json`.
    manifest: serde_json::Value,
    /// The component, base64 (standard alphabet).
    component: String,
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

async fn upload_plugin(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<UploadBody>, JsonRejection>,
) -> ApiResult<Response> {
    caller.require(Action::UploadPlugins)?;
    let Json(body) = body?;
    let bytes = component_bytes(&body.component)?;
    let registry = state.registry.clone();
    let actor = caller.actor();
    let info = registry_call(move || registry.upload(&body.manifest, &bytes, &actor)).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

async fn validate_plugin(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<UploadBody>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::UploadPlugins)?;
    let Json(body) = body?;
    let bytes = component_bytes(&body.component)?;
    let registry = state.registry.clone();
    let plugin = registry_call(move || registry.validate(&body.manifest, &bytes)).await?;
    Ok(Json(serde_json::json!({
        "valid": true,
        "id": &*plugin.id().id,
        "version": &*plugin.id().version,
        "kind": plugin.manifest().kind,
        "digest": format!("sha256:{}", plugin.id().digest),
        "limits": plugin.limits(),
    })))
}

async fn list_plugins(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadPlugins)?;
    let registry = state.registry.clone();
    let (versions, slots) = registry_call(move || {
        registry.sync_auto_rollbacks()?;
        Ok((registry.versions()?, registry.slots()?))
    })
    .await?;
    Ok(Json(
        serde_json::json!({ "versions": versions, "slots": slots }),
    ))
}

async fn delete_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Action::ActivatePlugins)?;
    let registry = state.registry.clone();
    let actor = caller.actor();
    registry_call(move || registry.delete(&id, &version, &actor)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn plugin_log(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadPlugins)?;
    let registry = state.registry.clone();
    let plugin = registry_call(move || registry.plugin(&id, &version)).await?;
    let log = plugin.log();
    Ok(Json(serde_json::json!({
        "lines": log.lines(),
        "written": log.written(),
        "dropped": log.dropped(),
    })))
}

/// Call statistics of the activation a slot runs now.
fn slot_stats(engine: &Engine, slot: &str, kind: crate::plugins::PluginKind) -> serde_json::Value {
    use crate::plugins::PluginKind;
    let counts = match kind {
        PluginKind::Routing => engine.routing().current().map(|a| a.call_counts()),
        PluginKind::Escalation => engine
            .escalation()
            .get(slot)
            .and_then(|s| s.current())
            .map(|a| a.call_counts()),
        PluginKind::Compliance => engine
            .compliance()
            .get(slot)
            .and_then(|s| s.current())
            .map(|a| a.call_counts()),
        PluginKind::Kpi => engine
            .kpis()
            .get(slot)
            .and_then(|s| s.current())
            .map(|a| a.call_counts()),
    };
    match counts {
        Some((calls, failures)) => serde_json::json!({ "calls": calls, "failures": failures }),
        None => serde_json::Value::Null,
    }
}

async fn list_slots(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Action::ReadPlugins)?;
    let registry = state.registry.clone();
    let engine = state.engine.clone();
    let slots = registry_call(move || {
        registry.sync_auto_rollbacks()?;
        Ok(registry
            .slots()?
            .into_iter()
            .map(|s| {
                let stats = slot_stats(&engine, &s.slot, s.kind);
                let mut v = serde_json::to_value(&s).unwrap_or_default();
                v["stats"] = stats;
                v
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(serde_json::json!({ "slots": slots })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateBody {
    plugin: String,
    version: String,
    /// The configuration; the manifest's default when absent.
    #[serde(default)]
    config: Option<serde_json::Value>,
}

async fn activate_slot(
    State(state): State<AppState>,
    caller: Caller,
    Path(slot): Path<String>,
    body: Result<Json<ActivateBody>, JsonRejection>,
) -> ApiResult<Json<crate::registry::Activated>> {
    caller.require(Action::ActivatePlugins)?;
    let Json(body) = body?;
    let registry = state.registry.clone();
    let actor = caller.actor();
    let done = registry_call(move || {
        registry.activate(&slot, &body.plugin, &body.version, body.config, &actor)
    })
    .await?;
    Ok(Json(done))
}

async fn rollback_slot(
    State(state): State<AppState>,
    caller: Caller,
    Path(slot): Path<String>,
) -> ApiResult<Json<crate::registry::Activated>> {
    caller.require(Action::ActivatePlugins)?;
    let registry = state.registry.clone();
    let actor = caller.actor();
    Ok(Json(
        registry_call(move || registry.rollback(&slot, &actor)).await?,
    ))
}

async fn deactivate_slot(
    State(state): State<AppState>,
    caller: Caller,
    Path(slot): Path<String>,
) -> ApiResult<Json<crate::registry::SlotInfo>> {
    caller.require(Action::ActivatePlugins)?;
    let registry = state.registry.clone();
    let actor = caller.actor();
    Ok(Json(
        registry_call(move || registry.deactivate(&slot, &actor)).await?,
    ))
}

/// Serve until Ctrl-C / SIGTERM, then finish in-flight requests.
pub async fn run(listen: SocketAddr, state: AppState) -> anyhow::Result<()> {
    // Record automatic rollbacks (a new version failing too often) within
    // half a second, in the slots and the audit log.
    let registry = state.registry.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tick.tick().await;
            let r = registry.clone();
            match tokio::task::spawn_blocking(move || r.sync_auto_rollbacks()).await {
                Ok(Ok(slots)) if !slots.is_empty() => {
                    tracing::warn!(?slots, "automatic rollback recorded");
                }
                Ok(Err(e)) => tracing::error!(error = %e, "recording automatic rollbacks failed"),
                _ => {}
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another server using that port? pick one with --listen"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "switchboard is listening; try: curl http://{local}/healthz");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
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
