//! Retry files damaged on disk, through the real processor: a file torn at every byte
//! offset and files whose structure was edited by hand each go to corrupt/ with a reason
//! (never silently dropped, never half replayed), the worker keeps running, and the good
//! files beside them commit. Damaged or added message lines are read with the inbox's
//! limits and set aside as one corrupt/ entry per file while the file's messages commit. A
//! file repaired by hand (still valid) commits with the repair.

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

/// Hand edits that break a file's structure (its header, or a line lost or doubled) send
/// it to corrupt/ whole; edits that damage message lines set those lines aside (one
/// corrupt/ entry per file) and the rest commits; a repair that keeps it valid commits.
#[test]
fn retry_files_edited_by_hand_are_refused_with_a_reason_or_commit_if_still_valid() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let text = String::from_utf8(retry_bytes(&[1, 2, 3])).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
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
        ("no-header.batch", join(&lines[1..]).into(), "header"),
        ("empty.batch", Vec::new(), "torn"),
        ("binary.batch", (0..=255u8).collect(), "header"),
    ];
    let mut invalid_utf8 = text.clone().into_bytes();
    let at = text.find("SMS_EXECUTIVE").unwrap();
    invalid_utf8[at] = 0xff;
    // Damaged message lines: set aside, the others commit.
    let set_aside: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wrong-type.batch",
            text.replace("\"message_id\":2", "\"message_id\":\"two\"").into(),
            "line 3: ",
        ),
        (
            "not-a-message.batch",
            join(&[lines[0], lines[1], "{\"a\":1}", lines[3]]).into(),
            "line 3: ",
        ),
        (
            "nul-bytes.batch",
            text.replacen("SMS_EXECUTIVE", "SMS\0EXEC", 1).into(),
            "line 2: ",
        ),
        (
            "control-char.batch",
            text.replacen("SMS_EXECUTIVE", "SMS\u{1b}[2J", 1).into(),
            "line 2: ",
        ),
        ("raw-ff.batch", invalid_utf8, "line 2: "),
    ];
    let retry = root.join("retry");
    for (name, body, _) in refused.iter().chain(&set_aside) {
        fs::write(retry.join(name), body).unwrap();
    }
    // A repair by hand that keeps the file valid: it commits as edited.
    let other = String::from_utf8(retry_bytes(&[7, 8, 9])).unwrap();
    fs::write(
        retry.join("repaired.batch"),
        other.replace("\"machine\":\"H\"", "\"machine\":\"FIXED\""),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", retry.join("link.batch")).unwrap();

    let p = Proc::start(&root, &["--rescan", "100"]);
    wait_for(Duration::from_secs(30), "every retry file judged", || {
        files_in(&root, "retry").is_empty() && row_count(&root) == 6
    });
    for (name, body, needle) in &refused {
        let why = reason(&root, name);
        assert!(
            why.contains(needle),
            "{name}: reason {why:?} should mention {needle:?}"
        );
        assert_eq!(
            &fs::read(root.join("corrupt").join(name)).unwrap(),
            body,
            "{name} kept whole"
        );
    }
    for (name, _, needle) in &set_aside {
        let (lines, why) = bad_lines(&root, name);
        assert_eq!(lines.len(), 1, "{name}: one bad line");
        assert!(
            why.contains("1 lines are not valid messages") && why.contains(needle),
            "{name}: reason {why:?} should mention {needle:?}"
        );
        assert!(
            !why.contains('\u{1b}') && !why.contains('\0'),
            "{name}: escaped: {why:?}"
        );
    }
    assert!(reason(&root, "link.batch").contains("not a regular file"));
    assert!(fs::symlink_metadata(root.join("corrupt/link.batch"))
        .unwrap()
        .is_symlink());
    let machines: Vec<(String, String)> = {
        let c = db(&root);
        let mut st = c
            .prepare("SELECT uid, machine FROM status_messages ORDER BY uid")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let want: Vec<(String, String)> = [
        ("u-1", "H"),
        ("u-2", "H"),
        ("u-3", "H"),
        ("u-7", "FIXED"),
        ("u-8", "FIXED"),
        ("u-9", "FIXED"),
    ]
    .iter()
    .map(|(u, m)| (u.to_string(), m.to_string()))
    .collect();
    assert_eq!(machines, want);
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success(), "the worker never crashed");
}

