//! Per-minute rollups (throughput, commit latency percentiles, inbox/retry/stuck depth):
//! accumulated by the journal's writer and appended to `journal/rollups.jsonl`, one line a
//! minute, pruned to the journal's age limit.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::api::wire::Rollup;

pub const FILE: &str = "rollups.jsonl";

/// What the writer samples from the processor about once a second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    pub inbox_depth: u64,
    pub retry_files: u64,
    pub stuck_files: u64,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Seconds since the epoch of the minute that holds `t`.
pub fn minute_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 60 * 60)
        .unwrap_or(0)
}

pub fn minute_text(minute: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(minute);
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One minute being accumulated.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    pub minute: u64,
    committed: u64,
    latencies_ms: Vec<f64>,
    sample: Sample,
    samples: u64,
}

impl Accumulator {
    pub fn new(minute: u64) -> Accumulator {
        Accumulator {
            minute,
            ..Accumulator::default()
        }
    }

    pub fn batch(&mut self, rows: u64, duration_ms: f64) {
        self.committed += rows;
        self.latencies_ms.push(duration_ms);
    }

    pub fn sample(&mut self, s: Sample) {
        self.samples += 1;
        self.sample.inbox_depth = self.sample.inbox_depth.max(s.inbox_depth);
        self.sample.retry_files = self.sample.retry_files.max(s.retry_files);
        self.sample.stuck_files = self.sample.stuck_files.max(s.stuck_files);
    }

    pub fn is_empty(&self) -> bool {
        self.latencies_ms.is_empty() && self.samples == 0
    }

    pub fn finish(mut self) -> Rollup {
        self.latencies_ms.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| percentile(&self.latencies_ms, p);
        Rollup {
            minute: minute_text(self.minute),
            committed: self.committed,
            batches: self.latencies_ms.len() as u64,
            latency_p50_ms: q(0.50),
            latency_p90_ms: q(0.90),
            latency_p99_ms: q(0.99),
            latency_max_ms: self.latencies_ms.last().copied().unwrap_or(0.0),
            inbox_depth: self.sample.inbox_depth,
            retry_files: self.sample.retry_files,
            stuck_files: self.sample.stuck_files,
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when there are none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn append(dir: &Path, rollup: &Rollup) -> io::Result<()> {
    let mut line = serde_json::to_vec(rollup).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path(dir))?;
    f.write_all(&line)
}

/// The rollups from `from` (RFC 3339, compared as text: every minute has the same format)
/// on, oldest first; torn or foreign lines are skipped.
pub fn read_since(dir: &Path, from: &str) -> io::Result<Vec<Rollup>> {
    let bytes = super::segment::read(&path(dir))?;
    Ok(super::segment::lines(&bytes)
        .filter_map(|l| serde_json::from_slice::<Rollup>(l).ok())
        .filter(|r| r.minute.as_str() >= from)
        .collect())
}

/// Rewrites the file without the minutes older than `max_age` (and without torn lines).
pub fn prune(dir: &Path, max_age: Duration, now: SystemTime) -> io::Result<()> {
    let file = path(dir);
    let Ok(meta) = fs::metadata(&file) else {
        return Ok(());
    };
    if meta.len() == 0 {
        return Ok(());
    }
    let cutoff = minute_text(minute_of(now.checked_sub(max_age).unwrap_or(UNIX_EPOCH)));
    let bytes = fs::read(&file)?;
    let mut keep = Vec::with_capacity(bytes.len());
    let mut dropped = false;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Rollup>(line) {
            Ok(r) if r.minute >= cutoff => {
                keep.extend_from_slice(line);
                keep.push(b'\n');
            }
            _ => dropped = true,
        }
    }
    if !dropped {
        return Ok(());
    }
    let tmp = dir.join(format!(".{FILE}.tmp"));
    fs::write(&tmp, &keep)?;
    fs::rename(&tmp, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut acc = Accumulator::new(0);
        for i in 1..=100 {
            acc.batch(10, i as f64);
        }
        acc.sample(Sample {
            inbox_depth: 5,
            retry_files: 1,
            stuck_files: 0,
        });
        acc.sample(Sample {
            inbox_depth: 3,
            retry_files: 2,
            stuck_files: 0,
        });
        let r = acc.finish();
        assert_eq!(r.committed, 1000);
        assert_eq!(r.batches, 100);
        assert_eq!(
            (r.latency_p50_ms, r.latency_p90_ms, r.latency_p99_ms),
            (50.0, 90.0, 99.0)
        );
        assert_eq!(r.latency_max_ms, 100.0);
        assert_eq!((r.inbox_depth, r.retry_files), (5, 2));
        assert_eq!(r.minute, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn prune_keeps_the_window_and_drops_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(10 * 86_400);
        for day in 0..10u64 {
            let mut acc = Accumulator::new(day * 86_400 + 60);
            acc.batch(1, 1.0);
            append(dir.path(), &acc.finish()).unwrap();
        }
        fs::OpenOptions::new()
            .append(true)
            .open(path(dir.path()))
            .unwrap()
            .write_all(b"{\"minute\":\"19")
            .unwrap();
        prune(dir.path(), Duration::from_secs(3 * 86_400), now).unwrap();
        let kept = read_since(dir.path(), "").unwrap();
        let days: Vec<_> = kept.iter().map(|r| r.minute[..10].to_string()).collect();
        assert_eq!(days, ["1970-01-08", "1970-01-09", "1970-01-10"]);
    }
}
