//! The keymap table is the truth: every key in it has help text and does something in its
//! context, and the footer shows only keys from it.

mod console_support;

use console_support::{snapshot, Console};
use statmgr::tui::keymap::{self, Context, Key, KeyCommand, BINDINGS};
use statmgr::tui::reduce::{context, fleet_context};
use statmgr::tui::state::Overlay;

/// A state in `context` where every binding of that context has something to do.
fn prepared(context: Context) -> Console {
    let mut c = Console::running(false, 80, 24);
    match context {
        Context::Main => {
            c.key(Key::Char('/'));
            c.keys("lock");
            c.key(Key::Enter);
            c.feed(snapshot());
            c.keys("jj");
        }
        Context::Detail => {
            c.key(Key::Enter);
            if let Some(Overlay::Detail(d)) = c.state.overlay.as_mut() {
                d.scroll = 3;
                d.msg_offset = 100;
                let mut detail = console_support::file_detail(d.summary.clone());
                detail.messages.total = 250;
                d.detail = Some(detail);
            }
        }
        Context::Confirm => {
            c.key(Key::Char('R'));
        }
        Context::Filter => {
            c.key(Key::Char('/'));
            c.keys("lo");
        }
        Context::Help => {
            c.key(Key::Char('?'));
            c.key(Key::Char('j'));
        }
        Context::Note => {
            c.key(Key::Tab); // the stuck list
            c.key(Key::Char(' '));
            c.key(Key::Char('d'));
            c.keys("ab");
        }
        Context::Trace => {
            c.key(Key::Char('m'));
            c.keys("ab");
            c.key(Key::Down);
        }
        Context::Batch | Context::Message => {
            while c.state.focus != statmgr::tui::state::Focus::Batches {
                c.key(Key::Tab); // to Batch commits
            }
            c.key(Key::Enter);
            if let Some(Overlay::Batch(b)) = c.state.overlay.as_mut() {
                let items = (0..100)
                    .map(|i| statmgr::api::wire::find::StoredMessage {
                        record_id: 1000 + i,
                        uid: format!("u-{i}"),
                        ..Default::default()
                    })
                    .collect();
                b.offset = 100;
                b.page = Some(statmgr::api::wire::find::BatchMessages {
                    batch: b.batch.clone(),
                    total: 250,
                    offset: 100,
                    limit: 100,
                    items,
                });
                b.selected = 1;
            }
            if context == Context::Message {
                c.key(Key::Enter);
                c.key(Key::Down);
            }
        }
        Context::Jump => {
            c.key(Key::Char('t'));
            c.keys("-2h");
        }
        Context::Fleet => unreachable!("the fleet screen is prepared by `fleet_prepared`"),
    }
    assert_eq!(context_of(&c), context);
    c
}

fn context_of(c: &Console) -> Context {
    context(&c.state)
}

/// The fleet screen with the middle of three processors selected, so every move moves.
fn fleet_prepared() -> console_support::fleet::FleetConsole {
    let mut c = console_support::fleet::three(80, 24);
    c.key(Key::Char('j'));
    assert_eq!(fleet_context(&c.fleet), Context::Fleet);
    c
}

#[test]
fn every_fleet_key_does_something() {
    for binding in keymap::in_context(Context::Fleet) {
        for key in binding.keys {
            let mut c = fleet_prepared();
            let before = c.fleet.clone();
            let commands = c.key(*key);
            assert!(
                !commands.is_empty() || c.fleet != before,
                "{key:?} ({:?} on the fleet screen) did nothing",
                binding.command
            );
        }
    }
}

#[test]
fn every_key_in_the_table_has_help_and_does_something() {
    for binding in BINDINGS {
        assert!(
            !binding.help.is_empty() && !binding.label.is_empty(),
            "{binding:?}"
        );
        if binding.context == Context::Fleet {
            continue;
        }
        for key in binding.keys {
            let mut c = prepared(binding.context);
            let before = c.state.clone();
            let commands = c.key(*key);
            assert!(
                !commands.is_empty() || c.state != before,
                "{key:?} ({:?} in {:?}) did nothing",
                binding.command,
                binding.context
            );
            assert_eq!(keymap::lookup(binding.context, *key), Some(binding));
        }
    }
}

#[test]
fn the_footer_and_help_name_only_keys_from_the_table() {
    let footer: Vec<_> = keymap::in_context(Context::Main)
        .filter(|b| b.footer.is_some())
        .collect();
    assert!(footer.iter().any(|b| b.command == KeyCommand::Quit));
    assert!(footer
        .iter()
        .any(|b| b.command == KeyCommand::Requeue && b.mutating));
    let mut c = Console::running(false, 80, 24);
    let text = c.text();
    // Restore (b) is offered on the Discarded tab only, where requeue (r) is not.
    for b in footer.iter().filter(|b| b.command != KeyCommand::Restore) {
        assert!(
            text.contains(&format!("{} {}", b.label, b.footer.unwrap_or_default())),
            "{text}"
        );
    }
    c.key(Key::Tab);
    c.key(Key::Tab);
    let text = c.text();
    assert!(text.contains("b restore"), "{text}");
    assert!(!text.contains("r requeue"), "{text}");
}
