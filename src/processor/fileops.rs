//! The file operations that the control surface and bulk actions share: resolving an
//! operator-given name inside its directory, reading a file for the operator, checking the
//! version the operator saw, and the durable moves between `retry/`, `stuck/` and
//! `discarded/` (one rename each, so a file is always in exactly one directory).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::api::wire::{FileDetail, FileKind, MessagePage, MAX_PAGE};
use crate::config::Limits;
use crate::processor::dirs::{resolve_regular_file, unused_name, ResolveError, StateDir};
use crate::processor::file_index::Discard;
use crate::processor::retry_file::{self, ms_since_epoch, ReadError, RetryHeader};
use crate::processor::telemetry::{rfc3339, summary, Telemetry};

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Not a bare file name (API: 400).
    #[error("{0}")]
    BadName(String),
    /// No such retry or stuck file (API: 404).
    #[error("{0}")]
    NotFound(String),
    /// The file changed since the client saw it (API: 409).
    #[error("{0}")]
    Stale(String),
    /// The processor is shutting down or the committer is gone (API: 503).
    #[error("{0}")]
    Unavailable(String),
    /// It was tried and failed (API: 500).
    #[error("{0}")]
    Failed(String),
}

/// Suffix of the file beside each discarded file that says why it was set aside.
pub const REASON_SUFFIX: &str = ".reason";

pub fn resolve(dir: &Path, name: &str) -> Result<Option<PathBuf>, ControlError> {
    resolve_regular_file(dir, name).map_err(|e| match e {
        ResolveError::BadName(b) => ControlError::BadName(b.to_string()),
        ResolveError::NotRegular(why) => ControlError::BadName(why),
        ResolveError::Io(e) => ControlError::Failed(e),
    })
}

pub fn read_error(name: &str, e: ReadError) -> ControlError {
    match e {
        ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ControlError::NotFound(format!("{name} is gone (committed or moved)"))
        }
        e => ControlError::Failed(format!("{name}: {e}")),
    }
}

pub fn check_attempts(name: &str, expected: Option<u32>, actual: u32) -> Result<(), ControlError> {
    match expected {
        Some(seen) if seen != actual => Err(ControlError::Stale(format!(
            "{name} changed since you saw it (attempts {seen}, now {actual}); look again and retry"
        ))),
        _ => Ok(()),
    }
}

/// Moves `from/name` into `to` under an unused name (`name`, else `name.1`, ...) by one
/// rename, and returns that name. The caller fsyncs both directories (once per many moves).
pub fn move_file(from: &Path, name: &str, to: &Path) -> std::io::Result<String> {
    let mut target = unused_name(to, name);
    if to.file_name().is_some_and(|d| d == "discarded") && target.ends_with(REASON_SUFFIX) {
        // `x.reason` would read as the reason of `x`.
        target = unused_name(to, &format!("{target}.file"));
    }
    crate::failpoint!("move.before_rename", io, to);
    fs::rename(from.join(name), to.join(&target))?;
    Ok(target)
}

/// What `discarded/NAME.reason` holds (JSON): when, by whom (never the token), why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscardReason {
    /// RFC 3339.
    pub discarded_at: String,
    pub discarded_at_ms: u64,
    /// The client: `api <peer address>`, or the embedding program.
    pub by: String,
    pub peer: Option<String>,
    /// A short hash of the control token that authorised it (never the token).
    pub token_id: Option<String>,
    /// `retry` or `stuck`: where it came from.
    pub from: String,
    pub name_before: String,
    pub cause_id: String,
    pub cause: String,
    pub last_error: String,
    pub messages: u64,
    pub note: Option<String>,
}

/// Writes the reason beside a file about to be discarded (not fsynced: the caller syncs
/// the file system once per many files before it reports them done).
pub fn write_reason(discarded: &Path, target: &str, reason: &DiscardReason) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(reason).map_err(std::io::Error::other)?;
    text.push(b'\n');
    fs::write(discarded.join(format!("{target}{REASON_SUFFIX}")), text)
}

pub fn read_reason(discarded: &Path, name: &str) -> Option<DiscardReason> {
    let text = fs::read(discarded.join(format!("{name}{REASON_SUFFIX}"))).ok()?;
    serde_json::from_slice(&text).ok()
}

