//! The server's clock: wall time, or a simulated clock that moves only when
//! an operator (or `switchboard simulate`) moves it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::perm;
use super::{Allowed, ApiError, ApiResult, AppState, Body, Problem};
use crate::auth::Action;

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ClockView {
    /// The server's time, ms since the epoch.
    now: i64,
    /// Whether the clock is simulated (`serve --simulated-clock`).
    simulated: bool,
}

/// The server's time, and whether it is simulated.
#[utoipa::path(get, path = "/v1/clock", tag = "operations",
    responses((status = 200, description = "The clock", body = ClockView)),
    extensions(("x-roles" = json!(Action::ReadFloor.roles()))))]
pub(super) async fn get_clock(
    State(state): State<AppState>,
    _: Allowed<perm::ReadFloor>,
) -> Json<ClockView> {
    Json(ClockView {
        now: state.engine.now(),
        simulated: state.clock.is_some(),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetClock {
    /// The new time, ms since the epoch; not earlier than now.
    now: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ClockMoved {
    now: i64,
    /// Timers that came due and fired (re-matches, re-checks, deadlines).
    #[schema(value_type = u64)]
    timers_fired: usize,
    /// `[contact id, agent id]` offers made at the new time.
    offers: Vec<(String, String)>,
}

/// Move a simulated clock forward: timers that come due fire (in due-time
/// order, each at its due time) and waiting contacts are offered. Only on
/// a server started with `--simulated-clock`.
#[utoipa::path(post, path = "/v1/clock", tag = "operations",
    request_body = SetClock,
    responses(
        (status = 200, description = "Moved", body = ClockMoved),
        (status = 409, description = "The server runs on wall time", body = Problem),
        (status = 422, description = "The time is earlier than now", body = Problem)),
    extensions(("x-roles" = json!(Action::ManageFloor.roles()))))]
pub(super) async fn set_clock(
    State(state): State<AppState>,
    _: Allowed<perm::ManageFloor>,
    Body(body): Body<SetClock>,
) -> ApiResult<Json<ClockMoved>> {
    let Some(clock) = state.clock.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "this server runs on wall time; start it with `--simulated-clock <ms>` to move its clock",
        ));
    };
    clock.advance_to(body.now).map_err(|now| {
        ApiError::invalid(format!(
            "the clock is at {now}; it only moves forward (asked for {})",
            body.now
        ))
    })?;
    let now = body.now;
    let (timers_fired, offers) = state.engine(move |e| e.advance(now)).await?;
    Ok(Json(ClockMoved {
        now,
        timers_fired,
        offers,
    }))
}
