//! The plugin's verdicts on snapshots made by the real telemetry model.

use std::time::{Duration, SystemTime};

use clap::Parser;

use super::*;
use crate::api::wire::{BatchInfo, ConfigInfo};
use crate::processor::telemetry::{rfc3339, Telemetry};

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    args: CheckArgs,
}

fn args(flags: &[&str]) -> CheckArgs {
    Wrap::parse_from(std::iter::once("check").chain(flags.iter().copied())).args
}

fn telemetry() -> Telemetry {
    let t = Telemetry::new(
        "/x".into(),
        ConfigInfo {
            batch_size: 1000,
            batch_age_ms: 200,
            max_attempts: 20,
            read_only_api: false,
        },
    );
    t.set_state(ProcessorState::Running);
    t
}

fn commit_at(t: &Telemetry, at: SystemTime) {
    t.batch_committed(BatchInfo {
        id: 1,
        committed_at: rfc3339(at),
        count: 5,
        duplicates: 0,
        first_record_id: Some(1),
        last_record_id: Some(5),
        duration_ms: 1.0,
        source: "inbox".into(),
        source_file: None,
    });
}

fn ok() -> HealthStatus {
    HealthStatus {
        status: "ok".into(),
        reason: None,
        since: None,
    }
}

fn verdict(t: &Telemetry, flags: &[&str]) -> (Level, String) {
    let q = FileQuery::default();
    evaluate(&args(flags), &t.snapshot(&q, &q), &ok(), &ok())
}

#[test]
fn a_quiet_processor_is_ok_with_perfdata_in_the_standard_form() {
    let t = telemetry();
    let (level, line) = verdict(&t, &[]);
    assert_eq!(level, Level::Ok);
    assert!(
        line.starts_with("STATMGR OK - inbox 0 files; retry 0; stuck 0; last commit none since start | "),
        "{line}"
    );
    let perf = line.split_once(" | ").unwrap().1;
    for item in perf.split(' ') {
        let (label, data) = item.split_once('=').unwrap();
        assert!(
            label.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{item}"
        );
        let parts: Vec<&str> = data.split(';').collect();
        assert_eq!(parts.len(), 4, "value;warn;crit;min: {item}");
        assert!(
            parts[0].trim_end_matches(['s', 'c']).parse::<i64>().is_ok(),
            "{item}"
        );
    }
    assert!(perf.contains("inbox_depth=0;1000;10000;0"), "{perf}");
    assert!(perf.contains("stuck_files=0;0;10;0"), "{perf}");
}

#[test]
fn the_last_commit_age_counts_only_while_the_inbox_has_work() {
    let t = telemetry();
    commit_at(&t, SystemTime::now() - Duration::from_secs(600));
    // Idle: an old commit is fine.
    let (level, line) = verdict(&t, &[]);
    assert_eq!(level, Level::Ok, "{line}");
    assert!(line.contains("last commit 600s ago"), "{line}");
    // Work waiting and no commit for 600 s: critical (default 300).
    t.set_inbox(3, 100, Some(SystemTime::now() - Duration::from_secs(10)));
    let (level, line) = verdict(&t, &[]);
    assert_eq!(level, Level::Critical, "{line}");
    assert!(line.contains("last commit 600s > 300s"), "{line}");
    let (level, line) = verdict(&t, &["--warn-commit-age", "500", "--crit-commit-age", "700"]);
    assert_eq!(level, Level::Warning, "{line}");
}

#[test]
fn thresholds_are_crossed_when_the_value_is_above_them() {
    let t = telemetry();
    commit_at(&t, SystemTime::now());
    t.set_inbox(5, 100, Some(SystemTime::now() - Duration::from_secs(90)));
    let (level, line) = verdict(&t, &[]);
    assert_eq!(level, Level::Warning, "{line}");
    assert!(
        line.starts_with("STATMGR WARNING - oldest inbox file 90s > 60s; inbox 5 files, oldest 90s;"),
        "{line}"
    );
    let (level, _) = verdict(&t, &["--warn-inbox-age", "90"]);
    assert_eq!(level, Level::Ok, "90 is not above 90");
    let (level, _) = verdict(
        &t,
        &[
            "--warn-inbox-depth",
            "1",
            "--crit-inbox-depth",
            "4",
            "--warn-inbox-age",
            "100",
        ],
    );
    assert_eq!(level, Level::Critical);
}

#[test]
fn an_unready_database_is_critical_and_paused_is_a_warning() {
    let t = telemetry();
    let q = FileQuery::default();
    let down = HealthStatus {
        status: "unavailable".into(),
        reason: Some("database unreachable: database is locked".into()),
        since: None,
    };
    let (level, line) = evaluate(&args(&[]), &t.snapshot(&q, &q), &ok(), &down);
    assert_eq!(level, Level::Critical);
    assert!(
        line.starts_with("STATMGR CRITICAL - database unreachable: database is locked; inbox 0 files"),
        "{line}"
    );
    t.set_state(ProcessorState::Paused);
    let (level, line) = verdict(&t, &[]);
    assert_eq!(level, Level::Warning);
    assert!(line.contains("intake paused"), "{line}");
}

#[test]
fn a_warning_above_its_critical_is_a_usage_error() {
    let e = args(&["--warn-retry", "5", "--crit-retry", "1"])
        .validate()
        .unwrap_err();
    assert!(e.contains("--warn-retry 5 is above --crit-retry 1"), "{e}");
    assert_eq!(args(&[]).validate(), Ok(()));
}
