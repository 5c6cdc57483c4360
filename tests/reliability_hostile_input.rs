//! Hostile input through the real binary: deeply nested JSON, huge strings, millions of
//! tiny lines, NUL bytes, invalid UTF-8, file names with newlines, escape sequences or
//! bytes that are not UTF-8. Each bad file lands in corrupt/ with a clear reason (escaped,
//! short), memory stays bounded, nothing panics, and good files beside them commit.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use support::*;

/// Peak resident memory of a process, in KiB (VmHWM).
fn peak_rss_kib(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn reason_of(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join("corrupt").join(format!("{name}.reason"))).unwrap_or_else(|e| {
        panic!(
            "no reason for {name:?}: {e}; corrupt/ holds {:?}",
            files_in(root, "corrupt")
        )
    })
}

fn valid(n: u64) -> String {
    message(n, "HOST").to_string()
}

#[test]
fn hostile_files_get_a_clear_reason_in_bounded_memory_without_a_panic() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    // NO_COLOR: the log then holds no escape sequence of its own.
    let p = Proc::start_with_env(&root, &[], &[("NO_COLOR", "1")]);
    let huge = valid(1).replace("SMS_EXECUTIVE", &"z".repeat(7 * 1024 * 1024));
    let nul = valid(2).replace("SMS_EXECUTIVE", "SMS\0EXEC");
    let mut bad_utf8 = valid(3).into_bytes();
    let at = bad_utf8.iter().position(|&b| b == b'H').unwrap();
    bad_utf8[at] = 0xc3; // a lead byte followed by ASCII: invalid
    let mut many_bad = format!("{}\n", valid(10));
    many_bad.push_str(&"x\n".repeat(1000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "deep-array.json",
            "[".repeat(1_000_000).into_bytes(),
            "expected a JSON object",
        ),
        (
            "deep-in-object.json",
            format!("{{\"insertion_strings\":{}", "[".repeat(1_000_000)).into_bytes(),
            "expected a string, got an array",
        ),
        (
            "deep-object.jsonl",
            "{\"a\":".repeat(100_000).into_bytes(),
            "unknown field \"a\"",
        ),
        ("huge-string.json", huge.into_bytes(), "7340032 bytes long"),
        (
            "tiny-lines.jsonl",
            "1\n".repeat(2_000_000).into_bytes(),
            "more than 100000 messages",
        ),
        (
            "blank-lines.jsonl",
            "\n".repeat(4_000_000).into_bytes(),
            "empty file",
        ),
        ("nul.json", nul.into_bytes(), "control character"),
        ("invalid-utf8.json", bad_utf8, "UTF-8"),
        (
            "evil\nname\u{1b}[2J\u{1b}]0;pwned\u{7}.json",
            b"{\"uid\": \"a".to_vec(),
            "EOF",
        ),
    ];
    for (name, body, _) in &cases {
        drop_file(&root, name, body);
    }
    drop_file(&root, "many-bad-lines.jsonl", many_bad.as_bytes());
    // A hostile name on a good message: the message commits, the name is only a name.
    drop_file(&root, "ok\u{1b}[31m\nred.json", valid(20).as_bytes());
    let raw = OsStr::from_bytes(b"not-utf8-\xff\xfe.json");
    fs::write(root.join("inbox").join(raw), valid(30)).unwrap();

    wait_for(Duration::from_secs(120), "every hostile file judged", || {
        files_in(&root, "inbox").is_empty()
    });
    wait_for(Duration::from_secs(20), "the good messages", || {
        row_count(&root) == 2
    });
    let peak = peak_rss_kib(p.pid());
    let log = p.log_text();
    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");

    for (name, _, needle) in &cases {
        let why = reason_of(&root, name);
        assert!(
            why.contains(needle),
            "{name:?}: reason {why:?} should say {needle:?}"
        );
        assert!(
            why.len() < 2048,
            "{name:?}: reason is short ({} bytes)",
            why.len()
        );
        assert!(
            !why.contains('\u{1b}') && !why.contains('\0'),
            "{name:?}: reason is escaped: {why:?}"
        );
    }
    let corrupt = files_in(&root, "corrupt");
    let line_files: Vec<&String> = corrupt
        .iter()
        .filter(|n| n.starts_with("many-bad-lines.jsonl"))
        .collect();
    assert_eq!(
        line_files,
        [
            "many-bad-lines.jsonl.bad-lines",
            "many-bad-lines.jsonl.bad-lines.reason"
        ],
        "the 1,000 bad lines of one file are one entry in corrupt/"
    );
    let bad = std::fs::read(root.join("corrupt/many-bad-lines.jsonl.bad-lines")).unwrap();
    assert_eq!(
        bad.iter().filter(|&&b| b == b'\n').count(),
        1000,
        "every bad line kept"
    );
    let why = reason_of(&root, "many-bad-lines.jsonl.bad-lines");
    assert!(
        why.contains("1000 lines are not valid messages") && why.contains("... and 980 more"),
        "{why}"
    );
    let foreign: Vec<&String> = corrupt.iter().filter(|n| n.starts_with("non-utf8-")).collect();
    assert_eq!(
        foreign.len(),
        2,
        "the non-UTF-8 name, readable, with its reason: {foreign:?}"
    );
    assert!(reason_of(&root, foreign[0]).contains("not UTF-8"));
    assert!(!log.contains("panicked"), "no panic:\n{log}");
    assert!(!log.contains('\u{1b}'), "no raw escape sequence reaches the log");
    assert_eq!(uids(&root), ["u-10", "u-20"]);
    assert!(peak < 512 * 1024, "peak memory {peak} KiB: bounded");
    check_database(&root);
    eprintln!(
        "hostile input: {} hostile files + 1000 bad lines, peak memory {} MiB, 0 panics",
        cases.len() + 2,
        peak / 1024
    );
}
