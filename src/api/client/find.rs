//! The client's calls for `find` and the batch drill-down.

use super::{Client, ClientError};
use crate::api::wire::find::{BatchMessages, FindReport};

impl Client {
    /// Where each uid is (`GET /api/v1/find`).
    pub async fn find(&self, uids: &[String]) -> Result<FindReport, ClientError> {
        let url = self.url(&["api", "v1", "find"])?;
        let query: Vec<(&str, &str)> = uids.iter().map(|u| ("uid", u.as_str())).collect();
        self.json(self.calls.get(url).query(&query)).await
    }

    /// One page of a committed batch's messages.
    pub async fn batch_messages(
        &self,
        batch_id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<BatchMessages, ClientError> {
        let id = batch_id.to_string();
        let url = self.url(&["api", "v1", "batches", &id, "messages"])?;
        let query = [("offset", offset), ("limit", limit)];
        self.json(self.calls.get(url).query(&query)).await
    }
}
