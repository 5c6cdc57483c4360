//! `statmgr find` against the real binary: a uid in each place (committed, in flight,
//! inbox, retry, stuck, corrupt, discarded, unknown), before and after a restart, and
//! while its file moves between retry/, stuck/ and discarded/.

mod support;
mod triage_support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use statmgr::api::wire::find::{FindReport, Location};
use support::{drop_file, drop_messages, message, state_root, tempdir, wait_for, Proc};

/// A retry-format file whose next attempt is an hour away (the processor waits at most
/// its backoff maximum, 300 s by default: longer than these tests).
fn put_file(dir: &Path, name: &str, uids: std::ops::Range<u64>, attempts: u32, error: &str) {
    fs::create_dir_all(dir).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let header = serde_json::json!({
        "statmgr_retry": 1, "messages": uids.end - uids.start, "attempts": attempts,
        "last_error": error, "created_ms": now - 1000, "next_attempt_ms": now + 3_600_000,
        "history": []
    });
    let mut text = format!("{header}\n");
    for n in uids {
        text.push_str(&format!("{}\n", message(n, "HOST1")));
    }
    let tmp = dir.join(format!(".tmp-{name}"));
    let mut f = fs::File::create(&tmp).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.sync_all().unwrap();
    fs::rename(tmp, dir.join(name)).unwrap();
}

/// `statmgr find --json UIDS`: the exit code and the report.
fn find(p: &Proc, uids: &[&str]) -> (Option<i32>, FindReport) {
    p.endpoint(); // the API is up (it starts a moment after the state directory is held)
    let mut args = vec!["find", "--json"];
    args.extend_from_slice(uids);
    let (code, out, err) = p.cli(&args);
    let report = serde_json::from_str(&out).unwrap_or_else(|e| panic!("find --json: {e}: {out} {err}"));
    (code, report)
}

/// The places of `uid` in a report, by name.
fn places(r: &FindReport, uid: &str) -> Vec<&'static str> {
    r.results
        .iter()
        .find(|x| x.uid == uid)
        .map(|x| x.places.iter().map(Location::place).collect())
        .unwrap_or_default()
}

fn wait_indexed(p: &Proc) {
    wait_for(Duration::from_secs(20), "the uid index to be built", || {
        find(p, &["u-0"]).1.index_pending == 0
    });
}

fn check_places(p: &Proc, context: &str) -> FindReport {
    let uids = ["u-1", "u-100", "u-200", "u-300", "u-400", "nope"];
    let (code, r) = find(p, &uids);
    assert_eq!(code, Some(1), "{context}: one uid is unknown: {r:?}");
    assert_eq!(places(&r, "u-1"), ["committed"], "{context}: {r:?}");
    assert_eq!(places(&r, "u-100"), ["retry"], "{context}: {r:?}");
    assert_eq!(places(&r, "u-200"), ["stuck"], "{context}: {r:?}");
    assert_eq!(places(&r, "u-300"), ["discarded"], "{context}: {r:?}");
    assert_eq!(places(&r, "u-400"), ["corrupt"], "{context}: {r:?}");
    assert!(places(&r, "nope").is_empty(), "{context}: {r:?}");
    assert_eq!(r.database_error, None, "{context}");
    r
}

#[test]
fn a_uid_is_found_in_each_place_before_and_after_a_restart() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    put_file(&root.join("retry"), "r1.batch", 100..103, 1, "database is locked");
    put_file(
        &root.join("stuck"),
        "s1.batch",
        200..203,
        5,
        "rejected by a trigger",
    );
    put_file(
        &root.join("discarded"),
        "d1.batch",
        300..302,
        5,
        "rejected by a trigger",
    );
    let p = Proc::start(&root, &[]);
    drop_messages(&root, 1..4, 3);
    wait_for(Duration::from_secs(20), "3 rows", || {
        support::row_count(&root) == 3
    });
    // One bad line beside a good one: the bad line goes to corrupt/ with its uid readable.
    let mut bad = message(400, "HOST1");
    bad["severity"] = "bogus".into();
    let body = format!("{bad}\n{}\n", message(401, "HOST1"));
    drop_file(&root, "mixed.jsonl", body.as_bytes());
    wait_for(Duration::from_secs(20), "the bad line in corrupt/", || {
        support::files_in(&root, "corrupt")
            .iter()
            .any(|n| n.contains("bad-lines"))
    });
    wait_indexed(&p);
    let r = check_places(&p, "first start");
    // The committed place is the database's own row and batch.
    let (record_id, batch_id): (i64, i64) = support::db(&root)
        .query_row(
            "SELECT record_id, batch_id FROM status_messages WHERE uid = 'u-1'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let hit = &r.results[0].places[0];
    let Location::Committed {
        record_id: rid,
        batch_id: bid,
        committed_at,
        batch_source,
        source_file,
        ..
    } = hit
    else {
        panic!("{hit:?}")
    };
    assert_eq!((*rid, *bid), (record_id, batch_id));
    assert!(committed_at.is_some());
    assert_eq!(batch_source.as_deref(), Some("inbox"));
    assert_eq!(source_file, &None, "an inbox batch stores no file name");
    let Location::Retry { file, attempts, .. } = &r.results[1].places[0] else {
        panic!("{r:?}")
    };
    assert_eq!((file.as_str(), *attempts), ("r1.batch", 1));

    // All found: exit 0, and the human form names each place.
    let (code, out, _) = p.cli(&["find", "u-1", "u-200"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("u-1: committed: record id"), "{out}");
    assert!(out.contains("u-200: stuck: stuck/s1.batch, 5 attempts"), "{out}");
    let (code, _, err) = p.cli(&["find"]);
    assert_eq!(code, Some(2), "no uid is a usage error: {err}");

    // Intake paused: a new file waits in the inbox.
    assert_eq!(p.cli(&["pause"]).0, Some(0));
    drop_file(
        &root,
        "waiting.json",
        message(500, "HOST1").to_string().as_bytes(),
    );
    let (_, r) = find(&p, &["u-500"]);
    assert_eq!(places(&r, "u-500"), ["inbox"], "{r:?}");

    p.stop(Duration::from_secs(20));
    let p = Proc::start(&root, &[]);
    wait_indexed(&p);
    check_places(&p, "after a restart");
    wait_for(Duration::from_secs(20), "the waiting file to commit", || {
        places(&find(&p, &["u-500"]).1, "u-500") == ["committed"]
    });
    p.stop(Duration::from_secs(20));
}

/// An inbox file `find` cannot read (here: over `--max-file-bytes`; for a producer's
/// file the processor's user may not read, the same path) is named in a warning, so "not
/// seen" does not pass for certain.
#[test]
fn an_inbox_file_that_cannot_be_read_is_named_in_a_warning() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &["--max-file-bytes", "2000"]);
    assert_eq!(p.cli(&["pause"]).0, Some(0));
    let big: String = (0..40).map(|i| format!("{}\n", message(i, "HOST1"))).collect();
    assert!(big.len() > 2000);
    drop_file(&root, "big.jsonl", big.as_bytes());
    let (code, r) = find(&p, &["u-3"]);
    assert_eq!(code, Some(1), "{r:?}");
    assert!(r.results[0].places.is_empty(), "{r:?}");
    assert_eq!(r.warnings.len(), 1, "{r:?}");
    let w = &r.warnings[0];
    assert!(
        w.starts_with("1 inbox file could not be searched: big.jsonl (") && w.contains("over the 2000 bytes"),
        "{w}"
    );
    let (_, out, _) = p.cli(&["find", "u-3"]);
    assert!(out.contains("u-3: not seen"), "{out}");
    assert!(
        out.contains("note: 1 inbox file could not be searched: big.jsonl"),
        "{out}"
    );
    p.stop(Duration::from_secs(20));
}

