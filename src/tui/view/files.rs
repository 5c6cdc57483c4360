//! The retry, stuck and discarded files (three tabs): a table over one server page, with the sort, the filter and
//! where the visible rows sit in the whole list ("1-7 of 100,000").

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::api::wire::{FileKind, FileSummary, SortKey};
use crate::tui::format;
use crate::tui::layout::file_rows;
use crate::tui::sanitize;
use crate::tui::state::{FileList, Focus, State};
use crate::tui::theme::Theme;
use crate::tui::view::{focused, panel, text};

const FIXED: [(&str, usize); 4] = [("AGE", 6), ("MSGS", 6), ("TRY", 3), ("NEXT IN", 7)];

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let list = state.shown_list();
    let has_focus =
        focused(state, Focus::Retry) || focused(state, Focus::Stuck) || focused(state, Focus::Discarded);
    let tabs = tabs(state, theme);
    // The position gives way to the tabs: first the sort goes, then it is cut.
    let room = (area.width as usize).saturating_sub(span_width(&tabs) + 6);
    let mut position = position(list, state, theme);
    if span_width(&position) > room {
        position.remove(0);
    }
    let position = match position.pop() {
        Some(range) if span_width(&position) + sanitize::width(&range.content) > room => {
            let cut = room.saturating_sub(span_width(&position));
            text::spans(&range.content, cut, range.style, theme)
        }
        Some(range) => position.into_iter().chain([range]).collect(),
        None => position,
    };
    let block = panel(tabs, has_focus, theme).title_top(Line::from(position).right_aligned());
    let block = match list.filter_text() {
        Some(f) if list.filter_edit.is_some() || !f.is_empty() => {
            let mut spans = vec![Span::styled(" / ", s.key), Span::styled("filter: ", s.label)];
            spans.extend(text::spans(f, 40, s.value, theme));
            if list.filter_edit.is_some() {
                spans.push(Span::styled("█", s.key));
            }
            spans.push(Span::raw(" "));
            block.title_bottom(Line::from(spans))
        }
        _ => block,
    };
    let block = match super::causes::progress_line(state, theme) {
        Some(gauge) => block.title_bottom(gauge.right_aligned()),
        None => block,
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let cause_view = state.triage.causes_of == Some(list.kind) && state.focus.file_kind() == Some(list.kind);
    if cause_view {
        super::causes::draw_table(state, theme, frame, inner);
        return;
    }
    if list.page_matches() && list.total() == 0 {
        let what = match (list.kind, list.query.filter.is_some()) {
            (_, true) => "no file matches the filter (Esc clears it)",
            (FileKind::Retry, false) => "no retry files: every batch committed",
            (FileKind::Stuck, false) => "no stuck files: nothing waits for an operator",
            (FileKind::Discarded, false) => "nothing discarded: d sets files aside here, b brings them back",
        };
        frame.render_widget(Paragraph::new(Span::styled(what, s.muted)).centered(), inner);
        return;
    }
    if list.kind == FileKind::Discarded {
        return super::discarded::table(state, list, has_focus, theme, frame, inner);
    }
    table(state, list, has_focus, theme, frame, inner);
}

fn tabs(state: &State, theme: &Theme) -> Vec<Span<'static>> {
    let s = &theme.styles;
    let tab = |label: &str, kind: FileKind| {
        let list = state.list(kind);
        let count = format::count(list.page.total_unfiltered);
        let active = state.shown_list().kind == kind;
        let style = if active { s.title_focus } else { s.muted };
        let mark = if active { "[" } else { " " };
        let end = if active { "]" } else { " " };
        Span::styled(format!("{mark}{label} {count}{end}"), style)
    };
    vec![
        tab("Retry", FileKind::Retry),
        Span::raw(" "),
        tab("Stuck", FileKind::Stuck),
        Span::raw(" "),
        tab("Discarded", FileKind::Discarded),
    ]
}

fn sort_name(key: SortKey) -> &'static str {
    match key {
        SortKey::Name => "name",
        SortKey::Age => "age",
        SortKey::Messages => "messages",
        SortKey::Attempts => "attempts",
        SortKey::NextAttempt => "next attempt",
        SortKey::Error => "error",
    }
}

fn span_width(spans: &[Span]) -> usize {
    spans.iter().map(|s| sanitize::width(&s.content)).sum()
}

