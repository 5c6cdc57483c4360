//! Producer text into spans: always escaped, fitted to a width, escapes in their own style.
//! Every string that came over the API reaches the screen through here.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::tui::sanitize::{self, Piece};
use crate::tui::theme::Theme;

fn to_spans(pieces: Vec<Piece>, style: Style, theme: &Theme) -> Vec<Span<'static>> {
    pieces
        .into_iter()
        .map(|p| {
            let s = if p.escaped {
                style.patch(theme.styles.escaped)
            } else {
                style
            };
            Span::styled(p.text, s)
        })
        .collect()
}

/// `text` escaped and cut to `max_width` columns.
pub fn spans(text: &str, max_width: usize, style: Style, theme: &Theme) -> Vec<Span<'static>> {
    to_spans(sanitize::fit(text, max_width), style, theme)
}

/// `text` escaped, cut and padded to exactly `columns` columns.
pub fn cell(text: &str, columns: usize, style: Style, theme: &Theme) -> Vec<Span<'static>> {
    let mut out = spans(text, columns, style, theme);
    let used: usize = out.iter().map(|s| sanitize::width(&s.content)).sum();
    if used < columns {
        out.push(Span::styled(" ".repeat(columns - used), style));
    }
    out
}

pub fn line(text: &str, max_width: usize, style: Style, theme: &Theme) -> Line<'static> {
    Line::from(spans(text, max_width, style, theme))
}

/// `text` escaped and wrapped at `width` columns (wide characters are never split).
pub fn wrapped(text: &str, width: usize, style: Style, theme: &Theme) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    let mut used = 0;
    for piece in sanitize::pieces(text) {
        // An escape like `\u{1b}` is kept whole on one line when it fits.
        let units: Vec<String> = if piece.escaped {
            split_escapes(&piece.text)
        } else {
            piece.text.chars().map(String::from).collect()
        };
        for unit in units {
            let w: usize = unit.chars().map(|c| c.width().unwrap_or(0)).sum();
            if used + w > width && used > 0 {
                lines.push(Line::from(to_spans(std::mem::take(&mut current), style, theme)));
                used = 0;
            }
            match current.last_mut() {
                Some(last) if last.escaped == piece.escaped => last.text.push_str(&unit),
                _ => current.push(Piece {
                    text: unit,
                    escaped: piece.escaped,
                }),
            }
            used += w;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(Line::from(to_spans(current, style, theme)));
    }
    lines
}

/// `\u{1b}\n` → [`\u{1b}`, `\n`].
fn split_escapes(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in text.chars() {
        if c == '\\' || out.is_empty() {
            out.push(String::new());
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}
