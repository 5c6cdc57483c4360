//! Triage in the console: the cause view, marking, the preview of a bulk action over
//! exactly the marked set, the progress gauge, and watch mode (mark and preview, never act).
//! Reducer tests plus TestBackend screens (insta).

mod console_support;

use console_support::{discarded_file, event, page, snapshot, stuck_file, Console};
use statmgr::api::wire::{
    BulkAction, BulkPreview, BulkResult, BulkSource, CauseGroup, CauseList, EventKind, FileKind,
};
use statmgr::tui::action::{ApiUpdate, Command};
use statmgr::tui::keymap::{Context, Key};
use statmgr::tui::reduce::context;
use statmgr::tui::state::{Confirm, Overlay};
use statmgr::tui::triage::entry_of;

const TRIGGER: &str = "rejected by a database trigger";

/// A running console focused on a stuck list of 4 files (two causes).
fn on_stuck(read_only: bool) -> Console {
    let mut c = Console::running(read_only, 120, 30);
    let mut s = snapshot();
    let files = (0..4)
        .map(|i| {
            let why = if i < 3 { "site S09 closed" } else { "poison" };
            stuck_file(
                i,
                &format!("message uid \"u{i}\" (record id {}): {TRIGGER}: {why}", 100 + i),
            )
        })
        .collect();
    s.stuck = page(files, 4);
    c.key(Key::Tab); // Retry -> Stuck
    c.feed(s);
    c
}

fn causes() -> CauseList {
    let group = |id: &str, cause: &str, files: u64| CauseGroup {
        id: id.into(),
        cause: format!("message uid \"…\" (record id #): {TRIGGER}: {cause}"),
        example: String::new(),
        files,
        messages: files * 17,
        oldest_age_s: 7200.0,
        newest_age_s: 60.0,
        min_attempts: 20,
        max_attempts: 20,
    };
    CauseList {
        files: 100_003,
        messages: 1_700_051,
        groups: vec![
            group("a1b2c3d4e5f6", "site S09 closed", 100_000),
            group("0f0e0d0c0b0a", "poison", 3),
        ],
    }
}

#[test]
fn the_cause_view_is_computed_on_the_server_and_enter_shows_a_cause_s_files() {
    let mut c = on_stuck(false);
    let commands = c.key(Key::Char('c'));
    assert_eq!(
        commands,
        [Command::FetchCauses {
            kind: FileKind::Stuck,
            filter: None
        }]
    );
    c.api(ApiUpdate::Causes {
        kind: FileKind::Stuck,
        result: Ok(Box::new(causes())),
    });
    insta::assert_snapshot!(c.text());
    console_support::picture(&c, "causes");
    // Each snapshot refreshes the groups while the view is open.
    let (r, s, d) = c.state.all_queries();
    let again = c.act(statmgr::tui::action::Action::Api(ApiUpdate::Snapshot {
        snapshot: Box::new(snapshot()),
        retry_query: r,
        stuck_query: s,
        discarded_query: d,
    }));
    assert!(again.contains(&Command::FetchCauses {
        kind: FileKind::Stuck,
        filter: None
    }));
    c.key(Key::Char('j'));
    assert_eq!(c.state.triage.cause_selected, 1);
    c.key(Key::Enter);
    assert_eq!(c.state.triage.causes_of, None);
    assert_eq!(c.state.stuck.query.filter.as_deref(), Some("cause:0f0e0d0c0b0a"));
}

#[test]
fn space_marks_a_mark_all_asks_the_server_and_the_footer_counts() {
    let mut c = on_stuck(false);
    c.key(Key::Char(' '));
    c.key(Key::Char(' '));
    assert_eq!(c.state.triage.marked.files(), 2);
    assert_eq!(c.state.stuck.selected, 2, "Space moves on to the next file");
    let messages = c.state.triage.marked.messages();
    assert!(
        c.text()
            .contains(&format!("2 files selected ({messages} messages)")),
        "{}",
        c.text()
    );
    insta::assert_snapshot!(c.text());
    // On a cause, Space marks every file of it, all pages, through the server.
    c.key(Key::Char('c'));
    c.api(ApiUpdate::Causes {
        kind: FileKind::Stuck,
        result: Ok(Box::new(causes())),
    });
    let commands = c.key(Key::Char(' '));
    assert_eq!(
        commands,
        [Command::SelectAll {
            kind: FileKind::Stuck,
            filter: Some("cause:a1b2c3d4e5f6".into())
        }]
    );
    let set: Vec<_> = (10..15).map(|i| entry_of(&stuck_file(i, "x"))).collect();
    let preview = statmgr::api::preview::summarise(BulkAction::Requeue, BulkSource::Stuck, set, Vec::new());
    c.api(ApiUpdate::Selected {
        kind: FileKind::Stuck,
        result: Ok(Box::new(preview)),
    });
    assert_eq!(c.state.triage.marked.files(), 7);
    c.key(Key::Char('u'));
    assert!(c.state.triage.marked.is_empty());
}

