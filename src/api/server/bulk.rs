//! The triage routes: files grouped by cause (`GET /api/v1/causes`), the exact set a
//! selection names (`GET /api/v1/bulk/select`, a read for the console's mark-all, and
//! `POST /api/v1/bulk/preview`, token-guarded), and `POST /api/v1/bulk/action`, which acts
//! on exactly the set it is given. Sets above `wire::MAX_BULK_FILES` files are refused (413).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use sha2::{Digest, Sha256};

use super::failure::ApiFailure;
use super::routes::{query_pairs, Pairs, Shared};
use crate::api::wire::{
    BulkAction, BulkPreview, BulkRequest, BulkResult, BulkSelection, BulkSource, CauseList, SetEntry,
    MAX_BULK_FILES,
};
use crate::processor::fileops::ActionOrigin;

/// Largest body of a bulk request: room for [`MAX_BULK_FILES`] entries with their causes.
pub const MAX_BULK_BODY: usize = 96 * 1024 * 1024;

type AppState = Arc<Shared>;
type ApiResult<T> = Result<Json<T>, ApiFailure>;

/// A short id of the control token, recorded with an action (never the token itself).
pub fn token_id(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..4])
}

fn too_many(n: usize) -> ApiFailure {
    ApiFailure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the set has {n} files, over the limit of {MAX_BULK_FILES} per action; \
             narrow it with a filter or a cause and act in several steps"
        ),
    )
}

fn parse_source(v: &str) -> Result<BulkSource, ApiFailure> {
    match v {
        "retry" => Ok(BulkSource::Retry),
        "stuck" => Ok(BulkSource::Stuck),
        "discarded" => Ok(BulkSource::Discarded),
        _ => Err(ApiFailure::bad_request(format!(
            "{v:?} is not one of retry, stuck, discarded"
        ))),
    }
}

fn parse_action(v: &str) -> Result<BulkAction, ApiFailure> {
    match v {
        "requeue" => Ok(BulkAction::Requeue),
        "discard" => Ok(BulkAction::Discard),
        "restore" => Ok(BulkAction::Restore),
        "purge" => Ok(BulkAction::Purge),
        _ => Err(ApiFailure::bad_request(format!(
            "{v:?} is not one of requeue, discard, restore, purge"
        ))),
    }
}

/// `GET /api/v1/causes?kind=retry|stuck|discarded[&filter=S]`.
pub async fn causes(State(s): State<AppState>, pairs: Pairs) -> ApiResult<CauseList> {
    let mut source = BulkSource::Retry;
    let mut filter = None;
    for (name, value) in query_pairs(pairs)? {
        match name.as_str() {
            "kind" => source = parse_source(&value)?,
            "filter" => filter = Some(value).filter(|v| !v.is_empty()),
            _ => {
                return Err(ApiFailure::bad_request(format!(
                    "unknown query parameter `{name}`; known: kind, filter"
                )))
            }
        }
    }
    let handle = s.handle.clone();
    let list = tokio::task::spawn_blocking(move || handle.causes(source, filter.as_deref()))
        .await
        .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(list))
}

/// `GET /api/v1/bulk/select?action=A&source=S[&filter=F][&cause=ID][&older_than_days=N]`:
/// the set every file of a filter or cause makes now (a read: watch mode may mark too).
pub async fn select(State(s): State<AppState>, pairs: Pairs) -> ApiResult<BulkPreview> {
    let mut sel = BulkSelection {
        action: BulkAction::Requeue,
        source: BulkSource::Retry,
        names: Vec::new(),
        filter: None,
        cause: None,
        older_than_days: None,
    };
    for (name, value) in query_pairs(pairs)? {
        match name.as_str() {
            "action" => sel.action = parse_action(&value)?,
            "source" => sel.source = parse_source(&value)?,
            "filter" => sel.filter = Some(value).filter(|v| !v.is_empty()),
            "cause" => sel.cause = Some(value).filter(|v| !v.is_empty()),
            "older_than_days" => {
                sel.older_than_days = Some(value.parse().map_err(|_| {
                    ApiFailure::bad_request(format!("older_than_days {value:?} is not a number of days"))
                })?)
            }
            _ => {
                return Err(ApiFailure::bad_request(format!(
                    "unknown query parameter `{name}`; known: action, source, filter, cause, older_than_days"
                )))
            }
        }
    }
    preview_of(&s, sel).await
}

