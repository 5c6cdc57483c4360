//! The shared key sequence on the fleet screen: per database, the highest high-water mark and
//! database max id any processor reported, the block each processor holds (with a map, so
//! overlaps are seen as well as read), and a warning when two blocks overlap.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::fleet::{sequences, Block, Fleet, Sequence};
use crate::tui::format;
use crate::tui::sanitize;
use crate::tui::theme::Theme;
use crate::tui::view::{panel, text};

/// Widest a processor's name is shown here.
const NAME: usize = 16;
/// Narrowest map of the blocks worth drawing.
const MIN_MAP: usize = 10;

/// Rows the panel wants: its lines and its border.
pub fn height(fleet: &Fleet) -> u16 {
    let seqs = sequences(fleet);
    let labelled = labelled(&seqs);
    let lines: usize = seqs
        .iter()
        .map(|s| {
            let warn = if s.overlaps.is_empty() {
                0
            } else {
                s.overlaps.len() + 1
            };
            usize::from(labelled) + 1 + s.members.len() + warn
        })
        .sum();
    lines as u16 + 2
}

/// Database labels are shown when there is more than one, or one was given.
fn labelled(seqs: &[Sequence]) -> bool {
    seqs.len() > 1 || seqs.iter().any(|s| !s.database.is_empty())
}

pub fn draw(fleet: &Fleet, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    let seqs = sequences(fleet);
    let mut title = vec![Span::raw("Key sequence")];
    if seqs.iter().any(|q| !q.overlaps.is_empty()) {
        title.push(Span::styled(" ⚠ BLOCKS OVERLAP ", s.error));
    }
    let block = panel(title, false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let labelled = labelled(&seqs);
    let mut lines = Vec::new();
    for seq in &seqs {
        if labelled {
            let name = if seq.database.is_empty() {
                "(unlabelled)"
            } else {
                &seq.database
            };
            let mut spans = vec![Span::styled("database ", s.label)];
            spans.extend(text::spans(name, width.saturating_sub(9), s.title, theme));
            lines.push(Line::from(spans));
        }
        lines.push(summary(seq, theme));
        let name_w = seq
            .members
            .iter()
            .map(|i| sanitize::width(&sanitize::escape(&fleet.members[*i].name)).min(NAME))
            .max()
            .unwrap_or(0);
        let what_w = seq
            .members
            .iter()
            .map(|i| sanitize::width(&holding(fleet, seq, *i)))
            .max()
            .unwrap_or(0);
        for i in &seq.members {
            lines.push(member_line(fleet, seq, *i, (name_w, what_w), width, theme));
        }
        lines.extend(warnings(fleet, seq, width, theme));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn summary(seq: &Sequence, theme: &Theme) -> Line<'static> {
    let s = &theme.styles;
    let id = |v: Option<i64>| v.map_or("—".into(), format::id);
    Line::from(vec![
        Span::styled("highest high-water ", s.label),
        Span::styled(id(seq.high_water), s.value),
        Span::styled("   highest db max id ", s.label),
        Span::styled(id(seq.db_max_id), s.value),
        Span::styled(
            format!("   {} of {} hold ids", seq.blocks.len(), seq.members.len()),
            s.muted,
        ),
    ])
}

/// What a processor holds, as text: its block, "holds no ids" or "no report yet".
fn holding(fleet: &Fleet, seq: &Sequence, i: usize) -> String {
    let m = &fleet.members[i];
    let what = match (seq.blocks.iter().find(|b| b.member == i), &m.state.snapshot) {
        (_, None) => "no report yet".to_string(),
        (None, Some(_)) => "holds no ids".to_string(),
        (Some(b), Some(_)) => format!(
            "holds {}-{} ({} ids)",
            format::id(b.start),
            format::id(b.end - 1),
            format::count((b.end - b.start) as u64)
        ),
    };
    let stale = if m.state.is_connected() {
        ""
    } else {
        " (last known)"
    };
    format!("{what}{stale}")
}

fn member_line(
    fleet: &Fleet,
    seq: &Sequence,
    i: usize,
    widths: (usize, usize),
    width: usize,
    theme: &Theme,
) -> Line<'static> {
    let s = &theme.styles;
    let (name_w, what_w) = widths;
    let mut spans = vec![Span::raw("  ")];
    spans.extend(text::cell(&fleet.members[i].name, name_w, s.value, theme));
    spans.push(Span::raw("  "));
    let block = seq.blocks.iter().find(|b| b.member == i);
    let overlapping = seq.overlaps.iter().any(|(a, b)| *a == i || *b == i);
    let style = match block {
        None => s.muted,
        Some(_) if overlapping => s.error,
        Some(_) => s.value,
    };
    spans.extend(text::cell(&holding(fleet, seq, i), what_w, style, theme));
    let room = width.saturating_sub(2 + name_w + 2 + what_w + 2);
    if let (Some(b), true) = (block, room >= MIN_MAP) {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(map(seq, b, room), style));
    }
    Line::from(spans)
}

/// Where `block` sits among all the sequence's blocks, as a bar `room` columns wide.
fn map(seq: &Sequence, block: &Block, room: usize) -> String {
    let low = seq.blocks.iter().map(|b| b.start).min().unwrap_or(block.start);
    let high = seq.blocks.iter().map(|b| b.end).max().unwrap_or(block.end);
    let span = (high - low).max(1) as f64;
    let col = |id: i64| (((id - low) as f64 / span) * room as f64).round() as usize;
    let from = col(block.start).min(room.saturating_sub(1));
    let to = col(block.end).clamp(from + 1, room);
    format!(
        "{}{}{}",
        "·".repeat(from),
        "━".repeat(to - from),
        "·".repeat(room - to)
    )
}

fn warnings(fleet: &Fleet, seq: &Sequence, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.styles;
    if seq.overlaps.is_empty() {
        return Vec::new();
    }
    let block = |i: usize| seq.blocks.iter().find(|b| b.member == i).copied();
    let mut out: Vec<Line> = seq
        .overlaps
        .iter()
        .filter_map(|(a, b)| {
            let (x, y) = (block(*a)?, block(*b)?);
            let text_ = format!(
                "⚠ {} and {} both hold {}-{}: the same record id could be written twice",
                sanitize::fit_string(&fleet.members[*a].name, NAME),
                sanitize::fit_string(&fleet.members[*b].name, NAME),
                format::id(x.start.max(y.start)),
                format::id(x.end.min(y.end) - 1),
            );
            Some(text::line(&text_, width, s.error, theme))
        })
        .collect();
    let hint = "separate databases? give each processor its own `database =` in a --processors file";
    out.push(text::line(hint, width, s.muted, theme));
    out
}
