//! Limits, hostile input (bad UTF-8, NUL, nesting, huge or torn files), escaping and uids.

use super::tests::{json, lines, refused, with, FULL, MINIMAL};
use super::*;

fn small_limits() -> Limits {
    Limits {
        max_file_bytes: 4096,
        max_messages_per_file: 3,
        max_string_bytes: 24,
        max_insertion_strings: 2,
        max_attributes: 2,
    }
}

fn refused_with(limits: &Limits, format: FileFormat, text: &[u8]) -> String {
    match parse_file(format, text, limits) {
        Ok(parsed) => panic!("accepted, expected a rejection: {parsed:?}"),
        Err(rejected) => rejected.reason,
    }
}

#[test]
fn file_over_the_size_limit_is_refused_before_parsing() {
    let limits = Limits {
        max_file_bytes: 10,
        ..Limits::default()
    };
    // Not even valid UTF-8: the size is what is reported.
    let reason = refused_with(
        &limits,
        FileFormat::JsonLines,
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    );
    assert_eq!(reason, "file is 11 bytes, more than the limit of 10 bytes");
    assert!(parse_file(FileFormat::Json, b"{\"a\":1234}", &limits).is_err_and(|r| r.reason.contains("field")));
}

#[test]
fn too_many_messages_is_refused_whole() {
    let limits = small_limits();
    let four = format!("{MINIMAL}\n{MINIMAL}\nbad\n\n{MINIMAL}\n");
    let reason = refused_with(&limits, FileFormat::JsonLines, four.as_bytes());
    assert_eq!(
        reason,
        "more than 3 messages, the limit per file (line 5 is message 4)"
    );
    let three = format!("{MINIMAL}\n{MINIMAL}\n\n{MINIMAL}\n");
    assert!(parse_file(FileFormat::JsonLines, three.as_bytes(), &limits).is_ok());
    let none = Limits {
        max_messages_per_file: 0,
        ..Limits::default()
    };
    let reason = refused_with(&none, FileFormat::Json, MINIMAL.as_bytes());
    assert_eq!(reason, "more than 0 messages, the limit per file");
}

#[test]
fn long_strings_are_refused_naming_field_and_length() {
    let limits = small_limits();
    let long = "x".repeat(25);
    let cases = [
        (with("component", &format!("\"{long}\"")), "field \"component\""),
        (with("uid", &format!("\"{long}\"")), "field \"uid\""),
        (with("module", &format!("\"{long}\"")), "field \"module\""),
        (
            with("insertion_strings", &format!("[\"a\", \"{long}\"]")),
            "field \"insertion_strings[1]\"",
        ),
        (
            with("attributes", &format!("{{\"5\": \"{long}\"}}")),
            "field \"attributes\", key \"5\"",
        ),
    ];
    for (text, field) in cases {
        let reason = refused_with(&limits, FileFormat::Json, text.as_bytes());
        let expected = format!("{field}: string is 25 bytes long, more than the limit of 24 bytes");
        assert!(reason.ends_with(&expected), "{reason}");
    }
    // The limit is in bytes, not chars: 9 three-byte chars are 27 bytes.
    let wide = with("site", &format!("\"{}\"", "日".repeat(9)));
    assert!(refused_with(&limits, FileFormat::Json, wide.as_bytes()).contains("27 bytes long"));
    let exact = with("site", &format!("\"{}\"", "x".repeat(24)));
    assert!(parse_file(FileFormat::Json, exact.as_bytes(), &limits).is_ok());
}

#[test]
fn too_many_insertion_strings_or_attributes_are_refused() {
    let limits = small_limits();
    let text = with("insertion_strings", "[\"a\",\"b\",\"c\"]");
    let reason = refused_with(&limits, FileFormat::Json, text.as_bytes());
    assert!(
        reason.ends_with("field \"insertion_strings\": more than 2 items, the limit"),
        "{reason}"
    );
    let text = with("attributes", "{\"1\":\"a\",\"2\":\"b\",\"3\":\"c\"}");
    let reason = refused_with(&limits, FileFormat::Json, text.as_bytes());
    assert!(
        reason.ends_with("field \"attributes\": more than 2 attributes, the limit"),
        "{reason}"
    );
    let two = with("insertion_strings", "[\"a\",\"b\"]");
    assert!(parse_file(FileFormat::Json, two.as_bytes(), &limits).is_ok());
}

