//! Hostile producer text and absurd numbers from a server: escaped, aligned, never a panic.

mod console_support;

use console_support::samples::{detail_of, hostile_console, HOSTILE};
use console_support::{snapshot, text_of, theme, Console};
use statmgr::api::wire::FileKind;
use statmgr::tui::action::{ApiUpdate, Command};
use statmgr::tui::keymap::Key;
use statmgr::tui::sanitize;

fn assert_no_raw_controls(buffer: &ratatui::buffer::Buffer) {
    for cell in buffer.content() {
        assert!(
            !cell.symbol().chars().any(sanitize::is_unsafe),
            "raw control in cell {:?}",
            cell.symbol()
        );
    }
}

#[test]
fn hostile_text_is_escaped_and_wide_text_keeps_columns() {
    let c = hostile_console();
    let buffer = c.screen(&theme("default"));
    assert_no_raw_controls(&buffer);
    let text = text_of(&buffer);
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    assert!(text.contains("\\u{202e}"), "{text}");
    assert!(text.contains("\\u{9b}"), "{text}");
    assert!(text.contains("\\u{0}"), "{text}");
    // Every line is exactly as wide as the screen: wide characters did not shift a column.
    for line in text.lines() {
        assert_eq!(sanitize::width(line.trim_matches('"')), 100, "{line}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn hostile_text_in_the_detail_view_is_escaped() {
    let mut c = hostile_console();
    let commands = c.key(Key::Enter);
    let Some(Command::FetchDetail { name, .. }) = commands.first() else {
        panic!("Enter should fetch the detail: {commands:?}");
    };
    let summary = c.state.retry.selected_file().expect("a selected file").clone();
    c.api(ApiUpdate::Detail {
        kind: FileKind::Retry,
        name: name.clone(),
        result: Ok(Box::new(detail_of(FileKind::Retry, summary, HOSTILE[1]))),
    });
    let buffer = c.screen(&theme("default"));
    assert_no_raw_controls(&buffer);
    insta::assert_snapshot!(text_of(&buffer));
}

#[test]
fn absurd_numbers_from_a_server_never_panic() {
    let mut c = Console::running(false, 80, 24);
    let mut s = snapshot();
    s.retry.total = u64::MAX;
    s.retry.offset = u64::MAX - 3;
    s.retry.files[0].age_s = -5.0;
    s.retry.files[0].next_attempt_in_s = Some(f64::MAX);
    s.allocator.block_end = i64::MIN;
    s.allocator.next_id = i64::MIN;
    s.allocator.db_max_id = i64::MAX;
    s.inbox.bytes = u64::MAX;
    s.uptime_s = -1.0;
    s.batches[0].first_record_id = Some(i64::MIN);
    c.feed(s);
    for key in [
        Key::Char('G'),
        Key::Char('j'),
        Key::PageUp,
        Key::Char('k'),
        Key::Char('g'),
        Key::Enter,
    ] {
        c.key(key);
        let text = c.text();
        assert!(text.contains("Retry") && text.contains("q quit"), "{text}");
    }
}
