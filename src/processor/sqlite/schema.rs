//! Opening a connection with statmgr's settings, and the versioned schema migrations.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::classify::{classify_with, with_context};
use crate::processor::store::StoreError;

/// The WAL is truncated back to this size after a checkpoint (`journal_size_limit`), and
/// `maintain` forces a truncating checkpoint when it has grown past it.
pub(super) const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// Statements kept prepared per connection (the commit uses six).
const STATEMENT_CACHE: usize = 32;

/// Migration `i` brings the schema from `user_version` i to i + 1; they run in order, at
/// start, all pending ones in the same transaction as the `user_version` they set.
/// To change the schema, append a `Vn` here (never edit a released one): a database at
/// any older version is brought forward, one newer than this list is refused untouched.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The child tables are `WITHOUT ROWID`: their composite key is the whole row's identity,
/// so one B-tree per table instead of a table plus an index (half the writes).
/// No index on `status_messages(batch_id)`: a batch's rows lie between the batch's
/// `first_record_id` and `last_record_id`, so the record-id key already finds them, and
/// every extra index is one more B-tree write per message on the hot path.
/// `batches.id` is `AUTOINCREMENT` so a batch id is never reused even if rows are
/// deleted (one `sqlite_sequence` update per batch, not per message).
const V1: &str = "
CREATE TABLE IF NOT EXISTS status_messages (
    record_id   INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,
    message_id  INTEGER NOT NULL,
    severity    TEXT NOT NULL,
    component   TEXT NOT NULL,
    machine     TEXT NOT NULL,
    site        TEXT NOT NULL,
    time        TEXT NOT NULL,
    module      TEXT,
    report_type TEXT,
    process_id  INTEGER,
    thread_id   INTEGER,
    win32_error INTEGER,
    received    TEXT NOT NULL,
    batch_id    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS status_message_insstrs (
    record_id INTEGER NOT NULL,
    idx       INTEGER NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (record_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_message_attributes (
    record_id    INTEGER NOT NULL,
    attribute_id INTEGER NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (record_id, attribute_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    committed_at    TEXT NOT NULL,
    count           INTEGER NOT NULL,
    duplicates      INTEGER NOT NULL,
    first_record_id INTEGER,
    last_record_id  INTEGER,
    duration_ms     REAL NOT NULL,
    source          TEXT NOT NULL,
    source_file     TEXT
);
CREATE TABLE IF NOT EXISTS allocator (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    high_water INTEGER NOT NULL,
    block_size INTEGER NOT NULL
);
";

/// Retention (`--retain-days`, `--retain`) finds old messages through this index: per
/// severity, by the message's own time as a Julian day, so timestamps with different UTC
/// offsets compare by the instant they name (`upper`: RFC 3339 allows `t` and `z`, SQLite
/// reads only `T` and `Z`). SQLite cannot read an offset beyond ±14:59 or a leap second:
/// such a message is kept. A pass that finds nothing is one search of this index.
const V2: &str = "
CREATE INDEX IF NOT EXISTS status_messages_retention
    ON status_messages (severity, julianday(upper(time)));
";

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Whether a missing database file may be created: only at start, never on a reopen
/// (a file deleted while running must not silently become a new, empty database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
    Yes,
    No,
}

/// A read-write connection in WAL mode with `synchronous=FULL`: a commit is durable
/// (the WAL is fsynced) when `COMMIT` returns.
pub(super) fn connect(path: &Path, busy_timeout: Duration, create: Create) -> Result<Connection, StoreError> {
    let classify = |err: rusqlite::Error| classify_with(&err, Some(busy_timeout));
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create == Create::Yes {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(classify)?;
    conn.busy_timeout(busy_timeout).map_err(classify)?;
    // Before anything that could write (the journal mode is stored in the file): a schema
    // newer than this build is refused with the file untouched.
    check_version(version(&conn).map_err(classify)?)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Transient(format!(
            "the database cannot use WAL mode (journal mode stays {mode:?}); is it on a network file system?"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(classify)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT as i64)
        .map_err(classify)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Applies the migrations this database has not seen yet. Cheap when it is current
/// (one read, no write lock).
pub(super) fn migrate(conn: &mut Connection, busy_timeout: Duration) -> Result<(), StoreError> {
    let classify = |err: rusqlite::Error| classify_with(&err, Some(busy_timeout));
    if check_version(version(conn).map_err(classify)?)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(classify)?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let current = check_version(version(&tx).map_err(classify)?)?;
    for (version, sql) in (0i64..)
        .zip(MIGRATIONS)
        .skip_while(|(version, _)| *version < current)
    {
        tx.execute_batch(sql).map_err(|err| {
            with_context(
                &format!("schema migration to version {}", version + 1),
                classify(err),
            )
        })?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(classify)?;
    tx.commit().map_err(classify)
}

pub(super) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

fn check_version(version: i64) -> Result<i64, StoreError> {
    if !(0..=SCHEMA_VERSION).contains(&version) {
        return Err(StoreError::Permanent(format!(
            "the database schema is version {version}, newer than this statmgr (which knows \
             versions up to {SCHEMA_VERSION}); it is left unchanged: use a newer statmgr"
        )));
    }
    Ok(version)
}
