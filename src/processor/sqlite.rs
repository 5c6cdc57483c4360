//! The SQLite implementation of `Store`: one write connection that reopens itself when it
//! can no longer recover, plus a separate read connection for telemetry.

pub mod backup;
mod checkpointer;
mod classify;
mod lookup;
mod prune;
mod read;
mod schema;
mod turns;
mod write;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{ffi, Connection};

pub use classify::classify;
pub use lookup::SqliteLookup;
pub use prune::{julian_day, SqlitePruner, FIND_OLD};
pub use read::{probe_writable, SqliteReader};
pub use schema::SCHEMA_VERSION;
pub use turns::WriteTurns;

use crate::error::Error;
use crate::processor::store::{BatchSource, Committed, KeyBlock, KeyedMessage, Store, StoreError};
use checkpointer::Checkpointer;
use classify::{classify_with, format_duration, with_context};
use schema::{Create, WAL_SIZE_LIMIT};
use write::Fail;

/// The committer's store. The connection is dropped after a failure it may not recover
/// from (a WAL opened read-only, an I/O error, a moved file) and opened again, without
/// creating the file, by the next call.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    busy_timeout: Duration,
    /// `maintain` truncates the WAL when it is larger than this.
    wal_limit: u64,
    /// The thread that checkpoints the WAL off the commit path (with `checkpoint_pages`).
    /// Declared before `conn` so it stops first, and the committer's connection, closing
    /// last, checkpoints and removes the WAL as usual.
    checkpointer: Option<Checkpointer>,
    conn: Option<Connection>,
    /// The file the connection has open. In WAL mode SQLite does not notice the file being
    /// renamed, deleted or replaced (no `SQLITE_READONLY_DBMOVED`): it would keep writing
    /// to the old inode, lost once closed. Checked before and after every write.
    identity: Option<FileIdentity>,
    /// `max_page_count` of every connection (a database that may not grow: "full").
    max_pages: Option<u64>,
    /// Page cache and autocheckpoint of every connection (SQLite's defaults until `tune`).
    tuning: Option<Tuning>,
    /// Every write waits for its turn, which retention's deletes share (`turns`).
    turns: Arc<WriteTurns>,
}

/// Settings of the committing connection that trade memory or WAL size for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// `cache_size`, in KiB.
    pub cache_kib: u64,
    /// `wal_autocheckpoint`, in pages (0: none on the commit path).
    pub wal_autocheckpoint: u64,
    /// A thread with its own connection checkpoints once the WAL holds this many pages
    /// (0: no thread).
    pub checkpoint_pages: u64,
}

