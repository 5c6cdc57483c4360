//! The Discarded tab's table: what each file's `.reason` says (when, by whom, the note)
//! beside its messages and cause, so the operator sees why a file was set aside before
//! restoring it (`b`).

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use crate::api::wire::FileSummary;
use crate::tui::format;
use crate::tui::layout::file_rows;
use crate::tui::state::{FileList, State};
use crate::tui::theme::Theme;
use crate::tui::view::text;

/// (header, width) of the fixed columns after the name.
const FIXED: [(&str, usize); 2] = [("DISCARDED", 16), ("MSGS", 6)];

pub fn table(state: &State, list: &FileList, has_focus: bool, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let rows_shown = file_rows(state).min(area.height.saturating_sub(1) as u64);
    // Name, the fixed columns, by, note, cause; 2 for the selection marker, 5 gaps.
    let fixed: usize = FIXED.iter().map(|(_, w)| w).sum::<usize>() + 2 + 5;
    let flexible = (area.width as usize).saturating_sub(fixed);
    let name_w = (flexible * 3 / 10).max(8);
    // "api 127.0.0.1:50412 (token 3f9a1c)" is 34 wide.
    let by_w = (flexible / 4).clamp(6, 36);
    let note_w = (flexible / 5).max(6);
    let cause_w = flexible.saturating_sub(name_w + by_w + note_w).max(8);
    let widths = [name_w, FIXED[0].1, FIXED[1].1, by_w, note_w, cause_w];
    let header = Row::new([
        Cell::from("NAME"),
        Cell::from(FIXED[0].0),
        Cell::from(Line::from(FIXED[1].0).right_aligned()),
        Cell::from("BY"),
        Cell::from("NOTE"),
        Cell::from("CAUSE"),
    ])
    .style(s.table_header);
    let rows: Vec<Row> = (list.top..list.top.saturating_add(rows_shown).min(list.total()))
        .map(|i| match list.row(i) {
            Some(f) => row(
                f,
                state.triage.marked.contains(list.kind, &f.name),
                &widths,
                theme,
            ),
            None => Row::new([Cell::from(ratatui::text::Span::styled("…", s.muted))]),
        })
        .collect();
    super::files::render_rows(list, has_focus, theme, (header, rows, &widths), frame, area);
}

/// `2026-11-27T21:30:05.123Z` as `2026-11-27 21:30` (the minute is enough to tell incidents apart).
fn when(at: &str) -> String {
    at.get(..16).unwrap_or(at).replacen('T', " ", 1)
}

fn row(f: &FileSummary, marked: bool, widths: &[usize], theme: &Theme) -> Row<'static> {
    let s = &theme.styles;
    let (at, by, note) = match &f.discarded {
        Some(d) => (when(&d.at), d.by.clone(), d.note.clone().unwrap_or_default()),
        None => ("?".to_string(), "?".to_string(), String::new()),
    };
    let cells: [(String, Style, bool); 6] = [
        super::files::name_cell(f, marked, theme),
        (at, s.base, false),
        (format::count(f.messages), s.value, true),
        (by, s.base, false),
        (note, s.value, false),
        (crate::cause::normalise(&f.last_error), s.error, false),
    ];
    Row::new(cells.into_iter().zip(widths).map(|((t, style, right), w)| {
        let line = Line::from(text::spans(&t, *w, style, theme));
        Cell::from(if right { line.right_aligned() } else { line })
    }))
}
