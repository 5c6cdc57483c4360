//! Nothing is duplicated: the same uid in two files, or a retry file replayed after its
//! messages were committed, never makes a second row.

mod support;

use std::time::Duration;
use support::*;

#[test]
fn the_same_uid_in_two_files_is_one_row() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    drop_messages(&root, 0..50, 10);
    drop_file(
        &root,
        "again.jsonl",
        (0..50)
            .map(|n| format!("{}\n", message(n, "HOST1")))
            .collect::<String>()
            .as_bytes(),
    );
    wait_for(Duration::from_secs(20), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    assert_eq!(row_count(&root), 50);
    // Content-derived uids: the same message without uid twice is one row too.
    let mut m = message(900, "HOST1");
    m.as_object_mut().unwrap().remove("uid");
    drop_file(&root, "x1.json", m.to_string().as_bytes());
    drop_file(&root, "x2.json", m.to_string().as_bytes());
    wait_for(Duration::from_secs(20), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    assert_eq!(row_count(&root), 51);
    p.terminate(Duration::from_secs(15));
    check_database(&root);
}

#[test]
fn a_replayed_retry_file_inserts_nothing_twice() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(
        &root,
        &[
            "--batch-age",
            "600000",
            "--busy-timeout",
            "300",
            "--drain-deadline",
            "500",
        ],
    );
    // Lock the database so the open batch is written to retry/ at shutdown.
    let locker = db(&root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    drop_messages(&root, 0..30, 10);
    wait_for(
        Duration::from_secs(20),
        "the processor to read 30 messages",
        || received(&p) == 30,
    );
    p.terminate(Duration::from_secs(15));
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    let retry = files_in(&root, "retry");
    assert_eq!(retry.len(), 1);
    let saved = std::fs::read(root.join("retry").join(&retry[0])).unwrap();

    let p = Proc::start(&root, &["--retry-min", "50"]);
    wait_for(Duration::from_secs(20), "30 rows", || row_count(&root) == 30);
    wait_for(Duration::from_secs(5), "retry/ to empty", || {
        files_in(&root, "retry").is_empty()
    });
    // Replay: the same retry file comes back (a crash before its unlink, a restored copy).
    std::fs::write(root.join("retry").join(".tmp-replay"), &saved).unwrap();
    std::fs::rename(
        root.join("retry").join(".tmp-replay"),
        root.join("retry").join("replayed.batch"),
    )
    .unwrap();
    wait_for(Duration::from_secs(20), "the replay to be processed", || {
        files_in(&root, "retry").is_empty()
    });
    assert_eq!(row_count(&root), 30);
    let dups: i64 = db(&root)
        .query_row(
            "SELECT COALESCE(SUM(duplicates), 0) FROM batches WHERE source = 'retry'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(dups >= 30, "the replay was seen as duplicates ({dups})");
    p.terminate(Duration::from_secs(15));
    check_database(&root);
}

/// Messages the processor has read from the inbox (`counters.received` of `status --json`).
fn received(p: &Proc) -> u64 {
    let (code, out, _) = p.cli(&["status", "--json"]);
    if code != Some(0) {
        return 0;
    }
    serde_json::from_str::<serde_json::Value>(&out)
        .ok()
        .and_then(|v| v["counters"]["received"].as_u64())
        .unwrap_or(0)
}
