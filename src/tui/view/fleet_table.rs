//! The fleet table: one row per processor, with as many columns as fit; the least important
//! go first, and without room for both, the connection shares the state's column.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Row, Table, TableState};
use ratatui::Frame;

use crate::api::wire::ProcessorState;
use crate::tui::fleet::{connection_word, Fleet, Member};
use crate::tui::format;
use crate::tui::sanitize;
use crate::tui::state::Conn;
use crate::tui::theme::Theme;
use crate::tui::view::{panel, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Endpoint,
    Connection,
    State,
    Inbox,
    InFlight,
    Retry,
    Stuck,
    Rate,
    Keys,
    Access,
}

/// Left to right, with the order in which columns give way (highest first) and alignment.
const COLUMNS: [(Column, &str, u8, bool); 11] = [
    (Column::Name, "NAME", 0, false),
    (Column::Endpoint, "ENDPOINT", 6, false),
    (Column::Connection, "CONNECTION", 3, false),
    (Column::State, "STATE", 0, false),
    (Column::Inbox, "INBOX", 1, true),
    (Column::InFlight, "IN FLIGHT", 4, true),
    (Column::Retry, "RETRY", 1, true),
    (Column::Stuck, "STUCK", 1, true),
    (Column::Rate, "MSG/S", 2, true),
    (Column::Keys, "NEXT ID / DB MAX", 5, true),
    (Column::Access, "ACCESS", 0, false),
];

/// Widest a name or an endpoint is shown.
const MAX_TEXT: usize = 24;

pub fn draw(fleet: &Fleet, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let title = vec![Span::raw(format!("Processors {}", fleet.members.len()))];
    let mut block = panel(title, true, theme);
    if let Some(line) = selected_trouble(fleet, theme) {
        block = block.title_bottom(line);
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Two columns for the selection marker.
    let room = (inner.width as usize).saturating_sub(2);
    let columns = fit(fleet, room);
    let merged = !columns.iter().any(|(c, _)| *c == Column::Connection);
    let header = Row::new(columns.iter().map(|(c, _)| {
        let (_, title, _, right) = spec(*c);
        let line = Line::from(title);
        Cell::from(if right { line.right_aligned() } else { line })
    }))
    .style(s.table_header);
    let rows: Vec<Row> = fleet
        .members
        .iter()
        .map(|m| {
            Row::new(columns.iter().map(|(c, w)| {
                let (text_, style) = value(*c, m, merged, theme);
                let line = Line::from(text::spans(&text_, *w, style, theme));
                Cell::from(if spec(*c).3 { line.right_aligned() } else { line })
            }))
        })
        .collect();
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|(_, w)| Constraint::Length(*w as u16))
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(s.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(fleet.selected));
    frame.render_stateful_widget(table, inner, &mut state);
}

fn spec(column: Column) -> (Column, &'static str, u8, bool) {
    COLUMNS
        .into_iter()
        .find(|(c, ..)| *c == column)
        .unwrap_or((column, "", 0, false))
}

/// The columns that fit in `room`, each as wide as its widest value (names and endpoints cut).
fn fit(fleet: &Fleet, room: usize) -> Vec<(Column, usize)> {
    let width_of = |c: Column, merged: bool| {
        let widest = fleet
            .members
            .iter()
            .map(|m| sanitize::width(&sanitize::escape(&value_text(c, m, merged))))
            .max()
            .unwrap_or(0);
        let cap = if matches!(c, Column::Name | Column::Endpoint) {
            MAX_TEXT
        } else {
            usize::MAX
        };
        widest.min(cap).max(sanitize::width(spec(c).1))
    };
    // Processors named by their endpoint (`--url`) need no endpoint column.
    let named_by_endpoint = fleet
        .members
        .iter()
        .all(|m| m.name == value_text(Column::Endpoint, m, false));
    let mut shown: Vec<Column> = COLUMNS
        .iter()
        .map(|(c, ..)| *c)
        .filter(|c| !(named_by_endpoint && *c == Column::Endpoint))
        .collect();
    loop {
        let merged = !shown.contains(&Column::Connection);
        let widths: Vec<(Column, usize)> = shown.iter().map(|c| (*c, width_of(*c, merged))).collect();
        let total: usize = widths.iter().map(|(_, w)| w).sum::<usize>() + widths.len().saturating_sub(1);
        let droppable = shown
            .iter()
            .enumerate()
            .filter(|(_, c)| spec(**c).2 > 0)
            .max_by_key(|(_, c)| spec(**c).2)
            .map(|(i, _)| i);
        match droppable {
            Some(i) if total > room => {
                shown.remove(i);
            }
            _ => return widths,
        }
    }
}

