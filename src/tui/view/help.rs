//! The help overlay, drawn from the keymap table (so it lists exactly what works).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::tui::keymap::{self, Context, HelpOf};
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::view::centered;

pub fn draw(state: &State, scroll: u16, theme: &Theme, frame: &mut Frame, area: Rect) {
    let help = if state.member.is_some() {
        HelpOf::FleetDashboard
    } else {
        HelpOf::Dashboard
    };
    draw_keys(state.is_read_only(), help, scroll, theme, frame, area);
}

/// The help over any screen: `read_only` marks the mutating keys.
pub fn draw_keys(read_only: bool, help: HelpOf, scroll: u16, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(vec![
        Span::styled(format!("{:<12}", "Ctrl+C"), s.key),
        Span::raw("quit, from anywhere"),
    ]));
    for context in Context::in_help(help) {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(context.title(), s.title_focus)));
        for b in keymap::in_context(context) {
            let mut spans = vec![Span::styled(format!("{:<12}", b.label), s.key), Span::raw(b.help)];
            if b.mutating && read_only {
                spans.push(Span::styled("  (read-only: disabled)", s.muted));
            }
            lines.push(Line::from(spans));
        }
    }
    let height = lines.len() as u16 + 2;
    let rect = centered(frame, area, 70, height);
    let title = Line::from(Span::styled(" Keys — Esc closes, j/k scroll ", s.title_focus));
    let block = Block::bordered()
        .title(title)
        .style(s.overlay)
        .border_style(s.overlay_border);
    let max_scroll = height.saturating_sub(rect.height);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        rect,
    );
}
