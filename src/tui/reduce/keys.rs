//! Keys → state changes and commands, through the keymap table.

use crate::api::wire::ProcessorState;
use crate::tui::action::Command;
use crate::tui::keymap::{self, Binding, Context, Key, KeyCommand};
use crate::tui::layout;
use crate::tui::reduce::{files, timeline, trace, triage};
use crate::tui::state::{Confirm, Detail, FilterEdit, Focus, Overlay, State, Tone, DETAIL_MESSAGES};

pub fn context(state: &State) -> Context {
    if state.timeline.prompt.is_some() && state.overlay.is_none() {
        return Context::Jump;
    }
    if state.shown_list().filter_edit.is_some() && state.overlay.is_none() {
        return Context::Filter;
    }
    match state.overlay {
        None => Context::Main,
        Some(Overlay::Help { .. }) => Context::Help,
        Some(Overlay::Detail(_)) => Context::Detail,
        Some(Overlay::Trace(_)) => Context::Trace,
        Some(Overlay::Batch(ref b)) if b.open => Context::Message,
        Some(Overlay::Batch(_)) => Context::Batch,
        Some(Overlay::Confirm(ref c)) => match c.as_ref() {
            Confirm::Bulk {
                preview,
                read_only: false,
                ..
            } if preview.action == crate::api::wire::BulkAction::Discard => Context::Note,
            _ => Context::Confirm,
        },
    }
}

pub fn on_key(state: &mut State, key: Key) -> Vec<Command> {
    if key == Key::Ctrl('c') {
        state.quit = true;
        return Vec::new();
    }
    let context = context(state);
    match keymap::lookup(context, key) {
        Some(binding) => on_binding(state, binding),
        None if context == Context::Filter => {
            type_filter(state, key);
            Vec::new()
        }
        None if context == Context::Trace => {
            trace::type_uid(state, key);
            Vec::new()
        }
        None if context == Context::Jump => timeline::on_prompt(state, None, key),
        None if context == Context::Note => {
            if let Key::Char(c) = key {
                triage::type_note(state, Some(c));
            }
            Vec::new()
        }
        None => Vec::new(),
    }
}

pub fn on_binding(state: &mut State, binding: &Binding) -> Vec<Command> {
    if binding.mutating && state.is_read_only() {
        let why = match (&state.read_only_reason, state.read_only) {
            (Some(reason), true) => reason.as_str(),
            (None, true) => "in watch (use `statmgr console`)",
            _ => "by the processor (started with --read-only-api)",
        };
        state.notify(
            Tone::Error,
            format!("read-only: {} is disabled {why}", binding.label),
        );
        return Vec::new();
    }
    match binding.context {
        Context::Main => on_main(state, binding.command),
        Context::Detail => on_detail(state, binding.command),
        Context::Confirm => on_confirm(state, binding.command),
        Context::Note if binding.command == KeyCommand::FilterErase => {
            triage::type_note(state, None);
            Vec::new()
        }
        Context::Note => on_confirm(state, binding.command),
        Context::Filter => on_filter(state, binding.command),
        Context::Jump => timeline::on_prompt(state, Some(binding.command), Key::Esc),
        Context::Help => on_help(state, binding.command),
        Context::Trace => trace::on_trace(state, binding.command),
        Context::Batch | Context::Message => trace::on_batch(state, binding.command),
        // The fleet screen's keys are the fleet reducer's; it passes p and f on as Main keys.
        Context::Fleet => Vec::new(),
    }
}

