//! Retention on SQLite: old messages go with their children, young ones and theirs stay,
//! per-severity rules, the search is one indexed query, record ids are never reused, and
//! commits keep flowing through the real processor while it prunes a large backlog.

#[path = "store_support.rs"]
mod store_support;
mod support;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use statmgr::config::RetentionRules;
use statmgr::message::{Message, Severity};
use statmgr::processor::retention::cutoffs;
use statmgr::processor::sqlite::{SqlitePruner, SqliteStore, FIND_OLD};
use statmgr::processor::store::{Cutoffs, Pruner};
use store_support::{commit, message};
use support::{drop_messages, row_count, wait_for, Proc};

const WAIT: Duration = Duration::from_secs(5);

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-30T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn aged(uid: &str, severity: Severity, time: &str) -> Message {
    Message {
        severity,
        time: time.into(),
        ..message(uid)
    }
}

fn q(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn uids(conn: &Connection) -> Vec<String> {
    let mut st = conn
        .prepare("SELECT uid FROM status_messages ORDER BY uid")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn orphans(conn: &Connection) -> i64 {
    q(
        conn,
        "SELECT (SELECT count(*) FROM status_message_insstrs i WHERE NOT EXISTS
                   (SELECT 1 FROM status_messages m WHERE m.record_id = i.record_id))
              + (SELECT count(*) FROM status_message_attributes a WHERE NOT EXISTS
                   (SELECT 1 FROM status_messages m WHERE m.record_id = a.record_id))",
    )
}

fn prune_all(pruner: &mut SqlitePruner, c: &Cutoffs) -> u64 {
    let mut total = 0;
    loop {
        let chunk = pruner.prune_chunk(c, 2).expect("prune");
        total += chunk.deleted;
        if chunk.deleted == 0 {
            return total;
        }
    }
}

#[test]
fn old_rows_go_with_their_children_young_rows_stay_per_severity() {
    let tmp = support::tempdir();
    let path = tmp.path().join("statmgr.db");
    let mut store = SqliteStore::open(&path, WAIT).unwrap();
    let batch = [
        aged("err-old", Severity::Error, "2026-03-01T00:00:00Z"), // 121 days: > 90
        aged("err-young", Severity::Error, "2026-05-01T00:00:00Z"), // 60 days: < 90
        aged("warn-old", Severity::Warning, "2026-05-01T00:00:00Z"), // 60 days: > 30
        aged("warn-young", Severity::Warning, "2026-06-20T00:00:00Z"),
        // 7.25 days old by the instant it names (2026-06-23T06:00Z), though its text sorts
        // after the cutoff (2026-06-23T12:00Z); and RFC 3339's lowercase `t` and `z`.
        aged("info-old-offset", Severity::Info, "2026-06-23T20:00:00+14:00"),
        aged("info-old-lower", Severity::Info, "2026-06-01t00:00:00z"),
        aged("info-young", Severity::Info, "2026-06-29T00:00:00-05:00"),
    ];
    commit(&mut store, 1, &batch).unwrap();
    let mut pruner = SqlitePruner::open(&path, WAIT).unwrap();
    let rules = RetentionRules::parse("error=90,warning=30,info=7").unwrap();
    assert_eq!(prune_all(&mut pruner, &cutoffs(&rules, now())), 4);

    let conn = Connection::open(&path).unwrap();
    assert_eq!(uids(&conn), ["err-young", "info-young", "warn-young"]);
    assert_eq!(orphans(&conn), 0, "children went with their messages");
    // The young rows kept their children: two insertion strings and two attributes each.
    assert_eq!(q(&conn, "SELECT count(*) FROM status_message_insstrs"), 6);
    assert_eq!(q(&conn, "SELECT count(*) FROM status_message_attributes"), 6);

    // A severity without a rule is kept forever.
    let only_errors = RetentionRules::parse("error=1").unwrap();
    assert_eq!(prune_all(&mut pruner, &cutoffs(&only_errors, now())), 1);
    assert_eq!(uids(&conn), ["info-young", "warn-young"]);
    // A pass with nothing to do deletes nothing.
    assert_eq!(prune_all(&mut pruner, &cutoffs(&rules, now())), 0);

    let (oldest, bytes) = pruner.oldest_and_size().unwrap();
    assert_eq!(oldest.as_deref(), Some("2026-06-20T00:00:00Z"));
    assert!(bytes > 0);
    assert_eq!(pruner.count_rows().unwrap(), 2);
}

#[test]
fn the_search_for_old_rows_is_one_indexed_query() {
    let tmp = support::tempdir();
    let path = tmp.path().join("statmgr.db");
    drop(SqliteStore::open(&path, WAIT).unwrap());
    let conn = Connection::open(&path).unwrap();
    let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {FIND_OLD}")).unwrap();
    let plan: Vec<String> = st
        .query_map(rusqlite::params![1.0, 1.0, 1.0, 10], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!("{plan:#?}");
    let searches = plan
        .iter()
        .filter(|step| step.contains("SEARCH status_messages USING INDEX status_messages_retention"))
        .count();
    assert_eq!(searches, 3, "one index search per severity: {plan:?}");
    assert!(
        !plan.iter().any(|step| step.starts_with("SCAN")),
        "never a full scan: {plan:?}"
    );
}

/// Rows from `first` to `last` with the message's `time`, written straight to the database
/// (a large history in seconds), and the allocator's high-water mark above them.
fn history(path: &Path, first: i64, last: i64, time: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last})
         INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site,
                                      time, received, batch_id)
             SELECT i, 'old-' || i, 1, CASE i % 3 WHEN 0 THEN 'info' WHEN 1 THEN 'warning' ELSE 'error' END,
                    'c', 'm', 's', '{time}', '{time}', 0 FROM n;
         INSERT INTO status_message_insstrs SELECT record_id, 0, 'x' FROM status_messages WHERE record_id >= {first};
         INSERT INTO status_message_attributes SELECT record_id, 1, 'y' FROM status_messages WHERE record_id >= {first};
         INSERT INTO allocator (id, high_water, block_size) VALUES (1, {last} + 1, 1000)
             ON CONFLICT (id) DO UPDATE SET high_water = max(high_water, excluded.high_water);
         COMMIT;"
    ))
    .unwrap();
}