/// The bad lines of `name` in corrupt/ as one entry: its lines, and its reason.
fn bad_lines(root: &Path, name: &str) -> (Vec<Vec<u8>>, String) {
    let entry = format!("{name}.bad-lines");
    let text = fs::read(root.join("corrupt").join(&entry))
        .unwrap_or_else(|e| panic!("{entry}: {e}; corrupt/ holds {:?}", files_in(root, "corrupt")));
    let lines = text
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect::<Vec<_>>();
    (lines[..lines.len() - 1].to_vec(), reason(root, &entry))
}

/// Found from outside: a retry file of 50 messages with 20,000 unparseable lines appended
/// went to corrupt/ whole, so its 50 good messages were never committed. Now the 50 commit
/// and the 20,000 lines are ONE corrupt/ entry whose reason lists the first 20 and counts.
#[test]
fn a_retry_file_with_20000_bad_lines_commits_its_50_messages_and_sets_the_lines_aside_as_one_entry() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let ns: Vec<u64> = (1..=50).collect();
    let mut bytes = retry_bytes(&ns);
    let junk: Vec<Vec<u8>> = (0..20_000)
        .map(|i| match i % 4 {
            0 => format!("garbage line {i}").into_bytes(),
            1 => format!("{{\"uid\": \"x{i}\", \"message_id\": \"not a number\"}}").into_bytes(),
            2 => b"{\"broken\": ".to_vec(),
            _ => vec![b'\xff', b'{', b'\x1b', b'[', b'2', b'J'],
        })
        .collect();
    for line in &junk {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    fs::write(root.join("retry/appended.batch"), &bytes).unwrap();

    let p = Proc::start(&root, &["--rescan", "100"]);
    wait_for(Duration::from_secs(60), "the 50 messages committed", || {
        row_count(&root) == 50 && files_in(&root, "retry").is_empty()
    });
    let log = p.log_text();
    assert!(p.stop(Duration::from_secs(15)).success());
    assert_eq!(
        files_in(&root, "corrupt"),
        ["appended.batch.bad-lines", "appended.batch.bad-lines.reason"],
        "exactly one corrupt/ entry"
    );
    let (lines, why) = bad_lines(&root, "appended.batch");
    assert_eq!(lines, junk, "every bad line kept as it was, in its order");
    assert!(why.contains("20000 lines are not valid messages"), "{why}");
    assert!(why.contains("the other 50 messages of the file went on"), "{why}");
    assert!(
        why.contains("line 52: ") && why.contains("line 71: "),
        "the first 20 listed: {why}"
    );
    assert!(!why.contains("line 72: "), "only the first 20 listed: {why}");
    assert!(why.contains("... and 19980 more"), "{why}");
    assert!(!why.contains('\u{1b}'), "escaped: {why}");
    assert!(why.len() < 8192, "short: {} bytes", why.len());
    assert_eq!(
        log.matches("moved to corrupt/").count(),
        1,
        "one corrupt/ entry, one report"
    );
    let mut want: Vec<String> = ns.iter().map(|n| format!("u-{n}")).collect();
    want.sort();
    assert_eq!(uids(&root), want);
    check_database(&root);
    eprintln!("50 good + 20,000 bad lines: 50 committed, 1 corrupt/ entry of 20,000 lines");
}

