//! The committer thread: owns the database connection and the retry files. Batches what
//! intake hands over (size or age), settles batches and due retry files, serves operator
//! commands, and drains at shutdown.

mod retries;
mod unlink;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};

use crate::api::wire::FileKind;
use crate::message::{escape_text, Message};
use crate::processor::bulk::{BulkContext, BulkQueue};
use crate::processor::control::{Command, ControlError};
use crate::processor::health::Worker;
use crate::processor::inbox::{InboxFile, InboxIndex};
use crate::processor::retry::{self, due_from_header, RetrySchedule};
use crate::processor::settle::{DrainLimit, Settler};
use crate::processor::settled::SettledRecords;
use crate::processor::store::BatchSource;
use unlink::Unlinker;

const HOUSEKEEPING: Duration = Duration::from_millis(250);
const MAINTENANCE: Duration = Duration::from_secs(10);
/// A file whose messages could not be made durable is read again after this.
const RELEASE_DELAY: Duration = Duration::from_secs(5);

struct PendingFile {
    name: String,
    total: usize,
    settled: usize,
    abandoned: bool,
    read_at: Instant,
}

pub struct Committer {
    pub settler: Settler,
    pub index: InboxIndex,
    pub files: Receiver<InboxFile>,
    pub commands: Receiver<Command>,
    /// Disconnected when shutdown begins.
    pub stop: Receiver<()>,
    /// Set by a second signal: stop trying the database while draining.
    pub hurry: Arc<AtomicBool>,
    /// `MAX(record_id)` as the telemetry reader last saw it.
    pub db_max: Arc<AtomicI64>,
    schedule: RetrySchedule,
    stuck_names: HashSet<String>,
    discarded_names: HashSet<String>,
    bulk: BulkQueue,
    batch: Vec<Message>,
    parts: Vec<(u64, usize)>,
    /// When the open batch's oldest file was read (the batch age counts from there).
    opened: Option<Instant>,
    /// When the open batch took its first message (bounds how long a backlog may keep
    /// an old batch open to fill it).
    filling_since: Option<Instant>,
    pending: BTreeMap<u64, PendingFile>,
    next_file_id: u64,
    unlinker: Unlinker,
    /// How long the last turn's retries took: a running bulk action gets as long (a group
    /// commit can outlast its slice, and the action must not starve behind it).
    last_retry_turn: Duration,
}

impl Committer {
    pub fn new(
        settler: Settler,
        index: InboxIndex,
        files: Receiver<InboxFile>,
        commands: Receiver<Command>,
        stop: Receiver<()>,
        hurry: Arc<AtomicBool>,
        db_max: Arc<AtomicI64>,
    ) -> Committer {
        let records = SettledRecords::new(settler.dirs.settled.clone(), settler.dirs.inbox.clone());
        let unlinker = Unlinker::start(settler.dirs.inbox.clone(), index.clone(), records);
        Committer {
            settler,
            index,
            files,
            commands,
            stop,
            hurry,
            db_max,
            schedule: RetrySchedule::default(),
            stuck_names: HashSet::new(),
            discarded_names: HashSet::new(),
            bulk: BulkQueue::default(),
            batch: Vec::new(),
            parts: Vec::new(),
            opened: None,
            filling_since: None,
            pending: BTreeMap::new(),
            next_file_id: 0,
            unlinker,
            last_retry_turn: Duration::ZERO,
        }
    }

    fn config(&self) -> &crate::config::ProcessorConfig {
        &self.settler.config
    }

    pub fn run(mut self) {
        let telemetry = self.settler.telemetry.clone();
        let alive = telemetry.health.enter(Worker::Committer);
        if let Err(e) = self.settler.keys.reconcile(self.settler.store.as_mut()) {
            tracing::warn!("cannot reconcile the allocator at start ({e}); will try before the first commit");
        }
        self.settler.publish_allocator();
        self.sync_dirs();
        let mut last_housekeeping = Instant::now();
        let mut last_maintenance = Instant::now();
        let mut last_dir_sync = Instant::now();
        loop {
            // Idle, this loop turns at least every HOUSEKEEPING: an idle committer beats too.
            telemetry.health.beat(Worker::Committer);
            let wait = self.next_wakeup().saturating_duration_since(Instant::now());
            select! {
                recv(self.files) -> file => match file {
                    Ok(file) => self.accept(file),
                    Err(_) => break,
                },
                recv(self.commands) -> cmd => if let Ok(cmd) = cmd { self.handle(cmd) },
                recv(self.stop) -> _ => break,
                default(wait) => {},
            }
            if self.batch_due() {
                self.commit_open(BatchSource::Inbox);
            }
            let retries = Instant::now();
            self.run_due_retries();
            self.last_retry_turn = retries.elapsed();
            self.run_bulk();
            let now = Instant::now();
            if now - last_housekeeping >= HOUSEKEEPING {
                last_housekeeping = now;
                self.unlinker.retry_failed();
                self.publish();
            }
            if now - last_maintenance >= MAINTENANCE {
                last_maintenance = now;
                if let Err(e) = self.settler.store.maintain() {
                    tracing::warn!("database maintenance failed: {e}");
                }
            }
            if now - last_dir_sync >= self.config().rescan_interval {
                last_dir_sync = now;
                self.sync_dirs();
            }
        }
        self.finish();
        alive.finish();
    }

