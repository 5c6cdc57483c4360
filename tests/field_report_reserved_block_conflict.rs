//! The first field report: another program inserts rows whose record ids fall inside the
//! processor's reserved block. Everything still commits; nothing is stuck or lost.

mod support;

use std::time::Duration;
use support::*;

#[test]
fn rows_inserted_into_the_reserved_block_cause_a_resync_not_a_stuck_queue() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &["--key-block", "100"]);
    drop_messages(&root, 0..10, 10);
    wait_for(Duration::from_secs(20), "the first 10 rows", || {
        row_count(&root) == 10
    });

    // A second writer takes ids right above the processor's last one: inside its block.
    let c = db(&root);
    let max: i64 = c
        .query_row("SELECT MAX(record_id) FROM status_messages", [], |r| r.get(0))
        .unwrap();
    let hw: i64 = c
        .query_row("SELECT high_water FROM allocator", [], |r| r.get(0))
        .unwrap();
    assert!(
        hw > max + 5,
        "the processor holds a reserved block above {max} (high water {hw})"
    );
    for id in max + 1..=max + 5 {
        c.execute(
            "INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site, time, received, batch_id)
             VALUES (?1, ?2, 1, 'info', 'repair', 'OPERATOR', 'S01', '2026-11-23T00:00:00Z', '2026-11-23T00:00:00Z', 0)",
            rusqlite::params![id, format!("intruder-{id}")],
        )
        .unwrap();
    }
    drop(c);

    drop_messages(&root, 10..500, 7);
    wait_for(
        Duration::from_secs(30),
        "490 more rows beside the 5 intruders",
        || row_count(&root) == 505,
    );
    assert!(files_in(&root, "stuck").is_empty(), "nothing may be stuck");
    assert!(files_in(&root, "retry").is_empty(), "nothing waits in retry/");
    wait_for(Duration::from_secs(5), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success());
    let all = uids(&root);
    for n in 0..500 {
        assert!(
            all.binary_search(&format!("u-{n}")).is_ok(),
            "message {n} is missing"
        );
    }
    check_database(&root);
}
