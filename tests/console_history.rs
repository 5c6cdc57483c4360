//! The console's history views on a TestBackend, in watch mode (read-only: all of this is
//! reading): the Events panel paged back past the live ring, a jump to a time, and the
//! throughput / latency / depth charts over the last hour and day from rollups.

mod console_support;

use console_support::{event, Console};
use statmgr::api::client::history::PageAt;
use statmgr::api::wire::{Event, EventKind, HistoryPage, Rollup, RollupPage};
use statmgr::tui::action::{ApiUpdate, Command};
use statmgr::tui::keymap::Key;
use statmgr::tui::timeline::PageFor;

fn warning(id: u64, time: String) -> Event {
    Event {
        id,
        time,
        kind: EventKind::Warning {
            message: format!("night event number {id}"),
        },
    }
}

fn focus_events(c: &mut Console) {
    while c.state.focus != statmgr::tui::state::Focus::Events {
        c.key(Key::Tab);
    }
}

fn page(events: Vec<Event>, more_before: bool, more_after: bool) -> ApiUpdate {
    ApiUpdate::History {
        purpose: PageFor::Older,
        result: Ok(Box::new(HistoryPage {
            oldest_id: events.first().map(|e| e.id),
            newest_id: 9010,
            more_before,
            more_after,
            events,
        })),
    }
}

#[test]
fn events_scroll_back_past_the_ring_with_older_pages() {
    let mut c = Console::running(true, 120, 40);
    focus_events(&mut c);
    let asked = c.key(Key::Char('g'));
    assert_eq!(
        asked,
        [Command::FetchHistory {
            at: PageAt::Before(9001),
            limit: 200,
            purpose: PageFor::Older
        }]
    );
    // A second key while the page is on its way asks for nothing more.
    assert!(c.key(Key::Up).is_empty());
    let older: Vec<Event> = (8801..9001)
        .map(|id| {
            warning(
                id,
                format!("2024-05-01T11:{:02}:{:02}.000Z", (id - 8801) / 60, id % 60),
            )
        })
        .collect();
    c.api(page(older, true, true));
    assert_eq!(c.state.timeline.older.len(), 200);
    // Scrolled back into the older page.
    for _ in 0..8 {
        c.key(Key::PageUp);
    }
    let text = c.text();
    assert!(text.contains("night event number"), "{text}");
    insta::assert_snapshot!(text);
    // At its top, the next page (before the oldest known) is asked for.
    let next = c.key(Key::Char('g'));
    assert!(
        matches!(
            next.as_slice(),
            [Command::FetchHistory {
                at: PageAt::Before(8801),
                ..
            }]
        ),
        "{next:?}"
    );
    c.api(page(Vec::new(), false, true));
    assert!(c.state.timeline.start_reached);
    assert!(
        c.key(Key::Char('g')).is_empty(),
        "nothing older is kept: no more requests"
    );
    assert!(c.text().contains("oldest kept"));
    // G: back to the newest.
    c.key(Key::Char('G'));
    assert_eq!(c.state.events_scroll, 0);
}

#[test]
fn jump_to_a_time_shows_that_stretch_of_history() {
    let mut c = Console::running(true, 120, 40);
    assert!(c.key(Key::Char('t')).is_empty());
    c.keys("2024-05-01T03:12:00Z");
    let typing = c.text();
    assert!(typing.contains("jump to: 2024-05-01T03:12:00Z"), "{typing}");
    insta::assert_snapshot!("jump_prompt", typing);
    let asked = c.key(Key::Enter);
    let from = "2024-05-01T03:12:00.000Z".to_string();
    assert_eq!(
        asked,
        [Command::FetchHistory {
            at: PageAt::Since(from.clone()),
            limit: 200,
            purpose: PageFor::Jump {
                asked: "2024-05-01T03:12:00Z".into(),
                from: from.clone()
            }
        }]
    );
    let events: Vec<Event> = (5000..5200)
        .map(|id| {
            warning(
                id,
                format!("2024-05-01T03:{:02}:{:02}.000Z", 12 + (id - 5000) / 60, id % 60),
            )
        })
        .collect();
    c.api(ApiUpdate::History {
        purpose: PageFor::Jump {
            asked: "2024-05-01T03:12:00Z".into(),
            from,
        },
        result: Ok(Box::new(HistoryPage {
            events,
            more_before: true,
            more_after: true,
            oldest_id: Some(1),
            newest_id: 9010,
        })),
    });
    let text = c.text();
    assert!(text.contains("at 2024-05-01T03:12:00.000Z (G: live)"), "{text}");
    assert!(text.contains("night event number 5000"), "{text}");
    insta::assert_snapshot!("jumped_to_03_12", text);
    console_support::picture(&c, "history-jumped");
    // Up at the top asks for the events before the stretch; G goes back to live.
    let before = c.key(Key::Up);
    assert!(
        matches!(
            before.as_slice(),
            [Command::FetchHistory {
                at: PageAt::Before(5000),
                purpose: PageFor::JumpBefore,
                ..
            }]
        ),
        "{before:?}"
    );
    c.key(Key::Char('G'));
    assert!(c.state.timeline.jump.is_none());
    assert!(!c.text().contains("(G: live)"));
}