/// Retry files are held to the inbox's limits: a torn header, a file over the size limit
/// (refused from its size), over the message-count limit, and a message over the string
/// limit (only that line set aside).
#[test]
fn retry_files_are_held_to_the_inbox_limits() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let retry = root.join("retry");
    // A torn header: cut in the middle, the message lines after it intact.
    let whole = retry_bytes(&[1, 2]);
    let header_end = whole.iter().position(|&b| b == b'\n').unwrap();
    let mut torn = whole[..header_end / 2].to_vec();
    torn.extend_from_slice(&whole[header_end..]);
    fs::write(retry.join("torn-header.batch"), &torn).unwrap();
    // Over the size limit (--max-file-bytes 4096, plus 1 MiB for a header): valid lines.
    let big: Vec<u64> = (100..100 + 6000).collect();
    let over = retry_bytes(&big);
    assert!(over.len() > 4096 + (1 << 20), "{} bytes", over.len());
    fs::write(retry.join("over-size.batch"), &over).unwrap();
    // Over the message-count limit (--max-messages-per-file 10).
    fs::write(
        retry.join("over-count.batch"),
        retry_bytes(&(200..211).collect::<Vec<_>>()),
    )
    .unwrap();
    // One message over the string limit (--max-string-bytes 64): only it is set aside.
    let text = String::from_utf8(retry_bytes(&[300, 301, 302])).unwrap();
    let long = text.replacen(
        "\"machine\":\"H\"",
        &format!("\"machine\":\"{}\"", "L".repeat(65)),
        2,
    );
    let long = long.replacen(
        &format!("\"machine\":\"{}\"", "L".repeat(65)),
        "\"machine\":\"H\"",
        1,
    );
    fs::write(retry.join("long-string.batch"), long).unwrap();

    let limits = [
        "--rescan",
        "100",
        "--max-file-bytes",
        "4096",
        "--max-messages-per-file",
        "10",
        "--max-string-bytes",
        "64",
    ];
    let p = Proc::start(&root, &limits);
    wait_for(Duration::from_secs(30), "every retry file judged", || {
        files_in(&root, "retry").is_empty() && row_count(&root) == 2
    });
    assert!(p.stop(Duration::from_secs(15)).success());
    let why = reason(&root, "torn-header.batch");
    assert!(why.contains("header line"), "{why}");
    assert_eq!(
        fs::read(root.join("corrupt/torn-header.batch")).unwrap(),
        torn,
        "kept whole"
    );
    let why = reason(&root, "over-size.batch");
    assert!(
        why.contains(&format!(
            "the file is {} bytes, over the limit of 1052672 bytes",
            over.len()
        )),
        "{why}"
    );
    assert!(why.contains("--max-file-bytes 4096"), "{why}");
    assert_eq!(
        fs::read(root.join("corrupt/over-size.batch")).unwrap(),
        over,
        "kept whole"
    );
    let why = reason(&root, "over-count.batch");
    assert!(why.contains("more than 10 message lines"), "{why}");
    let (lines, why) = bad_lines(&root, "long-string.batch");
    assert_eq!(lines.len(), 1);
    assert!(
        why.contains("line 3: ") && why.contains("more than the limit of 64 bytes"),
        "{why}"
    );
    assert_eq!(
        uids(&root),
        ["u-300", "u-302"],
        "never half replayed, the good lines went on"
    );
    check_database(&root);
}

/// A stuck file edited by hand (bad lines added) and requeued by the operator: its
/// messages commit and the bad lines are one corrupt/ entry; nothing stays in stuck/.
#[test]
fn a_stuck_file_with_bad_lines_requeued_commits_its_messages() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
    let mut h = RetryHeader::new(3, "rejected by a trigger", SystemTime::now());
    for _ in 0..5 {
        h.failed("rejected by a trigger", SystemTime::now());
    }
    let mut bytes = encode(&h, &[msg(1), msg(2), msg(3)]);
    bytes.extend_from_slice(b"# a note the operator typed\n{\"uid\": \"u-9\"}\n");
    fs::write(root.join("stuck/edited.batch"), &bytes).unwrap();

    let p = Proc::start(&root, &["--rescan", "100"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(row_count(&root), 0, "a stuck file waits for the operator");
    let (code, out, err) = p.cli(&["retry", "requeue", "edited.batch"]);
    assert_eq!(code, Some(0), "{out}{err}");
    wait_for(Duration::from_secs(20), "the requeued messages", || {
        row_count(&root) == 3 && files_in(&root, "retry").is_empty()
    });
    assert!(p.stop(Duration::from_secs(15)).success());
    assert!(files_in(&root, "stuck").is_empty());
    let (lines, why) = bad_lines(&root, "edited.batch");
    assert_eq!(
        lines,
        [
            b"# a note the operator typed".to_vec(),
            b"{\"uid\": \"u-9\"}".to_vec()
        ]
    );
    assert!(why.contains("2 lines are not valid messages"), "{why}");
    assert!(why.contains("line 5: ") && why.contains("line 6: "), "{why}");
    assert_eq!(uids(&root), ["u-1", "u-2", "u-3"]);
    check_database(&root);
}
