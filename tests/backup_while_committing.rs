//! `statmgr backup` against a real processor committing at full speed: every copy opens,
//! passes `integrity_check` and is consistent (each batch row's messages all there, no
//! orphan children); an existing file is refused unless --force; PostgreSQL points to pg_dump.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use support::{drop_messages, row_count, wait_for, Proc};

fn backup(root: &Path, file: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(support::bin())
        .args(["backup", "--root", root.to_str().unwrap(), file.to_str().unwrap()])
        .args(extra)
        .env_remove("STATMGR_DATABASE")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks one copy on its own; returns its message count.
fn check_copy(file: &Path) -> i64 {
    assert!(
        !file.with_extension("db-wal").exists(),
        "a copy is one file, with no WAL beside it"
    );
    let c = Connection::open(file).unwrap();
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok", "{}", file.display());
    let q = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    let short = q("SELECT count(*) FROM batches b
                   WHERE b.count != (SELECT count(*) FROM status_messages m WHERE m.batch_id = b.id)");
    assert_eq!(short, 0, "a batch row whose messages are not all in the copy");
    let rows = q("SELECT count(*) FROM status_messages");
    assert_eq!(
        rows,
        q("SELECT coalesce(sum(count), 0) FROM batches"),
        "rows vs batches"
    );
    // Every message of the test has two insertion strings and one attribute.
    assert_eq!(q("SELECT count(*) FROM status_message_insstrs"), 2 * rows);
    assert_eq!(q("SELECT count(*) FROM status_message_attributes"), rows);
    let orphans = q("SELECT count(*) FROM status_message_insstrs i
                     WHERE NOT EXISTS (SELECT 1 FROM status_messages m WHERE m.record_id = i.record_id)");
    assert_eq!(orphans, 0);
    rows
}

#[test]
fn backups_taken_while_committing_at_full_speed_are_consistent() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    let p = Proc::start(&root, &["--batch-age", "5", "--batch-size", "200"]);

    let total = 60_000u64;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let root = root.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut start = 0;
            while start < total && !stop.load(Ordering::Relaxed) {
                drop_messages(&root, start..start + 500, 50);
                start += 500;
            }
        })
    };
    wait_for(Duration::from_secs(60), "the first commits", || {
        row_count(&root) > 1000
    });

    let mut copies = Vec::new();
    for i in 0..4 {
        let file = tmp.path().join(format!("copy-{i}.db"));
        let (code, stdout, stderr) = backup(&root, &file, &[]);
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        assert!(stdout.contains("integrity_check ok"), "{stdout}");
        copies.push((file, row_count(&root)));
        std::thread::sleep(Duration::from_millis(300));
    }
    producer.join().unwrap();
    stop.store(true, Ordering::Relaxed);

    let mut previous = 0;
    for (file, live_after) in &copies {
        let rows = check_copy(file);
        assert!(rows > 0);
        assert!(rows >= previous, "copies are taken in order: {rows} < {previous}");
        assert!(
            rows as u64 <= *live_after,
            "a copy holds no more than the live database had after it"
        );
        previous = rows;
    }
    // Commits went on during the backups: the live database has more than the first copy.
    wait_for(Duration::from_secs(120), "every message committed", || {
        row_count(&root) == total
    });
    assert!(copies[0].1 < total);
    drop(p);
}

#[test]
fn an_existing_file_is_refused_unless_forced() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    let p = Proc::start(&root, &[]);
    drop_messages(&root, 0..10, 10);
    wait_for(Duration::from_secs(20), "commit", || row_count(&root) == 10);

    let file = tmp.path().join("copy.db");
    std::fs::write(&file, b"precious").unwrap();
    let (code, _, stderr) = backup(&root, &file, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");

    let (code, stdout, stderr) = backup(&root, &file, &["--force"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(check_copy(&file), 10);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left behind");
    drop(p);
}

#[test]
fn without_a_database_or_with_postgresql_backup_says_why() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    std::fs::create_dir_all(&root).unwrap();
    let file = tmp.path().join("copy.db");
    let (code, _, stderr) = backup(&root, &file, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no database at"), "{stderr}");

    let (code, _, stderr) = backup(
        &root,
        &file,
        &["--database", "postgres://statmgr:secret@db/statmgr"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
    assert!(!file.exists());
}
