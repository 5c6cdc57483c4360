//! The routes of the API and their handlers: reads are open (behind the `Host` check),
//! every mutation needs the token, a writable server and a running processor.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use super::auth::{bearer_token, constant_time_eq, HostPolicy};
use super::failure::ApiFailure;
use super::metrics::{self, Metrics};
use super::sse;
use crate::api::query::{parse_message_page, parse_snapshot_queries};
use crate::api::wire::{
    ActionResult, EventKind, FileDetail, FileKind, ProcessorState, RequeueRequest, Snapshot,
};
use crate::processor::control::Handle;
use crate::processor::dirs::{resolve_regular_file, validate_file_name, ResolveError};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// What every handler shares.
pub struct Shared {
    pub handle: Handle,
    pub token: String,
    pub read_only: bool,
    pub hosts: HostPolicy,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    /// `/healthz`: a thread silent for longer than this is wedged.
    pub liveness_limit: std::time::Duration,
}

type AppState = Arc<Shared>;
pub(super) type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;
type ApiResult<T> = Result<Json<T>, ApiFailure>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/retry/{name}", get(retry_detail))
        .route("/api/v1/stuck/{name}", get(stuck_detail))
        .route("/api/v1/discarded/{name}", get(discarded_detail))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/history", get(super::history::history))
        .route("/api/v1/rollups", get(super::history::rollups))
        .route("/api/v1/pause", post(pause))
        .route("/api/v1/resume", post(resume))
        .route("/api/v1/flush", post(flush))
        .route("/api/v1/resync", post(resync))
        .route("/api/v1/retry/{name}/requeue", post(requeue))
        .route("/api/v1/causes", get(super::bulk::causes))
        .route("/api/v1/find", get(super::find::find))
        .route("/api/v1/batches/{id}/messages", get(super::find::batch_messages))
        .route("/api/v1/bulk/select", get(super::bulk::select))
        .route("/api/v1/bulk/preview", post(super::bulk::preview))
        .route("/api/v1/bulk/action", post(super::bulk::action))
        .route("/metrics", get(prometheus))
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(state.clone(), host_guard))
        .with_state(state)
}

async fn host_guard(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).map(|v| v.as_bytes());
    match s.hosts.check(host) {
        Ok(()) => next.run(request).await,
        Err(message) => ApiFailure::forbidden(message).into_response(),
    }
}

async fn unknown_path(method: Method, uri: Uri) -> ApiFailure {
    ApiFailure::not_found(format!("no such API path: {method} {:?}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiFailure {
    ApiFailure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {:?}", uri.path()),
    )
}

pub(super) fn query_pairs(pairs: Pairs) -> Result<Vec<(String, String)>, ApiFailure> {
    pairs
        .map(|Query(p)| p)
        .map_err(|e| ApiFailure::bad_request(format!("bad query string: {}", e.body_text())))
}

fn file_name(path: Result<Path<String>, PathRejection>) -> Result<String, ApiFailure> {
    let Path(name) =
        path.map_err(|e| ApiFailure::bad_request(format!("bad file name: {}", e.body_text())))?;
    validate_file_name(&name).map_err(|e| ApiFailure::bad_request(e.to_string()))?;
    Ok(name)
}

async fn snapshot(State(s): State<AppState>, pairs: Pairs) -> ApiResult<Snapshot> {
    let q = parse_snapshot_queries(&query_pairs(pairs)?).map_err(ApiFailure::bad_request)?;
    Ok(Json(s.handle.snapshot_with(&q.retry, &q.stuck, &q.discarded)))
}

async fn retry_detail(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    pairs: Pairs,
) -> ApiResult<FileDetail> {
    detail(s, FileKind::Retry, path, pairs).await
}

async fn stuck_detail(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    pairs: Pairs,
) -> ApiResult<FileDetail> {
    detail(s, FileKind::Stuck, path, pairs).await
}

async fn discarded_detail(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    pairs: Pairs,
) -> ApiResult<FileDetail> {
    detail(s, FileKind::Discarded, path, pairs).await
}

async fn detail(
    s: AppState,
    kind: FileKind,
    path: Result<Path<String>, PathRejection>,
    pairs: Pairs,
) -> ApiResult<FileDetail> {
    let name = file_name(path)?;
    let (offset, limit) = parse_message_page(&query_pairs(pairs)?).map_err(ApiFailure::bad_request)?;
    let handle = s.handle.clone();
    let read = move || {
        let dir = match kind {
            FileKind::Retry => &handle.dirs.retry,
            FileKind::Stuck => &handle.dirs.stuck,
            FileKind::Discarded => &handle.dirs.discarded,
        };
        match resolve_regular_file(dir, &name).map_err(resolve_failure)? {
            None => Err(ApiFailure::not_found(format!(
                "no {} file named {name:?}",
                kind.as_str()
            ))),
            Some(_) => Ok(handle.file_detail(kind, &name, offset, limit)?),
        }
    };
    let detail = tokio::task::spawn_blocking(read).await.map_err(|e| {
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the file failed: {e}"),
        )
    })??;
    Ok(Json(detail))
}

