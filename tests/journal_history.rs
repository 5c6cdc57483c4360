//! The durable event history with the real binary: ids go on across restarts and the stream
//! resumes from the journal with `Last-Event-ID`; a torn last line after kill -9 is skipped;
//! a full disk (a real small tmpfs) stops history, never processing; `statmgr events
//! --since --follow` has no gap and no duplicate at the seam.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use statmgr::api::client::{Client, Target};
use statmgr::api::wire::{Event, HistoryPage, Snapshot};
use support::*;

fn snapshot(p: &Proc) -> Snapshot {
    let (status, body) = http_get(&p.endpoint(), "/api/v1/snapshot").expect("snapshot");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn history(p: &Proc, query: &str) -> HistoryPage {
    let (status, body) =
        http_get(&p.endpoint(), &format!("/api/v1/events/history?{query}")).expect("history");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn ids(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.id).collect()
}

fn assert_consecutive(ids: &[u64], context: &str) {
    for w in ids.windows(2) {
        assert_eq!(w[1], w[0] + 1, "{context}: a gap or duplicate in {ids:?}");
    }
}

/// Waits until the journal on disk holds event `id` (the writer is asynchronous).
fn wait_journaled(root: &Path, id: u64) {
    wait_for(
        Duration::from_secs(10),
        "the journal to hold the newest event",
        || {
            let Ok(entries) = std::fs::read_dir(root.join("journal")) else {
                return false;
            };
            entries.flatten().any(|e| {
                std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(&format!("{{\"id\":{id},")))
            })
        },
    );
}

/// Reads the stream after `after` until event `until` arrived.
fn stream_after(p: &Proc, after: u64, until: u64) -> Vec<Event> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = Target::from_root(&p.root, false).unwrap();
    runtime.block_on(async {
        let client = Client::new(target, Duration::from_secs(10));
        let mut stream = client.events_after(after).await.unwrap();
        let mut got = Vec::new();
        while got.last().is_none_or(|e: &Event| e.id < until) {
            let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .expect("an event in time")
                .unwrap()
                .expect("the stream stays open");
            got.push(next);
        }
        got
    })
}

