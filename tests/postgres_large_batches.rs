//! Batches large enough for the PostgreSQL store's `COPY` path, against a real server:
//! the same rows, the same duplicate handling and the same error decisions as the
//! set-based statement that small batches (and every refused `COPY`) use.

mod postgres_support;
mod store_support;

use std::time::Duration;

use postgres_support::{server, Sql};
use statmgr::message::Message;
use statmgr::processor::postgres::{PgOptions, PgStore};
use statmgr::processor::store::{BatchSource, Committed, Store, StoreError};
use store_support::{bare, keyed, message};

/// Well above the size from which the store copies (64).
const BIG: usize = 200;

fn open(pg: &postgres_support::PgServer) -> PgStore {
    let options = PgOptions {
        timeout: Duration::from_secs(10),
        key_block_size: 1000,
        processor: "host-b:/srv/statmgr".to_string(),
    };
    PgStore::open(&pg.url(), &options).expect("open the PostgreSQL store")
}

fn commit(store: &mut PgStore, first_id: i64, messages: &[Message]) -> Result<Committed, StoreError> {
    store.commit_batch(&keyed(first_id, messages), BatchSource::Inbox, Some("big.jsonl"))
}

fn many(prefix: &str, n: usize) -> Vec<Message> {
    (0..n).map(|i| message(&format!("{prefix}-{i}"))).collect()
}

/// `check_database` without its sequence check (these tests choose record ids by hand).
fn no_duplicates_no_orphans(sql: &Sql) {
    assert_eq!(
        sql.i64("SELECT count(*) FROM (SELECT uid FROM status_messages GROUP BY uid HAVING count(*) > 1) d"),
        0,
        "a uid is stored twice"
    );
    for table in ["status_message_insstrs", "status_message_attributes"] {
        assert_eq!(
            sql.i64(&format!(
                "SELECT count(*) FROM {table} c
                 WHERE NOT EXISTS (SELECT 1 FROM status_messages m WHERE m.record_id = c.record_id)"
            )),
            0,
            "{table} without a message"
        );
    }
}

const ROW: &str = "(message_id, severity, component, machine, site, time, module, report_type, \
                   process_id, thread_id, win32_error)::text";

#[test]
fn a_large_batch_stores_the_same_rows_as_a_small_one() {
    let Some(pg) = server("a_large_batch_stores_the_same_rows_as_a_small_one") else {
        return;
    };
    let sql = pg.sql();
    let mut store = open(&pg);
    let mut batch = many("big", BIG);
    batch[3] = bare("big-bare");
    let c = commit(&mut store, 1, &batch).unwrap();
    assert_eq!((c.inserted, c.duplicates), (BIG as u64, 0));
    assert_eq!((c.first_record_id, c.last_record_id), (Some(1), Some(BIG as i64)));
    let small = commit(&mut store, 1001, &[message("small")]).unwrap();
    assert_eq!(small.inserted, 1);

    let row = |id: i64| {
        sql.strings(&format!(
            "SELECT {ROW} FROM status_messages WHERE record_id = {id}"
        ))
    };
    assert_eq!(row(7), row(1001), "a copied row equals an inserted one");
    assert_eq!(sql.i64("SELECT count(*) FROM status_messages"), BIG as i64 + 1);
    assert_eq!(
        sql.strings("SELECT value FROM status_message_insstrs WHERE record_id = 7 ORDER BY idx"),
        ["first of big-6", ""]
    );
    assert_eq!(
        sql.strings("SELECT value FROM status_message_attributes WHERE record_id = 7 ORDER BY attribute_id"),
        ["minus one", "seven"]
    );
    assert_eq!(
        sql.i64("SELECT count(*) FROM status_message_insstrs WHERE record_id = 4")
            + sql.i64("SELECT count(*) FROM status_message_attributes WHERE record_id = 4"),
        0,
        "the bare message has no children"
    );
    assert_eq!(
        sql.i64("SELECT count(*) FROM status_message_insstrs"),
        2 * (BIG as i64 - 1) + 2
    );
    assert_eq!(
        sql.i64(&format!(
            "SELECT count(*) FROM status_messages WHERE batch_id = {} AND received IS NOT NULL",
            c.batch_id
        )),
        BIG as i64
    );
    assert_eq!(
        sql.strings(&format!(
            "SELECT count || ' ' || duplicates || ' ' || first_record_id || ' ' || last_record_id || ' ' \
             || source || ' ' || source_file || ' ' || processor || ' ' || (duration_ms > 0) \
             FROM batches WHERE id = {}",
            c.batch_id
        )),
        [format!(
            "{BIG} 0 1 {BIG} inbox big.jsonl host-b:/srv/statmgr true"
        )]
    );
    assert!(small.batch_id > c.batch_id);
    assert_eq!(store.max_record_id().unwrap(), 1001);
    no_duplicates_no_orphans(&sql);
}

