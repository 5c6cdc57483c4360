//! A wall clock that jumped a day forward or back. The schedule runs on the monotonic
//! clock; wall-clock times are read only from retry-file headers at load, so a jump shows
//! up as headers a day in the future (the clock went back) or a day in the past (it went
//! forward). Neither may freeze a retry for a day nor stampede: due times are clamped to
//! the backoff maximum, and overdue files are retried with per-file backoff while the
//! inbox keeps flowing.

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use statmgr::message::Message;
use statmgr::processor::retry_file::{encode, ms_since_epoch, RetryHeader};
use support::*;

const DAY: Duration = Duration::from_secs(86_400);

/// Writes `count` retry files of one message each, created and due at `due`.
fn write_retry_files(root: &Path, count: u64, due: SystemTime, tag: &str) {
    for n in 0..count {
        let mut h = RetryHeader::new(1, "database is locked", due);
        h.failed("database is locked", due);
        h.next_attempt_ms = ms_since_epoch(due);
        let m: Message = serde_json::from_value(message(n, tag)).unwrap();
        let mut m = m;
        m.uid = format!("{tag}-{n}");
        fs::write(
            root.join("retry").join(format!("{tag}-{n:04}.batch")),
            encode(&h, &[m]),
        )
        .unwrap();
    }
}

fn sum_attempts(root: &Path) -> u64 {
    files_in(root, "retry")
        .iter()
        .filter_map(|n| {
            let t = fs::read_to_string(root.join("retry").join(n)).ok()?;
            let h: serde_json::Value = serde_json::from_str(t.lines().next()?).ok()?;
            h["attempts"].as_u64()
        })
        .sum()
}

/// The most attempts one file can get within `elapsed` when the backoff starts at `min_s`,
/// doubles up to `max_s`, and jitter can shorten each wait by up to 20 %.
fn tries_within(elapsed: Duration, min_s: f64, max_s: f64) -> u64 {
    let (mut at, mut backoff, mut tries) = (0.0, min_s, 1);
    loop {
        at += backoff * 0.8;
        if at > elapsed.as_secs_f64() {
            return tries;
        }
        tries += 1;
        backoff = (backoff * 2.0).min(max_s);
    }
}

#[test]
fn headers_a_day_in_the_future_are_retried_within_the_backoff_maximum() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    write_retry_files(&root, 20, SystemTime::now() + DAY, "future");
    let t0 = Instant::now();
    let p = Proc::start(&root, &["--retry-min", "200", "--retry-max", "2000"]);
    wait_for(Duration::from_secs(20), "the future files to commit", || {
        row_count(&root) == 20 && files_in(&root, "retry").is_empty()
    });
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "clamped to --retry-max, not a day: {took:?}"
    );
    p.stop(Duration::from_secs(10));
    eprintln!("clock jump back a day: 20 files retried after {took:?} (max backoff 2 s)");
}

#[test]
fn headers_a_day_in_the_past_neither_stampede_nor_starve_the_inbox() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let files = 30;
    write_retry_files(&root, files, SystemTime::now() - DAY, "past");
    // The database is locked: every attempt fails. Per-file backoff bounds the attempts.
    let locker = db(&root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let p = Proc::start(
        &root,
        &[
            "--retry-min",
            "1000",
            "--retry-max",
            "4000",
            "--busy-timeout",
            "20",
        ],
    );
    // Wait (however long a busy machine needs) until every overdue file was tried once,
    // then hold the lock to at least 4 s after the start; the attempts are bounded by the
    // per-file backoff over the time that really passed, not by a fixed sleep.
    wait_for(Duration::from_secs(30), "every overdue file to be tried", || {
        sum_attempts(&root) >= 2 * files
    });
    let min_hold = Duration::from_secs(4);
    let held = started.elapsed();
    if held < min_hold {
        std::thread::sleep(min_hold - held);
    }
    let attempts = sum_attempts(&root) - files; // each file was written with 1 attempt
    let elapsed = started.elapsed();
    let bound = files * tries_within(elapsed, 1.0, 4.0);
    assert!(attempts >= files, "every overdue file was tried: {attempts}");
    assert!(
        attempts <= bound,
        "no stampede: {attempts} attempts for {files} files in {elapsed:?} (bound {bound})"
    );
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    // Unlocked, with every file overdue: a new inbox message is not starved by the retries.
    let t0 = Instant::now();
    drop_messages(&root, 5000..5001, 1);
    wait_for(Duration::from_secs(20), "the inbox message", || {
        uids(&root).contains(&"u-5000".to_string())
    });
    let inbox_latency = t0.elapsed();
    wait_for(Duration::from_secs(20), "every past file", || {
        files_in(&root, "retry").is_empty() && row_count(&root) == files + 1
    });
    p.stop(Duration::from_secs(10));
    // Starved would mean waiting behind every overdue file's backoff; not starved is a
    // few seconds even on a busy machine.
    assert!(inbox_latency < Duration::from_secs(10), "{inbox_latency:?}");
    eprintln!(
        "clock jump forward a day: {files} overdue files, {attempts} attempts while locked 4 s, \
         inbox message committed after {inbox_latency:?}"
    );
}
