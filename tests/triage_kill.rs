//! kill -9 in the middle of bulk requeue, discard and restore, over many cycles: every file
//! stays in exactly one of retry/, stuck/, discarded/ (no message held twice, none lost),
//! and after a restart the actions simply repeat until every message is committed once.
//! Cycles: STATMGR_TRIAGE_KILL_CYCLES (default 12). Replay: STATMGR_SEED=<printed seed>.

mod support;
mod triage_support;

use std::time::Duration;

use rand::{Rng, SeedableRng};
use statmgr::api::wire::{BulkAction, BulkPreview, BulkRequest, BulkSelection, BulkSource};
use support::*;
use triage_support::*;

const FILES: u64 = 300;
const FLAGS: &[&str] = &["--max-attempts", "2", "--retry-min", "20", "--retry-max", "100"];

async fn preview(api: &Api, action: BulkAction, source: BulkSource) -> Option<BulkPreview> {
    let sel = BulkSelection {
        action,
        source,
        names: Vec::new(),
        filter: None,
        cause: None,
        older_than_days: None,
    };
    let r = api
        .http
        .post(format!("{}/api/v1/bulk/preview", api.url))
        .bearer_auth(&api.token)
        .json(&sel)
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

async fn act(api: &Api, p: BulkPreview) -> Option<u16> {
    let req = BulkRequest {
        action: p.action,
        source: p.source,
        set: p.set,
        note: Some("kill test".into()),
    };
    let r = api
        .http
        .post(format!("{}/api/v1/bulk/action", api.url))
        .bearer_auth(&api.token)
        .json(&req)
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

fn all_uids() -> Vec<String> {
    let mut v: Vec<String> = (0..FILES).map(|i| format!("u-{i}")).collect();
    v.sort();
    v
}

/// Every message is in the database or in exactly one file of one directory.
fn check_nothing_lost_or_doubled(root: &std::path::Path, context: &str) {
    assert_each_file_in_one_directory(root, context);
    let mut held: Vec<String> = ["retry", "stuck", "discarded"]
        .iter()
        .flat_map(|d| uids_in(root, d))
        .collect();
    held.extend(uids(root));
    held.sort();
    held.dedup();
    assert_eq!(held, all_uids(), "{context}: every message is somewhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_bulk_actions_leaves_every_file_in_one_directory() {
    let cycles: u64 = std::env::var("STATMGR_TRIAGE_KILL_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("STATMGR_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("triage kill -9: {cycles} cycles, seed {seed} (replay with STATMGR_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let tmp = tempdir();
    let root = state_root(&tmp);
    let first = Proc::start(&root, FLAGS);
    wait_for(Duration::from_secs(20), "the schema", || {
        db(&root)
            .query_row("SELECT COUNT(*) FROM status_messages", [], |_| Ok(()))
            .is_ok()
    });
    first.stop(Duration::from_secs(20));
    // Odd uids are refused by a real trigger, so requeued files fail and go back to stuck/.
    db(&root)
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN CAST(substr(NEW.uid, 3) AS INTEGER) % 2 = 1 \
             BEGIN SELECT RAISE(ABORT, 'poison machine'); END;",
        )
        .unwrap();
    for i in 0..FILES {
        put_batch_file(
            &root.join("stuck"),
            &format!("f{i:04}.batch"),
            i..i + 1,
            2,
            "poison",
        );
    }

    for cycle in 0..cycles {
        let context = format!("seed {seed}, cycle {cycle}");
        let p = Proc::start(&root, FLAGS);
        let api = Api::of(&p);
        let (action, source) = match rng.random_range(0..3) {
            0 => (BulkAction::Discard, BulkSource::Stuck),
            1 => (BulkAction::Requeue, BulkSource::Stuck),
            _ => (BulkAction::Restore, BulkSource::Discarded),
        };
        let delay = Duration::from_millis(rng.random_range(0..150));
        if let Some(pv) = preview(&api, action, source).await {
            let task = tokio::spawn(async move { act(&api, pv).await });
            tokio::time::sleep(delay).await;
            p.kill9();
            task.abort();
        } else {
            p.kill9();
        }
        check_nothing_lost_or_doubled(&root, &context);
        eprintln!(
            "cycle {cycle}: {} after {delay:?}: retry {}, stuck {}, discarded {}, committed {}",
            action.as_str(),
            data_files(&root, "retry").len(),
            data_files(&root, "stuck").len(),
            data_files(&root, "discarded").len(),
            row_count(&root)
        );
    }

    // Fix the cause, then repeat the actions until every message is committed once.
    db(&root).execute_batch("DROP TRIGGER poison;").unwrap();
    let p = Proc::start(&root, FLAGS);
    let api = Api::of(&p);
    for _ in 0..20 {
        if row_count(&root) == FILES {
            break;
        }
        for (action, source) in [
            (BulkAction::Restore, BulkSource::Discarded),
            (BulkAction::Requeue, BulkSource::Stuck),
        ] {
            if let Some(pv) = preview(&api, action, source).await {
                if pv.files > 0 {
                    assert_eq!(act(&api, pv).await, Some(200), "seed {seed}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_for(Duration::from_secs(30), "every message committed", || {
        row_count(&root) == FILES
    });
    wait_for(Duration::from_secs(10), "retry/ empty", || {
        data_files(&root, "retry").is_empty()
    });
    assert_eq!(
        uids(&root),
        all_uids(),
        "seed {seed}: every message committed once"
    );
    assert!(data_files(&root, "stuck").is_empty(), "seed {seed}");
    assert!(data_files(&root, "discarded").is_empty(), "seed {seed}");
    p.stop(Duration::from_secs(20));
    check_database(&root);
}
