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

/// A piece of text that is never split when wrapping: a character, or one escape (`\u{1b}`).
struct Unit {
    text: String,
    escaped: bool,
    width: usize,
}

fn units(text: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    for piece in sanitize::pieces(text) {
        let parts: Vec<String> = if piece.escaped {
            split_escapes(&piece.text)
        } else {
            piece.text.chars().map(String::from).collect()
        };
        for part in parts {
            let width = part.chars().map(|c| c.width().unwrap_or(0)).sum();
            out.push(Unit {
                text: part,
                escaped: piece.escaped,
                width,
            });
        }
    }
    out
}

/// `text` escaped and word-wrapped at `width` columns; a word longer than a line is split
/// between characters (never inside a wide character or an escape).
pub fn wrapped(text: &str, width: usize, style: Style, theme: &Theme) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut lines: Vec<Vec<Unit>> = vec![Vec::new()];
    let mut used = 0;
    let mut units = units(text).into_iter().peekable();
    while let Some(unit) = units.next() {
        let is_space = !unit.escaped && unit.text == " ";
        if !is_space {
            // The rest of this word: it moves to the next line whole if it fits there.
            let mut word = vec![unit];
            while let Some(next) = units.next_if(|u| u.escaped || u.text != " ") {
                word.push(next);
            }
            let word_width: usize = word.iter().map(|u| u.width).sum();
            if used + word_width > width && used > 0 && word_width <= width {
                lines.push(Vec::new());
                used = 0;
            }
            for u in word {
                if used + u.width > width && used > 0 {
                    lines.push(Vec::new());
                    used = 0;
                }
                used += u.width;
                if let Some(line) = lines.last_mut() {
                    line.push(u);
                }
            }
        } else if used < width && used > 0 {
            used += 1;
            if let Some(line) = lines.last_mut() {
                line.push(unit);
            }
        }
    }
    lines
        .into_iter()
        .map(|l| Line::from(to_spans(merge(l), style, theme)))
        .collect()
}

fn merge(units: Vec<Unit>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for u in units {
        match out.last_mut() {
            Some(last) if last.escaped == u.escaped => last.text.push_str(&u.text),
            _ => out.push(Piece {
                text: u.text,
                escaped: u.escaped,
            }),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn wraps_between_words_and_splits_only_words_longer_than_a_line() {
        let t = Theme::plain();
        let s = Style::default();
        assert_eq!(
            plain(&wrapped("rejected by a trigger: SITE03-LEGACY", 20, s, &t)),
            ["rejected by a ", "trigger: ", "SITE03-LEGACY"]
        );
        assert_eq!(plain(&wrapped("abcdefghij", 4, s, &t)), ["abcd", "efgh", "ij"]);
        assert_eq!(
            plain(&wrapped("日本語のテキスト", 5, s, &t)),
            ["日本", "語の", "テキ", "スト"]
        );
        assert_eq!(plain(&wrapped("a \u{1b}[2J", 6, s, &t)), ["a ", "\\u{1b}", "[2J"]);
        assert_eq!(plain(&wrapped("", 6, s, &t)), [""]);
    }
}
