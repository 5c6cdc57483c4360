//! Keys and API answers of the history: paging the Events panel back past the live tail,
//! jumping to a time (typed after `t`), and the 1 h / 24 h chart windows.

use crate::api::client::history::PageAt;
use crate::api::wire::HistoryPage;
use crate::tui::action::Command;
use crate::tui::keymap::{Key, KeyCommand};
use crate::tui::layout;
use crate::tui::state::{Focus, State, Tone};
use crate::tui::timeline::{Jump, PageFor, PAGE, ROLLUP_REFRESH_S};

/// Dashboard keys that belong to the history; `None`: not ours.
pub fn on_main(state: &mut State, command: KeyCommand) -> Option<Vec<Command>> {
    match command {
        KeyCommand::JumpTime => {
            state.timeline.prompt = Some(String::new());
            state.focus = Focus::Events;
            return Some(Vec::new());
        }
        KeyCommand::ChartWindow => {
            let t = &mut state.timeline;
            t.window = t.window.next();
            t.rollups = None;
            let label = t.window.label();
            state.notify(Tone::Info, format!("charts: {label}"));
            return Some(fetch_rollups(state));
        }
        _ => {}
    }
    if state.focus != Focus::Events {
        return None;
    }
    let rows = layout::bottom_rows(state).max(1) as i64;
    let delta = match command {
        KeyCommand::Down => 1,
        KeyCommand::Up => -1,
        KeyCommand::PageDown => rows,
        KeyCommand::PageUp => -rows,
        KeyCommand::Top => i64::MIN,
        KeyCommand::Bottom => i64::MAX,
        _ => return None,
    };
    if state.timeline.jump.is_some() {
        return Some(scroll_jump(state, delta, rows as usize));
    }
    Some(scroll_tail(state, delta, rows as usize))
}

/// The live tail plus the older pages: the scroll counts events back from the newest; at
/// the oldest one known, the next page is asked for.
fn scroll_tail(state: &mut State, delta: i64, rows: usize) -> Vec<Command> {
    let known = state.timeline.older.len() + state.events.len();
    let max = known.saturating_sub(rows);
    let back = match delta {
        i64::MIN => max,
        i64::MAX => 0,
        d if d < 0 => state.events_scroll.saturating_add(d.unsigned_abs() as usize),
        d => state.events_scroll.saturating_sub(d as usize),
    };
    state.events_scroll = back.min(max);
    if delta < 0 && back >= max {
        return fetch_older(state);
    }
    Vec::new()
}

fn oldest_known(state: &State) -> Option<u64> {
    state
        .timeline
        .older
        .first()
        .or(state.events.front())
        .map(|e| e.id)
}

fn fetch_older(state: &mut State) -> Vec<Command> {
    let t = &state.timeline;
    if t.loading || t.start_reached {
        return Vec::new();
    }
    let at = match oldest_known(state) {
        Some(id) => PageAt::Before(id),
        None => PageAt::Newest,
    };
    state.timeline.loading = true;
    vec![Command::FetchHistory {
        at,
        limit: PAGE,
        purpose: PageFor::Older,
    }]
}

fn scroll_jump(state: &mut State, delta: i64, rows: usize) -> Vec<Command> {
    if delta == i64::MAX {
        // G: back to the live tail.
        state.timeline.jump = None;
        state.events_scroll = 0;
        state.notify(Tone::Info, "back to the live events");
        return Vec::new();
    }
    let loading = state.timeline.loading;
    let Some(jump) = state.timeline.jump.as_mut() else {
        return Vec::new();
    };
    let max = jump.events.len().saturating_sub(rows);
    let top = match delta {
        i64::MIN => 0,
        d if d < 0 => jump.top.saturating_sub(d.unsigned_abs() as usize),
        d => jump.top.saturating_add(d as usize),
    };
    let wanted_before = delta < 0 && jump.top == 0 && jump.more_before;
    let wanted_after = delta > 0 && top > max && jump.more_after;
    jump.top = top.min(max);
    if loading {
        return Vec::new();
    }
    let (at, purpose) = if wanted_before {
        (
            PageAt::Before(jump.events.first().map_or(0, |e| e.id)),
            PageFor::JumpBefore,
        )
    } else if wanted_after {
        (
            PageAt::After(jump.events.last().map_or(0, |e| e.id)),
            PageFor::JumpAfter,
        )
    } else {
        return Vec::new();
    };
    state.timeline.loading = true;
    vec![Command::FetchHistory {
        at,
        limit: PAGE,
        purpose,
    }]
}