fn on_main(state: &mut State, command: KeyCommand) -> Vec<Command> {
    if let Some(commands) = timeline::on_main(state, command) {
        return commands;
    }
    if let Some(commands) = triage::on_main(state, command) {
        return commands;
    }
    if let Some(commands) = trace::on_main(state, command) {
        return commands;
    }
    let rows = files::rows(state);
    let page = rows as i64;
    match command {
        KeyCommand::Quit => state.quit = true,
        KeyCommand::Help => state.overlay = Some(Overlay::Help { scroll: 0 }),
        KeyCommand::FocusNext => state.focus = state.focus.next(),
        KeyCommand::FocusPrev => state.focus = state.focus.prev(),
        KeyCommand::Down => navigate(state, 1),
        KeyCommand::Up => navigate(state, -1),
        KeyCommand::PageDown => navigate(state, page),
        KeyCommand::PageUp => navigate(state, -page),
        KeyCommand::Top => navigate(state, i64::MIN),
        KeyCommand::Bottom => navigate(state, i64::MAX),
        KeyCommand::Filter => start_filter(state),
        KeyCommand::Open => return open_detail(state),
        KeyCommand::Back => clear_filter(state),
        KeyCommand::Sort => with_list(state, files::cycle_sort),
        KeyCommand::SortReverse => with_list(state, files::reverse_sort),
        KeyCommand::PauseResume => return pause_resume(state),
        KeyCommand::Flush => return send(state, Command::Flush, "flushing the open batch…"),
        KeyCommand::Requeue => ask_requeue(state),
        KeyCommand::Resync => ask_resync(state),
        KeyCommand::Faster => return demo_rate(state, true),
        KeyCommand::Slower => return demo_rate(state, false),
        _ => {}
    }
    Vec::new()
}

/// Moves the selection (file lists) or scrolls (batches, events); `i64::MIN`/`MAX`: ends.
fn navigate(state: &mut State, delta: i64) {
    let rows = files::rows(state);
    match state.focus {
        Focus::Retry | Focus::Stuck | Focus::Discarded => {
            let list = match state.focus {
                Focus::Retry => &mut state.retry,
                Focus::Stuck => &mut state.stuck,
                _ => &mut state.discarded,
            };
            match delta {
                i64::MIN => files::select(list, 0, rows),
                i64::MAX => files::select(list, list.total().saturating_sub(1), rows),
                d => files::move_by(list, d, rows),
            }
        }
        Focus::Batches => {
            let len = state.snapshot.as_ref().map_or(0, |s| s.batches.len());
            state.batches_scroll = scroll(state.batches_scroll, delta, len.saturating_sub(1));
        }
        Focus::Events => {
            // Up goes back in time: the scroll counts lines back from the newest event.
            let max = state.events.len().saturating_sub(layout::bottom_rows(state));
            state.events_scroll = scroll(state.events_scroll, delta.saturating_neg(), max);
        }
    }
}

fn scroll(current: usize, delta: i64, max: usize) -> usize {
    let moved = if delta < 0 {
        current.saturating_sub(delta.unsigned_abs() as usize)
    } else {
        current.saturating_add(delta as usize)
    };
    moved.min(max)
}

fn with_list(state: &mut State, f: fn(&mut crate::tui::state::FileList)) {
    let kind = state
        .focus
        .file_kind()
        .unwrap_or(crate::api::wire::FileKind::Retry);
    state.focus = match kind {
        crate::api::wire::FileKind::Retry => Focus::Retry,
        crate::api::wire::FileKind::Stuck => Focus::Stuck,
        crate::api::wire::FileKind::Discarded => Focus::Discarded,
    };
    f(state.list_mut(kind));
}

fn start_filter(state: &mut State) {
    with_list(state, |list| {
        list.filter_edit = Some(FilterEdit {
            text: list.query.filter.clone().unwrap_or_default(),
            before: list.query.filter.clone(),
        });
    });
}

fn clear_filter(state: &mut State) {
    if let Some(kind) = state.focus.file_kind() {
        files::set_filter(state.list_mut(kind), None);
    }
}