#[test]
fn the_stream_resumes_across_a_restart_with_last_event_id() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    drop_messages(&root, 0..30, 10);
    wait_for(Duration::from_secs(20), "30 rows", || row_count(&root) == 30);
    let first_run = history(&p, "after=0&limit=5000");
    assert_consecutive(&ids(&first_run.events), "first run");
    assert_eq!(first_run.events[0].id, 1);
    let seen = first_run.events[0].id;
    p.terminate(Duration::from_secs(20));

    let p = Proc::start(&root, &[]);
    drop_messages(&root, 30..60, 10);
    wait_for(Duration::from_secs(20), "60 rows", || row_count(&root) == 60);
    let newest = snapshot(&p).last_event_id;
    let last_of_first = first_run.events.last().unwrap().id;
    assert!(
        newest > last_of_first + 2,
        "ids keep increasing: {newest} after {last_of_first}"
    );
    // The new processor's ring holds only its own events: the rest comes from the journal.
    let resumed = stream_after(&p, seen, newest);
    let got = ids(&resumed);
    assert_eq!(got[0], seen + 1, "resumed right after the client's Last-Event-ID");
    assert_consecutive(&got, "resumed stream");
    assert_eq!(*got.last().unwrap(), newest);
    assert!(got.contains(&last_of_first), "{got:?} {last_of_first}");
    // The first run's last events (its drain) come before the second run's first.
    let states: Vec<_> = resumed
        .iter()
        .filter_map(|e| match &e.kind {
            statmgr::api::wire::EventKind::StateChanged { state } => Some(state.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(states, ["draining", "stopped", "running"], "{resumed:?}");
    // The same through a page of history: both runs, in order.
    let page = history(&p, &format!("before={}&limit=5000", newest + 1));
    assert_eq!(page.events[0].id, 1);
    assert_consecutive(&ids(&page.events), "history page");
    assert!(!page.more_before && !page.more_after);
    p.terminate(Duration::from_secs(20));
}

#[test]
fn a_torn_last_line_after_kill_9_is_skipped_never_fatal() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    drop_messages(&root, 0..20, 10);
    wait_for(Duration::from_secs(20), "20 rows", || row_count(&root) == 20);
    let newest = snapshot(&p).last_event_id;
    wait_journaled(&root, newest);
    p.kill9();
    // What a kill during a write leaves: a line without its end.
    let segments = statmgr::processor::journal::segment::list(&root.join("journal")).unwrap();
    let last = segments.last().unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&last.path)
        .unwrap()
        .write_all(format!("{{\"id\":{},\"time\":\"2026-11-27T0", newest + 1).as_bytes())
        .unwrap();

    let p = Proc::start(&root, &[]);
    drop_messages(&root, 20..30, 10);
    wait_for(Duration::from_secs(20), "30 rows", || row_count(&root) == 30);
    let page = history(&p, "after=0&limit=5000");
    let got = ids(&page.events);
    assert_consecutive(&got, "history after the torn line");
    assert_eq!(got[0], 1);
    assert!(got.contains(&newest) && got.contains(&(newest + 1)), "{got:?}");
    // The torn event id was never complete: the next processor gave it to its first event.
    let after_torn = page.events.iter().find(|e| e.id == newest + 1).unwrap();
    assert!(after_torn.time.len() > 20, "a whole event: {after_torn:?}");
    let (code, out, err) = p.cli(&["events", "--since", "1", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let printed: Vec<Event> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(ids(&printed)[..got.len()], got[..]);
    p.terminate(Duration::from_secs(20));
}

/// A small tmpfs mounted on `journal/`, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_history_not_processing_and_no_message_is_lost() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let Some(_mount) = Tmpfs::mount(&root.join("journal"), "16k") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root and mount permission)");
        return;
    };
    let p = Proc::start(&root, &["--batch-size", "2", "--batch-age", "5"]);
    let mut sent = Vec::new();
    for n in 0..400u64 {
        drop_file(
            &root,
            &format!("one-{n:04}.json"),
            message(n, "FULL").to_string().as_bytes(),
        );
        sent.push(format!("u-{n}"));
    }
    wait_for(Duration::from_secs(60), "400 rows", || row_count(&root) == 400);
    let s = snapshot(&p);
    assert!(s.journal.enabled);
    assert!(s.journal.stopped, "history stopped: {:?}", s.journal);
    assert!(s.journal.dropped_write_error > 0, "{:?}", s.journal);
    assert!(
        s.journal
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("No space left"),
        "{:?}",
        s.journal
    );
    assert_eq!(s.counters.committed, 400);
    let (_, metrics) = http_get(&p.endpoint(), "/metrics").unwrap();
    assert!(metrics.contains("statmgr_journal_stopped 1"), "{metrics}");
    let (status, log) = p.terminate_with_log(Duration::from_secs(20));
    assert!(status.success(), "{status}");
    assert_eq!(
        log.matches("event history stopped").count(),
        1,
        "logged once: {log}"
    );
    check_accounted(&root, &sent, "full journal disk");
}

#[test]
fn events_since_then_follow_has_no_gap_or_duplicate_at_the_seam() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    drop_messages(&root, 0..50, 10);
    wait_for(Duration::from_secs(20), "50 rows", || row_count(&root) == 50);
    let mut child = Command::new(bin())
        .args(["events", "--since", "1", "--follow", "--json", "--root"])
        .arg(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    // New events while the command moves from history to the live stream.
    for k in 0..5u64 {
        drop_messages(&root, 50 + k * 10..60 + k * 10, 10);
        std::thread::sleep(Duration::from_millis(60));
    }
    wait_for(Duration::from_secs(20), "100 rows", || row_count(&root) == 100);
    let newest = snapshot(&p).last_event_id;
    wait_for(
        Duration::from_secs(20),
        "the command to print the newest event",
        || {
            lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with(&format!("{{\"id\":{newest},")))
        },
    );
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let printed: Vec<Event> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let got = ids(&printed);
    assert_eq!(got[0], 1);
    assert_consecutive(&got, "events --since 1 --follow");
    assert_eq!(*got.last().unwrap(), newest);
    let committed: u64 = printed
        .iter()
        .filter_map(|e| match &e.kind {
            statmgr::api::wire::EventKind::BatchCommitted { batch } => Some(batch.count),
            _ => None,
        })
        .sum();
    assert_eq!(committed, 100, "every batch printed once");

    // A time: only the events at or after it.
    let (code, out, err) = p.cli(&["events", "--since", &printed[3].time]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.lines().next().unwrap().contains(&printed[3].time), "{out}");
    let (code, _, err) = p.cli(&["events", "--since", "yesterday-ish"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("expected an RFC 3339 time"), "{err}");
    p.terminate(Duration::from_secs(20));
}
