//! The console over several processors, without a terminal: the fleet reducer (rows from
//! tagged updates, drill-down and back, keys for the processor shown or selected, read-only
//! per processor) and the shared key sequence (highest marks, blocks, overlaps).

mod console_support;

use console_support::fleet::{holding, spec, three, FleetConsole, Spec};
use console_support::{event, ENDPOINT};
use statmgr::api::wire::{ActionResult, EventKind, ProcessorState};
use statmgr::tui::action::{Action, ApiUpdate, Command};
use statmgr::tui::fleet::{connection_word, sequences, Block};
use statmgr::tui::keymap::{Context, Key};
use statmgr::tui::reduce::fleet_context;
use statmgr::tui::state::{Conn, Focus, Overlay, Tone};

fn fleet_notice(c: &FleetConsole) -> String {
    c.fleet
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

#[test]
fn each_update_lands_in_the_row_of_its_processor() {
    let c = three(80, 24);
    let words: Vec<String> = (0..3).map(|i| connection_word(c.state(i))).collect();
    assert_eq!(words, ["connected", "DISCONNECTED 12s", "connected"]);
    let depths: Vec<u64> = (0..3)
        .map(|i| c.state(i).snapshot.as_ref().map_or(0, |s| s.inbox.depth))
        .collect();
    assert_eq!(depths, [1234, 17, 0]);
    assert_eq!(c.fleet.connected(), 2);
    assert!(
        c.state(0).history.out_rate > 0.0,
        "rates come from successive snapshots"
    );
    // The lost processor keeps its last report (shown muted), and when it comes back...
    assert!(c.state(1).snapshot.is_some());
    let mut c = c;
    c.connect(1);
    assert_eq!(c.state(1).conn, Conn::Connected);
    assert!(
        fleet_notice(&c).starts_with("site-b: reconnected"),
        "{}",
        fleet_notice(&c)
    );
}

#[test]
fn enter_drills_into_the_selected_processor_and_esc_comes_back() {
    let mut c = three(80, 24);
    assert_eq!(fleet_context(&c.fleet), Context::Fleet);
    c.key(Key::Char('j'));
    c.key(Key::Char('j'));
    c.key(Key::Char('j'));
    assert_eq!(c.fleet.selected, 2, "the selection stops at the last row");
    c.key(Key::Char('k'));
    c.key(Key::Enter);
    assert_eq!(c.fleet.shown, Some(1));
    assert_eq!(fleet_context(&c.fleet), Context::Main);
    assert!(c.text().contains("site-b │ http://10.0.0.2:4100"), "{}", c.text());
    // Keys act on the dashboard shown, and only on it.
    c.key(Key::Tab);
    assert_eq!(c.state(1).focus, Focus::Stuck);
    assert_eq!(c.state(0).focus, Focus::Retry);
    c.key(Key::Esc);
    assert_eq!(c.fleet.shown, None);
    assert_eq!(c.fleet.selected, 1, "back on the row it came from");
    assert!(c.text().contains("Processors 3"));
}

#[test]
fn esc_first_closes_what_the_dashboard_has_open() {
    let mut c = three(80, 24);
    c.key(Key::Enter);
    c.key(Key::Char('/'));
    c.keys_typed("lock");
    c.key(Key::Enter);
    assert_eq!(c.state(0).retry.query.filter.as_deref(), Some("lock"));
    c.key(Key::Esc);
    assert_eq!(
        c.state(0).retry.query.filter,
        None,
        "the first Esc clears the filter"
    );
    assert_eq!(c.fleet.shown, Some(0));
    c.key(Key::Char('?'));
    c.key(Key::Esc);
    assert!(c.state(0).overlay.is_none(), "Esc closes the help");
    assert_eq!(c.fleet.shown, Some(0));
    c.key(Key::Esc);
    assert_eq!(c.fleet.shown, None);
}

#[test]
fn keys_on_a_dashboard_go_to_its_processor() {
    let mut c = three(80, 24);
    c.key(Key::Enter);
    assert_eq!(c.key(Key::Char('p')), vec![(0, Command::Pause)]);
    assert_eq!(c.key(Key::Char('f')), vec![(0, Command::Flush)]);
    c.key(Key::Char('R'));
    assert!(matches!(c.state(0).overlay, Some(Overlay::Confirm(_))));
    assert_eq!(c.key(Key::Char('y')), vec![(0, Command::Resync)]);
}

#[test]
fn p_on_the_fleet_screen_pauses_the_selected_processor_and_shows_the_outcome() {
    let mut c = three(80, 24);
    assert_eq!(c.key(Key::Char('p')), vec![(0, Command::Pause)]);
    assert!(
        fleet_notice(&c).contains("site-a: pausing intake"),
        "{}",
        fleet_notice(&c)
    );
    c.api(
        0,
        ApiUpdate::ActionDone {
            label: "pause".into(),
            result: Ok(ActionResult {
                action: "pause".into(),
                outcome: "intake paused".into(),
            }),
        },
    );
    assert_eq!(fleet_notice(&c), "site-a: pause: intake paused");
    let paused = event(
        9999,
        EventKind::StateChanged {
            state: ProcessorState::Paused,
        },
    );
    c.api(0, ApiUpdate::Event(Box::new(paused)));
    assert_eq!(
        c.key(Key::Char('p')),
        vec![(0, Command::Resume)],
        "p again resumes"
    );
    // The lost processor: nothing is sent, and the fleet says why.
    c.key(Key::Char('j'));
    assert!(c.key(Key::Char('f')).is_empty());
    assert!(
        fleet_notice(&c).contains("site-b: flush: not connected"),
        "{}",
        fleet_notice(&c)
    );
}

#[test]
fn a_processor_without_a_token_is_read_only_and_the_others_are_not() {
    let mut c = three(80, 24);
    c.key(Key::Char('G'));
    assert!(c.key(Key::Char('p')).is_empty());
    assert_eq!(c.fleet.notice.as_ref().map(|n| n.tone), Some(Tone::Error));
    assert!(
        fleet_notice(&c).contains("read-only: p is disabled for site-c: it has no token_file"),
        "{}",
        fleet_notice(&c)
    );
    c.key(Key::Enter);
    assert!(c.key(Key::Char('f')).is_empty());
    let text = c.text();
    assert!(text.contains("READ-ONLY"), "{text}");
    assert!(!text.contains("p pause"), "no mutating hints for it:\n{text}");
    c.key(Key::Esc);
    c.key(Key::Char('g'));
    assert_eq!(c.key(Key::Char('p')), vec![(0, Command::Pause)]);
    assert!(!c.fleet.all_read_only());
}

#[test]
fn help_on_the_fleet_screen_lists_the_fleet_keys() {
    let mut c = three(100, 60);
    c.key(Key::Char('?'));
    assert_eq!(fleet_context(&c.fleet), Context::Help);
    let text = c.text();
    assert!(
        text.contains("Fleet (Esc on a dashboard comes back here)"),
        "{text}"
    );
    assert!(text.contains("pause / resume the selected processor"), "{text}");
    c.key(Key::Esc);
    assert_eq!(fleet_context(&c.fleet), Context::Fleet);
    c.key(Key::Char('q'));
    assert!(c.fleet.quit);
}

#[test]
fn one_processor_is_the_single_dashboard() {
    let mut c = FleetConsole::new(&[spec("only", ENDPOINT, true)], 80, 24);
    assert_eq!(c.fleet.shown, Some(0));
    assert_eq!(c.state(0).member, None);
    c.connect(0);
    c.feed(0, console_support::snapshot());
    c.key(Key::Esc);
    assert_eq!(c.fleet.shown, Some(0), "there is no fleet to go back to");
    let text = c.text();
    assert!(!text.contains("Esc fleet") && !text.contains("only │"), "{text}");
    assert_eq!(
        c.api(
            0,
            ApiUpdate::Connecting {
                endpoint: ENDPOINT.into()
            }
        ),
        vec![]
    );
    // Updates without a processor tag (the single console's) reach it too.
    c.act(Action::Api(ApiUpdate::Disconnected {
        error: "gone".into(),
        retry_in_s: 1.0,
    }));
    assert!(matches!(c.state(0).conn, Conn::Disconnected { .. }));
}

#[test]
fn ctrl_c_and_q_quit_from_a_dashboard_of_the_fleet() {
    let mut c = three(80, 24);
    c.key(Key::Enter);
    c.key(Key::Char('q'));
    assert!(c.fleet.quit);
    let mut c = three(80, 24);
    c.key(Key::Enter);
    c.key(Key::Char('/'));
    c.key(Key::Ctrl('c'));
    assert!(c.fleet.quit);
}

#[test]
fn the_shared_sequence_has_the_highest_marks_and_each_block() {
    let c = three(80, 24);
    let seqs = sequences(&c.fleet);
    assert_eq!(seqs.len(), 1);
    let seq = &seqs[0];
    assert_eq!(seq.high_water, Some(1_204_500));
    assert_eq!(seq.db_max_id, Some(1_203_500));
    let starts: Vec<i64> = seq.blocks.iter().map(|b| b.start).collect();
    assert_eq!(starts, [1_201_001, 1_202_001, 1_203_501]);
    assert!(seq.overlaps.is_empty());
    assert!(!c.text().contains("OVERLAP"));
}

fn two_on(databases: [&'static str; 2]) -> FleetConsole {
    let specs: Vec<Spec> = ["x", "y"]
        .iter()
        .zip(databases)
        .map(|(name, database)| Spec {
            database,
            ..spec(name, ENDPOINT, true)
        })
        .collect();
    let mut c = FleetConsole::new(&specs, 100, 30);
    for i in 0..2 {
        c.connect(i);
    }
    c.feed(0, holding(1001, 2001, 900, 0));
    c.feed(1, holding(1500, 2500, 900, 0));
    c
}

#[test]
fn overlapping_blocks_are_a_warning() {
    let c = two_on(["", ""]);
    let seq = &sequences(&c.fleet)[0];
    assert_eq!(seq.overlaps, vec![(0, 1)]);
    let text = c.text();
    assert!(text.contains("BLOCKS OVERLAP"), "{text}");
    assert!(text.contains("x and y both hold 1,500-2,000"), "{text}");
    let (a, b) = (
        Block {
            member: 0,
            start: 1,
            end: 10,
        },
        Block {
            member: 1,
            start: 10,
            end: 20,
        },
    );
    assert!(!a.overlaps(&b), "end is exclusive");
}

#[test]
fn processors_on_different_databases_do_not_overlap() {
    let c = two_on(["plant-1", "plant-2"]);
    let seqs = sequences(&c.fleet);
    assert_eq!(seqs.len(), 2);
    assert!(seqs.iter().all(|s| s.overlaps.is_empty()));
    let text = c.text();
    assert!(
        text.contains("database plant-1") && text.contains("database plant-2"),
        "{text}"
    );
    assert!(!text.contains("OVERLAP"), "{text}");
}

#[test]
fn ids_the_others_wrote_are_no_conflict_on_a_shared_database() {
    let mut c = three(100, 30);
    c.key(Key::Enter);
    // site-a holds 1,201,001-1,201,999; the database's max id 1,203,500 is site-c's.
    assert!(!c.text().contains("KEY CONFLICT"), "{}", c.text());
    // An id inside its own block is another writer's: that is a conflict.
    c.feed(0, holding(1_201_001, 1_202_000, 1_201_500, 0));
    assert!(c.text().contains("KEY CONFLICT"), "{}", c.text());
}
