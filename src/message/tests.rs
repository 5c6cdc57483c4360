//! Parsing and validation of well-formed and malformed message files, rule by rule.

use super::*;

/// A valid message with only the required fields, as one line of JSON.
pub(super) const MINIMAL: &str = r#"{"message_id":7,"severity":"info","component":"disk","machine":"host-1","site":"S01","time":"2024-01-02T03:04:05Z"}"#;

pub(super) const FULL: &str = r#"{
  "uid": "producer-42",
  "message_id": 1001,
  "severity": "warning",
  "component": "Distribution Manager",
  "machine": "SRV01",
  "site": "P01",
  "time": "2024-05-06T07:08:09.123+02:00",
  "module": "SMS Server",
  "report_type": "milestone",
  "process_id": 4242,
  "thread_id": -1,
  "win32_error": 5,
  "insertion_strings": ["a", "", "日本語 🚀"],
  "attributes": {"404": "x", "12": "y"}
}"#;

pub(super) fn json(text: &str) -> Result<ParsedFile, FileRejected> {
    parse_file(FileFormat::Json, text.as_bytes(), &Limits::default())
}

pub(super) fn lines(text: &str) -> Result<ParsedFile, FileRejected> {
    parse_file(FileFormat::JsonLines, text.as_bytes(), &Limits::default())
}

/// The reason a `.json` file is refused; fails the test if it is accepted.
pub(super) fn refused(text: &str) -> String {
    match json(text) {
        Ok(parsed) => panic!("accepted, expected a rejection: {parsed:?}"),
        Err(rejected) => rejected.reason,
    }
}

/// `MINIMAL` with `field` set to the raw JSON `value` (added when absent).
pub(super) fn with(field: &str, value: &str) -> String {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(MINIMAL).expect("MINIMAL is an object");
    let value = serde_json::from_str(value).expect("test value is JSON");
    object.insert(field.to_owned(), value);
    serde_json::to_string(&object).expect("serializable")
}

fn without(field: &str) -> String {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(MINIMAL).expect("MINIMAL is an object");
    object.remove(field);
    serde_json::to_string(&object).expect("serializable")
}

#[test]
fn full_message_keeps_every_field_as_given() {
    let parsed = json(FULL).expect("valid");
    assert!(parsed.rejected.is_empty());
    let message = &parsed.messages[0];
    assert_eq!(message.uid, "producer-42");
    assert_eq!(message.message_id, 1001);
    assert_eq!(message.severity, Severity::Warning);
    assert_eq!(message.component, "Distribution Manager");
    assert_eq!(
        (message.machine.as_str(), message.site.as_str()),
        ("SRV01", "P01")
    );
    assert_eq!(message.time, "2024-05-06T07:08:09.123+02:00");
    assert_eq!(message.module.as_deref(), Some("SMS Server"));
    assert_eq!(message.report_type.as_deref(), Some("milestone"));
    assert_eq!(
        (message.process_id, message.thread_id, message.win32_error),
        (Some(4242), Some(-1), Some(5))
    );
    assert_eq!(message.insertion_strings, ["a", "", "日本語 🚀"]);
    let attributes: Vec<_> = message.attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(attributes, [(12, "y"), (404, "x")]);
}

#[test]
fn message_without_uid_gets_the_derived_one() {
    let message = json(MINIMAL).expect("valid").messages.remove(0);
    assert!(message.uid.starts_with("sha256:"), "{}", message.uid);
    assert_eq!(message.uid.len(), "sha256:".len() + 64);
    let mut unnamed = message.clone();
    unnamed.uid = String::new();
    assert_eq!(derive_uid(&unnamed), message.uid);
}

#[test]
fn serialized_message_parses_back_equal() {
    let message = json(FULL).expect("valid").messages.remove(0);
    let text = serde_json::to_string(&message).expect("serializable");
    assert_eq!(json(&text).expect("valid").messages, [message]);
}

#[test]
fn null_optional_fields_are_absent() {
    for field in [
        "uid",
        "module",
        "report_type",
        "process_id",
        "thread_id",
        "win32_error",
    ] {
        let with_null = json(&with(field, "null")).expect("null accepted");
        assert_eq!(with_null, json(MINIMAL).expect("valid"), "{field}");
    }
    let parsed = json(&with("insertion_strings", "null")).expect("null accepted");
    assert!(parsed.messages[0].insertion_strings.is_empty());
    let parsed = json(&with("attributes", "null")).expect("null accepted");
    assert!(parsed.messages[0].attributes.is_empty());
}

#[test]
fn null_required_field_is_refused_naming_it() {
    let reason = refused(&with("site", "null"));
    assert!(
        reason.ends_with("field \"site\": expected a string, got null"),
        "{reason}"
    );
    let reason = refused(&with("message_id", "null"));
    assert!(
        reason.ends_with("field \"message_id\": expected an integer, got null"),
        "{reason}"
    );
}