    fn next_wakeup(&self) -> Instant {
        if self.bulk.is_active() {
            return Instant::now();
        }
        let mut at = Instant::now() + HOUSEKEEPING;
        if let Some(opened) = self.opened {
            at = at.min(opened + self.config().batch_age);
        }
        if let Some(since) = self.filling_since {
            at = at.min(since + self.config().batch_age);
        }
        if let Some(due) = self.schedule.next_due() {
            at = at.min(due);
        }
        at
    }

    /// Files already read wait for the committer: the inbox has a backlog.
    fn backlog(&self) -> bool {
        !self.files.is_empty()
    }

    /// How many messages the open batch may take now: `batch_size` when the inbox is
    /// quiet, up to `batch_max` while read files are waiting.
    fn batch_cap(&self) -> usize {
        let cfg = self.config();
        if self.backlog() {
            cfg.batch_max.max(cfg.batch_size)
        } else {
            cfg.batch_size
        }
    }

    /// The batch age closes a batch only when no read file is waiting (a quiet inbox):
    /// under a backlog the batch fills from files already read, up to `batch_max`, but
    /// stays open no longer than `batch_age` after its first message was taken.
    fn batch_due(&self) -> bool {
        let cfg = self.config();
        let old = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() >= cfg.batch_age);
        !self.batch.is_empty()
            && (self.batch.len() >= self.batch_cap()
                || old(self.filling_since)
                || (!self.backlog() && old(self.opened)))
    }

    /// Adds a parsed file to the open batch, committing each time the batch is full.
    fn accept(&mut self, file: InboxFile) {
        let id = self.next_file_id;
        self.next_file_id += 1;
        let total = file.messages.len();
        self.pending.insert(
            id,
            PendingFile {
                name: file.name,
                total,
                settled: 0,
                abandoned: false,
                read_at: file.read_at,
            },
        );
        if total == 0 {
            self.settle_parts(&[(id, 0)], true);
            return;
        }
        let mut messages = file.messages.into_iter().peekable();
        while messages.peek().is_some() {
            let room = if self.settler.drain.is_some() {
                usize::MAX // draining: one settlement of everything handed over
            } else {
                self.batch_cap().saturating_sub(self.batch.len()).max(1)
            };
            let before = self.batch.len();
            self.batch.extend(messages.by_ref().take(room));
            self.parts.push((id, self.batch.len() - before));
            self.opened.get_or_insert(file.read_at);
            self.filling_since.get_or_insert_with(Instant::now);
            if self.batch.len() >= self.batch_cap() && self.settler.drain.is_none() {
                self.commit_open(BatchSource::Inbox);
            }
        }
    }

    /// Settles the open batch: commit, bisect, and `retry/` or `stuck/` for the rest.
    fn commit_open(&mut self, source: BatchSource) -> u64 {
        if self.batch.is_empty() {
            return 0;
        }
        let msgs = std::mem::take(&mut self.batch);
        let parts = std::mem::take(&mut self.parts);
        self.opened = None;
        self.filling_since = None;
        let count = msgs.len() as u64;
        let mut settlement = self.settler.settle(msgs, source, None);
        self.unlinker.free(std::mem::take(&mut settlement.done));
        let mut unsaved = self.settler.write_poison(settlement.poison);
        let mut durable = unsaved.is_empty();
        if !settlement.leftover.is_empty() || !unsaved.is_empty() {
            let mut rest = settlement.leftover;
            rest.append(&mut unsaved);
            let error = settlement
                .error
                .unwrap_or_else(|| "could not write to stuck/".into());
            tracing::warn!("{} messages go to retry/: {}", rest.len(), escape_text(&error));
            durable = self.settler.write_retry(&rest, &error, &mut self.schedule);
        }
        self.settle_parts(&parts, durable);
        count
    }

    /// Marks parts of inbox files settled; a file whose every message is durable leaves
    /// the inbox, one that could not be made durable stays and is read again later.
    fn settle_parts(&mut self, parts: &[(u64, usize)], durable: bool) {
        let mut done = Vec::new();
        for &(id, count) in parts {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            p.settled += count;
            p.abandoned |= !durable;
            self.index.settled(count as u64);
            if p.settled < p.total {
                continue;
            }
            let p = self.pending.remove(&id).expect("present");
            if p.abandoned {
                self.index.release(&p.name, Instant::now() + RELEASE_DELAY);
                continue;
            }
            done.push(p.name);
        }
        self.unlinker.unlink(done);
    }

    /// One slice of the running bulk action, if any.
    fn run_bulk(&mut self) {
        if !self.bulk.is_active() {
            return;
        }
        let dirs = self.settler.dirs.clone();
        let telemetry = self.settler.telemetry.clone();
        let mut ctx = BulkContext {
            dirs: &dirs,
            telemetry: &telemetry,
            schedule: &mut self.schedule,
            stuck_names: &mut self.stuck_names,
        };
        let slice = crate::processor::bulk::SLICE.max(self.last_retry_turn);
        self.bulk.step(&mut ctx, slice);
        if !self.bulk.is_active() {
            // The action may have emptied stuck/: its table need not stay sized for it.
            self.stuck_names.shrink_to_fit();
        }
    }

    /// Brings the schedule and telemetry in line with `retry/` and `stuck/` on disk
    /// (an operator may move files by hand).
    fn sync_dirs(&mut self) {
        let dirs = self.settler.dirs.clone();
        let t = self.settler.telemetry.clone();
        let schedule = &self.schedule;
        let listed = retry::sync_dir(
            &dirs,
            &t,
            FileKind::Retry,
            |n| schedule.contains(n),
            schedule.names(),
        );
        match listed {
            Ok((added, gone)) => {
                for (name, header) in added {
                    let due = due_from_header(
                        header.next_attempt_ms,
                        Instant::now(),
                        self.config().retry_backoff_max,
                    );
                    self.schedule.schedule(&name, due);
                    t.upsert_file(FileKind::Retry, header.entry(&name, true));
                }
                for name in gone {
                    self.schedule.remove(&name);
                    t.remove_file(FileKind::Retry, &name);
                }
            }
            Err(e) => tracing::error!("cannot list {}: {e}", dirs.retry.display()),
        }
        let stuck = &self.stuck_names;
        let listed = retry::sync_dir(
            &dirs,
            &t,
            FileKind::Stuck,
            |n| stuck.contains(n),
            stuck.iter().map(String::as_str),
        );
        match listed {
            Ok((added, gone)) => {
                for (name, header) in added {
                    t.upsert_file(FileKind::Stuck, header.entry(&name, false));
                    self.stuck_names.insert(name);
                }
                for name in gone {
                    self.stuck_names.remove(&name);
                    t.remove_file(FileKind::Stuck, &name);
                }
            }
            Err(e) => tracing::error!("cannot list {}: {e}", dirs.stuck.display()),
        }
        crate::processor::bulk::sync_discarded(&dirs, &t, &mut self.discarded_names);
    }

    fn publish(&mut self) {
        let db_max = self.db_max.load(Ordering::Relaxed);
        if db_max >= 0 {
            self.settler.keys.observe_db_max(db_max);
        }
        self.settler.publish_allocator();
        let (depth, bytes, inbox_oldest, files, messages) = self.index.stats();
        self.settler.telemetry.set_inbox(depth, bytes, inbox_oldest);
        let oldest = self.pending.values().next().map(|p| p.read_at);
        self.settler.telemetry.set_in_flight(messages, files, oldest);
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Flush { reply } => {
                let n = self.commit_open(BatchSource::Inbox);
                let outcome = if n == 0 {
                    "nothing to flush: the open batch was empty".to_string()
                } else {
                    format!("flushed the open batch of {n} messages")
                };
                let _ = reply.send(Ok(outcome));
            }
            Command::Resync { reply } => {
                let result = self.settler.resync("operator request").map(|()| {
                    let i = self.settler.keys.info();
                    format!(
                        "allocator resynced: next id {}, database max id {}",
                        i.next_id, i.db_max_id
                    )
                });
                let _ = reply.send(result.map_err(|e| ControlError::Failed(e.to_string())));
            }
            Command::Requeue {
                name,
                expected_attempts,
                reply,
            } => {
                let _ = reply.send(self.requeue(&name, expected_attempts));
            }
            Command::Bulk {
                request,
                origin,
                reply,
            } => self.bulk.push(request, origin, reply),
        }
    }

    fn requeue(&mut self, name: &str, expected: Option<u32>) -> Result<String, ControlError> {
        crate::processor::requeue::requeue(
            &self.settler.dirs,
            &self.settler.telemetry,
            &mut self.schedule,
            &mut self.stuck_names,
            name,
            expected,
        )
    }

    /// Shutdown: take what intake already handed over, commit it within the deadline,
    /// and write what could not be committed to `retry/`.
    fn finish(&mut self) {
        self.settler.drain = Some(DrainLimit {
            deadline: Instant::now() + self.config().drain_deadline,
            hurry: self.hurry.clone(),
        });
        while let Ok(file) = self.files.try_recv() {
            self.accept(file);
        }
        let n = self.batch.len();
        if n > 0 {
            tracing::info!("draining: committing the open batch of {n} messages");
        }
        self.commit_open(BatchSource::Drain);
        self.bulk.abandon(&self.settler.telemetry);
        self.publish();
        // Files handed over but not settled stay in the inbox for the next start.
        let left: Vec<u64> = self.pending.keys().copied().collect();
        for id in left {
            if let Some(p) = self.pending.remove(&id) {
                self.index.release(&p.name, Instant::now());
            }
        }
        if let Err(e) = self.settler.store.maintain() {
            tracing::warn!("final checkpoint failed: {e}");
        }
        self.unlinker.finish();
    }
}
