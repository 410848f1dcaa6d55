//! Contacts and their lifecycle events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{
    Allowed, ApiError, ApiResult, AppState, Body, Id, Params, Problem, created, next_after,
    page_limit,
};
use crate::auth::Action;
use crate::domain::{Channel, ContactState};
use crate::engine::{
    ContactEvent, ContactFilter, ContactRecord, CustomerContext, EngineError, EventKind, Ingested,
    NewContact, RecordedEvent,
};

/// Create a contact: it is routed by the active routing policy, checked by
/// the escalation rules, counted by the KPI definitions, offered to an agent
/// when one is free, and durable when the response arrives.
#[utoipa::path(post, path = "/v1/contacts", tag = "contacts",
    request_body = NewContact,
    responses(
        (status = 201, description = "Created, with the routing decision and the offer if any", body = Ingested),
        (status = 422, description = "A value is out of range", body = Problem)),
    extensions(("x-roles" = json!(Action::WriteContacts.roles()))))]
pub(super) async fn create_contact(
    State(state): State<AppState>,
    _: Allowed<perm::WriteContacts>,
    Body(new): Body<NewContact>,
) -> ApiResult<Response> {
    let got = state.engine(move |e| e.ingest(new)).await?;
    Ok(created(got))
}

/// Which contacts to list; every given filter must match.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ContactParams {
    state: Option<ContactState>,
    queue: Option<String>,
    channel: Option<Channel>,
    /// Customer id.
    customer: Option<String>,
    /// Created at or after (ms since the epoch).
    from: Option<i64>,
    /// Created before (ms since the epoch).
    to: Option<i64>,
    /// Carrying this tag, e.g. `incident:inc-7`.
    tag: Option<String>,
    /// Marked as a complaint (`true`) or not (`false`).
    complaint: Option<bool>,
    /// Cursor: `next_after` of the previous page.
    after: Option<String>,
    /// Page size (default 100); larger than 1,000 gives 1,000, 0 gives 1.
    #[param(value_type = Option<u64>)]
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ContactPage {
    contacts: Vec<ContactRecord>,
    /// Pass as `after` for the next page; absent on the last page.
    next_after: Option<String>,
}

/// List contacts, oldest first, filtered and paged.
#[utoipa::path(get, path = "/v1/contacts", tag = "contacts",
    params(ContactParams),
    responses((status = 200, description = "A page of contacts", body = ContactPage)),
    extensions(("x-roles" = json!(Action::ReadContacts.roles()))))]
pub(super) async fn list_contacts(
    State(state): State<AppState>,
    _: Allowed<perm::ReadContacts>,
    Params(p): Params<ContactParams>,
) -> ApiResult<Json<ContactPage>> {
    let limit = page_limit(p.limit);
    let filter = ContactFilter {
        state: p.state,
        queue: p.queue,
        channel: p.channel,
        customer: p.customer,
        from: p.from,
        to: p.to,
        tag: p.tag,
        complaint: p.complaint,
        after: p.after,
    };
    let contacts = state
        .engine(move |e| e.list_contacts(&filter, limit))
        .await?;
    let next_after = next_after(&contacts, limit, |c| c.id.clone());
    Ok(Json(ContactPage {
        contacts,
        next_after,
    }))
}

/// One contact as the engine keeps it.
#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The contact", body = ContactRecord),
        (status = 404, description = "No such contact", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadContacts.roles()))))]
pub(super) async fn get_contact(
    State(state): State<AppState>,
    _: Allowed<perm::ReadContacts>,
    Id(id): Id<String>,
) -> ApiResult<Json<ContactRecord>> {
    let c = state
        .engine(move |e| e.contact(&id)?.ok_or_else(|| EngineError::no_contact(&id)))
        .await?;
    Ok(Json(c))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct EventList {
    events: Vec<RecordedEvent>,
}

/// A contact's events, in order.
#[utoipa::path(get, path = "/v1/contacts/{id}/events", tag = "contacts",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The events", body = EventList),
        (status = 404, description = "No such contact", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadContacts.roles()))))]
pub(super) async fn list_events(
    State(state): State<AppState>,
    _: Allowed<perm::ReadContacts>,
    Id(id): Id<String>,
) -> ApiResult<Json<EventList>> {
    let events = state
        .engine(move |e| {
            if e.contact(&id)?.is_none() {
                return Err(EngineError::no_contact(&id));
            }
            e.events(&id)
        })
        .await?;
    Ok(Json(EventList { events }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct EventPosted {
    /// The contact after the event (and the rules' reactions to it).
    contact: ContactRecord,
    event: RecordedEvent,
    /// `[contact id, agent id]` offers the event made possible (an agent's
    /// capacity freed up, or this contact is waiting again).
    #[schema(schema_with = super::openapi::offer_pairs)]
    offers: Vec<(String, String)>,
}

/// Record a lifecycle event (offer, answer, hold, resume, transfer,
/// wrap-up, resolve, abandon, message, survey, ...). Illegal transitions
/// are refused with 409 and change nothing. An agent's own token (one
/// with an `agent_id`) may offer only to its agent and record events only
/// on contacts offered to or handled by its agent (403 otherwise).
#[utoipa::path(post, path = "/v1/contacts/{id}/events", tag = "contacts",
    params(("id" = String, Path, description = "Contact id")),
    request_body = ContactEvent,
    responses(
        (status = 200, description = "Recorded", body = EventPosted),
        (status = 404, description = "No such contact", body = Problem),
        (status = 409, description = "Not allowed in the contact's state", body = Problem),
        (status = 422, description = "A value is out of range, or the event is older than the contact's latest", body = Problem)),
    extensions(("x-roles" = json!(Action::WriteContacts.roles()))))]
pub(super) async fn post_event(
    State(state): State<AppState>,
    caller: Allowed<perm::WriteContacts>,
    Id(id): Id<String>,
    Body(event): Body<ContactEvent>,
) -> ApiResult<Json<EventPosted>> {
    // An agent's own token acts as that agent only: it offers to itself
    // and handles the contacts it was offered.
    if let EventKind::Offer { agent_id } = &event.kind {
        caller.require_agent(agent_id)?;
    } else if let Some(own) = caller.own_agent().map(str::to_owned) {
        let which = id.clone();
        let contact = state
            .engine(move |e| {
                e.contact(&which)?
                    .ok_or_else(|| EngineError::no_contact(&which))
            })
            .await?;
        if let Some(assigned) = contact.agent_id.filter(|a| *a != own) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this token acts as agent `{own}`; contact `{id}` is with agent `{assigned}`, so only they (or a supervisor) may record its events"
                ),
            ));
        }
    }
    let (contact, event, offers) = state
        .engine(move |e| e.record_event_and_offer(&id, event))
        .await?;
    Ok(Json(EventPosted {
        contact,
        event,
        offers,
    }))
}

/// What the agent should know before answering: the customer's recent
/// contacts across channels (with their tags and survey answers), open
/// complaints with their running clocks, the agents who handled them
/// before, the last survey answer, and this contact's tags and collected
/// attributes, so the customer never has to repeat themselves.
#[utoipa::path(get, path = "/v1/contacts/{id}/context", tag = "contacts",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 200, description = "The customer context", body = CustomerContext),
        (status = 404, description = "No such contact", body = Problem)),
    extensions(("x-roles" = json!(Action::ReadContacts.roles()))))]
pub(super) async fn customer_context(
    State(state): State<AppState>,
    _: Allowed<perm::ReadContacts>,
    Id(id): Id<String>,
) -> ApiResult<Json<CustomerContext>> {
    Ok(Json(state.engine(move |e| e.customer_context(&id)).await?))
}
