//! Retention on SQLite: finds old messages through the retention index and deletes them
//! with their child rows, on its own connection, one short write transaction at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, TransactionBehavior};

use super::classify::{classify_with, with_context};
use super::schema::{self, Create};
use super::turns::WriteTurns;
use crate::error::Error;
use crate::processor::store::{Chunk, Cutoffs, Pruner, StoreError};

/// The messages to delete: one search of `status_messages_retention` per severity (a
/// multi-index OR). A severity without a rule gets a cutoff no Julian day is below.
pub const FIND_OLD: &str = "SELECT record_id FROM status_messages
     WHERE (severity = 'error' AND julianday(upper(time)) < ?1)
        OR (severity = 'warning' AND julianday(upper(time)) < ?2)
        OR (severity = 'info' AND julianday(upper(time)) < ?3)
     LIMIT ?4";
const OLDEST: &str = "SELECT min(day) FROM (
     SELECT min(julianday(upper(time))) AS day FROM status_messages WHERE severity = 'error'
     UNION ALL SELECT min(julianday(upper(time))) FROM status_messages WHERE severity = 'warning'
     UNION ALL SELECT min(julianday(upper(time))) FROM status_messages WHERE severity = 'info')";
const NEVER: f64 = -1.0e9;
/// Julian day of the Unix epoch.
const UNIX_EPOCH_JD: f64 = 2_440_587.5;

/// The retention thread's connection to the state directory's database.
#[derive(Debug)]
pub struct SqlitePruner {
    path: PathBuf,
    conn: Connection,
    busy_timeout: Duration,
    /// The committer's turns at the write lock, when it runs in this process.
    turns: Option<Arc<WriteTurns>>,
}

impl SqlitePruner {
    /// Opens the database the store has already created (never creates one).
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqlitePruner, Error> {
        let conn = schema::connect(path, busy_timeout, Create::No).map_err(|err| Error::Database {
            path: path.display().to_string(),
            message: with_context("open for retention", err).to_string(),
        })?;
        // No automatic checkpoint after a delete commits: the committer's housekeeping
        // checkpoints, and this connection's transactions stay as short as their deletes.
        // And no fsync at its COMMIT (`synchronous=NORMAL`): the fsync is what can hold the
        // write lock for long on a busy disk. A delete lost in a power cut leaves the
        // database consistent and is simply done again by the next pass; the committer's
        // own commits still fsync the WAL, frames of earlier deletes included.
        for (pragma, value) in [("wal_autocheckpoint", "0"), ("synchronous", "NORMAL")] {
            conn.pragma_update(None, pragma, value)
                .map_err(|err| Error::Database {
                    path: path.display().to_string(),
                    message: format!("open for retention: {err}"),
                })?;
        }
        Ok(SqlitePruner {
            path: path.to_path_buf(),
            conn,
            busy_timeout,
            turns: None,
        })
    }

    /// Each delete transaction waits for its turn with the committer's writes (see
    /// `WriteTurns`) rather than for SQLite's busy handler.
    pub fn with_turns(mut self, turns: Arc<WriteTurns>) -> SqlitePruner {
        self.turns = Some(turns);
        self
    }

    fn failed(&self, what: &str, err: &rusqlite::Error) -> StoreError {
        with_context(what, classify_with(err, Some(self.busy_timeout)))
    }
}

pub fn julian_day(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 86_400_000.0 + UNIX_EPOCH_JD
}

fn from_julian_day(day: f64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(((day - UNIX_EPOCH_JD) * 86_400_000.0).round() as i64)
}

fn cutoff(c: Option<DateTime<Utc>>) -> f64 {
    c.map_or(NEVER, julian_day)
}

impl Pruner for SqlitePruner {
    fn prune_chunk(&mut self, cutoffs: &Cutoffs, limit: usize) -> Result<Chunk, StoreError> {
        // Found outside the write transaction (WAL readers never block the committer):
        // rows older than the cutoff are only ever deleted, never changed, by anyone.
        let ids: Vec<i64> = {
            let mut find = self
                .conn
                .prepare_cached(FIND_OLD)
                .map_err(|e| self.failed("find old messages", &e))?;
            let rows = find
                .query_map(
                    params![
                        cutoff(cutoffs.error),
                        cutoff(cutoffs.warning),
                        cutoff(cutoffs.info),
                        limit as i64
                    ],
                    |r| r.get(0),
                )
                .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>());
            rows.map_err(|e| self.failed("find old messages", &e))?
        };
        if ids.is_empty() {
            return Ok(Chunk::default());
        }
        let busy = self.busy_timeout;
        let turns = self.turns.clone();
        let _turn = turns.as_deref().map(WriteTurns::take);
        let fail = |e: rusqlite::Error| with_context("delete old messages", classify_with(&e, Some(busy)));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let locked = Instant::now();
        let mut deleted = 0u64;
        {
            let mut insstrs = tx
                .prepare_cached("DELETE FROM status_message_insstrs WHERE record_id = ?1")
                .map_err(fail)?;
            let mut attributes = tx
                .prepare_cached("DELETE FROM status_message_attributes WHERE record_id = ?1")
                .map_err(fail)?;
            let mut messages = tx
                .prepare_cached("DELETE FROM status_messages WHERE record_id = ?1")
                .map_err(fail)?;
            for id in &ids {
                insstrs.execute([id]).map_err(fail)?;
                attributes.execute([id]).map_err(fail)?;
                deleted += messages.execute([id]).map_err(fail)? as u64;
            }
        }
        tx.commit().map_err(fail)?;
        Ok(Chunk {
            deleted,
            held: locked.elapsed(),
        })
    }

    fn oldest_and_size(&mut self) -> Result<(Option<String>, u64), StoreError> {
        let day: Option<f64> = self
            .conn
            .prepare_cached(OLDEST)
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(|e| self.failed("find the oldest message", &e))?;
        let oldest = day
            .and_then(from_julian_day)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Ok((oldest, size(&self.path) + size(Path::new(&wal))))
    }

    fn count_rows(&mut self) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached("SELECT count(*) FROM status_messages")
            .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(|e| self.failed("count messages", &e))
    }
}