#[test]
fn invalid_utf8_gives_its_byte_offset() {
    let mut bytes = b"{\n \"site\": \"ab".to_vec();
    bytes.extend_from_slice(b"\xc3\x28\"}");
    let reason = refused_with(&Limits::default(), FileFormat::Json, &bytes);
    assert_eq!(
        reason,
        "byte offset 14 (line 2, column 13): invalid UTF-8 (byte 0xc3)"
    );
    let cut = refused_with(&Limits::default(), FileFormat::Json, b"{\"a\": \"\xe6\x97");
    assert_eq!(
        cut,
        "byte offset 7 (line 1, column 8): invalid UTF-8 (a multi-byte character is cut off at the end)"
    );

    let mut file = format!("{MINIMAL}\n").into_bytes();
    file.extend_from_slice(b"{\"site\": \"\xff\"}\n");
    let parsed = parse_file(FileFormat::JsonLines, &file, &Limits::default()).expect("first line good");
    assert_eq!(parsed.rejected[0].line, 2);
    assert_eq!(parsed.rejected[0].text, b"{\"site\": \"\xff\"}");
    assert_eq!(
        parsed.rejected[0].reason,
        "line 2, column 11: invalid UTF-8 (byte 0xff)"
    );
}

#[test]
fn byte_order_mark_is_refused_clearly() {
    let text = format!("\u{feff}{MINIMAL}");
    assert!(refused(&text).starts_with("file starts with a UTF-8 byte order mark"));
}

#[test]
fn nul_bytes_are_refused_raw_and_kept_escaped() {
    let raw = MINIMAL.replace("\"disk\"", "\"di\0sk\"");
    assert_eq!(
        refused(&raw),
        "line 1, column 50: control character (\\u0000-\\u001F) found while parsing a string"
    );
    let escaped = with("component", "\"di\\u0000sk\"");
    assert_eq!(json(&escaped).expect("valid").messages[0].component, "di\0sk");
    assert!(refused("\0").starts_with("line 1, column 1: expected value"));
}

#[test]
fn deep_nesting_gets_a_reason_not_a_stack_overflow() {
    let deep = "[".repeat(200_000);
    assert_eq!(
        refused(&deep),
        "line 1, column 1: expected a JSON object, got an array"
    );
    let in_field = with("attributes", "{}").replace("{}", &format!("{{\"1\": {deep}"));
    let reason = refused(&in_field);
    assert!(
        reason.contains("field \"attributes\", key \"1\": expected a string, got an array"),
        "{reason}"
    );
    let objects = "{\"a\":".repeat(100_000);
    assert!(refused(&objects).ends_with("unknown field \"a\""));
    let parsed = lines(&format!("{MINIMAL}\n{deep}\n")).expect("first line good");
    assert!(parsed.rejected[0]
        .reason
        .starts_with("line 2, column 1: expected a JSON object"));
}

#[test]
fn producer_text_in_reasons_is_escaped_and_short() {
    let hostile = format!("\\u001b[31m\\u202e{}", "x".repeat(1_000_000));
    let text = with("severity", "\"x\"").replace("\"x\"", &format!("\"{hostile}\""));
    let reason = refused(&text);
    assert!(reason.len() < 300, "{} bytes", reason.len());
    assert!(!reason.chars().any(needs_escape), "{reason}");
    assert!(reason.contains("got \"\\u{1b}[31m\\u{202e}xxx"), "{reason}");
    assert!(reason.ends_with("\"... (1000008 bytes)"), "{reason}");
    let key = format!("\"sev\\u0007{}\"", "y".repeat(10_000));
    let reason = refused(&with("attributes", "{}").replace("\"attributes\"", &key));
    assert!(
        reason.len() < 300 && !reason.chars().any(needs_escape),
        "{reason}"
    );
}

#[test]
fn huge_string_is_refused_with_bounded_reason() {
    let limits = Limits::default();
    let text = with("component", &format!("\"{}\"", "z".repeat(7 * 1024 * 1024)));
    let reason = refused_with(&limits, FileFormat::Json, text.as_bytes());
    assert!(reason
        .ends_with("field \"component\": string is 7340032 bytes long, more than the limit of 4096 bytes"));
}

#[test]
fn millions_of_tiny_lines_are_handled() {
    let blank = "\n".repeat(4_000_000);
    assert!(lines(&blank).expect_err("blank").reason.starts_with("empty file"));
    let tiny = "1\n".repeat(2_000_000);
    let reason = lines(&tiny).expect_err("too many").reason;
    assert_eq!(
        reason,
        "more than 100000 messages, the limit per file (line 100001 is message 100001)"
    );
    let mut many = format!("{MINIMAL}\n").repeat(50_000);
    many.push_str(&"x\n".repeat(50_000));
    let parsed = lines(&many).expect("half good");
    assert_eq!((parsed.messages.len(), parsed.rejected.len()), (50_000, 50_000));
    assert_eq!(parsed.rejected[49_999].line, 100_000);
}

