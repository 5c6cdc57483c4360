//! Hostile input, generated: the retry-file decoder (with the inbox's limits), the file-name validator and resolver,
//! and the retry schedule against a simple reference model.
//!
//! Cases per property: STATMGR_PROPTEST_CASES (default 256; full size 10000). Every test
//! prints its seed; replay a failure with STATMGR_SEED=<seed>.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use statmgr::api::wire::Attempt;
use statmgr::config::Limits;
use statmgr::message::{needs_escape, Message, Severity};
use statmgr::processor::dirs::{resolve_regular_file, validate_file_name, ResolveError};
use statmgr::processor::retry::RetrySchedule;
use statmgr::processor::retry_file::{decode, encode, RetryHeader, FORMAT_VERSION};

fn config(test: &str) -> Config {
    let seed: u64 = std::env::var("STATMGR_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let cases: u32 = std::env::var("STATMGR_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    eprintln!("{test}: {cases} cases, seed {seed} (replay with STATMGR_SEED={seed})");
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        prop::sample::select(vec![
            '\0', '\n', '\r', '\u{1b}', '\u{7f}', '\u{2028}', '\u{202e}', '\u{feff}', '\\', '"', '/', '.',
            'a', ' ',
        ]),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max).prop_map(String::from_iter)
}

/// A message as the inbox accepts it (only such messages are ever written to a retry
/// file, and they are read back with the inbox's checks): a uid without control
/// characters, non-empty component, machine and site, an RFC 3339 time.
fn message() -> impl Strategy<Value = Message> {
    let time = (2000..2100i32, 1..=12u32, 1..=28u32, 0..24u32, 0..60u32, 0..60u32)
        .prop_map(|(y, mo, d, h, mi, s)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"));
    let head = (
        text(20).prop_map(|t| format!("u{}", t.chars().filter(|&c| !needs_escape(c)).collect::<String>())),
        any::<i64>(),
        0..3u8,
        text(12).prop_map(|t| format!("c{t}")),
        text(12).prop_map(|t| format!("m{t}")),
        text(6).prop_map(|t| format!("s{t}")),
        time,
    );
    let tail = (
        prop::option::of(text(10)),
        prop::option::of(any::<i64>()),
        prop::collection::vec(text(10), 0..4),
        prop::collection::btree_map(any::<i64>(), text(10), 0..4),
    );
    (head, tail).prop_map(|(h, t)| Message {
        uid: h.0,
        message_id: h.1,
        severity: [Severity::Info, Severity::Warning, Severity::Error][h.2 as usize],
        component: h.3,
        machine: h.4,
        site: h.5,
        time: h.6,
        module: t.0,
        report_type: None,
        process_id: t.1,
        thread_id: None,
        win32_error: None,
        insertion_strings: t.2,
        attributes: t.3,
    })
}

fn header(messages: usize) -> impl Strategy<Value = RetryHeader> {
    (
        any::<u32>(),
        text(40),
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(text(10), 0..3),
    )
        .prop_map(
            move |(attempts, last_error, created_ms, next_attempt_ms, history)| RetryHeader {
                statmgr_retry: FORMAT_VERSION,
                messages: messages as u64,
                attempts,
                last_error,
                created_ms,
                next_attempt_ms,
                history: history
                    .into_iter()
                    .map(|error| Attempt {
                        time: "2026-11-23T10:00:00Z".into(),
                        error,
                    })
                    .collect(),
            },
        )
}

fn retry_file() -> impl Strategy<Value = (RetryHeader, Vec<Message>)> {
    prop::collection::vec(message(), 0..5).prop_flat_map(|msgs| (header(msgs.len()), Just(msgs)))
}

/// Whatever the bytes, the decoder answers without panicking, and never half replays:
/// what it returns fits the header, either the messages alone (bad lines were added) or
/// the messages and the bad lines together (message lines were damaged); every bad line
/// is returned, to be set aside in corrupt/.
fn decodes_whole_or_refuses(bytes: &[u8]) {
    if let Ok(d) = decode(bytes, &Limits::default()) {
        let (good, bad) = (d.messages.len() as u64, d.rejected.len() as u64);
        assert!(
            d.header.messages == good || d.header.messages == good + bad,
            "header {}, {good} messages, {bad} bad lines",
            d.header.messages
        );
    }
}

proptest! {
    #![proptest_config(config("retry-file decoder"))]

    #[test]
    fn retry_files_round_trip((h, msgs) in retry_file()) {
        let d = decode(&encode(&h, &msgs), &Limits::default()).expect("a written file reads back");
        prop_assert_eq!(d.header, h);
        prop_assert_eq!(d.messages, msgs);
        prop_assert!(d.rejected.is_empty());
    }

    #[test]
    fn any_truncation_is_refused((h, msgs) in retry_file(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&h, &msgs);
        let cut = cut.index(bytes.len());
        prop_assert!(decode(&bytes[..cut], &Limits::default()).is_err(), "torn at {} of {}", cut, bytes.len());
    }

    #[test]
    fn a_lost_or_doubled_message_line_is_refused(
        (h, msgs) in retry_file().prop_filter("has messages", |(_, m)| !m.is_empty()),
        which in any::<prop::sample::Index>(),
        double in any::<bool>(),
    ) {
        let text = encode(&h, &msgs);
        let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        let i = 1 + which.index(lines.len() - 1);
        if double { lines.insert(i, lines[i]); } else { lines.remove(i); }
        prop_assert!(decode(&lines.concat(), &Limits::default()).is_err());
    }

    #[test]
    fn mutated_bytes_never_panic_nor_half_replay(
        (h, msgs) in retry_file(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode(&h, &msgs);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        decodes_whole_or_refuses(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        decodes_whole_or_refuses(&bytes);
    }
}

/// The reference: what a bare file name is (DESIGN.md, the API: "a file is named by its
/// bare name ... `../`, absolute paths and links are refused").
fn is_bare_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s != "."
        && s != ".."
        && !s.contains('/')
        && !s.contains('\\')
        && !s.chars().any(char::is_control)
        && !s.starts_with('.')
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        text(20),
        prop::collection::vec(
            prop::sample::select(vec!["..", ".", "/", "a", "\\", "\0", "\n", "é"]),
            0..6
        )
        .prop_map(|parts| parts.concat()),
        (1..300usize).prop_map(|n| "x".repeat(n)),
    ]
}

proptest! {
    #![proptest_config(config("file-name validator"))]

    #[test]
    fn validator_matches_the_reference_and_stays_in_its_directory(s in name()) {
        let verdict = validate_file_name(&s);
        prop_assert_eq!(verdict.is_ok(), is_bare_name(&s), "{:?}", s);
        match verdict {
            Ok(()) => {
                let dir = Path::new("/state/retry");
                let joined = dir.join(&s);
                prop_assert_eq!(joined.parent(), Some(dir));
                prop_assert_eq!(joined.file_name().and_then(|n| n.to_str()), Some(s.as_str()));
            }
            Err(e) => {
                let shown = e.to_string();
                prop_assert!(!shown.chars().any(|c| c.is_control()), "escaped: {:?}", shown);
            }
        }
    }

    #[test]
    fn resolver_returns_only_regular_files_inside_the_directory(
        names in prop::collection::vec(name(), 1..8),
        kinds in prop::collection::vec(0..4u8, 8),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("retry");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(tmp.path().join("outside"), b"secret").unwrap();
        for (n, kind) in names.iter().zip(&kinds) {
            if !is_bare_name(n) {
                continue;
            }
            let p = dir.join(n);
            let _ = match kind {
                0 => std::fs::write(&p, b"x"),
                1 => std::os::unix::fs::symlink(tmp.path().join("outside"), &p),
                2 => std::fs::create_dir(&p),
                _ => Ok(()),
            };
        }
        for n in &names {
            match resolve_regular_file(&dir, n) {
                Ok(Some(p)) => {
                    prop_assert_eq!(p.parent(), Some(dir.as_path()));
                    prop_assert!(std::fs::symlink_metadata(&p).unwrap().is_file());
                }
                Ok(None) => prop_assert!(is_bare_name(n)),
                Err(ResolveError::BadName(_)) => prop_assert!(!is_bare_name(n)),
                Err(ResolveError::NotRegular(_)) => {
                    prop_assert!(!std::fs::symlink_metadata(dir.join(n)).unwrap().is_file());
                }
                Err(e) => prop_assert!(false, "{n:?}: {e}"),
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Schedule(u8, u16),
    Remove(u8),
    PopDue(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..12u8, 0..1000u16).prop_map(|(n, t)| Op::Schedule(n, t)),
        (0..12u8).prop_map(Op::Remove),
        (0..1200u16).prop_map(Op::PopDue),
    ]
}

/// The reference schedule: a map from name to due time; the file served is the one due
/// soonest (ties: the smaller name), if it is due.
#[derive(Default)]
struct Model(HashMap<String, Instant>);

impl Model {
    fn pop_due(&mut self, now: Instant) -> Option<String> {
        let (name, _) = self
            .0
            .iter()
            .map(|(n, at)| (n.clone(), *at))
            .min_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)))
            .filter(|(_, at)| *at <= now)?;
        self.0.remove(&name);
        Some(name)
    }
}

