//! The SQLite store against real database files: schema, commit, duplicates, conflicts,
//! poison messages, locks, the allocator's blocks and the telemetry reader.

#[path = "store_support.rs"]
mod support;

use std::time::{Duration, Instant};

use statmgr::processor::sqlite::{SqliteStore, SCHEMA_VERSION};
use statmgr::processor::store::{BatchSource, Store, StoreError};
use support::{bare, commit, keyed, message, totals, uids, TestDb};

const WAIT: Duration = Duration::from_secs(5);

fn schema_sql(conn: &rusqlite::Connection) -> Vec<String> {
    let mut statement = conn
        .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .expect("prepare");
    let rows = statement.query_map([], |row| row.get(0)).expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

#[test]
fn schema_is_created_once_and_reopening_changes_nothing() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("a")]).expect("commit");
    let before = schema_sql(&db.raw());
    for table in [
        "status_messages",
        "status_message_insstrs",
        "status_message_attributes",
        "batches",
        "allocator",
    ] {
        assert!(
            before
                .iter()
                .any(|sql| sql.starts_with(&format!("CREATE TABLE {table} "))),
            "{table}: {before:?}"
        );
    }
    drop(store);

    let mut store = db.open(WAIT);
    let conn = db.raw();
    assert_eq!(schema_sql(&conn), before);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    assert_eq!(uids(&conn), vec![(1, "a".to_string())]);
    commit(&mut store, 2, &[message("b")]).expect("commit after reopen");
}

#[test]
fn database_from_a_newer_statmgr_is_refused() {
    let db = TestDb::temp();
    drop(db.open(WAIT));
    db.raw()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    let err = SqliteStore::open(&db.path, WAIT).expect_err("newer schema");
    let text = err.to_string();
    assert!(
        text.contains("use a newer statmgr") && text.contains(&db.path.display().to_string()),
        "{text}"
    );
}

#[test]
fn committed_batch_reads_back_column_for_column() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    let messages = [message("full"), bare("bare")];
    let committed = store
        .commit_batch(&keyed(10, &messages), BatchSource::Retry, Some("r-1.jsonl"))
        .expect("commit");
    assert_eq!((committed.inserted, committed.duplicates), (2, 0));
    assert_eq!(
        (committed.first_record_id, committed.last_record_id),
        (Some(10), Some(11))
    );
    assert!(committed.duration_ms > 0.0);

    let conn = db.raw();
    type Row = (
        String,
        i64,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Row = conn
        .query_row(
            "SELECT uid, message_id, severity, component, machine, site, time, module, report_type
             FROM status_messages WHERE record_id = 10",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .expect("row");
    let m = &messages[0];
    let expected: Row = (
        m.uid.clone(),
        m.message_id,
        "warning".into(),
        m.component.clone(),
        m.machine.clone(),
        m.site.clone(),
        m.time.clone(),
        m.module.clone(),
        m.report_type.clone(),
    );
    assert_eq!(row, expected);
    let numbers = "SELECT process_id, thread_id, win32_error, batch_id, received FROM status_messages WHERE record_id = ?1";
    let read_numbers = |id: i64| -> (Option<i64>, Option<i64>, Option<i64>, i64, String) {
        conn.query_row(numbers, [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("numbers")
    };
    let (process, thread, win32, batch_id, received) = read_numbers(10);
    assert_eq!(
        (process, thread, win32, batch_id),
        (m.process_id, m.thread_id, m.win32_error, committed.batch_id)
    );
    let received = chrono::DateTime::parse_from_rfc3339(&received).expect("received is RFC 3339");
    assert_eq!(received.offset().local_minus_utc(), 0);
    assert_eq!(read_numbers(11).0..=read_numbers(11).2, None..=None);

    let mut insstrs = conn
        .prepare("SELECT idx, value FROM status_message_insstrs WHERE record_id = 10 ORDER BY idx")
        .expect("prepare");
    let insstrs: Vec<(i64, String)> = insstrs
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        insstrs,
        vec![(0, "first of full".to_string()), (1, String::new())]
    );
    let mut attributes =
        conn.prepare("SELECT attribute_id, value FROM status_message_attributes WHERE record_id = 10 ORDER BY attribute_id").expect("prepare");
    let attributes: Vec<(i64, String)> = attributes
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(attributes, m.attributes.clone().into_iter().collect::<Vec<_>>());
    assert_eq!(totals(&conn), [2, 2, 2, 1]);

    type Batch = (i64, i64, Option<i64>, Option<i64>, f64, String, Option<String>);
    let batch: Batch = conn
        .query_row(
            "SELECT count, duplicates, first_record_id, last_record_id, duration_ms, source, source_file
             FROM batches WHERE id = ?1",
            [committed.batch_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .expect("batch row");
    assert_eq!((batch.0, batch.1, batch.2, batch.3), (2, 0, Some(10), Some(11)));
    assert!(
        batch.4 > 0.0 && batch.4 <= committed.duration_ms,
        "{} vs {}",
        batch.4,
        committed.duration_ms
    );
    assert_eq!(
        (batch.5.as_str(), batch.6.as_deref()),
        ("retry", Some("r-1.jsonl"))
    );
}

#[test]
fn duplicate_uid_within_and_across_batches_is_stored_once() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    let first = commit(&mut store, 1, &[message("a"), message("b"), message("a")]).expect("first");
    assert_eq!((first.inserted, first.duplicates), (2, 1));
    assert_eq!((first.first_record_id, first.last_record_id), (Some(1), Some(2)));
    let second = commit(&mut store, 4, &[message("b"), message("c")]).expect("second");
    assert_eq!((second.inserted, second.duplicates), (1, 1));
    assert_eq!(
        (second.first_record_id, second.last_record_id),
        (Some(5), Some(5))
    );
    let all_duplicates = commit(&mut store, 6, &[message("c")]).expect("third");
    assert_eq!(
        (all_duplicates.inserted, all_duplicates.first_record_id),
        (0, None)
    );

    let conn = db.raw();
    assert_eq!(
        uids(&conn),
        vec![(1, "a".into()), (2, "b".into()), (5, "c".into())]
    );
    // The skipped messages' keys stay unused, also in the child tables.
    assert_eq!(totals(&conn), [3, 6, 6, 3]);
    let duplicates: i64 = conn
        .query_row("SELECT sum(duplicates) FROM batches", [], |r| r.get(0))
        .expect("sum");
    assert_eq!(duplicates, 3);
}

#[test]
fn same_uid_under_the_same_record_id_is_a_duplicate_not_a_conflict() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("a")]).expect("first");
    let again = commit(&mut store, 1, &[message("a")]).expect("replayed with the same key");
    assert_eq!((again.inserted, again.duplicates), (0, 1));
}

