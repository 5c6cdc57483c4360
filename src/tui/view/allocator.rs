//! The key allocator panel, with a loud warning when the database's max id reaches into the
//! reserved block (the condition that blocked processing in the field).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::api::wire::{AllocatorInfo, RetentionInfo};
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::view::{panel, text};

/// The database already holds ids the allocator is about to hand out (an allocator that has
/// not reserved a block yet, next id 0, hands out nothing). When processors share the
/// database, ids above this one's block are the others' to use: only a max id inside the
/// block it holds is a conflict.
pub fn conflict(a: &AllocatorInfo, shared: bool) -> bool {
    let taken = a.next_id > 0 && a.db_max_id >= a.next_id;
    taken && (!shared || a.db_max_id < a.block_end)
}

/// What the database holds and what retention did, most important first, as much as fits
/// in `width` columns: rows, size, oldest message, pruned (or "kept forever").
pub fn retention_line(r: &RetentionInfo, width: usize) -> String {
    let mut parts = Vec::new();
    if let Some(rows) = r.rows {
        parts.push(format!("{} rows", format::count(rows)));
    }
    if let Some(bytes) = r.database_bytes {
        parts.push(format::bytes(bytes));
    }
    if r.enabled {
        parts.push(format!("pruned {}", format::count(r.pruned_total)));
    } else {
        parts.push("kept forever".into());
    }
    if let Some(oldest) = &r.oldest_message {
        parts.push(format!("from {}", oldest.get(..10).unwrap_or(oldest)));
    }
    if let Some(error) = r.last_pass.as_ref().and_then(|p| p.error.as_ref()) {
        parts.insert(
            0,
            format!(
                "retention failing: {}",
                crate::tui::sanitize::fit_string(error, 40)
            ),
        );
    }
    let mut line = String::new();
    for part in parts {
        let next = if line.is_empty() {
            format!(" {part} ")
        } else {
            format!("· {part} ")
        };
        if crate::tui::sanitize::width(&line) + crate::tui::sanitize::width(&next) > width {
            break;
        }
        line.push_str(&next);
    }
    line
}

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let Some(snap) = &state.snapshot else {
        let block = panel(vec![Span::raw("Key allocator")], false, theme);
        frame.render_widget(block, area);
        return;
    };
    let a = &snap.allocator;
    let conflict = conflict(a, state.shared_sequence);
    let mut title = vec![Span::raw("Key allocator")];
    if conflict {
        title.push(Span::styled(" ⚠ KEY CONFLICT ", s.error));
    }
    let room = area.width.saturating_sub(2) as usize;
    // While the database does not answer, its last error takes the place of the figures.
    let bottom = match (&snap.database.reachable, &snap.database.last_error) {
        (false, Some(error)) => Span::styled(
            format!(
                " {} ",
                crate::tui::sanitize::fit_string(&format!("database: {error}"), room.saturating_sub(2))
            ),
            s.error,
        ),
        _ => Span::styled(retention_line(&snap.retention, room), s.muted),
    };
    let block = panel(title, false, theme).title_bottom(Line::from(bottom));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let db_style = if conflict { s.error } else { s.value };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("next id ", s.label),
            Span::styled(format::id(a.next_id), s.value),
            Span::styled("  reserved to ", s.label),
            Span::styled(format::id(a.block_end.saturating_sub(1)), s.value),
        ]),
        Line::from(vec![
            Span::styled("high-water ", s.label),
            Span::styled(format::id(a.high_water), s.value),
            Span::styled("  db max ", s.label),
            Span::styled(format::id(a.db_max_id), db_style),
        ]),
    ];
    let mut health = vec![
        Span::styled("failures ", s.label),
        Span::styled(
            format::count(a.failures),
            if a.failures > 0 { s.warn } else { s.value },
        ),
        Span::styled("  resyncs ", s.label),
        Span::styled(format::count(a.resyncs), s.value),
    ];
    let mut last_error = vec![Span::styled("last error ", s.label)];
    match &a.last_error {
        Some(e) => last_error.extend(text::spans(e, width.saturating_sub(11), s.error, theme)),
        None => last_error.push(Span::styled("—", s.muted)),
    }
    if inner.height >= 4 {
        lines.push(Line::from(health));
        lines.push(Line::from(last_error));
    } else {
        // Three lines: the last error shares the health line.
        health.push(Span::raw("  "));
        let used: usize = health
            .iter()
            .map(|sp| crate::tui::sanitize::width(&sp.content))
            .sum();
        let mut fitted = vec![Span::styled("error ", s.label)];
        match &a.last_error {
            Some(e) => fitted.extend(text::spans(e, width.saturating_sub(used + 6), s.error, theme)),
            None => fitted.push(Span::styled("—", s.muted)),
        }
        health.extend(fitted);
        lines.push(Line::from(health));
    }
    if conflict {
        let warning = format!(
            "⚠ db max {} ≥ next id {}: ids in use, R resyncs",
            format::id(a.db_max_id),
            format::id(a.next_id)
        );
        // The warning takes the place of the least important line when room is short.
        let at = (inner.height as usize).saturating_sub(1).min(lines.len());
        lines.insert(at, text::line(&warning, width, s.error, theme));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
