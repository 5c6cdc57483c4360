//! The triage routes: files grouped by cause (`GET /api/v1/causes`), the exact set a
//! selection names (`GET /api/v1/bulk/select`, a read for the console's mark-all, and
//! `POST /api/v1/bulk/preview`, token-guarded), and `POST /api/v1/bulk/action`, which acts
//! on exactly the set it is given. Sets above `wire::MAX_BULK_FILES` files are refused (413).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest, Sha256};

use super::failure::ApiFailure;
use super::routes::{query_pairs, Pairs, Shared};
use crate::api::wire::{BulkAction, BulkResult, BulkSelection, BulkSource, CauseList, MAX_BULK_FILES};
use crate::processor::exact_set::{BulkOrder, PreviewSet};
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
pub async fn select(State(s): State<AppState>, pairs: Pairs) -> Result<Response, ApiFailure> {
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

async fn preview_of(s: &Shared, sel: BulkSelection) -> Result<Response, ApiFailure> {
    if sel.names.len() > MAX_BULK_FILES {
        return Err(too_many(sel.names.len()));
    }
    crate::processor::bulk::check_applies(sel.action, sel.source).map_err(ApiFailure::bad_request)?;
    let handle = s.handle.clone();
    let preview = tokio::task::spawn_blocking(move || handle.preview(&sel))
        .await
        .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    preview.map(streamed).map_err(too_many)
}

/// Set entries written per chunk of a streamed preview.
const ENTRIES_PER_CHUNK: usize = 1000;

/// A preview as a `wire::BulkPreview` JSON body, written in chunks as the client reads
/// them: 100,000 entries never exist at once, neither as values nor as one buffer.
fn streamed(preview: PreviewSet) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::task::spawn_blocking(move || {
        write_preview(&preview, ENTRIES_PER_CHUNK, |chunk| {
            tx.blocking_send(Ok(Bytes::from(chunk))).is_ok()
        });
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Writes `preview` as the JSON of its `wire::BulkPreview`, `per_chunk` set entries at a
/// time, until `emit` answers false (the client went away).
fn write_preview(preview: &PreviewSet, per_chunk: usize, mut emit: impl FnMut(Vec<u8>) -> bool) {
    let mut out = serde_json::to_vec(&preview.head).expect("a preview serializes");
    // `set` is the last field, written empty by the head: open it instead.
    let tail = b"[]}";
    assert!(out.ends_with(tail), "the preview's last field is its set");
    out.truncate(out.len() - tail.len());
    out.push(b'[');
    for (i, item) in preview.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &item.to_entry()).expect("a set entry serializes");
        if (i + 1) % per_chunk == 0 && !emit(std::mem::take(&mut out)) {
            return;
        }
    }
    out.extend_from_slice(b"]}");
    emit(out);
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
pub async fn preview(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiFailure> {
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

fn lean_request(bytes: &[u8]) -> Result<BulkOrder, ApiFailure> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiFailure::bad_request(format!("the body is not a bulk request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_preview_is_the_json_of_the_whole_preview() {
        use crate::processor::exact_set::SetItem;
        use crate::processor::file_index::Cause;
        let causes = [
            std::sync::Arc::new(Cause {
                text: "rejected by a database trigger: site <v> closed".into(),
                id: "0123456789ab".into(),
            }),
            std::sync::Arc::new(Cause {
                text: "database is locked \"quoted\"".into(),
                id: "ba9876543210".into(),
            }),
        ];
        let items: Vec<SetItem> = (0..2_345u64)
            .map(|i| SetItem {
                name: format!("20261127T100000.000-{i:06}-1.batch").into(),
                attempts: 20,
                messages: 1 + i % 3,
                created: std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(i * 1_001),
                cause: causes[(i % 2) as usize].clone(),
            })
            .collect();
        for (items, missing) in [(items, vec!["gone.batch".to_string()]), (Vec::new(), Vec::new())] {
            let p = PreviewSet::new(BulkAction::Requeue, BulkSource::Stuck, items, missing);
            let mut chunks = Vec::new();
            write_preview(&p, 1000, |c| {
                chunks.push(c);
                true
            });
            let whole = serde_json::to_vec(&p.into_preview()).unwrap();
            assert_eq!(chunks.concat(), whole);
            assert!(chunks.len() <= 4, "{} chunks", chunks.len());
        }
    }

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
