//! The events panel: the tail of the event stream, newest at the bottom, operator actions
//! included. Consecutive batch commits are folded into one line: they have their own panel,
//! and at full speed they would push everything else out of view.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::api::wire::{Event, EventKind};
use crate::tui::format::{self, Tone};
use crate::tui::state::{Focus, State};
use crate::tui::theme::Theme;
use crate::tui::view::{focused, panel, text};

/// One line of the panel: the time of its (last) event, a tone and the text.
pub struct EventLine {
    pub time: String,
    pub tone: Tone,
    pub text: String,
}

/// The events as lines, oldest first, with runs of batch commits folded.
pub fn lines<'a>(events: impl Iterator<Item = &'a Event>) -> Vec<EventLine> {
    let mut out: Vec<EventLine> = Vec::new();
    // (batches, rows, first batch id) of the run of commits at the end of `out`.
    let mut run: Option<(u64, u64, i64)> = None;
    for e in events {
        if let EventKind::BatchCommitted { batch } = &e.kind {
            if let (Some((n, rows, first)), Some(last)) = (run.as_mut(), out.last_mut()) {
                *n += 1;
                *rows += batch.count;
                last.time = e.time.clone();
                last.text = format!(
                    "{n} batches committed {} rows (#{first}-#{})",
                    format::count(*rows),
                    batch.id
                );
                continue;
            }
            run = Some((1, batch.count, batch.id));
        } else {
            run = None;
        }
        let (tone, text) = format::describe(&e.kind);
        out.push(EventLine {
            time: e.time.clone(),
            tone,
            text,
        });
    }
    out
}

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let has_focus = focused(state, Focus::Events);
    draw_titled(state, vec![Span::raw("Events")], has_focus, theme, frame, area);
}

/// The panel under another title (the fleet screen names the processor).
pub fn draw_titled(
    state: &State,
    title: Vec<Span<'static>>,
    has_focus: bool,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let s = &theme.styles;
    let t = &state.timeline;
    let jump = t.jump.as_ref();
    let all = match jump {
        Some(j) => lines(j.events.iter()),
        None => lines(t.older.iter().chain(state.events.iter())),
    };
    let mut block = panel(title, has_focus, theme);
    let prompt_rows = u16::from(t.prompt.is_some());
    let rows = area.height.saturating_sub(2 + prompt_rows) as usize;
    let (start, end) = match jump {
        Some(j) => {
            let start = folded_index(&j.events, j.top).min(all.len().saturating_sub(rows));
            (start, (start + rows).min(all.len()))
        }
        None => {
            let back = state.events_scroll.min(all.len().saturating_sub(rows));
            let end = all.len() - back;
            (end.saturating_sub(rows), end)
        }
    };
    let note = if t.loading { " loading…" } else { "" };
    if let Some(j) = jump {
        let title = format!(" at {} (G: live){note} ", j.from);
        block = block.title_top(Line::from(Span::styled(title, s.warn)).right_aligned());
    } else if end < all.len() || !t.older.is_empty() {
        let back = all.len() - end;
        let title = if t.start_reached && start == 0 {
            format!(" ↑ {back} back, oldest kept (G: newest){note} ")
        } else {
            format!(" ↑ {back} back (G: newest){note} ")
        };
        block = block.title_top(Line::from(Span::styled(title, s.warn)).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut shown: Vec<Line> = Vec::new();
    if let Some(text) = &t.prompt {
        let mut spans = vec![Span::styled("jump to: ", s.label)];
        spans.extend(text::spans(&format!("{text}▏"), 40, s.value, theme));
        spans.push(Span::styled("  -24h, 03:12 (UTC), RFC 3339; Enter Esc", s.muted));
        shown.push(Line::from(spans));
    }
    if all.is_empty() {
        shown.push(Line::from(Span::styled("no events yet", s.muted)));
        frame.render_widget(Paragraph::new(shown), inner);
        return;
    }
    let width = inner.width as usize;
    shown.extend(all[start..end].iter().map(|l| {
        let style = match l.tone {
            Tone::Normal => s.base,
            Tone::Good => s.ok,
            Tone::Warn => s.warn,
            Tone::Bad => s.error,
            Tone::Operator => s.operator,
        };
        let mut spans = text::spans(format::clock(&l.time), 8, s.muted, theme);
        spans.push(Span::raw(" "));
        spans.extend(text::spans(&l.text, width.saturating_sub(9), style, theme));
        Line::from(spans)
    }));
    frame.render_widget(Paragraph::new(shown), inner);
}

/// The line that shows event `index` of `events` once batch commits are folded.
fn folded_index(events: &[Event], index: usize) -> usize {
    lines(events[..index.min(events.len())].iter()).len()
}
