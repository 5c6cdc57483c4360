//! The `statmgr` binary's control commands against a real API server (test harness):
//! what they print, and their exit codes (0 done, 1 refused, 2 usage, 3 no processor).
//!
//! Tests marked `needs escape_text` print processor text through `message::escape_text`,
//! which is being written on another branch; they run once it is merged.

mod api_harness;

use std::path::Path;
use std::process::Output;

use api_harness::Harness;
use statmgr::api::wire::{FileKind, FilePage, Snapshot};

/// Runs `statmgr ARGS` off the async workers, so the server in this process keeps serving.
async fn statmgr(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("statmgr")
            .unwrap()
            .args(&args)
            .env_remove("STATMGR_ROOT")
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(list: &[&str], root: &Path) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.push("--root".into());
    v.push(root.display().to_string());
    v
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn populate(h: &Harness) {
    h.put_file(FileKind::Retry, "a.retry", 1, "database is locked");
    h.put_file(FileKind::Retry, "b.retry", 2, "disk I/O error");
    h.put_file(FileKind::Stuck, "poison.retry", 20, "UNIQUE constraint failed");
    h.commit_batch(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_is_the_snapshot_document() {
    let h = Harness::start().await;
    populate(&h);
    let out = statmgr(args(&["status", "--json"], &h.dirs.root)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let snapshot: Snapshot = serde_json::from_slice(&out.stdout).expect("the snapshot document");
    assert_eq!(snapshot.retry.total, 2);
    assert_eq!(snapshot.stuck.files[0].name, "poison.retry");
    assert_eq!(snapshot.batches[0].id, 1);
    assert!(
        text(&out.stdout).contains("\n  \"state\": \"running\""),
        "pretty JSON"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_ls_json_pages_and_filters_on_the_server() {
    let h = Harness::start().await;
    populate(&h);
    let out = statmgr(args(
        &["retry", "ls", "--json", "--filter", "LOCKED"],
        &h.dirs.root,
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page: FilePage = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((page.total, page.total_unfiltered), (1, 2));
    assert_eq!(page.files[0].name, "a.retry");

    let out = statmgr(args(
        &["retry", "ls", "--json", "--stuck", "--limit", "0"],
        &h.dirs.root,
    ))
    .await;
    let page: FilePage = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((page.total, page.files.len()), (1, 0));

    // --url instead of the root's endpoint file.
    let url = format!("http://{}", h.addr);
    let out = statmgr(vec![
        "retry".into(),
        "ls".into(),
        "--json".into(),
        "--url".into(),
        url,
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let h = Harness::start().await;
    for bad in [
        args(&["retry", "ls", "--limit", "5000"], &h.dirs.root),
        args(&["retry", "requeue"], &h.dirs.root),
        args(&["retry", "requeue", "a.retry", "--attempts", "x"], &h.dirs.root),
        args(&["pause", "--bogus"], &h.dirs.root),
    ] {
        let out = statmgr(bad.clone()).await;
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_change_the_processor_and_say_what_they_did() {
    let h = Harness::start().await;
    populate(&h);
    let root = &h.dirs.root;
    let out = statmgr(args(&["pause"], root)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "pause: intake paused\n");
    assert!(h.handle.is_paused());
    let out = statmgr(args(&["resume"], root)).await;
    assert_eq!(text(&out.stdout), "resume: intake resumed\n");
    for (cmd, expect) in [
        ("flush", "flush: open batch committed"),
        ("resync", "resync: allocator reconciled"),
    ] {
        let out = statmgr(args(&[cmd], root)).await;
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with(expect),
            "{cmd}: {}",
            text(&out.stdout)
        );
    }
    let out = statmgr(args(
        &["retry", "requeue", "poison.retry", "--attempts", "20"],
        root,
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(h.dirs.retry.join("poison.retry").exists());

    // --token-file beside --root overrides the root's token.
    let wrong = h.dir.path().join("wrong-token");
    std::fs::write(&wrong, "0".repeat(64)).unwrap();
    let mut with_wrong = args(&["pause"], root);
    with_wrong.extend(["--token-file".into(), wrong.display().to_string()]);
    let out = statmgr(with_wrong).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("HTTP 401"), "{}", text(&out.stderr));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_exit_1_with_the_server_message() {
    let h = Harness::start_with(true).await;
    populate(&h);
    let root = &h.dirs.root;
    let out = statmgr(args(&["pause"], root)).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("HTTP 403") && err.contains("read-only"), "{err}");
    assert!(!h.handle.is_paused());
    let out = statmgr(args(&["retry", "requeue", "../../etc/passwd"], root)).await;
    assert_eq!(out.status.code(), Some(1));
    let h = h.stop().await;
    drop(h);

    let h = Harness::start().await;
    populate(&h);
    for (name, code) in [("nothing.retry", "HTTP 404"), ("../x", "HTTP 400")] {
        let out = statmgr(args(&["retry", "requeue", name], &h.dirs.root)).await;
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(text(&out.stderr).contains(code), "{name}: {}", text(&out.stderr));
    }
    let out = statmgr(args(
        &["retry", "requeue", "poison.retry", "--attempts", "3"],
        &h.dirs.root,
    ))
    .await;
    assert!(text(&out.stderr).contains("HTTP 409"), "{}", text(&out.stderr));
    // Without a token (--url alone), a mutation is refused by the server.
    let url = format!("http://{}", h.addr);
    let out = statmgr(vec!["flush".into(), "--url".into(), url]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("HTTP 401"), "{}", text(&out.stderr));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_processor_exits_3_saying_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nowhere");
    for cmd in [&["status"][..], &["pause"], &["retry", "ls"]] {
        let out = statmgr(args(cmd, &root)).await;
        assert_eq!(out.status.code(), Some(3), "{cmd:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&root.join("control/endpoint").display().to_string()),
            "{err}"
        );
        assert!(
            err.contains(&format!("statmgr run --root {}", root.display())),
            "{err}"
        );
    }
    // A port where nothing listens.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = statmgr(vec!["status".into(), "--url".into(), format!("http://{free}")]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains(&free.to_string()),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_status_and_listing() {
    let h = Harness::start().await;
    populate(&h);
    h.put_file(
        FileKind::Retry,
        "evil\u{1b}]0;pwned\u{7}.retry",
        1,
        "bell \u{7} and \u{1b}[2J",
    );
    let out = statmgr(args(&["status"], &h.dirs.root)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for expect in [
        "state      running",
        "retry      3 files",
        "stuck      1 file",
        "a.retry",
        "#1 at",
    ] {
        assert!(shown.contains(expect), "{expect}: {shown}");
    }
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "raw control characters: {shown:?}"
    );
    let out = statmgr(args(&["retry", "ls", "--stuck"], &h.dirs.root)).await;
    let listed = text(&out.stdout);
    assert!(
        listed.contains("poison.retry") && listed.contains("showing 1-1 of 1 stuck files"),
        "{listed}"
    );
    h.stop().await;
}
