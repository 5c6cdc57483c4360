//! Making producer text safe to show: escaping invisible and control characters, quoting.

/// Longest piece of producer text (in chars) quoted in a rejection reason.
pub const QUOTE_MAX_CHARS: usize = 80;

/// Whether `c` must never reach a terminal or log line raw: control characters (C0, DEL,
/// C1), bidi controls that can reorder what an operator reads, and invisible formatting.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Text from producers made safe for a log line or a terminal: control characters,
/// escape sequences, C1 codes and bidi overrides are shown escaped (`\u{1b}`), never raw.
pub fn escape_text(text: &str) -> String {
    // Printable ASCII is by far the common case: one byte scan, one copy.
    let first = if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        None
    } else {
        text.char_indices()
            .find(|&(_, c)| needs_escape(c))
            .map(|(i, _)| i)
    };
    let Some(first) = first else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if needs_escape(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Producer text as it may appear in a reason: escaped, cut to `QUOTE_MAX_CHARS`, in quotes.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX_CHARS) {
        None => format!("\"{}\"", escape_text(text)),
        Some((cut, _)) => format!("\"{}\"... ({} bytes)", escape_text(&text[..cut]), text.len()),
    }
}