#[test]
fn discard_previews_exactly_the_marked_set_and_sends_it_with_the_note() {
    let mut c = on_stuck(false);
    c.key(Key::Char(' '));
    c.key(Key::Char(' '));
    let marked = c.state.triage.marked.entries();
    c.key(Key::Char('d'));
    assert_eq!(context(&c.state), Context::Note);
    c.keys("ticket 7");
    c.key(Key::Backspace);
    c.keys("8");
    insta::assert_snapshot!(c.text());
    let commands = c.key(Key::Enter);
    let [Command::Bulk(request)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert_eq!(request.action, BulkAction::Discard);
    assert_eq!(request.source, BulkSource::Stuck);
    assert_eq!(request.set, marked);
    assert_eq!(request.note.as_deref(), Some("ticket 8"));
    assert!(c.state.triage.marked.is_empty());
    // Esc on a requeue preview changes nothing.
    c.key(Key::Char(' '));
    c.key(Key::Char('r'));
    assert!(matches!(c.state.overlay, Some(Overlay::Confirm(ref b)) if matches!(**b, Confirm::Bulk { .. })));
    assert!(c.key(Key::Esc).is_empty());
    assert_eq!(c.state.triage.marked.files(), 1);
}

#[test]
fn the_gauge_follows_progress_events_and_the_result_is_reported_by_reason() {
    let mut c = on_stuck(false);
    let progress = |done| EventKind::BulkProgress {
        id: 3,
        action: BulkAction::Requeue,
        done,
        total: 100_000,
        skipped: 12,
    };
    c.api(ApiUpdate::Event(Box::new(event(9100, progress(40_000)))));
    let text = c.text();
    assert!(
        text.contains("bulk requeue ▕████████░░░░░░░░░░░░▏ 40,000/100,000, 12 skipped"),
        "{text}"
    );
    insta::assert_snapshot!(text);
    console_support::picture(&c, "bulk-progress");
    // Keys still work while it runs.
    c.key(Key::Char('j'));
    assert_eq!(c.state.stuck.selected, 1);
    c.api(ApiUpdate::Event(Box::new(event(9101, progress(99_988)))));
    assert!(c.state.triage.progress.is_none());
    c.api(ApiUpdate::BulkDone {
        result: Ok(Box::new(BulkResult {
            outcome: "requeue 99988 of 100000 stuck files; skipped 12 changed since the preview".into(),
            changed: vec!["x".into(); 12],
            ..BulkResult::default()
        })),
    });
    assert!(c.text().contains("skipped 12 changed since the preview"));
}

#[test]
fn watch_marks_and_previews_but_every_action_is_refused() {
    let mut c = on_stuck(true);
    c.key(Key::Char(' '));
    assert_eq!(c.state.triage.marked.files(), 1);
    assert!(c.key(Key::Char('d')).is_empty());
    assert!(c.state.overlay.is_none(), "d is a mutating key");
    assert!(c.key(Key::Char('r')).is_empty());
    assert!(c.state.overlay.is_none(), "r is a mutating key");
    c.key(Key::Char('v'));
    let Some(Overlay::Confirm(confirm)) = c.state.overlay.as_ref() else {
        panic!("v previews")
    };
    let Confirm::Bulk {
        preview, read_only, ..
    } = confirm.as_ref()
    else {
        panic!()
    };
    assert!(*read_only);
    let p: &BulkPreview = preview;
    assert_eq!(p.files, 1);
    assert!(c.text().contains("Preview (read-only: nothing will change)"));
    assert!(c.key(Key::Char('y')).is_empty(), "y sends nothing in watch");
    assert!(c.text().contains("read-only"), "{}", c.text());
}

#[test]
fn the_header_counts_discarded_files_while_there_are_any() {
    let mut c = on_stuck(false);
    assert!(!c.text().contains("discarded"));
    let mut s = snapshot();
    s.discarded.total_unfiltered = 1_234;
    s.discarded.total = 1_234;
    c.feed(s);
    let text = c.text();
    assert!(text.lines().next().unwrap().contains("discarded 1,234"), "{text}");
}

/// A running console on the Discarded tab: 3 discarded files, two with a note.
fn on_discarded(read_only: bool) -> Console {
    let mut c = Console::running(read_only, 180, 30);
    let mut s = snapshot();
    let files = (0..3)
        .map(|i| {
            let note = match i {
                0 => Some("site S09 decommissioned, ticket OPS-1234"),
                1 => Some("duplicate feed"),
                _ => None,
            };
            discarded_file(
                i,
                &format!(
                    "message uid \"u{i}\" (record id {}): {TRIGGER}: site S09 closed",
                    100 + i
                ),
                note,
            )
        })
        .collect();
    s.discarded = page(files, 3);
    c.key(Key::Tab); // Retry -> Stuck
    c.key(Key::Tab); // Stuck -> Discarded
    c.feed(s);
    c
}

#[test]
fn the_discarded_tab_lists_when_by_whom_the_note_and_the_cause() {
    let c = on_discarded(false);
    assert_eq!(c.state.focus, statmgr::tui::state::Focus::Discarded);
    let text = c.text();
    assert!(text.contains("[Discarded 3]"), "{text}");
    assert!(text.contains("2024-05-01 13:00"), "when: {text}");
    assert!(text.contains("token 3f9a1c"), "by whom: {text}");
    assert!(text.contains("site S09 decommissioned"), "the note: {text}");
    assert!(text.contains("(record id #)"), "the cause, normalised: {text}");
    assert!(text.contains("b restore"), "the footer offers restore: {text}");
    assert!(!text.contains("r requeue"), "not requeue: {text}");
    insta::assert_snapshot!(text);
    console_support::picture(&c, "discarded-tab");
}

#[test]
fn b_previews_a_restore_of_exactly_the_marked_files_and_y_sends_that_set() {
    let mut c = on_discarded(false);
    assert!(c.key(Key::Char(' ')).is_empty()); // marks file 0, moves to file 1
    assert!(c.key(Key::Char(' ')).is_empty()); // marks file 1
    assert!(c.key(Key::Char('b')).is_empty(), "nothing is sent before y");
    let Some(Overlay::Confirm(confirm)) = &c.state.overlay else {
        panic!("b asks first: {:?}", c.state.overlay);
    };
    let Confirm::Bulk { preview, .. } = confirm.as_ref() else {
        panic!("a bulk preview: {confirm:?}");
    };
    assert_eq!(preview.action, BulkAction::Restore);
    assert_eq!(preview.source, BulkSource::Discarded);
    let names: Vec<&str> = preview.set.iter().map(|e| e.name.as_str()).collect();
    let want: Vec<String> = c.state.discarded.page.files[..2]
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names, want);
    assert_eq!(
        context(&c.state),
        Context::Confirm,
        "a restore has no note to type"
    );
    insta::assert_snapshot!(c.text());
    let commands = c.key(Key::Char('y'));
    let [Command::Bulk(request)] = commands.as_slice() else {
        panic!("y sends the set: {commands:?}");
    };
    assert_eq!(request.action, BulkAction::Restore);
    assert_eq!(request.source, BulkSource::Discarded);
    assert_eq!(request.set, preview_set(&c, &want));
    assert!(
        c.state.triage.marked.is_empty(),
        "the marks went with the request"
    );
}