/// Typing after `t`: Enter jumps, Esc cancels, Backspace erases, other keys type.
pub fn on_prompt(state: &mut State, command: Option<KeyCommand>, key: Key) -> Vec<Command> {
    let Some(text) = state.timeline.prompt.as_mut() else {
        return Vec::new();
    };
    match command {
        Some(KeyCommand::FilterApply) => {
            let asked = text.trim().to_string();
            state.timeline.prompt = None;
            return jump_to(state, asked);
        }
        Some(KeyCommand::FilterCancel) => state.timeline.prompt = None,
        Some(KeyCommand::FilterErase) => {
            text.pop();
        }
        _ => {
            if let Key::Char(c) = key {
                if text.chars().count() < 40 {
                    text.push(c);
                }
            }
        }
    }
    Vec::new()
}

fn jump_to(state: &mut State, asked: String) -> Vec<Command> {
    let from = match crate::api::when::parse_time(&asked, chrono::Utc::now()) {
        Ok(t) => crate::api::when::stamp(t),
        Err(e) => {
            state.notify(Tone::Error, format!("jump: {e}"));
            return Vec::new();
        }
    };
    state.timeline.loading = true;
    state.notify(Tone::Info, format!("jumping to {from}…"));
    vec![Command::FetchHistory {
        at: PageAt::Since(from.clone()),
        limit: PAGE,
        purpose: PageFor::Jump { asked, from },
    }]
}

/// A page of history arrived (or could not be read).
pub fn on_history(state: &mut State, purpose: PageFor, result: Result<HistoryPage, String>) {
    state.timeline.loading = false;
    let page = match result {
        Ok(page) => page,
        Err(e) => {
            state.notify(Tone::Error, format!("history: {e}"));
            state.timeline.error = Some(e);
            return;
        }
    };
    state.timeline.error = None;
    match purpose {
        PageFor::Older => {
            let oldest = oldest_known(state).unwrap_or(u64::MAX);
            let mut older: Vec<_> = page.events.into_iter().filter(|e| e.id < oldest).collect();
            if older.is_empty() || !page.more_before {
                state.timeline.start_reached = true;
            }
            older.append(&mut state.timeline.older);
            state.timeline.older = older;
        }
        PageFor::Jump { asked, from } => {
            if page.events.is_empty() {
                state.notify(Tone::Info, format!("nothing kept at or after {from}"));
                return;
            }
            let first = crate::tui::format::clock(&page.events[0].time).to_string();
            state.notify(Tone::Info, format!("history from {from}: first event at {first}"));
            state.timeline.jump = Some(Jump {
                asked,
                from,
                events: page.events,
                top: 0,
                more_before: page.more_before,
                more_after: page.more_after,
            });
        }
        PageFor::JumpBefore => {
            if let Some(jump) = state.timeline.jump.as_mut() {
                let first = jump.events.first().map_or(u64::MAX, |e| e.id);
                let mut events: Vec<_> = page.events.into_iter().filter(|e| e.id < first).collect();
                jump.more_before = page.more_before && !events.is_empty();
                jump.top += events.len();
                jump.top = jump.top.saturating_sub(1);
                events.append(&mut jump.events);
                jump.events = events;
            }
        }
        PageFor::JumpAfter => {
            if let Some(jump) = state.timeline.jump.as_mut() {
                let last = jump.events.last().map_or(0, |e| e.id);
                let newer: Vec<_> = page.events.into_iter().filter(|e| e.id > last).collect();
                jump.more_after = page.more_after && !newer.is_empty();
                jump.events.extend(newer);
            }
        }
    }
}

/// Asks for the rollups of the chart window (nothing for live).
pub fn fetch_rollups(state: &mut State) -> Vec<Command> {
    match state.timeline.window.api() {
        Some(window) => {
            state.timeline.rollups_at_s = state.now_s;
            vec![Command::FetchRollups {
                window: window.to_string(),
            }]
        }
        None => Vec::new(),
    }
}

/// On every tick: the rollups of a long window are asked for again now and then.
pub fn on_tick(state: &mut State) -> Vec<Command> {
    let t = &state.timeline;
    if t.window.api().is_some() && state.now_s - t.rollups_at_s >= ROLLUP_REFRESH_S {
        return fetch_rollups(state);
    }
    Vec::new()
}

pub fn on_rollups(state: &mut State, window: String, result: Result<crate::api::wire::RollupPage, String>) {
    if state.timeline.window.api() != Some(window.as_str()) {
        return;
    }
    match result {
        Ok(page) => {
            state.timeline.rollups = Some(page);
            state.timeline.error = None;
        }
        Err(e) => {
            state.notify(Tone::Error, format!("rollups: {e}"));
            state.timeline.error = Some(e);
        }
    }
}
