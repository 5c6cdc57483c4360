//! The one table of keys: the reducer handles keys through it, and the footer and the help
//! overlay are drawn from it, so what is shown is what works.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// A key as the console understands it (no terminal types past this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Backspace,
}

impl Key {
    /// `None` for key releases and keys the console does not use.
    pub fn from_crossterm(event: &KeyEvent) -> Option<Key> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        Some(match event.code {
            KeyCode::Char(c) if ctrl => Key::Ctrl(c.to_ascii_lowercase()),
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Enter => Key::Enter,
            KeyCode::Esc => Key::Esc,
            KeyCode::Tab if event.modifiers.contains(KeyModifiers::SHIFT) => Key::BackTab,
            KeyCode::Tab => Key::Tab,
            KeyCode::BackTab => Key::BackTab,
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::Left => Key::Left,
            KeyCode::Right => Key::Right,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            KeyCode::Home => Key::Home,
            KeyCode::End => Key::End,
            KeyCode::Backspace => Key::Backspace,
            _ => return None,
        })
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The dashboard (no overlay).
    Main,
    /// The detail view of one file.
    Detail,
    /// A confirmation dialog.
    Confirm,
    /// Typing a filter after `/`.
    Filter,
    /// The help overlay.
    Help,
    /// The fleet screen: one row per processor.
    Fleet,
    /// Typing the note of a discard, in its confirmation.
    Note,
    /// Typing a uid after `m`, and its trace.
    Trace,
    /// The messages of one committed batch.
    Batch,
    /// One stored message with every field.
    Message,
    /// Typing a time to jump the events to, after `t`.
    Jump,
}

impl Context {
    pub const ALL: [Context; 11] = [
        Context::Main,
        Context::Detail,
        Context::Confirm,
        Context::Note,
        Context::Filter,
        Context::Trace,
        Context::Batch,
        Context::Message,
        Context::Jump,
        Context::Help,
        Context::Fleet,
    ];

    /// The contexts the help lists, in order: the fleet's only when there is a fleet, and
    /// first on the fleet screen.
    pub fn in_help(help: HelpOf) -> Vec<Context> {
        let rest = Context::ALL.into_iter().filter(|c| *c != Context::Fleet);
        match help {
            HelpOf::Dashboard => rest.collect(),
            HelpOf::FleetDashboard => rest.chain([Context::Fleet]).collect(),
            HelpOf::FleetScreen => [Context::Fleet].into_iter().chain(rest).collect(),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Context::Main => "Dashboard",
            Context::Detail => "File detail",
            Context::Confirm => "Confirmation",
            Context::Filter => "Typing a filter",
            Context::Help => "This help",
            Context::Fleet => "Fleet (Esc on a dashboard comes back here)",
            Context::Note => "Discarding (type a note for the .reason)",
            Context::Trace => "Find a message (type its uid)",
            Context::Batch => "A batch's messages",
            Context::Message => "One message",
            Context::Jump => "Jumping the events to a time (-24h, 90m back as -90m, 03:12 UTC, RFC 3339)",
        }
    }
}

/// Where the help is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpOf {
    /// The single console.
    Dashboard,
    /// The dashboard of one processor of a fleet.
    FleetDashboard,
    FleetScreen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCommand {
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Filter,
    Open,
    Back,
    PauseResume,
    Flush,
    Requeue,
    Resync,
    Sort,
    SortReverse,
    Faster,
    Slower,

    MessagesNext,
    MessagesPrev,
    Yes,
    No,
    FilterApply,
    FilterCancel,
    FilterErase,
    Causes,
    Mark,
    MarkAll,
    ClearMarks,
    Preview,
    Discard,
    Find,
    JumpTime,
    ChartWindow,
    Restore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// How the keys are written in the footer and the help.
    pub label: &'static str,
    pub command: KeyCommand,
    pub help: &'static str,
    /// Short hint for the footer (dashboard bindings only).
    pub footer: Option<&'static str>,
    /// Changes the processor: disabled in `watch`.
    pub mutating: bool,
}

const fn bind(
    context: Context,
    keys: &'static [Key],
    label: &'static str,
    command: KeyCommand,
    help: &'static str,
    footer: Option<&'static str>,
    mutating: bool,
) -> Binding {
    Binding {
        context,
        keys,
        label,
        command,
        help,
        footer,
        mutating,
    }
}

use Context::{
    Batch as B, Confirm as C, Detail as D, Filter as F, Fleet as L, Help as H, Jump as J, Main as M,
    Message as G, Note as N, Trace as T,
};
use Key::*;
use KeyCommand as K;

