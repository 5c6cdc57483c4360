//! Settling messages: commit them with fresh keys (resyncing the allocator on a key
//! conflict), bisect a batch that fails permanently until the poison message is isolated,
//! and make durable in `retry/` or `stuck/` whatever could not be committed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::api::wire::{BatchInfo, EventKind, FileKind};
use crate::config::ProcessorConfig;
use crate::message::Message;
use crate::processor::health::Worker;
use crate::processor::keys::KeyAllocator;
use crate::processor::retry::{backoff, RetrySchedule};
use crate::processor::retry_file::{self, ms_since_epoch, RetryHeader};
use crate::processor::store::{BatchSource, KeyedMessage, Store, StoreError};
use crate::processor::telemetry::{rfc3339, Telemetry};
use crate::processor::uid_index::Place;
use crate::processor::StateDir;

/// Resyncs tried for one batch before the conflict is treated as transient.
const MAX_RESYNCS: usize = 4;

/// What became of a list of messages.
#[derive(Debug, Default)]
pub struct Settlement {
    pub committed: u64,
    /// Not committed for a transient reason: must go to (or stay in) `retry/`.
    pub leftover: Vec<Message>,
    pub error: Option<String>,
    /// Isolated messages that fail on their own, with their error: `stuck/`.
    pub poison: Vec<(Message, String)>,
    /// The committed messages themselves, handed back so that the caller may free them
    /// off its thread (freeing a million messages is a measurable part of committing).
    pub done: Vec<Vec<Message>>,
}

/// During shutdown: when to stop trying the database and write to `retry/` instead.
#[derive(Debug, Clone)]
pub struct DrainLimit {
    pub deadline: Instant,
    pub hurry: Arc<AtomicBool>,
}

/// The database side of the committer: store, allocator, and what they report.
pub struct Settler {
    pub config: ProcessorConfig,
    pub dirs: StateDir,
    pub telemetry: Arc<Telemetry>,
    pub store: Box<dyn Store>,
    pub keys: KeyAllocator,
    pub drain: Option<DrainLimit>,
    seq: u64,
}

impl Settler {
    pub fn new(
        config: ProcessorConfig,
        dirs: StateDir,
        telemetry: Arc<Telemetry>,
        store: Box<dyn Store>,
    ) -> Settler {
        let keys = KeyAllocator::new(config.key_block_size);
        Settler {
            config,
            dirs,
            telemetry,
            store,
            keys,
            drain: None,
            seq: 0,
        }
    }

    pub fn publish_allocator(&self) {
        self.telemetry.set_allocator(self.keys.info());
    }

    pub fn resync(&mut self, reason: &str) -> Result<(), StoreError> {
        let result = self.keys.resync(self.store.as_mut());
        let info = self.keys.info();
        if result.is_ok() {
            self.telemetry.emit(EventKind::AllocatorResync {
                next_id: info.next_id,
                db_max_id: info.db_max_id,
                reason: reason.to_string(),
            });
        }
        self.publish_allocator();
        result
    }

    /// What the commit says of the database's reachability (`/readyz`).
    fn note_database<T>(&self, outcome: &Result<T, StoreError>) {
        match outcome {
            Ok(_) => self.telemetry.database_reachable(),
            Err(StoreError::Transient(e)) => self.telemetry.database_unreachable(e),
            Err(_) => {} // a message's own fault (or a key conflict): the database works
        }
    }

