//! Tests of the retry-file format: round trip, truncation, damaged lines, the inbox's
//! limits, chunks, and the move with a new header.

use super::*;
use crate::message::Severity;
use std::fs;

fn msg(i: i64) -> Message {
    Message {
        uid: format!("u{i}"),
        message_id: i,
        severity: Severity::Warning,
        component: "c".into(),
        machine: "m\u{1b}[2J".into(),
        site: "s".into(),
        time: "2026-11-23T10:00:00Z".into(),
        module: None,
        report_type: None,
        process_id: Some(4),
        thread_id: None,
        win32_error: None,
        insertion_strings: vec!["a".into()],
        attributes: [(7, "x".to_string())].into_iter().collect(),
    }
}

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn round_trips_and_detects_every_truncation() {
    let mut h = RetryHeader::new(3, "database is locked", SystemTime::now());
    h.failed("database is locked", SystemTime::now());
    let msgs = vec![msg(1), msg(2), msg(3)];
    let bytes = encode(&h, &msgs);
    let d = decode(&bytes, &limits()).unwrap();
    assert_eq!(d.header, h);
    assert_eq!(d.messages, msgs);
    assert!(d.rejected.is_empty());
    for cut in 0..bytes.len() {
        assert!(
            decode(&bytes[..cut], &limits()).is_err(),
            "a file torn at byte {cut} must be refused"
        );
    }
}

#[test]
fn a_damaged_or_added_line_is_set_aside_and_the_others_go_on() {
    let h = RetryHeader::new(2, "x", SystemTime::now());
    let bytes = encode(&h, &[msg(1), msg(2)]);
    let text = String::from_utf8(bytes.clone())
        .unwrap()
        .replace("\"message_id\":2", "\"message_id\":\"two\"");
    let d = decode(text.as_bytes(), &limits()).unwrap();
    assert_eq!(d.messages, [msg(1)]);
    assert_eq!(d.rejected.len(), 1);
    assert_eq!(d.rejected[0].line, 3);
    assert!(d.rejected[0].reason.contains("message_id"), "{:?}", d.rejected);
    // Junk appended to a whole file: both messages go on.
    let mut added = bytes.clone();
    added.extend_from_slice(b"not a message\n\n{\"uid\":\"x\"}\n");
    let d = decode(&added, &limits()).unwrap();
    assert_eq!(d.messages, [msg(1), msg(2)]);
    assert_eq!(d.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), [4, 6]);
    // A doubled line fits the header neither way: refused whole.
    let last = encode(&h, &[msg(2)]);
    let line = &last[last[..last.len() - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1..];
    let mut doubled = bytes.clone();
    doubled.extend_from_slice(line);
    let why = decode(&doubled, &limits()).unwrap_err().to_string();
    assert!(why.contains("header says 2 messages, the file holds 3"), "{why}");
    // Every line lost, three junk lines instead: refused whole, with a reason.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lost = format!(
        "{}junk\njunk\njunk\n",
        text.lines().next().unwrap().to_owned() + "\n"
    );
    let why = decode(lost.as_bytes(), &limits()).unwrap_err().to_string();
    assert!(
        why.contains("header says 2 messages, the file holds 0 and 3 lines that are not messages"),
        "{why}"
    );
}

#[test]
fn the_inbox_limits_hold() {
    let small = Limits {
        max_messages_per_file: 2,
        max_string_bytes: 25,
        ..Limits::default()
    };
    let h = RetryHeader::new(3, "x", SystemTime::now());
    let why = decode(&encode(&h, &[msg(1), msg(2), msg(3)]), &small)
        .unwrap_err()
        .to_string();
    assert!(why.contains("more than 2 message lines"), "{why}");
    let mut long = msg(1);
    long.component = "c".repeat(26);
    let h = RetryHeader::new(2, "x", SystemTime::now());
    let d = decode(&encode(&h, &[msg(2), long]), &small).unwrap();
    assert_eq!(d.messages, [msg(2)]);
    assert!(
        d.rejected[0].reason.contains("more than the limit of 25 bytes"),
        "{:?}",
        d.rejected
    );
}

#[test]
fn an_over_size_file_is_refused_from_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.batch");
    let tiny = Limits {
        max_file_bytes: 10,
        ..Limits::default()
    };
    let h = RetryHeader::new(0, "x", SystemTime::now());
    let mut bytes = encode(&h, &[]);
    bytes.resize(max_file_bytes(&tiny) as usize + 1, b'\n');
    fs::write(&path, &bytes).unwrap();
    let why = read(&path, &tiny).unwrap_err().to_string();
    assert!(why.contains("over the limit of 1048586 bytes"), "{why}");
    bytes.pop();
    fs::write(&path, &bytes).unwrap();
    assert!(read(&path, &tiny).is_ok());
}

#[test]
fn chunks_keep_every_file_within_the_limits() {
    let msgs: Vec<Message> = (0..10).map(msg).collect();
    let line = encode(&RetryHeader::new(0, "", SystemTime::now()), &msgs[..1]).len();
    let by_count = Limits {
        max_messages_per_file: 4,
        ..Limits::default()
    };
    let sizes: Vec<usize> = chunks(&msgs, &by_count).iter().map(|c| c.len()).collect();
    assert_eq!(sizes, [4, 4, 2]);
    let by_bytes = Limits {
        max_file_bytes: 3 * line as u64,
        ..Limits::default()
    };
    for chunk in chunks(&msgs, &by_bytes) {
        let bytes = encode(
            &RetryHeader::new(chunk.len() as u64, "", SystemTime::now()),
            chunk,
        );
        let d = decode(&bytes, &by_bytes).unwrap();
        assert_eq!(d.messages, chunk);
    }
    assert_eq!(chunks(&msgs, &by_bytes).concat(), msgs);
    let tiny = Limits {
        max_file_bytes: 1,
        ..Limits::default()
    };
    assert_eq!(chunks(&msgs, &tiny).len(), 10, "one message per file at least");
    assert!(chunks(&[], &tiny).is_empty());
}

#[test]
fn history_is_bounded() {
    let mut h = RetryHeader::new(1, "x", SystemTime::now());
    for i in 0..50 {
        h.failed(&format!("e{i}"), SystemTime::now());
    }
    assert_eq!(h.attempts, 50);
    assert_eq!(h.history.len(), HISTORY);
    assert_eq!(h.history.last().unwrap().error, "e49");
}
