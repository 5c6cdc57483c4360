//! The store when its database becomes unusable while open (read-only, moved, replaced,
//! deleted): operations fail as `Transient`, and work again once the cause is gone.

#[path = "store_support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use statmgr::processor::store::{Store, StoreError};
use support::{commit, message, raw, uids, TestDb};

const WAIT: Duration = Duration::from_millis(200);

/// Files made immutable with `chattr +i`: even root cannot write them (plain `chmod`
/// does not stop root). Undone on drop so the temporary directory can be removed.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// `None` when this machine cannot set the flag (not root, or no file system support).
    fn set(paths: &[PathBuf]) -> Option<Immutable> {
        let guard = Immutable(paths.to_vec());
        for path in paths {
            let status = Command::new("chattr").arg("+i").arg(path).status();
            if !status.is_ok_and(|status| status.success()) {
                return None;
            }
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn transient(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Transient(why)) => why,
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[test]
fn read_only_files_are_transient_and_the_store_recovers_when_writable_again() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("before")]).expect("first");
    // Not the -shm: it is memory-mapped, and a mapped file made immutable kills the
    // process with SIGBUS on the next write through the mapping.
    let files = [db.path.clone(), sidecar(&db.path, "-wal")];
    let Some(guard) = Immutable::set(&files) else {
        eprintln!("SKIPPED: chattr +i is not permitted here (needs root on ext4/xfs/btrfs)");
        return;
    };
    let why = transient(commit(&mut store, 2, &[message("during")]));
    assert!(why.contains("read-only") || why.contains("I/O"), "{why}");
    // A store opened while the files are read-only fails the same way, not at open.
    let mut late = db.open(WAIT);
    transient(commit(&mut late, 2, &[message("during")]));
    transient(store.reserve_block(0, 10));

    drop(guard);
    // Both stores' connections saw the files read-only: they recover by reopening.
    commit(&mut store, 2, &[message("during")]).expect("commits once writable");
    commit(&mut late, 3, &[message("late")]).expect("commits once writable");
    assert_eq!(store.reserve_block(0, 10).map(|block| block.end), Ok(10));
    let names: Vec<String> = uids(&db.raw()).into_iter().map(|(_, uid)| uid).collect();
    assert_eq!(names, ["before", "during", "late"]);
}

#[test]
fn database_moved_away_is_transient_and_moving_it_back_recovers() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("a")]).expect("first");
    let aside = db.dir.path().join("aside.db");
    std::fs::rename(&db.path, &aside).expect("move away");

    let why = transient(commit(&mut store, 2, &[message("b")]));
    assert!(why.contains("moved or deleted"), "{why}");
    // Never re-created while running: an empty new file would lose the uid history.
    transient(commit(&mut store, 2, &[message("b")]));
    assert!(!db.path.exists());

    std::fs::rename(&aside, &db.path).expect("move back");
    commit(&mut store, 2, &[message("b")]).expect("commits once the file is back");
    assert_eq!(uids(&db.raw()), vec![(1, "a".into()), (2, "b".into())]);
}

#[test]
fn database_replaced_while_open_receives_the_next_commits() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("a")]).expect("first");
    // An operator restores a backup taken now by renaming it over the live file.
    let backup = db.dir.path().join("backup.db");
    raw(&db.path)
        .execute("VACUUM INTO ?1", [backup.to_str().expect("utf-8 path")])
        .expect("backup");
    commit(&mut store, 2, &[message("not in the backup")]).expect("second");
    std::fs::rename(&backup, &db.path).expect("restore");

    commit(&mut store, 3, &[message("c")]).expect("next commit goes to the restored file");
    assert_eq!(store.max_record_id(), Ok(3));
    drop(store);
    // Without noticing the replacement, "c" would have gone to the unlinked old file.
    assert_eq!(uids(&raw(&db.path)), vec![(1, "a".into()), (3, "c".into())]);
}

#[test]
fn database_deleted_while_open_is_transient_and_never_recreated() {
    let db = TestDb::temp();
    let mut store = db.open(WAIT);
    commit(&mut store, 1, &[message("a")]).expect("first");
    std::fs::remove_file(&db.path).expect("delete");
    transient(commit(&mut store, 2, &[message("b")]));
    transient(store.max_record_id());
    transient(store.high_water());
    assert!(!db.path.exists());

    // An empty file in its place is not taken for a new database either.
    std::fs::write(&db.path, b"").expect("empty file");
    let why = transient(commit(&mut store, 2, &[message("b")]));
    assert!(why.contains("no statmgr schema"), "{why}");
    let tables: i64 = raw(&db.path)
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .expect("count");
    assert_eq!(tables, 0);
}
