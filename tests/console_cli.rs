//! `statmgr console` and `statmgr watch` from the command line: bad invocations fail at once
//! with a clear message and exit code 2, before any connection is attempted.

use assert_cmd::Command;
use predicates::prelude::*;

fn statmgr() -> Command {
    let mut cmd = Command::cargo_bin("statmgr").expect("binary");
    cmd.env_remove("STATMGR_ROOT").env_remove("NO_COLOR");
    cmd
}

#[test]
fn a_bad_theme_file_names_its_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[palette]\naccent = \"cyan\"\n[styles]\ntitle = { fg = \"acent\" }\n",
    )
    .expect("write");
    statmgr()
        .args(["console", "--theme"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml, line 4, column 16"))
        .stderr(predicate::str::contains(
            "`acent` is neither a [palette] name nor a colour",
        ));
}

#[test]
fn an_unknown_theme_name_lists_the_built_in_ones() {
    statmgr()
        .args(["watch", "--theme", "solarized"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("default, light, mono"));
}

#[test]
fn without_a_terminal_the_console_points_to_status_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    for command in ["console", "watch"] {
        statmgr()
            .args([command, "--root"])
            .arg(dir.path())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("not a terminal"))
            .stderr(predicate::str::contains("statmgr status --json"));
    }
}

#[test]
fn root_and_url_exclude_each_other_and_watch_takes_no_token() {
    statmgr()
        .args(["console", "--root", "/tmp", "--url", "http://127.0.0.1:1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--url and --root exclude each other"));
    statmgr()
        .args(["console", "--token-file", "/tmp/t"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--url"));
    statmgr()
        .args(["watch", "--url", "http://127.0.0.1:1", "--token-file", "/tmp/t"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--token-file"));
    statmgr()
        .args(["watch", "--color", "sometimes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("auto"));
}

#[test]
fn statmgr_root_in_the_environment_does_not_conflict_with_url() {
    statmgr()
        .env("STATMGR_ROOT", "/tmp")
        .args(["watch", "--url", "http://127.0.0.1:1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a terminal"));
}
