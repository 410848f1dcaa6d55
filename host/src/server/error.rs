//! RFC 9457 problem responses, and how every error of the layers below
//! becomes one.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::engine::EngineError;
use crate::registry::RegistryError;

/// An API error: a status, a machine-readable kind and a message that says
/// how to fix the request.
#[derive(Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
    pub(super) kind: &'static str,
    pub(super) message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// An `application/problem+json` body (RFC 9457). `error` and `message`
/// repeat `type`'s last segment and `detail` for clients that predate the RFC.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:switchboard:problem:<error>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The HTTP status text.
    pub title: String,
    pub status: u16,
    /// What went wrong and how to fix the request.
    pub detail: String,
    /// The kind: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `request_timeout`, `illegal_transition`, `conflict`, `invalid`,
    /// `storage`, `internal`, `unavailable`.
    pub error: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            type_: format!("urn:switchboard:problem:{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("error").to_owned(),
            status: self.status.as_u16(),
            detail: self.message.clone(),
            error: self.kind.to_owned(),
            message: self.message,
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut res = (self.status, text).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
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
            AuthError::Unavailable(_) => {
                // The details go to the log, not to the client.
                tracing::error!(error = %e, "authentication failed on a storage fault");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage",
                    "the token store could not be read; nothing was done. Try again; the server log has the details",
                )
            }
            _ => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (status, kind) = match &e {
            EngineError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            EngineError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            EngineError::Transition(_) => (StatusCode::CONFLICT, "illegal_transition"),
            EngineError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
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
            RegistryError::Invalid(m) => ApiError::invalid(m),
            RegistryError::NotFound(m) => ApiError::not_found(m),
            RegistryError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            RegistryError::Store(s) => EngineError::Store(s).into(),
        }
    }
}

impl From<crate::replay::ReplayError> for ApiError {
    fn from(e: crate::replay::ReplayError) -> Self {
        match e {
            crate::replay::ReplayError::Invalid(m) => ApiError::invalid(m),
            crate::replay::ReplayError::NotFound(m) => ApiError::not_found(m),
            crate::replay::ReplayError::Store(s) => EngineError::Store(s).into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    /// Only a body already read reaches this (`server::Body` reads it and
    /// answers 408, 413 and 415 itself): what is left is bad JSON or a
    /// wrong shape.
    fn from(r: JsonRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
    }
}

impl ApiError {
    /// 408: the client went silent in the middle of its body.
    pub(super) fn body_timeout() -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body stopped arriving before it was complete; send the whole body without pausing",
        )
    }
}

/// Whether reading the body failed because the client went silent (the
/// edge's body read timeout), found anywhere in the error's causes.
pub(super) fn body_timed_out(r: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(r);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
    }
}
