//! Intake: notify events are hints, a rescan (at start, on overflow, on a timer) is the
//! truth. Complete files are read, parsed and handed to the committer in arrival order.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use notify::{RecursiveMode, Watcher};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::ProcessorConfig;
use crate::message::{escape_text, parse_file, FileFormat};
use crate::processor::corrupt;
use crate::processor::health::Worker;
use crate::processor::inbox::{InboxFile, InboxIndex};
use crate::processor::telemetry::Telemetry;
use crate::processor::StateDir;

/// How long a failed read keeps a file out of the queue.
const HOLD_AFTER_FAILURE: Duration = Duration::from_secs(5);

pub struct Intake {
    pub config: ProcessorConfig,
    pub dirs: StateDir,
    pub telemetry: Arc<Telemetry>,
    pub index: InboxIndex,
    pub to_committer: Sender<InboxFile>,
    pub paused: watch::Receiver<bool>,
    pub shutdown: CancellationToken,
}

struct Queue {
    names: VecDeque<String>,
    queued: HashSet<String>,
}

impl Queue {
    fn push(&mut self, name: String) {
        if self.queued.insert(name.clone()) {
            self.names.push_back(name);
        }
    }
    fn pop(&mut self) -> Option<String> {
        let name = self.names.pop_front()?;
        self.queued.remove(&name);
        Some(name)
    }
}

