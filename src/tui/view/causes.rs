//! Triage on screen: a file list grouped by cause (computed on the server), and the gauge
//! of a bulk action under way.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::tui::format;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::view::text;

const FIXED: [(&str, usize); 5] = [
    ("FILES", 9),
    ("MSGS", 11),
    ("OLDEST", 7),
    ("NEWEST", 7),
    ("TRY", 5),
];

pub fn draw_table(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let Some(list) = state.triage.causes.as_ref() else {
        frame.render_widget(
            Paragraph::new(Span::styled("grouping by cause…", s.muted)).centered(),
            area,
        );
        return;
    };
    if list.groups.is_empty() {
        frame.render_widget(Paragraph::new(Span::styled("no files", s.muted)).centered(), area);
        return;
    }
    let fixed: usize = FIXED.iter().map(|(_, w)| w).sum::<usize>() + 2 + FIXED.len();
    let cause_w = (area.width as usize).saturating_sub(fixed).max(10);
    let header = Row::new(
        FIXED
            .iter()
            .map(|(h, _)| Cell::from(Line::from(*h).right_aligned()))
            .chain([Cell::from(format!(
                "CAUSE ({} causes, {} files, Enter: its files, Space: mark them)",
                list.groups.len(),
                format::count(list.files)
            ))]),
    )
    .style(s.table_header);
    let aged = state.snapshot_age_s();
    let rows: Vec<Row> = list
        .groups
        .iter()
        .map(|g| {
            let attempts = if g.min_attempts == g.max_attempts {
                g.max_attempts.to_string()
            } else {
                format!("{}-{}", g.min_attempts, g.max_attempts)
            };
            let cells = [
                format::count(g.files),
                format::count(g.messages),
                format::age(g.oldest_age_s + aged),
                format::age(g.newest_age_s + aged),
                attempts,
            ];
            Row::new(
                cells
                    .into_iter()
                    .map(|c| Cell::from(Line::from(Span::styled(c, s.value)).right_aligned()))
                    .chain([Cell::from(Line::from(text::spans(
                        &g.cause, cause_w, s.error, theme,
                    )))]),
            )
        })
        .collect();
    let widths: Vec<Constraint> = FIXED
        .iter()
        .map(|(_, w)| Constraint::Length(*w as u16))
        .chain([Constraint::Length(cause_w as u16)])
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(s.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    let rows_shown = area.height.saturating_sub(1).max(1) as usize;
    let selected = state.triage.cause_selected;
    let offset = selected.saturating_sub(rows_shown.saturating_sub(1));
    let mut table_state = TableState::default()
        .with_offset(offset)
        .with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut table_state);
}

/// " bulk requeue ▕████░░░░▏ 4,000/100,000, 12 skipped ", while one runs.
pub fn progress_line(state: &State, theme: &Theme) -> Option<Line<'static>> {
    let s = &theme.styles;
    let p = state.triage.progress.as_ref()?;
    let width = 20usize;
    let done = p.done + p.skipped;
    let filled = if p.total == 0 {
        0
    } else {
        ((done as f64 / p.total as f64) * width as f64).round() as usize
    }
    .min(width);
    Some(Line::from(vec![
        Span::styled(format!(" bulk {} ", p.action.as_str()), s.label),
        Span::styled(
            format!("▕{}{}▏", "█".repeat(filled), "░".repeat(width - filled)),
            s.value,
        ),
        Span::styled(
            format!(
                " {}/{}, {} skipped ",
                format::count(p.done),
                format::count(p.total),
                format::count(p.skipped)
            ),
            s.value,
        ),
    ]))
}
