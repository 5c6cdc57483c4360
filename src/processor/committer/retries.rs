//! Due retry files: read, committed together (several files in one transaction, up to the
//! batch cap), and for a group that fails, each file on its own again, so that one poison
//! file never blocks nor poisons the others; then removed, rescheduled or moved to `stuck/`.

use std::fs;
use std::time::{Duration, Instant, SystemTime};

use super::Committer;
use crate::api::wire::{EventKind, FileKind};
use crate::message::Message;
use crate::processor::corrupt;
use crate::processor::dirs::{sync_dir, unused_name};
use crate::processor::retry;
use crate::processor::retry_file::{self, ms_since_epoch, ReadError, RetryHeader};
use crate::processor::store::{BatchSource, StoreError};
use crate::processor::uid_index::Place;

/// Time spent on due retry files per turn of the loop, so the inbox keeps flowing.
const RETRY_BUDGET: Duration = Duration::from_millis(200);
/// Files in one transaction, whatever their messages: each is held read (with its header,
/// whose attempt history is up to 20 errors) until the commit, and a requeued stuck list
/// is mostly one-message files. 1,000 keeps that under a few MiB and the turn short.
const MAX_GROUP_FILES: usize = 1000;

/// A due retry file, read, its bad lines set aside: what its attempt commits.
struct DueFile {
    name: String,
    header: RetryHeader,
    messages: Vec<Message>,
}

impl Committer {
    /// Attempts the due retry files for at most the turn's budget: as many as fit under
    /// the batch cap (in messages) go into one transaction.
    pub(super) fn run_due_retries(&mut self) {
        let started = Instant::now();
        // While a bulk action runs, retries and the action share the loop in equal slices
        // (a requeue of 100,000 files makes them all due at once).
        let budget = if self.bulk.is_active() {
            crate::processor::bulk::SLICE
        } else {
            RETRY_BUDGET
        };
        let cap = self.config().batch_max.max(self.config().batch_size).max(1);
        let mut carried: Option<DueFile> = None;
        while started.elapsed() < budget || carried.is_some() {
            let mut group: Vec<DueFile> = carried.take().into_iter().collect();
            let mut count: usize = group.iter().map(|f| f.messages.len()).sum();
            while count < cap && group.len() < MAX_GROUP_FILES && started.elapsed() < budget {
                let Some(name) = self.schedule.pop_due(Instant::now()) else {
                    break;
                };
                let Some(file) = self.load_due(&name) else {
                    continue;
                };
                if !group.is_empty() && count + file.messages.len() > cap {
                    carried = Some(file); // the first of the next group
                    break;
                }
                count += file.messages.len();
                group.push(file);
            }
            if group.is_empty() {
                break;
            }
            self.attempt_group(group);
            if carried.is_some() && started.elapsed() >= budget {
                // Read but not attempted: still due, first in line next turn.
                let file = carried.take().expect("carried");
                self.schedule.schedule(&file.name, Instant::now());
            }
        }
    }

