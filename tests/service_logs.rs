//! `--log-format json` (one object per line: timestamp, level, target, fields with the
//! message) and text logs under systemd's journal (`JOURNAL_STREAM` names stderr): no
//! timestamp of their own, since the journal stamps each line.

mod support;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use support::*;

fn log_path(root: &std::path::Path) -> std::path::PathBuf {
    // Where `Proc` sends the processor's stderr.
    root.with_extension(format!("log{}", std::process::id()))
}

#[test]
fn json_logs_are_one_object_per_line_with_level_target_and_fields() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &["--log-format", "json"]);
    drop_file(&root, "bad.json", b"{not json");
    wait_for(Duration::from_secs(20), "the bad file in corrupt/", || {
        !files_in(&root, "corrupt").is_empty()
    });
    let (status, log) = p.terminate_with_log(Duration::from_secs(15));
    assert!(status.success());
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(lines.len() >= 3, "{log}");
    for v in &lines {
        assert!(
            v["timestamp"].as_str().is_some_and(|t| t.starts_with("20")),
            "{v}"
        );
        assert!(
            ["INFO", "WARN", "ERROR", "DEBUG"].contains(&v["level"].as_str().unwrap()),
            "{v}"
        );
        assert!(v["target"].as_str().unwrap().starts_with("statmgr"), "{v}");
        assert!(v["fields"]["message"].is_string(), "{v}");
    }
    let started = lines
        .iter()
        .find(|v| v["fields"]["message"] == "processor started")
        .expect("the start line");
    assert_eq!(started["fields"]["root"], root.display().to_string());
    assert_eq!(started["fields"]["batch_size"], 1000);
}

#[test]
fn text_logs_carry_no_timestamp_of_their_own_under_the_journal() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let log = log_path(&root);
    std::fs::write(&log, b"").unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let p = Proc::start_with_env(&root, &[], &[("JOURNAL_STREAM", stream.as_str())]);
    p.endpoint(); // up, with its signal handlers
    let (status, text) = p.terminate_with_log(Duration::from_secs(15));
    assert!(status.success());
    let first = text.lines().next().expect("a log line");
    assert!(
        first.trim_start().starts_with("INFO"),
        "no timestamp under the journal: {first:?}"
    );
    assert!(text.contains("processor started"));

    // JOURNAL_STREAM naming another file (a child of a journald service whose stderr was
    // redirected): the timestamp stays.
    let root = tmp.path().join("state2");
    let p = Proc::start_with_env(&root, &[], &[("JOURNAL_STREAM", "1:1")]);
    p.endpoint();
    let (status, text) = p.terminate_with_log(Duration::from_secs(15));
    assert!(status.success());
    let first = text.lines().next().expect("a log line");
    assert!(
        first.starts_with("20"),
        "a timestamp when stderr is not the journal: {first:?}"
    );
}
