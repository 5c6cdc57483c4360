//! The operator's requeue: a stuck file goes back to `retry/`, due now; a retry file
//! becomes due now. The version the operator saw (the attempt count) must still hold.

use std::collections::HashSet;
use std::time::Instant;

use crate::api::wire::FileKind;
use crate::processor::control::ControlError;
use crate::processor::dirs::{resolve_regular_file, unused_name, ResolveError};
use crate::processor::retry::RetrySchedule;
use crate::processor::retry_file::{self, ReadError};
use crate::processor::telemetry::Telemetry;
use crate::processor::StateDir;

fn resolve(dir: &std::path::Path, name: &str) -> Result<Option<std::path::PathBuf>, ControlError> {
    resolve_regular_file(dir, name).map_err(|e| match e {
        ResolveError::BadName(b) => ControlError::BadName(b.to_string()),
        ResolveError::NotRegular(why) => ControlError::BadName(why),
        ResolveError::Io(e) => ControlError::Failed(e),
    })
}

fn check_version(name: &str, expected: Option<u32>, actual: u32) -> Result<(), ControlError> {
    match expected {
        Some(seen) if seen != actual => Err(ControlError::Stale(format!(
            "{name} changed since you saw it (attempts {seen}, now {actual}); look again and retry"
        ))),
        _ => Ok(()),
    }
}

fn read_error(name: &str, e: ReadError) -> ControlError {
    match e {
        ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ControlError::NotFound(format!("{name} is gone (committed or moved)"))
        }
        e => ControlError::Failed(format!("{name}: {e}")),
    }
}

pub fn requeue(
    dirs: &StateDir,
    telemetry: &Telemetry,
    schedule: &mut RetrySchedule,
    stuck_names: &mut HashSet<String>,
    name: &str,
    expected: Option<u32>,
) -> Result<String, ControlError> {
    if let Some(path) = resolve(&dirs.stuck, name)? {
        let mut header = retry_file::read_header(&path).map_err(|e| read_error(name, e))?;
        check_version(name, expected, header.attempts)?;
        // A fresh set of attempts; the history stays so the operator sees what happened.
        header.attempts = 0;
        header.next_attempt_ms = 0;
        let target = unused_name(&dirs.retry, name);
        // One rename, its lines as they are: the retry worker reads them with the inbox's
        // limits and sets aside any bad line.
        retry_file::move_with_header(&dirs.stuck, name, &dirs.retry, &target, &header)
            .map_err(|e| ControlError::Failed(format!("cannot move stuck/{name} to retry/{target}: {e}")))?;
        stuck_names.remove(name);
        telemetry.remove_file(FileKind::Stuck, name);
        let mut entry = header.entry(&target, true);
        entry.next_attempt = Some(std::time::SystemTime::now());
        telemetry.upsert_file(FileKind::Retry, entry);
        schedule.schedule(&target, Instant::now());
        return Ok(format!(
            "moved {name} ({} messages) from stuck/ to retry/{target}, due now",
            header.messages
        ));
    }
    if let Some(path) = resolve(&dirs.retry, name)? {
        let header = retry_file::read_header(&path).map_err(|e| read_error(name, e))?;
        check_version(name, expected, header.attempts)?;
        schedule.schedule(name, Instant::now());
        let mut entry = header.entry(name, true);
        entry.next_attempt = Some(std::time::SystemTime::now());
        telemetry.upsert_file(FileKind::Retry, entry);
        return Ok(format!(
            "retry file {name} ({} messages) is due now",
            header.messages
        ));
    }
    Err(ControlError::NotFound(format!(
        "no file {name:?} in retry/ or stuck/"
    )))
}
