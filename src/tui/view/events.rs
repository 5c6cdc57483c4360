//! The events panel: the tail of the event stream, newest at the bottom, operator actions included.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::format::{self, Tone};
use crate::tui::state::{Focus, State};
use crate::tui::theme::Theme;
use crate::tui::view::{focused, panel, text};

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let mut block = panel(vec![Span::raw("Events")], focused(state, Focus::Events), theme);
    if state.events_scroll > 0 {
        let back = format!(" ↑ {} back (G: newest) ", state.events_scroll);
        block = block.title_top(Line::from(Span::styled(back, s.warn)).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if state.events.is_empty() {
        frame.render_widget(Paragraph::new(Span::styled("no events yet", s.muted)), inner);
        return;
    }
    let rows = inner.height as usize;
    let end = state.events.len().saturating_sub(state.events_scroll);
    let start = end.saturating_sub(rows);
    let width = inner.width as usize;
    let lines: Vec<Line> = state
        .events
        .range(start..end)
        .map(|e| {
            let (tone, description) = format::describe(&e.kind);
            let style = match tone {
                Tone::Normal => s.base,
                Tone::Good => s.ok,
                Tone::Warn => s.warn,
                Tone::Bad => s.error,
                Tone::Operator => s.operator,
            };
            let mut spans = text::spans(format::clock(&e.time), 8, s.muted, theme);
            spans.push(Span::raw(" "));
            spans.extend(text::spans(&description, width.saturating_sub(9), style, theme));
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
