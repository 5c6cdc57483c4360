//! Retention: deletes messages older than their severity's rule (by the message's own
//! `time`), a pass at start and every `--retain-interval`, on a thread and connection of
//! its own, in transactions kept short; and keeps the "what is stored" figures fresh.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use crate::api::wire::{RetentionPass, RetentionRule};
use crate::config::RetentionRules;
use crate::processor::store::{Cutoffs, Pruner};
use crate::processor::telemetry::{rfc3339, Telemetry};

/// Each delete transaction aims to hold the write lock about this long: the chunk size
/// adapts to it, far below the 50 ms a commit may be kept waiting.
const HOLD_TARGET: Duration = Duration::from_millis(15);
const FIRST_CHUNK: usize = 200;
const MIN_CHUNK: usize = 10;
const MAX_CHUNK: usize = 2_000;
/// Between two delete transactions the committer gets the lock for at least this long.
const MIN_GAP: Duration = Duration::from_millis(10);
/// ... and for this many times as long as the last one held it while the committer is
/// idle (retention takes at most a third of the lock's time) ...
const IDLE_GAP_FACTOR: u32 = 2;
/// ... or while it is writing (it committed since retention's last transaction):
/// retention then takes at most 1/40 of the lock's time, 2.5 %.
const BUSY_GAP_FACTOR: u32 = 39;
/// A full `count(*)` of the messages runs this often; in between the count follows this
/// processor's commits and prunes.
const RECOUNT: Duration = Duration::from_secs(600);

pub struct Retention {
    pub rules: RetentionRules,
    pub interval: Duration,
    pub pruner: Box<dyn Pruner>,
    pub telemetry: Arc<Telemetry>,
    /// Disconnected when shutdown begins.
    pub stop: Receiver<()>,
}

/// The last full count, and the counters it was taken at.
struct Count {
    at: Instant,
    rows: u64,
    committed: u64,
    pruned: u64,
}

