//! The database locked longer than the busy timeout, read-only, and full: the processor
//! keeps the messages durably in retry/ (the inbox empties), says why (in its log and in
//! each retry file's `last_error`), keeps retrying without freezing, and recovers by
//! itself, without a restart, once the condition ends.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

const FLAGS: &[&str] = &[
    "--busy-timeout",
    "200",
    "--retry-min",
    "200",
    "--retry-max",
    "800",
];

/// `(attempts, last_error)` of every retry file.
fn retry_headers(root: &Path) -> Vec<(u64, String)> {
    files_in(root, "retry")
        .iter()
        .filter_map(|name| {
            let text = std::fs::read_to_string(root.join("retry").join(name)).ok()?;
            let header: serde_json::Value = serde_json::from_str(text.lines().next()?).ok()?;
            Some((
                header["attempts"].as_u64()?,
                header["last_error"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// While the condition holds: the inbox empties into retry/, every retry file says
/// `why`, and the attempts keep coming.
fn messages_wait_in_retry(p: &Proc, root: &Path, committed: u64, why: &[&str]) {
    wait_for(
        Duration::from_secs(20),
        "the messages to be durable in retry/",
        || files_in(root, "inbox").is_empty() && !files_in(root, "retry").is_empty(),
    );
    assert_eq!(row_count(root), committed, "nothing committed meanwhile");
    let headers = retry_headers(root);
    for (_, error) in &headers {
        assert!(
            why.iter().any(|w| error.contains(w)),
            "last_error {error:?} should say {why:?}"
        );
    }
    let attempts = |h: &[(u64, String)]| h.iter().map(|(a, _)| *a).sum::<u64>();
    let before = attempts(&headers);
    wait_for(Duration::from_secs(10), "more attempts (not frozen)", || {
        attempts(&retry_headers(root)) > before
    });
    let log = p.log_text();
    assert!(
        why.iter().any(|w| log.contains(w)),
        "the log should say why ({why:?}):\n{log}"
    );
}

fn recovers(p: Proc, root: &Path, total: u64) {
    wait_for(Duration::from_secs(30), "recovery without a restart", || {
        row_count(root) == total && files_in(root, "retry").is_empty()
    });
    assert!(files_in(root, "stuck").is_empty());
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success());
    check_database(root);
}

#[test]
fn locked_longer_than_the_busy_timeout() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, FLAGS);
    let locker = db(&root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    drop_messages(&root, 0..30, 10);
    messages_wait_in_retry(&p, &root, 0, &["database is locked"]);
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    recovers(p, &root, 30);
    let mut want: Vec<String> = (0..30).map(|n| format!("u-{n}")).collect();
    want.sort();
    assert_eq!(uids(&root), want);
}

/// Files made immutable with `chattr +i`: even root cannot write them. Undone on drop.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: Vec<PathBuf>) -> Option<Immutable> {
        let guard = Immutable(paths);
        for path in &guard.0 {
            let ok = Command::new("chattr").arg("+i").arg(path).status();
            if !ok.is_ok_and(|s| s.success()) {
                return None;
            }
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

#[test]
fn read_only() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, FLAGS);
    drop_messages(&root, 0..5, 5);
    wait_for(Duration::from_secs(10), "the first commit", || {
        row_count(&root) == 5
    });
    // Not the -shm: it is memory-mapped, and a mapped file made immutable means SIGBUS.
    let files = vec![root.join("statmgr.db"), root.join("statmgr.db-wal")];
    let Some(guard) = Immutable::set(files) else {
        eprintln!("SKIPPED: chattr +i is not permitted here (needs root on ext4/xfs/btrfs)");
        return;
    };
    drop_messages(&root, 5..25, 10);
    messages_wait_in_retry(&p, &root, 5, &["read-only", "I/O error"]);
    drop(guard);
    recovers(p, &root, 25);
}

/// The database may not grow (`--max-db-pages`): commits fail "full"; an operator then
/// archives old rows, which frees pages, and the retries commit.
#[test]
fn full() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    drop_messages(&root, 0..300, 100);
    wait_for(Duration::from_secs(20), "the old rows", || {
        row_count(&root) == 300
    });
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success());
    let pages: i64 = db(&root)
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();

    let mut flags = FLAGS.to_vec();
    let pages = pages.to_string();
    flags.extend(["--max-db-pages", &pages]);
    let p = Proc::start(&root, &flags);
    drop_messages(&root, 1000..1100, 50);
    messages_wait_in_retry(&p, &root, 300, &["full"]);

    let archive = db(&root);
    archive
        .execute_batch(
            "BEGIN;
             DELETE FROM status_message_insstrs WHERE record_id IN (SELECT record_id FROM status_messages WHERE message_id < 300);
             DELETE FROM status_message_attributes WHERE record_id IN (SELECT record_id FROM status_messages WHERE message_id < 300);
             DELETE FROM status_messages WHERE message_id < 300;
             COMMIT;",
        )
        .unwrap();
    drop(archive);
    recovers(p, &root, 100);
    let mut want: Vec<String> = (1000..1100).map(|n| format!("u-{n}")).collect();
    want.sort();
    assert_eq!(uids(&root), want);
}
