//! The message trace (`m`) and the batch drill-down (Enter on Batch commits) in the
//! console: reducer tests plus TestBackend screens (insta), watch mode included, with
//! hostile text from the processor shown escaped.

mod console_support;

use std::collections::BTreeMap;

use console_support::Console;
use statmgr::api::wire::find::{BatchMessages, FindReport, FindResult, Location, StoredMessage};
use statmgr::tui::action::{ApiUpdate, Command};
use statmgr::tui::keymap::{Context, Key};
use statmgr::tui::reduce::context;
use statmgr::tui::trace::BATCH_PAGE;

fn report() -> FindReport {
    FindReport {
        results: vec![FindResult {
            uid: "u-42".into(),
            places: vec![
                Location::Committed {
                    record_id: 1_199_958,
                    batch_id: 1199,
                    committed_at: Some("2024-05-01T12:04:59.000Z".into()),
                    received: "2024-05-01T12:04:59.012345Z".into(),
                    batch_source: Some("retry".into()),
                    source_file: Some("20240501T120000.000-000007-4242.batch".into()),
                },
                Location::Stuck {
                    file: "poison-9f2c.batch".into(),
                    attempts: 5,
                    last_error: "UNIQUE constraint failed\u{1b}[2J: status_messages.uid".into(),
                },
            ],
        }],
        index_pending: 0,
        index_files: 3,
        database_error: None,
        warnings: vec![],
    }
}

fn stored(batch_id: i64, i: i64) -> StoredMessage {
    StoredMessage {
        record_id: batch_id * 1000 + i,
        uid: format!("u-{i}"),
        message_id: 4000 + i,
        severity: ["info", "warning", "error"][(i % 3) as usize].into(),
        component: "SMS_EXECUTIVE".into(),
        machine: format!("WKS-{i:04}"),
        site: "S01".into(),
        time: "2024-05-01T12:04:58Z".into(),
        module: Some("SMS Server".into()),
        report_type: None,
        process_id: Some(4242),
        thread_id: Some(7),
        win32_error: None,
        received: "2024-05-01T12:04:59.012345Z".into(),
        batch_id,
        insertion_strings: vec![format!("site {i} closed"), "two\u{7}\u{1b}]0;pwned\u{7}".into()],
        attributes: BTreeMap::from([(400, format!("attr-{i}")), (401, "x\ty".into())]),
    }
}

fn page(id: i64, offset: u64, n: i64, total: u64) -> BatchMessages {
    BatchMessages {
        batch: console_support::batch(id, 1000, id * 1000, 14.0, "inbox"),
        total,
        offset,
        limit: BATCH_PAGE,
        items: (0..n).map(|i| stored(id, offset as i64 + i)).collect(),
    }
}

#[test]
fn m_asks_for_a_uid_and_shows_where_it_is_even_in_watch() {
    let mut c = Console::running(true, 100, 30);
    assert!(c.key(Key::Char('m')).is_empty());
    assert_eq!(context(&c.state), Context::Trace);
    insta::assert_snapshot!("trace_empty", c.text());
    // Keys type (q and j too); Backspace erases; Enter asks.
    c.keys("u-42q");
    c.key(Key::Backspace);
    let commands = c.key(Key::Enter);
    assert_eq!(commands, [Command::Find { uid: "u-42".into() }]);
    // An answer for another uid (an older question) is ignored.
    c.api(ApiUpdate::Found {
        uid: "u-4".into(),
        result: Ok(Box::new(FindReport::default())),
    });
    assert!(c.text().contains("looking…"));
    c.api(ApiUpdate::Found {
        uid: "u-42".into(),
        result: Ok(Box::new(report())),
    });
    let screen = c.text();
    assert!(!screen.contains('\u{1b}'), "escape sequences are shown escaped");
    insta::assert_snapshot!("trace_result", screen);
    console_support::picture(&c, "find-message");
    c.key(Key::Esc);
    assert_eq!(context(&c.state), Context::Main);
}

#[test]
fn a_uid_seen_nowhere_says_so() {
    let mut c = Console::running(false, 100, 30);
    c.key(Key::Char('m'));
    c.keys("nope");
    c.key(Key::Enter);
    let mut r = FindReport::default();
    r.results.push(FindResult {
        uid: "nope".into(),
        places: vec![],
    });
    r.index_pending = 1200;
    c.api(ApiUpdate::Found {
        uid: "nope".into(),
        result: Ok(Box::new(r)),
    });
    insta::assert_snapshot!("trace_not_seen", c.text());
}

#[test]
fn enter_on_batch_commits_opens_the_batch_and_a_message() {
    let mut c = Console::running(true, 110, 32);
    focus_batches(&mut c);
    c.key(Key::Char('j')); // the second newest batch
    let commands = c.key(Key::Enter);
    let id = c.state.snapshot.as_ref().unwrap().batches[1].id;
    assert_eq!(
        commands,
        [Command::FetchBatch {
            batch_id: id,
            offset: 0,
            limit: BATCH_PAGE
        }]
    );
    assert_eq!(context(&c.state), Context::Batch);
    c.api(ApiUpdate::BatchPage {
        batch_id: id,
        offset: 0,
        result: Ok(Box::new(page(id, 0, 100, 250))),
    });
    c.key(Key::Down);
    c.key(Key::Down);
    insta::assert_snapshot!("batch_messages", c.text());
    console_support::picture(&c, "batch-messages");
    // Pages: ] asks for the next one, [ the previous, never past the end.
    assert_eq!(
        c.key(Key::Char(']')),
        [Command::FetchBatch {
            batch_id: id,
            offset: 100,
            limit: BATCH_PAGE
        }]
    );
    c.api(ApiUpdate::BatchPage {
        batch_id: id,
        offset: 100,
        result: Ok(Box::new(page(id, 100, 100, 250))),
    });
    c.key(Key::Char(']'));
    c.api(ApiUpdate::BatchPage {
        batch_id: id,
        offset: 200,
        result: Ok(Box::new(page(id, 200, 50, 250))),
    });
    assert!(c.key(Key::Char(']')).is_empty(), "no page after the last");
    c.key(Key::Down);
    let open = c.key(Key::Enter);
    assert!(open.is_empty());
    assert_eq!(context(&c.state), Context::Message);
    let screen = c.text();
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{7}'),
        "{screen}"
    );
    insta::assert_snapshot!("batch_message_detail", screen);
    console_support::picture(&c, "batch-message-detail");
    c.key(Key::Esc);
    assert_eq!(context(&c.state), Context::Batch);
    c.key(Key::Esc);
    assert_eq!(context(&c.state), Context::Main);
}

#[test]
fn a_batch_that_cannot_be_read_says_why() {
    let mut c = Console::running(false, 100, 30);
    focus_batches(&mut c);
    let id = c.state.snapshot.as_ref().unwrap().batches[0].id;
    c.key(Key::Enter);
    c.api(ApiUpdate::BatchPage {
        batch_id: id,
        offset: 0,
        result: Err("refused by the processor (HTTP 404): no batch 1200 in the database".into()),
    });
    assert!(c.text().contains("cannot load the messages"), "{}", c.text());
}

/// Tab until the Batch commits panel has the focus.
fn focus_batches(c: &mut Console) {
    while c.state.focus != statmgr::tui::state::Focus::Batches {
        c.key(Key::Tab);
    }
}
