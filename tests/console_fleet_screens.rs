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

#[test]
fn a_small_terminal_says_what_size_the_fleet_needs() {
    let mut c = three(120, 40);
    c.act(statmgr::tui::action::Action::Resize {
        width: 70,
        height: 20,
    });
    assert!(c.text().contains("need 80x24"), "{}", c.text());
    c.act(statmgr::tui::action::Action::Resize {
        width: 80,
        height: 24,
    });
    assert!(c.text().contains("Processors 3"), "{}", c.text());
}

#[test]
fn the_fleet_footer_names_only_fleet_keys() {
    use statmgr::tui::keymap::{self, Context};
    let text = three(120, 40).text();
    let footer = text.lines().last().unwrap_or_default();
    let hints: Vec<_> = keymap::in_context(Context::Fleet)
        .filter_map(|b| b.footer.map(|f| format!("{} {f}", b.label)))
        .collect();
    assert!(hints.len() >= 4);
    for hint in hints {
        assert!(footer.contains(&hint), "{hint} missing: {footer}");
    }
}

#[test]
fn a_fleet_that_cannot_change_anything_wears_the_read_only_badge() {
    use console_support::fleet::{spec, FleetConsole};
    let specs = [
        spec("x", "http://127.0.0.1:1", false),
        spec("y", "http://127.0.0.1:2", false),
    ];
    let c = FleetConsole::new(&specs, 80, 24);
    let text = c.text();
    let header = text.lines().next().unwrap_or_default();
    assert!(header.contains("READ-ONLY"), "{header}");
    assert!(!text.contains("p pause"), "no mutating hints:\n{text}");
    assert!(text.contains("no report yet"), "{text}");
}

#[test]
fn a_processor_of_the_fleet_is_its_whole_dashboard_with_its_name_and_the_way_back() {
    let mut c = three(80, 24);
    c.key(statmgr::tui::keymap::Key::Enter);
    let text = c.text();
    assert!(text.contains("site-a │ http://127.0.0.1:4100"), "{text}");
    assert!(text.contains("Esc fleet"), "{text}");
    // Its db max is site-c's id, above its own block: on a shared database, no conflict.
    assert!(!text.contains("KEY CONFLICT"), "{text}");
    insta::assert_snapshot!(text);
}