    /// Reads one due retry file. `None` when there is nothing to attempt: it vanished, went
    /// to `corrupt/` whole, or could not be read now (then it is rescheduled).
    fn load_due(&mut self, name: &str) -> Option<DueFile> {
        let dirs = self.settler.dirs.clone();
        let t = self.settler.telemetry.clone();
        let path = dirs.retry.join(name);
        let decoded = match retry_file::read(&path, &self.config().limits) {
            Ok(decoded) => decoded,
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                t.remove_file(FileKind::Retry, name);
                return None;
            }
            Err(ReadError::Corrupt(why)) => {
                let reason = format!("retry file is unreadable: {why}");
                corrupt::quarantine(&dirs, &t, &path, name, &reason);
                t.remove_file(FileKind::Retry, name);
                return None;
            }
            Err(e) => {
                tracing::warn!("cannot read retry file {name}: {e}");
                let due = Instant::now() + self.config().retry_backoff_min;
                self.schedule.schedule(name, due);
                return None;
            }
        };
        let retry_file::Decoded {
            header,
            messages,
            rejected,
        } = decoded;
        match corrupt::set_aside(&dirs, &t, name, &path, messages.len(), &rejected) {
            Ok(true) => Some(DueFile {
                name: name.to_string(),
                header,
                messages,
            }),
            Ok(false) => {
                t.remove_file(FileKind::Retry, name);
                None
            }
            Err(e) => {
                tracing::error!("cannot write the bad lines of retry file {name} to corrupt/: {e}");
                let due = Instant::now() + self.config().retry_backoff_min;
                self.schedule.schedule(name, due);
                None
            }
        }
    }

    /// One transaction for the whole group. If the database refuses a message (a trigger,
    /// a bad value), each file is attempted on its own (bisected as before), so only the
    /// file that holds it is affected; if the database is unavailable, every file records
    /// the failed attempt with that error.
    fn attempt_group(&mut self, mut group: Vec<DueFile>) {
        if group.len() == 1 {
            let file = group.pop().expect("one file");
            return self.attempt_alone(file);
        }
        let sizes: Vec<usize> = group.iter().map(|f| f.messages.len()).collect();
        let mut all = Vec::with_capacity(sizes.iter().sum());
        for file in &mut group {
            all.append(&mut file.messages);
        }
        let label = format!("{} (+{} more retry files)", group[0].name, group.len() - 1);
        match self.settler.commit_all(&all, BatchSource::Retry, Some(&label)) {
            Ok(()) => {
                self.unlinker.free(vec![all]);
                let names: Vec<String> = group.into_iter().map(|f| f.name).collect();
                self.remove_committed(&names);
            }
            Err(e) => {
                // Give each file its messages back, in order.
                for (file, size) in group.iter_mut().zip(&sizes).rev() {
                    file.messages = all.split_off(all.len() - size);
                }
                match e {
                    StoreError::Permanent(e) => {
                        tracing::info!(
                            "{} retry files in one batch failed ({e}); attempting each on its own",
                            group.len()
                        );
                        for file in group {
                            self.attempt_alone(file);
                        }
                    }
                    e => {
                        let error = e.to_string();
                        for file in group {
                            let DueFile {
                                name,
                                header,
                                messages,
                            } = file;
                            self.failed_attempt(&name, header, messages, error.clone());
                        }
                    }
                }
            }
        }
    }

    /// One file in its own transactions: committed in chunks, bisected down to the poison
    /// message, which goes to `stuck/` alone.
    fn attempt_alone(&mut self, file: DueFile) {
        let DueFile {
            name,
            header,
            messages,
        } = file;
        let mut settlement = self.settler.settle(messages, BatchSource::Retry, Some(&name));
        self.unlinker.free(std::mem::take(&mut settlement.done));
        let mut rest = settlement.leftover;
        rest.append(&mut self.settler.write_poison(settlement.poison));
        if rest.is_empty() {
            return self.remove_committed(std::slice::from_ref(&name));
        }
        let error = settlement
            .error
            .unwrap_or_else(|| "could not write to stuck/".into());
        self.failed_attempt(&name, header, rest, error);
    }

    /// Retry files whose messages are all durable (committed, or isolated in `stuck/`):
    /// removed, with one directory sync for all of them.
    fn remove_committed(&mut self, names: &[String]) {
        let dirs = self.settler.dirs.clone();
        for name in names {
            let path = dirs.retry.join(name);
            crate::failpoint!("retry.before_unlink", redirect path);
            if let Err(e) = fs::remove_file(&path) {
                tracing::error!("retry file {name} committed, but cannot remove it: {e}");
            }
            self.settler.telemetry.remove_file(FileKind::Retry, name);
        }
        if let Err(e) = sync_dir(&dirs.retry) {
            tracing::error!(
                "cannot sync {} after removing committed retry files: {e}",
                dirs.retry.display()
            );
        }
    }

    /// A failed attempt at `name`, whose messages `rest` are still not durable elsewhere:
    /// the header records it; the file is rewritten and rescheduled, or moved to `stuck/`
    /// when its attempts are used up.
    fn failed_attempt(&mut self, name: &str, mut header: RetryHeader, rest: Vec<Message>, error: String) {
        let dirs = self.settler.dirs.clone();
        let now = SystemTime::now();
        if header.attempts >= self.config().max_attempts {
            // Only an operator's requeue (a rename back from stuck/) leaves such a file in
            // retry/: it gets a fresh set of attempts.
            header.attempts = 0;
        }
        header.failed(&error, now);
        header.messages = rest.len() as u64;
        let t = self.settler.telemetry.clone();
        if header.attempts >= self.config().max_attempts {
            crate::failpoint!("stuck.before_move");
            let target = unused_name(&dirs.stuck, name);
            let moved = retry_file::move_to(&dirs.retry, name, &dirs.stuck, &target, &header, &rest);
            match moved {
                Ok(()) => {
                    // The new place first: a `find` meanwhile sees one or the other.
                    t.uids
                        .set(Place::Stuck, &target, rest.iter().map(|m| m.uid.as_str()));
                    t.remove_file(FileKind::Retry, name);
                    t.upsert_file(FileKind::Stuck, header.entry(&target, false));
                    self.stuck_names.insert(target.clone());
                    t.update_counters(|c| c.stuck += rest.len() as u64);
                    t.emit(EventKind::FileStuck {
                        file: target,
                        messages: rest.len() as u64,
                        error,
                    });
                }
                Err(e) => {
                    tracing::error!("cannot move {name} to stuck/: {e}");
                    self.schedule
                        .schedule(name, Instant::now() + self.config().retry_backoff_max);
                }
            }
            return;
        }
        let cfg = self.config();
        let wait = retry::backoff(header.attempts, cfg.retry_backoff_min, cfg.retry_backoff_max);
        header.next_attempt_ms = ms_since_epoch(now + wait);
        if let Err(e) = retry_file::write(&dirs.retry, name, &header, &rest) {
            // The old file is intact (the write is atomic): only its header is stale.
            tracing::error!("cannot rewrite retry file {name}: {e}");
        } else {
            t.uids
                .set(Place::Retry, name, rest.iter().map(|m| m.uid.as_str()));
        }
        self.schedule.schedule(name, Instant::now() + wait);
        t.upsert_file(FileKind::Retry, header.entry(name, true));
        t.emit(EventKind::BatchRetried {
            file: name.to_string(),
            messages: rest.len() as u64,
            attempts: header.attempts,
            error,
            next_attempt_in_s: wait.as_secs_f64(),
        });
    }
}
