//! The footer: the result of the last action (or why it was refused), then the key hints
//! drawn from the keymap.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::keymap::{self, Context, Key};
use crate::tui::reduce::context;
use crate::tui::state::{Notice, State, Tone};
use crate::tui::theme::Theme;
use crate::tui::view::text;

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let context = context(state);
    let hints: Vec<(&str, &str)> = if context == Context::Main {
        // One of a fleet: Esc goes back to it (the fleet reducer's reading of Main's Esc).
        let back = keymap::lookup(Context::Main, Key::Esc)
            .filter(|_| state.member.is_some())
            .map(|b| (b.label, "fleet"));
        // The Discarded tab restores (b) where the others requeue (r): the footer shows
        // the one that works here.
        let discarded = state.focus == crate::tui::state::Focus::Discarded;
        let hidden = if discarded { "requeue" } else { "restore" };
        back.into_iter()
            .chain(short_hints(Context::Main, state.is_read_only()).filter(|(_, f)| *f != hidden))
            .collect()
    } else {
        keymap::in_context(context)
            .map(|b| (b.label, b.help))
            .take(4)
            .collect()
    };
    match state.triage.marked_line() {
        // The selection stays in view as long as it exists; a fresh notice comes first.
        Some(marked) if state.current_notice().is_none() => {
            let notice = Notice {
                text: marked,
                tone: Tone::Info,
                at_s: state.now_s,
            };
            draw_line(Some(&notice), &hints, theme, frame, area);
        }
        Some(marked) => {
            let notice = state.current_notice().map(|n| Notice {
                text: format!("{marked} · {}", n.text),
                ..n.clone()
            });
            draw_line(notice.as_ref(), &hints, theme, frame, area);
        }
        None => draw_line(state.current_notice(), &hints, theme, frame, area),
    }
}

/// The footer hints of a context, without the mutating keys when they are disabled.
pub fn short_hints(context: Context, read_only: bool) -> impl Iterator<Item = (&'static str, &'static str)> {
    keymap::in_context(context)
        .filter(move |b| !(b.mutating && read_only))
        .filter_map(|b| b.footer.map(|f| (b.label, f)))
}

/// A notice, then as many `(key, what)` hints as fit.
pub fn draw_line(
    notice: Option<&Notice>,
    hints: &[(&str, &str)],
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let s = &theme.styles;
    let width = area.width as usize;
    let mut spans: Vec<Span> = Vec::new();
    if let Some(notice) = notice {
        let (mark, style) = match notice.tone {
            Tone::Info => ("…", s.notice_info),
            Tone::Ok => ("✔", s.notice_ok),
            Tone::Error => ("✖", s.notice_error),
        };
        spans.push(Span::styled(format!(" {mark} "), style));
        spans.extend(text::spans(&notice.text, width.saturating_sub(4), style, theme));
        spans.push(Span::raw("  "));
    }
    let mut used: usize = spans
        .iter()
        .map(|sp| crate::tui::sanitize::width(&sp.content))
        .sum();
    for (key, what) in hints {
        let hint_width = crate::tui::sanitize::width(key) + what.len() + 3;
        if used + hint_width > width {
            break;
        }
        spans.push(Span::styled(format!(" {key}"), s.key));
        spans.push(Span::styled(format!(" {what} "), s.hint));
        used += hint_width;
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
