//! JSON Lines files, and the positions (line, column, byte offset) that reasons give.

use std::str::Utf8Error;

use super::escape::escape_text;
use super::{decode, with_uid, FileRejected, Message, ParsedFile, RejectedLine};
use crate::config::Limits;

/// Reads every non-empty line of a JSON Lines file as one message; a bad line is set
/// aside with its reason. Lines are slices of `bytes`: only rejected lines are copied.
pub(super) fn parse_lines(bytes: &[u8], limits: &Limits) -> Result<ParsedFile, FileRejected> {
    let max = limits.max_messages_per_file;
    let mut parsed = ParsedFile::default();
    let mut count = 0usize;
    for (index, text) in bytes.split(|&byte| byte == b'\n').enumerate() {
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = index + 1;
        count += 1;
        // Counting lines, not good messages, bounds the work and memory a file can cost.
        if count > max {
            return Err(FileRejected::new(format!(
                "more than {max} messages, the limit per file (line {line} is message {count})"
            )));
        }
        match parse_line(text, line, limits) {
            Ok(message) => parsed.messages.push(message),
            Err(reason) => parsed.rejected.push(RejectedLine {
                line,
                text: text.to_vec(),
                reason,
            }),
        }
    }
    if parsed.messages.is_empty() {
        return Err(FileRejected::new(match parsed.rejected.first() {
            None => "empty file (no message, only blank lines)".to_owned(),
            Some(first) if parsed.rejected.len() == 1 => {
                format!(
                    "no valid message: the only non-empty line is invalid: {}",
                    first.reason
                )
            }
            Some(first) => format!(
                "no valid message: all {} non-empty lines are invalid; the first: {}",
                parsed.rejected.len(),
                first.reason
            ),
        }));
    }
    Ok(parsed)
}

pub(super) fn parse_line(text: &[u8], line: usize, limits: &Limits) -> Result<Message, String> {
    let text = std::str::from_utf8(text).map_err(|error| {
        let offset = error.valid_up_to();
        format!("line {line}, column {}: {}", offset + 1, utf8_fault(text, &error))
    })?;
    // The line holds no newline, so serde_json's own line is always 1: give the file's.
    let message = decode::decode(text, limits).map_err(|error| describe(&error, line))?;
    Ok(with_uid(message))
}

/// A serde_json error as "line L, column C: what", with `line` in place of serde_json's.
pub(super) fn describe(error: &serde_json::Error, line: usize) -> String {
    let full = error.to_string();
    // serde_json puts the position at the end; we put it first, like every other reason.
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let what = full.strip_suffix(&suffix).unwrap_or(&full);
    // Every quote we make is escaped already; this guards any text serde_json adds.
    escape_text(&format!("line {line}, column {}: {what}", error.column()))
}

/// What is wrong at the first invalid UTF-8 byte.
pub(super) fn utf8_fault(bytes: &[u8], error: &Utf8Error) -> String {
    let offset = error.valid_up_to();
    match (error.error_len(), bytes.get(offset)) {
        (Some(_), Some(byte)) => format!("invalid UTF-8 (byte 0x{byte:02x})"),
        _ => "invalid UTF-8 (a multi-byte character is cut off at the end)".to_owned(),
    }
}

/// 1-based line and column (in bytes) of `offset` in `bytes`.
pub(super) fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = 1 + before.iter().filter(|&&byte| byte == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |at| at + 1);
    (line, before.len() - line_start + 1)
}
