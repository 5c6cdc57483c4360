//! Retention on PostgreSQL: one statement per chunk finds old messages through the
//! retention index and deletes them with their child rows; `SKIP LOCKED` lets several
//! processors prune the shared database at once without waiting on each other.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::Backend;
use crate::processor::store::{Chunk, Cutoffs, Pruner, StoreError};

/// `time` is the producer's RFC 3339 text, compared as text with a UTC cutoff (see the
/// V2 migration). A severity without a rule gets the empty cutoff: nothing is below it.
const PRUNE: &str = "WITH doomed AS (
     SELECT record_id FROM status_messages
      WHERE (severity = 'error' AND time < $1)
         OR (severity = 'warning' AND time < $2)
         OR (severity = 'info' AND time < $3)
      LIMIT $4 FOR UPDATE SKIP LOCKED),
   i AS (DELETE FROM status_message_insstrs WHERE record_id IN (SELECT record_id FROM doomed)),
   a AS (DELETE FROM status_message_attributes WHERE record_id IN (SELECT record_id FROM doomed))
 DELETE FROM status_messages WHERE record_id IN (SELECT record_id FROM doomed)";
const OLDEST: &str = "SELECT min(t) FROM (
     SELECT min(time) AS t FROM status_messages WHERE severity = 'error'
     UNION ALL SELECT min(time) FROM status_messages WHERE severity = 'warning'
     UNION ALL SELECT min(time) FROM status_messages WHERE severity = 'info') m";
const SIZE: &str = "SELECT (pg_total_relation_size('status_messages')
     + pg_total_relation_size('status_message_insstrs')
     + pg_total_relation_size('status_message_attributes')
     + pg_total_relation_size('batches'))::bigint";

/// Retention's handle on the store's pool.
pub struct PgPruner {
    backend: Arc<Backend>,
}

impl PgPruner {
    pub(super) fn new(backend: Arc<Backend>) -> PgPruner {
        PgPruner { backend }
    }
}

fn cutoff(c: Option<DateTime<Utc>>) -> String {
    c.map_or(String::new(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

impl Pruner for PgPruner {
    fn prune_chunk(&mut self, cutoffs: &Cutoffs, limit: usize) -> Result<Chunk, StoreError> {
        let (e, w, i) = (
            cutoff(cutoffs.error),
            cutoff(cutoffs.warning),
            cutoff(cutoffs.info),
        );
        let limit = limit as i64;
        self.backend.run("delete old messages", async |client| {
            let started = Instant::now();
            let statement = client.prepare_cached(PRUNE).await?;
            let deleted = client.execute(&statement, &[&e, &w, &i, &limit]).await?;
            Ok(Chunk {
                deleted,
                held: started.elapsed(),
            })
        })
    }

    fn oldest_and_size(&mut self) -> Result<(Option<String>, u64), StoreError> {
        self.backend.run("find the oldest message", async |client| {
            let oldest: Option<String> = client.query_one(OLDEST, &[]).await?.get(0);
            let size: i64 = client.query_one(SIZE, &[]).await?.get(0);
            let oldest = oldest.map(|t| match DateTime::parse_from_rfc3339(&t) {
                Ok(t) => t
                    .with_timezone(&Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                Err(_) => t,
            });
            Ok((oldest, size.max(0) as u64))
        })
    }

    fn count_rows(&mut self) -> Result<u64, StoreError> {
        self.backend.run("count messages", async |client| {
            let n: i64 = client
                .query_one("SELECT count(*) FROM status_messages", &[])
                .await?
                .get(0);
            Ok(n as u64)
        })
    }
}