#[test]
fn torn_document_is_never_a_panic_and_only_whole_parses() {
    let document = format!("{FULL}\n");
    for end in 0..=document.len() {
        let prefix = &document.as_bytes()[..end];
        let result = parse_file(FileFormat::Json, prefix, &Limits::default());
        // Only the whole object (with or without the final newline) is a message.
        let whole = end >= FULL.len();
        assert_eq!(result.is_ok(), whole, "prefix of {end} bytes: {result:?}");
        if let Err(rejected) = result {
            assert!(!rejected.reason.is_empty() && !rejected.reason.chars().any(needs_escape));
        }
    }
    let two = format!("{MINIMAL}\n{}\n", FULL.replace('\n', ""));
    for end in 0..=two.len() {
        let parsed = parse_file(FileFormat::JsonLines, &two.as_bytes()[..end], &Limits::default());
        let expected_messages = usize::from(end >= MINIMAL.len()) + usize::from(end + 1 >= two.len());
        assert_eq!(
            parsed.map(|p| p.messages.len()).unwrap_or(0),
            expected_messages,
            "{end}"
        );
    }
}

#[test]
fn escape_text_escapes_every_invisible_class() {
    assert_eq!(escape_text("a\u{1b}[31mb"), "a\\u{1b}[31mb");
    assert_eq!(escape_text("\t\n\r\0\u{7f}"), "\\u{9}\\u{a}\\u{d}\\u{0}\\u{7f}");
    assert_eq!(escape_text("\u{80}\u{9b}\u{9f}"), "\\u{80}\\u{9b}\\u{9f}");
    let bidi = "\u{61c}\u{200e}\u{200f}\u{202a}\u{202e}\u{2066}\u{2069}";
    assert_eq!(
        escape_text(bidi),
        "\\u{61c}\\u{200e}\\u{200f}\\u{202a}\\u{202e}\\u{2066}\\u{2069}"
    );
    assert_eq!(
        escape_text("\u{200b}\u{200d}\u{2028}\u{2029}\u{feff}"),
        "\\u{200b}\\u{200d}\\u{2028}\\u{2029}\\u{feff}"
    );
    for plain in [
        "",
        "plain ascii ~!",
        "back\\slash",
        "日本語",
        "🚀 emoji",
        "é\u{301}",
        "\u{a0}nbsp",
    ] {
        assert_eq!(escape_text(plain), plain);
    }
    assert_eq!(
        quote(&"é".repeat(100)),
        format!("\"{}\"... (200 bytes)", "é".repeat(80))
    );
}

#[test]
fn derived_uid_depends_on_content_only() {
    let base = json(MINIMAL).expect("valid").messages.remove(0);
    // Same content, other key order and spacing: same uid.
    let reordered = r#"{ "time": "2024-01-02T03:04:05Z", "site": "S01", "machine": "host-1",
        "component": "disk", "severity": "info", "message_id": 7 }"#;
    assert_eq!(json(reordered).expect("valid").messages[0].uid, base.uid);
    let a = json(&with("attributes", r#"{"2":"b","1":"a"}"#))
        .expect("valid")
        .messages
        .remove(0);
    let b = json(&with("attributes", r#"{"1":"a","2":"b"}"#))
        .expect("valid")
        .messages
        .remove(0);
    assert_eq!(a.uid, b.uid);
    // A producer's uid does not enter the hash.
    let mut named = base.clone();
    named.uid = "mine".to_owned();
    assert_eq!(derive_uid(&named), base.uid);
    // Absent and empty optional text differ; so do fields whose text could run together.
    let empty_module = json(&with("module", "\"\"")).expect("valid").messages.remove(0);
    assert_ne!(empty_module.uid, base.uid);
    let mut shifted = base.clone();
    shifted.machine = "host-1S".to_owned();
    shifted.site = "01".to_owned();
    assert_ne!(derive_uid(&shifted), base.uid);
    let mut moved = base.clone();
    moved.insertion_strings = vec!["ab".to_owned()];
    let mut split = base.clone();
    split.insertion_strings = vec!["a".to_owned(), "b".to_owned()];
    assert_ne!(derive_uid(&moved), derive_uid(&split));
}
