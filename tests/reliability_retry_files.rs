//! Retry files damaged on disk, through the real processor: a file torn at every byte
//! offset and files edited by hand each go to corrupt/ with a reason (never silently
//! dropped, never half replayed), the worker keeps running, and the good files beside them
//! commit. A file repaired by hand (still valid) commits with the repair.

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use statmgr::message::Message;
use statmgr::processor::retry_file::{encode, RetryHeader};
use support::*;

fn msg(n: u64) -> Message {
    serde_json::from_value(message(n, "H")).unwrap()
}

/// A valid retry file holding messages `ns`, due now.
fn retry_bytes(ns: &[u64]) -> Vec<u8> {
    let mut h = RetryHeader::new(ns.len() as u64, "database is locked", SystemTime::now());
    h.failed("database is locked", SystemTime::now());
    let msgs: Vec<Message> = ns.iter().map(|&n| msg(n)).collect();
    encode(&h, &msgs)
}

fn reason(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join("corrupt").join(format!("{name}.reason"))).unwrap_or_else(|e| {
        panic!(
            "{name}: no reason in corrupt/ ({e}); corrupt/ holds {:?}",
            files_in(root, "corrupt")
        )
    })
}

#[test]
fn a_retry_file_torn_at_every_byte_offset_goes_to_corrupt_with_a_reason() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let whole = retry_bytes(&[1, 2]);
    let retry = root.join("retry");
    for cut in 0..whole.len() {
        fs::write(retry.join(format!("torn-{cut:05}.batch")), &whole[..cut]).unwrap();
    }
    fs::write(retry.join("whole.batch"), &whole).unwrap();

    let p = Proc::start(&root, &["--rescan", "100"]);
    wait_for(Duration::from_secs(120), "every retry file judged", || {
        files_in(&root, "retry").is_empty()
    });
    for cut in 0..whole.len() {
        let name = format!("torn-{cut:05}.batch");
        let why = reason(&root, &name);
        assert!(why.contains("reason: "), "{name}: {why}");
        assert_eq!(
            fs::read(root.join("corrupt").join(&name)).unwrap(),
            &whole[..cut],
            "{name} kept as it was"
        );
    }
    // The worker survived all of it: the whole file and a new inbox message commit.
    drop_messages(&root, 10..11, 1);
    wait_for(Duration::from_secs(20), "the good messages", || {
        row_count(&root) == 3
    });
    assert!(p.log_text().matches("moved to corrupt/").count() >= whole.len());
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success());
    assert_eq!(uids(&root), ["u-1", "u-10", "u-2"]);
    eprintln!(
        "torn retry files: {} offsets, {} in corrupt/ with a reason, 0 lost",
        whole.len(),
        whole.len()
    );
}

#[test]
fn retry_files_edited_by_hand_are_refused_with_a_reason_or_commit_if_still_valid() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let text = String::from_utf8(retry_bytes(&[1, 2, 3])).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wrong-type.batch",
            text.replace("\"message_id\":2", "\"message_id\":\"two\"").into(),
            "line 3",
        ),
        (
            "count-lowered.batch",
            text.replacen("\"messages\":3", "\"messages\":2", 1).into(),
            "header says 2",
        ),
        (
            "line-removed.batch",
            join(&[lines[0], lines[1], lines[3]]).into(),
            "header says 3",
        ),
        (
            "version.batch",
            text.replacen("\"statmgr_retry\":1", "\"statmgr_retry\":7", 1)
                .into(),
            "format version 7",
        ),
        (
            "not-a-message.batch",
            join(&[lines[0], lines[1], "{\"a\":1}", lines[3]]).into(),
            "line 3",
        ),
        ("no-header.batch", join(&lines[1..]).into(), "header"),
        (
            "nul-bytes.batch",
            text.replacen("SMS_EXECUTIVE", "SMS\0EXEC", 1).into(),
            "line 2",
        ),
        (
            "control-char.batch",
            text.replacen("SMS_EXECUTIVE", "SMS\u{1b}[2J", 1).into(),
            "line 2",
        ),
        ("empty.batch", Vec::new(), "torn"),
        ("binary.batch", (0..=255u8).collect(), "header"),
    ];
    let mut invalid_utf8 = text.clone().into_bytes();
    let at = text.find("SMS_EXECUTIVE").unwrap();
    invalid_utf8[at] = 0xff;
    let retry = root.join("retry");
    for (name, body, _) in &bad {
        fs::write(retry.join(name), body).unwrap();
    }
    fs::write(retry.join("raw-ff.batch"), &invalid_utf8).unwrap();
    // A repair by hand that keeps the file valid: it commits as edited.
    fs::write(
        retry.join("repaired.batch"),
        text.replace("\"machine\":\"H\"", "\"machine\":\"FIXED\""),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", retry.join("link.batch")).unwrap();

    let p = Proc::start(&root, &["--rescan", "100"]);
    wait_for(Duration::from_secs(30), "every retry file judged", || {
        files_in(&root, "retry").is_empty()
    });
    for (name, _, needle) in &bad {
        let why = reason(&root, name);
        assert!(
            why.contains(needle),
            "{name}: reason {why:?} should mention {needle:?}"
        );
    }
    assert!(reason(&root, "raw-ff.batch").contains("line 2"));
    assert!(reason(&root, "link.batch").contains("not a regular file"));
    assert!(fs::symlink_metadata(root.join("corrupt/link.batch"))
        .unwrap()
        .is_symlink());
    wait_for(Duration::from_secs(10), "the repaired file", || {
        row_count(&root) == 3
    });
    let machines: Vec<String> = {
        let c = db(&root);
        let mut st = c.prepare("SELECT DISTINCT machine FROM status_messages").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(machines, ["FIXED"]);
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success(), "the worker never crashed");
}
