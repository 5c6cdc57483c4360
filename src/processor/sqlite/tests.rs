//! Tests of error classification (real failing statements) and of the store's internals.

use std::time::Duration;

use rusqlite::{ffi, Connection, OpenFlags};

use super::*;
use crate::message::{Message, Severity};
use crate::processor::store::StoreError;

fn kind(err: &StoreError) -> &'static str {
    match err {
        StoreError::KeyConflict(_) => "key conflict",
        StoreError::Transient(_) => "transient",
        StoreError::Permanent(_) => "permanent",
    }
}

/// Runs `sql` expecting it to fail, and classifies the failure.
fn classify_failure(conn: &Connection, sql: &str) -> StoreError {
    match conn.execute_batch(sql) {
        Ok(()) => panic!("{sql} should have failed"),
        Err(err) => classify(&err),
    }
}

fn synthetic(extended_code: i32) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(extended_code), Some("synthetic".to_string()))
}

fn scratch() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = Connection::open(dir.path().join("scratch.db")).expect("open");
    conn.execute_batch(
        "CREATE TABLE status_messages (record_id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE,
             machine TEXT NOT NULL CHECK (machine <> ''));
         CREATE TABLE status_message_insstrs (record_id INTEGER NOT NULL, idx INTEGER NOT NULL,
             value TEXT NOT NULL, PRIMARY KEY (record_id, idx)) WITHOUT ROWID;
         CREATE TABLE audit (record_id INTEGER PRIMARY KEY);
         CREATE TABLE plain (x);
         INSERT INTO status_messages VALUES (1, 'a', 'm');
         INSERT INTO status_message_insstrs VALUES (1, 0, 'x');
         INSERT INTO audit VALUES (1);
         INSERT INTO plain (rowid, x) VALUES (1, 1);",
    )
    .expect("schema");
    (dir, conn)
}

#[test]
fn constraint_failures_are_classified_by_what_failed() {
    let (_dir, conn) = scratch();
    let cases = [
        (
            "INSERT INTO status_messages VALUES (1, 'b', 'm')",
            "key conflict",
            "status_messages.record_id",
        ),
        (
            "INSERT INTO status_message_insstrs VALUES (1, 0, 'y')",
            "key conflict",
            "status_message_insstrs",
        ),
        (
            "INSERT INTO status_messages VALUES (2, 'a', 'm')",
            "permanent",
            "status_messages.uid",
        ),
        (
            "INSERT INTO status_messages VALUES (2, 'b', '')",
            "permanent",
            "CHECK constraint failed",
        ),
        (
            "INSERT INTO status_messages VALUES (2, 'b', NULL)",
            "permanent",
            "NOT NULL",
        ),
        (
            "INSERT INTO status_messages VALUES ('abc', 'b', 'm')",
            "permanent",
            "datatype mismatch",
        ),
        ("INSERT INTO audit VALUES (1)", "permanent", "audit"),
        (
            "INSERT INTO plain (rowid, x) VALUES (1, 2)",
            "permanent",
            "plain.rowid",
        ),
    ];
    for (sql, expected, words) in cases {
        let err = classify_failure(&conn, sql);
        assert_eq!(kind(&err), expected, "{sql}: {err}");
        assert!(err.to_string().contains(words), "{sql}: {err}");
    }
}

#[test]
fn rowid_conflict_in_a_keyed_table_is_a_key_conflict() {
    let (_dir, conn) = scratch();
    conn.execute_batch("CREATE TABLE status_message_attributes (value TEXT)")
        .expect("table");
    conn.execute(
        "INSERT INTO status_message_attributes (rowid, value) VALUES (5, 'x')",
        [],
    )
    .expect("row");
    let err = conn
        .execute(
            "INSERT INTO status_message_attributes (rowid, value) VALUES (5, 'y')",
            [],
        )
        .expect_err("rowid conflict");
    assert_eq!(
        err.sqlite_error().map(|e| e.extended_code),
        Some(ffi::SQLITE_CONSTRAINT_ROWID)
    );
    assert!(matches!(classify(&err), StoreError::KeyConflict(_)), "{err}");
}

