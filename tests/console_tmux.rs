//! The console in a real terminal against a real processor (`statmgr run` on a temporary
//! state directory): tmux on a private socket, a fixed size, keys sent, the screen captured,
//! and after the console exits, the terminal's modes checked.

mod console_support;

use std::path::Path;
use std::time::{Duration, Instant};

use console_support::tmux::{status_json, Processor, Tmux, STATMGR, WAIT};

fn console(root: &Path, extra: &str) -> String {
    format!("{STATMGR} console --root {} {extra}", root.display())
}

#[test]
fn a_bad_theme_is_reported_in_a_real_terminal_and_leaves_it_usable() {
    let tmux = Tmux::start(100, 30, &format!("{STATMGR} console --theme no-such-theme"));
    let screen = tmux.wait_for("[exit ");
    assert!(screen.contains("unknown theme `no-such-theme`"), "{screen}");
    assert_eq!(tmux.exit_code(), 2);
}

#[test]
fn the_console_attaches_and_q_restores_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _processor = Processor::start(dir.path());
    let tmux = Tmux::start(100, 30, &console(dir.path(), ""));
    tmux.wait_for("RUNNING");
    tmux.wait_for("Key allocator");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
    assert!(
        !tmux.screen().contains("Key allocator"),
        "the dashboard stayed on the screen"
    );
}

#[test]
fn watch_is_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _processor = Processor::start(dir.path());
    let command = format!("{STATMGR} watch --root {}", dir.path().display());
    let tmux = Tmux::start(100, 30, &command);
    tmux.wait_for("READ-ONLY");
    tmux.keys(&["p"]);
    tmux.wait_for("read-only: p is disabled in watch");
    assert!(!tmux.screen().contains("PAUSED"));
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}

#[test]
fn the_console_survives_a_processor_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = Processor::start(dir.path());
    let tmux = Tmux::start(100, 30, &console(dir.path(), ""));
    tmux.wait_for("RUNNING");
    processor.stop();
    tmux.wait_for("DISCONNECTED");
    // A new processor listens on a new port: the console finds it through --root.
    let _again = Processor::start(dir.path());
    tmux.wait_for("RUNNING");
    tmux.wait_for("reconnected");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}

#[test]
fn resizing_to_too_small_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _processor = Processor::start(dir.path());
    let tmux = Tmux::start(100, 30, &console(dir.path(), "--color never"));
    tmux.wait_for("Key allocator");
    tmux.resize(60, 20);
    tmux.wait_for("need 80x24");
    tmux.resize(120, 40);
    tmux.wait_for("Key allocator");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
    assert!(
        !tmux.screen().contains("Key allocator"),
        "the dashboard stayed on the screen"
    );
}

#[test]
fn pause_from_the_console_is_what_the_processor_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _processor = Processor::start(dir.path());
    let tmux = Tmux::start(100, 30, &console(dir.path(), ""));
    tmux.wait_for("RUNNING");
    tmux.keys(&["p"]);
    tmux.wait_for("PAUSED");
    assert_eq!(status_json(dir.path())["state"], "paused");
    tmux.keys(&["p"]);
    tmux.wait_for("RUNNING");
    assert_eq!(status_json(dir.path())["state"], "running");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}

#[test]
fn requeue_a_stuck_file_with_confirmation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let processor = Processor::start(dir.path());
    let db = rusqlite::Connection::open(dir.path().join("statmgr.db")).expect("db");
    db.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'POISON'
         BEGIN SELECT RAISE(ABORT, 'machine POISON is refused'); END;",
    )
    .expect("trigger");
    let msg = r#"{"uid":"p1","message_id":7,"severity":"error","component":"c","machine":"POISON","site":"S01","time":"2026-11-23T10:00:00Z"}"#;
    let inbox = processor.root.join("inbox");
    std::fs::write(inbox.join(".tmp"), msg).expect("write");
    std::fs::rename(inbox.join(".tmp"), inbox.join("p.json")).expect("rename");

    let tmux = Tmux::start(120, 40, &console(dir.path(), ""));
    tmux.wait_for("Stuck 1");
    tmux.keys(&["Tab"]);
    tmux.keys(&["r"]);
    let confirm = tmux.wait_for("Requeue this file?");
    assert!(
        confirm.contains("machine POISON is"),
        "the confirmation shows the error:\n{confirm}"
    );
    // The cause is fixed before saying yes: the message commits.
    db.execute_batch("DROP TRIGGER poison").expect("drop trigger");
    tmux.keys(&["y"]);
    let start = Instant::now();
    loop {
        let count: i64 = db
            .query_row("SELECT COUNT(*) FROM status_messages WHERE uid = 'p1'", [], |r| {
                r.get(0)
            })
            .expect("count");
        if count == 1 {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the requeued message was not committed:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux.wait_for("Stuck 0");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}

#[test]
fn the_demo_shows_every_panel_help_and_a_summary_on_exit() {
    let tmux = Tmux::start(120, 40, &format!("{STATMGR} demo --rate 100 --lock-every 0"));
    tmux.wait_for("DEMO");
    let screen = tmux.wait_for("RUNNING");
    for panel in [
        "Inbox",
        "Key allocator",
        "Retry",
        "Stuck",
        "Batch commits",
        "Events",
        "RUNNING",
    ] {
        assert!(screen.contains(panel), "{panel} missing:\n{screen}");
    }
    tmux.wait_for("batches committed");
    tmux.keys(&["?"]);
    tmux.wait_for("requeue");
    tmux.keys(&["Escape"]);
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("[exit ");
    assert!(screen.contains("statmgr demo: what happened"), "{screen}");
    assert!(screen.contains("state directory removed"), "{screen}");
    assert_eq!(tmux.exit_code(), 0);
}
