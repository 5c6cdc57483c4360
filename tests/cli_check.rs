//! `statmgr check` against the real processor: each exit code of the plugin convention
//! (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) with its one status line and perfdata.

mod support;

use std::time::Duration;

use support::*;

fn check(p: &Proc, flags: &[&str]) -> (i32, String) {
    let mut args = vec!["check"];
    args.extend_from_slice(flags);
    let (code, out, err) = p.cli(&args);
    assert_eq!(out.lines().count(), 1, "one line: {out:?} {err:?}");
    (code.unwrap(), out.trim_end().to_string())
}

#[test]
fn ok_warning_and_critical_from_a_running_processor() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &["--busy-timeout", "200", "--retry-min", "200"]);
    p.endpoint();
    drop_messages(&root, 0..3, 3);
    wait_for(Duration::from_secs(20), "the commit", || row_count(&root) == 3);
    wait_for(Duration::from_secs(5), "the inbox empty", || {
        check(&p, &[]).1.contains("inbox 0 files")
    });
    let (code, line) = check(&p, &[]);
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with("STATMGR OK - inbox 0 files; retry 0; stuck 0; last commit "),
        "{line}"
    );
    assert!(line.contains(" | inbox_depth=0;1000;10000;0 "), "{line}");
    assert!(line.contains("committed=3c;;;0"), "{line}");

    // A poison message isolated into stuck/: one stuck file is a warning by default...
    db(&root)
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON status_messages WHEN NEW.message_id = 99
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    drop_messages(&root, 99..100, 1);
    wait_for(Duration::from_secs(20), "the poison in stuck/", || {
        files_in(&root, "stuck").len() == 1
    });
    wait_for(Duration::from_secs(5), "check to see it", || {
        check(&p, &[]).0 == 1
    });
    let (_, line) = check(&p, &[]);
    assert!(
        line.starts_with("STATMGR WARNING - stuck files 1 > 0; "),
        "{line}"
    );
    assert!(line.contains("stuck_files=1;0;10;0"), "{line}");
    // ...and critical with a tighter threshold.
    let (code, line) = check(&p, &["--crit-stuck", "0"]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("STATMGR CRITICAL - stuck files 1 > 0; "),
        "{line}"
    );
    assert!(line.contains("stuck_files=1;0;0;0"), "{line}");

    // A database locked by another connection: /readyz says why, and check is critical.
    let locker = db(&root);
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    drop_messages(&root, 200..201, 1);
    wait_for(Duration::from_secs(20), "check to see the lock", || {
        check(&p, &["--warn-stuck", "5"]).0 == 2
    });
    let (_, line) = check(&p, &["--warn-stuck", "5"]);
    assert!(
        line.starts_with("STATMGR CRITICAL - database unreachable: "),
        "{line}"
    );
    assert!(line.contains("database is locked"), "{line}");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    wait_for(Duration::from_secs(20), "OK again", || {
        check(&p, &["--warn-stuck", "5"]).0 == 0
    });
    assert!(p.terminate(Duration::from_secs(15)).0.success());
}

#[test]
fn unknown_without_a_processor_or_with_bad_arguments() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        )
    };
    let root_arg = root.to_str().unwrap();
    let (code, line) = run(&["check", "--root", root_arg]);
    assert_eq!(code, Some(3), "{line}");
    assert!(
        line.starts_with("STATMGR UNKNOWN - processor not reachable: "),
        "{line}"
    );
    let (code, line) = run(&["check", "--root", root_arg, "--bogus"]);
    assert_eq!(code, Some(3), "{line}");
    assert_eq!(
        line,
        "STATMGR UNKNOWN - bad arguments: unexpected argument '--bogus' found"
    );
    let (code, line) = run(&["check", "--root", root_arg, "--warn-inbox-age", "600"]);
    assert_eq!(code, Some(3), "{line}");
    assert!(
        line.contains("--warn-inbox-age 600 is above --crit-inbox-age 300"),
        "{line}"
    );
    let (code, line) = run(&["check", "--url", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(3), "{line}");
    assert!(
        line.starts_with("STATMGR UNKNOWN - processor not reachable"),
        "{line}"
    );
}
