//! `settled/`: a durable record of each inbox file whose messages were made durable
//! (committed, or written to `retry/` or `stuck/`) but whose unlink failed. Written only
//! when an unlink fails, so it costs nothing on the normal path; at start every record is
//! settled before intake runs: a file that still matches its record (device, inode, size,
//! modification and change times) is unlinked, never read a second time.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::message::escape_text;
use crate::processor::dirs::{sync_dir, write_durably};

/// What identifies one inbox file: a new file under the same name differs in at least
/// its inode or change time (a rename into the inbox sets the change time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Identity {
    pub fn of(meta: &fs::Metadata) -> Identity {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    fn encode(&self) -> String {
        format!(
            "statmgr-settled 1\ndev {}\nino {}\nsize {}\nmtime_ns {}\nctime_ns {}\n",
            self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns
        )
    }

    fn decode(text: &str) -> Option<Identity> {
        let mut lines = text.lines();
        if lines.next()? != "statmgr-settled 1" {
            return None;
        }
        let mut field = |key: &str| -> Option<&str> { lines.next()?.strip_prefix(key)?.strip_prefix(' ') };
        Some(Identity {
            dev: field("dev")?.parse().ok()?,
            ino: field("ino")?.parse().ok()?,
            size: field("size")?.parse().ok()?,
            mtime_ns: field("mtime_ns")?.parse().ok()?,
            ctime_ns: field("ctime_ns")?.parse().ok()?,
        })
    }
}

/// The records of one state directory.
#[derive(Debug, Clone)]
pub struct SettledRecords {
    dir: PathBuf,
    inbox: PathBuf,
}

impl SettledRecords {
    pub fn new(dir: PathBuf, inbox: PathBuf) -> SettledRecords {
        SettledRecords { dir, inbox }
    }

    /// Records durably that `inbox/name`, as it is now, is settled. An inbox file that is
    /// already gone needs no record.
    pub fn record(&self, name: &str) -> io::Result<()> {
        let meta = match fs::symlink_metadata(self.inbox.join(name)) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        write_durably(&self.dir, name, Identity::of(&meta).encode().as_bytes()).map(|_| ())
    }

    /// The inbox file is gone: its record is no longer needed.
    pub fn forget(&self, name: &str) {
        match fs::remove_file(self.dir.join(name)) {
            Ok(()) => {
                if let Err(e) = sync_dir(&self.dir) {
                    tracing::warn!("cannot sync {}: {e}", self.dir.display());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %escape_text(name), "cannot remove its record in settled/: {e}"),
        }
    }

    /// At start, before intake runs: unlinks every inbox file that still matches its
    /// record and forgets records whose file is gone or was replaced. Returns the names of
    /// files that match but still cannot be unlinked: they must not be read (the caller
    /// keeps them in flight and tries the unlink again).
    pub fn settle_at_start(&self) -> Vec<String> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::error!("cannot list {}: {e}", self.dir.display());
                return Vec::new();
            }
        };
        let mut pending = Vec::new();
        let mut done = Vec::new();
        let mut removed = 0usize;
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') {
                continue; // our own temporary files
            }
            match self.settle_one(&name) {
                Settle::Unlinked => removed += 1,
                Settle::Stale => {}
                Settle::StillThere => {
                    pending.push(name);
                    continue;
                }
            }
            done.push(name);
        }
        // The unlinks are made durable before the records that caused them go.
        if removed > 0 {
            if let Err(e) = sync_dir(&self.inbox) {
                tracing::warn!(
                    "cannot sync {}: {e}; the records stay until the next start",
                    self.inbox.display()
                );
                return pending;
            }
            tracing::info!(
                "removed {removed} inbox files whose messages were made durable before the restart (their unlink had failed)"
            );
        }
        for name in &done {
            if let Err(e) = fs::remove_file(self.dir.join(name)) {
                tracing::warn!(file = %escape_text(name), "cannot remove its record in settled/: {e}");
            }
        }
        if !done.is_empty() {
            if let Err(e) = sync_dir(&self.dir) {
                tracing::warn!("cannot sync {}: {e}", self.dir.display());
            }
        }
        pending
    }

    fn settle_one(&self, name: &str) -> Settle {
        let recorded = fs::read_to_string(self.dir.join(name))
            .ok()
            .and_then(|text| Identity::decode(&text));
        let path = self.inbox.join(name);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return Settle::Stale;
        };
        if recorded != Some(Identity::of(&meta)) || !meta.file_type().is_file() {
            tracing::info!(file = %escape_text(name), "a settled record does not match the inbox file of that name (a new file): the file is read");
            return Settle::Stale;
        }
        crate::failpoint!("inbox.before_unlink", redirect path);
        match fs::remove_file(&path) {
            Ok(()) => Settle::Unlinked,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Settle::Stale,
            Err(e) => {
                tracing::warn!(file = %escape_text(name), "settled before the restart, but still cannot unlink: {e}; will try again");
                Settle::StillThere
            }
        }
    }
}

enum Settle {
    Unlinked,
    /// No file, or another file: the record is dropped.
    Stale,
    StillThere,
}

/// `settled/` beside `inbox/`.
pub fn dir_of(root: &Path) -> PathBuf {
    root.join("settled")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, SettledRecords) {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, inbox) = (tmp.path().join("settled"), tmp.path().join("inbox"));
        fs::create_dir(&dir).unwrap();
        fs::create_dir(&inbox).unwrap();
        (tmp, SettledRecords::new(dir, inbox))
    }

    #[test]
    fn identity_round_trips_and_refuses_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        fs::write(&p, b"abc").unwrap();
        let id = Identity::of(&fs::metadata(&p).unwrap());
        assert_eq!(Identity::decode(&id.encode()), Some(id));
        assert_eq!(Identity::decode(""), None);
        assert_eq!(Identity::decode(&id.encode().replace("ino", "inode")), None);
    }

    #[test]
    fn a_matching_file_is_unlinked_and_a_replaced_one_is_kept() {
        let (tmp, records) = setup();
        let inbox = tmp.path().join("inbox");
        fs::write(inbox.join("same.json"), b"{}").unwrap();
        fs::write(inbox.join("new\nline\u{1b}.json"), b"{}").unwrap();
        records.record("new\nline\u{1b}.json").unwrap();
        fs::write(inbox.join("replaced.json"), b"{}").unwrap();
        records.record("same.json").unwrap();
        records.record("replaced.json").unwrap();
        records.record("never-there.json").unwrap();
        // A producer drops a new file under the same name (a new inode).
        fs::write(inbox.join("new.json"), b"{ }").unwrap();
        fs::rename(inbox.join("new.json"), inbox.join("replaced.json")).unwrap();
        records.record("gone.json").unwrap();
        assert!(records.settle_at_start().is_empty());
        assert!(!inbox.join("same.json").exists(), "settled: unlinked unread");
        assert!(!inbox.join("new\nline\u{1b}.json").exists(), "whatever its name");
        assert!(
            inbox.join("replaced.json").exists(),
            "a new file is never dropped"
        );
        assert_eq!(fs::read_dir(tmp.path().join("settled")).unwrap().count(), 0);
    }
}
