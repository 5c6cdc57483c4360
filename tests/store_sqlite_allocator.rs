//! The allocator's side of the SQLite store: durable key blocks, the largest used record
//! id (orphans included), and the telemetry reader.

#[path = "store_support.rs"]
mod support;

use std::time::Duration;

use statmgr::processor::sqlite::SqliteReader;
use statmgr::processor::store::{KeyBlock, Store, StoreError};
use support::{bare, commit, count, message, TestDb};

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn reserved_blocks_rise_honour_at_least_and_survive_reopening() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    assert_eq!(store.high_water(), Ok(0));
    assert_eq!(store.reserve_block(1, 100), Ok(KeyBlock { start: 1, end: 101 }));
    assert_eq!(store.reserve_block(0, 100), Ok(KeyBlock { start: 101, end: 201 }));
    assert_eq!(
        store.reserve_block(500, 10),
        Ok(KeyBlock { start: 500, end: 510 })
    );
    assert_eq!(
        store.reserve_block(505, 10),
        Ok(KeyBlock { start: 510, end: 520 })
    );
    drop(store);

    let mut store = db.open(WAIT);
    assert_eq!(store.high_water(), Ok(520));
    let row: (i64, i64) = db
        .raw()
        .query_row("SELECT high_water, block_size FROM allocator", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    assert_eq!(row, (520, 10));
    let err = store.reserve_block(i64::MAX - 5, 10).expect_err("overflow");
    assert!(
        matches!(&err, StoreError::Permanent(why) if why.contains("record id space exhausted")),
        "{err:?}"
    );
    assert!(matches!(store.reserve_block(0, 0), Err(StoreError::Permanent(_))));
    assert_eq!(store.high_water(), Ok(520));
    assert_eq!(store.reserve_block(0, 5), Ok(KeyBlock { start: 520, end: 525 }));
}

#[test]
fn max_record_id_sees_every_message_table_including_orphans() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    let reader = SqliteReader::open(&db.path, WAIT).expect("reader");
    assert_eq!(
        (
            store.max_record_id(),
            reader.max_record_id(),
            reader.count_messages()
        ),
        (Ok(0), Ok(0), Ok(0))
    );
    commit(&mut store, 5, &[message("a"), bare("b")]).expect("commit");
    assert_eq!(
        (
            store.max_record_id(),
            reader.max_record_id(),
            reader.count_messages()
        ),
        (Ok(6), Ok(6), Ok(2))
    );
    let conn = db.raw();
    conn.execute("INSERT INTO status_message_insstrs VALUES (50, 0, 'orphan')", [])
        .expect("orphan");
    assert_eq!((store.max_record_id(), reader.max_record_id()), (Ok(50), Ok(50)));
    conn.execute(
        "INSERT INTO status_message_attributes VALUES (70, 0, 'orphan')",
        [],
    )
    .expect("orphan");
    assert_eq!(
        (
            store.max_record_id(),
            reader.max_record_id(),
            reader.count_messages()
        ),
        (Ok(70), Ok(70), Ok(2))
    );
    assert_eq!(count(&conn, "status_messages"), 2);
}

#[test]
fn reader_never_creates_a_database() {
    let db = TestDb::temp();
    assert!(SqliteReader::open(&db.path, WAIT).is_err());
    assert!(!db.path.exists());
    drop(db.open(WAIT));
    let reader = SqliteReader::open(&db.path, WAIT).expect("reader");
    assert_eq!(reader.count_messages(), Ok(0));
}
