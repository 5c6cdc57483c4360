//! Reads shared by the store and the telemetry reader, and the reader's own connection.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::classify::{classify_with, with_context};
use crate::error::Error;
use crate::processor::store::StoreError;

/// Orphan child rows count too: their ids are used even though no message row has them.
const MAX_RECORD_ID: &str = "SELECT max(
     coalesce((SELECT max(record_id) FROM status_messages), 0),
     coalesce((SELECT max(record_id) FROM status_message_insstrs), 0),
     coalesce((SELECT max(record_id) FROM status_message_attributes), 0))";

pub(super) fn max_record_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(MAX_RECORD_ID)?
        .query_row([], |row| row.get(0))
}

pub(super) fn high_water(conn: &Connection) -> rusqlite::Result<i64> {
    let found = conn
        .prepare_cached("SELECT high_water FROM allocator WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(found.unwrap_or(0))
}

/// Whether a writer could start a transaction now: a fresh connection (so a file made
/// read-only since is seen as such) takes the write lock and gives it back at once.
/// Only run while the committer's last commit failed, to learn when that condition ended.
pub fn probe_writable(path: &Path, busy_timeout: Duration) -> Result<(), StoreError> {
    let failed =
        |what: &str, err: rusqlite::Error| with_context(what, classify_with(&err, Some(busy_timeout)));
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| failed("open", e))?;
    conn.busy_timeout(busy_timeout).map_err(|e| failed("open", e))?;
    conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
        .map_err(|e| failed("take the write lock", e))
}

/// A second connection for telemetry, so reads never wait behind the committer's
/// connection (WAL lets them run while a batch is being written). It never writes:
/// `query_only` refuses any write, even one a bug would attempt.
#[derive(Debug)]
pub struct SqliteReader {
    conn: Connection,
    busy_timeout: Duration,
}

impl SqliteReader {
    /// Opens an existing database (never creates one).
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteReader, Error> {
        let failed = |err: rusqlite::Error| Error::Database {
            path: path.display().to_string(),
            message: with_context("open for reading", classify_with(&err, Some(busy_timeout))).to_string(),
        };
        // Read-write flags so the WAL index can be created if it is missing; query_only
        // keeps this connection from writing anything.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(failed)?;
        conn.busy_timeout(busy_timeout).map_err(failed)?;
        conn.pragma_update(None, "query_only", true).map_err(failed)?;
        Ok(SqliteReader { conn, busy_timeout })
    }

    /// The largest record id in any message table (0 when empty).
    pub fn max_record_id(&self) -> Result<i64, StoreError> {
        max_record_id(&self.conn).map_err(|err| self.failed("read the largest record id", &err))
    }

    /// Rows in `status_messages` (a full count: fine for telemetry, not for a hot loop).
    pub fn count_messages(&self) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached("SELECT count(*) FROM status_messages")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(|err| self.failed("count messages", &err))
    }

    fn failed(&self, what: &str, err: &rusqlite::Error) -> StoreError {
        with_context(what, classify_with(err, Some(self.busy_timeout)))
    }
}
