//! Batch commits: throughput and latency charts over the recent past, and the latest commits.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::format;
use crate::tui::state::{Focus, State};
use crate::tui::theme::Theme;
use crate::tui::view::inbox::{spark_right, tail};
use crate::tui::view::{focused, panel, text};

const LABEL: u16 = 9;
const VALUE: u16 = 8;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let chart_width = area.width.saturating_sub(2 + LABEL + VALUE) as usize;
    let long = crate::tui::view::history::long_window(state, chart_width);
    let mut title = vec![Span::raw("Batch commits")];
    if let Some(w) = &long {
        let waiting = if w.waiting { ", loading…" } else { "" };
        title.push(Span::styled(format!(" · last {} (w){waiting}", w.label), s.warn));
    }
    let block = panel(title, focused(state, Focus::Batches), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let chart_h: u16 = if inner.height >= 9 { 2 } else { 1 };
    let [thr, lat, list] = Layout::vertical([
        Constraint::Length(chart_h),
        Constraint::Length(chart_h),
        Constraint::Min(0),
    ])
    .areas(inner);
    if let Some(w) = long {
        let rate = format::rate(w.throughput_now as f64);
        chart(frame, thr, "rows/s", &w.throughput, rate, s.throughput, theme);
        let peak = format::millis(w.latency_peak_ms as f64);
        chart(frame, lat, "p99/min", &w.latency_ms, peak, s.latency, theme);
        commits(state, theme, frame, list);
        return;
    }
    let h = &state.history;
    let last_latency = h.latency_ms.back().map(|ms| format::millis(*ms as f64));
    chart(
        frame,
        thr,
        "rows/s",
        &tail_of(&h.throughput, thr),
        format::rate(h.out_rate),
        s.throughput,
        theme,
    );
    let latency_now = last_latency.unwrap_or_else(|| "—".into());
    chart(
        frame,
        lat,
        "commit",
        &tail_of(&h.latency_ms, lat),
        latency_now,
        s.latency,
        theme,
    );
    commits(state, theme, frame, list);
}

fn tail_of(values: &std::collections::VecDeque<u64>, area: Rect) -> Vec<u64> {
    tail(values, area.width.saturating_sub(LABEL + VALUE) as usize)
}

fn chart(frame: &mut Frame, area: Rect, label: &str, data: &[u64], now: String, style: Style, theme: &Theme) {
    let s = &theme.styles;
    let [l, spark, v] = Layout::horizontal([
        Constraint::Length(LABEL),
        Constraint::Min(1),
        Constraint::Length(VALUE),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Span::styled(label.to_string(), s.label)), l);
    spark_right(frame, spark, data.to_vec(), style);
    frame.render_widget(Paragraph::new(Span::styled(now, s.value)).right_aligned(), v);
}

fn commits(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    if area.height == 0 {
        return;
    }
    let width = area.width as usize;
    let batches = state
        .snapshot
        .as_ref()
        .map(|snap| snap.batches.as_slice())
        .unwrap_or(&[]);
    let head = format!(
        "{:<6} {:>5} {:<15} {:>6} FROM",
        "BATCH", "ROWS", "RECORD IDS", "TIME"
    );
    let mut lines = vec![text::line(&head, width, s.table_header, theme)];
    if batches.is_empty() {
        lines.push(Line::from(Span::styled("no commits yet", s.muted)));
    }
    // Focused, the top row is the one Enter opens (j/k move it).
    let open_style = if focused(state, Focus::Batches) {
        s.selected
    } else {
        s.base
    };
    for (i, b) in batches
        .iter()
        .skip(state.batches_scroll)
        .take(area.height as usize - 1)
        .enumerate()
    {
        let ids = match (b.first_record_id, b.last_record_id) {
            (Some(a), Some(z)) => format!("{a}-{z}"),
            _ => "—".into(),
        };
        let head = format!(
            "{:<6} {:>5} {:<15} {:>6} ",
            format!("#{}", b.id),
            format::count(b.count),
            ids,
            format::millis(b.duration_ms)
        );
        let mut spans = text::spans(&head, width, if i == 0 { open_style } else { s.base }, theme);
        let from = match &b.source_file {
            Some(f) => format!("{} {f}", b.source),
            None => b.source.clone(),
        };
        let room = width.saturating_sub(crate::tui::sanitize::width(&head));
        spans.extend(text::spans(&from, room, s.muted, theme));
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
