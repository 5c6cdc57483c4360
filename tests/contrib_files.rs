//! The files shipped in contrib/: the systemd unit passes `systemd-analyze verify` and has
//! the hardening it promises; the Prometheus rules parse and use only metric names that a
//! real processor's `/metrics` exports.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use support::*;
use yaml_rust2::{Yaml, YamlLoader};

fn contrib(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[test]
fn the_unit_file_verifies_and_is_hardened() {
    let unit = contrib("systemd/statmgr.service");
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "StateDirectory=statmgr",
        "ExecStart=/usr/local/bin/statmgr run --root /var/lib/statmgr",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/statmgr",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "User=statmgr",
        // Producers' files must belong to the group statmgr (found under a live systemd).
        "ExecStartPre=+/usr/bin/install -d -o statmgr -g statmgr -m 2770 /var/lib/statmgr/inbox",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(line)),
            "the unit lacks {line:?}"
        );
    }
    // The only writable path is the state directory.
    let writable: Vec<&str> = unit
        .lines()
        .filter(|l| l.starts_with("ReadWritePaths="))
        .collect();
    assert_eq!(writable, ["ReadWritePaths=/var/lib/statmgr"]);

    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("SKIPPED: systemd-analyze is not installed (apt-get install systemd)");
        return;
    };
    assert!(version.status.success());
    let tmp = tempdir();
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let local = unit.replace("/usr/local/bin/statmgr", bin());
    let path = tmp.path().join("statmgr.service");
    std::fs::write(&path, local).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {complaints}");
    // verify reports a bad value as a warning and still exits 0: any output is a finding.
    assert!(
        complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
}

fn exprs(doc: &Yaml) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let groups = doc["groups"].as_vec().expect("groups: a list");
    assert!(!groups.is_empty());
    for group in groups {
        assert!(group["name"].as_str().is_some());
        for rule in group["rules"].as_vec().expect("rules: a list") {
            let name = rule["alert"]
                .as_str()
                .expect("every rule is an alert")
                .to_string();
            let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
            assert!(
                ["warning", "critical"].contains(&severity),
                "{name}: severity {severity:?}"
            );
            assert!(
                rule["annotations"]["summary"].as_str().is_some(),
                "{name}: a summary"
            );
            out.push((name, rule["expr"].as_str().expect("an expr").to_string()));
        }
    }
    out
}

/// The `statmgr_*` identifiers of a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("statmgr_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_alert_rules_parse_and_name_only_exported_metrics() {
    let docs = YamlLoader::load_from_str(&contrib("prometheus/statmgr-alerts.yml")).expect("valid YAML");
    assert_eq!(docs.len(), 1);
    let rules = exprs(&docs[0]);
    let used: BTreeSet<String> = rules.iter().flat_map(|(_, e)| metric_names(e)).collect();
    // The conditions `statmgr check` tests have a rule each.
    for metric in [
        "statmgr_inbox_oldest_age_seconds",
        "statmgr_stuck_files",
        "statmgr_retry_files",
        "statmgr_messages_committed_total",
        "statmgr_database_up",
    ] {
        assert!(used.contains(metric), "no rule uses {metric}");
    }

    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let (status, text) = http_get(&p.endpoint(), "/metrics").expect("/metrics answers");
    assert_eq!(status, 200);
    let exported: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    for name in &used {
        assert!(exported.contains(name), "{name} is not in /metrics: {exported:?}");
    }
    assert!(p.terminate(std::time::Duration::from_secs(15)).0.success());
}

/// With promtool (Debian: `apt-get install prometheus`): the rules are valid PromQL and the
/// unit tests beside them (contrib/prometheus/statmgr-alerts.test.yml) pass: each alert
/// fires on the series it is about and stays quiet on a healthy processor's.
#[test]
fn the_alert_rules_pass_promtool() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");
    let run = |args: &[&str]| Command::new("promtool").args(args).current_dir(&dir).output();
    let Ok(check) = run(&["check", "rules", "statmgr-alerts.yml"]) else {
        eprintln!("SKIPPED: promtool is not installed (apt-get install prometheus)");
        return;
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(check.status.success(), "promtool check rules: {}", text(&check));
    let test = run(&["test", "rules", "statmgr-alerts.test.yml"]).unwrap();
    assert!(test.status.success(), "promtool test rules: {}", text(&test));
}
