//! The WAL checkpoint off the committer's path: a thread with a connection of its own
//! copies committed WAL frames into the database file while the committer goes on.
//!
//! It only ever checkpoints through a connection to the very file the committer's
//! connection has open: the store publishes that file's identity (under the same lock the
//! checkpoint holds), and a connection to any other file is dropped unused. Its connection
//! never checkpoints on close (a WAL at the same path may belong to another file by then).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};
use rusqlite::config::DbConfig;
use rusqlite::Connection;

use super::schema::{self, Create};
use super::FileIdentity;

/// What the store and the thread share.
#[derive(Debug, Default)]
struct Shared {
    /// The file the committer's connection has open; `None` while it has none.
    identity: Option<FileIdentity>,
}

/// The handle the store keeps; dropping it stops the thread.
#[derive(Debug)]
pub(super) struct Checkpointer {
    shared: Arc<Mutex<Shared>>,
    wake: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread: once woken, it checkpoints (`PASSIVE`) when the WAL holds at
    /// least `pages` pages.
    pub(super) fn start(path: PathBuf, busy_timeout: Duration, pages: u64) -> std::io::Result<Checkpointer> {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (wake, woken) = bounded(1);
        let worker = Worker {
            path,
            busy_timeout,
            threshold: pages.max(1),
            shared: shared.clone(),
            conn: None,
        };
        let thread = std::thread::Builder::new()
            .name("checkpointer".into())
            .spawn(move || worker.run(woken))?;
        Ok(Checkpointer {
            shared,
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// The committer's connection now has this file open (or none). Waits for a
    /// checkpoint in progress, so none runs on a file the committer has left.
    pub(super) fn publish(&self, identity: Option<FileIdentity>) {
        lock(&self.shared).identity = identity;
    }

    /// After a commit: look at the WAL (never blocks).
    pub(super) fn nudge(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None; // disconnects: the thread ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Worker {
    path: PathBuf,
    busy_timeout: Duration,
    threshold: u64,
    shared: Arc<Mutex<Shared>>,
    /// Its connection and the file it has open.
    conn: Option<(Connection, FileIdentity)>,
}

impl Worker {
    fn run(mut self, woken: Receiver<()>) {
        while woken.recv().is_ok() {
            if self.wal_pages() < self.threshold {
                continue;
            }
            let shared = self.shared.clone();
            let guard = lock(&shared);
            if let Err(err) = self.checkpoint(guard.identity.as_ref()) {
                tracing::debug!("background checkpoint skipped: {err}");
                self.conn = None;
            }
        }
    }

    /// WAL size in pages of 4 KiB (an estimate is enough to decide).
    fn wal_pages(&self) -> u64 {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len() / 4096)
    }

    /// Runs under the store's lock: `current` is the committer's file.
    fn checkpoint(&mut self, current: Option<&FileIdentity>) -> Result<(), String> {
        let Some(current) = current else {
            self.conn = None;
            return Ok(());
        };
        if self.conn.as_ref().is_some_and(|(_, id)| id != current) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.open(current)?);
        }
        let (conn, id) = self.conn.as_ref().expect("opened above");
        // The file at the path must still be the one both connections have open.
        if FileIdentity::of(&self.path).ok().as_ref() != Some(id) {
            return Err("the database file was replaced".into());
        }
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| e.to_string())
    }

    fn open(&self, current: &FileIdentity) -> Result<(Connection, FileIdentity), String> {
        let before = FileIdentity::of(&self.path).map_err(|e| e.to_string())?;
        if &before != current {
            return Err("the file at the path is not the committer's".into());
        }
        let conn = schema::connect(&self.path, self.busy_timeout, Create::No).map_err(|e| e.to_string())?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| e.to_string())?;
        let after = FileIdentity::of(&self.path).map_err(|e| e.to_string())?;
        if after != before {
            return Err("the database file was replaced while opening".into());
        }
        Ok((conn, after))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::message::{Message, Severity};
    use crate::processor::sqlite::{SqliteStore, Tuning};
    use crate::processor::store::{BatchSource, KeyedMessage, Store};

    fn message(uid: String) -> Message {
        Message {
            uid,
            message_id: 1,
            severity: Severity::Info,
            component: "c".into(),
            machine: "m".into(),
            site: "s".into(),
            time: "2024-01-01T00:00:00Z".into(),
            module: None,
            report_type: None,
            process_id: None,
            thread_id: None,
            win32_error: None,
            insertion_strings: vec!["x".repeat(2000)],
            attributes: Default::default(),
        }
    }

    fn db_pages_on_disk(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len() / 4096)
    }

    /// With no checkpoint on the commit path, only the thread can copy committed pages
    /// into the database file; the rows are all there, read through a new connection.
    #[test]
    fn the_thread_checkpoints_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let mut store = SqliteStore::open(&path, Duration::from_secs(5)).expect("open");
        store.tune(Tuning {
            cache_kib: 2000,
            wal_autocheckpoint: 0,
            checkpoint_pages: 8,
        });
        let before = db_pages_on_disk(&path);
        let messages: Vec<Message> = (0..200).map(|i| message(format!("u{i}"))).collect();
        for (batch, chunk) in messages.chunks(20).enumerate() {
            let first = 1 + batch as i64 * 20;
            let rows: Vec<KeyedMessage<'_>> = (first..)
                .zip(chunk)
                .map(|(record_id, message)| KeyedMessage { record_id, message })
                .collect();
            store
                .commit_batch(&rows, BatchSource::Inbox, None)
                .expect("commit");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while db_pages_on_disk(&path) < before + 50 {
            assert!(
                Instant::now() < deadline,
                "the database file never grew: {} pages, {before} before",
                db_pages_on_disk(&path)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let conn = rusqlite::Connection::open(&path).expect("reader");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM status_messages", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 200);
        drop(conn);
        drop(store);
        let wal = dir.path().join("db-wal");
        assert!(!wal.exists(), "the last connection to close removes the WAL");
    }
}
