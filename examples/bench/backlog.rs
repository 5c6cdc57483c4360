//! Starting with a backlog (files in `inbox/` and in `retry/`): time to the first commit
//! and to drain; and how the retry worker's cost scales (with files due, not present).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use statmgr::processor::retry::RetrySchedule;

use crate::child::{dir_empty, Processor, RunFlags};
use crate::data::{settle_disk, write_inbox, write_retry_files};

/// Messages in each generated retry file.
pub const RETRY_FILE_MESSAGES: u64 = 10;

#[derive(Debug, Clone, Default)]
pub struct BacklogRun {
    pub inbox_files: u64,
    pub retry_files: u64,
    pub first_commit: Duration,
    pub first_inbox_commit: Duration,
    pub inbox_empty: Duration,
    pub all_done: Option<Duration>,
    pub peak_rss: u64,
}

fn fresh(base: &Path, name: &str) -> Result<std::path::PathBuf> {
    let root = base.join(name);
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    fs::create_dir_all(&root)?;
    Ok(root)
}

/// `inbox_files` one-message files and `retry_files` retry files, all due now.
pub fn start_with_backlog(
    base: &Path,
    bin: &Path,
    flags: &RunFlags,
    inbox_files: u64,
    retry_files: u64,
    drain_limit: Duration,
) -> Result<BacklogRun> {
    let root = fresh(base, "backlog")?;
    write_inbox(&root.join("inbox"), "b", inbox_files, 1)?;
    let retry_messages = write_retry_files(&root.join("retry"), "r", retry_files, RETRY_FILE_MESSAGES, 0)?;
    settle_disk();
    let total = inbox_files + retry_messages;
    let (inbox, retry) = (root.join("inbox"), root.join("retry"));
    let mut p = Processor::start(bin, &root, flags, &[])?;
    let poll = Duration::from_millis(5);
    let limit = Duration::from_secs(60);
    let first_commit = p.wait_until(poll, limit, "the first commit", |_, c| Ok(c.batches > 0))?;
    let first_inbox_commit = p.wait_until(poll, limit, "the first inbox commit", |_, c| {
        Ok(c.inbox_batches > 0)
    })?;
    let poll = Duration::from_millis(20);
    let inbox_empty = p.wait_until(poll, drain_limit, "the inbox to empty", |_, _| dir_empty(&inbox))?;
    let all_done = p
        .wait_until(poll, drain_limit, "everything committed", |_, c| {
            Ok(c.messages >= total && dir_empty(&retry)?)
        })
        .ok();
    let peak_rss = p.peak_rss()?;
    let committed = p.committed()?.messages;
    p.stop()?;
    if all_done.is_some() {
        ensure!(committed == total, "committed {committed} of {total} messages");
    }
    fs::remove_dir_all(&root)?;
    Ok(BacklogRun {
        inbox_files,
        retry_files,
        first_commit,
        first_inbox_commit,
        inbox_empty,
        all_done,
        peak_rss,
    })
}

/// One schedule tick (take every due file, then ask when the next is due) with `present`
/// files scheduled, `due` of them due now. Median of `rounds`, in microseconds.
pub fn schedule_tick_us(present: usize, due: usize, rounds: usize) -> f64 {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let now = Instant::now();
        let mut s = RetrySchedule::default();
        for i in 0..present {
            let at = if i < due {
                now
            } else {
                now + Duration::from_secs(3600)
            };
            s.schedule(&format!("20261123T100000.000-{i:06}-1.batch"), at);
        }
        let t = Instant::now();
        let mut taken = 0;
        while s.pop_due(now).is_some() {
            taken += 1;
        }
        let next = s.next_due();
        times.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(taken, due);
        assert!(next.is_some() || present == due);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

#[derive(Debug, Clone, Default)]
pub struct RetryScaling {
    pub present: u64,
    pub due: u64,
    /// Time to commit the due files, per file, after the first one committed.
    pub per_due_file: Duration,
    /// Processor CPU per wall-clock second once the due files are done (the rest wait).
    pub idle_cpu_share: f64,
}

/// The median of each figure over several runs of the same case.
pub fn median_scaling(mut runs: Vec<RetryScaling>) -> RetryScaling {
    let mid = runs.len() / 2;
    runs.sort_by_key(|r| r.per_due_file);
    let mut out = runs[mid].clone();
    runs.sort_by(|a, b| a.idle_cpu_share.total_cmp(&b.idle_cpu_share));
    out.idle_cpu_share = runs[mid].idle_cpu_share;
    out
}

/// statmgr with `present` retry files of which `due` are due now and the rest in an
/// hour, and an empty inbox.
pub fn retry_scaling(
    base: &Path,
    bin: &Path,
    flags: &RunFlags,
    present: u64,
    due: u64,
    idle_window: Duration,
) -> Result<RetryScaling> {
    let root = fresh(base, "retry-scaling")?;
    let retry = root.join("retry");
    write_retry_files(&retry, "d", due, RETRY_FILE_MESSAGES, 0)?;
    // Names after the due ones, so that no name order favours the due files.
    let later = root.join("later");
    write_retry_files(&later, "w", present - due, RETRY_FILE_MESSAGES, 3600)?;
    for e in fs::read_dir(&later)? {
        let e = e?;
        fs::rename(
            e.path(),
            retry.join(format!("w{}", e.file_name().to_string_lossy())),
        )?;
    }
    fs::remove_dir(&later)?;
    settle_disk();
    let mut p = Processor::start(bin, &root, flags, &[])?;
    let poll = Duration::from_millis(5);
    let limit = Duration::from_secs(120);
    let first = p.wait_until(poll, limit, "the first retry commit", |_, c| {
        Ok(c.retry_batches > 0)
    })?;
    let done = p.wait_until(poll, limit, "the due retry files", |_, c| {
        Ok(c.retry_batches >= due)
    })?;
    let (cpu0, t0) = (p.cpu_time()?, Instant::now());
    std::thread::sleep(idle_window);
    let (cpu1, t1) = (p.cpu_time()?, Instant::now());
    let c = p.committed()?;
    p.stop()?;
    ensure!(
        c.retry_batches == due,
        "{} retry files committed, {due} were due",
        c.retry_batches
    );
    fs::remove_dir_all(&root)?;
    Ok(RetryScaling {
        present,
        due,
        per_due_file: (done - first) / (due.max(2) - 1) as u32,
        idle_cpu_share: (cpu1 - cpu0).as_secs_f64() / (t1 - t0).as_secs_f64(),
    })
}
