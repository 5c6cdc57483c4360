//! The API of a real `statmgr run` on a temporary state directory, as an operator's scripts
//! and the console use it: status codes, mutations that really act, the event stream.

mod support;

use std::time::Duration;

use statmgr::api::client::{Client, Target};
use statmgr::api::wire::{EventKind, FileQuery, ProcessorState};
use support::*;

fn client(p: &Proc, with_token: bool) -> Client {
    p.endpoint();
    Client::new(
        Target::from_root(&p.root, with_token).unwrap(),
        Duration::from_secs(10),
    )
}

async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code_of_the_design_from_a_real_processor() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let url = p.endpoint();
    let token = p.token();
    let http = reqwest::Client::new();
    let auth = format!("Bearer {token}");

    assert_eq!(status_of(http.get(format!("{url}/api/v1/snapshot"))).await, 200);
    assert_eq!(
        status_of(http.post(format!("{url}/api/v1/pause"))).await,
        401,
        "no token"
    );
    assert_eq!(
        status_of(
            http.post(format!("{url}/api/v1/pause"))
                .header("Authorization", "Bearer 00")
        )
        .await,
        401
    );
    let wrong = format!("Bearer {}", "f".repeat(token.len()));
    assert_eq!(
        status_of(
            http.post(format!("{url}/api/v1/pause"))
                .header("Authorization", wrong)
        )
        .await,
        401
    );
    let foreign = http
        .get(format!("{url}/api/v1/snapshot"))
        .header("Host", "evil.example:80");
    assert_eq!(
        status_of(foreign).await,
        403,
        "DNS rebinding: a foreign Host header"
    );
    for bad in [
        "..%2F..%2Fstatmgr.db",
        "%2Fetc%2Fpasswd",
        "a%00b",
        "%1b%5b2J",
        ".hidden",
    ] {
        let req = http
            .post(format!("{url}/api/v1/retry/{bad}/requeue"))
            .header("Authorization", &auth);
        assert_eq!(status_of(req).await, 400, "{bad}");
    }
    let long = "x".repeat(256);
    let req = http
        .post(format!("{url}/api/v1/retry/{long}/requeue"))
        .header("Authorization", &auth);
    assert_eq!(status_of(req).await, 400);
    let req = http
        .post(format!("{url}/api/v1/retry/nothing.batch/requeue"))
        .header("Authorization", &auth);
    assert_eq!(status_of(req).await, 404);
    assert_eq!(
        status_of(http.get(format!("{url}/api/v1/stuck/nothing.batch"))).await,
        404
    );
    let huge = vec![b' '; 1 << 20];
    let req = http
        .post(format!("{url}/api/v1/flush"))
        .header("Authorization", &auth)
        .body(huge);
    assert_eq!(status_of(req).await, 413);

    // A link planted in stuck/ pointing outside is refused, and nothing moves.
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, "secret").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("stuck/planted.batch")).unwrap();
    let req = http
        .post(format!("{url}/api/v1/retry/planted.batch/requeue"))
        .header("Authorization", &auth);
    assert_eq!(status_of(req).await, 400);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret");
    assert!(files_in(&root, "retry").is_empty());

    // 409: a stale version of a real stuck file (a poison message).
    db(&root)
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'POISON'
             BEGIN SELECT RAISE(ABORT, 'machine POISON is refused'); END;",
        )
        .unwrap();
    drop_file(&root, "p.json", message(1, "POISON").to_string().as_bytes());
    wait_for(Duration::from_secs(20), "a poison file in stuck/", || {
        files_in(&root, "stuck").iter().any(|n| n.contains("poison"))
    });
    let stuck = files_in(&root, "stuck")
        .into_iter()
        .find(|n| n.contains("poison"))
        .unwrap();
    let stale = http
        .post(format!("{url}/api/v1/retry/{stuck}/requeue"))
        .header("Authorization", &auth)
        .json(&serde_json::json!({"attempts": 7}));
    assert_eq!(status_of(stale).await, 409);
    assert!(
        root.join("stuck").join(&stuck).exists(),
        "a refused requeue moves nothing"
    );
    let detail = client(&p, false)
        .file_detail(statmgr::api::wire::FileKind::Stuck, &stuck, 0, 10)
        .await
        .unwrap();
    assert_eq!(detail.messages.items[0].machine, "POISON");
    assert!(detail.summary.last_error.contains("machine POISON is refused"));
    drop(p);

    // A read-only server refuses every mutation, even with the right token.
    let p = Proc::start(&root, &["--read-only-api"]);
    let url = p.endpoint();
    let auth = format!("Bearer {}", p.token());
    for path in ["pause", "resume", "flush", "resync", "retry/x.batch/requeue"] {
        let req = http
            .post(format!("{url}/api/v1/{path}"))
            .header("Authorization", &auth);
        assert_eq!(status_of(req).await, 403, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_act_on_the_real_processor() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &["--retry-min", "100000"]);
    let c = client(&p, true);
    let q = FileQuery::default();

    c.pause().await.unwrap();
    assert_eq!(c.snapshot(&q, &q).await.unwrap().state, ProcessorState::Paused);
    drop_messages(&root, 0..20, 5);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(row_count(&root), 0, "paused: nothing is taken from the inbox");
    assert_eq!(c.snapshot(&q, &q).await.unwrap().inbox.depth, 4);
    c.resume().await.unwrap();
    wait_for(Duration::from_secs(20), "20 rows after resume", || {
        row_count(&root) == 20
    });

    // A poison message goes to stuck/; fixing the cause and requeueing commits it.
    let conn = db(&root);
    conn.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.machine = 'POISON'
         BEGIN SELECT RAISE(ABORT, 'machine POISON is refused'); END;",
    )
    .unwrap();
    drop_file(&root, "p.json", message(100, "POISON").to_string().as_bytes());
    wait_for(Duration::from_secs(20), "the stuck file", || {
        files_in(&root, "stuck").len() == 1
    });
    let snap = c.snapshot(&q, &q).await.unwrap();
    assert_eq!(snap.stuck.total, 1);
    let stuck = &snap.stuck.files[0];
    conn.execute_batch("DROP TRIGGER poison").unwrap();
    let (code, out, err) = p.cli(&["retry", "requeue", &stuck.name]);
    assert_eq!(code, Some(0), "{out}{err}");
    wait_for(Duration::from_secs(20), "the requeued message", || {
        row_count(&root) == 21
    });
    wait_for(Duration::from_secs(5), "stuck/ and retry/ to empty", || {
        files_in(&root, "stuck").is_empty() && files_in(&root, "retry").is_empty()
    });

    let r = c.resync().await.unwrap();
    assert!(r.outcome.contains("next id"), "{}", r.outcome);
    let r = c.flush().await.unwrap();
    assert!(r.outcome.contains("flush"), "{}", r.outcome);
    let snap = c.snapshot(&q, &q).await.unwrap();
    assert_eq!(snap.counters.committed, 21);
    assert_eq!(snap.counters.stuck, 1);
    assert!(snap.allocator.next_id > snap.allocator.db_max_id);

    // Every mutation was an event with what it did.
    let mut actions = Vec::new();
    let mut stream = c.events(0).await.unwrap();
    c.pause().await.unwrap();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
    {
        if let EventKind::OperatorAction { action, .. } = ev.kind {
            actions.push(action);
            break;
        }
    }
    assert_eq!(actions, ["pause"]);
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success());
    assert!(
        !root.join("control/endpoint").exists(),
        "endpoint removed at clean exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_with_last_event_id_sees_every_commit_exactly_once() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &["--batch-size", "10", "--batch-age", "5"]);
    let c = client(&p, false);
    let start = c
        .snapshot(&FileQuery::default(), &FileQuery::default())
        .await
        .unwrap()
        .last_event_id;
    let producer = {
        let root = root.clone();
        std::thread::spawn(move || {
            for i in 0..60u64 {
                drop_messages(&root, i * 10..i * 10 + 10, 10);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let mut seen = Vec::new();
    let mut last = start;
    let mut reconnects = 0;
    while row_count(&root) < 600 || seen.len() < batch_ids(&root).len() {
        let mut stream = c.events(last).await.unwrap();
        // Read a few events, then drop the connection in the middle of the burst.
        for _ in 0..7 {
            match tokio::time::timeout(Duration::from_secs(3), stream.next()).await {
                Ok(Ok(Some(ev))) => {
                    last = ev.id;
                    if let EventKind::BatchCommitted { batch } = ev.kind {
                        seen.push(batch.id);
                    }
                }
                _ => break,
            }
        }
        reconnects += 1;
        assert!(reconnects < 2000, "the stream must make progress");
    }
    producer.join().unwrap();
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no commit event twice");
    assert_eq!(
        sorted,
        batch_ids(&root),
        "every committed batch seen, across {reconnects} reconnects"
    );
}

fn batch_ids(root: &std::path::Path) -> Vec<i64> {
    let c = db(root);
    let mut st = c.prepare("SELECT id FROM batches ORDER BY id").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn status_json_holds_the_fields_of_the_design() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    p.endpoint();
    drop_messages(&root, 0..3, 3);
    wait_for(Duration::from_secs(20), "3 rows", || row_count(&root) == 3);
    let (code, out, err) = p.cli(&["status", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["state"], "running");
    for (obj, fields) in [
        ("inbox", &["depth", "bytes", "oldest_age_s"][..]),
        (
            "allocator",
            &[
                "next_id",
                "block_end",
                "high_water",
                "db_max_id",
                "failures",
                "last_error",
            ][..],
        ),
        (
            "counters",
            &["received", "committed", "retried", "stuck", "corrupt"][..],
        ),
        ("in_flight", &["messages", "oldest_age_s"][..]),
        ("retry", &["total", "files"][..]),
        ("stuck", &["total", "files"][..]),
    ] {
        for f in fields {
            assert!(v[obj].get(f).is_some(), "{obj}.{f} missing in {out}");
        }
    }
    let b = &v["batches"][0];
    for f in [
        "id",
        "count",
        "first_record_id",
        "last_record_id",
        "duration_ms",
        "source",
    ] {
        assert!(b.get(f).is_some(), "batches[0].{f} missing");
    }
    assert_eq!(v["counters"]["committed"], 3);
    let (code, human, _) = p.cli(&["status"]);
    assert_eq!(code, Some(0));
    assert!(human.contains("running"), "{human}");
    drop(p);
    let (code, _, err) = {
        let out = std::process::Command::new(bin())
            .args(["status", "--root"])
            .arg(&root)
            .output()
            .unwrap();
        (
            out.status.code(),
            (),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(3), "no processor reachable: exit 3");
    assert!(err.contains("statmgr run"), "says how to start one: {err}");
}