#[test]
fn trigger_rejection_is_permanent_with_its_message() {
    let (_dir, conn) = scratch();
    conn.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'POISON'
         BEGIN SELECT RAISE(ABORT, 'poison machine'); END;",
    )
    .expect("trigger");
    let err = classify_failure(&conn, "INSERT INTO status_messages VALUES (9, 'p', 'POISON')");
    assert_eq!(
        err,
        StoreError::Permanent("rejected by a database trigger: poison machine".to_string())
    );
}

#[test]
fn missing_table_waits_for_an_operator() {
    let (_dir, conn) = scratch();
    let err = classify_failure(&conn, "INSERT INTO batches (id) VALUES (1)");
    assert_eq!(kind(&err), "transient", "{err}");
    assert!(err.to_string().contains("no such table: batches"), "{err}");
}

#[test]
fn too_big_value_is_permanent() {
    let (_dir, conn) = scratch();
    let err = conn
        .query_row("SELECT length(zeroblob(2000000000))", [], |row| {
            row.get::<_, i64>(0)
        })
        .expect_err("too big");
    assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::TooBig));
    assert_eq!(kind(&classify(&err)), "permanent");
}

#[test]
fn write_lock_held_elsewhere_is_transient_and_says_so() {
    let (dir, holder) = scratch();
    holder.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let waiter = Connection::open(dir.path().join("scratch.db")).expect("open");
    waiter.busy_timeout(Duration::from_millis(10)).expect("timeout");
    let err = waiter.execute_batch("BEGIN IMMEDIATE").expect_err("busy");
    assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy));
    assert_eq!(
        classify_with(&err, Some(Duration::from_secs(5))),
        StoreError::Transient(
            "database is locked (another connection holds it; busy timeout 5s elapsed)".into()
        )
    );
    assert_eq!(kind(&classify(&err)), "transient");
}

#[test]
fn table_locked_by_a_running_statement_is_transient() {
    let (_dir, conn) = scratch();
    let mut reading = conn
        .prepare("SELECT record_id FROM status_messages")
        .expect("prepare");
    let mut rows = reading.query([]).expect("query");
    assert!(rows.next().expect("row").is_some());
    let err = conn
        .execute_batch("DROP TABLE status_messages")
        .expect_err("locked");
    assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseLocked));
    assert_eq!(kind(&classify(&err)), "transient", "{err}");
}

#[test]
fn unopenable_unwritable_and_damaged_files_are_transient() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = Connection::open(dir.path().join("no/such/dir/x.db")).expect_err("cannot open");
    assert_eq!(missing.sqlite_error_code(), Some(rusqlite::ErrorCode::CannotOpen));

    let path = dir.path().join("ro.db");
    Connection::open(&path)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
        .expect("create");
    let read_only = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let readonly = read_only
        .execute_batch("INSERT INTO t VALUES (1)")
        .expect_err("read-only");
    assert_eq!(readonly.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly));

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).expect("write");
    let not_a_db = Connection::open(&garbage)
        .and_then(|c| c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)))
        .expect_err("not a database");
    assert_eq!(
        not_a_db.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    );

    for err in [missing, readonly, not_a_db] {
        assert_eq!(kind(&classify(&err)), "transient", "{err}");
    }
}

#[test]
fn corrupt_file_is_transient() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("corrupt.db");
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch(
        "CREATE TABLE t (x);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
         INSERT INTO t SELECT zeroblob(100) FROM n;",
    )
    .expect("fill");
    drop(conn);
    let mut bytes = std::fs::read(&path).expect("read");
    let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    // Page 2 is the table's root: scramble its header so reading it fails.
    bytes[page_size..page_size + 64].fill(0xff);
    std::fs::write(&path, bytes).expect("write");
    let err = Connection::open(&path)
        .and_then(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)))
        .expect_err("corrupt");
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt),
        "{err}"
    );
    assert_eq!(kind(&classify(&err)), "transient", "{err}");
}

#[test]
fn codes_that_cannot_be_provoked_safely_are_mapped_too() {
    // Out of memory and I/O errors cannot be caused in a test without disturbing others.
    let transient = [
        ffi::SQLITE_IOERR_WRITE,
        ffi::SQLITE_IOERR_FSYNC,
        ffi::SQLITE_FULL,
        ffi::SQLITE_NOMEM,
        ffi::SQLITE_PROTOCOL,
        ffi::SQLITE_READONLY_DBMOVED,
        ffi::SQLITE_BUSY_SNAPSHOT,
        ffi::SQLITE_LOCKED_SHAREDCACHE,
    ];
    for code in transient {
        assert_eq!(kind(&classify(&synthetic(code))), "transient", "code {code}");
    }
    for code in [
        ffi::SQLITE_RANGE,
        ffi::SQLITE_MISMATCH,
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
    ] {
        assert_eq!(kind(&classify(&synthetic(code))), "permanent", "code {code}");
    }
    assert_eq!(
        kind(&classify(&rusqlite::Error::QueryReturnedNoRows)),
        "permanent"
    );
    assert!(classify(&synthetic(ffi::SQLITE_READONLY_DBMOVED))
        .to_string()
        .contains("moved or deleted"));
}

