//! Properties of parsing, escaping and uid derivation over generated input.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// Chars that stress escaping and JSON string escapes, mixed with arbitrary ones.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        prop::sample::select(vec![
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{61c}', '\u{200b}',
            '\u{200e}', '\u{2028}', '\u{202e}', '\u{2067}', '\u{feff}', '\\', '"', '/', 'é', '日', '🚀', 'a',
            ' ',
        ]),
    ]
}

fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max_chars).prop_map(String::from_iter)
}

fn non_empty_text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 1..max_chars).prop_map(String::from_iter)
}

fn uid() -> impl Strategy<Value = String> {
    non_empty_text(40).prop_filter("uid without control chars", |uid| !uid.chars().any(needs_escape))
}

/// RFC 3339 timestamps, with and without fraction, in UTC or with an offset.
fn time() -> impl Strategy<Value = String> {
    let date = (0..=9999u32, 1..=12u32, 1..=28u32);
    let clock = (0..24u32, 0..60u32, 0..60u32, prop::option::of(0..1_000_000u32));
    let zone = prop::option::of((any::<bool>(), 0..24u32, 0..60u32));
    (date, clock, zone).prop_map(|((y, mo, d), (h, mi, s, fraction), zone)| {
        let fraction = fraction.map(|f| format!(".{f:06}")).unwrap_or_default();
        let zone = match zone {
            None => "Z".to_owned(),
            Some((west, zh, zm)) => format!("{}{zh:02}:{zm:02}", if west { '-' } else { '+' }),
        };
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}{zone}")
    })
}

fn severity() -> impl Strategy<Value = Severity> {
    prop::sample::select(vec![Severity::Info, Severity::Warning, Severity::Error])
}

/// Any message that satisfies the default limits; `uid` is empty half the time.
fn message() -> impl Strategy<Value = Message> {
    let head = (
        prop_oneof![Just(String::new()), uid()],
        any::<i64>(),
        severity(),
        non_empty_text(30),
        non_empty_text(30),
        non_empty_text(10),
        time(),
    );
    let tail = (
        prop::option::of(text(20)),
        prop::option::of(text(20)),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        prop::collection::vec(text(20), 0..=10),
        prop::collection::btree_map(any::<i64>(), text(20), 0..8),
    );
    (head, tail).prop_map(|(head, tail)| {
        let (uid, message_id, severity, component, machine, site, time) = head;
        let (module, report_type, process_id, thread_id, win32_error, insertion_strings, attributes) = tail;
        Message {
            uid,
            message_id,
            severity,
            component,
            machine,
            site,
            time,
            module,
            report_type,
            process_id,
            thread_id,
            win32_error,
            insertion_strings,
            attributes,
        }
    })
}

/// The message with one field changed, picked by `which`, so that content differs.
fn change(message: &Message, which: usize) -> Message {
    let mut changed = message.clone();
    match which % 14 {
        0 => changed.message_id = changed.message_id.wrapping_add(1),
        1 => {
            changed.severity = match changed.severity {
                Severity::Info => Severity::Error,
                _ => Severity::Info,
            }
        }
        2 => changed.component.push('x'),
        3 => changed.machine.push('x'),
        4 => changed.site.push('x'),
        5 => changed.time.push('x'),
        6 => changed.module = changed.module.take().xor(Some(String::new())),
        7 => changed.report_type = Some(format!("{}x", changed.report_type.take().unwrap_or_default())),
        8 => changed.process_id = changed.process_id.map_or(Some(0), |v| Some(v.wrapping_add(1))),
        9 => changed.thread_id = changed.thread_id.xor(Some(0)),
        10 => changed.win32_error = Some(changed.win32_error.unwrap_or(0).wrapping_sub(1)),
        11 => changed.insertion_strings.push(String::new()),
        12 => {
            let unused = (0i64..).find(|id| !changed.attributes.contains_key(id));
            changed.attributes.insert(unused.unwrap_or(-1), String::new());
        }
        _ if changed.attributes.is_empty() => changed.attributes = BTreeMap::from([(1, "x".to_owned())]),
        _ => changed.attributes.clear(),
    }
    changed
}

/// The inbox form of `message`: without `uid` when it has none.
fn to_json(message: &Message) -> String {
    let mut value = serde_json::to_value(message).expect("serializable");
    if message.uid.is_empty() {
        value.as_object_mut().map(|object| object.remove("uid"));
    }
    value.to_string()
}

/// The characters the design says must never be shown raw, written out independently of
/// `needs_escape` so that a gap there is caught here.
fn forbidden(c: char) -> bool {
    let code = u32::from(c);
    code < 0x20
        || (0x7f..=0x9f).contains(&code)
        || matches!(code, 0x61c | 0x200b..=0x200f | 0x2028..=0x202e | 0x2066..=0x2069 | 0xfeff)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in [FileFormat::Json, FileFormat::JsonLines] {
            if let Err(rejected) = parse_file(format, &bytes, &Limits::default()) {
                prop_assert!(!rejected.reason.is_empty());
                prop_assert!(!rejected.reason.chars().any(needs_escape), "{}", rejected.reason);
            }
        }
    }

    #[test]
    fn mangled_message_never_panics(message in message(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = to_json(&message).into_bytes();
        let at = at.index(bytes.len());
        bytes[at] = byte;
        for format in [FileFormat::Json, FileFormat::JsonLines] {
            if let Ok(parsed) = parse_file(format, &bytes, &Limits::default()) {
                prop_assert!(parsed.messages.iter().all(|m| !m.uid.is_empty()));
            }
        }
    }

    #[test]
    fn serialized_message_parses_back_equal(message in message()) {
        let text = to_json(&message);
        let parsed = parse_file(FileFormat::Json, text.as_bytes(), &Limits::default());
        let parsed = parsed.map_err(|rejected| TestCaseError::fail(rejected.reason))?;
        let mut expected = message.clone();
        if expected.uid.is_empty() {
            expected.uid = derive_uid(&message);
        }
        prop_assert_eq!(&parsed.messages, &vec![expected.clone()]);
        let as_lines = format!("{text}\n{text}\n");
        let parsed = parse_file(FileFormat::JsonLines, as_lines.as_bytes(), &Limits::default());
        let parsed = parsed.map_err(|rejected| TestCaseError::fail(rejected.reason))?;
        prop_assert_eq!(parsed.messages, vec![expected.clone(), expected]);
    }

    #[test]
    fn escaped_text_holds_no_invisible_char(input in text(64)) {
        let escaped = escape_text(&input);
        prop_assert!(!escaped.chars().any(forbidden), "{:?}", escaped);
        if !input.chars().any(forbidden) {
            prop_assert_eq!(escaped, input);
        } else {
            prop_assert!(escaped.len() > input.len(), "{:?}", escaped);
        }
    }

    #[test]
    fn derived_uid_is_deterministic_and_follows_content(message in message(), which in 0..14usize) {
        let uid = derive_uid(&message);
        prop_assert_eq!(&uid, &derive_uid(&message.clone()));
        prop_assert!(uid.starts_with(DERIVED_UID_PREFIX));
        let mut renamed = message.clone();
        renamed.uid = "other".to_owned();
        prop_assert_eq!(&uid, &derive_uid(&renamed));
        let changed = change(&message, which);
        prop_assert_ne!(&changed, &message);
        prop_assert_ne!(uid, derive_uid(&changed));
    }
}