#[test]
fn a_large_batch_skips_known_and_repeated_uids() {
    let Some(pg) = server("a_large_batch_skips_known_and_repeated_uids") else {
        return;
    };
    let sql = pg.sql();
    let mut store = open(&pg);
    let first = many("u", 50);
    commit(&mut store, 1, &first).unwrap();

    // 50 known uids, one uid twice, 150 new ones.
    let mut batch = many("u", BIG);
    batch.push(message("u-120"));
    let c = commit(&mut store, 1001, &batch).unwrap();
    assert_eq!((c.inserted, c.duplicates), (150, 51));
    assert_eq!(sql.i64("SELECT count(*) FROM status_messages"), BIG as i64);
    assert_eq!(
        sql.i64("SELECT record_id FROM status_messages WHERE uid = 'u-120'"),
        1001 + 120,
        "the first of a repeated uid is kept"
    );
    assert_eq!(
        sql.i64("SELECT count(*) FROM status_message_insstrs WHERE record_id > 1000"),
        2 * 150,
        "children only for the inserted messages"
    );
    assert_eq!(
        sql.strings(&format!(
            "SELECT count || ' ' || duplicates FROM batches WHERE id = {}",
            c.batch_id
        )),
        ["150 51"]
    );

    // Every uid known: nothing inserted, the batch still recorded.
    let again = commit(&mut store, 2001, &many("u", BIG)).unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, BIG as u64));
    assert_eq!(sql.i64("SELECT count(*) FROM status_messages"), BIG as i64);
    no_duplicates_no_orphans(&sql);
}

#[test]
fn a_large_batch_fails_as_the_set_based_statement_does_and_keeps_nothing() {
    let Some(pg) = server("a_large_batch_fails_as_the_set_based_statement_does_and_keeps_nothing") else {
        return;
    };
    let sql = pg.sql();
    let mut store = open(&pg);
    commit(&mut store, 1, &many("first", BIG)).unwrap();

    let kind = |result: &Result<Committed, StoreError>| match result {
        Ok(_) => "ok",
        Err(StoreError::KeyConflict(_)) => "conflict",
        Err(StoreError::Transient(_)) => "transient",
        Err(StoreError::Permanent(_)) => "permanent",
    };

    // A NUL byte in one message of the batch: permanent (the committer bisects).
    let mut batch = many("nul", BIG);
    batch[150].component = "spo\0oler".into();
    let err = commit(&mut store, 1001, &batch);
    assert_eq!(kind(&err), "permanent", "{err:?}");
    assert!(format!("{err:?}").contains("22021"), "{err:?}");

    // A record id already used: a key conflict (the allocator resyncs).
    let err = commit(&mut store, BIG as i64, &many("used", BIG));
    assert_eq!(kind(&err), "conflict", "{err:?}");

    // Children another writer left under a record id of the batch: a key conflict.
    sql.execute(
        "INSERT INTO status_message_attributes (record_id, attribute_id, value) VALUES (2100, 1, 'left')",
    );
    let err = commit(&mut store, 2001, &many("adopter", BIG));
    assert_eq!(kind(&err), "conflict", "{err:?}");
    assert!(format!("{err:?}").contains("2100"), "{err:?}");

    // A batch whose ids come from two key blocks, with another processor's message and
    // its children between them: those are not orphans; children under the second block are.
    sql.execute(
        "INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site, time,
             received, batch_id)
         VALUES (7000, 'between', 1, 'info', 'c', 'm', 's', '2024-01-01T00:00:00Z', now(), 0);
         INSERT INTO status_message_insstrs (record_id, idx, value) VALUES (7000, 0, 'theirs');",
    );
    let two_blocks = many("blocks", BIG);
    let ids: Vec<i64> = (6001..6101).chain(8001..8101).collect();
    let rows = |ids: &[i64]| -> Vec<statmgr::processor::store::KeyedMessage<'_>> {
        ids.iter()
            .zip(&two_blocks)
            .map(|(&record_id, message)| statmgr::processor::store::KeyedMessage { record_id, message })
            .collect()
    };
    sql.execute("INSERT INTO status_message_insstrs (record_id, idx, value) VALUES (8050, 5, 'left')");
    let err = store.commit_batch(&rows(&ids), BatchSource::Inbox, None);
    assert_eq!(kind(&err), "conflict", "{err:?}");
    assert!(format!("{err:?}").contains("8050"), "{err:?}");
    sql.execute("DELETE FROM status_message_insstrs WHERE record_id = 8050");
    let c = store.commit_batch(&rows(&ids), BatchSource::Inbox, None).unwrap();
    assert_eq!(
        c.inserted, BIG as u64,
        "the other processor's children are not orphans"
    );
    sql.execute(&format!(
        "DELETE FROM status_messages WHERE record_id >= 6001 OR uid = 'between';
         DELETE FROM status_message_insstrs WHERE record_id >= 6001 OR record_id = 7000;
         DELETE FROM status_message_attributes WHERE record_id >= 6001;
         DELETE FROM batches WHERE id = {};",
        c.batch_id
    ));

    // A trigger refusing one message: permanent, with the trigger's words.
    sql.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.machine = 'EVIL' THEN RAISE EXCEPTION 'machine EVIL is banned'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON status_messages FOR EACH ROW EXECUTE FUNCTION refuse();",
    );
    let mut batch = many("evil", BIG);
    batch[77].machine = "EVIL".into();
    let err = commit(&mut store, 3001, &batch);
    assert_eq!(kind(&err), "permanent", "{err:?}");
    assert!(format!("{err:?}").contains("EVIL is banned"), "{err:?}");

    assert_eq!(
        sql.i64("SELECT count(*) FROM status_messages"),
        BIG as i64,
        "nothing partial was kept"
    );
    assert_eq!(sql.i64("SELECT count(*) FROM batches"), 1);
    assert_eq!(
        sql.i64("SELECT count(*) FROM status_message_insstrs"),
        2 * BIG as i64
    );

    // The store still works after the refusals.
    batch[77].machine = "GOOD".into();
    let c = commit(&mut store, 3001, &batch).unwrap();
    assert_eq!(c.inserted, BIG as u64);
}
