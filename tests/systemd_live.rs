//! The shipped unit (contrib/systemd) under a real, live systemd, booted as PID 1 of its own
//! namespaces by tests/systemd_live/boot.sh: start waits for READY=1, STATUS= in `systemctl
//! status`, the sandbox, a producer's file committed, a draining stop, and the watchdog
//! restarting a processor whose committer thread is wedged. Runs with STATMGR_SYSTEMD_LIVE=1
//! as root (about 90 s); otherwise, or when this machine lacks what it takes to boot systemd
//! (root, /lib/systemd/systemd, a writable cgroup2, overlayfs, util-linux), says SKIPPED and why.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const GATE: &str = "STATMGR_SYSTEMD_LIVE";
const API: &str = "http://127.0.0.1:7470";

/// A systemd booted in namespaces; killed with everything in it (SIGKILL to its PID 1) and
/// its cgroup removed on drop.
struct Machine {
    unshare: Child,
    pid1: i32,
    cgroup: PathBuf,
    _base: tempfile::TempDir,
}

/// The mount point of the cgroup2 hierarchy and this process's cgroup in it.
fn cgroup2_home() -> Result<PathBuf, String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").map_err(|e| e.to_string())?;
    let mount = mounts
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[2] == "cgroup2" && f[3].starts_with("rw"))
        .map(|f| f[1].to_string())
        .ok_or("no read-write cgroup2 hierarchy is mounted (see /proc/self/mounts)")?;
    let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("this process has no cgroup2 path in /proc/self/cgroup")?;
    Ok(Path::new(&mount).join(path.trim_start_matches('/')))
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Machine {
    /// Boots systemd; Err says what this machine lacks for it (then the test is skipped).
    /// Panics when the machine has it all but the boot fails.
    fn boot() -> Result<Machine, String> {
        if unsafe { libc::geteuid() } != 0 {
            return Err("needs root (namespaces, mounts, cgroups)".into());
        }
        if !Path::new("/lib/systemd/systemd").exists() {
            return Err("/lib/systemd/systemd is not installed".into());
        }
        for program in ["unshare", "nsenter", "setpriv", "pivot_root", "curl", "runuser"] {
            if !have(program) {
                return Err(format!("{program} is not installed"));
            }
        }
        let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
        if !filesystems.lines().any(|l| l.ends_with("\toverlay")) {
            return Err("the kernel has no overlay filesystem".into());
        }
        let cgroup = cgroup2_home()?.join(format!("statmgr-live-{}", std::process::id()));
        std::fs::create_dir_all(&cgroup)
            .map_err(|e| format!("cannot make the cgroup {}: {e}", cgroup.display()))?;
        let base = tempdir();
        let log = base.path().join("boot.log");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let unshare = Command::new("bash")
            .arg(manifest.join("tests/systemd_live/boot.sh"))
            .env("SDLIVE_BASE", base.path().join("ns"))
            .env("SDLIVE_CG", &cgroup)
            .env("SDLIVE_BIN", bin())
            .env("SDLIVE_CONTRIB", manifest.join("contrib"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .map_err(|e| format!("cannot run boot.sh: {e}"))?;
        let mut machine = Machine {
            pid1: 0,
            unshare,
            cgroup,
            _base: base,
        };
        // unshare --fork: PID 1 of the namespace is its only child, and becomes systemd.
        let children = format!("/proc/{0}/task/{0}/children", machine.unshare.id());
        let is_systemd = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "systemd")
        };
        wait_until(Duration::from_secs(20), || {
            if let Some(pid) = std::fs::read_to_string(&children)
                .ok()
                .and_then(|c| c.split_whitespace().next()?.parse::<i32>().ok())
            {
                machine.pid1 = pid;
            }
            is_systemd(machine.pid1) || machine.unshare.try_wait().is_ok_and(|s| s.is_some())
        });
        // The machine has what it takes: from here on, a failure is the test's.
        let why = |what: &str| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{what}; boot.sh said: {}", log.trim())
        };
        if !is_systemd(machine.pid1) {
            panic!(
                "{}",
                why("systemd did not become PID 1 of the namespace within 20 s")
            );
        }
        let mut state = String::new();
        let up = wait_until(Duration::from_secs(90), || {
            state = machine.run("systemctl is-system-running").1;
            matches!(state.trim(), "running" | "degraded")
        });
        if !up {
            panic!(
                "{}",
                why(&format!(
                    "systemd did not finish booting within 90 s (is-system-running: {})",
                    state.trim()
                ))
            );
        }
        if state.trim() == "degraded" {
            eprintln!(
                "note: the booted system is degraded:\n{}",
                machine.run("systemctl --failed --no-pager").1
            );
        }
        Ok(machine)
    }

    /// Runs a shell command inside the machine: (success, stdout, stderr).
    fn run(&self, cmd: &str) -> (bool, String, String) {
        let out = Command::new("nsenter")
            .args(["-t", &self.pid1.to_string(), "-a", "--", "bash", "-c", cmd])
            .output()
            .expect("nsenter");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a shell command inside the machine that must succeed; its stdout, trimmed.
    fn sh(&self, cmd: &str) -> String {
        let (ok, out, err) = self.run(cmd);
        assert!(ok, "`{cmd}` failed:\n{out}\n{err}");
        out.trim().to_string()
    }

    fn show(&self, property: &str) -> String {
        self.sh(&format!("systemctl show -p {property} --value statmgr"))
    }

    fn journal(&self) -> String {
        self.sh("journalctl -u statmgr --no-pager -o cat")
    }

    fn wait_journal(&self, limit: Duration, what: &str) -> String {
        let mut text = String::new();
        wait_for(limit, &format!("{what:?} in the journal"), || {
            text = self.journal();
            text.contains(what)
        });
        text
    }

    fn http(&self, path: &str) -> String {
        self.sh(&format!("curl -s -m 5 -w ' %{{http_code}}' {API}{path}"))
    }

    fn committed(&self, uid: &str) -> bool {
        let (_, out, _) = self.run(&format!("statmgr find --url {API} {uid}"));
        out.contains(&format!("{uid}: committed"))
    }

    /// Drops message `n` (uid `u-<n>`) as the member of the group statmgr that README's
    /// Deploy section describes, with `statmgr send` and a umask of 0027.
    fn send_as_producer(&self, n: u64) {
        let json = message(n, "LIVE-01").to_string();
        self.sh(&format!(
            "cat > /tmp/live-{n}.json <<'EOF'\n{json}\nEOF\n\
             cd /tmp && runuser -u producer -- sh -c \
             'umask 0027; statmgr send --root /var/lib/statmgr /tmp/live-{n}.json'"
        ));
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if self.pid1 > 0 {
            // SIGKILL to a PID namespace's init kills every process in it.
            unsafe { libc::kill(self.pid1, libc::SIGKILL) };
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        // The emptied cgroups go once the kernel has seen the last process out.
        let gone = wait_until(Duration::from_secs(10), || {
            remove_cgroups(&self.cgroup);
            !self.cgroup.exists()
        });
        if !gone {
            eprintln!("warning: could not remove the cgroup {}", self.cgroup.display());
        }
    }
}

fn remove_cgroups(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroups(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Stops one thread of another process and nothing else: PTRACE_SEIZE + PTRACE_INTERRUPT
/// put only that thread in a ptrace stop (no group stop, as SIGSTOP would be), so the rest of
/// the processor (API, intake, the notify loop) goes on while its committer is wedged.
struct WedgedThread {
    tid: i32,
}

impl WedgedThread {
    fn stop(pid: i32, name: &str) -> WedgedThread {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the tasks of the processor");
        let tids: Vec<i32> = tasks
            .flatten()
            .filter_map(|t| t.file_name().to_str()?.parse().ok())
            .filter(|tid| {
                std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                    .is_ok_and(|c| c.trim() == name)
            })
            .collect();
        assert_eq!(
            tids.len(),
            1,
            "one thread named {name} in process {pid}: {tids:?}"
        );
        let tid = tids[0];
        let null = std::ptr::null_mut::<libc::c_void>();
        for request in [libc::PTRACE_SEIZE, libc::PTRACE_INTERRUPT] {
            let rc = unsafe { libc::ptrace(request, tid, null, null) };
            assert_eq!(
                rc,
                0,
                "ptrace({request}, {tid}): {}",
                std::io::Error::last_os_error()
            );
        }
        let mut status = 0;
        let rc = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
        assert_eq!(rc, tid, "waitpid: {}", std::io::Error::last_os_error());
        let state = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap();
        let state = state
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(state, "t", "thread {tid} is in a ptrace stop");
        WedgedThread { tid }
    }

    /// Collects the thread's exit (its process was killed) so that its process can be reaped.
    fn reap(&self) {
        let mut status = 0;
        unsafe { libc::waitpid(self.tid, &mut status, libc::__WALL | libc::WNOHANG) };
    }
}

fn line_index(text: &str, what: &str) -> usize {
    text.lines()
        .position(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in:\n{text}"))
}

#[test]
fn the_shipped_unit_runs_under_a_live_systemd() {
    if std::env::var(GATE).as_deref() != Ok("1") {
        eprintln!("SKIPPED: set {GATE}=1 (as root) to boot a real systemd and run the unit under it");
        return;
    }
    let machine = match Machine::boot() {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED: cannot boot systemd on this machine: {why}");
            return;
        }
    };
    let m = &machine;
    eprintln!("systemd {}", m.sh("systemctl --version | head -1"));

    // Installed as README's Deploy section says; debug logging shows every notify message.
    m.sh(
        "install -m 0644 /opt/statmgr-contrib/systemd/statmgr.sysusers /usr/lib/sysusers.d/statmgr.conf \
         && systemd-sysusers \
         && install -m 0644 /opt/statmgr-contrib/systemd/statmgr.service /etc/systemd/system/ \
         && useradd --create-home producer && usermod -aG statmgr producer \
         && systemctl daemon-reload && systemctl log-level debug",
    );

    // Type=notify: `systemctl start` returns once READY=1 came, so the API answers at once.
    let t0 = Instant::now();
    m.sh("systemctl enable --now statmgr");
    eprintln!("systemctl enable --now statmgr returned after {:?}", t0.elapsed());
    assert_eq!(m.http("/readyz"), r#"{"status":"ok"} 200"#);
    assert_eq!(m.show("ActiveState"), "active");
    let pid = m.show("MainPID");
    let journal = m.journal();
    let ready = line_index(
        &journal,
        &format!("Got notification message from PID {pid} (READY=1"),
    );
    let started = line_index(&journal, "Started statmgr.service");
    assert!(ready < started, "READY=1 before Started:\n{journal}");
    eprintln!("{}", journal.lines().nth(ready).unwrap());
    let status = m.sh("systemctl status statmgr --no-pager");
    assert!(status.contains("Status: \"running; inbox 0 files;"), "{status}");
    eprintln!("{}", status.lines().find(|l| l.contains("Status:")).unwrap());

    // The sandbox: no capabilities, no new privileges, a system-call filter, a read-only
    // system but for the state directory, which the processor owns and writes.
    let proc_status = m.sh(&format!("cat /proc/{pid}/status"));
    let uid = m.sh("id -u statmgr");
    for line in [
        format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}"),
        "NoNewPrivs:\t1".into(),
        "Seccomp:\t2".into(),
        "CapEff:\t0000000000000000".into(),
        "CapBnd:\t0000000000000000".into(),
    ] {
        assert!(
            proc_status.lines().any(|l| l == line),
            "{line:?} in:\n{proc_status}"
        );
    }
    for (path, mode) in [
        ("/usr", "ro"),
        ("/etc", "ro"),
        ("/home", "ro"),
        ("/var/lib/statmgr", "rw"),
    ] {
        let options = m.sh(&format!("nsenter -t {pid} -m findmnt -n -o OPTIONS -T {path}"));
        assert!(
            options.starts_with(mode),
            "{path} is {mode} for the service: {options}"
        );
    }
    assert_eq!(
        m.sh("stat -c '%n %U:%G %a' /var/lib/statmgr /var/lib/statmgr/inbox /var/lib/statmgr/statmgr.db"),
        "/var/lib/statmgr statmgr:statmgr 750\n\
         /var/lib/statmgr/inbox statmgr:statmgr 2770\n\
         /var/lib/statmgr/statmgr.db statmgr:statmgr 640"
    );

    // A producer (a member of the group statmgr) drops a file; it is committed.
    m.send_as_producer(1);
    wait_for(Duration::from_secs(20), "u-1 committed", || m.committed("u-1"));
    assert!(!m.journal().contains("Permission denied"), "{}", m.journal());

    // `systemctl stop`: SIGTERM, STOPPING=1, the drain, a clean exit.
    m.sh("systemctl stop statmgr");
    let journal = m.journal();
    let stopping = line_index(
        &journal,
        &format!("Got notification message from PID {pid} (STOPPING=1"),
    );
    let drained = line_index(&journal, "drained; exiting");
    assert!(stopping < drained, "{journal}");
    eprintln!("{}", journal.lines().nth(stopping).unwrap());
    assert_eq!(m.show("Result"), "success");
    assert_eq!(m.show("ExecMainStatus"), "0");

    // The watchdog: with the committer thread wedged (everything else runs on), the
    // processor stops its pings, systemd kills it and starts it again.
    m.sh("systemctl start statmgr");
    assert!(m.committed("u-1"), "u-1 is still committed after a restart");
    let pid = m.show("MainPID");
    m.wait_journal(
        Duration::from_secs(10),
        &format!("Got notification message from PID {pid} (WATCHDOG=1)"),
    );
    let host_pid: i32 = std::fs::read_to_string(m.cgroup.join("system.slice/statmgr.service/cgroup.procs"))
        .expect("the service's cgroup")
        .trim()
        .parse()
        .expect("one process in the service's cgroup");
    let wedged = WedgedThread::stop(host_pid, "committer");
    let t0 = Instant::now();
    m.send_as_producer(2);
    let journal = m.wait_journal(
        Duration::from_secs(45),
        "the committer thread has made no progress",
    );
    eprintln!(
        "after {:?}: {}",
        t0.elapsed(),
        journal.lines().find(|l| l.contains("made no progress")).unwrap()
    );
    let health = m.http("/healthz");
    assert!(
        health.ends_with(" 503") && health.contains("committer"),
        "{health}"
    );
    eprintln!("/healthz: {health}");
    let mut restarted = false;
    wait_for(Duration::from_secs(60), "the watchdog restart", || {
        wedged.reap();
        restarted =
            m.show("NRestarts") == "1" && m.show("ActiveState") == "active" && m.show("MainPID") != pid;
        restarted
    });
    eprintln!("restarted after {:?} (NRestarts=1)", t0.elapsed());
    let journal = m.journal();
    for line in [
        "statmgr.service: Watchdog timeout (limit 30s)!",
        "statmgr.service: Killing process",
        "statmgr.service: Failed with result 'watchdog'.",
    ] {
        let at = line_index(&journal, line);
        eprintln!("{}", journal.lines().nth(at).unwrap());
    }
    // Nothing was lost: the file dropped while the committer was wedged commits now.
    wait_for(Duration::from_secs(20), "u-2 committed after the restart", || {
        m.committed("u-2")
    });
    assert!(m.committed("u-1"));
    m.sh("systemctl stop statmgr");
}
