//! The journal's writer thread: appends events to the current segment, rotates it by size,
//! keeps the journal within its size and age, closes per-minute rollups, and on a write
//! error (a full disk) stops history, counts what it cannot write and tries again later.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Receiver;

use super::rollup::{self, Accumulator, Sample};
use super::segment;
use super::{JournalConfig, Record, Stats};
use crate::api::wire::{Event, EventKind};

/// After a write error, the next attempt waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// How often retention looks at the journal when nothing rotates.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How often the processor is sampled for the rollups.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

struct Open {
    file: BufWriter<File>,
    bytes: u64,
}

pub struct Writer {
    pub dir: PathBuf,
    pub config: JournalConfig,
    pub stats: Arc<Stats>,
    pub records: Receiver<Record>,
    pub sampler: Box<dyn FnMut() -> Sample + Send>,
    stop: Receiver<()>,
    current: Option<Open>,
    /// Set while history is stopped by an error: no attempt before this instant.
    failed_until: Option<Instant>,
    minute: Accumulator,
    last_prune: Instant,
    last_sample: Instant,
}

impl Writer {
    pub fn new(
        dir: PathBuf,
        config: JournalConfig,
        stats: Arc<Stats>,
        records: Receiver<Record>,
        sampler: Box<dyn FnMut() -> Sample + Send>,
        stop: Receiver<()>,
    ) -> Writer {
        Writer {
            dir,
            config,
            stats,
            records,
            sampler,
            stop,
            current: None,
            failed_until: None,
            minute: Accumulator::new(rollup::minute_of(SystemTime::now())),
            last_prune: Instant::now(),
            last_sample: Instant::now(),
        }
    }

    /// Runs until `stop` is closed (the processor stopped), writes what it was still sent,
    /// then closes the minute.
    pub fn run(mut self) {
        self.prune();
        loop {
            crossbeam_channel::select! {
                recv(self.records) -> record => match record {
                    Ok(record) => self.handle_burst(record),
                    Err(_) => break,
                },
                recv(self.stop) -> _ => {
                    while let Ok(record) = self.records.try_recv() {
                        self.handle(record);
                    }
                    break;
                },
                default(SAMPLE_EVERY) => {},
            }
            self.tick();
        }
        let minute = std::mem::take(&mut self.minute);
        self.close_minute(minute);
        self.flush();
    }

    fn handle_burst(&mut self, first: Record) {
        self.handle(first);
        while let Ok(record) = self.records.try_recv() {
            self.handle(record);
        }
        self.flush();
    }

