//! What the processor knows of its own health: a heartbeat per long-lived thread (is it
//! alive and making progress?), whether intake's first scan has begun, and whether the
//! database is reachable. Read by the API (`/healthz`, `/readyz`) and the service manager
//! notifier (`WATCHDOG=1`).
//!
//! A thread beats at every turn of its loop and between the steps of a long piece of work
//! (each chunk of a batch). An idle thread still turns its loop several times a second, so
//! it keeps beating; a thread stuck inside one operation (a hung disk, a database call that
//! never returns) stops beating, and so does one that exited or panicked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The threads whose liveness is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Committer,
    Intake,
}

impl Worker {
    pub fn as_str(self) -> &'static str {
        match self {
            Worker::Committer => "committer",
            Worker::Intake => "intake",
        }
    }
}

/// One thread's heartbeat: milliseconds since `Health::origin` of its last beat.
#[derive(Debug, Default)]
struct Beat {
    last_ms: AtomicU64,
    started: AtomicBool,
    stopped: AtomicBool,
    /// The thread ended its loop because shutdown was asked for: its work is done, which is
    /// not a failure (a draining processor is alive until it exits).
    finished: AtomicBool,
}

/// Why the database is not usable now, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseProblem {
    pub reason: String,
    pub since: SystemTime,
}

#[derive(Debug)]
pub struct Health {
    origin: Instant,
    committer: Beat,
    intake: Beat,
    first_scan: AtomicBool,
    /// The last real database operation failed for a transient reason (locked, read-only,
    /// unreachable); cleared by the next success.
    database: Mutex<Option<DatabaseProblem>>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            origin: Instant::now(),
            committer: Beat::default(),
            intake: Beat::default(),
            first_scan: AtomicBool::new(false),
            database: Mutex::new(None),
        }
    }
}

/// Marks its thread stopped when dropped, also when the thread unwinds from a panic,
/// unless the thread said it finished because shutdown was asked for.
pub struct BeatGuard<'a> {
    health: &'a Health,
    worker: Worker,
}

impl BeatGuard<'_> {
    /// The thread's loop ended because shutdown was asked for: it stays counted as alive.
    pub fn finish(self) {
        self.health
            .beat_of(self.worker)
            .finished
            .store(true, Ordering::Relaxed);
    }
}

impl Drop for BeatGuard<'_> {
    fn drop(&mut self) {
        let beat = self.health.beat_of(self.worker);
        if !beat.finished.load(Ordering::Relaxed) {
            beat.stopped.store(true, Ordering::Relaxed);
        }
    }
}

impl Health {
    fn beat_of(&self, worker: Worker) -> &Beat {
        match worker {
            Worker::Committer => &self.committer,
            Worker::Intake => &self.intake,
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Called once at the top of the thread: the first beat, and a guard for its end.
    pub fn enter(&self, worker: Worker) -> BeatGuard<'_> {
        let beat = self.beat_of(worker);
        beat.last_ms.store(self.now_ms(), Ordering::Relaxed);
        beat.started.store(true, Ordering::Relaxed);
        BeatGuard { health: self, worker }
    }

    /// The thread made progress (or is idle and well).
    pub fn beat(&self, worker: Worker) {
        self.beat_of(worker)
            .last_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    /// `Ok` if `worker` runs and beat within `limit`; else why not.
    pub fn alive(&self, worker: Worker, limit: Duration) -> Result<(), String> {
        let beat = self.beat_of(worker);
        let name = worker.as_str();
        if !beat.started.load(Ordering::Relaxed) {
            return Err(format!("the {name} thread has not started"));
        }
        if beat.finished.load(Ordering::Relaxed) {
            return Ok(());
        }
        if beat.stopped.load(Ordering::Relaxed) {
            return Err(format!("the {name} thread has stopped"));
        }
        let silent = self.now_ms().saturating_sub(beat.last_ms.load(Ordering::Relaxed));
        if silent > limit.as_millis() as u64 {
            return Err(format!(
                "the {name} thread has made no progress for {:.1} s (limit {:.1} s)",
                silent as f64 / 1000.0,
                limit.as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Both watched threads alive (the first failure, if not).
    pub fn all_alive(&self, limit: Duration) -> Result<(), String> {
        self.alive(Worker::Committer, limit)?;
        self.alive(Worker::Intake, limit)
    }

    /// Intake began its first scan of the inbox.
    pub fn first_scan_started(&self) {
        self.first_scan.store(true, Ordering::Release);
    }

    pub fn has_scanned(&self) -> bool {
        self.first_scan.load(Ordering::Acquire)
    }

    fn database_slot(&self) -> std::sync::MutexGuard<'_, Option<DatabaseProblem>> {
        self.database.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A database operation failed for a transient reason (the first failure's time is kept).
    pub fn database_failed(&self, reason: &str) {
        let mut slot = self.database_slot();
        let since = slot.as_ref().map_or_else(SystemTime::now, |p| p.since);
        *slot = Some(DatabaseProblem {
            reason: reason.to_string(),
            since,
        });
    }

    /// A database operation succeeded.
    pub fn database_ok(&self) {
        *self.database_slot() = None;
    }

    pub fn database_problem(&self) -> Option<DatabaseProblem> {
        self.database_slot().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_alive_only_between_enter_and_exit_while_it_beats() {
        let h = Health::default();
        assert!(h
            .alive(Worker::Committer, Duration::from_secs(1))
            .unwrap_err()
            .contains("not started"));
        {
            let _g = h.enter(Worker::Committer);
            assert_eq!(h.alive(Worker::Committer, Duration::from_secs(1)), Ok(()));
            std::thread::sleep(Duration::from_millis(30));
            let e = h.alive(Worker::Committer, Duration::from_millis(10)).unwrap_err();
            assert!(e.contains("no progress"), "{e}");
            h.beat(Worker::Committer);
            assert_eq!(h.alive(Worker::Committer, Duration::from_millis(10)), Ok(()));
            assert!(h
                .all_alive(Duration::from_secs(1))
                .unwrap_err()
                .contains("intake"));
        }
        let e = h.alive(Worker::Committer, Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("stopped"), "{e}");
    }

    #[test]
    fn a_thread_that_finished_for_shutdown_stays_alive_and_a_panicked_one_does_not() {
        let h = Health::default();
        h.enter(Worker::Intake).finish();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(h.alive(Worker::Intake, Duration::from_millis(5)), Ok(()));
        let h = std::sync::Arc::new(Health::default());
        let h2 = h.clone();
        let joined = std::thread::spawn(move || {
            let _g = h2.enter(Worker::Committer);
            panic!("the committer panics");
        })
        .join();
        assert!(joined.is_err());
        let e = h.alive(Worker::Committer, Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("stopped"), "{e}");
    }

    #[test]
    fn a_database_problem_keeps_its_first_time_until_a_success() {
        let h = Health::default();
        assert_eq!(h.database_problem(), None);
        h.database_failed("database is locked");
        let first = h.database_problem().unwrap();
        h.database_failed("database is locked again");
        let second = h.database_problem().unwrap();
        assert_eq!(second.since, first.since);
        assert_eq!(second.reason, "database is locked again");
        h.database_ok();
        assert_eq!(h.database_problem(), None);
    }
}
