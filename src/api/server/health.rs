//! `GET /healthz` (alive: the committer and intake threads run and make progress) and
//! `GET /readyz` (ready: the database is reachable and the processor is not draining;
//! paused is ready). No token; answered from memory, never by touching the database.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::routes::Shared;
use crate::api::wire::{HealthStatus, ProcessorState};
use crate::processor::telemetry::{rfc3339, Telemetry};

fn answer(verdict: Result<(), (String, Option<String>)>) -> Response {
    match verdict {
        Ok(()) => (
            StatusCode::OK,
            Json(HealthStatus {
                status: "ok".into(),
                reason: None,
                since: None,
            }),
        )
            .into_response(),
        Err((reason, since)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthStatus {
                status: "unavailable".into(),
                reason: Some(reason),
                since,
            }),
        )
            .into_response(),
    }
}

/// Alive: both threads beat within `limit`.
pub fn liveness(telemetry: &Telemetry, limit: Duration) -> Result<(), String> {
    telemetry.health.all_alive(limit)
}

/// Ready: running or paused (not starting, draining or stopped), and the database reachable.
pub fn readiness(telemetry: &Telemetry, shutting_down: bool) -> Result<(), (String, Option<String>)> {
    let state = telemetry.state();
    if shutting_down || matches!(state, ProcessorState::Draining | ProcessorState::Stopped) {
        return Err((
            format!("the processor is shutting down ({})", state.as_str()),
            None,
        ));
    }
    if state == ProcessorState::Starting || !telemetry.health.has_scanned() {
        return Err(("the processor is starting".into(), None));
    }
    if let Some(problem) = telemetry.health.database_problem() {
        return Err((
            format!("database unreachable: {}", problem.reason),
            Some(rfc3339(problem.since)),
        ));
    }
    Ok(())
}

pub async fn healthz(State(s): State<Arc<Shared>>) -> Response {
    answer(liveness(&s.handle.telemetry, s.liveness_limit).map_err(|r| (r, None)))
}

pub async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    answer(readiness(&s.handle.telemetry, s.shutdown.is_cancelled()))
}
