//! The durable event history: every event the processor emits is also appended to
//! `<root>/journal/` (JSON Lines segments named by first event id, rotated by size, kept
//! within a size and an age), by a writer thread fed through a bounded queue that drops
//! and counts when full, so processing never waits for history. Not fsynced: history, not data.

pub mod read;
pub mod rollup;
pub mod segment;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};

use crate::api::wire::{Event, JournalInfo};
use crate::error::Error;
pub use rollup::Sample;

/// The directory of the journal inside a state directory.
pub fn dir_of(root: &Path) -> PathBuf {
    root.join("journal")
}

/// `run --journal*` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalConfig {
    pub enabled: bool,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// The oldest segments are deleted while the journal is larger than this...
    pub max_bytes: u64,
    /// ...or older than this (by their last write); rollups are kept this long too.
    pub max_age: Duration,
    /// Events waiting for the writer; more are dropped and counted.
    pub queue: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            enabled: true,
            segment_bytes: 8 * 1024 * 1024,
            max_bytes: 1024 * 1024 * 1024,
            max_age: Duration::from_secs(7 * 86_400),
            queue: 65_536,
        }
    }
}

/// What the writer is sent. Boxed: the bounded queue allocates (and touches) every slot
/// up front, so a slot of 16 bytes instead of an inline event keeps 65,536 of them at 1 MiB.
pub enum Record {
    Event(Box<Event>),
}

/// Counters shared by the writer and the snapshot.
#[derive(Debug, Default)]
pub struct Stats {
    pub written: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_write_error: AtomicU64,
    pub bytes: AtomicU64,
    pub segments: AtomicU64,
    pub stopped: AtomicBool,
    pub last_error: Mutex<Option<String>>,
}

/// The processor's side of the journal: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    records: Sender<Record>,
    stats: Arc<Stats>,
}

/// An opened journal: the handle, the next event id, and the writer to run on its own
/// thread until `stop` is dropped.
pub struct Opened {
    pub journal: Journal,
    pub next_id: u64,
    pub writer: Box<dyn FnOnce() + Send>,
}

/// Opens the journal of `root`: recovers the next event id from the newest segment (a torn
/// last line is skipped) and prepares the writer. `sampler` is called about once a second
/// for the rollups' depths; the writer stops, after writing what it was sent, when every
/// sender of `stop` is gone.
pub fn open(
    root: &Path,
    config: JournalConfig,
    sampler: Box<dyn FnMut() -> Sample + Send>,
    stop: crossbeam_channel::Receiver<()>,
) -> Result<Opened, Error> {
    let dir = dir_of(root);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the journal directory", &dir, e))?;
    let next_id = segment::recover_next_id(&dir).map_err(|e| Error::io("read the journal", &dir, e))?;
    let (tx, rx) = crossbeam_channel::bounded(config.queue.max(1));
    let stats = Arc::new(Stats::default());
    let writer = writer::Writer::new(dir.clone(), config, stats.clone(), rx, sampler, stop);
    Ok(Opened {
        journal: Journal {
            dir,
            records: tx,
            stats,
        },
        next_id,
        writer: Box::new(move || writer.run()),
    })
}

impl Journal {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hands an event to the writer; when its queue is full the event is counted, not kept.
    pub fn record(&self, event: &Event) {
        match self.records.try_send(Record::Event(Box::new(event.clone()))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped_write_error.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn info(&self) -> JournalInfo {
        let s = &self.stats;
        let oldest = read::oldest(&self.dir).ok().flatten();
        JournalInfo {
            enabled: true,
            written: s.written.load(Ordering::Relaxed),
            dropped_queue_full: s.dropped_queue_full.load(Ordering::Relaxed),
            dropped_write_error: s.dropped_write_error.load(Ordering::Relaxed),
            stopped: s.stopped.load(Ordering::Relaxed),
            last_error: s.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            bytes: s.bytes.load(Ordering::Relaxed),
            segments: s.segments.load(Ordering::Relaxed),
            oldest_id: oldest.as_ref().map(|(id, _)| *id),
            oldest_time: oldest.map(|(_, t)| t),
        }
    }

    pub fn after(&self, after: u64, limit: usize) -> std::io::Result<Vec<Event>> {
        read::after(&self.dir, after, limit)
    }

    pub fn before(&self, before: u64, limit: usize) -> std::io::Result<Vec<Event>> {
        read::before(&self.dir, before, limit)
    }

    pub fn first_at(&self, time: &str) -> std::io::Result<Option<u64>> {
        read::first_at(&self.dir, time)
    }

    pub fn oldest_id(&self) -> Option<u64> {
        read::oldest(&self.dir).ok().flatten().map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests;
