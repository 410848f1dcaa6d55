//! Tokens: who am I, create, list, revoke.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Body, Caller, Id, Problem, created};
use crate::auth::{Action, NewToken, Role, TokenInfo};

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct WhoAmI {
    /// The token's id (the audit log names it `token:<id>`).
    id: String,
    role: Role,
    label: String,
    /// For an agent's own token: the agent it acts as.
    agent_id: Option<String>,
    /// The actions this role may take, e.g. `read_floor`, `activate_plugins`.
    may: Vec<String>,
}

/// The calling token's id, role and what it may do (for consoles and
/// scripts that adapt to the role).
#[utoipa::path(get, path = "/v1/whoami", tag = "tokens",
    responses((status = 200, description = "The caller", body = WhoAmI)),
    extensions(("x-roles" = json!(Role::ALL))))]
pub(super) async fn whoami(caller: Caller) -> Json<WhoAmI> {
    let t = caller.0;
    Json(WhoAmI {
        may: crate::auth::Action::ALL
            .iter()
            .filter(|a| t.role.allows(**a))
            .map(|a| a.name().to_owned())
            .collect(),
        id: t.id,
        role: t.role,
        label: t.label,
        agent_id: t.agent_id,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenBody {
    role: Role,
    /// Who or what holds it, e.g. "desk 12", "crm-integration".
    #[serde(default)]
    label: String,
    /// For agent tokens: the agent the token acts as.
    #[serde(default)]
    agent_id: Option<String>,
}

/// Create a token. The response carries its full text once; it cannot be
/// shown again.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens",
    request_body = TokenBody,
    responses(
        (status = 201, description = "Created", body = NewToken),
        (status = 422, description = "Invalid (e.g. agent_id on a non-agent token)", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageTokens.roles()))))]
pub(super) async fn create_token(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageTokens>,
    Body(body): Body<TokenBody>,
) -> ApiResult<Response> {
    if body.agent_id.is_some() && body.role != Role::Agent {
        return Err(ApiError::invalid(format!(
            "`agent_id` binds an agent's own token; a `{}` token cannot have one: drop `agent_id` or use role `agent`",
            body.role
        )));
    }
    let now = state.engine.now();
    let tokens = state.tokens.clone();
    let t = state
        .engine(move |_| {
            Ok(tokens.create(body.role, &body.label, body.agent_id.as_deref(), now)?)
        })
        .await?;
    state
        .audit_action(
            &caller,
            "token.create",
            &t.info.id,
            serde_json::json!({ "role": t.info.role, "label": t.info.label }),
        )
        .await?;
    Ok(created(t))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct TokenList {
    tokens: Vec<TokenInfo>,
}

/// The tokens (without their secrets).
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, description = "The tokens", body = TokenList)),
    extensions(("x-roles" = json!(Action::ManageTokens.roles()))))]
pub(super) async fn list_tokens(
    State(state): State<AppState>,
    _: Allowed<perm::ManageTokens>,
) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList {
        tokens: state.tokens.list(),
    }))
}

/// Revoke a token; it stops working at once, and the event streams opened
/// with it end.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such token", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageTokens.roles()))))]
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    caller: Allowed<perm::ManageTokens>,
    Id(id): Id<String>,
) -> ApiResult<StatusCode> {
    let who = id.clone();
    let tokens = state.tokens.clone();
    let found = state.engine(move |_| Ok(tokens.revoke(&who)?)).await?;
    if !found {
        return Err(ApiError::not_found(format!(
            "no token with id `{id}`; list them with GET /v1/tokens"
        )));
    }
    // Streams opened with it end now, before the revocation is acknowledged.
    state.streams.token_revoked();
    state
        .audit_action(&caller, "token.revoke", &id, serde_json::json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
