//! A `statmgr run` process on PostgreSQL for the tests: started with the URL in the
//! environment, its log kept across restarts, killed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A running `statmgr run` on PostgreSQL, its stderr appended to `log` across restarts;
/// killed (SIGKILL) on drop if still running.
pub struct PgProc {
    pub child: std::process::Child,
    pub root: PathBuf,
    pub log: PathBuf,
}

impl PgProc {
    /// Starts `statmgr run --root ROOT` with the database URL in `STATMGR_DATABASE` (as an
    /// operator keeps a password off the command line), plus `extra` flags; waits until it
    /// has logged that it started.
    pub fn start(bin: &str, root: &Path, url: &str, extra: &[&str]) -> PgProc {
        let log = root.with_extension("log");
        let started_before = count_started(&log);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut args = vec!["run", "--root", root.to_str().unwrap()];
        for (flag, value) in [("--batch-age", "50"), ("--rescan", "300")] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend_from_slice(extra);
        let child = Command::new(bin)
            .args(&args)
            .env("STATMGR_DATABASE", url)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start statmgr run");
        let mut proc = PgProc {
            child,
            root: root.to_path_buf(),
            log,
        };
        let t0 = std::time::Instant::now();
        while count_started(&proc.log) <= started_before {
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("the processor exited at start ({status}): {}", proc.log_text());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "the processor did not start: {}",
                proc.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        proc
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit status once it has drained.
    pub fn terminate(mut self, limit: Duration) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let t0 = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                t0.elapsed() < limit,
                "no exit within {limit:?}: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PgProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- processor log {} ---\n{}",
                self.root.display(),
                self.log_text()
            );
        }
    }
}

fn count_started(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("processor started")
        .count()
}
