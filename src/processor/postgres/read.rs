//! Reads shared by the store and the telemetry reader: the largest record id and the
//! sequence's position.

use std::sync::Arc;

use deadpool_postgres::Client;

use super::{Backend, Fail};
use crate::processor::store::StoreError;

/// Orphan child rows count too: their ids are used even though no message row has them.
const MAX_RECORD_ID: &str = "SELECT GREATEST(
     COALESCE((SELECT max(record_id) FROM status_messages), 0),
     COALESCE((SELECT max(record_id) FROM status_message_insstrs), 0),
     COALESCE((SELECT max(record_id) FROM status_message_attributes), 0))";

/// The next value `nextval` would return: every id below it may have been handed out.
const HIGH_WATER: &str = "SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement
     ELSE s.last_value END
     FROM statmgr_record_ids s, pg_sequence p
     WHERE p.seqrelid = 'statmgr_record_ids'::regclass";

pub(super) async fn max_record_id(client: &mut Client) -> Result<i64, Fail> {
    let statement = client.prepare_cached(MAX_RECORD_ID).await?;
    Ok(client.query_one(&statement, &[]).await?.get(0))
}

pub(super) async fn high_water(client: &mut Client) -> Result<i64, Fail> {
    let statement = client.prepare_cached(HIGH_WATER).await?;
    Ok(client.query_one(&statement, &[]).await?.get(0))
}

/// The telemetry reader: a handle on the store's pool (its own connection from it, so
/// reads never wait behind a commit).
#[derive(Clone)]
pub struct PgReader {
    backend: Arc<Backend>,
}

impl std::fmt::Debug for PgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgReader")
            .field("database", &self.backend.name)
            .finish()
    }
}

impl PgReader {
    pub(super) fn new(backend: Arc<Backend>) -> PgReader {
        PgReader { backend }
    }

    /// The largest record id in any message table (0 when empty).
    pub fn max_record_id(&self) -> Result<i64, StoreError> {
        self.backend.run("read the largest record id", async |client| {
            max_record_id(client).await
        })
    }

    /// Where the key sequence stands (the next block starts at or above this).
    pub fn high_water(&self) -> Result<i64, StoreError> {
        self.backend.run("read the record id sequence", async |client| {
            high_water(client).await
        })
    }
}
