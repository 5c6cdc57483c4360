//! Triage keys and answers: the cause view, marking files (one, or every file of a filter
//! or cause on the server), the preview of a bulk action over exactly the marked set, and
//! the progress the event stream reports.

use crate::api::preview::summarise;
use crate::api::wire::{BulkAction, BulkRequest, EventKind, FileKind};
use crate::tui::action::{ActionFailure, ApiUpdate, Command};
use crate::tui::keymap::KeyCommand;
use crate::tui::reduce::files;
use crate::tui::state::{Confirm, Focus, Overlay, State, Tone};
use crate::tui::triage::{entry_of, Progress};

/// The file list in focus, if any.
fn focused_kind(state: &State) -> Option<FileKind> {
    state.focus.file_kind()
}

/// The list a bulk key acts on: the marked files' list, else the focused one.
fn acting_on(state: &State) -> Option<FileKind> {
    state.triage.marked.kind.or(focused_kind(state))
}

/// The cause view is open on the focused list.
pub fn in_cause_view(state: &State) -> bool {
    focused_kind(state).is_some() && state.triage.causes_of == focused_kind(state)
}

/// Dashboard keys of triage; `None` when the key is not triage's here.
pub fn on_main(state: &mut State, command: KeyCommand) -> Option<Vec<Command>> {
    let cause_view = in_cause_view(state);
    Some(match command {
        KeyCommand::Causes => toggle_causes(state),
        KeyCommand::Mark if cause_view => mark_cause(state),
        KeyCommand::Mark => {
            mark_selected(state);
            Vec::new()
        }
        KeyCommand::MarkAll if cause_view => mark_cause(state),
        KeyCommand::MarkAll => mark_all(state),
        KeyCommand::ClearMarks => {
            state.triage.marked.clear();
            state.notify(Tone::Info, "marks cleared");
            Vec::new()
        }
        KeyCommand::Preview => {
            let action = if acting_on(state) == Some(FileKind::Discarded) {
                BulkAction::Restore
            } else {
                BulkAction::Requeue
            };
            ask_bulk(state, action, true);
            Vec::new()
        }
        KeyCommand::Discard => {
            ask_bulk(state, BulkAction::Discard, state.is_read_only());
            Vec::new()
        }
        KeyCommand::Restore => {
            ask_bulk(state, BulkAction::Restore, state.is_read_only());
            Vec::new()
        }
        KeyCommand::Requeue if acting_on(state) == Some(FileKind::Discarded) => {
            state.notify(
                Tone::Info,
                "discarded files go back to retry/ with b (restore), not r",
            );
            Vec::new()
        }
        KeyCommand::Requeue if !state.triage.marked.is_empty() => {
            ask_bulk(state, BulkAction::Requeue, state.is_read_only());
            Vec::new()
        }
        KeyCommand::Down
        | KeyCommand::Up
        | KeyCommand::PageDown
        | KeyCommand::PageUp
        | KeyCommand::Top
        | KeyCommand::Bottom
            if cause_view =>
        {
            move_cause(state, command);
            Vec::new()
        }
        KeyCommand::Open if cause_view => open_cause(state),
        KeyCommand::Back if cause_view => {
            state.triage.causes_of = None;
            Vec::new()
        }
        _ => return None,
    })
}

fn toggle_causes(state: &mut State) -> Vec<Command> {
    let Some(kind) = focused_kind(state) else {
        state.notify(
            Tone::Info,
            "c groups a file list by cause: Tab to a file list first",
        );
        return Vec::new();
    };
    if state.triage.causes_of == Some(kind) {
        state.triage.causes_of = None;
        return Vec::new();
    }
    state.triage.causes_of = Some(kind);
    state.triage.causes = None;
    state.triage.cause_selected = 0;
    vec![fetch_causes(state, kind)]
}

/// The groups of `kind` for the list's text filter (a cause filter groups to itself).
pub fn fetch_causes(state: &State, kind: FileKind) -> Command {
    let filter = state
        .list(kind)
        .query
        .filter
        .clone()
        .filter(|f| !f.starts_with(crate::api::wire::CAUSE_FILTER_PREFIX));
    Command::FetchCauses { kind, filter }
}

