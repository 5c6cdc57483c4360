//! The operator's requeue of one file: a stuck file goes back to `retry/` (one rename),
//! due now; a retry file becomes due now. The version the operator saw (the attempt count)
//! must still hold. A file in `retry/` whose attempts reached the maximum came back from
//! `stuck/` this way: its next failure starts a fresh set of attempts (see the committer).

use std::collections::HashSet;
use std::time::{Instant, SystemTime};

use crate::api::wire::FileKind;
use crate::processor::dirs::sync_dir;
use crate::processor::fileops::{check_attempts, move_file, read_error, resolve, ControlError};
use crate::processor::retry::RetrySchedule;
use crate::processor::retry_file;
use crate::processor::telemetry::Telemetry;
use crate::processor::uid_index::Place;
use crate::processor::StateDir;

pub fn requeue(
    dirs: &StateDir,
    telemetry: &Telemetry,
    schedule: &mut RetrySchedule,
    stuck_names: &mut HashSet<String>,
    name: &str,
    expected: Option<u32>,
) -> Result<String, ControlError> {
    if let Some(path) = resolve(&dirs.stuck, name)? {
        let header = retry_file::read_header(&path).map_err(|e| read_error(name, e))?;
        check_attempts(name, expected, header.attempts)?;
        let target = move_file(&dirs.stuck, name, &dirs.retry)
            .and_then(|t| sync_dir(&dirs.retry).map(|()| t))
            .and_then(|t| sync_dir(&dirs.stuck).map(|()| t))
            .map_err(|e| ControlError::Failed(format!("cannot move {name} from stuck/ to retry/: {e}")))?;
        adopt_requeued(telemetry, schedule, stuck_names, name, &target, &header);
        return Ok(format!(
            "moved {name} ({} messages) from stuck/ to retry/{target}, due now",
            header.messages
        ));
    }
    if let Some(path) = resolve(&dirs.retry, name)? {
        let header = retry_file::read_header(&path).map_err(|e| read_error(name, e))?;
        check_attempts(name, expected, header.attempts)?;
        make_due(telemetry, schedule, name, &header);
        return Ok(format!(
            "retry file {name} ({} messages) is due now",
            header.messages
        ));
    }
    Err(ControlError::NotFound(format!(
        "no file {name:?} in retry/ or stuck/"
    )))
}

/// The committer's view after `stuck/name` was renamed to `retry/target`.
pub fn adopt_requeued(
    telemetry: &Telemetry,
    schedule: &mut RetrySchedule,
    stuck_names: &mut HashSet<String>,
    name: &str,
    target: &str,
    header: &retry_file::RetryHeader,
) {
    telemetry.uids.rename(Place::Stuck, name, Place::Retry, target);
    stuck_names.remove(name);
    telemetry.remove_file(FileKind::Stuck, name);
    make_due(telemetry, schedule, target, header);
}

/// A retry file due now.
pub fn make_due(
    telemetry: &Telemetry,
    schedule: &mut RetrySchedule,
    name: &str,
    header: &retry_file::RetryHeader,
) {
    schedule.schedule(name, Instant::now());
    let mut entry = header.entry(name, true);
    entry.next_attempt = Some(SystemTime::now());
    telemetry.upsert_file(FileKind::Retry, entry);
}
