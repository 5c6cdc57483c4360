//! Whole console screens, rendered on a TestBackend from hand-made snapshots fed through the
//! reducer as the API task feeds them, compared with reviewed insta snapshots.

mod console_support;

use console_support::samples::{detail_of, hostile_console};
use console_support::{event, retry_file, snapshot, theme, Console};
use statmgr::api::wire::{EventKind, FileKind, FilePage};
use statmgr::tui::action::{Action, ApiUpdate, Command};
use statmgr::tui::keymap::Key;
use statmgr::tui::theme::{ColorChoice, Theme};

#[test]
fn dashboard_80x24() {
    let c = Console::running(false, 80, 24);
    insta::assert_snapshot!(c.text());
}

#[test]
fn dashboard_120x40() {
    let c = Console::running(false, 120, 40);
    insta::assert_snapshot!(c.text());
}

#[test]
fn too_small_says_what_size_is_needed() {
    let mut c = Console::running(false, 120, 40);
    c.act(Action::Resize {
        width: 60,
        height: 20,
    });
    let text = c.text();
    assert!(text.contains("need 80x24"), "{text}");
    insta::assert_snapshot!(text);
    // Growing again brings the dashboard back, with the selection still in view.
    c.act(Action::Resize {
        width: 80,
        height: 24,
    });
    assert!(c.text().contains("Key allocator"));
}

/// The styled buffer (text and every style change), for theme tests.
fn styled(c: &Console, theme: &Theme) -> String {
    format!("{:?}", c.screen(theme))
}

#[test]
fn light_theme() {
    let c = Console::running(false, 80, 24);
    insta::assert_snapshot!(styled(&c, &theme("light")));
}

#[test]
fn no_color_uses_reverse_video_and_markers() {
    let c = Console::running(false, 80, 24);
    let mono = Theme::resolve("default", ColorChoice::Auto, true).expect("default theme");
    let screen = styled(&c, &mono);
    assert!(
        !screen.contains("fg: Rgb") && !screen.contains("bg: Rgb"),
        "{screen}"
    );
    assert!(
        !screen.contains("fg: Cyan") && !screen.contains("bg: Green"),
        "{screen}"
    );
    // The selected row is reverse video and marked with ▶ — readable without colour.
    assert!(screen.contains("REVERSED"));
    assert!(screen.contains("▶ retry-"));
    insta::assert_snapshot!(screen);
}

fn hundred_thousand(c: &mut Console, offset: u64) {
    let mut s = snapshot();
    s.retry = FilePage {
        total: 100_000,
        total_unfiltered: 100_000,
        offset,
        limit: 40,
        files: (offset..offset + 40)
            .map(|i| retry_file(i, "database is locked"))
            .collect(),
    };
    c.feed(s);
}

#[test]
fn a_hundred_thousand_retry_files_are_paged_from_the_server() {
    let mut c = Console::running(false, 120, 40);
    hundred_thousand(&mut c, 0);
    let text = c.text();
    assert!(text.contains("1-17 of 100,000"), "{text}");
    insta::assert_snapshot!("hundred_thousand_top", text);
    // G jumps to the last file: the console asks for the window around it...
    c.key(Key::Char('G'));
    let (retry, _) = c.state.queries();
    assert!(
        retry.offset > 99_000 && retry.offset + retry.limit >= 100_000,
        "{retry:?}"
    );
    assert!(c.text().contains("loading") || c.text().contains('…'));
    // ...and shows it once the server answers.
    hundred_thousand(&mut c, 99_960);
    let text = c.text();
    assert!(text.contains("99,984-100,000 of 100,000"), "{text}");
    assert_eq!(c.state.retry.selected, 99_999);
    insta::assert_snapshot!("hundred_thousand_bottom", text);
}

