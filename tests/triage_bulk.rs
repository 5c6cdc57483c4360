//! Triage against a real processor: causes grouped on the server, bulk requeue and discard
//! of exactly the previewed set (races included), restore, purge, the CLI, and refusals.

mod support;
mod triage_support;

use std::time::Duration;

use statmgr::api::wire::{BulkAction, BulkSource, CauseList};
use support::*;
use triage_support::*;

/// 12 stuck files: 8 rejected for "poison" (2 messages each), 4 for "site closed".
fn seed_stuck(root: &std::path::Path) {
    StateDirMade::make(root);
    for i in 0..12u64 {
        let machine = if i < 8 { "poison" } else { "site closed" };
        put_batch_file(
            &root.join("stuck"),
            &format!("s{i:02}.batch"),
            i * 10..i * 10 + 2,
            5,
            machine,
        );
    }
}

struct StateDirMade;
impl StateDirMade {
    fn make(root: &std::path::Path) {
        for d in ["inbox", "retry", "stuck", "corrupt", "discarded"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
    }
}

fn wait_files(root: &std::path::Path, dir: &str, n: usize) {
    wait_for(Duration::from_secs(20), &format!("{n} files in {dir}/"), || {
        data_files(root, dir).len() == n
    });
}

#[test]
fn groups_by_cause_then_requeue_one_cause_commits_exactly_its_messages() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    seed_stuck(&root);
    let p = Proc::start(&root, &[]);
    let (code, out, err) = p.cli(&["retry", "groups", "--stuck", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let list: CauseList = serde_json::from_str(&out).unwrap();
    assert_eq!((list.files, list.messages), (12, 24));
    assert_eq!(list.groups.len(), 2, "{out}");
    assert_eq!(list.groups[0].files, 8);
    assert!(
        list.groups[0].cause.contains("(record id #)"),
        "{}",
        list.groups[0].cause
    );
    let (code, human, _) = p.cli(&["retry", "groups", "--stuck"]);
    assert_eq!(code, Some(0));
    assert!(
        human.contains("12 files (24 messages) in stuck/, 2 causes"),
        "{human}"
    );

    let poison = list.groups[0].id.clone();
    let (code, out, err) = p.cli(&[
        "retry",
        "requeue",
        "--all",
        "--stuck",
        "--cause",
        &poison,
        "--dry-run",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("requeue 8 stuck files (16 messages)"), "{out}");
    assert!(out.contains("dry run: nothing changed"), "{out}");
    assert_eq!(data_files(&root, "stuck").len(), 12);

    let (code, out, err) = p.cli(&[
        "retry", "requeue", "--all", "--stuck", "--cause", &poison, "--yes",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("requeue 8 of 8 stuck files (16 messages)"), "{out}");
    wait_files(&root, "stuck", 4);
    wait_for(Duration::from_secs(20), "16 rows", || row_count(&root) == 16);
    wait_files(&root, "retry", 0);
    let mut want: Vec<String> = (0..8u64)
        .flat_map(|i| [format!("u-{}", i * 10), format!("u-{}", i * 10 + 1)])
        .collect();
    want.sort();
    assert_eq!(uids(&root), want);
    p.stop(Duration::from_secs(20));
    check_database(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_previewed_set_is_touched_and_changed_files_are_reported() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    seed_stuck(&root);
    let p = Proc::start(&root, &[]);
    let api = Api::of(&p);
    let preview = api.preview(BulkAction::Discard, BulkSource::Stuck, None).await;
    assert_eq!((preview.files, preview.messages), (12, 24));
    assert_eq!(preview.causes.len(), 2);
    // After the preview: a new stuck file of the same cause lands, one file changes version
    // (a rewrite with another attempt count), one is requeued by someone else.
    put_batch_file(&root.join("stuck"), "late.batch", 500..502, 5, "poison");
    put_batch_file(&root.join("stuck"), "s01.batch", 10..12, 6, "poison");
    let (code, _, err) = p.cli(&["retry", "requeue", "s02.batch"]);
    assert_eq!(code, Some(0), "{err}");
    let result = api.act(&preview, Some("site decommissioned, ticket 42")).await;
    assert_eq!(result.total, 12);
    assert_eq!(result.done, 10, "{result:?}");
    assert_eq!(result.changed, ["s01.batch"]);
    assert_eq!(
        result.vanished.len() + result.already_moved.len(),
        1,
        "{result:?}"
    );
    let discarded = data_files(&root, "discarded");
    assert_eq!(discarded.len(), 10);
    assert!(!discarded.contains(&"late.batch".to_string()));
    assert!(data_files(&root, "stuck").contains(&"late.batch".to_string()));
    assert!(data_files(&root, "stuck").contains(&"s01.batch".to_string()));
    // The reason: when, who (peer and token id, never the token), cause, note.
    let reason = std::fs::read_to_string(root.join("discarded/s00.batch.reason")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&reason).unwrap();
    assert!(v["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{reason}");
    assert_eq!(v["token_id"].as_str().unwrap().len(), 8);
    assert!(!reason.contains(&api.token), "the token must never be written");
    assert_eq!(v["note"], "site decommissioned, ticket 42");
    assert!(v["cause"].as_str().unwrap().contains(TRIGGER));
    assert!(v["discarded_at"].as_str().unwrap().ends_with('Z'));
    // The snapshot, the header's numbers and /metrics show discarded/.
    let snap: serde_json::Value = api
        .http
        .get(format!("{}/api/v1/snapshot?discarded_limit=3", api.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["discarded"]["total"], 10);
    assert_eq!(snap["discarded"]["files"].as_array().unwrap().len(), 3);
    let metrics = api
        .http
        .get(format!("{}/metrics", api.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("statmgr_discarded_files 10"), "{metrics}");
    assert!(metrics.contains("statmgr_discarded_messages 20"), "{metrics}");

    // Restore two by name; purge keeps the young ones, then takes the rest.
    let (code, out, err) = p.cli(&["retry", "restore", "s00.batch", "s03.batch", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!root.join("discarded/s00.batch.reason").exists());
    let (code, out, _) = p.cli(&["retry", "purge", "--discarded", "--older-than", "1", "--yes"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("nothing to purge"), "{out}");
    assert_eq!(data_files(&root, "discarded").len(), 8);
    let (code, out, err) = p.cli(&["retry", "purge", "--discarded", "--older-than", "0", "--yes"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("purge 8 of 8 discarded files"), "{out}");
    assert!(
        support::files_in(&root, "discarded").is_empty(),
        "reasons go with their files"
    );
    // The restored and requeued files commit; nothing else was touched.
    wait_for(Duration::from_secs(20), "6 rows", || row_count(&root) == 6);
    p.stop(Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_actions_on_overlapping_sets_never_move_a_file_twice() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    StateDirMade::make(&root);
    for i in 0..60u64 {
        put_batch_file(
            &root.join("stuck"),
            &format!("f{i:03}.batch"),
            i * 10..i * 10 + 1,
            5,
            "poison",
        );
    }
    let p = Proc::start(&root, &[]);
    let api = Api::of(&p);
    let all = api.preview(BulkAction::Discard, BulkSource::Stuck, None).await;
    let mut first = all.clone();
    first.set.truncate(40); // f000..f039
    let mut second = all.clone();
    second.set = all.set[20..].to_vec(); // f020..f059
    let (a, b) = tokio::join!(api.act(&first, None), api.act(&second, None));
    assert_eq!(a.done + b.done, 60, "{a:?} {b:?}");
    assert_eq!(a.skipped() + b.skipped(), 20, "{a:?} {b:?}");
    assert_eq!(data_files(&root, "discarded").len(), 60);
    assert!(data_files(&root, "discarded").iter().all(|n| !n.ends_with(".1")));
    assert_each_file_in_one_directory(&root, "after two overlapping actions");
    p.stop(Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_api_and_a_missing_token_refuse_every_new_action() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    seed_stuck(&root);
    let p = Proc::start(&root, &["--read-only-api"]);
    let api = Api::of(&p);
    let sel = serde_json::json!({"action": "discard", "source": "stuck"});
    let req = serde_json::json!({"action": "discard", "source": "stuck", "set": [{"name": "s00.batch", "version": "x"}]});
    for (path, body) in [("preview", &sel), ("action", &req)] {
        let url = format!("{}/api/v1/bulk/{path}", api.url);
        let r = api
            .http
            .post(&url)
            .bearer_auth(&api.token)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let r = api.http.post(&url).json(body).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    // Reads stay open: causes and the console's mark-all selection.
    let r = api
        .http
        .get(format!("{}/api/v1/causes?kind=stuck", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .http
        .get(format!(
            "{}/api/v1/bulk/select?action=discard&source=stuck",
            api.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, _, err) = p.cli(&["retry", "discard", "--all", "--stuck", "--yes"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("HTTP 403"), "{err}");
    assert_eq!(data_files(&root, "stuck").len(), 12);
    p.stop(Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_over_the_limit_is_refused_with_413() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    StateDirMade::make(&root);
    let p = Proc::start(&root, &[]);
    let api = Api::of(&p);
    let set: Vec<serde_json::Value> = (0..statmgr::api::wire::MAX_BULK_FILES + 1)
        .map(|i| serde_json::json!({"name": format!("f{i}"), "version": "0/1/x"}))
        .collect();
    let req = serde_json::json!({"action": "requeue", "source": "stuck", "set": set});
    let r = api
        .http
        .post(format!("{}/api/v1/bulk/action", api.url))
        .bearer_auth(&api.token)
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("over the limit of 100000"));
    let bad = serde_json::json!({"action": "purge", "source": "stuck", "set": []});
    let r = api
        .http
        .post(format!("{}/api/v1/bulk/action", api.url))
        .bearer_auth(&api.token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "purge applies to discarded files only");
    p.stop(Duration::from_secs(20));
}
