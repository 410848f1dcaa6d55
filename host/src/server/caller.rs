//! Who is calling: the bearer token, resolved to its role.

use axum::http::StatusCode;

use super::{ApiError, ApiResult, AppState};
use crate::auth::{Action, AuthError, Role, TokenInfo};

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
        (self.0.role == Role::Agent)
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
            .and_then(bearer_token)
            .ok_or(AuthError::Invalid)?;
        Ok(Caller(state.tokens.authenticate(token)?))
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 7235).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// An action a handler needs, as a type: `Allowed<perm::ReadFloor>`.
pub trait Permission {
    const ACTION: Action;
}

/// The permissions, one type per [`Action`].
pub mod perm {
    use crate::auth::Action;

    macro_rules! permissions {
        ($($name:ident),* $(,)?) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl super::Permission for $name {
                const ACTION: Action = Action::$name;
            }
        )*};
    }

    permissions!(
        WriteContacts,
        ReadContacts,
        ManageFloor,
        ReadFloor,
        UploadPlugins,
        ActivatePlugins,
        ReadPlugins,
        ReadAudit,
        ApproveDrafts,
        ManageTokens,
        Backup,
    );
}

/// A caller whose role allows `P`. Extracted before the path, query and
/// body, so a caller without the role gets 403 whatever else is wrong
/// with the request (and learns nothing more).
#[derive(Debug)]
pub struct Allowed<P: Permission>(pub Caller, std::marker::PhantomData<P>);

impl<P: Permission> std::ops::Deref for Allowed<P> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<P: Permission> axum::extract::FromRequestParts<AppState> for Allowed<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(P::ACTION)?;
        Ok(Allowed(caller, std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for h in [
            "Bearer sb_1_2",
            "bearer sb_1_2",
            "BEARER  sb_1_2 ",
            "BeArEr sb_1_2",
        ] {
            assert_eq!(bearer_token(h), Some("sb_1_2"), "{h}");
        }
        for h in ["Basic sb_1_2", "Bearersb_1_2", "sb_1_2", ""] {
            assert_eq!(bearer_token(h), None, "{h}");
        }
    }
}