#[test]
fn disconnected_shows_the_time_since_and_the_next_attempt() {
    let mut c = Console::running(false, 80, 24);
    c.api(ApiUpdate::Disconnected {
        error: "connection refused (os error 111)".into(),
        retry_in_s: 2.0,
    });
    c.now += 12.0;
    c.act(Action::Tick);
    c.api(ApiUpdate::Disconnected {
        error: "connection refused (os error 111)".into(),
        retry_in_s: 4.0,
    });
    let text = c.text();
    assert!(text.contains("DISCONNECTED 12s"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn watch_mode_shows_read_only_and_refuses_mutations() {
    let mut c = Console::running(true, 80, 24);
    assert!(c.key(Key::Char('p')).is_empty());
    let text = c.text();
    assert!(text.contains("READ-ONLY"), "{text}");
    assert!(text.contains("read-only"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn help_overlay() {
    let mut c = Console::running(false, 80, 40);
    c.key(Key::Char('?'));
    insta::assert_snapshot!(c.text());
}

#[test]
fn detail_view() {
    let mut c = Console::running(false, 100, 30);
    c.key(Key::Tab);
    let commands = c.key(Key::Enter);
    let Some(Command::FetchDetail { kind, name, .. }) = commands.first().cloned() else {
        panic!("Enter should fetch the detail: {commands:?}");
    };
    assert_eq!(kind, FileKind::Stuck);
    let summary = c.state.stuck.selected_file().expect("a selected file").clone();
    c.api(ApiUpdate::Detail {
        kind,
        result: Ok(Box::new(detail_of(kind, summary, "WKS-0042"))),
        name,
    });
    insta::assert_snapshot!(c.text());
}

#[test]
fn confirmation_previews_the_requeue_of_a_stuck_file() {
    let mut c = Console::running(false, 80, 24);
    c.key(Key::Tab);
    assert!(c.key(Key::Char('r')).is_empty(), "nothing is sent before y");
    let text = c.text();
    assert!(text.contains("stuck/ → retry/, due now"), "{text}");
    assert!(text.contains("up to 20"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn allocator_conflict_is_a_visible_warning() {
    let mut c = Console::running(false, 80, 24);
    let mut s = snapshot();
    s.allocator.db_max_id = 1_201_500;
    s.allocator.last_error = Some("UNIQUE constraint failed: status_messages.record_id".into());
    c.feed(s);
    let text = c.text();
    assert!(text.contains("KEY CONFLICT"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn typing_a_filter_shows_it_and_asks_the_server() {
    let mut c = Console::running(false, 80, 24);
    c.key(Key::Char('/'));
    c.keys("locked");
    assert_eq!(c.state.retry.query.filter.as_deref(), Some("locked"));
    let text = c.text();
    assert!(text.contains("filter: locked"), "{text}");
    assert!(text.contains("loading"), "until the server answers: {text}");
    // The server answers the filtered query.
    let mut s = snapshot();
    let locked: Vec<_> = s
        .retry
        .files
        .iter()
        .filter(|f| f.last_error.contains("locked"))
        .cloned()
        .collect();
    s.retry.total = locked.len() as u64;
    s.retry.files = locked;
    c.feed(s);
    let text = c.text();
    assert!(text.contains("1-3 of 3"), "{text}");
    insta::assert_snapshot!(text);
}

/// Regenerates `screenshots/*.svg` from the screens above (see screenshots/README.md):
/// `cargo test --test console_screens -- --ignored regenerate_screenshots`
#[test]
#[ignore = "writes screenshots/: run on purpose"]
fn regenerate_screenshots() {
    use console_support::svg::{self, DARK, LIGHT};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots/");
    let write = |name: &str, c: &Console, t: &Theme, term| {
        let path = dir.join(format!("{name}.svg"));
        std::fs::write(&path, svg::render(&c.screen(t), term)).expect("write the screenshot");
    };
    let default = theme("default");
    let dashboard = Console::running(false, 120, 40);
    write("dashboard", &dashboard, &default, DARK);
    write("dashboard-light", &dashboard, &theme("light"), LIGHT);
    write("dashboard-mono", &dashboard, &theme("mono"), DARK);
    write(
        "dashboard-80x24",
        &Console::running(false, 80, 24),
        &default,
        DARK,
    );
    let mut watch = Console::running(true, 120, 40);
    watch.key(Key::Char('r'));
    write("watch-read-only", &watch, &default, DARK);
    let mut confirm = Console::running(false, 120, 40);
    confirm.key(Key::Tab);
    confirm.key(Key::Char('r'));
    write("confirm-requeue", &confirm, &default, DARK);
    let mut detail = Console::running(false, 120, 40);
    detail.key(Key::Tab);
    detail.key(Key::Enter);
    let summary = detail.state.stuck.selected_file().expect("a stuck file").clone();
    detail.api(ApiUpdate::Detail {
        kind: FileKind::Stuck,
        name: summary.name.clone(),
        result: Ok(Box::new(detail_of(FileKind::Stuck, summary, "WKS-0042"))),
    });
    write("detail", &detail, &default, DARK);
    write("hostile-text", &hostile_console(), &default, DARK);
    let mut down = Console::running(false, 120, 40);
    down.api(ApiUpdate::Disconnected {
        error: "connection refused (os error 111)".into(),
        retry_in_s: 4.0,
    });
    down.now += 12.0;
    down.act(Action::Tick);
    write("disconnected", &down, &default, DARK);
    let mut demo = Console::running(false, 120, 40);
    demo.state.demo = Some(statmgr::tui::state::DemoInfo {
        banner: "DEMO in /tmp/statmgr-demo/state: messages from SITE03-LEGACY are refused by a trigger"
            .into(),
        rate: 200,
        status: "DATABASE LOCKED by the demo for 5s more: batches go to retry/".into(),
    });
    demo.act(Action::Resize {
        width: 120,
        height: 40,
    });
    write("demo", &demo, &default, DARK);
    let mut help = Console::running(false, 120, 50);
    help.key(Key::Char('?'));
    write("help", &help, &default, DARK);
    let fleet = console_support::fleet::three(120, 40);
    let path = dir.join("fleet.svg");
    std::fs::write(&path, svg::render(&fleet.screen(&default), DARK)).expect("write the screenshot");
}

#[test]
fn the_demo_line_shows_the_rate_and_what_the_demo_is_doing() {
    let mut c = Console::running(false, 100, 30);
    c.state.demo = Some(statmgr::tui::state::DemoInfo {
        banner: "DEMO in /tmp/statmgr-demo-x/state: messages from SITE03-LEGACY are refused".into(),
        rate: 200,
        status: "DATABASE LOCKED by the demo for 5s more: batches go to retry/".into(),
    });
    c.act(Action::Resize {
        width: 100,
        height: 30,
    });
    assert_eq!(c.key(Key::Char('+')), vec![Command::SetDemoRate(300)]);
    c.act(Action::Demo {
        rate: 300,
        status: "DATABASE LOCKED by the demo for 4s more: batches go to retry/".into(),
    });
    let text = c.text();
    assert!(text.contains("DEMO  300 msg/s (+/-)"), "{text}");
    assert!(text.contains("LOCKED by the demo for 4s"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn runs_of_batch_commits_fold_into_one_event_line() {
    let mut c = Console::running(false, 160, 30);
    for i in 0..5 {
        let b = console_support::batch(2000 + i, 100, 300_000 + i * 100, 3.0, "inbox");
        c.api(ApiUpdate::Event(Box::new(event(
            9500 + i as u64,
            EventKind::BatchCommitted { batch: b },
        ))));
    }
    let action = EventKind::OperatorAction {
        action: "flush".into(),
        target: None,
        origin: "console".into(),
        outcome: "committed 12 messages".into(),
    };
    c.api(ApiUpdate::Event(Box::new(event(9505, action))));
    let text = c.text();
    assert!(
        text.contains("5 batches committed 500 rows (#2000-#2004)"),
        "{text}"
    );
    assert!(
        text.contains("operator flush (console): committed 12 messages"),
        "{text}"
    );
}

/// Not a timing assertion: prints the time of one whole frame at 200x60 with 100,000 retry
/// files (the benchmark figure of BENCHMARKS.md). Run it in release:
/// `cargo test --release --test console_screens -- --ignored frame_time --nocapture`.
#[test]
#[ignore = "a measurement, run by hand"]
fn frame_time_at_200x60_with_100000_retry_files() {
    let mut c = Console::running(false, 200, 60);
    hundred_thousand(&mut c, 0);
    let theme = theme("default");
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 60)).unwrap();
    let mut times = Vec::new();
    for _ in 0..500 {
        let t0 = std::time::Instant::now();
        terminal
            .draw(|f| statmgr::tui::view::draw(&c.state, &theme, f))
            .unwrap();
        times.push(t0.elapsed());
    }
    times.sort();
    let text = console_support::text_of(terminal.backend().buffer());
    assert!(text.contains("of 100,000"), "{text}");
    eprintln!(
        "one frame at 200x60 with 100,000 retry files: median {:?}, p99 {:?} (500 frames)",
        times[250], times[495]
    );
}

#[test]
fn an_unreachable_database_is_shown_in_the_header_with_since_and_the_last_error() {
    let mut c = Console::running(false, 120, 40);
    let mut s = snapshot();
    s.database = statmgr::api::wire::DatabaseInfo {
        reachable: false,
        since: Some("2024-05-01T11:58:10.000Z".into()),
        last_error: Some("PostgreSQL: connection refused (os error 111)".into()),
    };
    c.feed(s);
    let text = c.text();
    assert!(text.contains("database unreachable since 11:58:10"), "{text}");
    assert!(
        text.contains("database: PostgreSQL: connection refused (os error 111)"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}
