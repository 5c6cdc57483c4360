//! Turns SQLite failures into the retry decision the committer needs, in operator words.

use std::time::Duration;

use rusqlite::ffi;

use crate::processor::store::StoreError;

/// The tables whose record ids come from statmgr's allocator; a primary-key conflict in
/// any other table (written by a trigger, say) is not fixed by a resync.
const KEYED_TABLES: [&str; 3] = [
    "status_messages",
    "status_message_insstrs",
    "status_message_attributes",
];

/// How a failed SQLite call should be handled: busy, full, I/O, read-only, corrupt
/// (waits for an operator) -> `Transient`; a used record id -> `KeyConflict`; anything
/// that depends on the data (a trigger, a constraint, a bad value) -> `Permanent`.
pub fn classify(err: &rusqlite::Error) -> StoreError {
    classify_with(err, None)
}

/// `classify`, naming the busy timeout that elapsed when the store knows it.
pub(super) fn classify_with(err: &rusqlite::Error, busy_timeout: Option<Duration>) -> StoreError {
    let rusqlite::Error::SqliteFailure(code, detail) = err else {
        return StoreError::Permanent(err.to_string());
    };
    let ext = code.extended_code;
    let detail = detail.as_deref().unwrap_or("no detail from SQLite");
    match ext & 0xff {
        ffi::SQLITE_BUSY => StoreError::Transient(busy_text(ext, busy_timeout)),
        ffi::SQLITE_LOCKED => StoreError::Transient(format!(
            "a database table is locked by another statement or connection ({detail})"
        )),
        ffi::SQLITE_FULL => StoreError::Transient(format!(
            "the disk or the database is full ({detail}); free space on the volume"
        )),
        ffi::SQLITE_IOERR => StoreError::Transient(format!(
            "disk I/O error while {} the database or its WAL (SQLite code {ext}); check the disk, \
             the file system and the file's permissions and attributes",
            io_activity(ext)
        )),
        ffi::SQLITE_READONLY => StoreError::Transient(readonly_text(ext, detail)),
        ffi::SQLITE_CANTOPEN => StoreError::Transient(format!(
            "cannot open the database file or its WAL ({detail}); check that it exists and is accessible"
        )),
        ffi::SQLITE_PERM => StoreError::Transient(format!("access to the database was denied ({detail})")),
        ffi::SQLITE_NOMEM => StoreError::Transient("SQLite ran out of memory".to_string()),
        ffi::SQLITE_PROTOCOL => StoreError::Transient(format!(
            "the database locking protocol failed in a race with another connection ({detail})"
        )),
        ffi::SQLITE_INTERRUPT => {
            StoreError::Transient(format!("the database operation was interrupted ({detail})"))
        }
        ffi::SQLITE_SCHEMA => {
            StoreError::Transient(format!("the database schema changed meanwhile ({detail})"))
        }
        ffi::SQLITE_CORRUPT => StoreError::Transient(format!(
            "the database file is corrupt ({detail}); an operator must repair or restore it"
        )),
        ffi::SQLITE_NOTADB => StoreError::Transient(format!(
            "the database file is not a SQLite database ({detail}); an operator must restore it"
        )),
        ffi::SQLITE_CONSTRAINT => constraint(ext, detail),
        ffi::SQLITE_ERROR if schema_missing(detail) => StoreError::Transient(format!(
            "the database schema is damaged ({detail}); an operator must restore it"
        )),
        ffi::SQLITE_MISMATCH => {
            StoreError::Permanent(format!("a value has the wrong type for its column ({detail})"))
        }
        ffi::SQLITE_TOOBIG => {
            StoreError::Permanent(format!("a value is too large for the database ({detail})"))
        }
        ffi::SQLITE_RANGE => {
            StoreError::Permanent(format!("a statement parameter is out of range ({detail})"))
        }
        _ => StoreError::Permanent(format!(
            "the database refused the operation ({detail}; code {ext})"
        )),
    }
}

