//! Several processors on one PostgreSQL, with producers on each, `kill -9` of a processor
//! and a PostgreSQL crash during the run: every message is stored exactly once, record ids
//! never collide, and nothing is left in retry/ or stuck/.

mod postgres_support;
mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use postgres_support::{check_database, server, wait_until, PgProc};
use support::{bin, drop_file, files_in, message};

const PROCESSORS: usize = 3;
const FILES_PER_PRODUCER: u64 = 60;
const MESSAGES_PER_FILE: u64 = 40;

/// Fast batches, small key blocks (many reservations, so contention on the sequence),
/// quick retries (so batches parked during the database outage come back soon).
const FLAGS: &[&str] = &[
    "--batch-size",
    "100",
    "--key-block",
    "50",
    "--retry-min",
    "200",
    "--retry-max",
    "1000",
    "--busy-timeout",
    "2000",
];

/// Producer `p` drops files of distinct messages; every 10th file also repeats a message
/// of producer `p - 1` (the same uid reaching two processors: stored once).
fn produce(root: &Path, p: u64, progress: &AtomicUsize) {
    for f in 0..FILES_PER_PRODUCER {
        let mut body = String::new();
        for m in 0..MESSAGES_PER_FILE {
            let n = (p * FILES_PER_PRODUCER + f) * MESSAGES_PER_FILE + m;
            body.push_str(&format!("{}\n", message(n, &format!("HOST{p}"))));
        }
        if f % 10 == 0 && p > 0 {
            let n = ((p - 1) * FILES_PER_PRODUCER + f) * MESSAGES_PER_FILE;
            body.push_str(&format!("{}\n", message(n, "ECHO")));
        }
        drop_file(root, &format!("p{p}-{f:04}.jsonl"), body.as_bytes());
        progress.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(15));
    }
}

fn settled(roots: &[PathBuf]) -> bool {
    roots.iter().all(|root| {
        ["inbox", "retry", "stuck", "corrupt"]
            .iter()
            .all(|dir| files_in(root, dir).is_empty())
    })
}

#[test]
fn processors_sharing_postgres_store_every_message_once_through_kills_and_a_crash() {
    let Some(pg) = server("processors_sharing_postgres_store_every_message_once_through_kills_and_a_crash")
    else {
        return;
    };
    let tmp = support::tempdir();
    let roots: Vec<PathBuf> = (0..PROCESSORS)
        .map(|i| tmp.path().join(format!("p{i}")))
        .collect();
    let url = pg.url();
    let mut procs: Vec<Option<PgProc>> = roots
        .iter()
        .map(|root| Some(PgProc::start(bin(), root, &url, FLAGS)))
        .collect();
    let progress = AtomicUsize::new(0);
    let total_files = PROCESSORS * FILES_PER_PRODUCER as usize;
    std::thread::scope(|s| {
        for (p, root) in roots.iter().enumerate() {
            let progress = &progress;
            s.spawn(move || produce(root, p as u64, progress));
        }
        let at = |fraction: usize| {
            wait_until(Duration::from_secs(60), "the producers", || {
                progress.load(Ordering::Relaxed) * 10 >= total_files * fraction
            })
        };
        at(2);
        procs[1].take().unwrap().kill9();
        std::thread::sleep(Duration::from_millis(300));
        procs[1] = Some(PgProc::start(bin(), &roots[1], &url, FLAGS));
        at(4);
        // A crash, down long enough for commits to fail and batches to wait in retry/.
        pg.stop(true);
        std::thread::sleep(Duration::from_millis(1500));
        pg.start_again();
        at(6);
        procs[0].take().unwrap().kill9();
        procs[0] = Some(PgProc::start(bin(), &roots[0], &url, FLAGS));
        at(8);
        pg.restart();
    });
    wait_until(
        Duration::from_secs(120),
        "every inbox and retry/ to empty",
        || settled(&roots),
    );

    let sql = pg.sql();
    let expected = PROCESSORS as u64 * FILES_PER_PRODUCER * MESSAGES_PER_FILE;
    let mut uids = sql.strings("SELECT uid FROM status_messages ORDER BY uid");
    assert_eq!(uids.len() as u64, expected, "messages stored");
    uids.dedup();
    assert_eq!(uids.len() as u64, expected, "a message is stored twice");
    for n in (0..expected).step_by(97) {
        assert!(uids.binary_search(&format!("u-{n}")).is_ok(), "u-{n} is missing");
    }
    assert_eq!(
        sql.i64("SELECT count(*) FROM status_message_insstrs"),
        2 * expected as i64,
        "insertion strings"
    );
    assert_eq!(
        sql.i64("SELECT count(DISTINCT processor) FROM batches"),
        PROCESSORS as i64
    );
    check_database(&sql);

    let logs: Vec<String> = procs.iter().flatten().map(PgProc::log_text).collect();
    for (i, log) in logs.iter().enumerate() {
        println!(
            "processor {i}: {} starts, {} batches parked in retry/",
            log.matches("processor started").count(),
            log.matches("go to retry/").count(),
        );
        assert!(
            !log.contains("key conflict"),
            "two processors took the same record id:\n{log}"
        );
    }
    assert!(
        logs.iter().any(|log| log.contains("go to retry/")),
        "the database outage did not reach any commit (the test did not test it)"
    );
    for proc in procs.into_iter().flatten() {
        assert!(proc.terminate(Duration::from_secs(20)).success());
    }
}

