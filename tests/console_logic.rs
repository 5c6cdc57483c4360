//! The console's logic without a terminal: the reducer (keys and API updates → state and
//! commands), the paging of large file lists, rates and history, the demo keys.

mod console_support;

use console_support::{batch, event, page, retry_file, snapshot, Console};
use statmgr::api::wire::{ActionResult, EventKind, FileKind, FilePage, ProcessorState, SortKey};
use statmgr::tui::action::{Action, ActionFailure, ApiUpdate, Command};
use statmgr::tui::keymap::Key;
use statmgr::tui::state::{Conn, Focus, Overlay, Tone};

#[test]
fn requeue_in_watch_mode_sends_nothing_and_says_read_only() {
    let mut c = Console::running(true, 80, 24);
    c.key(Key::Tab);
    assert!(c.key(Key::Char('r')).is_empty());
    assert!(c.state.overlay.is_none(), "no confirmation in watch mode");
    assert!(c.notice().contains("read-only"), "{}", c.notice());
    for key in ['p', 'f', 'R'] {
        assert!(
            c.key(Key::Char(key)).is_empty(),
            "{key} must not send in watch mode"
        );
    }
}

#[test]
fn requeue_asks_first_then_sends_the_attempts_it_showed() {
    let mut c = Console::running(false, 80, 24);
    c.key(Key::Tab);
    assert_eq!(c.state.focus, Focus::Stuck);
    assert!(c.key(Key::Char('r')).is_empty());
    assert!(matches!(c.state.overlay, Some(Overlay::Confirm(_))));
    let commands = c.key(Key::Char('y'));
    let expected = Command::Requeue {
        name: snapshot().stuck.files[0].name.clone(),
        attempts: 20,
    };
    assert_eq!(commands, vec![expected]);
    assert!(c.state.overlay.is_none());
    assert_eq!(c.state.notice.as_ref().map(|n| n.tone), Some(Tone::Info));
}

#[test]
fn cancelling_a_confirmation_sends_nothing() {
    let mut c = Console::running(false, 80, 24);
    c.key(Key::Char('R'));
    assert!(matches!(c.state.overlay, Some(Overlay::Confirm(_))));
    assert!(c.key(Key::Esc).is_empty());
    assert!(c.state.overlay.is_none());
    assert!(c.notice().contains("cancelled"));
}

#[test]
fn pause_resumes_when_paused_and_refuses_while_disconnected() {
    let mut c = Console::running(false, 80, 24);
    assert_eq!(c.key(Key::Char('p')), vec![Command::Pause]);
    let paused = event(
        9999,
        EventKind::StateChanged {
            state: ProcessorState::Paused,
        },
    );
    c.api(ApiUpdate::Event(Box::new(paused)));
    assert_eq!(c.key(Key::Char('p')), vec![Command::Resume]);
    c.api(ApiUpdate::Disconnected {
        error: "refused".into(),
        retry_in_s: 1.0,
    });
    assert!(c.key(Key::Char('f')).is_empty());
    assert!(c.notice().contains("not connected"), "{}", c.notice());
}

#[test]
fn results_and_refusals_of_actions_are_shown() {
    let mut c = Console::running(false, 80, 24);
    c.api(ApiUpdate::ActionDone {
        label: "flush".into(),
        result: Ok(ActionResult {
            action: "flush".into(),
            outcome: "committed 412 messages".into(),
        }),
    });
    assert_eq!(c.notice(), "flush: committed 412 messages");
    c.api(ApiUpdate::ActionDone {
        label: "requeue x.jsonl".into(),
        result: Err(ActionFailure {
            status: Some(409),
            message: "attempts is 3, not 2".into(),
        }),
    });
    assert!(c.notice().contains("changed since you looked"), "{}", c.notice());
    assert_eq!(c.state.notice.as_ref().map(|n| n.tone), Some(Tone::Error));
    c.api(ApiUpdate::ActionDone {
        label: "pause".into(),
        result: Err(ActionFailure {
            status: Some(403),
            message: "read-only server".into(),
        }),
    });
    assert_eq!(c.notice(), "pause refused (HTTP 403): read-only server");
}

