//! Schema versions: a database as the previous release created it is upgraded in place
//! (rows kept); one whose schema is newer than this build is refused and left byte for byte
//! unchanged, by the store and by the real `statmgr run`.

mod support;

use std::process::Command;
use std::time::Duration;

use rusqlite::Connection;
use statmgr::processor::sqlite::{SqliteStore, SCHEMA_VERSION};

/// The schema exactly as version 1 (the first release, main before retention) created it.
const V1_AS_RELEASED: &str = "
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
    record_id INTEGER NOT NULL, idx INTEGER NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (record_id, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_message_attributes (
    record_id INTEGER NOT NULL, attribute_id INTEGER NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (record_id, attribute_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, committed_at TEXT NOT NULL, count INTEGER NOT NULL,
    duplicates INTEGER NOT NULL, first_record_id INTEGER, last_record_id INTEGER,
    duration_ms REAL NOT NULL, source TEXT NOT NULL, source_file TEXT);
CREATE TABLE IF NOT EXISTS allocator (
    id INTEGER PRIMARY KEY CHECK (id = 1), high_water INTEGER NOT NULL, block_size INTEGER NOT NULL);
";

fn version_one_database(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
        .unwrap();
    conn.execute_batch(V1_AS_RELEASED).unwrap();
    conn.execute_batch(
        "INSERT INTO status_messages VALUES
             (7, 'old-1', 1, 'error', 'c', 'm', 's', '2020-01-01T00:00:00Z', NULL, NULL, NULL, NULL, NULL,
              '2020-01-01T00:00:01Z', 1);
         INSERT INTO status_message_insstrs VALUES (7, 0, 'kept');
         INSERT INTO batches VALUES (1, '2020-01-01T00:00:01Z', 1, 0, 7, 7, 1.0, 'inbox', NULL);
         INSERT INTO allocator VALUES (1, 1000, 1000);
         PRAGMA user_version = 1;",
    )
    .unwrap();
}

#[test]
fn a_version_one_database_is_upgraded_and_keeps_its_rows() {
    let tmp = support::tempdir();
    let path = tmp.path().join("statmgr.db");
    version_one_database(&path);

    let store = SqliteStore::open(&path, Duration::from_secs(5)).expect("open the old database");
    drop(store);
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 2) };
    let index: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'status_messages_retention'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1, "the retention index is added by the upgrade");
    let (uid, child): (String, String) = conn
        .query_row(
            "SELECT uid, value FROM status_messages JOIN status_message_insstrs USING (record_id)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((uid.as_str(), child.as_str()), ("old-1", "kept"));

    // Opening again is a no-op (idempotent): same schema, same version.
    let schema_before: Vec<String> = schema(&conn);
    drop(SqliteStore::open(&path, Duration::from_secs(5)).expect("reopen"));
    assert_eq!(schema(&conn), schema_before);
}

fn schema(conn: &Connection) -> Vec<String> {
    let mut st = conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A database from a future statmgr: made by this build, then marked as a later version.
fn future_database(path: &std::path::Path) -> i64 {
    drop(SqliteStore::open(path, Duration::from_secs(5)).unwrap());
    let future = SCHEMA_VERSION + 7;
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", future).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    future
}

#[test]
fn a_newer_schema_is_refused_by_the_store_and_left_unchanged() {
    let tmp = support::tempdir();
    let path = tmp.path().join("statmgr.db");
    let future = future_database(&path);
    let before = std::fs::read(&path).unwrap();

    let err = SqliteStore::open(&path, Duration::from_secs(5)).expect_err("a newer schema must be refused");
    let text = err.to_string();
    assert!(text.contains(&format!("version {future}")), "{text}");
    assert!(text.contains(&format!("up to {SCHEMA_VERSION}")), "{text}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file must not be modified"
    );
}

#[test]
fn statmgr_run_refuses_a_newer_schema_with_exit_1_and_leaves_the_file_alone() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    std::fs::create_dir_all(&root).unwrap();
    let path = root.join("statmgr.db");
    let future = future_database(&path);
    let before = std::fs::read(&path).unwrap();

    let out = Command::new(support::bin())
        .args(["run", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("version {future}")), "{stderr}");
    assert!(stderr.contains(&format!("up to {SCHEMA_VERSION}")), "{stderr}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file must not be modified"
    );
}

#[test]
fn a_database_path_that_cannot_be_created_is_a_clear_error_and_exit_1() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    std::fs::create_dir_all(&root).unwrap();
    // A directory where the database file should be: it can be neither opened nor created.
    std::fs::create_dir(root.join("statmgr.db")).unwrap();
    let out = Command::new(support::bin())
        .args(["run", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("statmgr.db"), "names the file: {stderr}");
}