fn open_detail(state: &mut State) -> Vec<Command> {
    let Some(kind) = state.focus.file_kind() else {
        state.notify(
            Tone::Info,
            "Enter opens a retry or stuck file: Tab to a file list first",
        );
        return Vec::new();
    };
    let Some(file) = state.list(kind).selected_file().cloned() else {
        state.notify(Tone::Info, "no file selected");
        return Vec::new();
    };
    let command = Command::FetchDetail {
        kind,
        name: file.name.clone(),
        offset: 0,
        limit: DETAIL_MESSAGES,
    };
    state.overlay = Some(Overlay::Detail(Box::new(Detail {
        kind,
        summary: file,
        detail: None,
        error: None,
        msg_offset: 0,
        scroll: 0,
    })));
    vec![command]
}

/// Sends a command if connected; otherwise says why not.
fn send(state: &mut State, command: Command, pending: &str) -> Vec<Command> {
    if !state.is_connected() {
        state.notify(
            Tone::Error,
            format!("{}: not connected to the processor", command.label()),
        );
        return Vec::new();
    }
    state.notify(Tone::Info, pending);
    vec![command]
}

fn pause_resume(state: &mut State) -> Vec<Command> {
    let paused = state.snapshot.as_ref().map(|s| s.state) == Some(ProcessorState::Paused);
    if paused {
        send(state, Command::Resume, "resuming intake…")
    } else {
        send(state, Command::Pause, "pausing intake…")
    }
}

fn ask_requeue(state: &mut State) {
    let Some(kind) = state.focus.file_kind() else {
        state.notify(
            Tone::Info,
            "r requeues a retry or stuck file: Tab to a file list first",
        );
        return;
    };
    match state.list(kind).selected_file().cloned() {
        Some(file) => confirm_requeue(state, kind, file),
        None => state.notify(Tone::Info, "no file selected"),
    }
}

fn confirm_requeue(state: &mut State, kind: crate::api::wire::FileKind, file: crate::api::wire::FileSummary) {
    let max_attempts = state.snapshot.as_ref().map_or(0, |s| s.config.max_attempts);
    state.overlay = Some(Overlay::Confirm(Box::new(Confirm::Requeue {
        kind,
        file,
        max_attempts,
    })));
}

fn ask_resync(state: &mut State) {
    match state.snapshot.as_ref() {
        Some(s) => {
            let allocator = s.allocator.clone();
            state.overlay = Some(Overlay::Confirm(Box::new(Confirm::Resync { allocator })));
        }
        None => state.notify(Tone::Error, "resync: no snapshot from the processor yet"),
    }
}

/// `+`/`-` in `statmgr demo`: half as many again, or two thirds, within 0..=100,000 a second.
fn demo_rate(state: &mut State, faster: bool) -> Vec<Command> {
    let Some(demo) = state.demo.as_ref() else {
        state.notify(Tone::Info, "+ and - set the message rate of `statmgr demo` only");
        return Vec::new();
    };
    let rate = match (faster, demo.rate) {
        (true, 0) => 10,
        (true, r) => (r + r.div_ceil(2)).min(100_000),
        (false, r) => r * 2 / 3,
    };
    state.notify(Tone::Ok, format!("demo: generating {rate} messages a second"));
    vec![Command::SetDemoRate(rate)]
}

fn on_confirm(state: &mut State, command: KeyCommand) -> Vec<Command> {
    let Some(Overlay::Confirm(confirm)) = state.overlay.take() else {
        return Vec::new();
    };
    match (command, *confirm) {
        (KeyCommand::Yes, Confirm::Requeue { file, .. }) => {
            let pending = format!("requeueing {}…", file.name);
            let command = Command::Requeue {
                name: file.name,
                attempts: file.attempts,
            };
            send(state, command, &pending)
        }
        (KeyCommand::Yes, Confirm::Resync { .. }) => send(state, Command::Resync, "resyncing the allocator…"),
        (KeyCommand::Yes, bulk @ Confirm::Bulk { .. }) => triage::confirm_bulk(state, bulk),
        _ => {
            state.notify(Tone::Info, "cancelled: nothing was changed");
            Vec::new()
        }
    }
}

