//! The retry schedule: which retry files are due when (per-file exponential backoff with
//! jitter on the monotonic clock), and loading `retry/` and `stuck/` at start.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;

use crate::api::wire::FileKind;
use crate::processor::corrupt;
use crate::processor::dirs::{resolve_regular_file, ResolveError, StateDir};
use crate::processor::retry_file::{self, ms_since_epoch, ReadError};
use crate::processor::telemetry::Telemetry;

/// Backoff before attempt `attempts + 1`: `min * 2^(attempts-1)`, capped at `max`, with
/// ±20 % jitter so that files that failed together do not retry together.
pub fn backoff(attempts: u32, min: Duration, max: Duration) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let base = min.saturating_mul(1u32 << exp).min(max);
    let jitter = rand::rng().random_range(0.8..1.2);
    base.mul_f64(jitter).min(max)
}

/// Due times of the retry files, in memory; the files themselves are the truth. Both
/// maps share one allocation of each name.
#[derive(Debug, Default)]
pub struct RetrySchedule {
    due: BTreeSet<(Instant, Arc<str>)>,
    by_name: HashMap<Arc<str>, Instant>,
}

impl RetrySchedule {
    pub fn schedule(&mut self, name: &str, at: Instant) {
        let name: Arc<str> = match self.by_name.remove_entry(name) {
            Some((name, was)) => {
                self.due.remove(&(was, name.clone()));
                name
            }
            None => Arc::from(name),
        };
        self.due.insert((at, name.clone()));
        self.by_name.insert(name, at);
    }

    pub fn remove(&mut self, name: &str) {
        if let Some((name, at)) = self.by_name.remove_entry(name) {
            self.due.remove(&(at, name));
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }

    /// The file due soonest, if it is due at `now`. Cost: O(log n), whatever n is.
    pub fn pop_due(&mut self, now: Instant) -> Option<String> {
        let (at, _) = self.due.first()?;
        if *at > now {
            return None;
        }
        let (_, name) = self.due.pop_first()?;
        self.by_name.remove(&name);
        Some(name.to_string())
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(|n| &**n)
    }
}

/// When a file whose header says `next_attempt_ms` is due, on the monotonic clock. The
/// wall-clock distance is clamped to the backoff maximum, so a clock that jumped (or a
/// file from another machine) can neither freeze a retry nor make it overdue forever.
pub fn due_from_header(next_attempt_ms: u64, now: Instant, max: Duration) -> Instant {
    let now_ms = ms_since_epoch(SystemTime::now());
    let wait = Duration::from_millis(next_attempt_ms.saturating_sub(now_ms)).min(max);
    now + wait
}

/// Files new in a directory (with their headers), and names that vanished from it.
pub type DirChanges = (Vec<(String, retry_file::RetryHeader)>, Vec<String>);

/// Brings `retry/` (or `stuck/`) and the in-memory view in line with the directory:
/// new files are read (header only), vanished ones forgotten, unreadable ones moved to
/// `corrupt/`. Returns the names that are new. `is_known` and `known` are the names the
/// caller holds (asked, never copied: with 100,000 files a copy was tens of MiB each turn).
pub fn sync_dir<'a>(
    dirs: &StateDir,
    telemetry: &Telemetry,
    kind: FileKind,
    is_known: impl Fn(&str) -> bool,
    known: impl Iterator<Item = &'a str>,
) -> Result<DirChanges, std::io::Error> {
    let dir = match kind {
        FileKind::Retry => &dirs.retry,
        FileKind::Stuck => &dirs.stuck,
        FileKind::Discarded => &dirs.discarded,
    };
    let mut present = PresentNames::default();
    let mut added = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            corrupt::quarantine_foreign(dirs, telemetry, dir, &entry.file_name(), "the name is not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            continue; // a temporary file being written
        }
        present.insert(&name);
        if is_known(&name) {
            continue;
        }
        match resolve_regular_file(dir, &name) {
            Ok(Some(path)) => match retry_file::read_header(&path) {
                Ok(mut h) => {
                    // Only the schedule and the summary are kept: a stuck file's history
                    // (up to 20 attempts, each with its error) would make 100,000 files
                    // cost hundreds of MiB while they are listed.
                    h.history = Vec::new();
                    added.push((name, h))
                }
                Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    corrupt::quarantine(dirs, telemetry, &path, &name, &e.to_string());
                }
            },
            Ok(None) => {}
            Err(ResolveError::NotRegular(why)) => {
                corrupt::quarantine(dirs, telemetry, &dir.join(&name), &name, &why);
            }
            Err(e) => tracing::warn!("{}: {e}", dir.display()),
        }
    }
    let gone = known
        .filter(|n| !present.contains(n))
        .map(str::to_string)
        .collect();
    Ok((added, gone))
}

/// The names a directory listing saw, as 64-bit hashes (8 bytes a name instead of a
/// copy of it). A vanished name whose hash equals a present one's is taken for present
/// and forgotten one listing later (each listing has its own hash keys); a present name
/// is never taken for vanished.
#[derive(Default)]
pub struct PresentNames {
    keys: std::hash::RandomState,
    hashes: crate::processor::prehashed::HashSetOfHashes,
}

impl PresentNames {
    pub fn insert(&mut self, name: &str) {
        let h = std::hash::BuildHasher::hash_one(&self.keys, name);
        self.hashes.insert(h);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.hashes
            .contains(&std::hash::BuildHasher::hash_one(&self.keys, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(300));
        for (attempts, base) in [(1u32, 1.0f64), (2, 2.0), (3, 4.0), (9, 256.0)] {
            let d = backoff(attempts, min, max).as_secs_f64();
            assert!(d >= base * 0.8 && d <= base * 1.2, "attempt {attempts}: {d}");
        }
        assert!(backoff(40, min, max) <= max);
        assert!(backoff(0, min, max) >= min.mul_f64(0.8));
    }

    #[test]
    fn pop_due_serves_the_soonest_file_not_the_oldest_name() {
        let now = Instant::now();
        let mut s = RetrySchedule::default();
        s.schedule("a-oldest", now + Duration::from_secs(60));
        s.schedule("b", now);
        s.schedule("c", now + Duration::from_secs(1));
        assert_eq!(s.pop_due(now).as_deref(), Some("b"));
        assert_eq!(s.pop_due(now), None);
        s.schedule("c", now); // rescheduling replaces
        assert_eq!(s.len(), 2);
        assert_eq!(s.pop_due(now).as_deref(), Some("c"));
        assert_eq!(s.next_due(), Some(now + Duration::from_secs(60)));
    }

    #[test]
    fn present_names_never_miss_a_present_name() {
        let mut p = PresentNames::default();
        for i in 0..10_000 {
            p.insert(&format!("f{i}.batch"));
        }
        assert!((0..10_000).all(|i| p.contains(&format!("f{i}.batch"))));
        let absent = (0..10_000).filter(|i| p.contains(&format!("g{i}.batch"))).count();
        assert_eq!(
            absent, 0,
            "64-bit hashes of 10,000 names do not collide in practice"
        );
    }

    #[test]
    fn header_times_are_clamped_against_clock_jumps() {
        let now = Instant::now();
        let max = Duration::from_secs(300);
        let day_ahead = ms_since_epoch(SystemTime::now()) + 86_400_000;
        assert!(due_from_header(day_ahead, now, max) <= now + max);
        assert_eq!(due_from_header(0, now, max), now);
    }
}
