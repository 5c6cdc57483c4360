//! Bulk actions on an exact set of files (requeue, discard, restore, purge), run by the
//! committer in short slices between batches so that commits never wait long. Each file is
//! acted on only if it is still where the operator saw it, at the version they saw; the
//! rest is reported by reason. Moves are single renames (a file is always in exactly one
//! directory); the directories are fsynced at the end of each slice, before the files of
//! that slice are counted done.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use crate::api::wire::{BulkAction, BulkResult, BulkSource, EventKind, FileKind};
use crate::processor::dirs::{sync_dir, StateDir};
use crate::processor::exact_set::BulkOrder;
use crate::processor::file_index::version_of;
use crate::processor::fileops::{
    self, move_file, new_reason, write_reason, ActionOrigin, ControlError, REASON_SUFFIX,
};
use crate::processor::requeue::{adopt_requeued, make_due};
use crate::processor::retry::RetrySchedule;
use crate::processor::retry_file::{self, RetryHeader};
use crate::processor::telemetry::Telemetry;
use crate::processor::uid_index::Place;

/// Longest slice of a bulk action between two turns of the committer's loop.
pub const SLICE: Duration = Duration::from_millis(15);
/// Progress events at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// Free memory goes back to the system this often while an action runs (the files it
/// moves leave freed entries behind in one index as they are added to another).
const GIVE_BACK_EVERY: Duration = Duration::from_secs(2);
/// Names listed per skip reason in the summary event.
const NAMES_IN_SUMMARY: usize = 5;

pub type BulkReply = oneshot::Sender<Result<BulkResult, ControlError>>;

/// One action waiting or running.
pub struct BulkJob {
    pub request: BulkOrder,
    pub origin: ActionOrigin,
    pub reply: BulkReply,
    result: BulkResult,
    next: usize,
    last_progress: Instant,
    last_give_back: Instant,
}

/// The committer's state the actions change.
pub struct BulkContext<'a> {
    pub dirs: &'a StateDir,
    pub telemetry: &'a Telemetry,
    pub schedule: &'a mut RetrySchedule,
    pub stuck_names: &'a mut HashSet<String>,
}

/// Actions run one after another: two overlapping sets never move a file twice, because
/// the second finds it gone (or moved) when its turn comes.
#[derive(Default)]
pub struct BulkQueue {
    jobs: VecDeque<BulkJob>,
    next_id: u64,
}

enum Outcome {
    Done(u64),
    Changed,
    Vanished,
    AlreadyMoved,
    Failed(String),
}

impl BulkQueue {
    pub fn is_active(&self) -> bool {
        !self.jobs.is_empty()
    }

    pub fn push(&mut self, request: BulkOrder, origin: ActionOrigin, reply: BulkReply) {
        self.next_id += 1;
        let result = BulkResult {
            id: self.next_id,
            action: request.action.as_str().to_string(),
            total: request.set.len() as u64,
            ..BulkResult::default()
        };
        self.jobs.push_back(BulkJob {
            request,
            origin,
            reply,
            result,
            next: 0,
            last_progress: Instant::now(),
            last_give_back: Instant::now(),
        });
    }

    /// Works on the first action for at most `budget`; finishes it when its set is done.
    pub fn step(&mut self, ctx: &mut BulkContext, budget: Duration) {
        let Some(job) = self.jobs.front_mut() else { return };
        let started = Instant::now();
        let mut touched = false;
        while job.next < job.request.set.len() && started.elapsed() < budget {
            let entry = &job.request.set[job.next];
            job.next += 1;
            touched = true;
            let name = || entry.name.to_string();
            match act(ctx, &job.request, &job.origin, &entry.name, &entry.version) {
                Outcome::Done(messages) => {
                    job.result.done += 1;
                    job.result.messages += messages;
                }
                Outcome::Changed => job.result.changed.push(name()),
                Outcome::Vanished => job.result.vanished.push(name()),
                Outcome::AlreadyMoved => job.result.already_moved.push(name()),
                Outcome::Failed(why) => {
                    tracing::warn!("bulk {}: {why}", job.request.action.as_str());
                    job.result.failed.push(name());
                }
            }
        }
        if touched {
            sync_dirs(ctx.dirs, job.request.action, job.request.source);
        }
        let finished = job.next >= job.request.set.len();
        if !finished && job.last_give_back.elapsed() >= GIVE_BACK_EVERY {
            job.last_give_back = Instant::now();
            crate::processor::memory::give_back();
        }
        if finished || job.last_progress.elapsed() >= PROGRESS_EVERY {
            job.last_progress = Instant::now();
            ctx.telemetry.emit(EventKind::BulkProgress {
                id: job.result.id,
                action: job.request.action,
                done: job.result.done,
                total: job.result.total,
                skipped: job.result.skipped(),
            });
        }
        if finished {
            let job = self.jobs.pop_front().expect("the job just worked on");
            finish(ctx.telemetry, job, None);
        }
    }

