//! Keys and API answers of the message trace (`m`) and the batch drill-down (Enter on
//! Batch commits). Both only read, so they work in watch.

use crate::tui::action::{ApiUpdate, Command};
use crate::tui::keymap::{Key, KeyCommand};
use crate::tui::state::{Focus, Overlay, State, Tone};
use crate::tui::trace::{BatchView, Trace, BATCH_PAGE, MAX_UID_CHARS};

/// The dashboard keys this module answers: `m`, and Enter on Batch commits.
pub fn on_main(state: &mut State, command: KeyCommand) -> Option<Vec<Command>> {
    match command {
        KeyCommand::Find => {
            state.overlay = Some(Overlay::Trace(Box::default()));
            Some(Vec::new())
        }
        KeyCommand::Open if state.focus == Focus::Batches => Some(open_batch(state)),
        _ => None,
    }
}

/// The row at the top of the Batch commits list (it scrolls with j/k).
fn open_batch(state: &mut State) -> Vec<Command> {
    let row = state
        .snapshot
        .as_ref()
        .and_then(|s| s.batches.get(state.batches_scroll))
        .cloned();
    let Some(batch) = row else {
        state.notify(Tone::Info, "no batch to open yet");
        return Vec::new();
    };
    let command = Command::FetchBatch {
        batch_id: batch.id,
        offset: 0,
        limit: BATCH_PAGE,
    };
    state.overlay = Some(Overlay::Batch(Box::new(BatchView::new(batch))));
    vec![command]
}

pub fn type_uid(state: &mut State, key: Key) {
    if let (Some(Overlay::Trace(t)), Key::Char(c)) = (state.overlay.as_mut(), key) {
        if t.input.chars().count() < MAX_UID_CHARS {
            t.input.push(c);
        }
    }
}

pub fn on_trace(state: &mut State, command: KeyCommand) -> Vec<Command> {
    let Some(Overlay::Trace(t)) = state.overlay.as_mut() else {
        return Vec::new();
    };
    match command {
        KeyCommand::Back => state.overlay = None,
        KeyCommand::FilterErase => {
            t.input.pop();
        }
        KeyCommand::Down => t.scroll = t.scroll.saturating_add(1),
        KeyCommand::Up => t.scroll = t.scroll.saturating_sub(1),
        KeyCommand::Yes => {
            let uid = t.input.trim().to_string();
            if uid.is_empty() {
                t.error = Some("type a uid first".into());
                return Vec::new();
            }
            **t = Trace {
                input: t.input.clone(),
                asked: Some(uid.clone()),
                ..Trace::default()
            };
            return vec![Command::Find { uid }];
        }
        _ => {}
    }
    Vec::new()
}

pub fn on_batch(state: &mut State, command: KeyCommand) -> Vec<Command> {
    let Some(Overlay::Batch(b)) = state.overlay.as_mut() else {
        return Vec::new();
    };
    let shown = b.page.as_ref().map_or(0, |p| p.items.len());
    match (b.open, command) {
        (_, KeyCommand::Quit) => state.quit = true,
        (true, KeyCommand::Back) => {
            b.open = false;
            b.scroll = 0;
        }
        (true, KeyCommand::Down) => b.scroll = b.scroll.saturating_add(1),
        (true, KeyCommand::Up) => b.scroll = b.scroll.saturating_sub(1),
        (false, KeyCommand::Back) => state.overlay = None,
        (false, KeyCommand::Down) => b.selected = (b.selected + 1).min(shown.saturating_sub(1)),
        (false, KeyCommand::Up) => b.selected = b.selected.saturating_sub(1),
        (false, KeyCommand::Open) if b.selected_message().is_some() => b.open = true,
        (false, KeyCommand::MessagesNext | KeyCommand::MessagesPrev) => {
            let total = b.page.as_ref().map_or(0, |p| p.total);
            let offset = if command == KeyCommand::MessagesNext {
                b.offset + BATCH_PAGE
            } else {
                b.offset.saturating_sub(BATCH_PAGE)
            };
            if offset != b.offset && offset < total {
                b.offset = offset;
                b.selected = 0;
                return vec![Command::FetchBatch {
                    batch_id: b.batch.id,
                    offset,
                    limit: BATCH_PAGE,
                }];
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Takes the answers meant for this module; gives the others back.
pub fn on_update(state: &mut State, update: ApiUpdate) -> Option<ApiUpdate> {
    match update {
        ApiUpdate::Found { uid, result } => {
            if let Some(Overlay::Trace(t)) = state.overlay.as_mut() {
                if t.asked.as_deref() == Some(uid.as_str()) {
                    match result {
                        Ok(report) => t.report = Some(*report),
                        Err(e) => t.error = Some(e),
                    }
                }
            }
            None
        }
        ApiUpdate::BatchPage {
            batch_id,
            offset,
            result,
        } => {
            if let Some(Overlay::Batch(b)) = state.overlay.as_mut() {
                if b.batch.id == batch_id && b.offset == offset {
                    match result {
                        Ok(page) => {
                            b.selected = b.selected.min(page.items.len().saturating_sub(1));
                            b.page = Some(*page);
                            b.error = None;
                        }
                        Err(e) => b.error = Some(e),
                    }
                }
            }
            None
        }
        other => Some(other),
    }
}
