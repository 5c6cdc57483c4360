//! PostgreSQL stopped before the processor starts: it starts anyway, takes files into
//! retry/, says the database is unreachable since when and why, and commits every message
//! exactly once when the server is back. Plus retention on PostgreSQL, and a newer schema
//! refused unchanged.

mod postgres_support;
mod store_support;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use postgres_support::{check_database, server, wait_until, PgProc};
use statmgr::config::RetentionRules;
use statmgr::message::{Message, Severity};
use statmgr::processor::postgres::{PgOptions, PgStore};
use statmgr::processor::retention::cutoffs;
use statmgr::processor::store::{BatchSource, Pruner, Store};
use store_support::{keyed, message};
use support::{bin, drop_messages, files_in};

fn snapshot(root: &Path) -> serde_json::Value {
    let out = Command::new(bin())
        .args(["status", "--json", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_processor_started_while_postgres_is_down_commits_everything_once_it_is_back() {
    let Some(pg) = server("a_processor_started_while_postgres_is_down_commits_everything_once_it_is_back")
    else {
        return;
    };
    pg.stop(false);
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    let flags = [
        "--retry-min",
        "200",
        "--retry-max",
        "1000",
        "--busy-timeout",
        "2000",
    ];
    let p = PgProc::start(bin(), &root, &pg.url(), &flags);

    let sent = 300;
    drop_messages(&root, 0..sent, 50);
    wait_until(Duration::from_secs(60), "the files taken into retry/", || {
        files_in(&root, "inbox").is_empty() && !files_in(&root, "retry").is_empty()
    });
    wait_until(Duration::from_secs(10), "the snapshot to say unreachable", || {
        snapshot(&root)["database"]["reachable"] == false
    });
    let snap = snapshot(&root);
    let db = &snap["database"];
    assert!(db["since"].as_str().is_some_and(|s| s.contains('T')), "{db}");
    let error = db["last_error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "{db}");
    assert!(!error.contains("password"), "{db}");
    assert!(
        files_in(&root, "stuck").is_empty(),
        "nothing is stuck for a down server"
    );

    pg.start_again();
    let sql = pg.sql();
    wait_until(Duration::from_secs(120), "every message committed", || {
        sql.try_execute("SELECT 1 FROM status_messages LIMIT 1").is_ok()
            && sql.i64("SELECT count(*) FROM status_messages") == sent as i64
            && files_in(&root, "retry").is_empty()
    });
    assert_eq!(
        sql.i64("SELECT count(DISTINCT uid) FROM status_messages"),
        sent as i64
    );
    check_database(&sql);
    assert!(files_in(&root, "stuck").is_empty());
    wait_until(Duration::from_secs(10), "the snapshot to say reachable", || {
        snapshot(&root)["database"]["reachable"] == true
    });
    assert!(
        p.log_text().contains("cannot be reached at start"),
        "{}",
        p.log_text()
    );
}

fn options() -> PgOptions {
    PgOptions {
        timeout: Duration::from_secs(5),
        key_block_size: 100,
        processor: "retention-test".into(),
    }
}

fn aged(uid: &str, severity: Severity, time: &str) -> Message {
    Message {
        severity,
        time: time.into(),
        ..message(uid)
    }
}

#[test]
fn retention_on_postgres_deletes_old_rows_with_their_children_per_severity() {
    let Some(pg) = server("retention_on_postgres_deletes_old_rows_with_their_children_per_severity") else {
        return;
    };
    let mut store = PgStore::open(&pg.url(), &options()).unwrap();
    let batch = [
        aged("err-old", Severity::Error, "2026-03-01T00:00:00Z"),
        aged("err-young", Severity::Error, "2026-05-01T00:00:00Z"),
        aged("warn-old", Severity::Warning, "2026-05-01T00:00:00Z"),
        aged("warn-young", Severity::Warning, "2026-06-20T00:00:00Z"),
        aged("info-old", Severity::Info, "2026-06-01T00:00:00Z"),
        aged("info-young", Severity::Info, "2026-06-29T00:00:00Z"),
    ];
    let block = store.reserve_block(1, 100).unwrap();
    store
        .commit_batch(&keyed(block.start, &batch), BatchSource::Inbox, None)
        .unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-30T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let rules = RetentionRules::parse("error=90,warning=30,info=7").unwrap();
    let mut pruner = store.pruner();
    let mut deleted = 0;
    loop {
        let chunk = pruner.prune_chunk(&cutoffs(&rules, now), 2).unwrap();
        deleted += chunk.deleted;
        if chunk.deleted == 0 {
            break;
        }
    }
    assert_eq!(deleted, 3);
    let sql = pg.sql();
    assert_eq!(
        sql.strings("SELECT uid FROM status_messages ORDER BY uid"),
        ["err-young", "info-young", "warn-young"]
    );
    assert_eq!(sql.i64("SELECT count(*) FROM status_message_insstrs"), 6);
    assert_eq!(sql.i64("SELECT count(*) FROM status_message_attributes"), 6);
    check_database(&sql);
    let (oldest, bytes) = pruner.oldest_and_size().unwrap();
    assert_eq!(oldest.as_deref(), Some("2026-05-01T00:00:00Z"));
    assert!(bytes > 0);
    assert_eq!(pruner.count_rows().unwrap(), 3);

    drop(store);

    // A version-1 database (the first release's schema: no retention index) is upgraded.
    sql.execute("DROP INDEX status_messages_retention");
    sql.execute("UPDATE statmgr_schema SET version = 1");
    drop(PgStore::open(&pg.url(), &options()).unwrap());
    assert_eq!(sql.i64("SELECT version FROM statmgr_schema"), 2);
    assert_eq!(
        sql.i64("SELECT count(*) FROM pg_indexes WHERE indexname = 'status_messages_retention'"),
        1
    );
    assert_eq!(sql.i64("SELECT count(*) FROM status_messages"), 3, "rows kept");

    // A newer schema is refused, and left as it is.
    sql.execute("UPDATE statmgr_schema SET version = 99");
    let err = PgStore::open(&pg.url(), &options()).unwrap_err().to_string();
    assert!(err.contains("version 99") && err.contains("up to"), "{err}");
    assert_eq!(sql.i64("SELECT version FROM statmgr_schema"), 99);
}
