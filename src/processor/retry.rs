//! Retry files: their format, backoff, bisect, and the move to `stuck/`.

use crate::api::wire::{FileDetail, FileKind};
use crate::processor::control::ControlError;
use crate::processor::dirs::StateDir;
use crate::processor::telemetry::Telemetry;

pub fn file_detail(
    dirs: &StateDir,
    telemetry: &Telemetry,
    kind: FileKind,
    name: &str,
    offset: u64,
    limit: u64,
) -> Result<FileDetail, ControlError> {
    let _ = (dirs, telemetry, kind, name, offset, limit);
    Err(ControlError::Failed("not yet".into()))
}
