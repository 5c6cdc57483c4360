//! The config file through the real binary: precedence flag > environment > file > default,
//! `config check` exit codes and positions, `config show` redaction, and `run --config`
//! actually running with the file's settings.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn statmgr(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(support::bin());
    command.args(args);
    for var in ["STATMGR_ROOT", "STATMGR_CONFIG", "STATMGR_DATABASE"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let out = command.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn shown(stdout: &str, key: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} =")))
        .unwrap_or_else(|| panic!("no {key} in {stdout}"))
        .to_string()
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let tmp = support::tempdir();
    let file = tmp.path().join("statmgr.toml");
    std::fs::write(&file, "root = \"/from/file\"\nrescan = 777\n").unwrap();
    let file = file.to_str().unwrap();

    let (code, out, err) = statmgr(&["config", "show"], &[("HOME", "/home/nobody")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(shown(&out, "root").ends_with("# default"), "{out}");
    assert!(shown(&out, "rescan").starts_with("rescan = 5000 "), "{out}");

    let (code, out, err) = statmgr(&["config", "show", "--config", file], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(shown(&out, "root").starts_with("root = \"/from/file\""), "{out}");
    assert!(shown(&out, "root").ends_with("# file"), "{out}");
    assert!(shown(&out, "rescan").starts_with("rescan = 777 "), "{out}");

    // STATMGR_CONFIG names the file as well as --config does.
    let env = [("STATMGR_CONFIG", file), ("STATMGR_ROOT", "/from/env")];
    let (code, out, err) = statmgr(&["config", "show"], &env);
    assert_eq!(code, Some(0), "{err}");
    assert!(shown(&out, "root").starts_with("root = \"/from/env\""), "{out}");
    assert!(shown(&out, "root").ends_with("# environment"), "{out}");
    assert!(shown(&out, "rescan").starts_with("rescan = 777 "), "{out}");

    let (code, out, err) = statmgr(&["config", "show", "--root", "/from/flag", "--rescan", "9"], &env);
    assert_eq!(code, Some(0), "{err}");
    assert!(shown(&out, "root").starts_with("root = \"/from/flag\""), "{out}");
    assert!(shown(&out, "root").ends_with("# flag"), "{out}");
    assert!(shown(&out, "rescan").starts_with("rescan = 9 "), "{out}");
}

#[test]
fn config_check_exits_0_or_2_with_the_position() {
    let tmp = support::tempdir();
    let good = tmp.path().join("good.toml");
    std::fs::write(&good, "batch_size = 500\nretain = \"error=90,info=7\"\n").unwrap();
    let (code, out, err) = statmgr(&["config", "check", good.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ok (2 settings)"), "{out}");

    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "batch_size = 500\nretain_dayz = 3\n").unwrap();
    let (code, _, err) = statmgr(&["config", "check", bad.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!(
            "statmgr: {}:2:1: unknown key `retain_dayz`",
            bad.display()
        )),
        "{err}"
    );

    // The same file refuses `run` with exit 2, before anything is created.
    let root = tmp.path().join("state");
    let (code, _, err) = statmgr(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--config",
            bad.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(":2:1: unknown key `retain_dayz`"), "{err}");
    assert!(!root.exists());

    let (code, _, err) = statmgr(
        &[
            "config",
            "check",
            tmp.path().join("missing.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot read the config file"), "{err}");
}

#[test]
fn config_show_never_prints_the_database_password() {
    let tmp = support::tempdir();
    let file = tmp.path().join("db.toml");
    std::fs::write(&file, "database = \"postgres://app:hunter2@db.example/stat\"\n").unwrap();
    let (code, out, err) = statmgr(&["config", "show", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.contains("postgres://app:***@db.example/stat"), "{out}");
    let env = [(
        "STATMGR_DATABASE",
        "postgres://app:swordfish@db/x?password=swordfish",
    )];
    let (_, out, _) = statmgr(&["config", "show"], &env);
    assert!(!out.contains("swordfish"), "{out}");
    assert!(shown(&out, "database").ends_with("# environment"), "{out}");
}

#[test]
fn run_uses_the_settings_of_its_config_file() {
    let tmp = support::tempdir();
    let root = support::state_root(&tmp);
    let file = tmp.path().join("run.toml");
    std::fs::write(
        &file,
        format!(
            "root = {:?}\nbatch_size = 3\nbatch_age = 60000\n",
            root.display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(support::bin())
        .args(["run", "--config", file.to_str().unwrap()])
        .env_remove("STATMGR_ROOT")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    support::wait_for(
        Duration::from_secs(20),
        "the processor in the file's root",
        || root.join("control/endpoint").exists(),
    );
    // batch_size 3 from the file closes a batch of 3 long before batch_age (60 s) would.
    support::drop_messages(&root, 0..3, 3);
    support::wait_for(Duration::from_secs(20), "a batch of 3", || {
        support::row_count(&root) == 3
    });
    stop(&mut child, &root);
}

fn stop(child: &mut std::process::Child, _root: &Path) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}