    /// Shutdown: every action still queued is answered with what it did so far.
    pub fn abandon(&mut self, telemetry: &Telemetry) {
        while let Some(job) = self.jobs.pop_front() {
            finish(
                telemetry,
                job,
                Some("interrupted by shutdown; repeat it after the restart"),
            );
        }
    }
}

fn finish(telemetry: &Telemetry, mut job: BulkJob, interrupted: Option<&str>) {
    let r = &mut job.result;
    let mut outcome = format!(
        "{} {} of {} {} files ({} messages)",
        job.request.action.as_str(),
        r.done,
        r.total,
        job.request.source.as_str(),
        r.messages
    );
    for (label, names) in [
        ("changed since the preview", &r.changed),
        ("vanished", &r.vanished),
        ("already moved", &r.already_moved),
        ("failed", &r.failed),
    ] {
        if !names.is_empty() {
            let first: Vec<&str> = names.iter().take(NAMES_IN_SUMMARY).map(String::as_str).collect();
            let more = names.len().saturating_sub(NAMES_IN_SUMMARY);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            outcome.push_str(&format!(
                "; skipped {} {label}: {}{more}",
                names.len(),
                first.join(", ")
            ));
        }
    }
    if let Some(why) = interrupted {
        outcome.push_str(&format!("; {why}"));
    }
    r.outcome = outcome.clone();
    telemetry.emit(EventKind::OperatorAction {
        action: format!("bulk {}", job.request.action.as_str()),
        target: Some(format!("{} files in {}/", r.total, job.request.source.as_str())),
        origin: job.origin.by.clone(),
        outcome,
    });
    let _ = job.reply.send(Ok(job.result));
    drop(job.request);
    crate::processor::memory::give_back();
}

fn sync_dirs(dirs: &StateDir, action: BulkAction, source: BulkSource) {
    let from = source_dir(dirs, source);
    let to = match action {
        BulkAction::Requeue | BulkAction::Restore => Some(&dirs.retry),
        BulkAction::Discard => Some(&dirs.discarded),
        BulkAction::Purge => None,
    };
    let mut result = sync_dir(from);
    if let Some(to) = to {
        result = result.and_then(|()| {
            if action == BulkAction::Discard {
                fileops::sync_file_system(to) // the reasons written in this slice
            } else {
                sync_dir(to)
            }
        });
    }
    if let Err(e) = result {
        tracing::error!("bulk {}: cannot sync the directories: {e}", action.as_str());
    }
}

fn source_dir(dirs: &StateDir, source: BulkSource) -> &Path {
    match source {
        BulkSource::Retry => &dirs.retry,
        BulkSource::Stuck => &dirs.stuck,
        BulkSource::Discarded => &dirs.discarded,
    }
}

