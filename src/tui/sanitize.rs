//! Hostile producer text made safe for the terminal: escaped, and fitted to a display width.
//!
//! Control characters (C0, DEL, C1), bidi overrides and other invisible format characters are
//! shown as `\u{..}` (or `\n`, `\t`, `\r`) and never reach the terminal raw. Widths are display
//! columns (unicode-width), so wide characters keep columns aligned and are never split.

use std::borrow::Cow;

use unicode_width::UnicodeWidthStr;

/// A run of text that is either shown as-is or is the escaped form of unsafe characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub escaped: bool,
}

/// The mark appended to truncated text.
pub const ELLIPSIS: &str = "…";

/// Characters that must never be written raw: terminals interpret C0/C1 controls, and bidi
/// overrides or invisible format characters would make a line display something other
/// than what it contains.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn push_escaped(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// The text with every unsafe character escaped.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            push_escaped(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The text split into plain and escaped runs (so a view can style escapes distinctly).
pub fn pieces(text: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for c in text.chars() {
        let escaped = is_unsafe(c);
        if out.last().map(|p| p.escaped) != Some(escaped) {
            out.push(Piece {
                text: String::new(),
                escaped,
            });
        }
        if let Some(last) = out.last_mut() {
            if escaped {
                push_escaped(c, &mut last.text);
            } else {
                last.text.push(c);
            }
        }
    }
    out
}

/// Display width in terminal columns.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The escaped text, cut to at most `max_width` columns; a cut is marked with `…`.
pub fn fit(text: &str, max_width: usize) -> Vec<Piece> {
    let all = pieces(text);
    let total: usize = all.iter().map(|p| width(&p.text)).sum();
    if total <= max_width && width(&join(&all)) <= max_width {
        return all;
    }
    if max_width == 0 {
        return Vec::new();
    }
    let mut out = cut(&all, max_width - 1);
    out.push(Piece {
        text: ELLIPSIS.to_string(),
        escaped: false,
    });
    out
}

/// The escaped text, cut to `max_width` columns, as one string.
pub fn fit_string(text: &str, max_width: usize) -> String {
    join(&fit(text, max_width))
}

fn join(pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.text.as_str()).collect()
}

/// The longest prefix (char by char) whose joined display width stays within `limit`.
/// The width of the joined prefix is measured each step because a following character
/// (a variation selector, a joiner) can change the width of what precedes it.
fn cut(all: &[Piece], limit: usize) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut joined = String::new();
    for piece in all {
        let mut kept = String::new();
        for c in piece.text.chars() {
            joined.push(c);
            if width(&joined) > limit {
                joined.pop();
                push_piece(&mut out, kept, piece.escaped);
                return out;
            }
            kept.push(c);
        }
        push_piece(&mut out, kept, piece.escaped);
    }
    out
}

fn push_piece(out: &mut Vec<Piece>, text: String, escaped: bool) {
    if !text.is_empty() {
        out.push(Piece { text, escaped });
    }
}

/// The text fitted into exactly `columns` columns: cut if longer, padded with spaces if shorter.
pub fn pad(text: &str, columns: usize) -> String {
    let mut s = fit_string(text, columns);
    let w = width(&s);
    s.extend(std::iter::repeat_n(' ', columns.saturating_sub(w)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_c1_and_bidi() {
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\u{9b}31m"), "x\\u{9b}31m");
        assert_eq!(escape("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(escape("nul\0"), "nul\\u{0}");
        assert_eq!(escape("l1\nl2\t"), "l1\\nl2\\t");
        assert!(matches!(escape("plain 日本"), Cow::Borrowed(_)));
    }

    #[test]
    fn wide_characters_are_never_split() {
        // Each CJK character is two columns: 5 columns hold two of them and the ellipsis.
        assert_eq!(fit_string("日本語テキスト", 5), "日本…");
        assert_eq!(fit_string("日本語テキスト", 6), "日本…");
        assert_eq!(fit_string("日本", 4), "日本");
        assert_eq!(pad("日本", 6), "日本  ");
    }

    #[test]
    fn escaped_runs_are_marked() {
        let p = pieces("ok\u{1b}\u{7}done");
        assert_eq!(p.len(), 3);
        assert!(p[1].escaped);
        assert_eq!(p[1].text, "\\u{1b}\\u{7}");
    }
}