fn move_cause(state: &mut State, command: KeyCommand) {
    let len = state.triage.causes.as_ref().map_or(0, |c| c.groups.len());
    let page = files::rows(state).max(1) as usize;
    let i = state.triage.cause_selected;
    state.triage.cause_selected = match command {
        KeyCommand::Down => i + 1,
        KeyCommand::Up => i.saturating_sub(1),
        KeyCommand::PageDown => i + page,
        KeyCommand::PageUp => i.saturating_sub(page),
        KeyCommand::Top => 0,
        _ => usize::MAX,
    }
    .min(len.saturating_sub(1));
}

/// Enter on a cause: its files, by the filter `cause:ID`.
fn open_cause(state: &mut State) -> Vec<Command> {
    let (Some(kind), Some(group)) = (focused_kind(state), state.triage.selected_cause().cloned()) else {
        return Vec::new();
    };
    state.triage.causes_of = None;
    let filter = format!("{}{}", crate::api::wire::CAUSE_FILTER_PREFIX, group.id);
    files::set_filter(state.list_mut(kind), Some(filter));
    state.notify(Tone::Info, format!("{} files of cause {}", group.files, group.id));
    Vec::new()
}

fn mark_selected(state: &mut State) {
    let Some(kind) = focused_kind(state) else {
        state.notify(Tone::Info, "Space marks a file: Tab to a file list first");
        return;
    };
    let Some(file) = state.list(kind).selected_file().cloned() else {
        state.notify(Tone::Info, "no file selected");
        return;
    };
    state.triage.marked.toggle(kind, &file);
    // On to the next file, so that Space Space Space marks a run of files.
    let rows = files::rows(state);
    files::move_by(state.list_mut(kind), 1, rows);
}

fn mark_all(state: &mut State) -> Vec<Command> {
    let Some(kind) = focused_kind(state) else {
        state.notify(
            Tone::Info,
            "a marks the files of a list: Tab to a file list first",
        );
        return Vec::new();
    };
    let filter = state.list(kind).query.filter.clone();
    state.notify(Tone::Info, "asking the server for every matching file…");
    vec![Command::SelectAll { kind, filter }]
}

fn mark_cause(state: &mut State) -> Vec<Command> {
    let (Some(kind), Some(group)) = (focused_kind(state), state.triage.selected_cause().cloned()) else {
        return Vec::new();
    };
    let filter = Some(format!("{}{}", crate::api::wire::CAUSE_FILTER_PREFIX, group.id));
    state.notify(
        Tone::Info,
        format!("marking the {} files of cause {}…", group.files, group.id),
    );
    vec![Command::SelectAll { kind, filter }]
}

/// The confirmation of a bulk action over the marked files (or the selected file).
fn ask_bulk(state: &mut State, action: BulkAction, read_only: bool) {
    let Some(kind) = acting_on(state) else {
        state.notify(
            Tone::Info,
            "mark files in the retry, stuck or discarded list first (Space, a)",
        );
        return;
    };
    match (action, kind) {
        (BulkAction::Restore, FileKind::Retry | FileKind::Stuck) => {
            return state.notify(
                Tone::Info,
                "b restores discarded files: Tab to the Discarded tab first",
            );
        }
        (BulkAction::Discard, FileKind::Discarded) => {
            return state.notify(
                Tone::Info,
                "these files are already in discarded/ (b restores them)",
            );
        }
        _ => {}
    }
    let set = if state.triage.marked.is_empty() {
        match state.list(kind).selected_file() {
            Some(f) => vec![entry_of(f)],
            None => {
                state.notify(Tone::Info, "no file selected or marked");
                return;
            }
        }
    } else {
        state.triage.marked.entries()
    };
    let preview = summarise(action, kind, set, Vec::new());
    state.overlay = Some(Overlay::Confirm(Box::new(Confirm::Bulk {
        preview: Box::new(preview),
        kind,
        note: String::new(),
        read_only,
    })));
}

