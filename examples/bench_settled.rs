//! What remembering committed inbox files costs per batch (issue 11, item 1): the store's
//! real batch commit, then the same batch written with plain SQL on the same schema, alone
//! and with a record per source file in the same transaction (the "tombstone in the
//! database" design, plus the transaction that must delete the records once the files are
//! unlinked), and the design statmgr uses: a durable file in `settled/` written only when
//! an unlink fails (nothing per batch).
//!
//! `cargo run --release --example bench_settled [BATCHES]` (default 200 per variant;
//! batches of 1000 messages from 1000, 100 and 10 files). Medians, one run.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, TransactionBehavior};
use statmgr::message::{Message, Severity};
use statmgr::processor::settled::SettledRecords;
use statmgr::processor::sqlite::SqliteStore;
use statmgr::processor::store::{BatchSource, KeyedMessage, Store};

const BATCH: usize = 1000;

fn message(n: u64) -> Message {
    Message {
        uid: format!("bench-{n}"),
        message_id: (n % 9000) as i64,
        severity: Severity::Warning,
        component: "SMS_EXECUTIVE".into(),
        machine: format!("HOST{}", n % 50),
        site: "S01".into(),
        time: "2026-11-27T10:00:00Z".into(),
        module: Some("SMS Server".into()),
        report_type: None,
        process_id: Some(4242),
        thread_id: Some(17),
        win32_error: None,
        insertion_strings: vec!["a".into(), "b".into()],
        attributes: [(400, "x".to_string())].into_iter().collect(),
    }
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn connect(path: &Path) -> Connection {
    let c = Connection::open(path).expect("open");
    c.pragma_update(None, "journal_mode", "WAL").expect("wal");
    c.pragma_update(None, "synchronous", "FULL").expect("full");
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS settled_files (name TEXT PRIMARY KEY, dev INTEGER, ino INTEGER,
         size INTEGER, mtime_ns INTEGER) WITHOUT ROWID",
    )
    .expect("table");
    c
}

/// One batch with plain SQL; `files` source files, recorded when `record`.
fn sql_batch(c: &mut Connection, next: &mut u64, files: usize, record: bool) -> Duration {
    let started = Instant::now();
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    tx.execute(
        "INSERT INTO batches (committed_at, count, duplicates, duration_ms, source) VALUES ('t', 0, 0, 0, 'inbox')",
        [],
    )
    .expect("batch");
    let batch_id = tx.last_insert_rowid();
    {
        let mut msg = tx
            .prepare_cached(
                "INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site,
                 time, module, report_type, process_id, thread_id, win32_error, received, batch_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 't', ?14) ON CONFLICT (uid) DO NOTHING",
            )
            .expect("prepare");
        let mut ins = tx
            .prepare_cached("INSERT INTO status_message_insstrs (record_id, idx, value) VALUES (?1, ?2, ?3)")
            .expect("prepare");
        let mut attr = tx
            .prepare_cached(
                "INSERT INTO status_message_attributes (record_id, attribute_id, value) VALUES (?1, ?2, ?3)",
            )
            .expect("prepare");
        let mut rec = tx
            .prepare_cached("INSERT OR REPLACE INTO settled_files VALUES (?1, ?2, ?3, ?4, ?5)")
            .expect("prepare");
        for _ in 0..BATCH {
            *next += 1;
            let m = message(*next);
            let id = *next as i64;
            msg.execute(params![
                id,
                m.uid,
                m.message_id,
                m.severity.as_str(),
                m.component,
                m.machine,
                m.site,
                m.time,
                m.module,
                m.report_type,
                m.process_id,
                m.thread_id,
                m.win32_error,
                batch_id
            ])
            .expect("message");
            for (i, s) in m.insertion_strings.iter().enumerate() {
                ins.execute(params![id, i as i64, s]).expect("insstr");
            }
            for (k, v) in &m.attributes {
                attr.execute(params![id, k, v]).expect("attribute");
            }
        }
        if record {
            for f in 0..files {
                let name = format!("{}-{f:06}.json", *next);
                rec.execute(params![
                    name,
                    2049,
                    *next as i64 + f as i64,
                    300,
                    1_700_000_000_000_000_000i64
                ])
                .expect("record");
            }
        }
    }
    tx.commit().expect("commit");
    started.elapsed()
}

/// The records of a batch's files deleted once they are unlinked: a second transaction.
fn sql_forget(c: &mut Connection, next: u64, files: usize) -> Duration {
    let started = Instant::now();
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    {
        let mut del = tx
            .prepare_cached("DELETE FROM settled_files WHERE name = ?1")
            .expect("prepare");
        for f in 0..files {
            del.execute([format!("{next}-{f:06}.json")]).expect("delete");
        }
    }
    tx.commit().expect("commit");
    started.elapsed()
}

fn main() {
    let batches: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("statmgr.db");
    let mut store = SqliteStore::open(&path, Duration::from_secs(5)).expect("store");
    let mut next = 0u64;
    let mut real = Vec::new();
    for _ in 0..batches {
        let msgs: Vec<Message> = (0..BATCH as u64).map(|i| message(next + i + 1)).collect();
        let rows: Vec<KeyedMessage<'_>> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| KeyedMessage {
                record_id: (next + i as u64 + 1) as i64,
                message: m,
            })
            .collect();
        let started = Instant::now();
        store
            .commit_batch(&rows, BatchSource::Inbox, None)
            .expect("commit");
        real.push(started.elapsed());
        next += BATCH as u64;
    }
    drop(store);
    println!("batches of {BATCH} messages, {batches} per variant, medians (ms per batch)");
    println!(
        "store commit_batch (the real path)          {:>7.2}",
        median(real)
    );
    let mut c = connect(&path);
    for files in [1000usize, 100, 10] {
        let (mut plain, mut recorded, mut forget) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..batches {
            plain.push(sql_batch(&mut c, &mut next, files, false));
            recorded.push(sql_batch(&mut c, &mut next, files, true));
            forget.push(sql_forget(&mut c, next, files));
        }
        let (p, r, f) = (median(plain), median(recorded), median(forget));
        println!(
            "{files:>4} files/batch: plain SQL {p:>6.2}, + record per file in the transaction {r:>6.2} ({:+.0} %), \
             + deleting them after the unlinks {:>6.2} ({:+.0} %)",
            (r / p - 1.0) * 100.0,
            r + f,
            ((r + f) / p - 1.0) * 100.0
        );
    }
    // settled/: nothing per batch; one durable file per failed unlink.
    let dir = tmp.path().join("settled");
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::create_dir(&inbox).expect("mkdir");
    let records = SettledRecords::new(dir, inbox.clone());
    let mut each = Vec::new();
    for i in 0..batches {
        let name = format!("f{i}.json");
        std::fs::write(inbox.join(&name), b"{}").expect("write");
        let started = Instant::now();
        records.record(&name).expect("record");
        each.push(started.elapsed());
    }
    println!(
        "settled/ (statmgr): 0 per batch; {:.2} ms per inbox file whose unlink failed (one fsynced file)",
        median(each)
    );
}
