//! Helpers of the triage tests: stuck files written the way the processor writes them,
//! the uids each directory holds, and API calls of the bulk endpoints.
#![allow(dead_code)] // each test file uses its own part

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use statmgr::api::wire::{BulkAction, BulkPreview, BulkRequest, BulkResult, BulkSelection, BulkSource};

use crate::support;

pub const TRIGGER: &str = "rejected by a database trigger";

/// A retry-format file `dir/name` holding `uids` (messages as `support::message` makes
/// them), with `attempts` and the error a trigger rejection gives for its first message.
pub fn put_batch_file(dir: &Path, name: &str, uids: std::ops::Range<u64>, attempts: u32, machine: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let error = format!(
        "message uid \"u-{}\" (record id {}): {TRIGGER}: {machine}",
        uids.start,
        uids.start + 1000
    );
    let header = serde_json::json!({
        "statmgr_retry": 1, "messages": uids.end - uids.start, "attempts": attempts,
        "last_error": error, "created_ms": now - 1000, "next_attempt_ms": 0, "history": []
    });
    let mut text = format!("{header}\n");
    for n in uids {
        text.push_str(&format!("{}\n", support::message(n, "HOST1")));
    }
    let tmp = dir.join(format!(".tmp-{name}"));
    let mut f = fs::File::create(&tmp).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.sync_all().unwrap();
    fs::rename(tmp, dir.join(name)).unwrap();
}

/// The data files of `root/dir` (no `.reason`, no temporaries).
pub fn data_files(root: &Path, dir: &str) -> Vec<String> {
    support::files_in(root, dir)
        .into_iter()
        .filter(|n| !n.ends_with(".reason"))
        .collect()
}

/// Every uid held by the data files of `root/dir`, one entry per copy.
pub fn uids_in(root: &Path, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in data_files(root, dir) {
        for m in support::messages_in_batch_file(&root.join(dir).join(&name)) {
            out.push(m["uid"].as_str().unwrap_or_default().to_string());
        }
    }
    out.sort();
    out
}

/// Panics when a uid is held by two files (in one directory or two). One pair is allowed:
/// a retry file and the stuck file its poison message was isolated to, when the crash came
/// between the two writes; that stuck file is named by the uid, so replaying the retry file
/// rewrites it instead of adding a copy (`settle::poison_file_name`).
pub fn assert_each_file_in_one_directory(root: &Path, context: &str) {
    let isolated: Vec<String> = data_files(root, "stuck")
        .into_iter()
        .filter(|n| n.starts_with("poison-"))
        .collect();
    let mut all: Vec<String> = ["retry", "stuck", "discarded"]
        .iter()
        .flat_map(|d| uids_in(root, d))
        .collect();
    let in_retry = uids_in(root, "retry");
    for uid in &in_retry {
        if isolated.contains(&statmgr::processor::settle::poison_file_name(uid)) {
            if let Some(i) = all.iter().position(|u| u == uid) {
                all.remove(i);
            }
        }
    }
    all.sort();
    let mut twice: Vec<&String> = all.windows(2).filter(|w| w[0] == w[1]).map(|w| &w[0]).collect();
    twice.dedup();
    let mut where_ = Vec::new();
    for d in ["retry", "stuck", "discarded"] {
        for name in data_files(root, d) {
            for m in support::messages_in_batch_file(&root.join(d).join(&name)) {
                let uid = m["uid"].as_str().unwrap_or_default().to_string();
                if twice.contains(&&uid) {
                    where_.push(format!("{d}/{name}: {uid}"));
                }
            }
        }
    }
    assert!(twice.is_empty(), "{context}: held by two files: {where_:?}");
}

pub struct Api {
    pub url: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn of(p: &support::Proc) -> Api {
        Api {
            url: p.endpoint(),
            token: p.token(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    pub async fn preview(&self, action: BulkAction, source: BulkSource, cause: Option<&str>) -> BulkPreview {
        let sel = BulkSelection {
            action,
            source,
            names: Vec::new(),
            filter: None,
            cause: cause.map(str::to_string),
            older_than_days: None,
        };
        let r = self
            .http
            .post(format!("{}/api/v1/bulk/preview", self.url))
            .bearer_auth(&self.token)
            .json(&sel)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn act(&self, p: &BulkPreview, note: Option<&str>) -> BulkResult {
        let req = BulkRequest {
            action: p.action,
            source: p.source,
            set: p.set.clone(),
            note: note.map(str::to_string),
        };
        let r = self
            .http
            .post(format!("{}/api/v1/bulk/action", self.url))
            .bearer_auth(&self.token)
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }
}