/// A committer that takes the write lock again the moment it lets it go (a backlog) does
/// not starve retention: each delete transaction takes its turn after the commit under way,
/// where SQLite's busy handler alone, polling for the lock, would time out (without the
/// turns this failed 2 runs of 3). A thread descheduled on a busy machine only waits longer
/// for its turn; the busy timeout counts inside SQLite, where a turn never waits.
#[test]
fn retention_gets_its_turn_beside_a_committer_that_never_pauses() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let tmp = support::tempdir();
    let db = tmp.path().join("statmgr.db");
    let mut store = SqliteStore::open(&db, WAIT).unwrap();
    let old = 3_000;
    history(&db, 1, old, "2019-05-05T05:05:05Z");
    let mut pruner = SqlitePruner::open(&db, Duration::from_millis(100))
        .unwrap()
        .with_turns(store.turns());
    let stop = Arc::new(AtomicBool::new(false));
    let committer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut next = old + 1;
            while !stop.load(Ordering::SeqCst) {
                let batch: Vec<Message> = (next..next + 100)
                    .map(|i| aged(&format!("new-{i}"), Severity::Info, "2026-06-30T11:00:00Z"))
                    .collect();
                commit(&mut store, next, &batch).expect("the committer's batch");
                next += 100;
            }
            next - old - 1
        })
    };
    // Only once the committer is writing back to back.
    wait_for(Duration::from_secs(60), "the committer writing", || {
        q(&db_conn(&db), "SELECT count(*) FROM status_messages") > old + 300
    });
    let rules = RetentionRules::default().or_days(Some(1));
    let c = cutoffs(&rules, now());
    let mut deleted = 0;
    for n in 0..100 {
        match pruner.prune_chunk(&c, 30) {
            Ok(chunk) => deleted += chunk.deleted,
            Err(err) => panic!("delete transaction {n} did not get the write lock: {err}"),
        }
    }
    stop.store(true, Ordering::SeqCst);
    let committed = committer.join().unwrap();
    assert_eq!(deleted, old as u64);
    let conn = db_conn(&db);
    assert_eq!(q(&conn, "SELECT count(*) FROM status_messages"), committed);
    assert_eq!(orphans(&conn), 0);
}

