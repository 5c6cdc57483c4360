//! The state directory belongs to one processor; `statmgr send` drops messages the way a
//! producer must and refuses bad input with its reason.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

#[test]
fn a_second_processor_on_the_same_root_is_refused_with_a_clear_message() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    for dir in ["inbox", "retry", "stuck", "corrupt", "control"] {
        assert!(root.join(dir).is_dir(), "{dir}/ is created on first run");
    }
    let out = Command::new(bin())
        .args(["run", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another processor"), "{err}");
    assert!(err.contains(&p.pid().to_string()), "names the owner: {err}");
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success());
}

#[test]
fn send_drops_valid_messages_and_refuses_bad_ones_with_the_reason() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let good = tmp.path().join("good.jsonl");
    let body: String = (0..5).map(|n| format!("{}\n", message(n, "HOST1"))).collect();
    std::fs::write(&good, body).unwrap();
    let out = Command::new(bin())
        .args(["send", "--root", root.to_str().unwrap()])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 messages"));

    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"message_id": 1, "severity": "fatal"}"#).unwrap();
    let out = Command::new(bin())
        .args(["send", "--root", root.to_str().unwrap()])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("severity") || err.contains("missing"),
        "says why: {err}"
    );

    // From standard input, as a script would.
    let mut child = Command::new(bin())
        .args(["send", "--root", root.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message(99, "HOST2").to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    wait_for(Duration::from_secs(20), "6 rows", || row_count(&root) == 6);
    wait_for(Duration::from_secs(5), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    assert!(
        files_in(&root, "corrupt").is_empty(),
        "refused input never reached the inbox"
    );
    p.terminate(Duration::from_secs(15));
}