fn value_text(column: Column, m: &Member, merged: bool) -> String {
    let st = &m.state;
    let snap = st.snapshot.as_ref();
    let count =
        |f: &dyn Fn(&crate::api::wire::Snapshot) -> u64| snap.map_or("—".into(), |s| format::count(f(s)));
    match column {
        Column::Name => m.name.clone(),
        Column::Endpoint => st.endpoint.trim_start_matches("http://").to_string(),
        Column::Connection => connection_word(st),
        Column::State if merged && !st.is_connected() => connection_word(st),
        Column::State => match (snap, st.is_connected()) {
            (Some(s), true) => format!("{} {}", symbol(s.state), format::state_word(s.state)),
            _ => "—".into(),
        },
        Column::Inbox => count(&|s| s.inbox.depth),
        Column::InFlight => count(&|s| s.in_flight.messages),
        Column::Retry => count(&|s| s.retry.total_unfiltered),
        Column::Stuck => count(&|s| s.stuck.total_unfiltered),
        Column::Rate => match snap {
            Some(_) => format::rate(st.history.out_rate)
                .trim_end_matches("/s")
                .to_string(),
            None => "—".into(),
        },
        Column::Keys => snap.map_or("—".into(), |s| {
            let a = &s.allocator;
            format!("{} / {}", format::id(a.next_id), format::id(a.db_max_id))
        }),
        Column::Access if st.is_read_only() => "READ-ONLY".into(),
        Column::Access => "control".into(),
    }
}

fn symbol(state: ProcessorState) -> &'static str {
    match state {
        ProcessorState::Running => "●",
        ProcessorState::Paused => "‖",
        ProcessorState::Draining => "↓",
        ProcessorState::Starting => "…",
        ProcessorState::Stopped => "■",
    }
}

/// A value and its style: last known numbers of a lost processor are muted.
fn value(column: Column, m: &Member, merged: bool, theme: &Theme) -> (String, Style) {
    let s = &theme.styles;
    let st = &m.state;
    let snap = st.snapshot.as_ref();
    let live = st.is_connected();
    let text = value_text(column, m, merged);
    let style = match column {
        Column::Name => s.value,
        Column::Endpoint => s.muted,
        Column::Connection => conn_style(&st.conn, theme),
        Column::State if merged && !live => conn_style(&st.conn, theme),
        Column::State => match snap.map(|s| s.state) {
            Some(ProcessorState::Running) if live => s.ok,
            Some(ProcessorState::Paused) if live => s.warn,
            _ => s.muted,
        },
        _ if !live => s.muted,
        Column::Retry if snap.is_some_and(|s| s.retry.total_unfiltered > 0) => s.warn,
        Column::Stuck if snap.is_some_and(|s| s.stuck.total_unfiltered > 0) => s.error,
        Column::Access if st.is_read_only() => s.badge,
        Column::Access => s.muted,
        _ => s.value,
    };
    (text, style)
}

fn conn_style(conn: &Conn, theme: &Theme) -> Style {
    match conn {
        Conn::Connected => theme.styles.ok,
        Conn::Connecting => theme.styles.muted,
        Conn::Disconnected { .. } => theme.styles.error,
    }
}

/// Under the table: why the selected processor is not connected, and when the next try is.
fn selected_trouble(fleet: &Fleet, theme: &Theme) -> Option<Line<'static>> {
    let s = &theme.styles;
    let m = fleet.selected_member()?;
    let Conn::Disconnected {
        retry_at_s, error, ..
    } = &m.state.conn
    else {
        return None;
    };
    let retry = format::age((retry_at_s - m.state.now_s).max(0.0));
    let mut spans = vec![Span::styled(" ✖ ", s.error)];
    spans.extend(text::spans(&m.name, MAX_TEXT, s.error, theme));
    spans.push(Span::styled(format!(": retry in {retry}: "), s.muted));
    let room = (fleet.screen.width as usize).saturating_sub(40);
    spans.extend(text::spans(error, room, s.muted, theme));
    spans.push(Span::raw(" "));
    Some(Line::from(spans))
}
