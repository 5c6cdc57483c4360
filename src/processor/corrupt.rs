//! `corrupt/`: files that cannot be processed, and the bad lines of a file (all of one
//! file's in one entry), each with a `.reason` file beside it. Never deleted automatically.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use crate::api::wire::EventKind;
use crate::message::{escape_text, RejectedLine};
use crate::processor::dirs::{sync_dir, unused_name, write_durably};
use crate::processor::telemetry::Telemetry;
use crate::processor::StateDir;

/// The text of a `.reason` file.
fn reason_text(origin: &Path, reason: &str) -> String {
    format!(
        "file: {}\nreason: {}\ntime: {}\n",
        escape_text(&origin.display().to_string()),
        escape_text(reason),
        crate::processor::telemetry::rfc3339(std::time::SystemTime::now())
    )
}

fn report(telemetry: &Telemetry, file: &str, reason: &str) {
    tracing::warn!(file = %escape_text(file), reason = %escape_text(reason), "moved to corrupt/");
    telemetry.update_counters(|c| c.corrupt += 1);
    telemetry.emit(EventKind::FileCorrupt {
        file: file.to_string(),
        reason: reason.to_string(),
    });
}

/// Moves `path` (named `name`) into `corrupt/` with its reason, durably. On failure the
/// file stays where it was (nothing is lost) and the error is logged.
pub fn quarantine(dirs: &StateDir, telemetry: &Telemetry, path: &Path, name: &str, reason: &str) -> bool {
    quarantine_with(dirs, telemetry, path, name, &reason_text(path, reason), reason)
}

/// [`quarantine`] for a file none of whose lines is a valid message: the reason lists them.
pub fn quarantine_lines(
    dirs: &StateDir,
    telemetry: &Telemetry,
    path: &Path,
    name: &str,
    rejected: &[RejectedLine],
) -> bool {
    let reason = lines_reason(rejected, " and the file holds no valid message");
    let summary = format!(
        "no valid message: {} lines are not valid messages; the first: {}",
        rejected.len(),
        rejected.first().map(|r| r.reason.as_str()).unwrap_or("")
    );
    quarantine_with(
        dirs,
        telemetry,
        path,
        name,
        &lines_reason_text(path, &reason),
        &summary,
    )
}

fn quarantine_with(
    dirs: &StateDir,
    telemetry: &Telemetry,
    path: &Path,
    name: &str,
    reason_file: &str,
    summary: &str,
) -> bool {
    let target = unused_name(&dirs.corrupt, name);
    let result = (|| {
        write_durably(&dirs.corrupt, &format!("{target}.reason"), reason_file.as_bytes())?;
        crate::failpoint!("corrupt.before_rename", io, &dirs.corrupt);
        fs::rename(path, dirs.corrupt.join(&target))?;
        sync_dir(&dirs.corrupt)?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        Ok::<(), std::io::Error>(())
    })();
    match result {
        Ok(()) => {
            report(telemetry, name, summary);
            true
        }
        Err(e) => {
            tracing::error!(file = %escape_text(name), "cannot move to corrupt/: {e}; it stays where it is");
            false
        }
    }
}

/// A file whose name is not UTF-8: moved under a readable name.
pub fn quarantine_foreign(dirs: &StateDir, telemetry: &Telemetry, dir: &Path, raw: &OsStr, why: &str) {
    let readable = format!(
        "non-utf8-{}",
        escape_text(&raw.to_string_lossy()).replace('/', "_")
    );
    quarantine(dirs, telemetry, &dir.join(raw), &readable, why);
}

/// How many bad lines a `.reason` lists one by one; the rest are counted.
pub const LISTED_LINES: usize = 20;

/// The `reason:` of a file's bad lines: how many, the first [`LISTED_LINES`] with their
/// line numbers and why (one per line, each escaped), and what became of the rest.
pub fn lines_reason(rejected: &[RejectedLine], rest: &str) -> String {
    let mut out = format!(
        "{} lines are not valid messages{rest}; the first {}:",
        rejected.len(),
        rejected.len().min(LISTED_LINES)
    );
    for bad in rejected.iter().take(LISTED_LINES) {
        let mut why = escape_text(&bad.reason);
        if why.len() > 300 {
            let cut = (0..=300).rev().find(|&i| why.is_char_boundary(i)).unwrap_or(0);
            why.truncate(cut);
            why.push_str("...");
        }
        out.push_str(&format!("\n  line {}: {why}", bad.line));
    }
    if rejected.len() > LISTED_LINES {
        out.push_str(&format!("\n  ... and {} more", rejected.len() - LISTED_LINES));
    }
    out
}

/// Writes the bad lines of one file (inbox JSON Lines, retry or stuck file) as ONE
/// `corrupt/` entry, `<file>.bad-lines`: the lines as they were, in their order, with a
/// `.reason` listing them (see [`lines_reason`]). Idempotent: a re-read of the same file
/// after a crash does not write it twice.
pub fn write_lines(
    dirs: &StateDir,
    telemetry: &Telemetry,
    file: &str,
    origin: &Path,
    rejected: &[RejectedLine],
    good: usize,
) -> std::io::Result<()> {
    let base = format!("{file}.bad-lines");
    let mut text = Vec::with_capacity(rejected.iter().map(|r| r.text.len() + 1).sum());
    for bad in rejected {
        text.extend_from_slice(&bad.text);
        text.push(b'\n');
    }
    if fs::read(dirs.corrupt.join(&base))
        .map(|old| old == text)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let name = unused_name(&dirs.corrupt, &base);
    let rest = format!(" (kept here in their order; the other {good} messages of the file went on)");
    let reason = lines_reason(rejected, &rest);
    let summary = format!(
        "{} lines are not valid messages; the first: {}",
        rejected.len(),
        rejected.first().map(|r| r.reason.as_str()).unwrap_or("")
    );
    write_durably(
        &dirs.corrupt,
        &format!("{name}.reason"),
        lines_reason_text(origin, &reason).as_bytes(),
    )?;
    write_durably(&dirs.corrupt, &name, &text)?;
    report(telemetry, &name, &summary);
    Ok(())
}

/// The bad lines of a retry or stuck file, before its messages go on: one `corrupt/` entry,
/// or the whole file when it holds no valid message. `Ok(true)`: its `good` messages go on;
/// `Ok(false)`: the whole file went to `corrupt/`; `Err`: the lines could not be made
/// durable, and the file must stay whole where it is.
pub fn set_aside(
    dirs: &StateDir,
    telemetry: &Telemetry,
    name: &str,
    path: &Path,
    good: usize,
    rejected: &[RejectedLine],
) -> std::io::Result<bool> {
    if rejected.is_empty() {
        return Ok(true);
    }
    if good == 0 {
        quarantine_lines(dirs, telemetry, path, name, rejected);
        return Ok(false);
    }
    write_lines(dirs, telemetry, name, path, rejected, good).map(|()| true)
}

/// A `.reason` whose reason spans several lines (each escaped on its own).
fn lines_reason_text(origin: &Path, reason: &str) -> String {
    format!(
        "file: {}\nreason: {}\ntime: {}\n",
        escape_text(&origin.display().to_string()),
        reason,
        crate::processor::telemetry::rfc3339(std::time::SystemTime::now())
    )
}
