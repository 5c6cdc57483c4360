//! settled/ with the PostgreSQL store (it is the same for both stores: the record is a
//! file in the state directory, never a database row): inbox files committed, and files
//! whose messages went to retry/ and on to stuck/ while the server was down, all with their
//! unlink failing; the restart (server up) removes them unread, so the messages waiting in
//! stuck/ are not committed a second time.

mod postgres_support;
mod support;

use std::time::Duration;

use postgres_support::{check_database, server, wait_until, PgProc};
use support::{bin, drop_messages, files_in, uids_in_batch_files};

const FLAGS: &[&str] = &[
    "--batch-age",
    "30",
    "--busy-timeout",
    "1000",
    "--max-attempts",
    "3",
    "--retry-min",
    "150",
    "--retry-max",
    "600",
    "--rescan",
    "200",
];

#[test]
fn a_settled_inbox_file_is_removed_unread_after_a_restart_on_postgres() {
    let Some(pg) = server("a_settled_inbox_file_is_removed_unread_after_a_restart_on_postgres") else {
        return;
    };
    let tmp = support::tempdir();
    let root = tmp.path().join("state");
    let url = pg.url();
    let sql = pg.sql();
    // The only test of this binary: the variable reaches only the processor started here.
    std::env::set_var("STATMGR_FAILPOINTS", "inbox.before_unlink=return(eisdir)");
    let p = PgProc::start(bin(), &root, &url, FLAGS);
    std::env::remove_var("STATMGR_FAILPOINTS");
    drop_messages(&root, 0..10, 5);
    wait_until(Duration::from_secs(20), "the first files committed", || {
        sql.i64("SELECT count(*) FROM status_messages") == 10
    });
    pg.stop(false);
    drop_messages(&root, 100..110, 5);
    wait_until(
        Duration::from_secs(30),
        "the files of the outage in stuck/",
        || uids_in_batch_files(&root, "stuck").len() == 10 && files_in(&root, "retry").is_empty(),
    );
    assert!(p.terminate(Duration::from_secs(20)).success());
    let inbox = files_in(&root, "inbox");
    assert_eq!(inbox.len(), 4, "every unlink failed: {inbox:?}");
    assert_eq!(files_in(&root, "settled"), inbox, "one record per file");
    let stuck = files_in(&root, "stuck");

    pg.start_again();
    let p = PgProc::start(bin(), &root, &url, FLAGS);
    wait_until(Duration::from_secs(20), "the settled files gone", || {
        files_in(&root, "inbox").is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    let log = p.log_text();
    assert!(p.terminate(Duration::from_secs(20)).success());
    assert!(
        log.contains("removed 4 inbox files whose messages were made durable before the restart"),
        "{log}"
    );
    assert!(files_in(&root, "retry").is_empty());
    assert_eq!(files_in(&root, "stuck"), stuck);
    assert!(files_in(&root, "settled").is_empty());
    let sql = pg.sql();
    let mut stored = sql.strings("SELECT uid FROM status_messages ORDER BY uid");
    stored.sort();
    let mut want: Vec<String> = (0..10).map(|n| format!("u-{n}")).collect();
    want.sort();
    assert_eq!(
        stored, want,
        "the messages in stuck/ were not committed a second time"
    );
    check_database(&sql);
}
