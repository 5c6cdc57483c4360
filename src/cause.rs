//! Causes: the last error of a retry or stuck file, normalised (numbers, record ids, uids,
//! file names and quoted values masked) so that files that failed for one reason group
//! together, and a short stable id for each cause.

use sha2::{Digest, Sha256};

/// Longest cause text kept (bytes); the rest of a long error adds nothing to the grouping.
const MAX_CAUSE: usize = 300;

/// The error with its variable parts masked: `"…"` for a quoted value, `#` for a number,
/// `<id>` for a hex or uuid-like token, `<file>` for a file name and `<path>` for a path.
pub fn normalise(error: &str) -> String {
    let unquoted = mask_quotes(error);
    let mut out = String::with_capacity(unquoted.len());
    let mut word = String::new();
    for c in unquoted.chars() {
        if is_word_char(c) {
            word.push(c);
            continue;
        }
        flush_word(&mut word, &mut out);
        if c.is_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    flush_word(&mut word, &mut out);
    let trimmed = out.trim_end();
    let mut end = trimmed.len().min(MAX_CAUSE);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    trimmed[..end].to_string()
}

/// A short stable id of a normalised cause (12 hex digits of its SHA-256).
pub fn cause_id(normalised: &str) -> String {
    let digest = Sha256::digest(normalised.as_bytes());
    hex::encode(&digest[..6])
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '+')
}

/// `"..."` and `'...'` (with backslash escapes) become `"…"`.
fn mask_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' && c != '\'' {
            out.push(c);
            continue;
        }
        // An apostrophe inside a word ("can't") is not a quote.
        if c == '\'' && out.chars().last().is_some_and(char::is_alphanumeric) {
            out.push(c);
            continue;
        }
        let mut closed = false;
        let mut escaped = false;
        let mut inner = String::new();
        for d in chars.by_ref() {
            if escaped {
                escaped = false;
            } else if d == '\\' {
                escaped = true;
            } else if d == c {
                closed = true;
                break;
            }
            inner.push(d);
        }
        if closed {
            out.push(c);
            out.push('…');
            out.push(c);
        } else {
            out.push(c);
            out.push_str(&inner);
        }
    }
    out
}

fn flush_word(word: &mut String, out: &mut String) {
    if word.is_empty() {
        return;
    }
    out.push_str(&mask_word(word));
    word.clear();
}

fn mask_word(word: &str) -> String {
    let core = word.trim_end_matches('.');
    let dots = &word[core.len()..];
    if core.contains('/') {
        return format!("<path>{dots}");
    }
    if !core.chars().any(|c| c.is_ascii_digit()) {
        return word.to_string();
    }
    if looks_like_file(core) {
        return format!("<file>{dots}");
    }
    let hexish = core.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if hexish && core.len() >= 8 && core.chars().any(|c| c.is_ascii_alphabetic() || c == '-') {
        return format!("<id>{dots}");
    }
    let mut out = String::with_capacity(word.len());
    let mut in_number = false;
    for c in core.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out.push_str(dots);
    out
}

/// `1700000000000-00000001.batch`, `x.json`: a stem and an alphabetic extension.
fn looks_like_file(word: &str) -> bool {
    match word.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty() && (1..=8).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_cause(a: &str, b: &str) {
        assert_eq!(normalise(a), normalise(b), "{a:?} vs {b:?}");
        assert_eq!(cause_id(&normalise(a)), cause_id(&normalise(b)));
    }

    #[test]
    fn a_trigger_rejection_is_one_cause_whatever_the_uid_and_record_id() {
        // The text `Fail::Message` + `classify::constraint` produce (src/processor/sqlite.rs).
        let a = "message uid \"a\" (record id 17): rejected by a database trigger: poison machine";
        let b = "message uid \"6f1c-77\" (record id 90210): rejected by a database trigger: poison machine";
        same_cause(a, b);
        assert_eq!(
            normalise(a),
            "message uid \"…\" (record id #): rejected by a database trigger: poison machine"
        );
        let other = "message uid \"a\" (record id 17): rejected by a database trigger: site ZZ is closed";
        assert_ne!(normalise(a), normalise(other));
    }

    #[test]
    fn real_processor_errors_group_by_their_reason() {
        same_cause(
            "a database table is locked by another statement or connection (database table is locked: status_messages)",
            "a database table is locked by another statement or connection (database table is locked: status_messages)",
        );
        same_cause(
            "disk I/O error while writing the database or its WAL (SQLite code 778); check the disk",
            "disk I/O error while writing the database or its WAL (SQLite code 266); check the disk",
        );
        same_cause(
            "record id 5 (message uid \"u5\") already has insertion strings or attributes (rows another writer left)",
            "record id 77 (message uid \"x\") already has insertion strings or attributes (rows another writer left)",
        );
        same_cause(
            "the database refused a value: UNIQUE constraint failed: status_messages.uid",
            "the database refused a value: UNIQUE constraint failed: status_messages.uid",
        );
        same_cause(
            "cannot write 1700000000000-00000001-42.batch: No space left on device (os error 28)",
            "cannot write 1800000000000-00000099-7.batch: No space left on device (os error 28)",
        );
        same_cause(
            "cannot open /var/lib/statmgr/statmgr.db: denied",
            "cannot open /srv/other/statmgr.db: denied",
        );
        same_cause(
            "record ids still conflicted after 5 resyncs: another writer is taking the same ids",
            "record ids still conflicted after 6 resyncs: another writer is taking the same ids",
        );
    }

    #[test]
    fn ids_and_uuids_are_masked_words_are_kept() {
        assert_eq!(
            normalise("uid 550e8400-e29b-41d4-a716-446655440000 failed"),
            "uid <id> failed"
        );
        assert_eq!(normalise("can't   open\tx"), "can't open x");
        assert_eq!(normalise("busy timeout 5s."), "busy timeout #s.");
        assert_eq!(normalise("unterminated \"quote"), "unterminated \"quote");
        assert_eq!(normalise(""), "");
        assert_eq!(cause_id("x").len(), 12);
    }

    #[test]
    fn a_long_error_is_cut_on_a_character_boundary() {
        let long = "é".repeat(400);
        let n = normalise(&long);
        assert!(n.len() <= MAX_CAUSE);
        assert!(n.chars().all(|c| c == 'é'));
    }
}
