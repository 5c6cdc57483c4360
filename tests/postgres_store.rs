//! The PostgreSQL store against a real server: schema, commits, key blocks shared by
//! several stores, error classification, and a server restart.

mod postgres_support;
mod store_support;

use std::time::{Duration, Instant};

use postgres_support::{check_database, server, PgServer};
use statmgr::message::Message;
use statmgr::processor::keys::KeyAllocator;
use statmgr::processor::postgres::{PgOptions, PgStore};
use statmgr::processor::store::{BatchSource, Committed, KeyBlock, Store, StoreError};
use store_support::{bare, keyed, message};

fn options(name: &str, block: i64) -> PgOptions {
    PgOptions {
        timeout: Duration::from_secs(5),
        key_block_size: block,
        processor: name.to_string(),
    }
}

fn open(pg: &PgServer, name: &str) -> PgStore {
    PgStore::open(&pg.url(), &options(name, 100)).expect("open the PostgreSQL store")
}

fn commit(store: &mut PgStore, first_id: i64, messages: &[Message]) -> Result<Committed, StoreError> {
    store.commit_batch(&keyed(first_id, messages), BatchSource::Inbox, Some("b.jsonl"))
}

fn kind(result: Result<Committed, StoreError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(StoreError::KeyConflict(_)) => "conflict",
        Err(StoreError::Transient(_)) => "transient",
        Err(StoreError::Permanent(_)) => "permanent",
    }
}

