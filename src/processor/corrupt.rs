//! `corrupt/`: files (or single JSON Lines lines) that cannot be processed, each with a
//! `.reason` file beside it. Never deleted automatically.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use crate::api::wire::EventKind;
use crate::message::escape_text;
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
    let target = unused_name(&dirs.corrupt, name);
    let result = (|| {
        write_durably(
            &dirs.corrupt,
            &format!("{target}.reason"),
            reason_text(path, reason).as_bytes(),
        )?;
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
            report(telemetry, name, reason);
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

/// Writes one rejected JSON Lines line to `corrupt/<file>.line<N>` with its reason.
/// Idempotent: a re-read of the same file after a crash does not write it twice.
pub fn write_line(
    dirs: &StateDir,
    telemetry: &Telemetry,
    file: &str,
    origin: &Path,
    line: usize,
    text: &[u8],
    reason: &str,
) -> std::io::Result<()> {
    let base = format!("{file}.line{line}");
    if fs::read(dirs.corrupt.join(&base))
        .map(|old| old == text)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let name = unused_name(&dirs.corrupt, &base);
    let reason = format!("line {line}: {reason}");
    write_durably(
        &dirs.corrupt,
        &format!("{name}.reason"),
        reason_text(origin, &reason).as_bytes(),
    )?;
    write_durably(&dirs.corrupt, &name, text)?;
    report(telemetry, &name, &reason);
    Ok(())
}
