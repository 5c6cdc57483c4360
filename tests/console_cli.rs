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

#[test]
fn a_bad_processors_file_names_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fleet.toml");
    std::fs::write(
        &path,
        "[[processor]]\nname = \"site-a\"\nurl = \"http://127.0.0.1:4100\"\n\n\
         [[processor]]\nname = \"site-b\"\nurl = \"ftp://10.0.0.2\"\n",
    )
    .expect("write");
    for command in ["console", "watch"] {
        statmgr()
            .args([command, "--processors"])
            .arg(&path)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("fleet.toml, line 7, column 7"))
            .stderr(predicate::str::contains("not an http:// URL"));
    }
    std::fs::write(
        &path,
        "[[processor]]\nname = \"a\"\nurl = \"http://h:1\"\nadress = \"x\"\n",
    )
    .expect("write");
    statmgr()
        .args(["console", "--processors"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 4, column 1"))
        .stderr(predicate::str::contains("adress"));
}

#[test]
fn an_unreadable_token_file_in_the_processors_file_names_the_processor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fleet.toml");
    let text = "[[processor]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\n\n\
                [[processor]]\nname = \"b\"\nurl = \"http://127.0.0.1:2\"\ntoken_file = \"missing.token\"\n";
    std::fs::write(&path, text).expect("write");
    statmgr()
        .args(["console", "--processors"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 5 (processor `b`)"))
        .stderr(predicate::str::contains("missing.token"));
}

#[test]
fn several_urls_take_no_token_file_and_exclude_root_and_processors() {
    let urls = ["--url", "http://127.0.0.1:1", "--url", "http://127.0.0.1:2"];
    statmgr()
        .arg("console")
        .args(urls)
        .args(["--token-file", "/tmp/t"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--token-file goes with a single --url"));
    statmgr()
        .args(["console", "--root", "/tmp"])
        .args(urls)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--url and --root exclude each other"));
    statmgr()
        .args(["watch", "--root", "/tmp", "--processors", "/tmp/p.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--processors and --root exclude each other",
        ));
    statmgr()
        .args(["console", "--processors", "/tmp/p.toml"])
        .args(urls)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--url"));
    statmgr()
        .args([
            "watch",
            "--url",
            "http://127.0.0.1:1",
            "--url",
            "http://127.0.0.1:1/",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("given twice"));
    // Good arguments get as far as the terminal check.
    statmgr()
        .arg("watch")
        .args(urls)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a terminal"));
}
