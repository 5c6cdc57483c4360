//! Due retry files commit together: several files in one transaction (up to the batch
//! cap), each removed only after that commit; a group holding a message the database
//! refuses falls back to one file at a time, so only that message goes to `stuck/` and
//! every other file of the group commits.

mod support;

use std::fs;
use std::time::{Duration, SystemTime};

use statmgr::message::Message;
use statmgr::processor::retry_file::{encode, RetryHeader};
use support::*;

/// Writes `files` retry files of `per_file` messages each, due now; `machine(n)` names the
/// machine of message `n`.
fn write_retry_files(
    root: &std::path::Path,
    files: u64,
    per_file: u64,
    machine: impl Fn(u64) -> &'static str,
) {
    let now = SystemTime::now();
    for f in 0..files {
        let msgs: Vec<Message> = (f * per_file..(f + 1) * per_file)
            .map(|n| serde_json::from_value(message(n, machine(n))).unwrap())
            .collect();
        let mut h = RetryHeader::new(per_file, "database is locked", now);
        h.failed("database is locked", now);
        let tmp = root.join("retry").join(format!(".tmp-{f}"));
        fs::write(&tmp, encode(&h, &msgs)).unwrap();
        fs::rename(&tmp, root.join("retry").join(format!("r{f:04}.batch"))).unwrap();
    }
}

fn retry_batches(root: &std::path::Path) -> (i64, i64) {
    db(root)
        .query_row(
            "SELECT COUNT(*), COALESCE(MAX(count), 0) FROM batches WHERE source = 'retry'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[test]
fn due_retry_files_commit_together_in_fewer_transactions_than_files() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    write_retry_files(&root, 60, 10, |_| "H");

    let p = Proc::start(&root, &[]);
    wait_for(Duration::from_secs(60), "600 rows", || row_count(&root) == 600);
    wait_for(Duration::from_secs(10), "retry/ empty", || {
        files_in(&root, "retry").is_empty()
    });
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success());
    let (batches, largest) = retry_batches(&root);
    eprintln!(
        "60 retry files of 10 messages: {batches} retry transactions, the largest of {largest} messages"
    );
    assert!(batches < 60, "one transaction per file: {batches}");
    assert!(
        largest > 10,
        "no transaction held more than one file: largest {largest}"
    );
    assert!(files_in(&root, "stuck").is_empty());
    check_database(&root);
}

#[test]
fn a_poison_message_in_a_group_of_retry_files_goes_to_stuck_alone_and_the_others_commit() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    db(&root)
        .execute_batch(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'POISON'
             BEGIN SELECT RAISE(ABORT, 'machine POISON is refused'); END;",
        )
        .unwrap();
    // 30 files of 10; the 74th message (file 7) is the poison.
    write_retry_files(&root, 30, 10, |n| if n == 73 { "POISON" } else { "H" });

    let p = Proc::start(&root, &[]);
    wait_for(Duration::from_secs(60), "299 rows", || row_count(&root) == 299);
    wait_for(Duration::from_secs(10), "retry/ empty", || {
        files_in(&root, "retry").is_empty()
    });
    let stuck = files_in(&root, "stuck");
    assert_eq!(stuck.len(), 1, "only the poison is stuck: {stuck:?}");
    let held = messages_in_batch_file(&root.join("stuck").join(&stuck[0]));
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["uid"], "u-73");
    let (status, log) = p.terminate_with_log(Duration::from_secs(15));
    assert!(status.success());
    assert!(
        log.contains("attempting each on its own"),
        "the group fell back: {log}"
    );
    let mut got = uids(&root);
    got.sort();
    let mut want: Vec<String> = (0..300u64)
        .filter(|&n| n != 73)
        .map(|n| format!("u-{n}"))
        .collect();
    want.sort();
    assert_eq!(got, want);
    check_database(&root);
}
