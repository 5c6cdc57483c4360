//! The second field report: SIGTERM while another process holds the database. The open
//! batch lands durably in `retry/`, the processor exits in time, and after the lock is
//! released and the processor restarts every message is committed.

mod support;

use std::time::Duration;
use support::*;

#[test]
fn sigterm_with_the_database_locked_writes_the_open_batch_to_retry_and_loses_nothing() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    // A long batch age keeps the batch open until the signal.
    let p = Proc::start(
        &root,
        &[
            "--batch-age",
            "600000",
            "--busy-timeout",
            "1000",
            "--drain-deadline",
            "3000",
        ],
    );
    let locker = db(&root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    drop_messages(&root, 0..120, 40);
    // Wait until the processor has read them (they are still in the inbox: not yet durable).
    wait_for(
        Duration::from_secs(20),
        "the processor to read 120 messages",
        || received(&p) == 120,
    );
    assert_eq!(
        files_in(&root, "inbox").len(),
        3,
        "files stay in the inbox until durable"
    );

    let (status, took) = p.terminate(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let retry = files_in(&root, "retry");
    assert_eq!(retry.len(), 1, "the open batch is one retry file: {retry:?}");
    assert_eq!(
        messages_in_batch_file(&root.join("retry").join(&retry[0])).len(),
        120
    );
    assert!(
        files_in(&root, "inbox").is_empty(),
        "inbox files left only once the retry file was durable"
    );

    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    let p = Proc::start(&root, &["--retry-min", "50"]);
    wait_for(Duration::from_secs(20), "the retry file to commit", || {
        row_count(&root) == 120
    });
    wait_for(Duration::from_secs(5), "retry/ to empty", || {
        files_in(&root, "retry").is_empty()
    });
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success());
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
