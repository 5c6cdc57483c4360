//! Triage in a real terminal against a real processor: group the stuck files by cause, mark
//! one cause, requeue it, and see its files leave stuck/ (and their messages committed).

mod console_support;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use console_support::tmux::{status_json, Processor, Tmux, STATMGR};

/// A stuck file of one message, the way the processor writes them.
fn put_stuck(root: &Path, name: &str, uid: u64, why: &str) {
    let dir = root.join("stuck");
    std::fs::create_dir_all(&dir).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let error = format!(
        "message uid \"u-{uid}\" (record id {}): rejected by a database trigger: {why}",
        uid + 500
    );
    let header = serde_json::json!({
        "statmgr_retry": 1, "messages": 1, "attempts": 20, "last_error": error,
        "created_ms": now - 60_000, "next_attempt_ms": 0, "history": []
    });
    let message = serde_json::json!({
        "uid": format!("u-{uid}"), "message_id": uid, "severity": "error", "component": "C",
        "machine": "M", "site": "S01", "time": "2026-11-23T10:00:00Z"
    });
    std::fs::write(dir.join(name), format!("{header}\n{message}\n")).unwrap();
}

#[test]
fn mark_a_cause_requeue_it_and_see_its_files_leave() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..4 {
        put_stuck(dir.path(), &format!("closed-{i}.batch"), i, "site S09 closed");
    }
    for i in 4..6 {
        put_stuck(dir.path(), &format!("poison-{i}.batch"), i, "poison machine");
    }
    let _processor = Processor::start(dir.path());
    let command = format!("{STATMGR} console --root {} --color never", dir.path().display());
    let tmux = Tmux::start(120, 36, &command);
    tmux.wait_for("Stuck 6");
    tmux.keys(&["Tab", "c"]);
    tmux.wait_for("2 causes, 6 files");
    tmux.keys(&["Space"]);
    tmux.wait_for("4 files selected (4 messages)");
    tmux.keys(&["r"]);
    tmux.wait_for("Requeue these files?");
    tmux.wait_for("requeue 4 stuck files (4 messages)");
    tmux.keys(&["y"]);
    tmux.wait_for("Stuck 2");
    tmux.wait_until("the requeued messages committed", |_| {
        status_json(dir.path())["counters"]["committed"].as_u64() == Some(4)
    });
    assert_eq!(status_json(dir.path())["stuck"]["total"], 2);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("stuck"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("poison-")), "{names:?}");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}

#[test]
fn discard_a_file_then_restore_it_from_the_discarded_tab_and_see_it_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    put_stuck(dir.path(), "a-closed.batch", 1, "site S09 closed");
    put_stuck(dir.path(), "b-closed.batch", 2, "site S09 closed");
    let _processor = Processor::start(dir.path());
    let command = format!("{STATMGR} console --root {} --color never", dir.path().display());
    let tmux = Tmux::start(160, 36, &command);
    tmux.wait_for("Stuck 2");
    // Discard the highlighted stuck file (a-closed.batch) with a note.
    tmux.keys(&["Tab", "d"]);
    tmux.wait_for("Discard these files?");
    tmux.keys(&["OPS-77"]);
    tmux.wait_for("OPS-77");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Discarded 1");
    assert!(dir.path().join("discarded/a-closed.batch").exists());
    assert_eq!(status_json(dir.path())["counters"]["committed"].as_u64(), Some(0));
    // The Discarded tab shows it with its note; b restores it.
    tmux.keys(&["Tab"]);
    tmux.wait_for("[Discarded 1]");
    tmux.wait_for("OPS-77");
    tmux.keys(&["b"]);
    tmux.wait_for("Restore these files to retry/?");
    tmux.wait_for("restore 1 discarded file");
    tmux.keys(&["y"]);
    tmux.wait_for("Discarded 0");
    tmux.wait_until("the restored message committed", |_| {
        status_json(dir.path())["counters"]["committed"].as_u64() == Some(1)
    });
    let status = status_json(dir.path());
    assert_eq!(status["stuck"]["total"], 1, "the other file stayed in stuck/");
    assert_eq!(status["retry"]["total"], 0, "committed and gone from retry/");
    assert!(!dir.path().join("discarded/a-closed.batch").exists());
    assert!(dir.path().join("stuck/b-closed.batch").exists());
    let db = rusqlite::Connection::open(dir.path().join("statmgr.db")).unwrap();
    let uid: String = db
        .query_row("SELECT uid FROM status_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(uid, "u-1", "the restored file's message, once");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}