fn busy_text(ext: i32, busy_timeout: Option<Duration>) -> String {
    let waited = match busy_timeout {
        Some(timeout) => format!("busy timeout {} elapsed", format_duration(timeout)),
        None => "the busy timeout elapsed".to_string(),
    };
    match ext {
        ffi::SQLITE_BUSY_RECOVERY => {
            format!("database is locked (another connection is recovering it; {waited})")
        }
        ffi::SQLITE_BUSY_SNAPSHOT => {
            "database is locked (another connection wrote since this read began); retry".to_string()
        }
        _ => format!("database is locked (another connection holds it; {waited})"),
    }
}

fn io_activity(ext: i32) -> &'static str {
    match ext {
        ffi::SQLITE_IOERR_READ | ffi::SQLITE_IOERR_SHORT_READ => "reading",
        ffi::SQLITE_IOERR_WRITE => "writing",
        ffi::SQLITE_IOERR_FSYNC | ffi::SQLITE_IOERR_DIR_FSYNC => "syncing",
        ffi::SQLITE_IOERR_TRUNCATE => "truncating",
        ffi::SQLITE_IOERR_LOCK
        | ffi::SQLITE_IOERR_RDLOCK
        | ffi::SQLITE_IOERR_UNLOCK
        | ffi::SQLITE_IOERR_CHECKRESERVEDLOCK => "locking",
        ffi::SQLITE_IOERR_SHMOPEN | ffi::SQLITE_IOERR_SHMSIZE | ffi::SQLITE_IOERR_SHMMAP => {
            "mapping the shared memory of"
        }
        ffi::SQLITE_IOERR_NOMEM => "allocating memory for",
        _ => "accessing",
    }
}

fn readonly_text(ext: i32, detail: &str) -> String {
    let why = match ext {
        ffi::SQLITE_READONLY_DBMOVED => "the database file was moved or deleted while open",
        ffi::SQLITE_READONLY_RECOVERY | ffi::SQLITE_READONLY_CANTINIT => {
            "its WAL needs recovery that this connection cannot write"
        }
        ffi::SQLITE_READONLY_CANTLOCK => "the shared-memory file cannot be locked",
        ffi::SQLITE_READONLY_ROLLBACK => "a hot journal must be rolled back first",
        _ => "the file, its WAL or its directory cannot be written",
    };
    format!("the database is read-only: {why} ({detail})")
}

fn constraint(ext: i32, detail: &str) -> StoreError {
    match ext {
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_ROWID => {
            match failed_tables(detail).find(|table| !KEYED_TABLES.contains(table)) {
                Some(table) => StoreError::Permanent(format!(
                    "primary key conflict in table {table}, whose keys statmgr does not allocate ({detail})"
                )),
                None => StoreError::KeyConflict(format!("record id already used ({detail})")),
            }
        }
        ffi::SQLITE_CONSTRAINT_TRIGGER => {
            StoreError::Permanent(format!("rejected by a database trigger: {detail}"))
        }
        _ => StoreError::Permanent(format!("the database refused a value: {detail}")),
    }
}

/// The tables named by SQLite's "UNIQUE constraint failed: t.a, t.b" message.
fn failed_tables(detail: &str) -> impl Iterator<Item = &str> {
    let columns = detail.split_once(": ").map_or("", |(_, columns)| columns);
    columns
        .split(", ")
        .filter_map(|column| column.split_once('.').map(|(table, _)| table))
}

/// Errors that no message can cause: the schema itself is gone or altered.
fn schema_missing(detail: &str) -> bool {
    detail.starts_with("no such table")
        || detail.starts_with("no such column")
        || detail.contains("has no column")
}

pub(super) fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The same decision, with the operation that failed in front of the reason.
pub(super) fn with_context(what: &str, err: StoreError) -> StoreError {
    match err {
        StoreError::KeyConflict(why) => StoreError::KeyConflict(format!("{what}: {why}")),
        StoreError::Transient(why) => StoreError::Transient(format!("{what}: {why}")),
        StoreError::Permanent(why) => StoreError::Permanent(format!("{what}: {why}")),
    }
}