#[test]
fn processors_starting_together_create_the_schema_once() {
    let Some(pg) = server("processors_starting_together_create_the_schema_once") else {
        return;
    };
    let url = pg.url();
    let opened: Vec<Result<PgStore, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let url = url.clone();
                s.spawn(move || {
                    PgStore::open(&url, &options(&format!("p{i}"), 250)).map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for result in &opened {
        assert!(result.is_ok(), "{result:?}");
    }
    let sql = pg.sql();
    assert_eq!(
        sql.i64("SELECT version FROM statmgr_schema"),
        statmgr::processor::postgres::SCHEMA_VERSION
    );
    assert_eq!(
        sql.i64("SELECT seqincrement FROM pg_sequence WHERE seqrelid = 'statmgr_record_ids'::regclass"),
        250
    );
    // Opening again (any block size) changes nothing.
    drop(PgStore::open(&url, &options("again", 7)).unwrap());
    assert_eq!(
        sql.i64("SELECT seqincrement FROM pg_sequence WHERE seqrelid = 'statmgr_record_ids'::regclass"),
        250
    );

    sql.execute("UPDATE statmgr_schema SET version = 99");
    let err = PgStore::open(&url, &options("old", 7)).unwrap_err().to_string();
    assert!(
        err.contains("version 99") && err.contains("newer statmgr"),
        "{err}"
    );
}

#[test]
fn a_batch_commits_with_its_children_skips_known_uids_and_names_its_processor() {
    let Some(pg) = server("a_batch_commits_with_its_children_skips_known_uids_and_names_its_processor")
    else {
        return;
    };
    let mut store = open(&pg, "host-a:/var/lib/statmgr");
    let batch = [message("a"), bare("b"), message("a")];
    let c = commit(&mut store, 10, &batch).unwrap();
    assert_eq!((c.inserted, c.duplicates), (2, 1));
    assert_eq!((c.first_record_id, c.last_record_id), (Some(10), Some(11)));
    let again = commit(&mut store, 20, &[message("a"), message("c")]).unwrap();
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    assert!(again.batch_id > c.batch_id);

    let sql = pg.sql();
    assert_eq!(sql.i64("SELECT count(*) FROM status_messages"), 3);
    assert_eq!(
        sql.i64("SELECT record_id FROM status_messages WHERE uid = 'c'"),
        21
    );
    assert_eq!(
        sql.strings("SELECT value FROM status_message_insstrs WHERE record_id = 10 ORDER BY idx"),
        ["first of a", ""]
    );
    assert_eq!(
        sql.strings("SELECT value FROM status_message_attributes WHERE record_id = 10 ORDER BY attribute_id"),
        ["minus one", "seven"]
    );
    assert_eq!(
        sql.i64("SELECT count(*) FROM status_message_insstrs WHERE record_id = 11"),
        0
    );
    assert_eq!(
        sql.strings("SELECT DISTINCT processor FROM batches"),
        ["host-a:/var/lib/statmgr"]
    );
    assert_eq!(
        sql.strings(&format!(
            "SELECT count || ' ' || duplicates || ' ' || source || ' ' || source_file FROM batches WHERE id = {}",
            c.batch_id
        )),
        ["2 1 inbox b.jsonl"]
    );
    assert_eq!(store.max_record_id().unwrap(), 21);
}

/// Blocks reserved by several stores at once, some asking to jump ahead: no two overlap.
#[test]
fn stores_reserving_at_once_never_get_overlapping_blocks() {
    let Some(pg) = server("stores_reserving_at_once_never_get_overlapping_blocks") else {
        return;
    };
    drop(open(&pg, "creator"));
    let blocks: Vec<(i64, KeyBlock)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let pg = &pg;
                s.spawn(move || {
                    let mut store = open(pg, &format!("p{i}"));
                    (0..60)
                        .map(|n| {
                            // Processor 2 now and then finds rows far above the sequence.
                            let at_least = if i == 2 && n % 20 == 19 {
                                (n + 1) * 10_000
                            } else {
                                1
                            };
                            (at_least, store.reserve_block(at_least, 100).unwrap())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut sorted: Vec<KeyBlock> = blocks.iter().map(|(_, b)| *b).collect();
    sorted.sort_by_key(|b| b.start);
    for pair in sorted.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "overlapping blocks {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
    for (at_least, block) in &blocks {
        assert!(block.start >= *at_least, "{block:?} is below {at_least}");
        assert_eq!(block.end - block.start, 100);
    }
    let mut store = open(&pg, "reader");
    let last_end = sorted.last().unwrap().end;
    assert_eq!(store.high_water().unwrap(), last_end);
    // Asking for less than the sequence's position never moves it back.
    let next = store.reserve_block(1, 100).unwrap();
    assert_eq!(next.start, last_end);
}

/// Rows someone else wrote, inside the next block or far above the sequence: the
/// allocator resyncs and the batch commits with fresh ids; nothing is stuck.
#[test]
fn rows_written_outside_the_sequence_cause_a_resync_not_a_stuck_batch() {
    let Some(pg) = server("rows_written_outside_the_sequence_cause_a_resync_not_a_stuck_batch") else {
        return;
    };
    let sql = pg.sql();
    let mut store = open(&pg, "p");
    let mut keys = KeyAllocator::new(100);
    let ids = keys.allocate(3, &mut store).unwrap();
    assert_eq!(ids, [1, 2, 3]);
    sql.execute(
        "INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site, time,
             received, batch_id)
         VALUES (2, 'foreign', 1, 'info', 'c', 'm', 's', '2024-01-01T00:00:00Z', now(), 0)",
    );
    let batch = [bare("x"), bare("y"), bare("z")];
    let rows: Vec<_> = ids
        .iter()
        .zip(&batch)
        .map(|(&record_id, message)| statmgr::processor::store::KeyedMessage { record_id, message })
        .collect();
    let err = store.commit_batch(&rows, BatchSource::Inbox, None).unwrap_err();
    assert!(matches!(err, StoreError::KeyConflict(_)), "{err}");
    assert!(err.to_string().contains("record_id"), "{err}");

    keys.resync(&mut store).unwrap();
    let ids = keys.allocate(3, &mut store).unwrap();
    assert_eq!(ids, [4, 5, 6], "the block in hand continues above MAX(record_id)");

    // A restored backup with ids far above the sequence.
    sql.execute(
        "INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site, time,
             received, batch_id)
         VALUES (5000000, 'restored', 1, 'info', 'c', 'm', 's', '2024-01-01T00:00:00Z', now(), 0)",
    );
    keys.resync(&mut store).unwrap();
    let ids = keys.allocate(2, &mut store).unwrap();
    assert_eq!(ids, [5_000_001, 5_000_002]);
    let rows: Vec<_> = ids
        .iter()
        .zip(&batch)
        .map(|(&record_id, message)| statmgr::processor::store::KeyedMessage { record_id, message })
        .collect();
    store.commit_batch(&rows, BatchSource::Retry, None).unwrap();
    assert!(store.high_water().unwrap() > 5_000_002);
    check_database(&sql);
}

#[test]
fn data_errors_are_permanent_and_used_ids_are_key_conflicts() {
    let Some(pg) = server("data_errors_are_permanent_and_used_ids_are_key_conflicts") else {
        return;
    };
    let sql = pg.sql();
    let mut store = open(&pg, "p");
    commit(&mut store, 1, &[message("first")]).unwrap();

    // PostgreSQL text cannot hold NUL (SQLite can): this message can never commit here.
    let mut nul = bare("nul");
    nul.component = "spo\0oler".into();
    let err = commit(&mut store, 10, &[bare("ok"), nul]);
    assert_eq!(kind(err.clone()), "permanent", "{err:?}");
    assert!(format!("{err:?}").contains("22021"), "{err:?}");

    assert_eq!(kind(commit(&mut store, 1, &[bare("other")])), "conflict");

    sql.execute(
        "INSERT INTO status_message_attributes (record_id, attribute_id, value) VALUES (30, 1, 'left')",
    );
    assert_eq!(kind(commit(&mut store, 30, &[bare("adopter")])), "conflict");

    sql.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.machine = 'EVIL' THEN RAISE EXCEPTION 'machine EVIL is banned'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON status_messages FOR EACH ROW EXECUTE FUNCTION refuse();
         CREATE UNIQUE INDEX one_per_component ON status_messages (component, message_id)
             WHERE component = 'single';",
    );
    let mut evil = bare("evil");
    evil.machine = "EVIL".into();
    let err = commit(&mut store, 40, &[evil]);
    assert_eq!(kind(err.clone()), "permanent");
    assert!(format!("{err:?}").contains("EVIL is banned"), "{err:?}");
    let mut single = bare("s1");
    single.component = "single".into();
    let mut twin = single.clone();
    twin.uid = "s2".into();
    assert_eq!(kind(commit(&mut store, 50, &[single, twin])), "permanent");

    assert_eq!(
        sql.i64("SELECT count(*) FROM status_messages"),
        1,
        "nothing partial was kept"
    );
    assert_eq!(sql.i64("SELECT count(*) FROM batches"), 1);
}

#[test]
fn a_server_restart_is_transient_and_the_same_store_recovers() {
    let Some(pg) = server("a_server_restart_is_transient_and_the_same_store_recovers") else {
        return;
    };
    let mut store = open(&pg, "p");
    commit(&mut store, 1, &[bare("before")]).unwrap();
    pg.stop(true);
    let t0 = Instant::now();
    let down = commit(&mut store, 2, &[bare("while down")]);
    assert_eq!(kind(down.clone()), "transient", "{down:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(6),
        "a refused connection took {:?}",
        t0.elapsed()
    );
    assert!(matches!(
        store.reserve_block(1, 10),
        Err(StoreError::Transient(_))
    ));
    pg.start_again();
    commit(&mut store, 2, &[bare("after")]).unwrap();
    assert!(store.reserve_block(1, 10).is_ok());

    // A crash in the middle of a stream of commits: every commit that returned Ok is there.
    let mut acknowledged = Vec::new();
    let mut id = 100;
    for n in 0..60 {
        if n == 20 {
            pg.restart();
        }
        let msgs: Vec<Message> = (0..20).map(|i| bare(&format!("s{n}-{i}"))).collect();
        if commit(&mut store, id, &msgs).is_ok() {
            acknowledged.extend(msgs.into_iter().map(|m| m.uid));
        }
        id += 20;
    }
    assert!(
        acknowledged.len() >= 50 * 20,
        "only {} acknowledged",
        acknowledged.len()
    );
    let sql = pg.sql();
    let stored = sql.strings("SELECT uid FROM status_messages WHERE uid LIKE 's%'");
    for uid in &acknowledged {
        assert!(
            stored.contains(uid),
            "acknowledged {uid} is missing after the crash"
        );
    }
    check_database(&sql);
}

/// Once the schema exists, a processor's role needs only the privileges the README lists.
#[test]
fn a_role_without_create_privilege_runs_once_the_schema_exists() {
    let Some(pg) = server("a_role_without_create_privilege_runs_once_the_schema_exists") else {
        return;
    };
    drop(open(&pg, "admin"));
    pg.sql().execute(
        "CREATE ROLE app LOGIN;
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         GRANT SELECT, INSERT, UPDATE ON status_messages, status_message_insstrs,
             status_message_attributes, batches, statmgr_schema TO app;
         GRANT USAGE, SELECT, UPDATE ON SEQUENCE statmgr_record_ids TO app;
         GRANT USAGE ON SEQUENCE batches_id_seq TO app;",
    );
    let url = pg.url().replace("postgres://postgres@", "postgres://app@");
    let mut store = PgStore::open(&url, &options("app", 100)).expect("open as app");
    let mut keys = KeyAllocator::new(100);
    let ids = keys.allocate(2, &mut store).unwrap();
    let batch = [message("m1"), bare("m2")];
    let rows: Vec<_> = ids
        .iter()
        .zip(&batch)
        .map(|(&record_id, message)| statmgr::processor::store::KeyedMessage { record_id, message })
        .collect();
    store.commit_batch(&rows, BatchSource::Inbox, None).unwrap();
    // A raise (rows above the sequence) needs UPDATE on the sequence: granted.
    assert!(store.reserve_block(1_000_000, 100).unwrap().start >= 1_000_000);
    assert_eq!(pg.sql().i64("SELECT count(*) FROM status_messages"), 2);
}