    /// `commit_keyed`, and what its outcome says of the database (`/readyz`).
    fn commit_once(
        &mut self,
        msgs: &[Message],
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Result<(), StoreError> {
        let outcome = self.commit_keyed(msgs, source, source_file);
        self.note_database(&outcome);
        outcome
    }

    /// One transaction: keys, rows, `batches` row. A key conflict resyncs and retries.
    fn commit_keyed(
        &mut self,
        msgs: &[Message],
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Result<(), StoreError> {
        for _ in 0..MAX_RESYNCS {
            let ids = self.keys.allocate(msgs.len(), self.store.as_mut());
            self.publish_allocator();
            let ids = ids?;
            let rows: Vec<KeyedMessage<'_>> = ids
                .iter()
                .zip(msgs)
                .map(|(&record_id, message)| KeyedMessage { record_id, message })
                .collect();
            crate::failpoint!("committer.wedge");
            match self.store.commit_batch(&rows, source, source_file) {
                Ok(c) => {
                    self.telemetry.batch_committed(BatchInfo {
                        id: c.batch_id,
                        committed_at: rfc3339(SystemTime::now()),
                        count: c.inserted,
                        duplicates: c.duplicates,
                        first_record_id: c.first_record_id,
                        last_record_id: c.last_record_id,
                        duration_ms: c.duration_ms,
                        source: source.as_str().to_string(),
                        source_file: source_file.map(str::to_string),
                    });
                    return Ok(());
                }
                Err(StoreError::KeyConflict(e)) => {
                    tracing::warn!("key conflict ({e}); resyncing the allocator with the database");
                    self.resync(&format!("key conflict: {e}"))?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Transient(format!(
            "record ids still conflicted after {MAX_RESYNCS} resyncs: another writer is taking the same ids"
        )))
    }

    fn out_of_time(&self) -> bool {
        match &self.drain {
            None => false,
            Some(d) => {
                d.hurry.load(Ordering::Relaxed) || Instant::now() + self.config.busy_timeout >= d.deadline
            }
        }
    }

    /// Commit with the drain rules: while shutting down, a transient failure is tried
    /// again until the deadline would be passed.
    fn commit_chunk(
        &mut self,
        msgs: &[Message],
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Result<(), StoreError> {
        loop {
            if self.out_of_time() {
                return Err(StoreError::Transient(
                    "shutdown deadline reached before the commit".into(),
                ));
            }
            match self.commit_once(msgs, source, source_file) {
                Err(StoreError::Transient(e)) if self.drain.is_some() && !self.out_of_time() => {
                    tracing::warn!("commit failed during shutdown ({e}); trying again");
                    std::thread::sleep(Duration::from_millis(250));
                    self.telemetry.health.beat(Worker::Committer);
                }
                other => return other,
            }
        }
    }

    /// One transaction for all of `msgs` (with the drain rules), no bisecting: the caller
    /// decides what a failure means for the files they came from.
    pub fn commit_all(
        &mut self,
        msgs: &[Message],
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Result<(), StoreError> {
        self.telemetry.health.beat(Worker::Committer);
        self.commit_chunk(msgs, source, source_file)
    }

    /// Commits `msgs` in chunks of at most `batch_max`; a chunk that fails permanently is
    /// bisected; after the first transient failure everything left is a leftover.
    pub fn settle(
        &mut self,
        msgs: Vec<Message>,
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Settlement {
        let mut out = Settlement::default();
        let mut work: VecDeque<Vec<Message>> = VecDeque::new();
        let mut rest = msgs;
        let chunk = self.config.batch_max.max(self.config.batch_size);
        while rest.len() > chunk {
            let tail = rest.split_off(chunk);
            work.push_back(rest);
            rest = tail;
        }
        work.push_back(rest);
        while let Some(mut chunk) = work.pop_front() {
            // Each chunk is progress: a long bisect is not a wedged committer.
            self.telemetry.health.beat(Worker::Committer);
            if chunk.is_empty() {
                continue;
            }
            if out.error.is_some() {
                out.leftover.append(&mut chunk);
                continue;
            }
            match self.commit_chunk(&chunk, source, source_file) {
                Ok(()) => {
                    out.committed += chunk.len() as u64;
                    out.done.push(chunk);
                }
                Err(StoreError::Permanent(e)) if chunk.len() == 1 => {
                    tracing::warn!("isolated a message that cannot be committed: {e}");
                    out.poison.push((chunk.remove(0), e));
                }
                Err(StoreError::Permanent(e)) => {
                    tracing::info!(
                        "batch of {} failed ({e}); bisecting to isolate the cause",
                        chunk.len()
                    );
                    let right = chunk.split_off(chunk.len() / 2);
                    work.push_front(right);
                    work.push_front(chunk);
                }
                Err(e) => {
                    out.error = Some(e.to_string());
                    out.leftover.append(&mut chunk);
                }
            }
        }
        out
    }

    /// A name for a new file in `retry/` or `stuck/`: time-ordered, unique, readable.
    pub fn new_file_name(&mut self, tag: &str) -> String {
        self.seq += 1;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
        format!("{stamp}-{:06}-{}{tag}.batch", self.seq, std::process::id())
    }

    /// Writes isolated poison messages to `stuck/`, one file each (`poison-<uid hash>.batch`). Returns the ones that
    /// could not be written (they must stay where they were).
    pub fn write_poison(&mut self, poison: Vec<(Message, String)>) -> Vec<Message> {
        let mut failed = Vec::new();
        for (msg, error) in poison {
            // Named by the message's uid, so that a retry file replayed after a crash (the
            // poison written, the retry file not yet removed) rewrites the same stuck file
            // instead of making a second copy.
            let name = poison_file_name(&msg.uid);
            let now = SystemTime::now();
            let mut header = RetryHeader::new(1, &error, now);
            header.failed(&error, now);
            match retry_file::write(&self.dirs.stuck, &name, &header, std::slice::from_ref(&msg)) {
                Ok(()) => {
                    self.telemetry.uids.set(Place::Stuck, &name, [msg.uid.as_str()]);
                    self.telemetry
                        .upsert_file(FileKind::Stuck, header.entry(&name, false));
                    self.telemetry.update_counters(|c| c.stuck += 1);
                    self.telemetry.emit(EventKind::FileStuck {
                        file: name,
                        messages: 1,
                        error,
                    });
                }
                Err(e) => {
                    tracing::error!("cannot write {name} to stuck/: {e}");
                    failed.push(msg);
                }
            }
        }
        failed
    }

    /// Writes new retry files for messages that failed with `error`: as many as the
    /// inbox's limits need (a retry file is read back with them). Returns false (and logs)
    /// if they could not all be made durable; then none stays.
    pub fn write_retry(&mut self, msgs: &[Message], error: &str, schedule: &mut RetrySchedule) -> bool {
        let now = SystemTime::now();
        let mut written: Vec<(String, RetryHeader, Duration, u64)> = Vec::new();
        for chunk in retry_file::chunks(msgs, &self.config.limits) {
            let name = self.new_file_name("");
            let mut header = RetryHeader::new(chunk.len() as u64, error, now);
            header.failed(error, now);
            let wait = backoff(
                header.attempts,
                self.config.retry_backoff_min,
                self.config.retry_backoff_max,
            );
            header.next_attempt_ms = ms_since_epoch(now + wait);
            if let Err(e) = retry_file::write(&self.dirs.retry, &name, &header, chunk) {
                tracing::error!("cannot write a retry file for {} messages: {e}", msgs.len());
                // The messages stay where they were: a file already written would be a
                // second copy of some of them.
                for (name, ..) in &written {
                    self.telemetry.uids.remove(Place::Retry, name);
                    if let Err(e) = std::fs::remove_file(self.dirs.retry.join(name)) {
                        tracing::error!("cannot take back retry file {name}: {e}");
                    }
                }
                let _ = crate::processor::dirs::sync_dir(&self.dirs.retry);
                return false;
            }
            written.push((name, header, wait, chunk.len() as u64));
            let (name, ..) = written.last().expect("just pushed");
            self.telemetry
                .uids
                .set(Place::Retry, name, chunk.iter().map(|m| m.uid.as_str()));
        }
        for (name, header, wait, count) in written {
            schedule.schedule(&name, Instant::now() + wait);
            self.telemetry
                .upsert_file(FileKind::Retry, header.entry(&name, true));
            self.telemetry.update_counters(|c| c.retried += count);
            self.telemetry.emit(EventKind::BatchRetried {
                file: name,
                messages: count,
                attempts: header.attempts,
                error: error.to_string(),
                next_attempt_in_s: wait.as_secs_f64(),
            });
        }
        true
    }
}

/// The stuck file of one isolated poison message: the same for the same uid.
pub fn poison_file_name(uid: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(uid.as_bytes());
    format!("poison-{}.batch", hex::encode(&digest[..10]))
}