/// `y` on a bulk confirmation: the exact set goes to the server.
pub fn confirm_bulk(state: &mut State, confirm: Confirm) -> Vec<Command> {
    let Confirm::Bulk {
        preview,
        note,
        read_only,
        ..
    } = confirm
    else {
        return Vec::new();
    };
    if read_only || state.is_read_only() {
        state.notify(Tone::Error, "read-only: this was a preview; nothing was changed");
        return Vec::new();
    }
    if !state.is_connected() {
        state.notify(Tone::Error, "bulk action: not connected to the processor");
        return Vec::new();
    }
    let request = BulkRequest {
        action: preview.action,
        source: preview.source,
        set: preview.set,
        note: Some(note).filter(|n| !n.trim().is_empty()),
    };
    state.triage.marked.clear();
    state.triage.progress = Some(Progress {
        id: 0,
        action: request.action,
        done: 0,
        total: request.set.len() as u64,
        skipped: 0,
    });
    state.notify(
        Tone::Info,
        format!(
            "{} of {} files sent to the processor…",
            request.action.as_str(),
            request.set.len()
        ),
    );
    vec![Command::Bulk(Box::new(request))]
}

/// A character typed into a discard's note (Backspace erases).
pub fn type_note(state: &mut State, c: Option<char>) {
    if let Some(Overlay::Confirm(confirm)) = state.overlay.as_mut() {
        if let Confirm::Bulk { note, .. } = confirm.as_mut() {
            match c {
                Some(c) if !c.is_control() && note.len() < 200 => note.push(c),
                Some(_) => {}
                None => {
                    note.pop();
                }
            }
        }
    }
}

/// Answers of the triage commands; `false` when the update is not triage's.
pub fn on_update(state: &mut State, update: &ApiUpdate) -> bool {
    match update {
        ApiUpdate::Causes { kind, result } => {
            if state.triage.causes_of == Some(*kind) {
                match result {
                    Ok(list) => {
                        let len = list.groups.len();
                        state.triage.causes = Some((**list).clone());
                        state.triage.cause_selected = state.triage.cause_selected.min(len.saturating_sub(1));
                    }
                    Err(e) => state.notify(Tone::Error, format!("causes: {e}")),
                }
            }
        }
        ApiUpdate::Selected { kind, result } => match result {
            Ok(p) => {
                state.triage.marked.add_all(*kind, p.set.clone());
                state.notify(
                    Tone::Ok,
                    format!("marked {} files ({} messages)", p.files, p.messages),
                );
            }
            Err(e) => state.notify(Tone::Error, format!("mark all: {e}")),
        },
        ApiUpdate::BulkDone { result } => {
            state.triage.progress = None;
            match result {
                Ok(r) => {
                    let tone = if r.skipped() == 0 { Tone::Ok } else { Tone::Error };
                    state.notify(tone, r.outcome.clone());
                }
                Err(ActionFailure { status, message }) => {
                    let status = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
                    state.notify(Tone::Error, format!("bulk action refused{status}: {message}"));
                }
            }
        }
        _ => return false,
    }
    true
}

/// Progress events of a bulk action move the gauge.
pub fn on_event(state: &mut State, kind: &EventKind) {
    if let EventKind::BulkProgress {
        id,
        action,
        done,
        total,
        skipped,
    } = kind
    {
        if *done + *skipped >= *total {
            state.triage.progress = None;
        } else {
            state.triage.progress = Some(Progress {
                id: *id,
                action: *action,
                done: *done,
                total: *total,
                skipped: *skipped,
            });
        }
    }
}

/// Keeps the cause view fresh: each snapshot asks for its groups again.
pub fn after_snapshot(state: &State) -> Vec<Command> {
    match state.triage.causes_of {
        Some(kind) if matches!(state.focus, Focus::Retry | Focus::Stuck | Focus::Discarded) => {
            vec![fetch_causes(state, kind)]
        }
        _ => Vec::new(),
    }
}