fn db_conn(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.busy_timeout(WAIT).unwrap();
    conn
}

#[test]
fn pruning_the_largest_record_id_never_lets_it_be_used_again() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    std::fs::create_dir_all(&root).unwrap();
    let db = root.join("statmgr.db");
    drop(SqliteStore::open(&db, WAIT).unwrap());
    history(&db, 1, 5_000, "2020-01-01T00:00:00Z");

    let p = Proc::start(&root, &["--retain-days", "30", "--retain-interval", "1"]);
    wait_for(Duration::from_secs(30), "the old rows pruned", || {
        row_count(&root) == 0
    });
    drop_messages(&root, 0..100, 50);
    wait_for(Duration::from_secs(30), "new commits", || row_count(&root) == 100);
    let conn = support::db(&root);
    assert!(
        q(&conn, "SELECT min(record_id) FROM status_messages") > 5_000,
        "a pruned record id was handed out again"
    );
    assert_eq!(orphans(&conn), 0);
    support::check_database(&root);
    drop(p);
}

#[test]
fn commits_keep_flowing_while_a_large_backlog_is_pruned() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    std::fs::create_dir_all(&root).unwrap();
    let db = root.join("statmgr.db");
    drop(SqliteStore::open(&db, WAIT).unwrap());
    let old = 200_000;
    history(&db, 1, old, "2019-05-05T05:05:05Z");

    let p = Proc::start(
        &root,
        &["--retain", "error=10,warning=10,info=10", "--batch-age", "20"],
    );
    // Producers keep dropping while the pass deletes 200,000 rows in short transactions.
    let sent = 20_000;
    drop_messages(&root, 0..sent, 100);
    wait_for(
        Duration::from_secs(300),
        "every new message committed and every old one gone",
        || {
            let conn = support::db(&root);
            q(&conn, "SELECT count(*) FROM status_messages WHERE uid LIKE 'u-%'") == sent as i64
                && q(
                    &conn,
                    "SELECT count(*) FROM status_messages WHERE uid LIKE 'old-%'",
                ) == 0
        },
    );
    let conn = support::db(&root);
    assert_eq!(orphans(&conn), 0);
    assert_eq!(
        q(&conn, "SELECT count(*) FROM status_message_insstrs"),
        2 * sent as i64
    );
    support::check_database(&root);

    let (code, out, err) = p.cli(&["status", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let snap: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &snap["retention"];
    assert_eq!(r["enabled"], true, "{r}");
    assert_eq!(r["pruned_total"], old, "{r}");
    assert_eq!(r["rules"].as_array().unwrap().len(), 3, "{r}");
    let pass = &r["last_pass"];
    assert!(pass["longest_hold_ms"].as_f64().unwrap() > 0.0, "{r}");
    println!("retention after the prune: {r}");
    assert_eq!(snap["database"]["reachable"], true);

    let metrics = http_get(&p.endpoint(), "/metrics");
    assert!(
        metrics.contains(&format!("statmgr_retention_pruned_total {old}")),
        "{metrics}"
    );
    assert!(metrics.contains("statmgr_database_bytes "), "{metrics}");
    drop(p);
}

/// A plain HTTP/1.1 GET (the test needs no client library for one request).
fn http_get(endpoint: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}