/// The header of `dir/name` and its version, `None` when it is not there.
fn version_in(dir: &Path, name: &str, retry: bool) -> Result<Option<(RetryHeader, String)>, String> {
    let path = match fileops::resolve(dir, name) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    match retry_file::read_header(&path) {
        Ok(h) => {
            let v = version_of(&h.entry(name, retry));
            Ok(Some((h, v)))
        }
        Err(retry_file::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// Where an action would have put the file: seen there at the same version means someone
/// else did it already.
fn moved_already(dirs: &StateDir, action: BulkAction, name: &str, version: &str) -> bool {
    let dest = match action {
        BulkAction::Requeue | BulkAction::Restore => &dirs.retry,
        BulkAction::Discard => &dirs.discarded,
        BulkAction::Purge => return false,
    };
    matches!(version_in(dest, name, true), Ok(Some((_, v))) if v == version)
}

fn act(ctx: &mut BulkContext, req: &BulkOrder, origin: &ActionOrigin, name: &str, version: &str) -> Outcome {
    let dirs = ctx.dirs;
    let from = source_dir(dirs, req.source);
    let (header, seen) = match version_in(from, name, req.source == BulkSource::Retry) {
        Ok(Some(x)) => x,
        Ok(None) if moved_already(dirs, req.action, name, version) => return Outcome::AlreadyMoved,
        Ok(None) => return Outcome::Vanished,
        Err(why) => return Outcome::Failed(why),
    };
    if seen != version {
        return Outcome::Changed;
    }
    let messages = header.messages;
    let t = ctx.telemetry;
    let failed = |e: std::io::Error| Outcome::Failed(format!("{name}: {e}"));
    match (req.action, req.source) {
        (BulkAction::Requeue, BulkSource::Retry) => make_due(t, ctx.schedule, name, &header),
        (BulkAction::Requeue, BulkSource::Stuck) => {
            crate::failpoint!("bulk.before_move");
            let target = match move_file(from, name, &dirs.retry) {
                Ok(t) => t,
                Err(e) => return failed(e),
            };
            adopt_requeued(t, ctx.schedule, ctx.stuck_names, name, &target, &header);
        }
        (BulkAction::Discard, BulkSource::Retry | BulkSource::Stuck) => {
            let target = crate::processor::dirs::unused_name(&dirs.discarded, name);
            let reason = new_reason(&header, req.source.as_str(), name, origin, req.note.as_deref());
            if let Err(e) = write_reason(&dirs.discarded, &target, &reason) {
                return failed(e);
            }
            crate::failpoint!("bulk.before_move");
            let target = match move_file(from, name, &dirs.discarded) {
                Ok(t) => t,
                Err(e) => return failed(e),
            };
            let from_place = if req.source == BulkSource::Retry {
                Place::Retry
            } else {
                Place::Stuck
            };
            t.uids.rename(from_place, name, Place::Discarded, &target);
            if req.source == BulkSource::Retry {
                ctx.schedule.remove(name);
                t.remove_file(FileKind::Retry, name);
            } else {
                ctx.stuck_names.remove(name);
                t.remove_file(FileKind::Stuck, name);
            }
            let how = fileops::discard_of(&reason, SystemTime::now());
            t.upsert_discarded(header.entry(&target, false), how);
        }
        (BulkAction::Restore, BulkSource::Discarded) => {
            let target = match move_file(from, name, &dirs.retry) {
                Ok(t) => t,
                Err(e) => return failed(e),
            };
            t.uids.rename(Place::Discarded, name, Place::Retry, &target);
            let _ = fs::remove_file(from.join(format!("{name}{REASON_SUFFIX}")));
            t.remove_discarded(name);
            make_due(t, ctx.schedule, &target, &header);
        }
        (BulkAction::Purge, BulkSource::Discarded) => {
            if let Err(e) = fs::remove_file(from.join(name)) {
                return failed(e);
            }
            let _ = fs::remove_file(from.join(format!("{name}{REASON_SUFFIX}")));
            t.remove_discarded(name);
        }
        (action, source) => {
            return Outcome::Failed(format!(
                "{} does not apply to {} files",
                action.as_str(),
                source.as_str()
            ))
        }
    }
    Outcome::Done(messages)
}

/// Checks that `action` applies to files of `source` (the API answers 400 otherwise).
pub fn check_applies(action: BulkAction, source: BulkSource) -> Result<(), String> {
    let ok = matches!(
        (action, source),
        (
            BulkAction::Requeue | BulkAction::Discard,
            BulkSource::Retry | BulkSource::Stuck
        ) | (BulkAction::Restore | BulkAction::Purge, BulkSource::Discarded)
    );
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} applies to {}, not to {} files",
            action.as_str(),
            match action {
                BulkAction::Requeue | BulkAction::Discard => "retry and stuck files",
                BulkAction::Restore | BulkAction::Purge => "discarded files",
            },
            source.as_str()
        ))
    }
}

/// `discarded/` as the processor loads it: every data file, with when it was discarded.
pub fn sync_discarded(dirs: &StateDir, telemetry: &Telemetry, known: &mut HashSet<String>) {
    let Ok(entries) = fs::read_dir(&dirs.discarded) else {
        return;
    };
    let mut present = crate::processor::retry::PresentNames::default();
    for e in entries.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.starts_with('.') || name.ends_with(REASON_SUFFIX) {
            continue;
        }
        present.insert(&name);
        if known.contains(&name) {
            continue;
        }
        if let Ok(Some(path)) = crate::processor::dirs::resolve_regular_file(&dirs.discarded, &name) {
            if let Ok(h) = retry_file::read_header(&path) {
                let how = fileops::discard_on_disk(&dirs.discarded, &name);
                telemetry.upsert_discarded(h.entry(&name, false), how);
                known.insert(name);
            }
        }
    }
    known.retain(|n| {
        let keep = present.contains(n);
        if !keep {
            telemetry.remove_discarded(n);
        }
        keep
    });
}
