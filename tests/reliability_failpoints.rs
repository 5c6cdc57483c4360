//! Every boundary of the pipeline, broken on purpose: each failpoint fires in turn, once as
//! an error (every time the point is reached) and once as a process abort, during a scenario
//! that crosses every boundary (commit, key reservation, retry file, retry commit, move to
//! stuck/, corrupt/). Then the processor restarts without failpoints, and every message must
//! be exactly once in the database or in stuck/ (invariants 1, 2, 4, 6).
//!
//! Full size: STATMGR_FAILPOINT_DEPTH=K also fires each point at its 2nd..K-th evaluation
//! on (`{k-1}*off->return(..)`), one run per k. Default 1 (the first evaluation, or all).

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use support::*;

const FLAGS: &[&str] = &[
    "--batch-age",
    "30",
    "--busy-timeout",
    "100",
    "--max-attempts",
    "3",
    "--retry-min",
    "150",
    "--retry-max",
    "600",
    "--key-block",
    "7",
    "--rescan",
    "200",
    "--drain-deadline",
    "2000",
];

fn uid_range(start: u64, end: u64) -> Vec<String> {
    (start..end).map(|n| format!("u-{n}")).collect()
}

/// The scenario: returns the uids it sent. Stops early once the processor has died.
fn scenario(p: &mut Proc, root: &Path) -> Vec<String> {
    let alive_or = |p: &mut Proc, cond: &dyn Fn() -> bool| p.exited().is_some() || cond();
    let mut sent = Vec::new();
    // 1. Plain commits (and key blocks of 7 ids, so several reservations).
    drop_messages(root, 0..15, 5);
    sent.extend(uid_range(0, 15));
    wait_until(Duration::from_secs(3), || {
        alive_or(p, &|| files_in(root, "inbox").is_empty())
    });
    // 2. The database locked: a retry file, its failed attempts, the move to stuck/.
    let locker = db(root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    drop_messages(root, 100..110, 5);
    sent.extend(uid_range(100, 110));
    wait_until(Duration::from_secs(5), || {
        alive_or(p, &|| !files_in(root, "stuck").is_empty())
    });
    // 3. Another retry file, which commits once the lock is gone.
    drop_messages(root, 200..205, 5);
    sent.extend(uid_range(200, 205));
    wait_until(Duration::from_secs(3), || {
        alive_or(p, &|| !files_in(root, "retry").is_empty())
    });
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    wait_until(Duration::from_secs(3), || {
        alive_or(p, &|| files_in(root, "retry").is_empty())
    });
    // 4. A corrupt file beside good ones.
    drop_file(root, "bad.json", b"{not json");
    drop_messages(root, 300..305, 5);
    sent.extend(uid_range(300, 305));
    wait_until(Duration::from_secs(3), || {
        alive_or(p, &|| files_in(root, "inbox").is_empty())
    });
    sent
}

/// One run: the scenario with `point=actions`, then a clean restart. Returns how many
/// times the point fired; it must fire unless `may_miss` (a k-th evaluation past the last).
fn run(point: &str, actions: &str, abort: bool, may_miss: bool) -> usize {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let spec = format!("{point}={actions}");
    let mut p = Proc::start_with_env(&root, FLAGS, &[("STATMGR_FAILPOINTS", &spec)]);
    let sent = scenario(&mut p, &root);
    let log = p.log_text();
    let status = p.stop(Duration::from_secs(15));
    let fired = log.matches(&format!("failpoint {point} fired")).count();
    assert!(
        fired > 0 || may_miss,
        "{spec}: the failpoint never fired; log:\n{log}"
    );
    if abort && fired > 0 {
        assert_eq!(status.signal(), Some(libc::SIGABRT), "{spec}: {status:?}");
    } else if !abort {
        assert!(
            status.success(),
            "{spec}: the processor must survive the faults: {status:?}\n{log}"
        );
    }

    let p = Proc::start(&root, &["--retry-min", "50", "--retry-max", "200"]);
    let settled = wait_until(Duration::from_secs(30), || {
        files_in(&root, "inbox").is_empty() && files_in(&root, "retry").is_empty()
    });
    let status = p.stop(Duration::from_secs(15));
    assert!(
        settled,
        "{spec}: inbox/ and retry/ did not empty after the restart"
    );
    assert!(status.success(), "{spec}: {status:?}");
    check_accounted(&root, &sent, &spec);
    let corrupt = files_in(&root, "corrupt");
    assert!(
        corrupt.contains(&"bad.json".to_string()) && corrupt.contains(&"bad.json.reason".to_string()),
        "{spec}: bad.json and its reason in corrupt/: {corrupt:?}"
    );
    eprintln!(
        "failpoint {spec}: fired {fired} times, {} messages, 0 lost, 0 duplicated",
        sent.len()
    );
    fired
}

fn depth() -> usize {
    std::env::var("STATMGR_FAILPOINT_DEPTH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// Fires `point` as `fault` (an error, every time) and as an abort, at the first
/// evaluation and, at full size, at the k-th.
/// Returns how many times the point fired over all runs (at least once, or `run` fails).
fn sweep(point: &str, fault: Option<&str>, filter: &str) -> usize {
    let mut fired = 0;
    if let Some(fault) = fault {
        fired += run(point, &format!("return({fault}{filter})"), false, false);
    }
    for k in 0..depth() {
        // Once it aborts the process is gone: no count needed after the skipped ones.
        let skip = if k == 0 {
            String::new()
        } else {
            format!("{k}*off->")
        };
        let n = run(point, &format!("{skip}return(abort{filter})"), true, k > 0);
        if n == 0 {
            break; // past the point's last evaluation in this scenario
        }
        fired += n;
    }
    fired
}

#[test]
fn retry_file_torn_before_its_fsync() {
    assert!(
        sweep("durable.before_fsync", Some("eio"), "@retry") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn retry_file_rename_fails() {
    assert!(
        sweep("durable.before_rename", Some("enospc"), "@retry") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn retry_file_directory_sync_fails() {
    assert!(
        sweep("durable.before_dir_sync", Some("eio"), "@retry") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn move_to_stuck_fails_before_it_starts() {
    assert!(
        sweep("stuck.before_move", None, "") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn move_to_stuck_fails_at_the_rename() {
    assert!(
        sweep("move.before_rename", Some("eio"), "@stuck") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn move_to_stuck_fails_after_the_rename() {
    assert!(
        sweep("move.before_dir_sync", Some("eio"), "@stuck") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn corrupt_reason_write_fails() {
    assert!(
        sweep("durable.before_fsync", Some("enospc"), "@corrupt") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn corrupt_move_fails() {
    assert!(
        sweep("corrupt.before_rename", Some("eio"), "") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn batch_commit_fails_inside_its_transaction() {
    assert!(
        sweep("db.before_commit", Some("ioerr"), "@batch") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn key_block_reservation_fails_inside_its_transaction() {
    assert!(
        sweep("db.before_commit", Some("full"), "@reserve") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn process_dies_after_a_key_block_is_reserved() {
    assert!(
        sweep("keys.after_reserve", None, "") > 0,
        "the failpoint must fire"
    );
}

#[test]
fn process_dies_between_commit_and_inbox_unlink() {
    assert!(
        sweep("inbox.before_unlink", None, "") > 0,
        "the failpoint must fire"
    );
}

/// A committed inbox file whose unlink keeps failing (every inbox unlink fails for the whole
/// first run, while the database is locked, so some files' messages go to retry/ and on to
/// stuck/): it stays in flight and only its unlink is retried, and its record in settled/
/// makes the restart unlink it unread. Before settled/, the restart read it again, and the
/// messages waiting in stuck/ were committed as well (held twice).
#[test]
fn inbox_unlink_failure_while_the_database_is_down() {
    assert!(run("inbox.before_unlink", "return(eisdir)", false, false) > 0);
}

#[test]
fn retry_file_unlink_after_commit_fails() {
    assert!(
        sweep("retry.before_unlink", Some("eisdir"), "") > 0,
        "the failpoint must fire"
    );
}

/// The restart itself, exactly: inbox files committed (or sent on to retry/ and stuck/)
/// whose unlink failed are recorded in settled/. A restart whose unlinks still fail leaves
/// them in the inbox unread; a restart with the database still locked (where a file read
/// again would become a new retry file) removes them unread: nothing new reaches retry/ or
/// stuck/, and every message is once in the database or stuck/.
#[test]
fn after_a_restart_a_settled_inbox_file_is_removed_unread() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let eisdir = [("STATMGR_FAILPOINTS", "inbox.before_unlink=return(eisdir)")];
    let p = Proc::start_with_env(&root, FLAGS, &eisdir);
    drop_messages(&root, 0..10, 5);
    wait_for(Duration::from_secs(10), "the first files committed", || {
        row_count(&root) == 10
    });
    let locker = db(&root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    drop_messages(&root, 100..110, 5);
    wait_for(Duration::from_secs(15), "the locked files in stuck/", || {
        uids_in_batch_files(&root, "stuck").len() == 10 && files_in(&root, "retry").is_empty()
    });
    assert!(p.stop(Duration::from_secs(15)).success());
    let inbox = files_in(&root, "inbox");
    assert_eq!(inbox.len(), 4, "every unlink failed: {inbox:?}");
    assert_eq!(files_in(&root, "settled"), inbox, "one record per file");
    let stuck = files_in(&root, "stuck");

    // Restarted with the unlinks still failing: the files stay, unread.
    let p = Proc::start_with_env(&root, FLAGS, &eisdir);
    std::thread::sleep(Duration::from_secs(2)); // ten rescans
    assert!(p.stop(Duration::from_secs(15)).success());
    assert_eq!(files_in(&root, "inbox"), inbox);
    assert!(files_in(&root, "retry").is_empty());
    assert_eq!(files_in(&root, "stuck"), stuck);
    assert_eq!(files_in(&root, "settled"), inbox);

    // Restarted with the database still locked: removed unread.
    let p = Proc::start(&root, FLAGS);
    wait_for(Duration::from_secs(10), "the settled files gone", || {
        files_in(&root, "inbox").is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    let log = p.log_text();
    assert!(p.stop(Duration::from_secs(15)).success());
    assert!(
        log.contains("removed 4 inbox files whose messages were made durable before the restart"),
        "{log}"
    );
    assert!(files_in(&root, "retry").is_empty(), "nothing read again");
    assert_eq!(files_in(&root, "stuck"), stuck, "nothing new in stuck/");
    assert!(files_in(&root, "settled").is_empty(), "records dropped");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    let sent: Vec<String> = uid_range(0, 10).into_iter().chain(uid_range(100, 110)).collect();
    check_accounted(&root, &sent, "settled restart");
    eprintln!("settled restart: 4 inbox files removed unread, 20 messages, 0 lost, 0 duplicated");
}