/// Every key the console answers to. `Ctrl+C` quits everywhere, before this table.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(M, &[Char('q')], "q", K::Quit, "quit (Ctrl+C works everywhere)", Some("quit"), false),
    bind(M, &[Char('?')], "?", K::Help, "show this help", Some("help"), false),
    bind(M, &[Tab], "Tab", K::FocusNext, "focus the next panel", None, false),
    bind(M, &[BackTab], "Shift+Tab", K::FocusPrev, "focus the previous panel", None, false),
    bind(M, &[Char('j'), Down], "j ↓", K::Down, "select the next row (scroll in batches/events)", None, false),
    bind(M, &[Char('k'), Up], "k ↑", K::Up, "select the previous row", None, false),
    bind(M, &[PageDown, Ctrl('d')], "PgDn", K::PageDown, "one page down", None, false),
    bind(M, &[PageUp, Ctrl('u')], "PgUp", K::PageUp, "one page up", None, false),
    bind(M, &[Char('g'), Home], "g", K::Top, "first row (events: oldest)", None, false),
    bind(M, &[Char('G'), End], "G", K::Bottom, "last row, of all pages (events: newest)", None, false),
    bind(M, &[Char('/')], "/", K::Filter, "filter files by name or error (server side)", Some("filter"), false),
    bind(M, &[Enter], "Enter", K::Open, "details of the selected file (or batch: its messages)", Some("detail"), false),
    bind(M, &[Esc], "Esc", K::Back, "clear the filter", None, false),
    bind(M, &[Char('s')], "s", K::Sort, "cycle the sort column", None, false),
    bind(M, &[Char('S')], "S", K::SortReverse, "reverse the sort order", None, false),
    bind(M, &[Char('p')], "p", K::PauseResume, "pause / resume intake", Some("pause"), true),
    bind(M, &[Char('f')], "f", K::Flush, "commit the open batch now", Some("flush"), true),
    bind(M, &[Char('r')], "r", K::Requeue, "requeue the selected file (asks first)", Some("requeue"), true),
    bind(M, &[Char('R')], "R", K::Resync, "resync the key allocator (asks first)", None, true),
    bind(M, &[Char('m')], "m", K::Find, "find a message by uid: where is it now?", None, false),
    bind(M, &[Char('c')], "c", K::Causes, "group the files by cause (Enter: that cause's files)", Some("causes"), false),
    bind(M, &[Char(' ')], "Space", K::Mark, "mark / unmark the selected file (on a cause: all its files)", None, false),
    bind(M, &[Char('a')], "a", K::MarkAll, "mark every file of the filter or cause (all pages, on the server)", None, false),
    bind(M, &[Char('u')], "u", K::ClearMarks, "clear the marks", None, false),
    bind(M, &[Char('v')], "v", K::Preview, "preview a requeue of the marked files (changes nothing)", None, false),
    bind(M, &[Char('d')], "d", K::Discard, "discard the marked (or selected) files to discarded/ (asks first)", None, true),
    bind(M, &[Char('t')], "t", K::JumpTime, "jump the events to a time (-24h, 03:12, RFC 3339; G: back to live)", None, false),
    bind(M, &[Char('w')], "w", K::ChartWindow, "charts: live / last 1 h / last 24 h (from the rollups)", None, false),
    bind(M, &[Char('b')], "b", K::Restore, "Discarded tab: restore the marked (or selected) files to retry/ (asks first)", Some("restore"), true),
    bind(M, &[Char('+'), Char('=')], "+", K::Faster, "statmgr demo: generate more messages", None, false),
    bind(M, &[Char('-')], "-", K::Slower, "statmgr demo: generate fewer messages", None, false),
    bind(D, &[Esc, Char('h'), Left], "Esc", K::Back, "back to the dashboard", None, false),
    bind(D, &[Char('j'), Down], "j ↓", K::Down, "scroll down", None, false),
    bind(D, &[Char('k'), Up], "k ↑", K::Up, "scroll up", None, false),
    bind(D, &[PageDown, Char(' ')], "PgDn", K::PageDown, "scroll a page down", None, false),
    bind(D, &[PageUp], "PgUp", K::PageUp, "scroll a page up", None, false),
    bind(D, &[Char('g'), Home], "g", K::Top, "scroll to the top", None, false),
    bind(D, &[Char(']')], "]", K::MessagesNext, "next page of messages", None, false),
    bind(D, &[Char('[')], "[", K::MessagesPrev, "previous page of messages", None, false),
    bind(D, &[Char('r')], "r", K::Requeue, "requeue this file (asks first)", None, true),
    bind(D, &[Char('?')], "?", K::Help, "show this help", None, false),
    bind(D, &[Char('q')], "q", K::Quit, "quit", None, false),
    bind(C, &[Char('y'), Enter], "y Enter", K::Yes, "do it", None, false),
    bind(C, &[Char('n'), Esc], "n Esc", K::No, "cancel", None, false),
    bind(N, &[Enter], "Enter", K::Yes, "discard them", None, false),
    bind(N, &[Esc], "Esc", K::No, "cancel", None, false),
    bind(N, &[Backspace], "Backspace", K::FilterErase, "delete a character of the note (other keys type)", None, false),
    bind(J, &[Enter], "Enter", K::FilterApply, "jump to the time typed", None, false),
    bind(J, &[Esc], "Esc", K::FilterCancel, "cancel", None, false),
    bind(J, &[Backspace], "Backspace", K::FilterErase, "delete a character (other keys type)", None, false),
    bind(F, &[Enter], "Enter", K::FilterApply, "keep the filter", None, false),
    bind(F, &[Esc], "Esc", K::FilterCancel, "cancel (previous filter)", None, false),
    bind(F, &[Backspace], "Backspace", K::FilterErase, "delete a character (other keys type)", None, false),
    bind(T, &[Enter], "Enter", K::Yes, "look the uid up", None, false),
    bind(T, &[Esc], "Esc", K::Back, "close", None, false),
    bind(T, &[Backspace], "Backspace", K::FilterErase, "delete a character (other keys type)", None, false),
    bind(T, &[Down], "↓", K::Down, "scroll down", None, false),
    bind(T, &[Up], "↑", K::Up, "scroll up", None, false),
    bind(B, &[Esc, Char('h'), Left], "Esc", K::Back, "back to the dashboard", None, false),
    bind(B, &[Enter, Char('l'), Right], "Enter", K::Open, "every field of the selected message", None, false),
    bind(B, &[Char('j'), Down], "j ↓", K::Down, "select the next message", None, false),
    bind(B, &[Char('k'), Up], "k ↑", K::Up, "select the previous message", None, false),
    bind(B, &[Char(']'), PageDown], "]", K::MessagesNext, "next page of messages", None, false),
    bind(B, &[Char('['), PageUp], "[", K::MessagesPrev, "previous page of messages", None, false),
    bind(B, &[Char('q')], "q", K::Quit, "quit", None, false),
    bind(G, &[Esc, Char('h'), Left], "Esc", K::Back, "back to the batch's messages", None, false),
    bind(G, &[Char('j'), Down], "j ↓", K::Down, "scroll down", None, false),
    bind(G, &[Char('k'), Up], "k ↑", K::Up, "scroll up", None, false),
    bind(G, &[Char('q')], "q", K::Quit, "quit", None, false),
    bind(H, &[Esc, Char('?'), Enter], "Esc ?", K::Back, "close the help", None, false),
    bind(H, &[Char('j'), Down], "j ↓", K::Down, "scroll down", None, false),
    bind(H, &[Char('k'), Up], "k ↑", K::Up, "scroll up", None, false),
    bind(H, &[Char('q')], "q", K::Quit, "quit", None, false),
    bind(L, &[Char('q')], "q", K::Quit, "quit (Ctrl+C works everywhere)", Some("quit"), false),
    bind(L, &[Char('?')], "?", K::Help, "show this help", Some("help"), false),
    bind(L, &[Char('j'), Down], "j ↓", K::Down, "select the next processor", None, false),
    bind(L, &[Char('k'), Up], "k ↑", K::Up, "select the previous processor", None, false),
    bind(L, &[Char('g'), Home], "g", K::Top, "first processor", None, false),
    bind(L, &[Char('G'), End], "G", K::Bottom, "last processor", None, false),
    bind(L, &[Enter, Char('l'), Right], "Enter", K::Open, "the selected processor's dashboard (Esc: back)", Some("open"), false),
    bind(L, &[Char('p')], "p", K::PauseResume, "pause / resume the selected processor's intake", Some("pause"), true),
    bind(L, &[Char('f')], "f", K::Flush, "commit the selected processor's open batch now", Some("flush"), true),
];

/// Lines of the help overlay: Ctrl+C, then per context a blank line, a title and its keys.
pub fn help_lines(help: HelpOf) -> usize {
    1 + Context::in_help(help)
        .into_iter()
        .map(|c| 2 + in_context(c).count())
        .sum::<usize>()
}

/// The binding of a key in a context.
pub fn lookup(context: Context, key: Key) -> Option<&'static Binding> {
    BINDINGS
        .iter()
        .find(|b| b.context == context && b.keys.contains(&key))
}

/// Bindings of one context, in table order.
pub fn in_context(context: Context) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.context == context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                if a.context == b.context {
                    let shared: Vec<_> = a.keys.iter().filter(|k| b.keys.contains(k)).collect();
                    assert!(shared.is_empty(), "{shared:?} bound to both {a:?} and {b:?}");
                }
            }
        }
    }

    #[test]
    fn crossterm_keys_map_to_console_keys() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(Key::from_crossterm(&ctrl_c), Some(Key::Ctrl('c')));
        let shift_r = KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_crossterm(&shift_r), Some(Key::Char('R')));
        let back = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(Key::from_crossterm(&back), Some(Key::BackTab));
    }
}
