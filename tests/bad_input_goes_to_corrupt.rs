//! Bad input never crashes the processor and never blocks good input: each bad file (or
//! bad JSON Lines line) goes to `corrupt/` with a `.reason` that says what, where and why.

mod support;

use std::fs;
use std::time::Duration;
use support::*;

fn reason_of(root: &std::path::Path, name: &str) -> String {
    fs::read_to_string(root.join("corrupt").join(format!("{name}.reason"))).unwrap_or_else(|e| {
        panic!(
            "no reason for {name:?}: {e}; corrupt/ holds {:?}",
            files_in(root, "corrupt")
        )
    })
}

#[test]
fn every_kind_of_bad_file_lands_in_corrupt_with_its_reason() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &["--max-file-bytes", "20000"]);
    let good = message(1, "HOST1").to_string();
    let mut m = message(2, "HOST1");
    m["message_id"] = serde_json::json!("two");
    let wrong_type = m.to_string();
    let mut m = message(3, "HOST1");
    m.as_object_mut().unwrap().remove("severity");
    let missing = m.to_string();
    let mut m = message(4, "HOST1");
    m["insertion_strings"] = serde_json::json!((0..11).map(|i| i.to_string()).collect::<Vec<_>>());
    let eleven = m.to_string();
    let oversize = format!("{}\n", good).repeat(200);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("invalid-utf8.json", b"{\"uid\": \"\xff\xfe\"}".to_vec(), "UTF-8"),
        ("wrong-type.json", wrong_type.into_bytes(), "message_id"),
        ("missing-field.json", missing.into_bytes(), "severity"),
        ("eleven-strings.json", eleven.into_bytes(), "insertion_strings"),
        ("oversize.jsonl", oversize.into_bytes(), "limit"),
        ("empty.json", Vec::new(), "empty"),
        ("name with spaces.json", b"{not json".to_vec(), "line 1"),
        ("name\nwith\nnewlines.json", b"[1,2]".to_vec(), ""),
        ("nön-ascii-名前.json", b"null".to_vec(), ""),
    ];
    for (name, body, _) in &cases {
        drop_file(&root, name, body);
    }
    // A JSON Lines file with one bad line: only that line goes to corrupt/.
    let mixed = format!("{}\n{{\"broken\": \n{}\n", message(10, "H"), message(11, "H"));
    drop_file(&root, "mixed.jsonl", mixed.as_bytes());
    drop_file(&root, "good.json", good.as_bytes());

    wait_for(Duration::from_secs(20), "the good messages", || {
        row_count(&root) == 3
    });
    wait_for(Duration::from_secs(20), "the inbox to empty", || {
        files_in(&root, "inbox").is_empty()
    });
    for (name, _, needle) in &cases {
        let reason = reason_of(&root, name);
        assert!(
            reason.contains(needle),
            "{name:?}: reason {reason:?} should mention {needle:?}"
        );
        assert!(
            root.join("corrupt").join(name).exists(),
            "{name:?} kept in corrupt/"
        );
    }
    let line = reason_of(&root, "mixed.jsonl.bad-lines");
    assert!(line.contains("line 2"), "{line}");
    assert_eq!(
        fs::read(root.join("corrupt/mixed.jsonl.bad-lines")).unwrap(),
        b"{\"broken\": \n"
    );
    let mut got = uids(&root);
    got.sort();
    assert_eq!(got, ["u-1", "u-10", "u-11"]);
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success(), "the processor survived all of it and exits cleanly");
    check_database(&root);
}

#[test]
fn a_document_torn_at_every_byte_offset_is_refused_never_half_taken() {
    let tmp = tempdir();
    let root = state_root(&tmp);
    let p = Proc::start(&root, &[]);
    let doc = message(7, "HOST1").to_string();
    let doc = doc.as_bytes();
    for cut in 0..doc.len() {
        drop_file(&root, &format!("torn-{cut:04}.json"), &doc[..cut]);
    }
    drop_file(&root, "whole.json", doc);
    wait_for(Duration::from_secs(30), "every torn file to be judged", || {
        files_in(&root, "inbox").is_empty()
    });
    wait_for(Duration::from_secs(10), "the whole one", || row_count(&root) == 1);
    let corrupt = files_in(&root, "corrupt");
    for cut in 0..doc.len() {
        let name = format!("torn-{cut:04}.json");
        assert!(corrupt.contains(&name), "{name} must be in corrupt/");
        assert!(corrupt.contains(&format!("{name}.reason")));
    }
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success());
}