/// A message PostgreSQL refuses (NUL in a text field; SQLite would take it) is isolated
/// in stuck/ and the rest of its batch commits; the URL can come from `--database` too.
#[test]
fn a_message_postgres_refuses_goes_to_stuck_and_the_rest_commit() {
    let Some(pg) = server("a_message_postgres_refuses_goes_to_stuck_and_the_rest_commit") else {
        return;
    };
    let tmp = support::tempdir();
    let root = tmp.path().join("p");
    let url = pg.url();
    // The flag wins over the environment variable.
    let proc = PgProc::start(bin(), &root, "mysql://not-used", &["--database", url.as_str()]);
    let mut body = String::new();
    for n in 0..9 {
        let mut m = message(n, "HOST");
        if n == 4 {
            m["component"] = serde_json::Value::String("SMS\u{0}EXEC".into());
        }
        body.push_str(&format!("{m}\n"));
    }
    drop_file(&root, "mixed.jsonl", body.as_bytes());
    wait_until(Duration::from_secs(30), "the file to settle", || {
        files_in(&root, "inbox").is_empty() && files_in(&root, "stuck").len() == 1
    });
    let sql = pg.sql();
    assert_eq!(sql.i64("SELECT count(*) FROM status_messages"), 8);
    assert_eq!(
        sql.i64("SELECT count(*) FROM status_messages WHERE uid = 'u-4'"),
        0
    );
    let stuck = files_in(&root, "stuck");
    let held = support::messages_in_batch_file(&root.join("stuck").join(&stuck[0]));
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["uid"], "u-4");
    let header = std::fs::read_to_string(root.join("stuck").join(&stuck[0])).unwrap();
    assert!(header.lines().next().unwrap().contains("22021"), "{header}");
    assert!(proc.terminate(Duration::from_secs(20)).success());
}

/// A URL that is not PostgreSQL is refused at start with a clear reason; a password in
/// it is never repeated.
#[test]
fn a_database_url_that_is_not_postgres_is_refused_at_start() {
    let tmp = support::tempdir();
    let root = tmp.path().join("p");
    for (url, reason) in [
        ("mysql://app:hunter2@db/x", "must be a postgres://"),
        ("postgres://app:hunter2@db:port/x", "cannot be parsed"),
    ] {
        let out = std::process::Command::new(bin())
            .args(["run", "--root", root.to_str().unwrap()])
            .env("STATMGR_DATABASE", url)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(reason), "{stderr}");
        assert!(!stderr.contains("hunter2"), "the password was printed: {stderr}");
    }
}