/// What the index keeps of a reason: when, by whom (with the token id), the note.
pub fn discard_of(r: &DiscardReason, at: SystemTime) -> Discard {
    let by = match &r.token_id {
        Some(id) => format!("{} (token {id})", r.by),
        None => r.by.clone(),
    };
    Discard {
        at,
        by,
        note: r.note.clone(),
    }
}

/// A discarded file as found on disk: its reason's time, by whom and note; without a
/// readable reason (a file put there by hand), the file's mtime and "unknown".
pub fn discard_on_disk(discarded: &Path, name: &str) -> Discard {
    if let Some(r) = read_reason(discarded, name) {
        return discard_of(&r, retry_file::from_ms(r.discarded_at_ms));
    }
    let at = fs::symlink_metadata(discarded.join(name))
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now());
    Discard {
        at,
        by: "unknown (no readable .reason)".into(),
        note: None,
    }
}

pub fn new_reason(
    header: &RetryHeader,
    from: &str,
    name_before: &str,
    origin: &ActionOrigin,
    note: Option<&str>,
) -> DiscardReason {
    let now = SystemTime::now();
    let cause = crate::cause::normalise(&header.last_error);
    DiscardReason {
        discarded_at: rfc3339(now),
        discarded_at_ms: ms_since_epoch(now),
        by: origin.by.clone(),
        peer: origin.peer.clone(),
        token_id: origin.token_id.clone(),
        from: from.to_string(),
        name_before: name_before.to_string(),
        cause_id: crate::cause::cause_id(&cause),
        cause,
        last_error: header.last_error.clone(),
        messages: header.messages,
        note: note.map(str::to_string),
    }
}

/// Who asked for an action, as recorded in events and `.reason` files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionOrigin {
    pub by: String,
    pub peer: Option<String>,
    pub token_id: Option<String>,
}

/// Flushes every written file of the file system that holds `dir` (the reasons written
/// since the last call), then `dir` itself.
pub fn sync_file_system(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `f` keeps open for the call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    f.sync_all()
}

/// One retry or stuck file, read from disk, with a page of its messages.
pub fn file_detail(
    dirs: &StateDir,
    telemetry: &Telemetry,
    kind: FileKind,
    name: &str,
    offset: u64,
    limit: u64,
    limits: &Limits,
) -> Result<FileDetail, ControlError> {
    let dir = match kind {
        FileKind::Retry => &dirs.retry,
        FileKind::Stuck => &dirs.stuck,
        FileKind::Discarded => &dirs.discarded,
    };
    let Some(path) = resolve(dir, name)? else {
        return Err(ControlError::NotFound(format!(
            "no file {name:?} in {}",
            dir.display()
        )));
    };
    let decoded = retry_file::read(&path, limits).map_err(|e| match e {
        ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ControlError::NotFound(format!("{name:?} is gone (committed or moved)"))
        }
        e => ControlError::Failed(format!("{name:?}: {e}")),
    })?;
    // Lines that are not messages are left out here; the retry worker sets them aside.
    let (header, messages) = (decoded.header, decoded.messages);
    let mut entry = header.entry(name, kind == FileKind::Retry);
    if let Some(live) = telemetry.file(kind, name) {
        // The schedule in memory is fresher than the header (a requeue makes it due now).
        entry.next_attempt = live.next_attempt;
    }
    let limit = limit.min(MAX_PAGE);
    let total = messages.len() as u64;
    let items = messages
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(FileDetail {
        kind,
        summary: summary(&entry, SystemTime::now()),
        history: header.history,
        messages: MessagePage {
            total,
            offset,
            limit,
            items,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_never_overwrites_and_never_makes_a_reason_name() {
        let root = tempfile::tempdir().unwrap();
        let dirs = StateDir::at(root.path());
        dirs.create().unwrap();
        let discarded = root.path().join("discarded");
        fs::create_dir_all(&discarded).unwrap();
        fs::write(dirs.stuck.join("a"), b"new").unwrap();
        fs::write(discarded.join("a"), b"old").unwrap();
        assert_eq!(move_file(&dirs.stuck, "a", &discarded).unwrap(), "a.1");
        assert_eq!(fs::read(discarded.join("a")).unwrap(), b"old");
        assert!(!dirs.stuck.join("a").exists());
        fs::write(dirs.stuck.join("b.reason"), b"x").unwrap();
        assert_eq!(
            move_file(&dirs.stuck, "b.reason", &discarded).unwrap(),
            "b.reason.file"
        );
        assert!(move_file(&dirs.stuck, "gone", &discarded).is_err());
    }
}
