//! The fleet reducer: the fleet screen's keys, and everything else handed to the dashboard
//! of the processor it concerns (API updates by their processor, keys to the one shown).

use crate::tui::action::{Action, Command};
use crate::tui::fleet::Fleet;
use crate::tui::keymap::{self, Context, Key, KeyCommand};
use crate::tui::reduce::{keys, reduce};
use crate::tui::state::{Screen, State};

/// A command for the processor at an index of the fleet.
pub type Addressed = (usize, Command);

/// Applies one action at console time `now_s`; the commands say which processor they are for.
pub fn reduce_fleet(fleet: &mut Fleet, action: Action, now_s: f64) -> Vec<Addressed> {
    fleet.now_s = fleet.now_s.max(now_s);
    match action {
        Action::Key(key) => on_key(fleet, key),
        Action::Resize { width, height } => {
            fleet.screen = Screen { width, height };
            fleet.selected = fleet.selected.min(fleet.members.len().saturating_sub(1));
            to_all(fleet, Action::Resize { width, height })
        }
        Action::Tick => to_all(fleet, Action::Tick),
        demo @ Action::Demo { .. } => on_member(fleet, 0, |s, now| reduce(s, demo, now)),
        Action::Api(update) => on_member(fleet, 0, |s, now| reduce(s, Action::Api(update), now)),
        Action::Processor { processor, update } => {
            on_member(fleet, processor, |s, now| reduce(s, Action::Api(update), now))
        }
    }
}

/// What a key means where it is pressed: the fleet screen, its help, or a dashboard.
pub fn fleet_context(fleet: &Fleet) -> Context {
    match (fleet.shown_state(), fleet.help) {
        (Some(state), _) => keys::context(state),
        (None, Some(_)) => Context::Help,
        (None, None) => Context::Fleet,
    }
}

fn to_all(fleet: &mut Fleet, action: Action) -> Vec<Addressed> {
    (0..fleet.members.len())
        .flat_map(|i| {
            let action = action.clone();
            on_member(fleet, i, |s, now| reduce(s, action, now))
        })
        .collect()
}

/// Runs `f` on a member's dashboard; on the fleet screen, its news becomes the fleet's notice.
fn on_member(
    fleet: &mut Fleet,
    index: usize,
    f: impl FnOnce(&mut State, f64) -> Vec<Command>,
) -> Vec<Addressed> {
    let now = fleet.now_s;
    let on_fleet_screen = fleet.shown.is_none();
    let Some(member) = fleet.members.get_mut(index) else {
        return Vec::new();
    };
    let before = member.state.notice.clone();
    member.state.now_s = member.state.now_s.max(now);
    let commands = f(&mut member.state, now);
    let news = member.state.notice.clone().filter(|n| Some(n) != before.as_ref());
    let name = member.name.clone();
    fleet.quit |= member.state.quit;
    if let (Some(news), true) = (news, on_fleet_screen) {
        fleet.notify(news.tone, format!("{name}: {}", news.text));
    }
    commands.into_iter().map(|c| (index, c)).collect()
}

fn on_key(fleet: &mut Fleet, key: Key) -> Vec<Addressed> {
    if key == Key::Ctrl('c') {
        fleet.quit = true;
        return Vec::new();
    }
    match (fleet.shown, fleet.help) {
        (Some(i), _) => {
            if fleet.is_fleet() && goes_back(&fleet.members[i].state, key) {
                fleet.shown = None;
                fleet.selected = i;
                return Vec::new();
            }
            on_member(fleet, i, |s, now| reduce(s, Action::Key(key), now))
        }
        (None, Some(scroll)) => {
            on_help(fleet, key, scroll);
            Vec::new()
        }
        (None, None) => on_fleet_key(fleet, key),
    }
}

/// `Esc` on a dashboard with nothing of its own to cancel (no overlay, no filter).
fn goes_back(state: &State, key: Key) -> bool {
    let back = keymap::lookup(Context::Main, key).is_some_and(|b| b.command == KeyCommand::Back);
    let filtered = state
        .focus
        .file_kind()
        .is_some_and(|kind| state.list(kind).query.filter.is_some());
    back && keys::context(state) == Context::Main && !filtered
}

fn on_help(fleet: &mut Fleet, key: Key, scroll: u16) {
    let lines = keymap::help_lines(keymap::HelpOf::FleetScreen) as u16;
    match keymap::lookup(Context::Help, key).map(|b| b.command) {
        Some(KeyCommand::Quit) => fleet.quit = true,
        Some(KeyCommand::Back) => fleet.help = None,
        Some(KeyCommand::Down) => fleet.help = Some((scroll + 1).min(lines)),
        Some(KeyCommand::Up) => fleet.help = Some(scroll.saturating_sub(1)),
        _ => {}
    }
}

fn on_fleet_key(fleet: &mut Fleet, key: Key) -> Vec<Addressed> {
    let Some(binding) = keymap::lookup(Context::Fleet, key) else {
        return Vec::new();
    };
    let last = fleet.members.len().saturating_sub(1);
    match binding.command {
        KeyCommand::Quit => fleet.quit = true,
        KeyCommand::Help => fleet.help = Some(0),
        KeyCommand::Down => fleet.selected = (fleet.selected + 1).min(last),
        KeyCommand::Up => fleet.selected = fleet.selected.saturating_sub(1),
        KeyCommand::Top => fleet.selected = 0,
        KeyCommand::Bottom => fleet.selected = last,
        KeyCommand::Open => fleet.shown = Some(fleet.selected.min(last)),
        command => return pass_on(fleet, command),
    }
    Vec::new()
}

/// `p` and `f` on the fleet screen: the dashboard key, on the selected processor (its token,
/// its read-only state, its connection), so the rules and messages are the dashboard's.
fn pass_on(fleet: &mut Fleet, command: KeyCommand) -> Vec<Addressed> {
    let Some(binding) = keymap::in_context(Context::Main).find(|b| b.command == command) else {
        return Vec::new();
    };
    on_member(fleet, fleet.selected, |s, _| keys::on_binding(s, binding))
}
