//! Unlinking inbox files whose messages are durable, and freeing those messages, off the
//! committer thread. An unlink can wait on the disk (ext4 mounted with `discard` trims a
//! file's blocks before unlink returns: 0.06 to 1.5 ms per small file on the benchmark
//! machine), and the committer should be committing the next batch meanwhile. Several
//! workers let those waits overlap. A file stays in flight in the index until it is gone,
//! so intake never reads it a second time; one whose unlink fails is recorded in
//! `settled/`, so that after a restart it is not read a second time either.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use crate::message::{escape_text, Message};
use crate::processor::inbox::InboxIndex;
use crate::processor::settled::SettledRecords;

/// Unlink threads. The waits overlap outside the directory's lock (the inode is freed
/// after it is released): on the benchmark machine 1, 2, 4 and 8 threads unlinked about
/// 9,000, 22,000, 36,000 and 51,000 small files/s. Idle workers cost nothing.
const WORKERS: usize = 4;

/// Batches of committed messages waiting to be freed; beyond this the committer frees
/// them itself, so memory stays bounded whatever the disk does.
const FREE_QUEUE: usize = 4;

pub struct Unlinker {
    inbox: PathBuf,
    index: InboxIndex,
    to_workers: Option<Sender<Work>>,
    workers: Vec<JoinHandle<()>>,
    /// Files whose unlink failed: still in flight (never read again), tried again later.
    failed: Arc<Mutex<Vec<Failed>>>,
    records: SettledRecords,
    last_retry: std::time::Instant,
    /// Freeing committed messages is a tenth of the committer's time on a backlog of
    /// JSON Lines files; a thread of its own does it instead.
    to_freer: Option<Sender<Vec<Vec<Message>>>>,
}

/// How often failed unlinks are tried again.
const RETRY_UNLINK_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// An inbox file whose unlink failed, and whether its record in `settled/` is durable.
#[derive(Debug, Clone)]
struct Failed {
    name: String,
    recorded: bool,
}

/// One batch of work for an unlink worker: first attempts, or failed ones again.
enum Work {
    First(Vec<String>),
    Again(Vec<Failed>),
}

impl Unlinker {
    /// Starts the workers, after settling the records left in `settled/` by an earlier run
    /// (so it must run before intake reads the inbox).
    pub fn start(inbox: PathBuf, index: InboxIndex, records: SettledRecords) -> Unlinker {
        let (tx, rx) = crossbeam_channel::unbounded::<Work>();
        let still_there: Vec<Failed> = records
            .settle_at_start()
            .into_iter()
            .map(|name| {
                index.mark_in_flight(&name, 0);
                Failed { name, recorded: true }
            })
            .collect();
        let failed = Arc::new(Mutex::new(still_there));
        let mut workers = Vec::new();
        for i in 0..WORKERS {
            let (rx, inbox, index, failed, records) = (
                rx.clone(),
                inbox.clone(),
                index.clone(),
                failed.clone(),
                records.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name(format!("unlink-{i}"))
                .spawn(move || {
                    for work in rx {
                        unlink_all(&inbox, &index, work, &failed, &records);
                    }
                });
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => tracing::warn!("cannot start an unlink thread ({e}); fewer unlinks overlap"),
            }
        }
        let unlinkers = workers.len();
        let (free_tx, free_rx) = crossbeam_channel::bounded::<Vec<Vec<Message>>>(FREE_QUEUE);
        let freer = std::thread::Builder::new()
            .name("free".into())
            .spawn(move || free_rx.into_iter().for_each(drop));
        let to_freer = match freer {
            Ok(handle) => {
                workers.push(handle);
                Some(free_tx)
            }
            Err(e) => {
                tracing::warn!("cannot start the thread that frees committed messages ({e})");
                None
            }
        };
        Unlinker {
            to_freer,
            to_workers: (unlinkers > 0).then_some(tx),
            inbox,
            index,
            workers,
            failed,
            records,
            last_retry: std::time::Instant::now(),
        }
    }

