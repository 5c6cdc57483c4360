//! The fleet screen, rendered on a TestBackend from hand-made processors fed through the
//! fleet reducer, compared with reviewed insta snapshots.

mod console_support;

use console_support::fleet::three;

#[test]
fn fleet_120x40() {
    let c = three(120, 40);
    let text = c.text();
    for needed in [
        "DISCONNECTED 12s",
        "READ-ONLY",
        "● RUNNING",
        "‖ PAUSED",
        "Key sequence",
    ] {
        assert!(text.contains(needed), "{needed} missing:\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn fleet_80x24() {
    let c = three(80, 24);
    let text = c.text();
    // The endpoint, the ids and the messages in flight give way; what matters stays.
    assert!(text.contains("DISCONNECTED 12s"), "{text}");
    assert!(text.contains("READ-ONLY"), "{text}");
    insta::assert_snapshot!(text);
}