impl SqliteStore {
    /// Opens the database, creating the file and the schema if missing (idempotent), and
    /// applies any pending migration.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteStore, Error> {
        let failed = |err: StoreError| Error::Database {
            path: path.display().to_string(),
            message: with_context("open", err).to_string(),
        };
        let mut conn = schema::connect(path, busy_timeout, Create::Yes).map_err(failed)?;
        schema::migrate(&mut conn, busy_timeout).map_err(failed)?;
        let identity = FileIdentity::of(path).map_err(failed)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            busy_timeout,
            wal_limit: WAL_SIZE_LIMIT,
            checkpointer: None,
            conn: Some(conn),
            identity: Some(identity),
            max_pages: None,
            tuning: None,
            turns: Arc::default(),
        })
    }

    /// Applies `tuning` now and on every reopen; starts the checkpoint thread.
    pub fn tune(&mut self, tuning: Tuning) {
        self.tuning = Some(tuning);
        // `maintain` truncates the WAL only when it is well past what checkpoints let it
        // grow to (a truncation runs on the commit path).
        let pages = tuning.wal_autocheckpoint.max(tuning.checkpoint_pages);
        self.wal_limit = WAL_SIZE_LIMIT.max(pages.saturating_mul(2 * 4096));
        if let Some(conn) = &self.conn {
            apply_tuning(conn, tuning);
        }
        self.checkpointer = None;
        if tuning.checkpoint_pages > 0 {
            match Checkpointer::start(self.path.clone(), self.busy_timeout, tuning.checkpoint_pages) {
                Ok(c) => {
                    c.publish(self.conn.as_ref().and(self.identity.clone()));
                    self.checkpointer = Some(c);
                }
                Err(err) => tracing::warn!(
                    "cannot start the checkpoint thread ({err}); checkpoints stay on the commit path"
                ),
            }
        }
    }

    /// Limits the database to `pages` pages, now and on every reopen (SQLite keeps this
    /// per connection). A limit below the current size holds it at its current size.
    pub fn set_max_pages(&mut self, pages: Option<u64>) {
        self.max_pages = pages;
        if let Some(conn) = &self.conn {
            apply_max_pages(conn, pages);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The turns at the write lock this store's writes take; give them to the pruner.
    pub fn turns(&self) -> Arc<WriteTurns> {
        self.turns.clone()
    }

    /// Runs one operation on the connection (reopening it first if an earlier failure
    /// dropped it or the file was replaced), classifies a failure and drops the connection
    /// when it cannot recover. A write is confirmed only if the file is still the same.
    fn run<T>(
        &mut self,
        what: &str,
        access: Access,
        operation: impl FnOnce(&mut Connection) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let busy_timeout = self.busy_timeout;
        let turns = self.turns.clone();
        let _turn = (access == Access::Write).then(|| turns.take());
        let conn = self.connection().map_err(|err| with_context(what, err))?;
        let result = operation(conn);
        // A transaction left open (its rollback failed) would make every later BEGIN fail.
        let stuck_in_transaction = !conn.is_autocommit();
        match result {
            Ok(_) if access == Access::Write && self.file_replaced() => {
                self.close_replaced();
                Err(with_context(
                    what,
                    StoreError::Transient(format!(
                        "the database file {} was replaced while this was written to the old file; \
                         it will be written again",
                        self.path.display()
                    )),
                ))
            }
            Ok(value) => Ok(value),
            Err(fail) => {
                if stuck_in_transaction || fail.sqlite().is_some_and(needs_reopen) {
                    self.close("after a failure it may not recover from");
                }
                Err(with_context(what, fail.classify(busy_timeout)))
            }
        }
    }

    /// The open connection, after making sure it still has the file at `path` open;
    /// otherwise it opens whatever file is there now (never creating one).
    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        if self.conn.is_some() && self.file_replaced() {
            self.close_replaced();
        }
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.reconnect()?,
        };
        Ok(self.conn.insert(conn))
    }

    fn file_replaced(&self) -> bool {
        FileIdentity::of(&self.path).ok() != self.identity
    }

    /// SQLite does not checkpoint a moved file's WAL on close, and leaves it at
    /// `path`-wal, where a connection to the new file would replay the old file's pages
    /// into it. So the WAL is emptied into the old file first.
    fn close_replaced(&mut self) {
        if let Some(c) = &self.checkpointer {
            c.publish(None);
        }
        if let Some(conn) = &self.conn {
            match checkpoint(conn, "TRUNCATE") {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("the replaced database's WAL could not be emptied: readers hold it")
                }
                Err(err) => tracing::warn!("the replaced database's WAL could not be emptied: {err}"),
            }
        }
        self.close("because its file was renamed, deleted or replaced");
    }

    fn close(&mut self, why: &str) {
        if let Some(c) = &self.checkpointer {
            c.publish(None);
        }
        if self.conn.take().is_some() {
            tracing::warn!(path = %self.path.display(), "closed the database connection {why}");
        }
        self.identity = None;
    }

    fn reconnect(&mut self) -> Result<Connection, StoreError> {
        let identity = FileIdentity::of(&self.path)?;
        let mut conn = schema::connect(&self.path, self.busy_timeout, Create::No)
            .map_err(|err| with_context("reopen", err))?;
        // An empty file put in its place would otherwise get a fresh schema, and with it
        // the loss of every uid stored so far (duplicates would no longer be caught).
        if schema::version(&conn).map_err(|err| classify_with(&err, Some(self.busy_timeout)))? == 0 {
            return Err(StoreError::Transient(format!(
                "reopen: {} has no statmgr schema (an empty or foreign file replaced the database); \
                 restore the database",
                self.path.display()
            )));
        }
        schema::migrate(&mut conn, self.busy_timeout).map_err(|err| with_context("reopen", err))?;
        apply_max_pages(&conn, self.max_pages);
        if let Some(tuning) = self.tuning {
            apply_tuning(&conn, tuning);
        }
        self.identity = Some(identity);
        if let Some(c) = &self.checkpointer {
            c.publish(self.identity.clone());
        }
        tracing::info!(path = %self.path.display(), "database connection reopened");
        Ok(conn)
    }

    /// A passive checkpoint, and a truncating one when the WAL grew past its limit
    /// (readers kept earlier checkpoints from resetting it).
    fn checkpoint_wal(&mut self) -> Result<(), StoreError> {
        self.run("checkpoint the WAL", Access::Read, |conn| {
            Ok(checkpoint(conn, "PASSIVE")?)
        })?;
        let wal = self.wal_path();
        let size = match std::fs::metadata(&wal) {
            Ok(metadata) => metadata.len(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => {
                return Err(StoreError::Transient(format!(
                    "cannot read the size of {}: {err}",
                    wal.display()
                )))
            }
        };
        if size <= self.wal_limit {
            return Ok(());
        }
        let (limit, timeout) = (self.wal_limit, format_duration(self.busy_timeout));
        if self.run("truncate the WAL", Access::Read, |conn| {
            Ok(checkpoint(conn, "TRUNCATE")?)
        })? {
            return Ok(());
        }
        Err(StoreError::Transient(format!(
            "the WAL is {size} bytes, over its {limit}-byte limit, and readers kept it from being \
             truncated for {timeout}"
        )))
    }

    fn wal_path(&self) -> PathBuf {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        PathBuf::from(wal)
    }
}

