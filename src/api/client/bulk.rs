//! The triage calls of the client: causes, selections, previews and bulk actions.

use super::{Client, ClientError};
use crate::api::query::{file_query_pairs, DISCARDED_PREFIX, STUCK_PREFIX};
use crate::api::wire::{
    BulkPreview, BulkRequest, BulkResult, BulkSelection, BulkSource, CauseList, FileQuery, SetEntry, Snapshot,
};

impl Client {
    /// The snapshot with a page of `discarded/` too.
    pub async fn snapshot_with(
        &self,
        retry: &FileQuery,
        stuck: &FileQuery,
        discarded: &FileQuery,
    ) -> Result<Snapshot, ClientError> {
        let mut query = file_query_pairs("", retry);
        query.extend(file_query_pairs(STUCK_PREFIX, stuck));
        query.extend(file_query_pairs(DISCARDED_PREFIX, discarded));
        let url = self.url(&["api", "v1", "snapshot"])?;
        self.json(self.calls.get(url).query(&query)).await
    }

    /// The files of one directory grouped by cause, computed on the server.
    pub async fn causes(&self, source: BulkSource, filter: Option<&str>) -> Result<CauseList, ClientError> {
        let url = self.url(&["api", "v1", "causes"])?;
        let mut query = vec![("kind", source.as_str().to_string())];
        if let Some(f) = filter.filter(|f| !f.is_empty()) {
            query.push(("filter", f.to_string()));
        }
        self.json(self.calls.get(url).query(&query)).await
    }

    /// Every file a filter or cause selects now (a read: no token needed).
    pub async fn select(&self, sel: &BulkSelection) -> Result<BulkPreview, ClientError> {
        let url = self.url(&["api", "v1", "bulk", "select"])?;
        let mut query = vec![
            ("action", sel.action.as_str().to_string()),
            ("source", sel.source.as_str().to_string()),
        ];
        if let Some(f) = sel.filter.as_deref().filter(|f| !f.is_empty()) {
            query.push(("filter", f.to_string()));
        }
        if let Some(c) = sel.cause.as_deref().filter(|c| !c.is_empty()) {
            query.push(("cause", c.to_string()));
        }
        if let Some(d) = sel.older_than_days {
            query.push(("older_than_days", d.to_string()));
        }
        self.json(self.calls.get(url).query(&query)).await
    }

    /// The exact set and its summary (token).
    pub async fn preview(&self, sel: &BulkSelection) -> Result<BulkPreview, ClientError> {
        let url = self.url(&["api", "v1", "bulk", "preview"])?;
        self.json(self.authorized(self.calls.post(url)).json(sel)).await
    }

    /// Acts on exactly `set` (token); answers when the server is done. Only names and
    /// versions are sent.
    pub async fn bulk_action(&self, request: &BulkRequest) -> Result<BulkResult, ClientError> {
        let slim = BulkRequest {
            set: request
                .set
                .iter()
                .map(|e| SetEntry {
                    name: e.name.clone(),
                    version: e.version.clone(),
                    messages: 0,
                    cause_id: String::new(),
                    cause: String::new(),
                })
                .collect(),
            ..request.clone()
        };
        let url = self.url(&["api", "v1", "bulk", "action"])?;
        self.json(self.authorized(self.calls.post(url)).json(&slim)).await
    }
}
