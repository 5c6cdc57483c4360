//! The console in a real terminal against a real processor (`statmgr run` on a temporary
//! state directory): tmux on a private socket, a fixed size, keys sent, the screen captured,
//! and after the console exits, the terminal's modes checked.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const STATMGR: &str = env!("CARGO_BIN_EXE_statmgr");
const WAIT: Duration = Duration::from_secs(15);

/// A tmux server of our own (socket `-L`), one session of a fixed size; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` (through `sh -c`) in a `width`x`height` terminal. When it ends, the
    /// shell prints `[exit N]`, the terminal's modes and `[end]`, so a test can check them.
    fn start(width: u16, height: u16, command: &str) -> Tmux {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "statmgr-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let tmux = Tmux { socket };
        let script = format!("{command}; echo \"[exit $?]\"; stty -a; echo \"[end]\"; exec sleep 600");
        let size = (width.to_string(), height.to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            &size.0,
            "-y",
            &size.1,
            "sh",
            "-c",
            &script,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .output()
            .expect("tmux is required for these tests (apt-get install tmux)");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Keys in tmux's names (`q`, `Enter`, `C-c`, `Tab`...), one at a time.
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", key]);
        }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    fn resize(&self, width: u16, height: u16) {
        self.run(&[
            "resize-window",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    /// The screen once it contains `needle`; fails with the last screen after `WAIT`.
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < WAIT,
                "waited {WAIT:?} for {needle:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// After the command ended: its exit code, with the terminal back in cooked mode.
    fn exit_code(&self) -> i32 {
        let screen = self.wait_for("[end]");
        assert!(
            !screen.contains("-icanon") && screen.contains("icanon"),
            "raw mode left on:\n{screen}"
        );
        assert!(
            !screen.contains("-echo ") && screen.contains(" echo "),
            "echo left off:\n{screen}"
        );
        let code = screen
            .split("[exit ")
            .nth(1)
            .and_then(|rest| rest.split(']').next());
        code.and_then(|c| c.parse().ok()).expect("an exit code")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// `statmgr run` on a temporary state directory; killed (then reaped) on drop.
struct Processor {
    child: Child,
    root: PathBuf,
}

impl Processor {
    fn start(root: &Path) -> Processor {
        let child = Command::new(STATMGR)
            .args(["run", "--root"])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start statmgr run");
        let processor = Processor {
            child,
            root: root.to_path_buf(),
        };
        processor.wait_for_endpoint();
        processor
    }

    fn wait_for_endpoint(&self) {
        let endpoint = self.root.join("control").join("endpoint");
        let start = Instant::now();
        while !endpoint.exists() {
            assert!(start.elapsed() < WAIT, "no {} after {WAIT:?}", endpoint.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The endpoint of a dead processor must not be mistaken for the next one's.
        let _ = std::fs::remove_file(self.root.join("control").join("endpoint"));
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
fn pause_and_resume_from_the_console() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _processor = Processor::start(dir.path());
    let tmux = Tmux::start(100, 30, &console(dir.path(), ""));
    tmux.wait_for("RUNNING");
    tmux.keys(&["p"]);
    tmux.wait_for("PAUSED");
    tmux.keys(&["p"]);
    tmux.wait_for("RUNNING");
    tmux.keys(&["C-c"]);
    assert_eq!(tmux.exit_code(), 0);
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

/// `statmgr status --json ARGS` against `root`, parsed.
fn status_json(root: &Path) -> serde_json::Value {
    let out = Command::new(STATMGR)
        .args(["status", "--json", "--root"])
        .arg(root)
        .output()
        .expect("statmgr status");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the snapshot document")
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
    let screen = tmux.wait_for("DEMO");
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