/// Whether an operation writes: only a write can be lost to a file replaced under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Device and inode of the database file, to notice it being renamed or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl FileIdentity {
    fn of(path: &Path) -> Result<FileIdentity, StoreError> {
        let metadata = std::fs::metadata(path).map_err(|err| {
            StoreError::Transient(format!(
                "the database file {} cannot be read ({err}); it was moved or deleted while open? \
                 It is never re-created while running: restore it",
                path.display()
            ))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(FileIdentity {
                dev_ino: (metadata.dev(), metadata.ino()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            Ok(FileIdentity {})
        }
    }
}

/// Failures after which this connection may stay broken even once the cause is gone:
/// a WAL or database opened read-only stays read-only, a moved file stays moved.
fn needs_reopen(err: &rusqlite::Error) -> bool {
    let Some(code) = err.sqlite_error() else {
        return false;
    };
    matches!(
        code.extended_code & 0xff,
        ffi::SQLITE_READONLY
            | ffi::SQLITE_IOERR
            | ffi::SQLITE_CANTOPEN
            | ffi::SQLITE_CORRUPT
            | ffi::SQLITE_NOTADB
            | ffi::SQLITE_PROTOCOL
    )
}

impl Fail {
    fn sqlite(&self) -> Option<&rusqlite::Error> {
        match self {
            Fail::Sql(err) | Fail::Message { source: err, .. } => Some(err),
            Fail::Orphan { .. } | Fail::Invalid(_) => None,
        }
    }

    fn classify(&self, busy_timeout: Duration) -> StoreError {
        match self {
            Fail::Sql(err) => classify_with(err, Some(busy_timeout)),
            Fail::Message {
                record_id,
                uid,
                source,
            } => with_context(
                &format!("message uid {uid:?} (record id {record_id})"),
                classify_with(source, Some(busy_timeout)),
            ),
            Fail::Orphan { record_id, uid } => StoreError::KeyConflict(format!(
                "record id {record_id} (message uid {uid:?}) already has insertion strings or attributes \
                 (rows another writer left)"
            )),
            Fail::Invalid(why) => StoreError::Permanent(why.clone()),
        }
    }
}

impl Store for SqliteStore {
    fn max_record_id(&mut self) -> Result<i64, StoreError> {
        self.run("read the largest record id", Access::Read, |conn| {
            Ok(read::max_record_id(conn)?)
        })
    }

    fn high_water(&mut self) -> Result<i64, StoreError> {
        self.run("read the allocator high-water mark", Access::Read, |conn| {
            Ok(read::high_water(conn)?)
        })
    }

    fn reserve_block(&mut self, at_least: i64, size: i64) -> Result<KeyBlock, StoreError> {
        self.run("reserve a key block", Access::Write, |conn| {
            write::reserve_block(conn, at_least, size)
        })
    }

    fn commit_batch(
        &mut self,
        rows: &[KeyedMessage<'_>],
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Result<Committed, StoreError> {
        let started = Instant::now();
        let plural = if rows.len() == 1 { "" } else { "s" };
        let what = format!("commit a batch of {} message{plural}", rows.len());
        let committed = self.run(&what, Access::Write, |conn| {
            write::commit_batch(conn, rows, source, source_file, started)
        });
        if let Some(c) = &self.checkpointer {
            c.nudge();
        }
        committed
    }

    fn maintain(&mut self) -> Result<(), StoreError> {
        // Housekeeping never fails a batch: whatever went wrong is retried next time.
        self.checkpoint_wal().map_err(|err| match err {
            StoreError::Transient(why) | StoreError::Permanent(why) | StoreError::KeyConflict(why) => {
                StoreError::Transient(why)
            }
        })
    }
}

fn apply_max_pages(conn: &Connection, pages: Option<u64>) {
    if let Some(pages) = pages {
        if let Err(err) = conn.pragma_update(None, "max_page_count", pages as i64) {
            tracing::warn!("cannot limit the database to {pages} pages: {err}");
        }
    }
}

fn apply_tuning(conn: &Connection, tuning: Tuning) {
    let cache = -(tuning.cache_kib.min(i64::MAX as u64) as i64);
    if let Err(err) = conn.pragma_update(None, "cache_size", cache) {
        tracing::warn!("cannot set the page cache to {} KiB: {err}", tuning.cache_kib);
    }
    let pages = tuning.wal_autocheckpoint.min(i64::MAX as u64) as i64;
    if let Err(err) = conn.pragma_update(None, "wal_autocheckpoint", pages) {
        tracing::warn!("cannot set wal_autocheckpoint to {pages} pages: {err}");
    }
}

/// `true` when the checkpoint ran to completion (no reader or writer held it back).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<bool> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    let busy: i64 = conn.query_row(&sql, [], |row| row.get(0))?;
    Ok(busy == 0)
}