async fn preview_of(s: &Shared, sel: BulkSelection) -> ApiResult<BulkPreview> {
    if sel.names.len() > MAX_BULK_FILES {
        return Err(too_many(sel.names.len()));
    }
    crate::processor::bulk::check_applies(sel.action, sel.source).map_err(ApiFailure::bad_request)?;
    let handle = s.handle.clone();
    let preview = tokio::task::spawn_blocking(move || handle.preview(&sel))
        .await
        .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    preview.map(Json).map_err(too_many)
}

async fn read_big_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiFailure> {
    let too_large = || {
        ApiFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is over the {} MiB limit of a bulk request (at most {MAX_BULK_FILES} files)",
                MAX_BULK_BODY / (1024 * 1024)
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BULK_BODY as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_BULK_BODY)
        .await
        .map_err(|_| too_large())
}

/// `POST /api/v1/bulk/preview` (token): body `wire::BulkSelection`.
pub async fn preview(State(s): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult<BulkPreview> {
    s.authorize(&headers)?;
    let bytes = read_big_body(&headers, body).await?;
    let sel: BulkSelection = serde_json::from_slice(&bytes)
        .map_err(|e| ApiFailure::bad_request(format!("the body is not a bulk selection: {e}")))?;
    preview_of(&s, sel).await
}

/// `POST /api/v1/bulk/action` (token): body `wire::BulkRequest`; answers when done.
pub async fn action(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<BulkResult> {
    s.authorize(&headers)?;
    let bytes = read_big_body(&headers, body).await?;
    let request = lean_request(&bytes)?;
    // The body (tens of MiB for 100,000 files) is not kept while the action runs.
    drop(bytes);
    if request.set.len() > MAX_BULK_FILES {
        return Err(too_many(request.set.len()));
    }
    if request.note.as_ref().is_some_and(|n| n.len() > 4096) {
        return Err(ApiFailure::bad_request("the note is longer than 4096 bytes"));
    }
    let origin = ActionOrigin {
        by: format!("api {peer}"),
        peer: Some(peer.to_string()),
        token_id: Some(token_id(&s.token)),
    };
    Ok(Json(s.handle.bulk(request, origin).await?))
}

/// A set entry as the action reads it: the cause a preview sends along is for the
/// operator, not the action, and would be 100,000 strings held for its whole run.
#[derive(serde::Deserialize)]
struct LeanEntry {
    name: String,
    version: String,
    #[serde(default)]
    messages: u64,
}

#[derive(serde::Deserialize)]
struct LeanRequest {
    action: BulkAction,
    source: BulkSource,
    set: Vec<LeanEntry>,
    #[serde(default)]
    note: Option<String>,
}

fn lean_request(bytes: &[u8]) -> Result<BulkRequest, ApiFailure> {
    let lean: LeanRequest = serde_json::from_slice(bytes)
        .map_err(|e| ApiFailure::bad_request(format!("the body is not a bulk request: {e}")))?;
    Ok(BulkRequest {
        action: lean.action,
        source: lean.source,
        set: lean
            .set
            .into_iter()
            .map(|e| SetEntry {
                name: e.name,
                version: e.version,
                messages: e.messages,
                cause_id: String::new(),
                cause: String::new(),
            })
            .collect(),
        note: lean.note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_id_is_short_stable_and_not_the_token() {
        let token = "ab".repeat(32);
        let id = token_id(&token);
        assert_eq!(id.len(), 8);
        assert_eq!(id, token_id(&token));
        assert!(!token.contains(&id));
        assert_ne!(id, token_id(&"cd".repeat(32)));
    }
}
