//! Shared helpers for the store tests: messages, keyed batches, raw connections, counts.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use statmgr::message::{Message, Severity};
use statmgr::processor::sqlite::SqliteStore;
use statmgr::processor::store::{BatchSource, Committed, KeyedMessage, Store, StoreError};

/// A message with every field set, two insertion strings and two attributes.
pub fn message(uid: &str) -> Message {
    Message {
        uid: uid.to_string(),
        message_id: 4711,
        severity: Severity::Warning,
        component: "spooler".into(),
        machine: "HOST-01".into(),
        site: "berlin".into(),
        time: "2024-05-06T07:08:09.123+02:00".into(),
        module: Some("print.dll".into()),
        report_type: Some("event".into()),
        process_id: Some(1234),
        thread_id: Some(-5),
        win32_error: Some(0x8007_0005),
        insertion_strings: vec![format!("first of {uid}"), String::new()],
        attributes: BTreeMap::from([(7, "seven".to_string()), (-1, "minus one".to_string())]),
    }
}

/// A message with only the required fields.
pub fn bare(uid: &str) -> Message {
    Message {
        module: None,
        report_type: None,
        process_id: None,
        thread_id: None,
        win32_error: None,
        insertion_strings: Vec::new(),
        attributes: BTreeMap::new(),
        ..message(uid)
    }
}

/// Keys the messages with consecutive record ids from `first_id`.
pub fn keyed(first_id: i64, messages: &[Message]) -> Vec<KeyedMessage<'_>> {
    (first_id..)
        .zip(messages)
        .map(|(record_id, message)| KeyedMessage { record_id, message })
        .collect()
}

pub fn commit(store: &mut SqliteStore, first_id: i64, messages: &[Message]) -> Result<Committed, StoreError> {
    store.commit_batch(
        &keyed(first_id, messages),
        BatchSource::Inbox,
        Some("batch.jsonl"),
    )
}

pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestDb {
    pub fn temp() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("statmgr.db");
        TestDb { dir, path }
    }

    pub fn open(&self, busy_timeout: Duration) -> SqliteStore {
        SqliteStore::open(&self.path, busy_timeout).expect("open store")
    }

    /// Another connection, as an operator's shell or a second writer would have.
    pub fn raw(&self) -> Connection {
        raw(&self.path)
    }
}

pub fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("raw connection");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    conn
}

pub fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))
        .expect("count")
}

/// Rows of the message tables and of `batches`, to show a failed batch left nothing.
pub fn totals(conn: &Connection) -> [i64; 4] {
    [
        "status_messages",
        "status_message_insstrs",
        "status_message_attributes",
        "batches",
    ]
    .map(|table| count(conn, table))
}

pub fn uids(conn: &Connection) -> Vec<(i64, String)> {
    let mut statement = conn
        .prepare("SELECT record_id, uid FROM status_messages ORDER BY record_id")
        .expect("prepare");
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}