    fn tick(&mut self) {
        if self.last_sample.elapsed() >= SAMPLE_EVERY {
            self.last_sample = Instant::now();
            let sample = (self.sampler)();
            self.roll_minute();
            self.minute.sample(sample);
        }
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.prune();
        }
    }

    fn handle(&mut self, record: Record) {
        match record {
            Record::Event(event) => {
                if let EventKind::BatchCommitted { batch } = &event.kind {
                    self.roll_minute();
                    self.minute.batch(batch.count, batch.duration_ms);
                }
                self.write(&event);
            }
        }
    }

    /// Starts a new minute when the clock passed the one being accumulated.
    fn roll_minute(&mut self) {
        let now = rollup::minute_of(SystemTime::now());
        if now != self.minute.minute {
            let done = std::mem::replace(&mut self.minute, Accumulator::new(now));
            self.close_minute(done);
        }
    }

    fn close_minute(&mut self, minute: Accumulator) {
        if minute.is_empty() || self.failed_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        if let Err(e) = rollup::append(&self.dir, &minute.finish()) {
            self.fail("append a rollup", e);
        }
    }

    fn write(&mut self, event: &Event) {
        if self.failed_until.is_some_and(|t| Instant::now() < t) {
            self.stats.dropped_write_error.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let rotate = self
            .current
            .as_ref()
            .is_some_and(|c| c.bytes >= self.config.segment_bytes);
        if rotate {
            self.close_segment();
            self.prune();
        }
        if self.current.is_none() {
            if let Err(e) = self.open_segment(event.id) {
                self.stats.dropped_write_error.fetch_add(1, Ordering::Relaxed);
                self.fail("open a journal segment", e);
                return;
            }
        }
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(id = event.id, "event not journaled: cannot encode it: {e}");
                return;
            }
        };
        line.push(b'\n');
        let open = self.current.as_mut().expect("opened above");
        match open.file.write_all(&line) {
            Ok(()) => {
                open.bytes += line.len() as u64;
                self.stats.written.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.fetch_add(line.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.dropped_write_error.fetch_add(1, Ordering::Relaxed);
                self.fail("write the journal", e);
            }
        }
    }

    fn open_segment(&mut self, first_id: u64) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(segment::file_name(first_id));
        // An existing segment of this name holds no complete event past a torn line
        // (recovery starts after the newest one): start it afresh.
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        self.current = Some(Open {
            file: BufWriter::with_capacity(64 * 1024, file),
            bytes: 0,
        });
        self.stats.segments.fetch_add(1, Ordering::Relaxed);
        if self.failed_until.take().is_some() {
            self.stats.stopped.store(false, Ordering::Relaxed);
            tracing::info!(path = %path.display(), "the event journal is written again");
        }
        Ok(())
    }

    fn close_segment(&mut self) {
        if let Some(mut open) = self.current.take() {
            if let Err(e) = open.file.flush() {
                self.fail("write the journal", e);
            }
        }
    }

    fn flush(&mut self) {
        if let Some(open) = self.current.as_mut() {
            if let Err(e) = open.file.flush() {
                self.fail("write the journal", e);
            }
        }
    }

    /// History stops (processing never does): logged once, counted, tried again later in a
    /// new segment (the current one may end in a torn line, which readers skip).
    fn fail(&mut self, what: &str, e: io::Error) {
        // Whatever the buffer still holds is lost with the segment; it was never counted.
        if let Some(open) = self.current.take() {
            let (_, _) = open.file.into_parts();
        }
        if !self.stats.stopped.swap(true, Ordering::Relaxed) {
            tracing::error!(
                dir = %self.dir.display(),
                "event history stopped: cannot {what}: {e} (processing goes on; tried again every {}s)",
                RETRY_AFTER.as_secs()
            );
        }
        *self.stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(format!("cannot {what}: {e}"));
        self.failed_until = Some(Instant::now() + RETRY_AFTER);
    }

    /// Deletes the oldest segments past the size or age limit (never the one being written),
    /// and the rollups past the age limit; refreshes the counts of the snapshot.
    fn prune(&mut self) {
        self.last_prune = Instant::now();
        let now = SystemTime::now();
        let Ok(mut segments) = segment::list(&self.dir) else {
            return;
        };
        let writing = self.current.is_some();
        let mut total: u64 = segments.iter().map(|s| s.bytes).sum();
        while segments.len() > usize::from(writing) {
            let oldest = &segments[0];
            let too_old = now
                .duration_since(oldest.modified)
                .is_ok_and(|age| age > self.config.max_age);
            if total <= self.config.max_bytes && !too_old {
                break;
            }
            if let Err(e) = fs::remove_file(&oldest.path) {
                tracing::warn!(path = %oldest.path.display(), "cannot delete an old journal segment: {e}");
                break;
            }
            total -= oldest.bytes;
            segments.remove(0);
        }
        if let Err(e) = rollup::prune(&self.dir, self.config.max_age, now) {
            tracing::warn!(dir = %self.dir.display(), "cannot prune the rollups: {e}");
        }
        self.stats.bytes.store(total, Ordering::Relaxed);
        self.stats
            .segments
            .store(segments.len() as u64, Ordering::Relaxed);
    }
}
