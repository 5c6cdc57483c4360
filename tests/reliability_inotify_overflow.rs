//! A flood of files overflows the inotify event queue: the overflow is detected (the
//! processor rescans at once) and every file is processed. And when no event arrives at
//! all (the inbox directory was replaced, so the watch is gone), the periodic rescan still
//! finds every file.
//!
//! Files: STATMGR_FLOOD_FILES (default 5,000 in CI; 50,000 at full size). The queue is
//! made small through /proc/sys/fs/inotify/max_queued_events (global, root only; it is
//! restored as soon as the processor has created its watch, which keeps the size it had).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

const QUEUE: &str = "/proc/sys/fs/inotify/max_queued_events";

/// A sysctl value, put back on drop.
struct Sysctl {
    path: PathBuf,
    old: String,
}

impl Sysctl {
    fn set(path: &str, value: &str) -> Option<Sysctl> {
        let old = fs::read_to_string(path).ok()?;
        fs::write(path, value).ok()?;
        Some(Sysctl {
            path: PathBuf::from(path),
            old,
        })
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = fs::write(&self.path, self.old.trim());
    }
}

/// Writes `range` as one-message files into `root/staging` (outside the inbox).
fn stage(root: &Path, range: std::ops::Range<u64>) -> Vec<PathBuf> {
    let staging = root.join("staging");
    fs::create_dir_all(&staging).unwrap();
    range
        .map(|n| {
            let path = staging.join(format!("flood-{n:06}.json"));
            fs::write(&path, message(n, "FLOOD").to_string()).unwrap();
            path
        })
        .collect()
}

/// Renames the staged files into the inbox as fast as possible.
fn release(root: &Path, staged: &[PathBuf]) {
    let inbox = root.join("inbox");
    for path in staged {
        fs::rename(path, inbox.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn a_flood_overflows_the_event_queue_and_every_file_is_processed() {
    let count: u64 = std::env::var("STATMGR_FLOOD_FILES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000);
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let staged = stage(&root, 0..count);
    let small = Sysctl::set(QUEUE, "16");
    if small.is_none() {
        eprintln!(
            "note: cannot lower {QUEUE} (not root); relying on the flood to overflow the default queue"
        );
    }
    // The timer rescan is 10 minutes away: only a detected overflow can find the files.
    let p = Proc::start_with_env(
        &root,
        &["--rescan", "600000"],
        &[("STATMGR_FAILPOINTS", "intake.overflow=return(seen)")],
    );
    drop(small);
    let t0 = Instant::now();
    release(&root, &staged);
    let limit = Duration::from_secs(60 + count / 200);
    wait_for(limit, "every flooded file", || row_count(&root) == count);
    let took = t0.elapsed();
    wait_for(Duration::from_secs(30), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    let overflows = p.log_text().matches("failpoint intake.overflow fired").count();
    let (status, _) = p.terminate(Duration::from_secs(30));
    assert!(status.success());
    assert!(
        overflows > 0,
        "the event queue must have overflowed (and been noticed)"
    );
    let got = uids(&root);
    assert_eq!(got.len() as u64, count);
    check_database(&root);
    eprintln!(
        "inotify flood: {count} files, {overflows} overflows detected, all processed in {took:?}, 0 lost"
    );
}

/// Replaces the inbox directory by a new one: the processor's watch stays on the old one.
fn replace_inbox(root: &Path, n: u32) {
    fs::rename(root.join("inbox"), root.join(format!("inbox.old{n}"))).unwrap();
    fs::create_dir(root.join("inbox")).unwrap();
}

#[test]
fn without_any_event_the_periodic_rescan_finds_every_file() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    // Control: with the timer far away, files in a replaced inbox are not seen at all,
    // so no event reaches the processor once its watch is gone.
    let p = Proc::start(&root, &["--rescan", "600000"]);
    replace_inbox(&root, 1);
    std::thread::sleep(Duration::from_millis(300));
    drop_messages(&root, 0..50, 5);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(row_count(&root), 0, "no event, no rescan: nothing seen");
    p.stop(Duration::from_secs(10));

    // With the timer at 1 s, the same situation resolves by itself.
    let p = Proc::start(&root, &["--rescan", "1000"]);
    wait_for(Duration::from_secs(10), "the files found at start", || {
        row_count(&root) == 50
    });
    replace_inbox(&root, 2);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    drop_messages(&root, 50..100, 5);
    wait_for(Duration::from_secs(10), "the periodic rescan", || {
        row_count(&root) == 100
    });
    let took = t0.elapsed();
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success());
    assert!(
        took <= Duration::from_millis(2500),
        "found by the 1 s rescan: {took:?}"
    );
    check_database(&root);
    eprintln!("rescan fallback: 50 files with no event, found after {took:?} (rescan 1 s)");
}