    /// Unlinks these inbox files (whose messages are durable) and forgets them in the
    /// index: soon, on the workers, or here if there are none.
    pub fn unlink(&self, mut names: Vec<String>) {
        let share = names.len().div_ceil(WORKERS).max(1);
        while !names.is_empty() {
            let rest = names.split_off(share.min(names.len()));
            self.send(Work::First(names));
            names = rest;
        }
    }

    fn send(&self, work: Work) {
        let back = match &self.to_workers {
            Some(tx) => match tx.send(work) {
                Ok(()) => return,
                Err(back) => back.0, // every worker is gone (a panic)
            },
            None => work,
        };
        // Do it here rather than leave files.
        unlink_all(&self.inbox, &self.index, back, &self.failed, &self.records);
    }

    /// Hands the files whose unlink failed to the workers again (at most every few
    /// seconds, so a lasting failure is not a busy loop nor a flood of log lines).
    pub fn retry_failed(&mut self) {
        if self.last_retry.elapsed() < RETRY_UNLINK_EVERY {
            return;
        }
        self.last_retry = std::time::Instant::now();
        let failed = std::mem::take(&mut *self.failed.lock().unwrap_or_else(|e| e.into_inner()));
        if !failed.is_empty() {
            self.send(Work::Again(failed));
        }
    }

    /// Frees these messages on the freeing thread, or here if it is behind or gone.
    pub fn free(&self, messages: Vec<Vec<Message>>) {
        if let Some(tx) = &self.to_freer {
            if !messages.is_empty() {
                let _ = tx.try_send(messages);
            }
        }
    }

    /// Waits until every file handed over is unlinked.
    pub fn finish(&mut self) {
        self.to_workers = None;
        self.to_freer = None;
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                tracing::error!("an unlink thread panicked");
            }
        }
    }
}

impl Drop for Unlinker {
    fn drop(&mut self) {
        self.finish();
    }
}

fn unlink_all(
    inbox: &Path,
    index: &InboxIndex,
    work: Work,
    failed: &Mutex<Vec<Failed>>,
    records: &SettledRecords,
) {
    let files: Vec<Failed> = match work {
        Work::First(names) => names
            .into_iter()
            .map(|name| Failed {
                name,
                recorded: false,
            })
            .collect(),
        Work::Again(failed) => failed,
    };
    for mut file in files {
        let name = &file.name;
        let path = inbox.join(name);
        crate::failpoint!("inbox.before_unlink", redirect path);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                // Its messages are durable: it stays in flight (intake never reads it
                // again), a record in settled/ keeps a restart from reading it again,
                // and only the unlink is tried again.
                tracing::warn!(file = %escape_text(name), "committed, but cannot unlink: {e}; will try again");
                if !file.recorded {
                    match records.record(name) {
                        Ok(()) => file.recorded = true,
                        Err(e) => tracing::error!(file = %escape_text(name),
                            "cannot record it in settled/ ({e}): a restart before its unlink succeeds reads it again"),
                    }
                }
                failed.lock().unwrap_or_else(|e| e.into_inner()).push(file);
                continue;
            }
        }
        if file.recorded {
            records.forget(name);
        }
        index.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Instant, SystemTime};

    #[test]
    fn every_file_handed_over_is_gone_and_forgotten_after_finish() {
        let dir = tempfile::tempdir().unwrap();
        let index = InboxIndex::default();
        let names: Vec<String> = (0..25).map(|i| format!("f{i}.json")).collect();
        for n in &names {
            fs::write(dir.path().join(n), b"{}").unwrap();
            index.observe(n, 2, SystemTime::now(), Instant::now());
            index.mark_in_flight(n, 1);
        }
        let settled = tempfile::tempdir().unwrap();
        let records = SettledRecords::new(settled.path().to_path_buf(), dir.path().to_path_buf());
        let mut unlinker = Unlinker::start(dir.path().to_path_buf(), index.clone(), records);
        unlinker.unlink(names[..10].to_vec());
        unlinker.unlink(names[10..].to_vec());
        unlinker.unlink(vec!["never-there.json".into()]);
        unlinker.finish();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert_eq!(index.stats().0, 0, "forgotten in the index");
        assert_eq!(index.stats().3, 0, "no longer in flight");
    }
}