impl Retention {
    pub fn run(mut self) {
        let rules = self.rules;
        let interval = self.interval;
        self.telemetry.update_retention(|r| {
            r.enabled = !rules.is_off();
            r.interval_s = interval.as_secs();
            r.rules = rules
                .rules()
                .into_iter()
                .map(|(severity, days)| RetentionRule {
                    severity: severity.as_str().to_string(),
                    days,
                })
                .collect();
        });
        let mut chunk = FIRST_CHUNK;
        let mut count: Option<Count> = None;
        loop {
            if !self.rules.is_off() {
                self.pass(&mut chunk);
            }
            self.refresh_figures(&mut count);
            match self.stop.recv_timeout(self.interval) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    fn stopping(&self) -> bool {
        matches!(self.stop.try_recv(), Err(TryRecvError::Disconnected) | Ok(()))
    }

    /// One pass: delete transactions until no old message is left (or shutdown).
    fn pass(&mut self, chunk: &mut usize) {
        let started = Instant::now();
        let cutoffs = cutoffs(&self.rules, chrono::Utc::now());
        let (mut pruned, mut error) = (0u64, None);
        let mut holds: Vec<Duration> = Vec::new();
        let mut batches = self.telemetry.counters().batches;
        while !self.stopping() {
            let limit = *chunk;
            match self.pruner.prune_chunk(&cutoffs, limit) {
                Ok(done) => {
                    pruned += done.deleted;
                    if done.deleted > 0 {
                        holds.push(done.held);
                    }
                    self.telemetry
                        .update_retention(|r| r.pruned_total += done.deleted);
                    *chunk = next_chunk(limit, done.held);
                    if done.deleted < limit as u64 {
                        break;
                    }
                    let now = self.telemetry.counters().batches;
                    let writing = now != batches;
                    batches = now;
                    if let Ok(()) | Err(RecvTimeoutError::Disconnected) =
                        self.stop.recv_timeout(gap(done.held, writing))
                    {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!("retention: {err}; tried again at the next pass");
                    error = Some(err.to_string());
                    break;
                }
            }
        }
        let holds = Holds::of(&mut holds);
        let longest = holds.longest;
        if pruned > 0 {
            tracing::info!(
                pruned,
                longest_hold_ms = longest.as_secs_f64() * 1e3,
                "retention pass deleted old messages"
            );
        }
        self.telemetry.update_retention(|r| {
            r.last_pass = Some(RetentionPass {
                at: rfc3339(SystemTime::now()),
                pruned,
                duration_ms: started.elapsed().as_secs_f64() * 1e3,
                longest_hold_ms: longest.as_secs_f64() * 1e3,
                transactions: holds.count,
                p99_hold_ms: holds.p99.as_secs_f64() * 1e3,
                holds_over_50ms: holds.over_50ms,
                error,
            })
        });
    }

    /// Rows stored, database size, oldest message.
    fn refresh_figures(&mut self, count: &mut Option<Count>) {
        let committed = self.telemetry.counters().committed;
        let pruned = self.telemetry.retention().pruned_total;
        if count.as_ref().is_none_or(|c| c.at.elapsed() >= RECOUNT) {
            match self.pruner.count_rows() {
                Ok(rows) => {
                    *count = Some(Count {
                        at: Instant::now(),
                        rows,
                        committed,
                        pruned,
                    })
                }
                Err(err) => tracing::debug!("retention: cannot count the messages: {err}"),
            }
        }
        let rows = count.as_ref().map(|c| {
            (c.rows + committed.saturating_sub(c.committed)).saturating_sub(pruned.saturating_sub(c.pruned))
        });
        let figures = self.pruner.oldest_and_size();
        self.telemetry.update_retention(|r| {
            r.rows = rows;
            if let Ok((oldest, bytes)) = figures {
                r.oldest_message = oldest;
                r.database_bytes = Some(bytes);
            }
        });
    }
}

/// What a pass's delete transactions held the write lock for.
struct Holds {
    count: u64,
    longest: Duration,
    p99: Duration,
    over_50ms: u64,
}

impl Holds {
    fn of(holds: &mut [Duration]) -> Holds {
        holds.sort_unstable();
        let p99 = match holds.len() {
            0 => Duration::ZERO,
            n => holds[((n * 99).div_ceil(100)).saturating_sub(1)],
        };
        Holds {
            count: holds.len() as u64,
            longest: holds.last().copied().unwrap_or_default(),
            p99,
            over_50ms: holds.iter().filter(|h| **h > Duration::from_millis(50)).count() as u64,
        }
    }
}

/// The instant before which each severity's messages go.
pub fn cutoffs(rules: &RetentionRules, now: chrono::DateTime<chrono::Utc>) -> Cutoffs {
    let before = |days: Option<u32>| days.map(|d| now - chrono::Duration::days(d as i64));
    Cutoffs {
        error: before(rules.error),
        warning: before(rules.warning),
        info: before(rules.info),
    }
}

/// How long the committer has the write lock to itself after a delete transaction held
/// it for `held`.
fn gap(held: Duration, committer_writing: bool) -> Duration {
    let factor = if committer_writing {
        BUSY_GAP_FACTOR
    } else {
        IDLE_GAP_FACTOR
    };
    (held * factor).max(MIN_GAP)
}

/// Halves the chunk when a transaction held the lock past the target, grows it when it
/// was well under.
fn next_chunk(limit: usize, held: Duration) -> usize {
    if held > HOLD_TARGET {
        (limit / 2).max(MIN_CHUNK)
    } else if held < HOLD_TARGET / 3 {
        (limit + limit / 2).min(MAX_CHUNK)
    } else {
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chunk_follows_the_lock_hold_time() {
        assert_eq!(next_chunk(1000, Duration::from_millis(40)), 500);
        assert_eq!(next_chunk(10, Duration::from_millis(40)), MIN_CHUNK);
        assert_eq!(next_chunk(1000, Duration::from_millis(1)), 1500);
        assert_eq!(next_chunk(MAX_CHUNK, Duration::from_millis(1)), MAX_CHUNK);
        assert_eq!(next_chunk(1900, Duration::from_millis(1)), MAX_CHUNK);
        assert_eq!(next_chunk(1000, Duration::from_millis(10)), 1000);
    }

    #[test]
    fn retention_takes_a_third_of_the_lock_when_the_committer_is_idle_and_a_fortieth_when_it_writes() {
        let ms = Duration::from_millis;
        assert_eq!(gap(ms(15), false), ms(30));
        assert_eq!(gap(ms(15), true), ms(585));
        for writing in [false, true] {
            assert_eq!(gap(ms(1), writing).max(MIN_GAP), gap(ms(1), writing));
            assert!(gap(Duration::ZERO, writing) >= MIN_GAP);
        }
        let share = |writing| 15.0 / (15.0 + gap(ms(15), writing).as_secs_f64() * 1e3);
        assert!((share(true) - 0.025).abs() < 1e-9, "{}", share(true));
        assert!((share(false) - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn holds_give_the_longest_the_p99_and_the_count_over_50_ms() {
        let mut holds: Vec<Duration> = (1..=200).rev().map(Duration::from_millis).collect();
        let h = Holds::of(&mut holds);
        assert_eq!(h.count, 200);
        assert_eq!(h.longest, Duration::from_millis(200));
        assert_eq!(h.p99, Duration::from_millis(198));
        assert_eq!(h.over_50ms, 150);
        let none = Holds::of(&mut []);
        assert_eq!(
            (none.count, none.p99, none.longest),
            (0, Duration::ZERO, Duration::ZERO)
        );
    }

    #[test]
    fn cutoffs_are_per_severity() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-31T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let rules = RetentionRules::parse("error=90,info=1").unwrap();
        let c = cutoffs(&rules, now);
        assert_eq!(c.error.unwrap().to_rfc3339(), "2025-12-31T12:00:00+00:00");
        assert_eq!(c.warning, None);
        assert_eq!(c.info.unwrap().to_rfc3339(), "2026-03-30T12:00:00+00:00");
    }
}