#[test]
fn ctrl_c_quits_from_every_context() {
    let prepare: [fn(&mut Console); 5] = [
        |_| {},
        |c| {
            c.key(Key::Char('/'));
        },
        |c| {
            c.key(Key::Char('?'));
        },
        |c| {
            c.key(Key::Enter);
        },
        |c| {
            c.key(Key::Char('R'));
        },
    ];
    for (i, p) in prepare.iter().enumerate() {
        let mut c = Console::running(false, 80, 24);
        p(&mut c);
        c.key(Key::Ctrl('c'));
        assert!(c.state.quit, "context {i}");
    }
}

#[test]
fn q_types_into_a_filter_instead_of_quitting() {
    let mut c = Console::running(false, 80, 24);
    c.key(Key::Char('/'));
    c.keys("sq");
    assert!(!c.state.quit);
    assert_eq!(c.state.retry.query.filter.as_deref(), Some("sq"));
    c.key(Key::Backspace);
    assert_eq!(c.state.retry.query.filter.as_deref(), Some("s"));
    c.key(Key::Esc);
    assert_eq!(
        c.state.retry.query.filter, None,
        "Esc restores the filter before /"
    );
}

fn with_files(total: u64) -> Console {
    let mut c = Console::running(false, 120, 40);
    let mut s = snapshot();
    let n = total.min(40);
    s.retry = FilePage {
        total,
        total_unfiltered: total,
        offset: 0,
        limit: n,
        files: (0..n).map(|i| retry_file(i, "locked")).collect(),
    };
    c.feed(s);
    c
}

#[test]
fn selection_moves_and_the_window_follows_it_through_100000_files() {
    let mut c = with_files(100_000);
    c.keys("jjj");
    assert_eq!(c.state.retry.selected, 3);
    c.key(Key::Char('k'));
    assert_eq!(c.state.retry.selected, 2);
    c.key(Key::PageDown);
    assert_eq!(c.state.retry.selected, 19, "17 rows visible at 120x40");
    assert_eq!(c.state.queries().0.offset, 0, "still inside the first window");
    c.key(Key::Char('G'));
    let q = c.state.queries().0;
    assert_eq!(c.state.retry.selected, 99_999);
    assert!(q.offset <= 99_983 && q.offset + q.limit >= 100_000, "{q:?}");
    c.key(Key::Char('g'));
    assert_eq!(
        (
            c.state.retry.selected,
            c.state.retry.top,
            c.state.queries().0.offset
        ),
        (0, 0, 0)
    );
}

#[test]
fn sort_cycles_and_restarts_at_the_top() {
    let mut c = with_files(100);
    c.keys("jjjj");
    c.key(Key::Char('s'));
    assert_eq!(c.state.retry.query.sort, SortKey::Age);
    assert_eq!(c.state.retry.selected, 0);
    c.key(Key::Char('S'));
    assert!(c.state.retry.query.desc);
    for _ in 0..5 {
        c.key(Key::Char('s'));
    }
    assert_eq!(c.state.retry.query.sort, SortKey::Name);
}

#[test]
fn a_shrinking_list_keeps_the_selection_inside_it() {
    let mut c = with_files(6);
    c.key(Key::Char('G'));
    assert_eq!(c.state.retry.selected, 5);
    let mut s = snapshot();
    s.retry = page((0..2).map(|i| retry_file(i, "locked")).collect(), 2);
    c.feed(s);
    assert_eq!(c.state.retry.selected, 1);
    assert!(c.state.retry.selected_file().is_some());
}

#[test]
fn disconnection_keeps_its_start_time_and_reconnection_is_announced() {
    let mut c = Console::running(false, 80, 24);
    let started = c.now;
    for _ in 0..3 {
        c.api(ApiUpdate::Disconnected {
            error: "refused".into(),
            retry_in_s: 2.0,
        });
        c.now += 5.0;
    }
    assert!(matches!(c.state.conn, Conn::Disconnected { since_s, .. } if since_s == started));
    c.connect();
    assert_eq!(c.state.conn, Conn::Connected);
    assert!(c.notice().contains("reconnected"), "{}", c.notice());
}

