//! The batch drill-down: one committed batch's messages (a page, one selected), and one
//! message with every field, insertion strings and attributes; all text sanitised.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::api::wire::find::StoredMessage;
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::theme::Theme;
use crate::tui::trace::BatchView;
use crate::tui::view::text;

pub fn draw(_state: &State, b: &BatchView, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let rect = Rect::new(area.x, area.y + 1, area.width, area.height.saturating_sub(2));
    frame.render_widget(Clear, rect);
    let width = rect.width.saturating_sub(2) as usize;
    let (title, hint, lines, scroll) = if b.open {
        let lines = match b.selected_message() {
            Some(m) => message(m, width, theme),
            None => vec![],
        };
        (
            format!(" Batch #{} · message ", b.batch.id),
            " Esc back · j/k scroll ",
            lines,
            b.scroll,
        )
    } else {
        let height = rect.height.saturating_sub(2) as usize;
        let (lines, scroll) = list(b, width, height, theme);
        (
            format!(" Batch #{} ", b.batch.id),
            " Esc back · j/k select · Enter open · [ ] pages ",
            lines,
            scroll,
        )
    };
    let block = Block::bordered()
        .title(Line::from(Span::styled(title, s.title_focus)))
        .title_bottom(Line::from(Span::styled(hint, s.muted)).right_aligned())
        .style(s.overlay)
        .border_style(s.overlay_border);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), rect);
}

/// The batch's facts, then one line per message; scrolled so the selection shows.
fn list(b: &BatchView, width: usize, height: usize, theme: &Theme) -> (Vec<Line<'static>>, u16) {
    let s = &theme.styles;
    // The server's row when it answered (the snapshot's may be older).
    let info = b.page.as_ref().map_or(&b.batch, |p| &p.batch);
    let ids = match (info.first_record_id, info.last_record_id) {
        (Some(a), Some(z)) => format!("{a}-{z}"),
        _ => "—".into(),
    };
    let from = match &info.source_file {
        Some(f) => format!("{} {f}", info.source),
        None => info.source.clone(),
    };
    let head = format!(
        "committed {}  rows {}  duplicates {}  record ids {ids}  {}  from {from}",
        info.committed_at,
        format::count(info.count),
        format::count(info.duplicates),
        format::millis(info.duration_ms)
    );
    let mut lines = text::wrapped(&head, width, s.muted, theme);
    if let Some(e) = &b.error {
        lines.push(Line::raw(""));
        lines.extend(text::wrapped(
            &format!("cannot load the messages: {e}"),
            width,
            s.error,
            theme,
        ));
        return (lines, 0);
    }
    let Some(page) = &b.page else {
        lines.push(Line::from(Span::styled("loading…", s.muted)));
        return (lines, 0);
    };
    let shown = if page.items.is_empty() {
        "none (pruned by retention, or a batch of duplicates only)".to_string()
    } else {
        format!(
            "{}-{} of {}",
            format::count(page.offset + 1),
            format::count(page.offset + page.items.len() as u64),
            format::count(page.total)
        )
    };
    lines.push(Line::from(Span::styled(
        format!("Messages {shown}"),
        s.title_focus,
    )));
    let header = format!(
        "  {:<10} {:<8} {:<24} {:<14} TEXT",
        "RECORD", "SEVERITY", "UID", "MACHINE"
    );
    lines.push(text::line(&header, width, s.table_header, theme));
    let first_row = lines.len();
    for (i, m) in page.items.iter().enumerate() {
        let style = if i == b.selected { s.selected } else { s.base };
        let marker = if i == b.selected { "▶ " } else { "  " };
        let row = format!(
            "{marker}{:<10} {:<8} {:<24} {:<14} {}",
            m.record_id,
            m.severity,
            truncate(&m.uid, 24),
            truncate(&m.machine, 14),
            m.insertion_strings
                .first()
                .map(String::as_str)
                .unwrap_or(&m.component)
        );
        lines.push(text::line(&row, width, style, theme));
    }
    let selected_line = first_row + b.selected;
    let scroll = (selected_line + 1).saturating_sub(height.max(1));
    (lines, scroll as u16)
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut t: String = text.chars().take(chars.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Every field of one stored message, one per line, long values wrapped.
fn message(m: &StoredMessage, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.styles;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let num = |v: Option<i64>| v.map_or("—".into(), |n| n.to_string());
    let fields: Vec<(&str, String)> = vec![
        ("record id", m.record_id.to_string()),
        ("uid", m.uid.clone()),
        ("message id", m.message_id.to_string()),
        ("severity", m.severity.clone()),
        ("component", m.component.clone()),
        ("machine", m.machine.clone()),
        ("site", m.site.clone()),
        ("time", m.time.clone()),
        ("module", opt(&m.module)),
        ("report type", opt(&m.report_type)),
        ("process id", num(m.process_id)),
        ("thread id", num(m.thread_id)),
        ("win32 error", num(m.win32_error)),
        ("received", m.received.clone()),
        ("batch", format!("#{}", m.batch_id)),
    ];
    let mut lines = Vec::new();
    let value_width = width.saturating_sub(14);
    let field = |label: String, value: &str, lines: &mut Vec<Line<'static>>| {
        for (i, l) in text::wrapped(value, value_width.max(1), s.value, theme)
            .into_iter()
            .enumerate()
        {
            let pad = if i == 0 {
                format!("{label:<13} ")
            } else {
                " ".repeat(14)
            };
            let mut spans = vec![Span::styled(pad, s.label)];
            spans.extend(l.spans);
            lines.push(Line::from(spans));
        }
    };
    for (label, value) in fields {
        field(label.to_string(), &value, &mut lines);
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        format!("Insertion strings ({})", m.insertion_strings.len()),
        s.title_focus,
    )));
    for (i, v) in m.insertion_strings.iter().enumerate() {
        field(format!("%{}", i + 1), v, &mut lines);
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        format!("Attributes ({})", m.attributes.len()),
        s.title_focus,
    )));
    for (id, v) in &m.attributes {
        field(format!("attr {id}"), v, &mut lines);
    }
    lines
}
