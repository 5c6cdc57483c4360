//! The trace popup (`m`): the uid being typed, then where the message is — one block per
//! place, every text from the processor sanitised.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::api::wire::find::Location;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::trace::Trace;
use crate::tui::view::{centered, text};

const WIDTH: u16 = 84;
const HEIGHT: u16 = 20;

pub fn draw(_state: &State, t: &Trace, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let rect = centered(frame, area, WIDTH, HEIGHT);
    let width = rect.width.saturating_sub(2) as usize;
    let hint = Line::from(Span::styled(" Enter look up · Esc close · ↑↓ scroll ", s.muted));
    let block = Block::bordered()
        .title(Line::from(Span::styled(" Find a message ", s.title_focus)))
        .title_bottom(hint.right_aligned())
        .style(s.overlay)
        .border_style(s.overlay_border);
    let mut lines = vec![{
        let mut spans = vec![Span::styled("uid ", s.label)];
        spans.extend(text::spans(&t.input, width.saturating_sub(6), s.value, theme));
        spans.push(Span::styled("▏", s.title_focus));
        Line::from(spans)
    }];
    lines.push(Line::raw(""));
    lines.extend(body(t, width, theme));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((t.scroll, 0)), rect);
}

fn body(t: &Trace, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.styles;
    if let Some(e) = &t.error {
        return text::wrapped(&format!("cannot look it up: {e}"), width, s.error, theme);
    }
    if t.waiting() {
        return vec![Line::from(Span::styled("looking…", s.muted))];
    }
    let Some(report) = &t.report else {
        return text::wrapped(
            "Type a message's uid and press Enter: the console asks the processor where it is now \
             (committed, in flight, inbox, retry, stuck, corrupt, discarded).",
            width,
            s.muted,
            theme,
        );
    };
    let mut lines = Vec::new();
    for r in &report.results {
        let mut head = vec![Span::styled("uid ", s.label)];
        head.extend(text::spans(&r.uid, width.saturating_sub(4), s.value, theme));
        lines.push(Line::from(head));
        if r.places.is_empty() {
            lines.extend(text::wrapped(
                "not seen: not in inbox/, retry/, stuck/, discarded/, corrupt/ or the database",
                width,
                s.error,
                theme,
            ));
        }
        for place in &r.places {
            lines.extend(place_lines(place, width, theme));
        }
    }
    if report.index_pending > 0 {
        lines.push(Line::raw(""));
        lines.extend(text::wrapped(
            &format!(
                "{} files of retry/, stuck/ and discarded/ are not indexed yet (the processor started \
                 recently): a uid in one of them is not found until they are",
                report.index_pending
            ),
            width,
            s.muted,
            theme,
        ));
    }
    if let Some(e) = &report.database_error {
        lines.extend(text::wrapped(
            &format!("the database could not be asked: {e}"),
            width,
            s.error,
            theme,
        ));
    }
    for w in &report.warnings {
        lines.extend(text::wrapped(w, width, s.muted, theme));
    }
    lines
}

/// A place: its name in colour, then its facts as `label value` pairs.
fn place_lines(place: &Location, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.styles;
    let (name, style, facts): (&str, Style, Vec<(&str, String)>) = match place {
        Location::Committed {
            record_id,
            batch_id,
            committed_at,
            received,
            batch_source,
            source_file,
        } => (
            "committed",
            s.notice_ok,
            vec![
                ("record id", record_id.to_string()),
                (
                    "batch",
                    format!("#{batch_id} ({})", batch_source.as_deref().unwrap_or("?")),
                ),
                (
                    "committed",
                    committed_at.clone().unwrap_or_else(|| "batch row missing".into()),
                ),
                ("received", received.clone()),
                (
                    "source file",
                    source_file
                        .clone()
                        .map(|f| format!("retry file {f}"))
                        .unwrap_or_else(|| "not stored (inbox file names are not kept)".into()),
                ),
            ],
        ),
        Location::InFlight { file } => (
            "in flight",
            s.notice_info,
            vec![
                ("inbox file", file.clone()),
                ("state", "read, in the open batch, not durable yet".into()),
            ],
        ),
        Location::Inbox { file } => (
            "inbox",
            s.notice_info,
            vec![("file", file.clone()), ("state", "not read yet".into())],
        ),
        Location::Retry {
            file,
            attempts,
            last_error,
            next_attempt,
        } => (
            "retry",
            s.notice_info,
            vec![
                ("file", file.clone()),
                ("attempts", attempts.to_string()),
                (
                    "next attempt",
                    next_attempt.clone().unwrap_or_else(|| "now".into()),
                ),
                ("last error", last_error.clone()),
            ],
        ),
        Location::Stuck {
            file,
            attempts,
            last_error,
        } => (
            "stuck",
            s.error,
            vec![
                ("file", file.clone()),
                ("attempts", attempts.to_string()),
                ("last error", last_error.clone()),
            ],
        ),
        Location::Discarded {
            file,
            attempts,
            last_error,
        } => (
            "discarded",
            s.muted,
            vec![
                ("file", file.clone()),
                ("attempts", attempts.to_string()),
                ("last error", last_error.clone()),
            ],
        ),
        Location::Corrupt { file, reason } => (
            "corrupt",
            s.error,
            vec![("file", file.clone()), ("reason", reason.clone())],
        ),
    };
    let mut lines = vec![Line::from(vec![
        Span::raw("  "),
        Span::styled(name.to_string(), style),
    ])];
    for (label, value) in facts {
        let pad = format!("    {label:<13}");
        let mut spans = vec![Span::styled(pad, s.label)];
        spans.extend(text::spans(&value, width.saturating_sub(17), s.value, theme));
        lines.push(Line::from(spans));
    }
    lines
}
