//! Confirmation dialogs: they preview what the action will do, and what happens if the
//! cause of the failure is not fixed.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::api::wire::FileKind;
use crate::tui::format;
use crate::tui::state::{Confirm, State};
use crate::tui::theme::Theme;
use crate::tui::view::{centered, text};

const WIDTH: u16 = 72;

pub fn draw(state: &State, c: &Confirm, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let inner_w = WIDTH.min(area.width).saturating_sub(4) as usize;
    let (title, mut lines) = match c {
        Confirm::Requeue {
            kind,
            file,
            max_attempts,
        } => (
            " Requeue this file? ",
            requeue(state, *kind, file, *max_attempts, inner_w, theme),
        ),
        Confirm::Resync { allocator } => (" Resync the key allocator? ", resync(allocator, inner_w, theme)),
        Confirm::Bulk {
            preview,
            note,
            read_only,
            ..
        } => {
            let lines = bulk(preview, note, *read_only, inner_w, theme);
            let title = if *read_only {
                " Preview (read-only: nothing will change) "
            } else if preview.action == crate::api::wire::BulkAction::Discard {
                " Discard these files? (type a note, Enter) "
            } else if preview.action == crate::api::wire::BulkAction::Restore {
                " Restore these files to retry/? "
            } else {
                " Requeue these files? "
            };
            (title, lines)
        }
    };
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled(" y ", s.selected),
        Span::styled(" do it    ", s.overlay),
        Span::styled(" n ", s.key),
        Span::styled(" cancel (Esc)", s.overlay),
    ]));
    let rect = centered(frame, area, WIDTH, lines.len() as u16 + 2);
    let block = Block::bordered()
        .title(Span::styled(title, s.title_focus))
        .style(s.overlay)
        .border_style(s.overlay_border);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn requeue(
    state: &State,
    kind: FileKind,
    file: &crate::api::wire::FileSummary,
    max_attempts: u32,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let s = &theme.styles;
    let mut name = vec![Span::styled("file      ", s.label)];
    name.extend(text::spans(&file.name, width.saturating_sub(10), s.value, theme));
    // The whole error, wrapped (at most 4 lines): it is what the operator decides on.
    let mut error_lines = text::wrapped(&file.last_error, width.saturating_sub(10), s.error, theme);
    error_lines.truncate(4);
    let error: Vec<Line<'static>> = error_lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let label = if i == 0 { "error     " } else { "          " };
            let mut spans = vec![Span::styled(label, s.label)];
            spans.extend(line.spans);
            Line::from(spans)
        })
        .collect();
    let (moves, if_not_fixed) = match kind {
        FileKind::Stuck => (
            "stuck/ → retry/, due now".to_string(),
            format!(
                "a message the database refuses comes back to stuck/ at once; a transient cause \
                 (locked, full) is retried with backoff up to {max_attempts} times, then stuck/ again"
            ),
        ),
        FileKind::Discarded => (
            "discarded/ → retry/, due now (restore)".to_string(),
            format!("it is retried with backoff up to {max_attempts} times, then goes to stuck/"),
        ),
        FileKind::Retry => {
            let next = file.next_attempt_in_s.map(|n| n - state.snapshot_age_s());
            (
                format!(
                    "stays in retry/, due now (instead of {})",
                    format::next_attempt(next)
                ),
                format!("it fails again, backs off, and after {max_attempts} attempts moves to stuck/"),
            )
        }
    };
    let plain = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{label:<10}"), s.label),
            Span::styled(value, s.overlay),
        ])
    };
    vec![
        Line::from(name),
        plain(
            "holds",
            format!(
                "{} messages, {} failed attempts so far",
                format::count(file.messages),
                file.attempts
            ),
        ),
    ]
    .into_iter()
    .chain(error)
    .chain([
        plain("moves", moves),
        Line::raw(""),
        Line::from(Span::styled("If the cause is not fixed:", s.warn)),
    ])
    .chain(text::wrapped(&if_not_fixed, width, s.overlay, theme))
    .collect()
}

/// The preview of a bulk action: the same summary the server and the CLI give.
fn bulk(
    p: &crate::api::wire::BulkPreview,
    note: &str,
    read_only: bool,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let s = &theme.styles;
    let mut lines: Vec<Line<'static>> = crate::api::preview::render(p, 5)
        .iter()
        .flat_map(|l| text::wrapped(l, width, s.overlay, theme))
        .collect();
    if p.action == crate::api::wire::BulkAction::Discard && !read_only {
        let mut spans = vec![Span::styled("note      ", s.label)];
        spans.extend(text::spans(note, width.saturating_sub(11), s.value, theme));
        spans.push(Span::styled("█", s.key));
        lines.push(Line::from(spans));
    }
    lines.push(text::line(
        "Only these files, at the version shown, are acted on; any that changed since are skipped and reported.",
        width,
        s.muted,
        theme,
    ));
    lines
}

fn resync(a: &crate::api::wire::AllocatorInfo, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.styles;
    let lines = [
        format!(
            "The allocator re-reads MAX(record_id) from the database (last seen {}),",
            format::id(a.db_max_id)
        ),
        format!(
            "moves its next id ({}) above it; past the end of its block ({}) it reserves a new",
            format::id(a.next_id),
            format::id(a.block_end.saturating_sub(1))
        ),
        "block durably. Ids are never handed out twice; skipped ids are not reused.".into(),
        String::new(),
        "Safe at any time; batches wait for the new block (milliseconds).".into(),
    ];
    lines
        .iter()
        .map(|l| text::line(l, width, s.overlay, theme))
        .collect()
}