impl Intake {
    /// Runs until shutdown. Never returns an error: failures are logged and retried.
    pub fn run(self) {
        let alive = self.telemetry.health.enter(Worker::Intake);
        let (send_hint, hints) = crate::processor::hints::hint_queue(crate::processor::hints::HINT_QUEUE);
        let watcher = notify::recommended_watcher(send_hint)
            .and_then(|mut w| w.watch(&self.dirs.inbox, RecursiveMode::NonRecursive).map(|()| w));
        let _watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "cannot watch {}: {e}; relying on the periodic rescan",
                    self.dirs.inbox.display()
                );
                None
            }
        };
        let mut queue = Queue {
            names: VecDeque::new(),
            queued: HashSet::new(),
        };
        let mut next_rescan = Instant::now();
        let mut warned_dirs = HashSet::new();
        while !self.shutdown.is_cancelled() {
            self.telemetry.health.beat(Worker::Intake);
            let now = Instant::now();
            if now >= next_rescan {
                self.telemetry.health.first_scan_started();
                self.rescan(&mut queue, &mut warned_dirs);
                next_rescan = Instant::now() + self.config.rescan_interval;
            }
            let paused = *self.paused.borrow();
            let busy = !paused && !queue.names.is_empty();
            let wait = if busy {
                Duration::ZERO
            } else {
                next_rescan
                    .saturating_duration_since(now)
                    .min(Duration::from_millis(100))
            };
            if self.take_hints(&hints.rx, wait, &mut queue) | hints.take_overflow() {
                next_rescan = Instant::now();
            }
            if !*self.paused.borrow() {
                // A slice of work, then back to hints and the shutdown check.
                for _ in 0..64 {
                    let Some(name) = queue.pop() else { break };
                    self.process(&name);
                    if self.shutdown.is_cancelled() {
                        break;
                    }
                }
            }
            self.publish();
        }
        // Shutdown asked intake to stop taking files: a draining processor is still alive.
        alive.finish();
    }

    /// Returns true if the watcher asked for a rescan (overflow or error).
    fn take_hints(
        &self,
        hints: &Receiver<notify::Result<notify::Event>>,
        wait: Duration,
        queue: &mut Queue,
    ) -> bool {
        let mut rescan = false;
        let mut handle = |ev: notify::Result<notify::Event>| match ev {
            Ok(ev) => {
                if ev.need_rescan() {
                    crate::failpoint!("intake.overflow");
                    rescan = true;
                }
                let hint = Hint::of(&ev.kind);
                for path in ev.paths {
                    if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                        match hint {
                            Hint::Look => self.note(name, queue),
                            Hint::Gone => self.forget(name),
                            Hint::Nothing => {}
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!("watch error on {}: {e}; rescanning", self.dirs.inbox.display());
                rescan = true;
            }
        };
        match hints.recv_timeout(wait) {
            Ok(ev) => handle(ev),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
        for ev in hints.try_iter().take(10_000) {
            handle(ev);
        }
        rescan
    }

    /// A hint about one name: stat it, and queue it if it is a message file to read.
    fn note(&self, name: &str, queue: &mut Queue) {
        if FileFormat::from_name(name).is_none() {
            return;
        }
        match fs::symlink_metadata(self.dirs.inbox.join(name)) {
            Ok(meta) if meta.file_type().is_file() => {
                let mtime = meta.modified().unwrap_or(SystemTime::now());
                if self.index.observe(name, meta.len(), mtime, Instant::now()) {
                    queue.push(name.to_string());
                }
            }
            Ok(_) => {} // links and directories are dealt with by the rescan
            Err(_) => {
                if !self.index.is_in_flight(name) {
                    self.index.remove(name);
                }
            }
        }
    }

    /// A file was deleted or renamed away: forget it without a stat (if a file of that
    /// name appears again, its own create or rename event follows).
    fn forget(&self, name: &str) {
        if FileFormat::from_name(name).is_some() && !self.index.is_in_flight(name) {
            self.index.remove(name);
        }
    }

    /// The truth: list the inbox, queue what is new, forget what vanished, and deal with
    /// what is not a message file.
    fn rescan(&self, queue: &mut Queue, warned_dirs: &mut HashSet<String>) {
        let entries = match fs::read_dir(&self.dirs.inbox) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("cannot list {}: {e}", self.dirs.inbox.display());
                return;
            }
        };
        let now = Instant::now();
        let mut present = HashSet::new();
        let mut fresh = Vec::new();
        for entry in entries.flatten() {
            let raw = entry.file_name();
            let Some(name) = raw.to_str().map(str::to_string) else {
                corrupt::quarantine_foreign(
                    &self.dirs,
                    &self.telemetry,
                    &self.dirs.inbox,
                    &raw,
                    "the file name is not UTF-8",
                );
                continue;
            };
            if name.starts_with('.') {
                continue; // a producer's temporary file
            }
            let Ok(meta) = fs::symlink_metadata(entry.path()) else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                if warned_dirs.insert(name.clone()) {
                    tracing::warn!("ignoring directory {:?} in the inbox", escape_text(&name));
                }
                continue;
            }
            if !ft.is_file() {
                corrupt::quarantine(&self.dirs, &self.telemetry, &entry.path(), &name,
                    "not a regular file (a link or a device); producers must rename a complete regular file into the inbox");
                continue;
            }
            if FileFormat::from_name(&name).is_none() {
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .unwrap_or_default();
                if age >= self.config.foreign_file_grace {
                    corrupt::quarantine(&self.dirs, &self.telemetry, &entry.path(), &name,
                        "the name does not end in .json or .jsonl (producers write a temporary name starting with '.' and rename it)");
                }
                continue;
            }
            present.insert(name.clone());
            let mtime = meta.modified().unwrap_or(SystemTime::now());
            if self.index.observe(&name, meta.len(), mtime, now) && !queue.queued.contains(&name) {
                fresh.push((mtime, name));
            }
        }
        self.index.retain_present(&present);
        // Oldest first, so a backlog drains in arrival order.
        fresh.sort();
        for (_, name) in fresh {
            queue.push(name);
        }
        self.publish();
    }

    fn publish(&self) {
        let (depth, bytes, oldest, _, _) = self.index.stats();
        self.telemetry.set_inbox(depth, bytes, oldest);
    }

    /// Reads, parses and hands over one file. Whole-file failures go to `corrupt/`.
    fn process(&self, name: &str) {
        if self.index.is_in_flight(name) {
            return;
        }
        let path = self.dirs.inbox.join(name);
        let Some(format) = FileFormat::from_name(name) else {
            return;
        };
        let bytes = match read_bounded(&path, self.config.limits.max_file_bytes) {
            Ok(ReadOutcome::Bytes(b)) => b,
            Ok(ReadOutcome::TooLarge(size)) => {
                let reason = format!(
                    "the file is {size} bytes, over the limit of {} bytes (--max-file-bytes)",
                    self.config.limits.max_file_bytes
                );
                self.reject(&path, name, &reason);
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.index.remove(name);
                return;
            }
            Err(e) => {
                tracing::warn!(file = %escape_text(name), "cannot read: {e}; will try again");
                self.index.release(name, Instant::now() + HOLD_AFTER_FAILURE);
                return;
            }
        };
        let parsed = match parse_file(format, &bytes, &self.config.limits) {
            Ok(p) => p,
            Err(rejected) => {
                self.reject(&path, name, &rejected.reason);
                return;
            }
        };
        drop(bytes);
        if !parsed.rejected.is_empty() {
            let written = corrupt::write_lines(
                &self.dirs,
                &self.telemetry,
                name,
                &path,
                &parsed.rejected,
                parsed.messages.len(),
            );
            if let Err(e) = written {
                // The bad lines must be durable in corrupt/ before the file may leave the inbox.
                tracing::error!(file = %escape_text(name), "cannot write its {} bad lines to corrupt/: {e}; will try again", parsed.rejected.len());
                self.index.release(name, Instant::now() + HOLD_AFTER_FAILURE);
                return;
            }
        }
        let count = parsed.messages.len() as u64;
        self.telemetry.update_counters(|c| c.received += count);
        self.index.mark_in_flight(name, count);
        let mut file = InboxFile {
            name: name.to_string(),
            messages: parsed.messages,
            read_at: Instant::now(),
        };
        loop {
            match self.to_committer.send_timeout(file, Duration::from_millis(100)) {
                Ok(()) => return,
                Err(SendTimeoutError::Timeout(back)) if !self.shutdown.is_cancelled() => {
                    // Waiting on a busy committer is not a wedged intake (the committer's
                    // own heartbeat says whether it is wedged).
                    self.telemetry.health.beat(Worker::Intake);
                    file = back;
                }
                Err(SendTimeoutError::Timeout(_)) | Err(SendTimeoutError::Disconnected(_)) => {
                    // Shutting down: the file stays in the inbox for the next start.
                    self.index.settled(count);
                    self.index.release(name, Instant::now());
                    return;
                }
            }
        }
    }

    fn reject(&self, path: &Path, name: &str, reason: &str) {
        if corrupt::quarantine(&self.dirs, &self.telemetry, path, name, reason) {
            self.index.remove(name);
        } else {
            self.index.release(name, Instant::now() + HOLD_AFTER_FAILURE);
        }
    }
}

