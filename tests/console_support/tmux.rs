//! A real terminal for the console tests: tmux on a private socket at a fixed size, and
//! `statmgr run` processors on temporary state directories.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const STATMGR: &str = env!("CARGO_BIN_EXE_statmgr");
pub const WAIT: Duration = Duration::from_secs(15);

/// A tmux server of our own (socket `-L`), one session of a fixed size; killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` (through `sh -c`) in a `width`x`height` terminal. When it ends, the
    /// shell prints `[exit N]`, the terminal's modes and `[end]`, so a test can check them.
    pub fn start(width: u16, height: u16, command: &str) -> Tmux {
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

    pub fn run(&self, args: &[&str]) -> Output {
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
    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", key]);
        }
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    pub fn resize(&self, width: u16, height: u16) {
        self.run(&[
            "resize-window",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    /// The screen once it contains `needle`; fails with the last screen after `WAIT`.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |screen| screen.contains(needle))
    }

    /// The screen once `ready` says so; fails with the last screen (and `what`) after `WAIT`.
    pub fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < WAIT,
                "waited {WAIT:?} for {what:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// After the command ended: its exit code, with the terminal back in cooked mode.
    pub fn exit_code(&self) -> i32 {
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
pub struct Processor {
    child: Child,
    pub root: PathBuf,
}

impl Processor {
    pub fn start(root: &Path) -> Processor {
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

    pub fn wait_for_endpoint(&self) {
        let endpoint = self.root.join("control").join("endpoint");
        let start = Instant::now();
        while !endpoint.exists() {
            assert!(start.elapsed() < WAIT, "no {} after {WAIT:?}", endpoint.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The API's base URL, from `<root>/control/endpoint`.
    pub fn url(&self) -> String {
        let endpoint = self.root.join("control").join("endpoint");
        let text = std::fs::read_to_string(&endpoint).expect("the endpoint file");
        text.trim().to_string()
    }

    pub fn stop(mut self) {
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

/// `statmgr status --json --root ROOT`, parsed.
pub fn status_json(root: &Path) -> serde_json::Value {
    let out = Command::new(STATMGR)
        .args(["status", "--json", "--root"])
        .arg(root)
        .output()
        .expect("statmgr status");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the snapshot document")
}
