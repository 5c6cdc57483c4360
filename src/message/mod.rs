//! The status message: its type, parsing of inbox files, validation and uid derivation.

mod decode;
mod escape;
mod fields;
mod lines;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;
mod uid;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Limits;

pub use escape::{escape_text, needs_escape, quote, QUOTE_MAX_CHARS};
pub use uid::{derive_uid, DERIVED_UID_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One validated status message. `uid` is always set (derived from content when the
/// producer gave none). Serialized form is the inbox form, so retry files reuse it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub uid: String,
    pub message_id: i64,
    pub severity: Severity,
    pub component: String,
    pub machine: String,
    pub site: String,
    /// RFC 3339, as the producer gave it (validated).
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub win32_error: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insertion_strings: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<i64, String>,
}

/// What an inbox file held: the messages that passed, and (JSON Lines only) the lines
/// that did not, each to go to `corrupt/` on its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFile {
    pub messages: Vec<Message>,
    pub rejected: Vec<RejectedLine>,
}

/// One line of a JSON Lines file that failed; the rest of the file goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// The raw bytes of the line (without the newline).
    pub text: Vec<u8>,
    /// What, where (column) and why.
    pub reason: String,
}

/// The whole file is refused: it goes to `corrupt/` with this reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct FileRejected {
    /// What, where (line, column or byte offset) and why, in one readable sentence.
    pub reason: String,
}

/// How an inbox file is read, decided by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `*.json`: exactly one JSON object.
    Json,
    /// `*.jsonl`: one JSON object per non-empty line.
    JsonLines,
}

impl FileFormat {
    /// `None` for names that are not message files (temporary dot-files, other extensions).
    pub fn from_name(name: &str) -> Option<FileFormat> {
        if name.starts_with('.') {
            return None;
        }
        if name.ends_with(".jsonl") {
            Some(FileFormat::JsonLines)
        } else if name.ends_with(".json") {
            Some(FileFormat::Json)
        } else {
            None
        }
    }
}

/// Parse and validate one inbox file.
///
/// A `.json` file holds one message; any fault rejects the file. A `.jsonl` file holds one
/// message per non-empty line; a bad line is set aside on its own and the others go on.
pub fn parse_file(format: FileFormat, bytes: &[u8], limits: &Limits) -> Result<ParsedFile, FileRejected> {
    // Size first: nothing of a file over the limit is even looked at.
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(FileRejected::new(format!(
            "file is {} bytes, more than the limit of {} bytes",
            bytes.len(),
            limits.max_file_bytes
        )));
    }
    if bytes.is_empty() {
        return Err(FileRejected::new("empty file"));
    }
    if bytes.starts_with(UTF8_BOM) {
        return Err(FileRejected::new(
            "file starts with a UTF-8 byte order mark (bytes EF BB BF), which JSON does not allow",
        ));
    }
    match format {
        FileFormat::Json => parse_json(bytes, limits),
        FileFormat::JsonLines => lines::parse_lines(bytes, limits),
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses and validates one line of a JSON Lines file (without its newline) exactly as
/// an inbox line is: `line` is its 1-based number, which the reason names.
pub fn parse_line(text: &[u8], line: usize, limits: &Limits) -> Result<Message, String> {
    lines::parse_line(text, line, limits)
}

impl FileRejected {
    fn new(reason: impl Into<String>) -> Self {
        FileRejected {
            reason: reason.into(),
        }
    }
}

fn parse_json(bytes: &[u8], limits: &Limits) -> Result<ParsedFile, FileRejected> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let offset = error.valid_up_to();
        let (line, column) = lines::position(bytes, offset);
        FileRejected::new(format!(
            "byte offset {offset} (line {line}, column {column}): {}",
            lines::utf8_fault(bytes, &error)
        ))
    })?;
    if text.trim_ascii().is_empty() {
        return Err(FileRejected::new("empty file (only whitespace)"));
    }
    if limits.max_messages_per_file == 0 {
        return Err(FileRejected::new("more than 0 messages, the limit per file"));
    }
    let message = decode::decode(text, limits)
        .map_err(|error| FileRejected::new(lines::describe(&error, error.line())))?;
    Ok(ParsedFile {
        messages: vec![with_uid(message)],
        rejected: Vec::new(),
    })
}

/// The message with its uid derived from its content when the producer gave none.
fn with_uid(mut message: Message) -> Message {
    if message.uid.is_empty() {
        message.uid = derive_uid(&message);
    }
    message
}