#[test]
fn rates_come_from_counters_and_restart_after_a_processor_restart() {
    let mut c = Console::new(false, 80, 24);
    c.connect();
    let mut s = snapshot();
    c.feed(s.clone());
    s.uptime_s += 2.0;
    s.counters.received += 3000;
    s.counters.committed += 2000;
    c.feed(s.clone());
    assert_eq!(
        (c.state.history.in_rate, c.state.history.out_rate),
        (1500.0, 1000.0)
    );
    // A restarted processor: uptime and counters start again; no negative or huge rate.
    let mut fresh = snapshot();
    fresh.uptime_s = 1.0;
    fresh.counters = Default::default();
    c.feed(fresh);
    assert_eq!(c.state.history.throughput.back(), Some(&1000));
}

#[test]
fn a_batch_seen_by_event_and_snapshot_counts_once() {
    let mut c = Console::new(false, 80, 24);
    c.connect();
    c.feed(snapshot());
    let latencies = c.state.history.latency_ms.len();
    let b = batch(1201, 10, 1_201_001, 99.0, "retry");
    c.api(ApiUpdate::Event(Box::new(event(
        9001,
        EventKind::BatchCommitted { batch: b.clone() },
    ))));
    let mut s = snapshot();
    s.batches.insert(0, b);
    c.feed(s);
    assert_eq!(c.state.history.latency_ms.len(), latencies + 1);
    assert_eq!(c.state.snapshot.as_ref().map(|s| s.batches[0].id), Some(1201));
}

#[test]
fn details_are_fetched_for_the_selected_file_and_only_shown_for_it() {
    let mut c = Console::running(false, 80, 24);
    let commands = c.key(Key::Enter);
    let name = snapshot().retry.files[0].name.clone();
    assert_eq!(
        commands,
        vec![Command::FetchDetail {
            kind: FileKind::Retry,
            name: name.clone(),
            offset: 0,
            limit: 100
        }]
    );
    c.api(ApiUpdate::Detail {
        kind: FileKind::Retry,
        name: "another.jsonl".into(),
        result: Err("late answer for another file".into()),
    });
    let Some(Overlay::Detail(d)) = &c.state.overlay else {
        panic!("detail open")
    };
    assert_eq!(d.error, None);
    c.key(Key::Esc);
    assert!(c.state.overlay.is_none());
}

#[test]
fn ticks_age_the_notice_away() {
    let mut c = Console::running(false, 80, 24);
    c.key(Key::Char('f'));
    assert!(c.state.current_notice().is_some());
    c.now += 20.0;
    c.act(Action::Tick);
    assert!(c.state.current_notice().is_none());
}

#[test]
fn a_read_only_processor_makes_the_console_read_only() {
    let mut c = Console::running(false, 80, 24);
    let mut s = snapshot();
    s.config.read_only_api = true;
    c.feed(s);
    assert!(c.key(Key::Char('f')).is_empty());
    assert!(c.notice().contains("--read-only-api"), "{}", c.notice());
    assert!(c.text().contains("READ-ONLY"));
}

#[test]
fn plus_and_minus_change_the_demo_rate_and_say_so_elsewhere() {
    let mut c = Console::running(false, 80, 24);
    assert!(c.key(Key::Char('+')).is_empty());
    assert!(c.notice().contains("statmgr demo"), "{}", c.notice());
    c.state.demo = Some(statmgr::tui::state::DemoInfo {
        banner: String::new(),
        rate: 0,
        status: String::new(),
    });
    assert_eq!(c.key(Key::Char('+')), vec![Command::SetDemoRate(10)]);
    c.act(Action::Demo {
        rate: 90,
        status: "database free".into(),
    });
    assert_eq!(c.key(Key::Char('-')), vec![Command::SetDemoRate(60)]);
    assert_eq!(c.key(Key::Char('=')), vec![Command::SetDemoRate(135)]);
}