#[test]
fn unknown_field_is_refused_by_name_with_a_guess() {
    let typo = MINIMAL.replace("\"severity\"", "\"severty\"");
    assert_eq!(
        refused(&typo),
        "line 1, column 25: unknown field \"severty\" (did you mean \"severity\"?)"
    );
    let reason = refused(&with("colour", "\"red\""));
    assert!(reason.ends_with(": unknown field \"colour\""), "{reason}");
}

#[test]
fn bad_severity_reason_gives_line_column_and_field() {
    let bad = MINIMAL.replace("\"info\"", "\"fatal\"");
    let parsed = lines(&format!("{MINIMAL}\n\n{bad}\n")).expect("one line is good");
    assert_eq!(parsed.messages.len(), 1);
    assert_eq!(parsed.rejected.len(), 1);
    let rejected = &parsed.rejected[0];
    assert_eq!(rejected.line, 3);
    assert_eq!(rejected.text, bad.as_bytes());
    assert_eq!(
        rejected.reason,
        "line 3, column 34: field \"severity\": expected one of info, warning, error, got \"fatal\""
    );
    let reason = refused(&MINIMAL.replace("\"info\"", "\"Info\""));
    assert!(reason.ends_with("got \"Info\""), "{reason}");
}

#[test]
fn wrong_types_name_the_field_and_what_came() {
    let cases = [
        (
            "message_id",
            "\"7\"",
            "field \"message_id\": expected an integer, got string \"7\"",
        ),
        (
            "message_id",
            "7.5",
            "field \"message_id\": expected an integer, got number 7.5",
        ),
        (
            "severity",
            "2",
            "field \"severity\": expected one of info, warning, error, got integer 2",
        ),
        (
            "component",
            "true",
            "field \"component\": expected a string, got boolean true",
        ),
        (
            "machine",
            "[\"a\"]",
            "field \"machine\": expected a string, got an array",
        ),
        ("time", "{}", "field \"time\": expected a string, got an object"),
        (
            "module",
            "1",
            "field \"module\": expected a string, got integer 1",
        ),
        (
            "process_id",
            "\"12\"",
            "field \"process_id\": expected an integer, got string \"12\"",
        ),
        (
            "insertion_strings",
            "\"a\"",
            "field \"insertion_strings\": expected an array of strings, got string \"a\"",
        ),
        (
            "insertion_strings",
            "[\"a\", 3]",
            "field \"insertion_strings[1]\": expected a string, got integer 3",
        ),
        (
            "insertion_strings",
            "[null]",
            "field \"insertion_strings[0]\": expected a string, got null",
        ),
        (
            "attributes",
            "[]",
            "field \"attributes\": expected an object mapping attribute ids to strings, got an array",
        ),
        (
            "attributes",
            "{\"3\": 4}",
            "field \"attributes\", key \"3\": expected a string, got integer 4",
        ),
        (
            "attributes",
            "{\"x3\": \"a\"}",
            "field \"attributes\": key \"x3\" is not an integer attribute id",
        ),
        (
            "win32_error",
            "9223372036854775808",
            "field \"win32_error\": integer 9223372036854775808 does not fit in 64 signed bits",
        ),
    ];
    for (field, value, expected) in cases {
        let reason = refused(&with(field, value));
        assert!(reason.starts_with("line 1, column "), "{reason}");
        assert!(reason.ends_with(expected), "{field}={value}: {reason}");
    }
}

#[test]
fn missing_required_fields_are_all_named() {
    let reason = refused(&without("time"));
    assert!(reason.ends_with(": missing required field \"time\""), "{reason}");
    let reason = refused("{\"severity\":\"info\",\"site\":\"s\"}");
    assert!(
        reason.ends_with(": missing required fields \"message_id\", \"component\", \"machine\", \"time\""),
        "{reason}"
    );
}

#[test]
fn field_given_twice_is_refused() {
    let twice = MINIMAL.replace("\"site\":\"S01\"", "\"site\":\"S01\",\"site\":\"S02\"");
    assert!(refused(&twice).ends_with(": field \"site\" appears twice"));
    let reason = refused(&with("attributes", "{\"12\":\"a\",\"012\":\"b\"}"));
    assert!(
        reason.ends_with("field \"attributes\": attribute 12 appears twice"),
        "{reason}"
    );
}

#[test]
fn required_strings_must_not_be_empty() {
    for field in ["component", "machine", "site", "uid"] {
        let reason = refused(&with(field, "\"\""));
        assert!(
            reason.ends_with(&format!("field \"{field}\": must not be empty")),
            "{reason}"
        );
    }
    // Optional text may be empty.
    assert!(json(&with("module", "\"\"")).is_ok());
}