fn position(list: &FileList, state: &State, theme: &Theme) -> Vec<Span<'static>> {
    let s = &theme.styles;
    let arrow = if list.query.desc { "↓" } else { "↑" };
    let sort = format!(" sort {} {arrow} ", sort_name(list.query.sort));
    let total = list.total();
    let range = if !list.page_matches() {
        "loading… ".to_string()
    } else if total == 0 {
        "0 files ".to_string()
    } else {
        let last = list.top.saturating_add(file_rows(state)).min(total);
        format!(
            "{}-{} of {} ",
            format::count(list.top.saturating_add(1)),
            format::count(last),
            format::count(total)
        )
    };
    vec![Span::styled(sort, s.muted), Span::styled(range, s.value)]
}

fn table(state: &State, list: &FileList, has_focus: bool, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let rows_shown = file_rows(state).min(area.height.saturating_sub(1) as u64);
    // 2 for the selection marker, one space between each of the six columns.
    let fixed: usize = FIXED.iter().map(|(_, w)| w).sum::<usize>() + 2 + 5;
    let flexible = (area.width as usize).saturating_sub(fixed);
    let name_w = (flexible / 2).max(8);
    let error_w = flexible.saturating_sub(name_w).max(8);
    let widths: Vec<usize> = [name_w]
        .into_iter()
        .chain(FIXED.iter().map(|(_, w)| *w))
        .chain([error_w])
        .collect();
    let header = Row::new(
        [Cell::from("NAME")]
            .into_iter()
            .chain(
                FIXED
                    .iter()
                    .map(|(h, _)| Cell::from(Line::from(*h).right_aligned())),
            )
            .chain([Cell::from("LAST ERROR")]),
    )
    .style(s.table_header);
    let aged = state.snapshot_age_s();
    let rows: Vec<Row> = (list.top..list.top.saturating_add(rows_shown).min(list.total()))
        .map(|i| match list.row(i) {
            Some(f) => file_row(
                f,
                state.triage.marked.contains(list.kind, &f.name),
                &widths,
                aged,
                theme,
            ),
            None => Row::new([Cell::from(Span::styled("…", s.muted))]),
        })
        .collect();
    render_rows(list, has_focus, theme, (header, rows, &widths), frame, area);
}

/// Draws a file tab's rows (the header, the rows in view, their column widths) with the
/// selection marked: shared by the Retry, Stuck and Discarded tabs.
pub(super) fn render_rows(
    list: &FileList,
    has_focus: bool,
    theme: &Theme,
    (header, rows, widths): (Row<'static>, Vec<Row<'static>>, &[usize]),
    frame: &mut Frame,
    area: Rect,
) {
    let s = &theme.styles;
    let constraints: Vec<Constraint> = widths.iter().map(|w| Constraint::Length(*w as u16)).collect();
    let highlight = if has_focus {
        s.selected
    } else {
        s.selected_unfocused
    };
    let table = Table::new(rows, constraints)
        .header(header)
        .row_highlight_style(highlight)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut table_state =
        TableState::default().with_selected(Some(list.selected.saturating_sub(list.top) as usize));
    frame.render_stateful_widget(table, area, &mut table_state);
}

/// The name column: marked files carry a dot and the key colour.
pub(super) fn name_cell(f: &FileSummary, marked: bool, theme: &Theme) -> (String, Style, bool) {
    let s = &theme.styles;
    if marked {
        (format!("● {}", f.name), s.key, false)
    } else {
        (f.name.clone(), s.base, false)
    }
}

fn file_row(f: &FileSummary, marked: bool, widths: &[usize], aged: f64, theme: &Theme) -> Row<'static> {
    let s = &theme.styles;
    let next = f.next_attempt_in_s.map(|n| n - aged);
    let attempts_style = if f.next_attempt_in_s.is_none() {
        s.error
    } else {
        s.value
    };
    let next = match next {
        None => "never".to_string(),
        Some(n) if n <= 0.0 => "due".to_string(),
        Some(n) => format::age(n),
    };
    // (text, style, right-aligned)
    let cells: [(String, Style, bool); 6] = [
        name_cell(f, marked, theme),
        (format::age(f.age_s + aged), s.base, true),
        (format::count(f.messages), s.value, true),
        (f.attempts.to_string(), attempts_style, true),
        (next, s.base, true),
        (f.last_error.clone(), s.error, false),
    ];
    Row::new(cells.into_iter().zip(widths).map(|((t, style, right), w)| {
        let line = Line::from(text::spans(&t, *w, style, theme));
        Cell::from(if right { line.right_aligned() } else { line })
    }))
}
