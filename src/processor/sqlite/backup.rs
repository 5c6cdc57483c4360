//! `statmgr backup`: a consistent copy of the SQLite database taken while a processor
//! commits, through SQLite's online backup API, checked with `integrity_check`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// Pages copied per backup step (4 KiB pages: about 1 MiB).
const PAGES_PER_STEP: i32 = 256;
/// Pause between steps, so the copy leaves the disk to the committer now and then.
const STEP_PAUSE: Duration = Duration::from_millis(1);

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists; give --force to overwrite it")]
    Exists(PathBuf),
    #[error("no database at {0} (is this the right --root?)")]
    NoDatabase(PathBuf),
    #[error("cannot read the database {path}: {message}")]
    Source { path: PathBuf, message: String },
    #[error("cannot write the copy {path}: {message}")]
    Destination { path: PathBuf, message: String },
    #[error("the copy {path} fails PRAGMA integrity_check: {report}; it was not kept")]
    Corrupt { path: PathBuf, report: String },
}

/// What one backup did.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub pages: i32,
    pub bytes: u64,
    pub steps: u32,
    pub duration: Duration,
}

/// Copies the database at `source` to `dest`, which must not exist unless `force`.
///
/// The copy is of one instant: a read transaction on the source is held from the first
/// step to the last, so every step reads the same snapshot (in WAL mode readers never block
/// the committer, which keeps appending to the WAL meanwhile; without that transaction each
/// commit would restart the backup, and under steady load it would never finish). The copy
/// is written to a temporary file beside `dest`, switched to a single-file journal mode,
/// checked with `integrity_check`, fsynced and only then renamed to `dest`.
pub fn backup(
    source: &Path,
    dest: &Path,
    force: bool,
    busy_timeout: Duration,
) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    if !force && dest.exists() {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.to_path_buf()));
    }
    let src_err = |err: rusqlite::Error| BackupError::Source {
        path: source.to_path_buf(),
        message: err.to_string(),
    };
    let dest_err = |message: String| BackupError::Destination {
        path: dest.to_path_buf(),
        message,
    };
    // Read-write flags so the WAL index can be opened; query_only so it never writes.
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(src_err)?;
    src.busy_timeout(busy_timeout).map_err(src_err)?;
    src.pragma_update(None, "query_only", true).map_err(src_err)?;

    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".statmgr-backup-")
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|err| {
            dest_err(format!(
                "cannot create a temporary file in {}: {err}",
                dir.display()
            ))
        })?;
    let mut dst = Connection::open(temp.path()).map_err(|err| dest_err(err.to_string()))?;

    // Pin one snapshot of the source for the whole copy.
    src.execute_batch("BEGIN").map_err(src_err)?;
    let pinned: rusqlite::Result<i64> = src.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0));
    pinned.map_err(src_err)?;
    let (pages, steps) = copy_pages(&src, &mut dst).map_err(src_err)?;
    src.execute_batch("COMMIT").map_err(src_err)?;
    drop(src);

    let check = |err: rusqlite::Error| dest_err(err.to_string());
    // A backup is one self-contained file: no -wal beside it to lose when it is copied.
    let _: String = dst
        .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
        .map_err(check)?;
    let report: String = dst
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(check)?;
    drop(dst);
    if report != "ok" {
        return Err(BackupError::Corrupt {
            path: dest.to_path_buf(),
            report,
        });
    }
    temp.as_file()
        .sync_all()
        .map_err(|err| dest_err(format!("fsync: {err}")))?;
    let bytes = temp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    if force {
        temp.persist(dest)
            .map_err(|err| dest_err(err.error.to_string()))?;
    } else {
        // Never replaces a file created meanwhile.
        temp.persist_noclobber(dest)
            .map_err(|err| match err.error.kind() {
                std::io::ErrorKind::AlreadyExists => BackupError::Exists(dest.to_path_buf()),
                _ => dest_err(err.error.to_string()),
            })?;
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(BackupReport {
        pages,
        bytes,
        steps,
        duration: started.elapsed(),
    })
}

/// Steps the backup to its end; returns the pages copied and the steps taken.
fn copy_pages(src: &Connection, dst: &mut Connection) -> rusqlite::Result<(i32, u32)> {
    let backup = Backup::new(src, dst)?;
    let mut steps = 0u32;
    loop {
        steps += 1;
        match backup.step(PAGES_PER_STEP)? {
            StepResult::Done => break,
            StepResult::More => std::thread::sleep(STEP_PAUSE),
            // Only the copy's own file could be locked (it is ours alone): wait a little.
            StepResult::Busy | StepResult::Locked => std::thread::sleep(Duration::from_millis(10)),
            _ => std::thread::sleep(STEP_PAUSE),
        }
    }
    Ok((backup.progress().pagecount, steps))
}
