//! The state directory: its layout, the lock that makes one processor its only owner,
//! durable file operations, and the validation of operator-given file names.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Paths of one state directory (see DESIGN.md, "The state directory").
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
    pub inbox: PathBuf,
    pub retry: PathBuf,
    pub stuck: PathBuf,
    pub corrupt: PathBuf,
    /// Files an operator set aside (moved, never deleted), each with a `.reason`.
    pub discarded: PathBuf,
    /// Records of inbox files made durable whose unlink failed (see `settled.rs`).
    pub settled: PathBuf,
    pub control: PathBuf,
    pub db: PathBuf,
}

impl StateDir {
    pub fn at(root: &Path) -> StateDir {
        StateDir {
            root: root.to_path_buf(),
            inbox: root.join("inbox"),
            retry: root.join("retry"),
            stuck: root.join("stuck"),
            corrupt: root.join("corrupt"),
            discarded: root.join("discarded"),
            settled: crate::processor::settled::dir_of(root),
            control: root.join("control"),
            db: root.join("statmgr.db"),
        }
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("statmgr.lock")
    }

    /// Creates every directory that is missing (control/ with mode 0700) and refuses a
    /// root (or a retry/, stuck/ or corrupt/) that other users may write to.
    pub fn create(&self) -> Result<(), Error> {
        fs::create_dir_all(&self.root).map_err(|e| Error::io("create state directory", &self.root, e))?;
        refuse_world_writable(&self.root, "state directory")?;
        for dir in [
            &self.inbox,
            &self.retry,
            &self.stuck,
            &self.corrupt,
            &self.discarded,
            &self.settled,
        ] {
            fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        }
        // Anyone who can write here can plant retry files (committed without the inbox's
        // validation) or links, or records that make an inbox file be removed unread.
        // The inbox is the producers' door and may be shared.
        for dir in [
            &self.retry,
            &self.stuck,
            &self.corrupt,
            &self.discarded,
            &self.settled,
        ] {
            refuse_world_writable(dir, "directory")?;
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.control)
            .map_err(|e| Error::io("create control directory", &self.control, e))?;
        fs::set_permissions(&self.control, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set mode of", &self.control, e))?;
        Ok(())
    }

    /// Removes our own temporary files left by a crash in `retry/`, `stuck/`, `corrupt/`
    /// and `settled/` (never in `inbox/`, where they belong to producers). They were never
    /// renamed into place, so what they held is still where it came from.
    pub fn remove_stale_temporaries(&self) {
        for dir in [
            &self.retry,
            &self.stuck,
            &self.corrupt,
            &self.discarded,
            &self.settled,
        ] {
            let Ok(entries) = fs::read_dir(dir) else { continue };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    /// Takes the exclusive lock of this state directory, held for the life of the value.
    pub fn lock(&self) -> Result<StateLock, Error> {
        let path = self.lock_path();
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o644)
            .open(&path)
            .map_err(|e| Error::io("open lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let owner = fs::read_to_string(&path).unwrap_or_default();
                let owner = owner.trim();
                return Err(Error::Locked(format!(
                    "state directory {} is in use by another processor{}; stop it first, or give this one its own --root",
                    self.root.display(),
                    if owner.is_empty() { String::new() } else { format!(" (pid {owner})") }
                )));
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        file.set_len(0)
            .map_err(|e| Error::io("write lock file", &path, e))?;
        writeln!(file, "{}", std::process::id()).map_err(|e| Error::io("write lock file", &path, e))?;
        Ok(StateLock { _file: file })
    }
}

fn refuse_world_writable(dir: &Path, what: &str) -> Result<(), Error> {
    let meta = fs::metadata(dir).map_err(|e| Error::io("inspect directory", dir, e))?;
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 {
        return Err(Error::Unsafe(format!(
            "{what} {} is writable by every user (mode {:o}); run `chmod o-w {}` first",
            dir.display(),
            mode & 0o7777,
            dir.display()
        )));
    }
    Ok(())
}

/// Dropping it releases the state directory.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// fsync a directory, so that renames and unlinks in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `dir/name` durably and atomically: a temporary dot-file, fsync,
/// rename, fsync of the directory. Readers never see a partial file.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), name));
    let target = dir.join(name);
    let existed = fs::symlink_metadata(&target).is_ok();
    let mut renamed = false;
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(bytes)?;
        crate::failpoint!("durable.before_fsync", io, dir);
        f.sync_all()?;
        drop(f);
        crate::failpoint!("durable.before_rename", io, dir);
        fs::rename(&tmp, &target)?;
        renamed = true;
        crate::failpoint!("durable.before_dir_sync", io, dir);
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        // A new file reported as not written must not stay visible: the caller keeps the
        // data where it was, so it would be a second copy. A file that replaced an older
        // one stays (the older one is gone; both held the same messages).
        if renamed && !existed {
            let _ = fs::remove_file(&target);
        }
    }
    result.map(|()| target)
}

/// A name in `dir` that does not exist yet: `name`, else `name.1`, `name.2`, ...
pub fn unused_name(dir: &Path, name: &str) -> String {
    if fs::symlink_metadata(dir.join(name)).is_err() {
        return name.to_string();
    }
    (1..)
        .map(|i| format!("{name}.{i}"))
        .find(|n| fs::symlink_metadata(dir.join(n)).is_err())
        .expect("an unused name exists")
}

/// Why an operator-given file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad file name {escaped}: {why}")]
pub struct BadName {
    pub escaped: String,
    pub why: &'static str,
}

/// Accepts only a bare file name: no separators, no `.`/`..`, no NUL or control
/// characters, no leading dot (temporary files), at most 255 bytes.
pub fn validate_file_name(name: &str) -> Result<(), BadName> {
    let why = if name.is_empty() {
        Some("empty")
    } else if name.len() > 255 {
        Some("longer than 255 bytes")
    } else if name == "." || name == ".." {
        Some("not a file name")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a path separator; give the bare file name")
    } else if name.chars().any(|c| c.is_control()) {
        Some("contains a control character")
    } else if name.starts_with('.') {
        Some("names a temporary file")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(BadName {
            escaped: format!("{name:?}"),
            why,
        }),
    }
}

/// The path of `name` inside `dir`, refusing anything that is not a regular file
/// there (a symbolic link is refused, never followed). `Ok(None)`: no such file.
pub fn resolve_regular_file(dir: &Path, name: &str) -> Result<Option<PathBuf>, ResolveError> {
    validate_file_name(name).map_err(ResolveError::BadName)?;
    let path = dir.join(name);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_file() => Ok(Some(path)),
        Ok(_) => Err(ResolveError::NotRegular(format!(
            "{name:?} is not a regular file (links are never followed)"
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ResolveError::Io(format!("{}: {e}", path.display()))),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    BadName(BadName),
    #[error("{0}")]
    NotRegular(String),
    #[error("{0}")]
    Io(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_pass_and_paths_do_not() {
        assert!(validate_file_name("1700000000000-00000001.retry").is_ok());
        assert!(validate_file_name("with space ü.json").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/etc/passwd",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
            ".hidden",
            "\u{1b}[2J",
        ] {
            assert!(validate_file_name(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(validate_file_name(&"x".repeat(256)).is_err());
        assert!(validate_file_name(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn links_are_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("real"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        assert!(resolve_regular_file(dir.path(), "real").unwrap().is_some());
        assert!(resolve_regular_file(dir.path(), "missing").unwrap().is_none());
        assert!(matches!(
            resolve_regular_file(dir.path(), "link"),
            Err(ResolveError::NotRegular(_))
        ));
        assert!(matches!(
            resolve_regular_file(dir.path(), "../real"),
            Err(ResolveError::BadName(_))
        ));
    }

    #[test]
    fn a_second_lock_is_refused_with_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path());
        state.create().unwrap();
        let _held = state.lock().unwrap();
        let err = state.lock().unwrap_err().to_string();
        assert!(err.contains("in use by another processor"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
    }
}