#[test]
fn a_bad_time_says_what_is_expected() {
    let mut c = Console::running(true, 120, 40);
    c.key(Key::Char('t'));
    c.keys("tomorrow");
    assert!(c.key(Key::Enter).is_empty());
    let text = c.text();
    assert!(text.contains("expected an RFC 3339 time"), "{text}");
}

fn rollups(window: &str, minutes: u64) -> ApiUpdate {
    let end = 1_780_000_000 / 60 * 60;
    let stamp = |secs: u64| {
        chrono::DateTime::<chrono::Utc>::from_timestamp(secs as i64, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let rollups = (0..minutes)
        .filter(|m| m % 17 != 5)
        .map(|m| {
            let minute = end - (minutes - 1 - m) * 60;
            Rollup {
                minute: stamp(minute),
                committed: 60 * (1000 + (m * 37 % 900)),
                batches: 60,
                latency_p50_ms: 4.0,
                latency_p90_ms: 9.0,
                latency_p99_ms: 10.0 + (m * 13 % 40) as f64,
                latency_max_ms: 60.0,
                inbox_depth: m * 7 % 300,
                retry_files: 0,
                stuck_files: 0,
            }
        })
        .collect();
    ApiUpdate::Rollups {
        window: window.into(),
        result: Ok(Box::new(RollupPage {
            window: window.into(),
            from: stamp(end + 30 - minutes * 60),
            to: stamp(end + 30),
            rollups,
        })),
    }
}

#[test]
fn charts_switch_to_the_last_hour_and_day_from_rollups() {
    let mut c = Console::running(true, 120, 40);
    let asked = c.key(Key::Char('w'));
    assert_eq!(asked, [Command::FetchRollups { window: "1h".into() }]);
    assert!(c.text().contains("last 1 h (w), loading…"));
    c.api(rollups("1h", 60));
    let hour = c.text();
    assert!(
        hour.contains("last 1 h (w)") && hour.contains("p99/min"),
        "{hour}"
    );
    insta::assert_snapshot!("charts_1h", hour);
    assert_eq!(
        c.key(Key::Char('w')),
        [Command::FetchRollups { window: "24h".into() }]
    );
    // A late answer for the previous window is not shown in this one.
    c.api(rollups("1h", 60));
    assert!(c.state.timeline.rollups.is_none());
    c.api(rollups("24h", 1440));
    let day = c.text();
    insta::assert_snapshot!("charts_24h", day);
    console_support::picture(&c, "charts-24h");
    // Refreshed while shown, then back to live.
    c.now += 31.0;
    let again = c.act(statmgr::tui::action::Action::Tick);
    assert_eq!(again, [Command::FetchRollups { window: "24h".into() }]);
    assert!(c.key(Key::Char('w')).is_empty());
    assert!(!c.text().contains("last 24 h"));
}

#[test]
fn the_keys_are_in_the_help() {
    // The 80-column footer is full: t and w are listed in the help (from the keymap table).
    let mut c = Console::running(true, 200, 60);
    c.key(Key::Char('?'));
    let help = c.text();
    assert!(help.contains("jump the events to a time"), "{help}");
    assert!(help.contains("charts: live / last 1 h / last 24 h"), "{help}");
    let _ = event(
        1,
        EventKind::Warning {
            message: String::new(),
        },
    );
}