fn on_detail(state: &mut State, command: KeyCommand) -> Vec<Command> {
    let page_lines = layout::bottom_rows(state).max(5) as i64;
    let Some(Overlay::Detail(detail)) = state.overlay.as_mut() else {
        return Vec::new();
    };
    let scroll_by = |d: &mut Detail, by: i64| {
        d.scroll = (d.scroll as i64 + by).clamp(0, u16::MAX as i64) as u16;
    };
    match command {
        KeyCommand::Back => state.overlay = None,
        KeyCommand::Quit => state.quit = true,
        KeyCommand::Help => state.overlay = Some(Overlay::Help { scroll: 0 }),
        KeyCommand::Down => scroll_by(detail, 1),
        KeyCommand::Up => scroll_by(detail, -1),
        KeyCommand::PageDown => scroll_by(detail, page_lines),
        KeyCommand::PageUp => scroll_by(detail, -page_lines),
        KeyCommand::Top => detail.scroll = 0,
        KeyCommand::MessagesNext | KeyCommand::MessagesPrev => {
            return message_page(detail, command == KeyCommand::MessagesNext)
        }
        KeyCommand::Requeue if detail.kind == crate::api::wire::FileKind::Discarded => {
            state.notify(
                Tone::Info,
                "a discarded file goes back with b (restore) on the Discarded tab",
            );
        }
        KeyCommand::Requeue => {
            let (kind, file) = (detail.kind, detail.summary.clone());
            confirm_requeue(state, kind, file);
        }
        _ => {}
    }
    Vec::new()
}

fn message_page(detail: &mut Detail, next: bool) -> Vec<Command> {
    let total = detail.detail.as_ref().map_or(0, |d| d.messages.total);
    let offset = if next {
        detail.msg_offset + DETAIL_MESSAGES
    } else {
        detail.msg_offset.saturating_sub(DETAIL_MESSAGES)
    };
    if offset == detail.msg_offset || offset >= total {
        return Vec::new();
    }
    detail.msg_offset = offset;
    vec![Command::FetchDetail {
        kind: detail.kind,
        name: detail.summary.name.clone(),
        offset,
        limit: DETAIL_MESSAGES,
    }]
}

fn on_help(state: &mut State, command: KeyCommand) -> Vec<Command> {
    let help = if state.member.is_some() {
        keymap::HelpOf::FleetDashboard
    } else {
        keymap::HelpOf::Dashboard
    };
    let lines = keymap::help_lines(help) as u16;
    match (command, state.overlay.as_mut()) {
        (KeyCommand::Quit, _) => state.quit = true,
        (KeyCommand::Back, _) => state.overlay = None,
        (KeyCommand::Down, Some(Overlay::Help { scroll })) => *scroll = (*scroll + 1).min(lines),
        (KeyCommand::Up, Some(Overlay::Help { scroll })) => *scroll = scroll.saturating_sub(1),
        _ => {}
    }
    Vec::new()
}

fn on_filter(state: &mut State, command: KeyCommand) -> Vec<Command> {
    let Some(kind) = state.focus.file_kind() else {
        return Vec::new();
    };
    let list = state.list_mut(kind);
    match command {
        KeyCommand::FilterApply => list.filter_edit = None,
        KeyCommand::FilterCancel => {
            if let Some(edit) = list.filter_edit.take() {
                files::set_filter(list, edit.before);
            }
        }
        KeyCommand::FilterErase => {
            if let Some(edit) = list.filter_edit.as_mut() {
                edit.text.pop();
                let text = edit.text.clone();
                files::set_filter(list, Some(text));
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Typing narrows the list as you go: each change is a new server query.
fn type_filter(state: &mut State, key: Key) {
    let Key::Char(c) = key else {
        return;
    };
    let Some(kind) = state.focus.file_kind() else {
        return;
    };
    let list = state.list_mut(kind);
    if let Some(edit) = list.filter_edit.as_mut() {
        edit.text.push(c);
        let text = edit.text.clone();
        files::set_filter(list, Some(text));
    }
}
