//! `find` and the batch drill-down on a real PostgreSQL: the committed place comes from
//! the database through the pool, with the batch's id, source and time; a batch's page
//! carries every field, insertion strings and attributes.

mod postgres_support;
mod support;

use std::time::Duration;

use postgres_support::{server, wait_until, PgProc};
use statmgr::api::wire::find::{BatchMessages, FindReport, Location};
use support::{bin, drop_file, files_in, message};

fn find(root: &std::path::Path, uids: &[&str]) -> (Option<i32>, FindReport) {
    let out = std::process::Command::new(bin())
        .args(["find", "--json", "--root"])
        .arg(root)
        .args(uids)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code(),
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[test]
fn postgres_find_and_batch_drill_down() {
    let Some(pg) = server("postgres_find_and_batch_drill_down") else {
        return;
    };
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    std::fs::create_dir_all(root.join("inbox")).unwrap();
    let p = PgProc::start(bin(), &root, &pg.url(), &[]);
    let body: String = (1..6).map(|n| format!("{}\n", message(n, "HOST1"))).collect();
    drop_file(&root, "five.jsonl", body.as_bytes());
    wait_until(Duration::from_secs(30), "the inbox to drain", || {
        files_in(&root, "inbox").is_empty()
    });
    wait_until(Duration::from_secs(30), "the API to listen", || {
        std::fs::read_to_string(root.join("control/endpoint"))
            .is_ok_and(|e| std::net::TcpStream::connect(e.trim().trim_start_matches("http://")).is_ok())
    });
    let (code, report) = find(&root, &["u-3", "u-404"]);
    assert_eq!(code, Some(1), "{report:?}");
    assert_eq!(report.database_error, None);
    assert!(report.results[1].places.is_empty());
    let Location::Committed {
        record_id,
        batch_id,
        committed_at,
        received,
        batch_source,
        ..
    } = report.results[0].places[0].clone()
    else {
        panic!("{report:?}")
    };
    let sql = pg.sql();
    let want_id = sql.i64("SELECT record_id FROM status_messages WHERE uid = 'u-3'");
    let want_batch = sql.i64("SELECT batch_id FROM status_messages WHERE uid = 'u-3'");
    assert_eq!((record_id, batch_id), (want_id, want_batch));
    assert_eq!(batch_source.as_deref(), Some("inbox"));
    assert!(committed_at.is_some_and(|t| t.ends_with('Z')));
    assert!(received.ends_with('Z'), "{received}");

    let endpoint = std::fs::read_to_string(root.join("control/endpoint")).unwrap();
    let path = format!("/api/v1/batches/{batch_id}/messages?offset=1&limit=2");
    let (status, text) = support::http_get(endpoint.trim(), &path).unwrap();
    assert_eq!(status, 200, "{text}");
    let page: BatchMessages = serde_json::from_str(&text).unwrap();
    assert_eq!((page.total, page.offset, page.items.len()), (5, 1, 2));
    let m = &page.items[0];
    assert_eq!(m.uid, "u-2");
    assert_eq!(m.insertion_strings, ["is-2", "two"]);
    assert_eq!(m.attributes.get(&400).map(String::as_str), Some("attr-2"));
    assert_eq!(m.batch_id, batch_id);
    let (status, _) = support::http_get(endpoint.trim(), "/api/v1/batches/999999/messages").unwrap();
    assert_eq!(status, 404);
    p.terminate(Duration::from_secs(20));
}
