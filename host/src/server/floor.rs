//! The floor: agents, queues, live stats, the SSE stream, notifications.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{
    Allowed, ApiError, ApiResult, AppState, Body, Id, Params, Problem, next_after, page_limit,
};
use crate::auth::Action;
use crate::domain::{Agent, AgentStatus, Queue};
use crate::engine::{Notification, QueueStats};

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct AgentList {
    /// Agents with their current load per channel.
    agents: Vec<Agent>,
    /// Contacts waiting in all queues.
    #[schema(value_type = u64)]
    waiting: usize,
}

/// Agents with their status and current load.
#[utoipa::path(get, path = "/v1/agents", tag = "floor",
    responses((status = 200, description = "The agents", body = AgentList)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn list_agents(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
) -> ApiResult<Json<AgentList>> {
    let (agents, waiting) = state.engine.floor();
    Ok(Json(AgentList { agents, waiting }))
}

/// One agent with their current load.
#[utoipa::path(get, path = "/v1/agents/{id}", tag = "floor",
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The agent", body = Agent),
        (status = 404, description = "No such agent", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn get_agent(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Id(id): Id<String>,
) -> ApiResult<Json<Agent>> {
    Ok(Json(state.engine.agent(&id)?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Offers {
    /// `[contact id, agent id]` pairs offered because of the change.
    #[schema(schema_with = super::openapi::offer_pairs)]
    offers: Vec<(String, String)>,
}

/// Create or replace an agent (skills 1-5, languages, channels and
/// capacity, teams, flags); waiting contacts they qualify for are offered.
#[utoipa::path(put, path = "/v1/agents/{id}", tag = "floor",
    params(("id" = String, Path, description = "Agent id")),
    request_body = Agent,
    responses(
        (status = 200, description = "Saved", body = Offers),
        (status = 404, description = "No agent id in the path (`/v1/agents/`)", body = Problem),
        (status = 422, description = "Invalid (e.g. proficiency out of 1-5, id differs from the path)", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn put_agent(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(id): Id<String>,
    Body(mut agent): Body<Agent>,
) -> ApiResult<Json<Offers>> {
    if agent.id.is_empty() {
        agent.id.clone_from(&id);
    }
    if agent.id != id {
        return Err(ApiError::invalid(format!(
            "the body's `id` ({}) differs from the path's ({id})",
            agent.id
        )));
    }
    let data = serde_json::to_value(&agent).unwrap_or_default();
    let offers = state.engine(move |e| e.upsert_agent(agent)).await?;
    state
        .audit_action(&caller, "agent.upsert", &id, data)
        .await?;
    Ok(Json(Offers { offers }))
}

/// Remove an agent. Refused (409) while they handle contacts.
#[utoipa::path(delete, path = "/v1/agents/{id}", tag = "floor",
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such agent", body = Problem),
        (status = 409, description = "The agent is handling contacts", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn delete_agent(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(id): Id<String>,
) -> ApiResult<StatusCode> {
    let who = id.clone();
    let agent = state.engine(move |e| e.delete_agent(&who)).await?;
    state
        .audit_action(&caller, "agent.delete", &id, &agent)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    status: AgentStatus,
    /// When the change happened (ms since the epoch); now when absent. Not
    /// earlier than the agent's current status began.
    #[serde(default)]
    #[schema(schema_with = crate::domain::bounds::schema::event_time)]
    occurred_at: Option<i64>,
}

/// Change an agent's status; when they become available, waiting contacts
/// are offered. KPI definitions see the change (occupancy, utilization).
#[utoipa::path(post, path = "/v1/agents/{id}/status", tag = "floor",
    params(("id" = String, Path, description = "Agent id")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "Changed", body = Offers),
        (status = 404, description = "No such agent", body = Problem),
        (status = 422, description = "`occurred_at` before the current status began", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn set_status(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(id): Id<String>,
    Body(body): Body<StatusBody>,
) -> ApiResult<Json<Offers>> {
    let status = body.status;
    let at = body.occurred_at.unwrap_or_else(|| state.engine.now());
    let who = id.clone();
    let offers = state
        .engine(move |e| e.set_agent_status_at(&who, status, Some(at)))
        .await?;
    state
        .audit_action(
            &caller,
            "agent.status",
            &id,
            serde_json::json!({ "status": status, "at": at }),
        )
        .await?;
    Ok(Json(Offers { offers }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct QueueList {
    queues: Vec<Queue>,
}

/// The queues.
#[utoipa::path(get, path = "/v1/queues", tag = "floor",
    responses((status = 200, description = "The queues", body = QueueList)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn list_queues(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
) -> ApiResult<Json<QueueList>> {
    Ok(Json(QueueList {
        queues: state.engine.queues(),
    }))
}

/// Create or replace a queue (priority, service-level target, selection
/// strategy).
#[utoipa::path(put, path = "/v1/queues/{name}", tag = "floor",
    params(("name" = String, Path, description = "Queue name")),
    request_body = Queue,
    responses(
        (status = 204, description = "Saved"),
        (status = 422, description = "Invalid (e.g. name differs from the path)", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn put_queue(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(name): Id<String>,
    Body(queue): Body<Queue>,
) -> ApiResult<StatusCode> {
    if queue.name != name {
        return Err(ApiError::invalid(format!(
            "the body's `name` ({}) differs from the path's ({name})",
            queue.name
        )));
    }
    let data = serde_json::to_value(&queue).unwrap_or_default();
    state.engine(move |e| e.upsert_queue(queue)).await?;
    state
        .audit_action(&caller, "queue.upsert", &name, data)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a queue. Refused (409) while contacts wait in it.
#[utoipa::path(delete, path = "/v1/queues/{name}", tag = "floor",
    params(("name" = String, Path, description = "Queue name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such queue", body = Problem),
        (status = 409, description = "Contacts wait in the queue", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn delete_queue(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageFloor>,
    Id(name): Id<String>,
) -> ApiResult<StatusCode> {
    let which = name.clone();
    let queue = state.engine(move |e| e.delete_queue(&which)).await?;
    state
        .audit_action(&caller, "queue.delete", &name, &queue)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A queue's live figures: waiting, oldest wait, agents available, service
/// level today.
#[utoipa::path(get, path = "/v1/queues/{name}/stats", tag = "floor",
    params(("name" = String, Path, description = "Queue name")),
    responses(
        (status = 200, description = "Live figures", body = QueueStats),
        (status = 404, description = "No such queue", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn queue_stats(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Id(name): Id<String>,
) -> ApiResult<Json<QueueStats>> {
    Ok(Json(state.engine(move |e| e.queue_stats(&name)).await?))
}

/// Server-Sent Events: a `contact` event (a [`crate::engine::LiveEvent`])
/// whenever a contact is created or changes, a `queues` event with every
/// queue's live figures each second, and `lagged` when this client fell
/// behind and skipped events. The stream ends when its token is revoked
/// (nothing is delivered after the revocation) and when the server stops.
#[utoipa::path(get, path = "/v1/stream", tag = "floor",
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = String)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn stream(
    State(state): State<AppState>,
    caller: Allowed<perm::ReadFloor>,
) -> ApiResult<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let rx = state.engine.subscribe();
    let tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let feed = Feed {
        engine: state.engine.clone(),
        tokens: state.tokens.clone(),
        token: caller.0.0.id.clone(),
        control: state.streams.watch(),
    };
    let events = futures_util::stream::unfold(
        (rx, tick, feed),
        |(mut rx, mut tick, mut feed)| async move {
            loop {
                let event = tokio::select! {
                    changed = feed.control.changed() => {
                        if changed.is_err() || !feed.may_continue() {
                            return None;
                        }
                        continue;
                    }
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
                        let queues: Vec<_> = feed.engine
                            .queues()
                            .iter()
                            .filter_map(|q| feed.engine.queue_stats(&q.name).ok())
                            .collect();
                        Event::default()
                            .event("queues")
                            .json_data(&queues)
                            .unwrap_or_default()
                    }
                };
                // A revocation that raced with this event wins: nothing
                // reaches a token after its revocation was acknowledged.
                if feed.control.has_changed().unwrap_or(true) && !feed.may_continue() {
                    return None;
                }
                return Some((Ok(event), (rx, tick, feed)));
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// What an open stream needs to decide whether it may go on.
struct Feed {
    engine: std::sync::Arc<crate::engine::Engine>,
    tokens: std::sync::Arc<crate::auth::TokenCache>,
    /// The id of the token the stream was opened with.
    token: String,
    control: tokio::sync::watch::Receiver<super::StreamSignal>,
}

impl Feed {
    /// Whether the server is not closing and the token still exists.
    fn may_continue(&mut self) -> bool {
        let signal = *self.control.borrow_and_update();
        !signal.closing && self.tokens.exists(&self.token)
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct NotificationParams {
    /// Cursor: `next_after` of the previous page (0 from the start).
    #[serde(default)]
    after: u64,
    /// Page size (default 100); larger than 1,000 gives 1,000, 0 gives 1.
    #[param(value_type = Option<u64>)]
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct NotificationPage {
    notifications: Vec<Notification>,
    next_after: Option<u64>,
}

/// Notifications the rules raised (supervisor pages, team and agent
/// alerts, deadline warnings), oldest first.
#[utoipa::path(get, path = "/v1/notifications", tag = "floor",
    params(NotificationParams),
    responses((status = 200, description = "A page of notifications", body = NotificationPage)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn notifications(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
    Params(p): Params<NotificationParams>,
) -> ApiResult<Json<NotificationPage>> {
    let limit = page_limit(p.limit);
    let notifications = state
        .engine(move |e| e.notifications(p.after, limit))
        .await?;
    let next_after = next_after(&notifications, limit, |n| n.id);
    Ok(Json(NotificationPage {
        notifications,
        next_after,
    }))
}