/// The exact-set entries of the named discarded files, as the console saw them.
fn preview_set(c: &Console, names: &[String]) -> Vec<statmgr::api::wire::SetEntry> {
    names
        .iter()
        .map(|n| {
            let f = c
                .state
                .discarded
                .page
                .files
                .iter()
                .find(|f| &f.name == n)
                .unwrap();
            entry_of(f)
        })
        .collect()
}

#[test]
fn b_without_marks_restores_the_selected_file_only() {
    let mut c = on_discarded(false);
    c.key(Key::Char('j'));
    c.key(Key::Char('b'));
    let commands = c.key(Key::Char('y'));
    let [Command::Bulk(request)] = commands.as_slice() else {
        panic!("y sends the set: {commands:?}");
    };
    let second = c.state.discarded.page.files[1].name.clone();
    assert_eq!(request.set, preview_set(&c, &[second]));
}

#[test]
fn requeue_and_discard_keys_do_not_act_on_discarded_files() {
    let mut c = on_discarded(false);
    assert!(c.key(Key::Char('r')).is_empty());
    assert!(c.state.overlay.is_none());
    let notice = c.notice();
    assert!(notice.contains("b (restore)"), "{notice}");
    assert!(c.key(Key::Char('d')).is_empty());
    assert!(c.state.overlay.is_none(), "nothing to discard twice");
    // And b outside the Discarded tab says where it works.
    c.key(Key::Tab); // -> Batches
    c.key(Key::BackTab);
    c.key(Key::BackTab); // -> Stuck
    assert!(c.key(Key::Char('b')).is_empty());
    assert!(c.state.overlay.is_none());
    let notice = c.notice();
    assert!(notice.contains("Discarded tab"), "{notice}");
}

#[test]
fn watch_mode_refuses_restore_but_previews_it() {
    let mut c = on_discarded(true);
    assert!(c.key(Key::Char('b')).is_empty());
    assert!(c.state.overlay.is_none(), "b is disabled in watch");
    let notice = c.notice();
    assert!(notice.contains("read-only"), "{notice}");
    // v previews a restore there (changes nothing), and y is refused.
    c.key(Key::Char('v'));
    let Some(Overlay::Confirm(confirm)) = &c.state.overlay else {
        panic!("v previews: {:?}", c.state.overlay);
    };
    assert!(
        matches!(confirm.as_ref(), Confirm::Bulk { preview, read_only: true, .. } if preview.action == BulkAction::Restore)
    );
    assert!(c.key(Key::Char('y')).is_empty(), "nothing sent in watch");
    assert!(
        !c.text().contains("b restore"),
        "no restore hint in watch: {}",
        c.text()
    );
}
