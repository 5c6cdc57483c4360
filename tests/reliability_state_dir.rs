//! A state directory that other users may write to is refused with an explanation: another
//! user could plant retry files (committed without the inbox's validation), links, or a
//! database of their own. The processor must not start there, and must say how to fix it.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

/// Runs `statmgr run` on `root`; returns (it ran: still running after 5 s, or exit 0; stderr).
fn run(root: &Path) -> (bool, String) {
    let out = Command::new(bin())
        .args(["run", "--root", root.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_world_writable_state_directory_is_refused_with_the_fix() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    fs::create_dir(&root).unwrap();
    chmod(&root, 0o777);
    let (ok, err) = run(&root);
    assert!(!ok, "must not start");
    assert!(err.contains("writable by every user"), "{err}");
    assert!(err.contains("mode 777"), "{err}");
    assert!(err.contains(&format!("chmod o-w {}", root.display())), "{err}");
    assert!(!root.join("statmgr.db").exists(), "nothing created there");
    // Fixed as told, it starts.
    chmod(&root, 0o755);
    Proc::start(&root, &[]).stop(Duration::from_secs(10));
}

#[test]
fn world_writable_retry_stuck_or_corrupt_directories_are_refused() {
    // settled/ too: a record planted there would make an inbox file be removed unread.
    for sub in ["retry", "stuck", "corrupt", "settled"] {
        let tmp = tempdir();
        let root = state_root(&tmp);
        Proc::start(&root, &[]).stop(Duration::from_secs(10));
        chmod(&root.join(sub), 0o777);
        let (ok, err) = run(&root);
        assert!(!ok, "{sub}/ writable by everyone: must not start");
        assert!(err.contains("writable by every user"), "{sub}: {err}");
        assert!(err.contains(sub), "{sub}: names the directory: {err}");
    }
}