fn resolve_failure(e: ResolveError) -> ApiFailure {
    match e {
        ResolveError::BadName(e) => ApiFailure::bad_request(e.to_string()),
        ResolveError::NotRegular(m) => ApiFailure::bad_request(m),
        ResolveError::Io(m) => ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

fn last_event_id(headers: &HeaderMap, pairs: Vec<(String, String)>) -> Result<Option<u64>, ApiFailure> {
    let mut from_query = None;
    for (name, value) in pairs {
        if name != "last_event_id" {
            return Err(ApiFailure::bad_request(format!(
                "unknown query parameter `{name}`; known: last_event_id"
            )));
        }
        from_query = Some(value);
    }
    let header = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("\u{fffd}").trim());
    // A reconnecting browser sends the header; the query is what the first request asked.
    let given = header
        .map(str::to_string)
        .or(from_query)
        .filter(|v| !v.is_empty());
    given
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiFailure::bad_request(format!("Last-Event-ID {v:?} is not an event id")))
        })
        .transpose()
}

async fn events(State(s): State<AppState>, headers: HeaderMap, pairs: Pairs) -> Result<Response, ApiFailure> {
    let after = last_event_id(&headers, query_pairs(pairs)?)?;
    let follower = sse::Follower::new(s.handle.telemetry.clone(), after, s.shutdown.clone());
    Ok(sse::response(follower).into_response())
}

async fn prometheus(State(s): State<AppState>) -> Result<Response, ApiFailure> {
    let text = s.metrics.render().map_err(|e| {
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the metrics: {e}"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

impl Shared {
    /// Token (401), then a writable server (403), then a processor that is not stopping (503).
    pub(super) fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiFailure> {
        let unauthorized = |m: &str| ApiFailure::new(StatusCode::UNAUTHORIZED, m);
        let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
            unauthorized(
                "this call changes the processor and needs its control token: \
                 send `Authorization: Bearer <token>` with the token from <root>/control/token",
            )
        })?;
        let token = bearer_token(value.as_bytes())
            .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?;
        if !constant_time_eq(token, self.token.as_bytes()) {
            return Err(unauthorized(
                "wrong control token (a new one is made at each start: read <root>/control/token again)",
            ));
        }
        if self.read_only {
            return Err(ApiFailure::forbidden(
                "this processor's API is read-only (started with --read-only-api): it refuses every change",
            ));
        }
        let state = self.handle.telemetry.state();
        if self.shutdown.is_cancelled() || matches!(state, ProcessorState::Draining | ProcessorState::Stopped)
        {
            return Err(ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the processor is shutting down ({}); try again once it runs",
                    state.as_str()
                ),
            ));
        }
        Ok(())
    }
}

/// The body, refused past [`MAX_BODY`] before reading it when its length is declared.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiFailure> {
    let too_large = || {
        ApiFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over the {} KiB limit", MAX_BODY / 1024),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| too_large())
}

fn origin(peer: SocketAddr) -> String {
    format!("api {peer}")
}

async fn mutation(s: &Shared, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiFailure> {
    s.authorize(headers)?;
    read_body(headers, body).await
}

async fn pause(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<ActionResult> {
    mutation(&s, &headers, body).await?;
    Ok(Json(s.handle.pause(&origin(peer))))
}

async fn resume(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<ActionResult> {
    mutation(&s, &headers, body).await?;
    Ok(Json(s.handle.resume(&origin(peer))))
}

async fn flush(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<ActionResult> {
    mutation(&s, &headers, body).await?;
    Ok(Json(s.handle.flush(&origin(peer)).await?))
}

async fn resync(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<ActionResult> {
    mutation(&s, &headers, body).await?;
    Ok(Json(s.handle.resync(&origin(peer)).await?))
}

/// A link (or anything but a regular file) under the name in `retry/` or `stuck/` is
/// refused here, before the committer sees the name.
async fn refuse_links(handle: &Handle, name: &str, origin: &str) -> Result<(), ApiFailure> {
    let dirs = [handle.dirs.retry.clone(), handle.dirs.stuck.clone()];
    let owned = name.to_string();
    let check = move || {
        dirs.iter()
            .try_for_each(|dir| resolve_regular_file(dir, &owned).map(|_| ()))
    };
    let result = tokio::task::spawn_blocking(check).await.map_err(|e| {
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("checking the file failed: {e}"),
        )
    })?;
    let Err(e) = result else { return Ok(()) };
    let failure = resolve_failure(e);
    handle.telemetry.emit(EventKind::OperatorAction {
        action: "requeue".into(),
        target: Some(format!("{name:?}")),
        origin: origin.to_string(),
        outcome: format!("refused: {}", failure.message),
    });
    Err(failure)
}

async fn requeue(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Body,
) -> ApiResult<ActionResult> {
    let bytes = mutation(&s, &headers, body).await?;
    let name = file_name(path)?;
    let request: RequeueRequest = if bytes.trim_ascii().is_empty() {
        RequeueRequest::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiFailure::bad_request(format!("the body is not a requeue request: {e}")))?
    };
    let origin = origin(peer);
    refuse_links(&s.handle, &name, &origin).await?;
    Ok(Json(s.handle.requeue(&name, request.attempts, &origin).await?))
}