#[test]
fn record_id_used_by_another_writer_is_a_key_conflict_and_nothing_remains() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("mine")]).expect("first");
    let conn = db.raw();
    conn.execute("INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site, time, received, batch_id)
                  VALUES (3, 'foreign', 1, 'info', 'c', 'm', 's', 't', 'r', 0)", []).expect("foreign row");
    let before = totals(&conn);

    let err = commit(&mut store, 2, &[message("x"), message("y"), message("z")]).expect_err("conflict");
    let StoreError::KeyConflict(why) = &err else {
        panic!("expected a key conflict, got {err:?}")
    };
    assert!(why.contains("record id 3") && why.contains("\"y\""), "{why}");
    assert_eq!(totals(&conn), before);
    assert!(!uids(&conn).iter().any(|(_, uid)| uid == "x"));

    let retried = commit(&mut store, 4, &[message("x"), message("y"), message("z")]).expect("after resync");
    assert_eq!(retried.inserted, 3);
}

#[test]
fn orphan_child_rows_make_their_record_id_a_key_conflict() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    let conn = db.raw();
    conn.execute_batch(
        "INSERT INTO status_message_insstrs VALUES (5, 0, 'orphan');
         INSERT INTO status_message_attributes VALUES (8, 1, 'orphan');",
    )
    .expect("orphans");
    for (id, msg) in [
        (5, message("with children")),
        (5, bare("without children")),
        (8, bare("attrs")),
    ] {
        let err = commit(&mut store, id - 1, &[bare("before"), msg])
            .map(|_| ())
            .err();
        let Some(StoreError::KeyConflict(why)) = &err else {
            panic!("expected a key conflict at {id}, got {err:?}")
        };
        assert!(why.contains(&format!("record id {id}")), "{why}");
        assert_eq!(totals(&conn), [0, 1, 1, 0]);
    }
    commit(&mut store, 9, &[message("after")]).expect("above the orphans");
}

#[test]
fn trigger_rejecting_a_message_is_permanent_and_commits_nothing() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("warm the statement cache")]).expect("first");
    let conn = db.raw();
    conn.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'POISON'
         BEGIN SELECT RAISE(ABORT, 'poison machine'); END;",
    )
    .expect("trigger");
    let before = totals(&conn);
    let mut poison = message("poisoned");
    poison.machine = "POISON".into();
    let err = commit(&mut store, 2, &[message("ok1"), poison, message("ok2")]).expect_err("poison");
    let StoreError::Permanent(why) = &err else {
        panic!("expected permanent, got {err:?}")
    };
    assert!(
        why.contains("poison machine") && why.contains("\"poisoned\"") && why.contains("record id 3"),
        "{why}"
    );
    assert_eq!(totals(&conn), before);
    commit(&mut store, 5, &[message("ok1"), message("ok2")]).expect("the rest commits");
}

#[test]
fn write_lock_held_elsewhere_is_transient_after_the_busy_timeout() {
    let db = TestDb::temp();
    let timeout = Duration::from_millis(100);
    let mut store = db.open(timeout);
    commit(&mut store, 1, &[message("a")]).expect("first");
    let holder = db.raw();
    holder.execute_batch("BEGIN EXCLUSIVE; INSERT INTO batches (committed_at, count, duplicates, duration_ms, source) VALUES ('x', 0, 0, 0, 'x');").expect("lock");

    let started = Instant::now();
    let err = commit(&mut store, 2, &[message("b")]).expect_err("busy");
    let waited = started.elapsed();
    assert_eq!(err, StoreError::Transient(
        "commit a batch of 1 message: database is locked (another connection holds it; busy timeout 100ms elapsed)".into()));
    assert!(
        waited >= Duration::from_millis(90) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(matches!(
        store.reserve_block(0, 10),
        Err(StoreError::Transient(_))
    ));
    // Readers are not blocked by a writer in WAL mode.
    assert_eq!(store.max_record_id(), Ok(1));

    holder.execute_batch("ROLLBACK").expect("unlock");
    commit(&mut store, 2, &[message("b")]).expect("commits once the lock is gone");
}
