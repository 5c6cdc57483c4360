//! The inbox panel: depth, bytes, oldest age, in/out rates, messages in flight, depth sparkline.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use crate::tui::format;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::view::panel;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let block = panel(vec![Span::raw("Inbox")], false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(snap) = &state.snapshot else {
        frame.render_widget(
            Paragraph::new(Span::styled("waiting for the processor…", s.muted)),
            inner,
        );
        return;
    };
    let aged = state.snapshot_age_s();
    let oldest = if snap.inbox.depth == 0 {
        "—".to_string()
    } else {
        format::age(snap.inbox.oldest_age_s + aged)
    };
    let lines = vec![
        Line::from(vec![
            Span::styled("depth ", s.label),
            Span::styled(format::count(snap.inbox.depth), s.value),
            Span::styled(format!("  {}  ", format::bytes(snap.inbox.bytes)), s.base),
            Span::styled("oldest ", s.label),
            Span::styled(oldest, s.value),
        ]),
        Line::from(vec![
            Span::styled("in ", s.label),
            Span::styled(format::rate(state.history.in_rate), s.value),
            Span::styled(" out ", s.label),
            Span::styled(format::rate(state.history.out_rate), s.value),
            Span::styled(" in flight ", s.label),
            Span::styled(format::count(snap.in_flight.messages), s.value),
        ]),
    ];
    let text_height = (lines.len() as u16).min(inner.height);
    frame.render_widget(
        Paragraph::new(lines),
        Rect {
            height: text_height,
            ..inner
        },
    );
    let spark = Rect {
        y: inner.y + text_height,
        height: inner.height - text_height,
        ..inner
    };
    if spark.height == 0 {
        return;
    }
    let depth = match crate::tui::view::history::long_window(state, spark.width as usize) {
        Some(long) => long.depth,
        None => tail(&state.history.depth, spark.width as usize),
    };
    spark_right(frame, spark, depth, s.sparkline);
}

/// A sparkline whose newest value is at the right edge, however few values there are yet.
pub(crate) fn spark_right(frame: &mut Frame, area: Rect, data: Vec<u64>, style: ratatui::style::Style) {
    let width = (data.len() as u16).min(area.width);
    let area = Rect {
        x: area.right() - width,
        width,
        ..area
    };
    // The floor of 1 keeps an idle series flat rather than scaled to full height.
    let max = data.iter().copied().max().unwrap_or(0).max(1);
    frame.render_widget(Sparkline::default().data(data).max(max).style(style), area);
}

/// The last `n` values, oldest first.
pub(crate) fn tail(values: &std::collections::VecDeque<u64>, n: usize) -> Vec<u64> {
    values
        .iter()
        .skip(values.len().saturating_sub(n))
        .copied()
        .collect()
}
