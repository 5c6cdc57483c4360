//! `GET /api/v1/events/history` (pages of past events from the ring and the journal) and
//! `GET /api/v1/rollups` (per-minute rollups for the 1 h and 24 h chart windows).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;

use super::failure::ApiFailure;
use super::routes::{query_pairs, Pairs, Shared};
use crate::api::when::{parse_time, stamp};
use crate::api::wire::{HistoryPage, RollupPage};
use crate::processor::journal::rollup;
use crate::processor::telemetry::history::{HistoryQuery, Position, MAX_PAGE};

/// Events in a page when the client does not say.
const DEFAULT_PAGE: usize = 200;

fn parse_query(pairs: Vec<(String, String)>) -> Result<HistoryQuery, String> {
    let mut position = None;
    let mut limit = DEFAULT_PAGE;
    let id = |name: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("`{name}`: {v:?} is not an event id"))
    };
    for (name, value) in pairs {
        let p = match name.as_str() {
            "before" => Position::Before(id("before", &value)?),
            "after" => Position::After(id("after", &value)?),
            "since" => Position::Since(stamp(
                parse_time(&value, Utc::now()).map_err(|e| format!("`since`: {e}"))?,
            )),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("`limit`: {value:?} is not a number from 1 to {MAX_PAGE}"))?;
                continue;
            }
            _ => {
                return Err(format!(
                    "unknown query parameter `{name}`; known: before, after, since, limit"
                ))
            }
        };
        if position.replace(p).is_some() {
            return Err("give one of `before`, `after` and `since`".into());
        }
    }
    Ok(HistoryQuery {
        position: position.unwrap_or(Position::Newest),
        limit,
    })
}

pub async fn history(State(s): State<Arc<Shared>>, pairs: Pairs) -> Result<Json<HistoryPage>, ApiFailure> {
    let query = parse_query(query_pairs(pairs)?).map_err(ApiFailure::bad_request)?;
    let telemetry = s.handle.telemetry.clone();
    tokio::task::spawn_blocking(move || telemetry.history_page(query))
        .await
        .map(Json)
        .map_err(|e| {
            ApiFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("history read failed: {e}"),
            )
        })
}

pub async fn rollups(State(s): State<Arc<Shared>>, pairs: Pairs) -> Result<Json<RollupPage>, ApiFailure> {
    let mut window = "1h".to_string();
    for (name, value) in query_pairs(pairs)? {
        match name.as_str() {
            "window" if value == "1h" || value == "24h" => window = value,
            "window" => {
                return Err(ApiFailure::bad_request(format!(
                    "`window`: {value:?}; known: 1h, 24h"
                )))
            }
            _ => {
                return Err(ApiFailure::bad_request(format!(
                    "unknown query parameter `{name}`; known: window"
                )))
            }
        }
    }
    let span = if window == "1h" {
        chrono::Duration::hours(1)
    } else {
        chrono::Duration::hours(24)
    };
    let to = Utc::now();
    let from = to - span;
    let Some(dir) = s.handle.telemetry.journal().map(|j| j.dir().to_path_buf()) else {
        return Err(ApiFailure::new(
            StatusCode::NOT_FOUND,
            "no rollups: this processor runs with --journal off".to_string(),
        ));
    };
    let first = rollup::minute_text(rollup::minute_of(from.into()));
    let rollups = tokio::task::spawn_blocking(move || rollup::read_since(&dir, &first))
        .await
        .map_err(|e| {
            ApiFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("rollup read failed: {e}"),
            )
        })?
        .map_err(|e| {
            ApiFailure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the rollups: {e}"),
            )
        })?;
    Ok(Json(RollupPage {
        window,
        from: stamp(from),
        to: stamp(to),
        rollups,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<HistoryQuery, String> {
        parse_query(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn positions_and_limits_are_checked() {
        assert_eq!(q(&[]).unwrap().position, Position::Newest);
        assert_eq!(
            q(&[("before", "10"), ("limit", "5")]).unwrap(),
            HistoryQuery {
                position: Position::Before(10),
                limit: 5
            }
        );
        assert!(q(&[("before", "x")]).unwrap_err().contains("not an event id"));
        assert!(q(&[("before", "1"), ("after", "2")])
            .unwrap_err()
            .contains("one of"));
        assert!(q(&[("limit", "0")]).is_err());
        assert!(q(&[("since", "soon")]).unwrap_err().contains("expected"));
        assert!(q(&[("bogus", "1")]).unwrap_err().contains("known"));
        assert!(
            matches!(q(&[("since", "2026-01-01T00:00:00Z")]).unwrap().position, Position::Since(t) if t == "2026-01-01T00:00:00.000Z")
        );
    }
}
