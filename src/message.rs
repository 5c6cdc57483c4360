//! The status message: its type, parsing of inbox files, validation and uid derivation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Limits;

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
pub fn parse_file(format: FileFormat, bytes: &[u8], limits: &Limits) -> Result<ParsedFile, FileRejected> {
    let _ = (format, bytes, limits);
    todo!("message parsing")
}

/// The uid of a message the producer gave none: a hash of its content.
pub fn derive_uid(message: &Message) -> String {
    let _ = message;
    todo!("uid derivation")
}

/// Text from producers made safe for a log line or a terminal: control characters,
/// escape sequences, C1 codes and bidi overrides are shown escaped (`\u{1b}`), never raw.
pub fn escape_text(text: &str) -> String {
    let _ = text;
    todo!("escape")
}