proptest! {
    #![proptest_config(config("retry schedule model"))]

    #[test]
    fn the_schedule_behaves_like_its_reference(ops in prop::collection::vec(op(), 0..200)) {
        let base = Instant::now();
        let at = |ms: u16| base + Duration::from_millis(ms as u64);
        let mut real = RetrySchedule::default();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Schedule(n, t) => {
                    real.schedule(&format!("f{n}"), at(t));
                    model.0.insert(format!("f{n}"), at(t));
                }
                Op::Remove(n) => {
                    real.remove(&format!("f{n}"));
                    model.0.remove(&format!("f{n}"));
                }
                Op::PopDue(t) => prop_assert_eq!(real.pop_due(at(t)), model.pop_due(at(t))),
            }
            prop_assert_eq!(real.len(), model.0.len());
            prop_assert_eq!(real.next_due(), model.0.values().min().copied());
            let mut names: Vec<String> = real.names().map(str::to_string).collect();
            names.sort();
            let mut want: Vec<String> = model.0.keys().cloned().collect();
            want.sort();
            prop_assert_eq!(names, want);
        }
    }
}

#[test]
fn header_clamp_is_bounded_for_any_wall_clock_time() {
    use statmgr::processor::retry::due_from_header;
    let max = Duration::from_secs(300);
    let now = Instant::now();
    let wall = statmgr::processor::retry_file::ms_since_epoch(SystemTime::now());
    for ms in [
        0,
        1,
        wall - 86_400_000,
        wall,
        wall + 86_400_000,
        u64::MAX / 2,
        u64::MAX,
    ] {
        let due = due_from_header(ms, now, max);
        assert!(due >= now && due <= now + max, "{ms}");
    }
}