fn message(uid: &str) -> Message {
    Message {
        uid: uid.to_string(),
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
        insertion_strings: vec!["x".repeat(4000)],
        attributes: Default::default(),
    }
}

fn commit(store: &mut SqliteStore, first_id: i64, uids: &[String]) -> Result<Committed, StoreError> {
    let messages: Vec<Message> = uids.iter().map(|uid| message(uid)).collect();
    let rows: Vec<KeyedMessage<'_>> = (first_id..)
        .zip(&messages)
        .map(|(record_id, message)| KeyedMessage { record_id, message })
        .collect();
    store.commit_batch(&rows, BatchSource::Inbox, None)
}

#[test]
fn full_database_is_transient_and_later_batches_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(&dir.path().join("db"), Duration::from_secs(1)).expect("open");
    let uids: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
    commit(&mut store, 1, &uids[..10]).expect("first batch");
    let conn = store.conn.as_ref().expect("open connection");
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("page count");
    // A real SQLITE_FULL: the database may not grow past its current size.
    conn.pragma_update(None, "max_page_count", pages).expect("limit");
    let err = commit(&mut store, 11, &uids[10..]).expect_err("full");
    assert_eq!(kind(&err), "transient", "{err}");
    assert!(err.to_string().contains("full"), "{err}");
    let conn = store.conn.as_ref().expect("connection kept");
    conn.pragma_update(None, "max_page_count", 1_000_000)
        .expect("lift limit");
    let committed = commit(&mut store, 11, &uids[10..]).expect("commits once space is back");
    assert_eq!(committed.inserted, 40);
}

#[test]
fn maintain_truncates_a_wal_over_its_limit_unless_a_reader_holds_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    let mut store = SqliteStore::open(&path, Duration::from_millis(100)).expect("open");
    store.wal_limit = 10_000;
    let uids: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
    commit(&mut store, 1, &uids[..10]).expect("commit");
    let wal = store.wal_path();
    let wal_size = || std::fs::metadata(&wal).expect("wal").len();

    let reader = Connection::open(&path).expect("reader");
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM status_messages;")
        .expect("read transaction");
    commit(&mut store, 11, &uids[10..]).expect("commit");
    let err = store.maintain().expect_err("a reader holds the WAL");
    assert_eq!(kind(&err), "transient", "{err}");
    assert!(err.to_string().contains("limit"), "{err}");

    reader.execute_batch("COMMIT").expect("end read");
    assert!(wal_size() > 10_000);
    store.maintain().expect("maintain");
    assert_eq!(wal_size(), 0);
}

/// The per-batch orphan check: child rows inside the batch's id range but under an id the
/// batch does not use change nothing; under an id it uses, they are a key conflict.
#[test]
fn orphans_between_a_batchs_record_ids_are_not_adopted_nor_in_the_way() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(&dir.path().join("db"), Duration::from_secs(1)).expect("open");
    let conn = store.conn.as_ref().expect("open connection");
    conn.execute(
        "INSERT INTO status_message_attributes VALUES (5, 1, 'orphan')",
        [],
    )
    .expect("orphan");
    let (a, b) = (message("a"), message("b"));
    let around = [
        KeyedMessage {
            record_id: 3,
            message: &a,
        },
        KeyedMessage {
            record_id: 7,
            message: &b,
        },
    ];
    let committed = store
        .commit_batch(&around, BatchSource::Inbox, None)
        .expect("ids around the orphan");
    assert_eq!(committed.inserted, 2);
    let err = commit(&mut store, 4, &["c".into(), "d".into()]).expect_err("id 5 has an orphan");
    assert_eq!(kind(&err), "key conflict", "{err}");
    assert!(err.to_string().contains("record id 5"), "{err}");
}
