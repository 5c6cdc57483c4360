//! systemd's notify protocol, against a real unix datagram socket given to the real binary
//! as `NOTIFY_SOCKET`: READY=1 once the processor can work (the API answers by then),
//! STATUS= lines, STOPPING=1 when SIGTERM starts the drain, WATCHDOG=1 pings only when
//! `WATCHDOG_USEC` asks for them (for this process), and no pings while the committer is
//! wedged (a failpoint makes it hang inside a commit).

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::*;

/// Every datagram received, with when it arrived.
struct Listener {
    got: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    fn bind(path: &Path) -> Listener {
        let socket = UnixDatagram::bind(path).expect("bind the notify socket");
        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (g, s) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    g.lock().unwrap().push((Instant::now(), text));
                }
            }
        });
        Listener {
            got,
            stop,
            thread: Some(thread),
        }
    }

    fn all(&self) -> Vec<(Instant, String)> {
        self.got.lock().unwrap().clone()
    }

    /// Datagrams holding the line `line` (e.g. `READY=1`), with their arrival times.
    fn with_line(&self, line: &str) -> Vec<Instant> {
        self.all()
            .into_iter()
            .filter(|(_, text)| text.lines().any(|l| l == line))
            .map(|(at, _)| at)
            .collect()
    }

    fn statuses(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .flat_map(|(_, text)| {
                text.lines()
                    .filter_map(|l| l.strip_prefix("STATUS="))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn get(endpoint: &str, path: &str) -> Option<u16> {
    http_get(endpoint, path).map(|(status, _)| status)
}

#[test]
fn ready_once_the_api_answers_then_status_lines_and_stopping_at_the_drain() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let sock = tmp.path().join("notify.sock");
    let listener = Listener::bind(&sock);
    // A file waiting before the start: the first scan takes it.
    std::fs::create_dir_all(root.join("inbox")).unwrap();
    drop_file(&root, "early.json", message(1, "m").to_string().as_bytes());
    let p = Proc::start_with_env(&root, &[], &[("NOTIFY_SOCKET", sock.to_str().unwrap())]);
    wait_for(Duration::from_secs(20), "READY=1", || {
        !listener.with_line("READY=1").is_empty()
    });
    // READY is sent only after the API listens: it answers now, at once.
    let endpoint = std::fs::read_to_string(root.join("control/endpoint"))
        .expect("control/endpoint exists when READY=1 arrives");
    assert_eq!(get(endpoint.trim(), "/readyz"), Some(200));
    assert_eq!(listener.with_line("READY=1").len(), 1, "READY=1 once");
    let ready = listener
        .all()
        .into_iter()
        .find(|(_, t)| t.contains("READY=1"))
        .unwrap()
        .1;
    assert!(
        ready.contains("STATUS="),
        "READY carries a first status: {ready:?}"
    );

    wait_for(Duration::from_secs(20), "the early file committed", || {
        row_count(&root) == 1
    });
    // Status lines are refreshed (every 2 s) and say state, inbox depth and rate.
    wait_for(Duration::from_secs(10), "two more status lines", || {
        listener.statuses().len() >= 3
    });
    let last = listener.statuses().last().cloned().unwrap();
    assert!(
        last.starts_with("running; inbox 0 files;") && last.contains("msg/s committed"),
        "{last:?}"
    );
    assert!(
        listener.with_line("WATCHDOG=1").is_empty(),
        "no WATCHDOG_USEC: no pings"
    );
    assert!(listener.with_line("STOPPING=1").is_empty());

    let (status, _) = p.terminate(Duration::from_secs(15));
    assert!(status.success());
    let stopping = listener.with_line("STOPPING=1");
    assert_eq!(stopping.len(), 1, "STOPPING=1 once: {:?}", listener.all());
    let texts = listener.all();
    let at = texts.iter().position(|(_, t)| t.contains("STOPPING=1")).unwrap();
    assert!(texts[at].1.contains("STATUS=draining;"), "{:?}", texts[at].1);
    assert!(
        texts[..at].iter().all(|(_, t)| !t.contains("stopped")),
        "STOPPING comes before the processor stopped"
    );
}

#[test]
fn watchdog_pings_only_when_asked_for_this_process() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let sock = tmp.path().join("notify.sock");
    let listener = Listener::bind(&sock);
    let s = sock.to_str().unwrap();
    // WATCHDOG_PID names another process: the pings are not ours to send.
    let p = Proc::start_with_env(
        &root,
        &[],
        &[
            ("NOTIFY_SOCKET", s),
            ("WATCHDOG_USEC", "400000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    wait_for(Duration::from_secs(20), "READY=1", || {
        !listener.with_line("READY=1").is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        listener.with_line("WATCHDOG=1").is_empty(),
        "{:?}",
        listener.all()
    );
    assert!(p.terminate(Duration::from_secs(15)).0.success());

    let root2 = tmp.path().join("state2");
    let sock2 = tmp.path().join("notify2.sock");
    let listener = Listener::bind(&sock2);
    let p = Proc::start_with_env(
        &root2,
        &[],
        &[
            ("NOTIFY_SOCKET", sock2.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    wait_for(Duration::from_secs(20), "READY=1", || {
        !listener.with_line("READY=1").is_empty()
    });
    // Half the interval apart: about ten in two seconds (at least a few on a busy machine).
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let pings = listener
        .with_line("WATCHDOG=1")
        .into_iter()
        .filter(|t| *t >= t0)
        .count();
    assert!(pings >= 3, "{pings} pings in 2 s with WATCHDOG_USEC=400000");
    assert!(p.terminate(Duration::from_secs(15)).0.success());
}

#[test]
fn a_wedged_committer_stops_the_watchdog_pings_until_it_moves_again() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let sock = tmp.path().join("notify.sock");
    let listener = Listener::bind(&sock);
    // The first commit hangs for 6 s inside the committer (as a hung disk would).
    let p = Proc::start_with_env(
        &root,
        &[],
        &[
            ("NOTIFY_SOCKET", sock.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
            ("STATMGR_FAILPOINTS", "committer.wedge=1*sleep(6000)"),
        ],
    );
    wait_for(Duration::from_secs(20), "pings", || {
        listener.with_line("WATCHDOG=1").len() >= 2
    });
    let endpoint = p.endpoint();
    assert_eq!(get(&endpoint, "/healthz"), Some(200));
    drop_messages(&root, 0..1, 1);
    // /healthz and the watchdog judge by the same heartbeat and limit (the interval, 1 s):
    // once /healthz says the committer made no progress, no ping may follow.
    let mut reason = String::new();
    wait_for(
        Duration::from_secs(5),
        "/healthz to see the wedge",
        || match http_get(&endpoint, "/healthz") {
            Some((503, body)) => {
                reason = body;
                true
            }
            _ => false,
        },
    );
    assert!(
        reason.contains("committer") && reason.contains("no progress"),
        "{reason}"
    );
    // Half a second of slack for a ping already on its way (the pings are 500 ms apart,
    // so the 2 s after it would hold about four if the wedge did not stop them).
    let seen = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));
    let recent: Vec<Instant> = listener
        .with_line("WATCHDOG=1")
        .into_iter()
        .filter(|t| *t >= seen + Duration::from_millis(500))
        .collect();
    assert!(
        recent.is_empty(),
        "pings while the committer is wedged: {recent:?}"
    );
    // The notifier itself is alive: its status lines go on.
    let statuses = listener.statuses().len();
    wait_for(Duration::from_secs(5), "a status line during the wedge", || {
        listener.statuses().len() > statuses
    });
    assert!(
        p.log_text().contains("no more watchdog pings"),
        "{}",
        p.log_text()
    );
    // Once the commit goes through, the pings come back and the message is committed.
    wait_for(Duration::from_secs(20), "the commit after the wedge", || {
        row_count(&root) == 1
    });
    let resumed = Instant::now();
    wait_for(Duration::from_secs(5), "pings again", || {
        listener.with_line("WATCHDOG=1").iter().any(|t| *t > resumed)
    });
    assert!(p.terminate(Duration::from_secs(15)).0.success());
}
