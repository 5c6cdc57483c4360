//! No head-of-line blocking: a message the database refuses (a trigger) is isolated by
//! bisection and goes to `stuck/` alone; every other message commits.

mod support;

use std::time::Duration;
use support::*;

#[test]
fn a_trigger_that_refuses_one_machine_sends_only_that_message_to_stuck() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    db(&root)
        .execute_batch(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'POISON'
             BEGIN SELECT RAISE(ABORT, 'machine POISON is refused'); END;",
        )
        .unwrap();
    // One file of 300 messages with the poison in the middle, then more files after it.
    let body: String = (0..300u64)
        .map(|n| format!("{}\n", message(n, if n == 150 { "POISON" } else { "HOST1" })))
        .collect();
    drop_file(&root, "batch.jsonl", body.as_bytes());
    drop_messages(&root, 300..600, 50);

    wait_for(Duration::from_secs(30), "599 rows", || row_count(&root) == 599);
    wait_for(Duration::from_secs(5), "the poison in stuck/", || {
        files_in(&root, "stuck").len() == 1
    });
    let stuck = files_in(&root, "stuck");
    let held = messages_in_batch_file(&root.join("stuck").join(&stuck[0]));
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["machine"], "POISON");
    let text = std::fs::read_to_string(root.join("stuck").join(&stuck[0])).unwrap();
    assert!(
        text.contains("machine POISON is refused"),
        "the stuck file says why: {text}"
    );
    assert!(!uids(&root).contains(&"u-150".to_string()));
    assert!(files_in(&root, "retry").is_empty());
    wait_for(Duration::from_secs(5), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    // Throughput did not stop: more messages still flow.
    drop_messages(&root, 600..700, 25);
    wait_for(Duration::from_secs(20), "699 rows", || row_count(&root) == 699);
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success());
    check_database(&root);
}
