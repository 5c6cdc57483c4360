//! The detail view of one retry or stuck file: its error in full, every attempt, its messages.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::api::wire::{FileKind, Message};
use crate::tui::format;
use crate::tui::state::{Detail, State};
use crate::tui::theme::Theme;
use crate::tui::view::text;

pub fn draw(state: &State, d: &Detail, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    // The whole screen between the header and the footer: the error and messages need room.
    let rect = Rect::new(area.x, area.y + 1, area.width, area.height.saturating_sub(2));
    frame.render_widget(Clear, rect);
    let kind = match d.kind {
        FileKind::Retry => "Retry file ",
        FileKind::Stuck => "Stuck file ",
        FileKind::Discarded => "Discarded file ",
    };
    let mut title = vec![Span::styled(format!(" {kind}"), s.title_focus)];
    title.extend(text::spans(
        &d.summary.name,
        rect.width as usize / 2,
        s.title_focus,
        theme,
    ));
    title.push(Span::raw(" "));
    let hint = Line::from(Span::styled(
        " Esc back · j/k scroll · [ ] messages · r requeue ",
        s.muted,
    ));
    let block = Block::bordered()
        .title(Line::from(title))
        .title_bottom(hint.right_aligned())
        .style(s.overlay)
        .border_style(s.overlay_border);
    let width = rect.width.saturating_sub(2) as usize;
    let lines = body(state, d, width, theme);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((d.scroll, 0)), rect);
}

fn body(state: &State, d: &Detail, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.styles;
    let f = &d.summary;
    let aged = state.snapshot_age_s();
    let mut lines = vec![Line::from(vec![
        Span::styled("messages ", s.label),
        Span::styled(format::count(f.messages), s.value),
        Span::styled("  attempts ", s.label),
        Span::styled(f.attempts.to_string(), s.value),
        Span::styled("  age ", s.label),
        Span::styled(format::age(f.age_s + aged), s.value),
        Span::styled("  next attempt ", s.label),
        Span::styled(
            match f.next_attempt_in_s {
                Some(n) => format::next_attempt(Some(n - aged)),
                None => "never (stuck: only an operator's requeue)".into(),
            },
            s.value,
        ),
    ])];
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled("Last error", s.title_focus)));
    lines.extend(text::wrapped(&f.last_error, width, s.error, theme));
    if let Some(e) = &d.error {
        lines.push(Line::raw(""));
        lines.extend(text::wrapped(
            &format!("cannot load the file: {e}"),
            width,
            s.error,
            theme,
        ));
        return lines;
    }
    let Some(detail) = &d.detail else {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled("loading…", s.muted)));
        return lines;
    };
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        format!("Attempts ({})", detail.history.len()),
        s.title_focus,
    )));
    for a in &detail.history {
        let mut spans = text::spans(format::clock(&a.time), 8, s.muted, theme);
        spans.push(Span::raw("  "));
        spans.extend(text::spans(&a.error, width.saturating_sub(10), s.base, theme));
        lines.push(Line::from(spans));
    }
    let m = &detail.messages;
    lines.push(Line::raw(""));
    let shown = if m.items.is_empty() {
        "none".to_string()
    } else {
        let last = m.offset + m.items.len() as u64;
        format!(
            "{}-{} of {}",
            format::count(m.offset + 1),
            format::count(last),
            format::count(m.total)
        )
    };
    lines.push(Line::from(Span::styled(
        format!("Messages {shown}"),
        s.title_focus,
    )));
    for msg in &m.items {
        lines.extend(message(msg, width, theme));
    }
    lines
}

fn message(m: &Message, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.styles;
    let head = format!(
        "#{} {} {} @ {} / {}  {}",
        m.message_id,
        m.severity.as_str(),
        m.component,
        m.machine,
        m.site,
        m.time
    );
    let mut lines = vec![text::line(&head, width, s.value, theme)];
    let mut extra: Vec<String> = vec![format!("uid {}", m.uid)];
    if let Some(module) = &m.module {
        extra.push(format!("module {module}"));
    }
    if let Some(report) = &m.report_type {
        extra.push(format!("report {report}"));
    }
    for (i, text) in m.insertion_strings.iter().enumerate() {
        extra.push(format!("%{} {text}", i + 1));
    }
    for (id, value) in &m.attributes {
        extra.push(format!("attr {id} = {value}"));
    }
    for e in extra {
        let mut spans = vec![Span::raw("    ")];
        spans.extend(text::spans(&e, width.saturating_sub(4), s.muted, theme));
        lines.push(Line::from(spans));
    }
    lines
}