#[test]
fn uid_with_a_control_character_is_refused() {
    let reason = refused(&with("uid", "\"ab\\u001bc\""));
    assert!(
        reason.ends_with("field \"uid\": contains the control character \\u{1b} at byte 2"),
        "{reason}"
    );
    let reason = refused(&with("uid", "\"a\\u202Eb\""));
    assert!(
        reason.ends_with("contains the control character \\u{202e} at byte 1"),
        "{reason}"
    );
}

#[test]
fn time_must_be_rfc3339_and_is_kept_as_given() {
    for bad in [
        "\"2024-13-01T00:00:00Z\"",
        "\"yesterday\"",
        "\"2024-01-02\"",
        "\"2024-01-02T03:04:05\"",
    ] {
        let reason = refused(&with("time", bad));
        assert!(reason.contains("field \"time\": "), "{reason}");
        assert!(reason.contains("is not an RFC 3339 timestamp"), "{reason}");
    }
    let parsed = json(&with("time", "\"2024-01-02T03:04:05.000001-07:30\"")).expect("valid");
    assert_eq!(parsed.messages[0].time, "2024-01-02T03:04:05.000001-07:30");
}

#[test]
fn syntax_errors_give_line_and_column() {
    let broken = "{\n  \"message_id\": 7,\n  \"severity\" \"info\"\n}";
    assert_eq!(refused(broken), "line 3, column 14: expected `:`");
    assert_eq!(
        refused(&format!("{MINIMAL}\n{MINIMAL}")),
        "line 2, column 1: trailing characters"
    );
    assert_eq!(
        refused("{\"message_id\": 7,"),
        "line 1, column 17: EOF while parsing a value"
    );
    let parsed = lines(&format!("{MINIMAL}\n{{\"message_id\" 1}}")).expect("first line good");
    assert_eq!(parsed.rejected[0].reason, "line 2, column 15: expected `:`");
}

#[test]
fn top_level_must_be_an_object() {
    assert_eq!(
        refused("[1, 2]"),
        "line 1, column 1: expected a JSON object, got an array"
    );
    assert_eq!(
        refused("  \"hi\"  "),
        "line 1, column 6: expected a JSON object, got string \"hi\""
    );
    assert_eq!(
        refused("null"),
        "line 1, column 4: expected a JSON object, got null"
    );
}

#[test]
fn empty_files_are_refused() {
    assert_eq!(refused(""), "empty file");
    assert_eq!(refused(" \n\t\r\n"), "empty file (only whitespace)");
    assert_eq!(lines("").expect_err("empty").reason, "empty file");
    assert_eq!(
        lines("\n  \n\r\n").expect_err("blank").reason,
        "empty file (no message, only blank lines)"
    );
}

#[test]
fn json_lines_skip_blank_lines_and_keep_line_numbers() {
    let second = MINIMAL.replace("\"message_id\":7", "\"message_id\":8");
    let text = format!("\n{MINIMAL}\r\n   \n{second}\nnot json\n");
    let parsed = lines(&text).expect("two good lines");
    let ids: Vec<i64> = parsed.messages.iter().map(|m| m.message_id).collect();
    assert_eq!(ids, [7, 8]);
    assert_eq!(parsed.rejected.len(), 1);
    assert_eq!(parsed.rejected[0].line, 5);
    assert_eq!(parsed.rejected[0].text, b"not json");
    assert_eq!(parsed.rejected[0].reason, "line 5, column 2: expected ident");
}

#[test]
fn json_lines_with_every_line_bad_is_refused_whole() {
    let reason = lines("{}\n[1]\n").expect_err("no good line").reason;
    assert_eq!(
        reason,
        "no valid message: all 2 non-empty lines are invalid; the first: line 1, column 2: missing required \
         fields \"message_id\", \"severity\", \"component\", \"machine\", \"site\", \"time\""
    );
    let reason = lines("\n\nx\n").expect_err("no good line").reason;
    assert_eq!(
        reason,
        "no valid message: the only non-empty line is invalid: line 3, column 1: expected value"
    );
}

#[test]
fn a_json_file_holds_exactly_one_message() {
    let parsed = json(&format!("\n  {MINIMAL}\n\n")).expect("whitespace around is fine");
    assert_eq!(parsed.messages.len(), 1);
}

#[test]
fn file_format_is_decided_by_name() {
    assert_eq!(FileFormat::from_name("a.json"), Some(FileFormat::Json));
    assert_eq!(FileFormat::from_name("a.jsonl"), Some(FileFormat::JsonLines));
    assert_eq!(FileFormat::from_name(".a.json"), None);
    assert_eq!(FileFormat::from_name("a.json.tmp"), None);
}
