//! Shared helpers of the integration tests: start the real `statmgr` binary on a
//! temporary state directory, drop messages as a producer does, read the database.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_statmgr")
}

/// A running `statmgr run`; killed (SIGKILL) on drop if still running.
pub struct Proc {
    pub child: Child,
    pub root: PathBuf,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `statmgr run --root ROOT` with fast test timings plus `extra` flags, and
    /// waits until it holds the state directory.
    pub fn start(root: &Path, extra: &[&str]) -> Proc {
        let log = root.with_extension(format!("log{}", std::process::id()));
        let log_file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut args = vec!["run", "--root", root.to_str().unwrap()];
        // Fast test timings, unless the test sets its own.
        for (flag, value) in [("--batch-age", "50"), ("--rescan", "300")] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend_from_slice(extra);
        let child = Command::new(bin())
            .args(&args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start statmgr run");
        let mut p = Proc {
            child,
            root: root.to_path_buf(),
            log,
        };
        p.wait_ready();
        p
    }

    fn wait_ready(&mut self) {
        let pid = self.child.id().to_string();
        let lock = self.root.join("statmgr.lock");
        let (child, log, root) = (&mut self.child, &self.log, &self.root);
        wait_for(Duration::from_secs(20), "the processor to start", || {
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "the processor exited at start ({st}): {}",
                    fs::read_to_string(log).unwrap_or_default()
                );
            }
            fs::read_to_string(&lock)
                .map(|s| s.trim() == pid)
                .unwrap_or(false)
                && schema_exists(root)
        });
        // The API is up last: a test that asks the CLI right away must find it (under load
        // the endpoint can come well after the lock and the schema).
        let endpoint = root.join("control/endpoint");
        wait_for(Duration::from_secs(20), "the API to listen", || {
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "the processor exited at start ({st}): {}",
                    fs::read_to_string(log).unwrap_or_default()
                );
            }
            fs::read_to_string(&endpoint)
                .map(|url| std::net::TcpStream::connect(url.trim().trim_start_matches("http://")).is_ok())
                .unwrap_or(false)
        });
    }

    /// The API's base URL from `control/endpoint`: waits for the file, and for its address
    /// to accept a connection (a processor killed before this one left its endpoint behind).
    pub fn endpoint(&self) -> String {
        let path = self.root.join("control/endpoint");
        let mut url = String::new();
        wait_for(
            Duration::from_secs(10),
            "control/endpoint of a listening API",
            || {
                let Ok(text) = fs::read_to_string(&path) else {
                    return false;
                };
                url = text.trim().to_string();
                std::net::TcpStream::connect(url.trim_start_matches("http://")).is_ok()
            },
        );
        url
    }

    pub fn token(&self) -> String {
        fs::read_to_string(self.root.join("control/token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// `statmgr ARGS --root ROOT`, its exit code and output.
    pub fn cli(&self, args: &[&str]) -> (Option<i32>, String, String) {
        // `start` returns once the database is ready; the API writes its endpoint a moment
        // later (on a loaded machine, later than the first command of a test).
        wait_until(Duration::from_secs(10), || {
            self.root.join("control/endpoint").exists()
        });
        let out = Command::new(bin())
            .args(args)
            .arg("--root")
            .arg(&self.root)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit; returns the status and how long it took.
    pub fn terminate(mut self, limit: Duration) -> (ExitStatus, Duration) {
        self.sigterm_and_wait(limit)
    }

    fn sigterm_and_wait(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        // A SIGTERM that arrives before the processor installed its handler kills it at once
        // instead of draining (a test that stopped a processor right after its start failed
        // so on a busy machine): wait for the handler first.
        let pid = self.child.id();
        let t0 = Instant::now();
        while self.child.try_wait().unwrap().is_none() && !catches_sigterm(pid) {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "the processor never installed its SIGTERM handler; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let t0 = Instant::now();
        self.signal(libc::SIGTERM);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st, t0.elapsed());
            }
            if t0.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "processor did not exit within {limit:?}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Like `terminate`, and the processor's whole log (stderr).
    pub fn terminate_with_log(mut self, limit: Duration) -> (ExitStatus, String) {
        let (st, _) = self.sigterm_and_wait(limit);
        (st, self.log_text())
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if !std::thread::panicking() {
            let _ = fs::remove_file(&self.log);
        } else {
            eprintln!("--- processor log ---\n{}", self.log_text());
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// Whether process `pid` has a handler for SIGTERM (`SigCgt` of `/proc/PID/status`).
fn catches_sigterm(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

/// Whether the processor has created its tables (the database file alone appears before
/// them: a test that adds a trigger right after the start found "no such table" on a busy
/// machine).
fn schema_exists(root: &Path) -> bool {
    let path = root.join("statmgr.db");
    if !path.exists() {
        return false;
    }
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(&path, flags)
        .and_then(|c| {
            c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'status_messages'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .is_ok_and(|n| n == 1)
}

/// Polls `cond` every 20 ms; panics with `what` after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        if t0.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A valid message as JSON, distinguished by `n` (and its uid `u-<n>` unless `uid` is false).
pub fn message(n: u64, machine: &str) -> serde_json::Value {
    let severity = ["info", "warning", "error"][(n % 3) as usize];
    serde_json::json!({
        "uid": format!("u-{n}"),
        "message_id": n,
        "severity": severity,
        "component": "SMS_EXECUTIVE",
        "machine": machine,
        "site": "S01",
        "time": "2026-11-23T10:00:00Z",
        "insertion_strings": [format!("is-{n}"), "two"],
        "attributes": {"400": format!("attr-{n}")}
    })
}

/// Drops `content` as `inbox/name` the way a producer must: temporary dot-file, fsync, rename.
pub fn drop_file(root: &Path, name: &str, content: &[u8]) {
    let inbox = root.join("inbox");
    let tmp = inbox.join(format!(".tmp-{name}"));
    let mut f = fs::File::create(&tmp).unwrap();
    f.write_all(content).unwrap();
    f.sync_all().unwrap();
    fs::rename(&tmp, inbox.join(name)).unwrap();
}

/// Drops messages `range` as JSON Lines files of `per_file` messages each.
pub fn drop_messages(root: &Path, range: std::ops::Range<u64>, per_file: u64) {
    let mut start = range.start;
    while start < range.end {
        let end = (start + per_file).min(range.end);
        let body: String = (start..end)
            .map(|n| format!("{}\n", message(n, "HOST1")))
            .collect();
        drop_file(root, &format!("m-{start:08}.jsonl"), body.as_bytes());
        start = end;
    }
}

/// The processor's schema is committed (the file exists a moment before it is).
fn schema_created(root: &Path) -> bool {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    Connection::open_with_flags(root.join("statmgr.db"), flags)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)))
        .is_ok_and(|v| v > 0)
}

pub fn db(root: &Path) -> Connection {
    let c = Connection::open(root.join("statmgr.db")).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

pub fn row_count(root: &Path) -> u64 {
    db(root)
        .query_row("SELECT COUNT(*) FROM status_messages", [], |r| r.get::<_, i64>(0))
        .unwrap_or(0) as u64
}

/// Every uid in the database, sorted.
pub fn uids(root: &Path) -> Vec<String> {
    let c = db(root);
    let mut st = c.prepare("SELECT uid FROM status_messages ORDER BY uid").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Names of the regular, non-temporary files in `root/dir`, sorted.
pub fn files_in(root: &Path, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root.join(dir))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The messages held in a retry or stuck file (lines after the header).
pub fn messages_in_batch_file(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The invariants every test ends with: integrity ok, allocator above MAX(record_id).
pub fn check_database(root: &Path) {
    let c = db(root);
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let max: i64 = c
        .query_row(
            "SELECT COALESCE(MAX(record_id), 0) FROM status_messages",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let hw: i64 = c
        .query_row("SELECT COALESCE(MAX(high_water), 0) FROM allocator", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        hw > max,
        "allocator high-water mark {hw} must be above MAX(record_id) {max}"
    );
    let dup: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM (SELECT uid FROM status_messages GROUP BY uid HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dup, 0);
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("statmgr-test-")
        .tempdir()
        .unwrap()
}

/// The state directory inside a temp dir (so the processor's log sits beside it).
pub fn state_root(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("state")
}

impl Proc {
    /// `Proc::start` with extra environment variables (failpoints, log levels).
    pub fn start_with_env(root: &Path, extra: &[&str], env: &[(&str, &str)]) -> Proc {
        let log = root.with_extension(format!("log{}", std::process::id()));
        let log_file = fs::OpenOptions::new()
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
        let mut command = Command::new(bin());
        // An aborted processor (a failpoint) must not leave a core file behind.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                Ok(())
            });
        }
        let child = command
            .args(&args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start statmgr run");
        let mut p = Proc {
            child,
            root: root.to_path_buf(),
            log,
        };
        p.wait_ready();
        p
    }

    /// The exit status if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGTERM if still running, then the exit status (whatever it was).
    pub fn stop(mut self, limit: Duration) -> ExitStatus {
        match self.exited() {
            Some(st) => st,
            None => self.terminate(limit).0,
        }
    }
}

/// Polls `cond` every 20 ms for at most `limit`; returns whether it became true.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The uids of the messages held in every retry or stuck file of `root/dir`, one entry
/// per copy (a uid held twice appears twice).
pub fn uids_in_batch_files(root: &Path, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in files_in(root, dir) {
        for m in messages_in_batch_file(&root.join(dir).join(&name)) {
            out.push(m["uid"].as_str().unwrap_or_default().to_string());
        }
    }
    out.sort();
    out
}

/// Invariants 1 and 2 for a run that sent `sent` (sorted uids): every uid is exactly once
/// in the database or in `stuck/`, never in both, never twice; `retry/` and `inbox/` are empty.
pub fn check_accounted(root: &Path, sent: &[String], context: &str) {
    assert!(
        files_in(root, "inbox").is_empty(),
        "{context}: inbox not empty: {:?}",
        files_in(root, "inbox")
    );
    assert!(
        files_in(root, "retry").is_empty(),
        "{context}: retry/ not empty: {:?}",
        files_in(root, "retry")
    );
    let db = uids(root);
    let stuck = uids_in_batch_files(root, "stuck");
    let mut all: Vec<String> = db.iter().chain(stuck.iter()).cloned().collect();
    all.sort();
    let mut twice: Vec<&String> = all.windows(2).filter(|w| w[0] == w[1]).map(|w| &w[0]).collect();
    twice.dedup();
    assert!(
        twice.is_empty(),
        "{context}: held twice (database or stuck/): {twice:?}"
    );
    let mut want = sent.to_vec();
    want.sort();
    assert_eq!(
        all, want,
        "{context}: every message exactly once in the database or stuck/"
    );
    check_database(root);
}

/// `GET path` on `endpoint` (`http://127.0.0.1:PORT`) over a plain socket, with the Host
/// header the server expects: the status code and the body, or `None` if nothing answered.
pub fn http_get(endpoint: &str, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let addr = endpoint.trim().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}