/// What an event says about its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    /// It may have appeared or changed: stat it.
    Look,
    /// It is gone (deleted): no stat needed.
    Gone,
    /// Opened, read or closed without writing (our own reads make two of these per
    /// file): neither the set of files nor their content changed.
    Nothing,
}

impl Hint {
    fn of(kind: &notify::EventKind) -> Hint {
        use notify::event::{AccessKind, AccessMode, EventKind, RemoveKind};
        match kind {
            EventKind::Remove(RemoveKind::File) => Hint::Gone,
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Hint::Look,
            EventKind::Access(_) => Hint::Nothing,
            _ => Hint::Look,
        }
    }
}

enum ReadOutcome {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

/// Reads a whole file, but never more than `limit` bytes into memory.
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<ReadOutcome> {
    let file = fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Ok(ReadOutcome::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(ReadOutcome::TooLarge(bytes.len() as u64));
    }
    Ok(ReadOutcome::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::Hint;
    use notify::event::{
        AccessKind, AccessMode, CreateKind, DataChange, EventKind, ModifyKind, RemoveKind, RenameMode,
    };

    #[test]
    fn only_events_that_cannot_change_a_file_are_ignored() {
        let cases = [
            (
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                Hint::Nothing,
            ),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                Hint::Nothing,
            ),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                Hint::Look,
            ),
            (EventKind::Create(CreateKind::File), Hint::Look),
            (EventKind::Modify(ModifyKind::Name(RenameMode::To)), Hint::Look),
            (EventKind::Modify(ModifyKind::Name(RenameMode::From)), Hint::Look),
            (EventKind::Modify(ModifyKind::Data(DataChange::Any)), Hint::Look),
            (EventKind::Remove(RemoveKind::File), Hint::Gone),
            (EventKind::Remove(RemoveKind::Folder), Hint::Look),
            (EventKind::Any, Hint::Look),
        ];
        for (kind, hint) in cases {
            assert_eq!(Hint::of(&kind), hint, "{kind:?}");
        }
    }
}
