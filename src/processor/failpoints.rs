//! Failpoints at the pipeline's boundaries, for the crash and fault tests (RELIABILITY.md).
//!
//! A point is one `crate::failpoint!` line. It is live only where the `fail` crate is built
//! with its `failpoints` feature: every `cargo test` build (through the dev-dependency) and
//! `--features failpoints`; anywhere else `fail::has_failpoints()` is a constant `false` and
//! the line compiles to nothing. A live point does nothing until `STATMGR_FAILPOINTS`
//! configures it at start, e.g. `STATMGR_FAILPOINTS='durable.before_fsync=return(eio@retry)'`.
//!
//! Actions use the `fail` crate's syntax (`return(ARG)`, `2*off->1*return(ARG)`, ...); `ARG` is
//! a fault, optionally limited to one context with `@CONTEXT` (the directory for file
//! points, `batch` or `reserve` for database points):
//! `abort` (the process dies at once, as with a power cut or `kill -9`), `eio`, `enospc`
//! (file points), `ioerr`, `full`, `busy`, `readonly` (database points), `eisdir` (unlink
//! points: the unlink is aimed at the directory, which the kernel refuses, so the real
//! error branch runs).

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The environment variable read at start.
pub const ENV: &str = "STATMGR_FAILPOINTS";

/// Configures the failpoints named in `STATMGR_FAILPOINTS` (`name=actions;name=actions`).
pub fn configure_from_env() -> Result<(), Error> {
    let Ok(spec) = std::env::var(ENV) else {
        return Ok(());
    };
    if !fail::has_failpoints() {
        tracing::warn!(
            "{ENV} is set, but this build has no failpoints (build with --features failpoints); ignored"
        );
        return Ok(());
    }
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("{ENV}: {entry:?} is not NAME=ACTIONS")))?;
        fail::cfg(name.trim(), actions.trim())
            .map_err(|e| Error::Config(format!("{ENV}: failpoint {name:?}: {e}")))?;
        tracing::warn!("failpoint {name} armed: {actions}");
    }
    Ok(())
}

/// The fault named by `arg` if it applies in `context` (`kind@context`, or just `kind`).
fn fault<'a>(name: &str, arg: Option<&'a str>, context: &Path) -> Option<&'a str> {
    let arg = arg.unwrap_or("abort");
    let (kind, only) = match arg.split_once('@') {
        Some((kind, only)) => (kind, Some(only)),
        None => (arg, None),
    };
    if only.is_some_and(|only| context.file_name().is_none_or(|c| c != only)) {
        return None;
    }
    if kind == "abort" {
        tracing::error!("failpoint {name} fired: aborting the process");
        std::process::abort();
    }
    tracing::warn!("failpoint {name} fired: {kind}");
    Some(kind)
}

/// An I/O error for a file point.
pub fn io(name: &str, arg: Option<&str>, context: impl AsRef<Path>) -> Option<std::io::Error> {
    let kind = fault(name, arg, context.as_ref())?;
    let errno = match kind {
        "enospc" => libc::ENOSPC,
        _ => libc::EIO,
    };
    Some(std::io::Error::from_raw_os_error(errno))
}

/// A SQLite error for a database point, as SQLite itself reports it.
pub fn sql(name: &str, arg: Option<&str>, context: impl AsRef<Path>) -> Option<rusqlite::Error> {
    use rusqlite::ffi;
    let kind = fault(name, arg, context.as_ref())?;
    let code = match kind {
        "full" => ffi::SQLITE_FULL,
        "busy" => ffi::SQLITE_BUSY,
        "readonly" => ffi::SQLITE_READONLY,
        _ => ffi::SQLITE_IOERR_WRITE,
    };
    Some(rusqlite::Error::SqliteFailure(
        ffi::Error::new(code),
        Some(format!("injected by failpoint {name}")),
    ))
}

/// A point with no error path of its own: it can only abort.
pub fn abort_only(name: &str, arg: Option<&str>) {
    let _ = fault(name, arg, Path::new(""));
}

/// An unlink point: `eisdir` aims the unlink at the file's directory.
pub fn redirect(name: &str, arg: Option<&str>, path: PathBuf) -> PathBuf {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    match fault(name, arg, &dir) {
        Some("eisdir") => dir,
        _ => path,
    }
}

/// One failpoint (see the module documentation). Forms:
/// `failpoint!("name")` (abort only), `failpoint!("name", io|sql, context)` in a function
/// returning `Result<_, E>` with `E: From<io::Error>` or `From<rusqlite::Error>`, and
/// `failpoint!("name", redirect path)` before an unlink of `path`.
#[macro_export]
macro_rules! failpoint {
    ($name:literal) => {
        if ::fail::has_failpoints() {
            ::fail::eval($name, |arg| {
                $crate::processor::failpoints::abort_only($name, arg.as_deref())
            });
        }
    };
    ($name:literal, redirect $path:ident) => {
        let $path = match ::fail::has_failpoints()
            .then(|| ::fail::eval($name, |arg| arg))
            .flatten()
        {
            Some(arg) => $crate::processor::failpoints::redirect($name, arg.as_deref(), $path),
            None => $path,
        };
    };
    ($name:literal, $kind:ident, $context:expr) => {
        if ::fail::has_failpoints() {
            let fired = ::fail::eval($name, |arg| {
                $crate::processor::failpoints::$kind($name, arg.as_deref(), $context)
            });
            if let Some(Some(err)) = fired {
                return Err(err.into());
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_filter_limits_the_fault_to_its_directory() {
        let retry = Path::new("/x/retry");
        assert_eq!(fault("p", Some("eio@retry"), retry), Some("eio"));
        assert_eq!(fault("p", Some("eio@stuck"), retry), None);
        assert_eq!(fault("p", Some("enospc"), retry), Some("enospc"));
        let e = io("p", Some("enospc"), retry).unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        let e = sql("p", Some("full"), "batch").unwrap();
        assert_eq!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull));
        assert_eq!(
            redirect("p", Some("eisdir"), PathBuf::from("/x/inbox/a.json")),
            PathBuf::from("/x/inbox")
        );
        assert_eq!(
            redirect("p", Some("eisdir@retry"), PathBuf::from("/x/inbox/a.json")),
            PathBuf::from("/x/inbox/a.json")
        );
    }
}