#[test]
fn a_uid_in_the_open_batch_is_in_flight_then_committed_on_a_read_only_api() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    // A read-only API answers find (a read).
    let p = Proc::start_with_env(
        &root,
        &["--read-only-api"],
        &[("STATMGR_FAILPOINTS", "committer.wedge=1*sleep(6000)")],
    );
    drop_file(&root, "m.json", message(600, "HOST1").to_string().as_bytes());
    wait_for(Duration::from_secs(5), "u-600 in flight", || {
        places(&find(&p, &["u-600"]).1, "u-600") == ["in_flight"]
    });
    let (_, r) = find(&p, &["u-600"]);
    assert!(
        matches!(&r.results[0].places[0], Location::InFlight { file } if file == "m.json"),
        "{r:?}"
    );
    wait_for(Duration::from_secs(20), "u-600 committed", || {
        places(&find(&p, &["u-600"]).1, "u-600") == ["committed"]
    });
    p.stop(Duration::from_secs(20));
}

#[test]
fn a_file_moving_between_places_is_always_found() {
    use statmgr::api::wire::{BulkAction, BulkSource};
    let tmp = tempdir();
    let root = state_root(&tmp);
    put_file(
        &root.join("stuck"),
        "mover.batch",
        700..710,
        5,
        "rejected by a trigger",
    );
    let p = Proc::start(&root, &[]);
    // Its messages can never commit, so a requeue sends the file back and forth.
    support::db(&root)
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'HOST1'
             BEGIN SELECT RAISE(ABORT, 'machine HOST1 is refused'); END;",
        )
        .unwrap();
    wait_indexed(&p); // (and the API is up: the finder thread below asks it directly)
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finder = {
        let (stop, root) = (stop.clone(), root.clone());
        let bin = support::bin();
        std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 5 {
                let out = std::process::Command::new(bin)
                    .args(["find", "--json", "u-700", "u-709", "--root"])
                    .arg(&root)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let r: FindReport = serde_json::from_str(&text).unwrap();
                for x in &r.results {
                    assert!(
                        x.found(),
                        "round {rounds}: {} not seen while its file moved: {r:?}",
                        x.uid
                    );
                }
                rounds += 1;
            }
            rounds
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let api = triage_support::Api::of(&p);
    let back_in_stuck = || {
        wait_for(Duration::from_secs(30), "the messages back in stuck/", || {
            triage_support::uids_in(&root, "stuck").len() == 10
                && triage_support::data_files(&root, "retry").is_empty()
        })
    };
    let mut moves = Vec::new();
    for cycle in 0..6 {
        let (action, source) = match cycle % 3 {
            0 => (BulkAction::Requeue, BulkSource::Stuck),
            1 => (BulkAction::Discard, BulkSource::Stuck),
            _ => (BulkAction::Restore, BulkSource::Discarded),
        };
        let moved = rt.block_on(async {
            let preview = api.preview(action, source, None).await;
            api.act(&preview, None).await;
            preview.set.len()
        });
        moves.push(moved);
        if action != BulkAction::Discard {
            // In retry/ now: it fails (the trigger) and its messages fall to stuck/ again.
            back_in_stuck();
        }
    }
    assert!(
        moves.iter().all(|&m| m > 0),
        "every action moved files: {moves:?}"
    );
    assert!(triage_support::data_files(&root, "stuck")
        .iter()
        .all(|n| n.starts_with("poison-")));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = finder.join().expect("every find saw the uids");
    eprintln!("{rounds} find rounds while the files moved ({moves:?} files per action)");
    p.stop(Duration::from_secs(20));
}
