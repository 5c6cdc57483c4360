//! The real `statmgr run` as a child process: start it on a state directory, watch its
//! database from outside, read its peak memory and CPU time from /proc, stop it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};

/// The flags every run shares (and the floor mirrors).
#[derive(Debug, Clone)]
pub struct RunFlags {
    pub batch_size: usize,
    pub batch_age_ms: u64,
    /// Record a CPU profile of each run into this directory (`perf record --call-graph dwarf`).
    pub perf: Option<PathBuf>,
}

pub struct Processor {
    child: Child,
    pub root: PathBuf,
    pub log: PathBuf,
    pub started: Instant,
    reader: Option<Connection>,
    perf: Option<Child>,
}

/// Totals the processor has committed, read from its `batches` table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Committed {
    pub batches: u64,
    pub messages: u64,
    pub inbox_batches: u64,
    pub retry_batches: u64,
}

impl Processor {
    /// Starts `statmgr run` on `root`; the clock of the run starts here.
    pub fn start(bin: &Path, root: &Path, flags: &RunFlags, extra: &[&str]) -> Result<Processor> {
        let log = root.with_extension("log");
        let log_file = fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("run")
            .arg("--root")
            .arg(root)
            .args(["--batch-size", &flags.batch_size.to_string()])
            .args(["--batch-age", &flags.batch_age_ms.to_string()])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let started = Instant::now();
        let child = cmd.spawn().with_context(|| format!("start {}", bin.display()))?;
        let perf = match &flags.perf {
            Some(dir) => Some(record_profile(dir, child.id())?),
            None => None,
        };
        Ok(Processor {
            child,
            root: root.to_path_buf(),
            log,
            started,
            reader: None,
            perf,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the processor holds the state directory and has opened its database.
    pub fn wait_ready(&mut self) -> Result<Duration> {
        let lock = self.root.join("statmgr.lock");
        let pid = self.pid().to_string();
        let limit = Duration::from_secs(30);
        loop {
            self.check_alive()?;
            let locked = fs::read_to_string(&lock).is_ok_and(|s| s.trim() == pid);
            if locked && self.root.join("statmgr.db-wal").exists() {
                // The lock comes before the database; give the threads a moment.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(self.started.elapsed());
            }
            if self.started.elapsed() > limit {
                bail!("statmgr did not start within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "statmgr exited early ({status}); its log:\n{}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// What the `batches` table says now (zeros before the database exists).
    pub fn committed(&mut self) -> Result<Committed> {
        self.check_alive()?;
        if self.reader.is_none() {
            let db = self.root.join("statmgr.db");
            if !db.exists() || !self.root.join("statmgr.db-wal").exists() {
                return Ok(Committed::default());
            }
            let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            self.reader = Some(conn);
        }
        let conn = self.reader.as_ref().context("reader")?;
        let row = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(count), 0),
                    COALESCE(SUM(source = 'inbox'), 0), COALESCE(SUM(source = 'retry'), 0)
             FROM batches",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        );
        match row {
            Ok((b, m, i, r)) => Ok(Committed {
                batches: b as u64,
                messages: m as u64,
                inbox_batches: i as u64,
                retry_batches: r as u64,
            }),
            // The schema is created by the processor's first transaction.
            Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("no such table") => {
                self.reader = None;
                Ok(Committed::default())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Polls every `every` until `done` holds; returns the time since start. Fails after
    /// `limit`.
    pub fn wait_until(
        &mut self,
        every: Duration,
        limit: Duration,
        what: &str,
        mut done: impl FnMut(&mut Processor, Committed) -> Result<bool>,
    ) -> Result<Duration> {
        loop {
            let c = self.committed()?;
            if done(self, c)? {
                return Ok(self.started.elapsed());
            }
            if self.started.elapsed() > limit {
                bail!("timed out after {limit:?} waiting for {what} (committed so far: {c:?})");
            }
            std::thread::sleep(every);
        }
    }

    /// Peak resident set size so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .context("no VmHWM line in /proc/PID/status")?;
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .context("VmHWM has no value")?
            .parse()?;
        Ok(kib * 1024)
    }

    /// User plus system CPU time of every thread so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time(self.pid())
    }

    /// SIGTERM, and waits for a clean exit (the drain).
    pub fn stop(mut self) -> Result<()> {
        if let Some(mut perf) = self.perf.take() {
            // SAFETY: kill(2) on our own child's pid. SIGINT makes perf write its data.
            unsafe { libc::kill(perf.id() as i32, libc::SIGINT) };
            perf.wait()?;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid() as i32, libc::SIGTERM) };
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!(
                        "statmgr exited with {status}; log:\n{}",
                        fs::read_to_string(&self.log).unwrap_or_default()
                    );
                }
                let _ = fs::remove_file(&self.log);
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                bail!("statmgr did not exit within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        if let Some(perf) = &mut self.perf {
            let _ = perf.kill();
            let _ = perf.wait();
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `perf record` on `pid` (every thread), writing `dir/statmgr-<pid>.data`.
fn record_profile(dir: &Path, pid: u32) -> Result<Child> {
    fs::create_dir_all(dir)?;
    // Attached before the child's exec, perf may follow the forked copy of this process.
    let me = std::env::current_exe()?;
    let t = Instant::now();
    while fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == me) {
        anyhow::ensure!(t.elapsed() < Duration::from_secs(5), "statmgr did not start");
        std::thread::sleep(Duration::from_micros(200));
    }
    let out = dir.join(format!("statmgr-{pid}.data"));
    eprintln!("  recording a profile into {}", out.display());
    Command::new("perf")
        .args([
            "record",
            "-e",
            "cpu-clock",
            "-F",
            "499",
            "--call-graph",
            "dwarf,16384",
            "-p",
            &pid.to_string(),
            "-o",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("start perf record (is linux-perf installed?)")
}

/// utime + stime of a process, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = stat.rsplit_once(')').context("malformed /proc/PID/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> { Ok(fields.get(i).context("short /proc/PID/stat")?.parse()?) };
    // Fields 14 and 15 of the file; `rest` starts at field 3.
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_micros(total * 1_000_000 / hz))
}

/// True when `dir` holds no entry other than temporary dot-files.
pub fn dir_empty(dir: &Path) -> Result<bool> {
    for entry in fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))? {
        if !entry?.file_name().to_string_lossy().starts_with('.') {
            return Ok(false);
        }
    }
    Ok(true)
}
