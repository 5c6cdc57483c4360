//! The history calls of the client: pages of past events and per-minute rollups.

use super::{sse, Client, ClientError, EventStream};
use crate::api::wire::{HistoryPage, RollupPage};

/// Where a page of history starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageAt {
    /// The newest events.
    Newest,
    Before(u64),
    After(u64),
    /// RFC 3339 (or `-24h`, `03:12`: the server reads the same forms).
    Since(String),
}

impl Client {
    /// `GET /api/v1/events/history`.
    pub async fn history(&self, at: &PageAt, limit: usize) -> Result<HistoryPage, ClientError> {
        let url = self.url(&["api", "v1", "events", "history"])?;
        let mut query = vec![("limit", limit.to_string())];
        match at {
            PageAt::Newest => {}
            PageAt::Before(id) => query.push(("before", id.to_string())),
            PageAt::After(id) => query.push(("after", id.to_string())),
            PageAt::Since(t) => query.push(("since", t.clone())),
        }
        self.json(self.calls.get(url).query(&query)).await
    }

    /// `GET /api/v1/rollups?window=` (`1h` or `24h`).
    pub async fn rollups(&self, window: &str) -> Result<RollupPage, ClientError> {
        let url = self.url(&["api", "v1", "rollups"])?;
        self.json(self.calls.get(url).query(&[("window", window)])).await
    }

    /// The live stream strictly after `after` (0 included: every event kept), with no gap
    /// from a page of history that ended at `after`.
    pub async fn events_after(&self, after: u64) -> Result<EventStream, ClientError> {
        let url = self.url(&["api", "v1", "events"])?;
        let request = self
            .streams
            .get(url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .header("Last-Event-ID", after.to_string());
        let response = self.send(request).await?;
        Ok(EventStream {
            response,
            parser: sse::Parser::new(),
            last_event_id: after,
            target: self.target.clone(),
        })
    }
}
