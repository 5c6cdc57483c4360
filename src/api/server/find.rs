//! `GET /api/v1/find` (where each uid is) and `GET /api/v1/batches/{id}/messages` (the
//! batch drill-down). Reads: open like the snapshot, allowed on a read-only server.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::failure::ApiFailure;
use super::routes::{query_pairs, Pairs, Shared};
use crate::api::query::parse_message_page;
use crate::api::wire::find::{BatchMessages, FindReport, MAX_BATCH_PAGE, MAX_FIND_UIDS};
use crate::processor::store::StoreError;

/// Longest uid accepted in a question (the longest string field a message may hold is
/// smaller than this by default).
const MAX_UID_BYTES: usize = 4096;

fn no_finder() -> ApiFailure {
    ApiFailure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "this processor has no database lookup (find and the batch drill-down are not available)",
    )
}

fn blocking_failed(e: tokio::task::JoinError) -> ApiFailure {
    ApiFailure::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the lookup failed: {e}"),
    )
}

/// The uids of `?uid=A&uid=B`: at least one, at most [`MAX_FIND_UIDS`], none empty.
pub fn parse_uids(pairs: Vec<(String, String)>) -> Result<Vec<String>, String> {
    let mut uids = Vec::new();
    for (name, value) in pairs {
        if name != "uid" {
            return Err(format!("unknown query parameter `{name}`; known: uid"));
        }
        if value.is_empty() {
            return Err("an empty uid was given".into());
        }
        if value.len() > MAX_UID_BYTES {
            return Err(format!(
                "a uid is {} bytes, over the limit of {MAX_UID_BYTES}",
                value.len()
            ));
        }
        uids.push(value);
    }
    if uids.is_empty() {
        return Err("no uid given: ask with ?uid=UID (repeat it for several)".into());
    }
    if uids.len() > MAX_FIND_UIDS {
        return Err(format!(
            "{} uids asked, at most {MAX_FIND_UIDS} per request",
            uids.len()
        ));
    }
    Ok(uids)
}

pub(super) async fn find(State(s): State<Arc<Shared>>, pairs: Pairs) -> Result<Json<FindReport>, ApiFailure> {
    let uids = parse_uids(query_pairs(pairs)?).map_err(ApiFailure::bad_request)?;
    let finder = s.handle.finder().ok_or_else(no_finder)?;
    let report = tokio::task::spawn_blocking(move || finder.find(&uids))
        .await
        .map_err(blocking_failed)?;
    Ok(Json(report))
}

pub(super) async fn batch_messages(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    pairs: Pairs,
) -> Result<Json<BatchMessages>, ApiFailure> {
    let Path(id) = path.map_err(|e| ApiFailure::bad_request(format!("bad batch id: {}", e.body_text())))?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiFailure::bad_request(format!("batch id {id:?} is not an integer")))?;
    let (offset, limit) = parse_message_page(&query_pairs(pairs)?).map_err(ApiFailure::bad_request)?;
    let limit = limit.min(MAX_BATCH_PAGE);
    let finder = s.handle.finder().ok_or_else(no_finder)?;
    let page = tokio::task::spawn_blocking(move || finder.batch_messages(id, offset, limit))
        .await
        .map_err(blocking_failed)?;
    match page {
        Ok(Some(page)) => Ok(Json(page)),
        Ok(None) => Err(ApiFailure::not_found(format!("no batch {id} in the database"))),
        Err(e @ StoreError::Transient(_)) => {
            Err(ApiFailure::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Err(e) => Err(ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn uids_are_checked() {
        assert_eq!(
            parse_uids(pairs(&[("uid", "a"), ("uid", "b")])).unwrap(),
            vec!["a", "b"]
        );
        assert!(parse_uids(vec![]).unwrap_err().contains("no uid"));
        assert!(parse_uids(pairs(&[("uid", "")])).unwrap_err().contains("empty"));
        assert!(parse_uids(pairs(&[("id", "a")])).unwrap_err().contains("unknown"));
        let many: Vec<(String, String)> = (0..=MAX_FIND_UIDS)
            .map(|i| ("uid".into(), i.to_string()))
            .collect();
        assert!(parse_uids(many).unwrap_err().contains("at most"));
    }
}
