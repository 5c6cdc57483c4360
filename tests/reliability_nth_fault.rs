//! The N-th operation fails: in one run the N-th database write transaction and the N-th
//! durable file write fail (an I/O error or a full disk), for N = 1, 2, 3, ... until N is
//! past the last operation of the scenario. The fault is injected once; the processor must
//! recover by itself, without a restart, and lose or duplicate nothing.
//!
//! CI size: odd N get I/O errors, even N a full disk. Full size (STATMGR_NTH_FULL=1): both
//! kinds for every N.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

const FLAGS: &[&str] = &[
    "--batch-age",
    "30",
    "--busy-timeout",
    "100",
    "--retry-min",
    "100",
    "--retry-max",
    "400",
    "--key-block",
    "6",
    "--rescan",
    "200",
];

/// The good uids the scenario sends.
fn scenario(root: &Path) -> Vec<String> {
    // One file at a time: one batch each, and a key block of 6 ids every batch or so.
    for i in 0..4 {
        drop_messages(root, i * 5..i * 5 + 5, 5);
        wait_for(Duration::from_secs(20), "the file to commit", || {
            row_count(root) == i * 5 + 5
        });
    }
    let mixed = format!("{}\n{{\"broken\": \n{}\n", message(20, "H"), message(21, "H"));
    drop_file(root, "mixed.jsonl", mixed.as_bytes());
    drop_file(root, "bad.json", b"{not json");
    wait_for(Duration::from_secs(20), "the first files", || {
        files_in(root, "inbox").is_empty() && row_count(root) == 22
    });
    // The database locked for a moment: a retry file, replayed once the lock is gone.
    let locker = db(root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    drop_messages(root, 22..27, 5);
    wait_until(Duration::from_secs(3), || !files_in(root, "retry").is_empty());
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    wait_for(Duration::from_secs(20), "every message committed", || {
        files_in(root, "inbox").is_empty() && files_in(root, "retry").is_empty() && row_count(root) == 27
    });
    (0..27).map(|n| format!("u-{n}")).collect()
}

/// One run with the N-th database write and the N-th file write failing. Returns how many
/// of the two faults fired.
fn run(n: usize, db_fault: &str, file_fault: &str) -> usize {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let skip = n - 1;
    let spec = format!(
        "db.before_commit={skip}*off->1*return({db_fault});durable.before_fsync={skip}*off->1*return({file_fault})"
    );
    let p = Proc::start_with_env(&root, FLAGS, &[("STATMGR_FAILPOINTS", &spec)]);
    let sent = scenario(&root);
    let log = p.log_text();
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success(), "N={n}: {status:?}\n{log}");
    check_accounted(&root, &sent, &format!("N={n} ({spec})"));
    assert!(files_in(&root, "stuck").is_empty(), "N={n}: nothing stuck");
    let corrupt = files_in(&root, "corrupt");
    assert_eq!(
        corrupt,
        [
            "bad.json",
            "bad.json.reason",
            "mixed.jsonl.bad-lines",
            "mixed.jsonl.bad-lines.reason"
        ],
        "N={n}: each bad input once in corrupt/, with its reason"
    );
    let fired = log.matches("failpoint db.before_commit fired").count()
        + log.matches("failpoint durable.before_fsync fired").count();
    assert!(fired <= 2, "N={n}: each fault fires once");
    fired
}

#[test]
fn the_nth_database_write_and_the_nth_file_write_fail_for_every_n() {
    let full = std::env::var("STATMGR_NTH_FULL").is_ok_and(|v| v == "1");
    let mut injected = 0;
    let mut n = 1;
    loop {
        let kinds: &[(&str, &str)] = match (full, n % 2) {
            (true, _) => &[("ioerr", "eio"), ("full", "enospc")],
            (false, 1) => &[("ioerr", "eio")],
            (false, _) => &[("full", "enospc")],
        };
        let mut fired = 0;
        for (db_fault, file_fault) in kinds {
            fired += run(n, db_fault, file_fault);
        }
        injected += fired;
        if fired == 0 {
            break; // N is past the last operation of the scenario
        }
        n += 1;
        assert!(n < 200, "the scenario should have far fewer operations");
    }
    assert!(
        n > 8,
        "the scenario has more operations than that, stopped at N={n}"
    );
    eprintln!(
        "N-th fault sweep: N = 1..{}, {injected} faults injected, 27 messages per run, 0 lost, 0 duplicated",
        n - 1
    );
}
