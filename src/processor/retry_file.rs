//! The retry-file format: a header line, then one message per line (JSON Lines). The same
//! format is used in `retry/` and `stuck/`; files are written durably and atomically.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::api::wire::Attempt;
use crate::message::Message;
use crate::processor::dirs::{sync_dir, write_durably};
use crate::processor::telemetry::FileEntry;

/// Marker and version of the format, the first key of every header.
pub const FORMAT_VERSION: u32 = 1;
/// Attempts kept in a file's history.
const HISTORY: usize = 20;
/// A header line longer than this is not a header (a torn or foreign file).
const MAX_HEADER_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryHeader {
    pub statmgr_retry: u32,
    /// Messages that follow the header.
    pub messages: u64,
    pub attempts: u32,
    pub last_error: String,
    /// Milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Wall-clock time of the next attempt, ms since the epoch (0: due now).
    pub next_attempt_ms: u64,
    #[serde(default)]
    pub history: Vec<Attempt>,
}

/// Why a retry or stuck file could not be read: it goes to `corrupt/` with this reason.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Corrupt(String),
}

pub fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms)
}

impl RetryHeader {
    pub fn new(messages: u64, error: &str, now: SystemTime) -> RetryHeader {
        RetryHeader {
            statmgr_retry: FORMAT_VERSION,
            messages,
            attempts: 0,
            last_error: error.to_string(),
            created_ms: ms_since_epoch(now),
            next_attempt_ms: 0,
            history: Vec::new(),
        }
    }

    /// Records one failed attempt.
    pub fn failed(&mut self, error: &str, now: SystemTime) {
        self.attempts += 1;
        self.last_error = error.to_string();
        self.history.push(Attempt {
            time: crate::processor::telemetry::rfc3339(now),
            error: error.to_string(),
        });
        if self.history.len() > HISTORY {
            let drop = self.history.len() - HISTORY;
            self.history.drain(..drop);
        }
    }

    pub fn entry(&self, name: &str, retry: bool) -> FileEntry {
        FileEntry {
            name: name.to_string(),
            messages: self.messages,
            attempts: self.attempts,
            next_attempt: retry.then(|| from_ms(self.next_attempt_ms)),
            last_error: self.last_error.clone(),
            created: from_ms(self.created_ms),
        }
    }
}

/// Serializes a header and its messages.
pub fn encode(header: &RetryHeader, messages: &[Message]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + messages.len() * 300);
    serde_json::to_writer(&mut out, header).expect("a header serializes");
    out.push(b'\n');
    for m in messages {
        serde_json::to_writer(&mut out, m).expect("a message serializes");
        out.push(b'\n');
    }
    out
}

/// Writes `dir/name` durably (temporary file, fsync, rename, fsync of the directory).
pub fn write(dir: &Path, name: &str, header: &RetryHeader, messages: &[Message]) -> std::io::Result<()> {
    write_durably(dir, name, &encode(header, messages)).map(|_| ())
}

/// Moves `from/name` to `to/target` with a new header and message list: rewritten in
/// place first, then one rename, so that after a crash the file is in exactly one of the
/// two directories (a copy in each would be retried and also left stuck).
pub fn move_to(
    from: &Path,
    name: &str,
    to: &Path,
    target: &str,
    header: &RetryHeader,
    messages: &[Message],
) -> std::io::Result<()> {
    write(from, name, header, messages)?;
    crate::failpoint!("move.before_rename", io, to);
    std::fs::rename(from.join(name), to.join(target))?;
    crate::failpoint!("move.before_dir_sync", io, to);
    sync_dir(to)?;
    sync_dir(from)
}

/// Reads only the header line, cheap for large files.
pub fn read_header(path: &Path) -> Result<RetryHeader, ReadError> {
    let mut line = Vec::new();
    BufReader::new(File::open(path)?.take(MAX_HEADER_BYTES)).read_until(b'\n', &mut line)?;
    parse_header(&line)
}

fn parse_header(line: &[u8]) -> Result<RetryHeader, ReadError> {
    if !line.ends_with(b"\n") {
        return Err(ReadError::Corrupt(
            "header line is incomplete (the file is torn)".into(),
        ));
    }
    let header: RetryHeader = serde_json::from_slice(line)
        .map_err(|e| ReadError::Corrupt(format!("header line, column {}: {e}", e.column())))?;
    if header.statmgr_retry != FORMAT_VERSION {
        return Err(ReadError::Corrupt(format!(
            "format version {} is not {FORMAT_VERSION}",
            header.statmgr_retry
        )));
    }
    Ok(header)
}

/// Reads and checks the whole file: every message line must parse and their count must
/// match the header, so a torn or edited file is detected, never half-replayed.
pub fn read(path: &Path) -> Result<(RetryHeader, Vec<Message>), ReadError> {
    let bytes = std::fs::read(path)?;
    decode(&bytes)
}

pub fn decode(bytes: &[u8]) -> Result<(RetryHeader, Vec<Message>), ReadError> {
    let header_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(bytes.len());
    let header = parse_header(&bytes[..header_end])?;
    let body = &bytes[header_end..];
    if !body.is_empty() && !body.ends_with(b"\n") {
        return Err(ReadError::Corrupt(
            "the last message line is incomplete (the file is torn)".into(),
        ));
    }
    let mut messages = Vec::with_capacity(header.messages.min(1_000_000) as usize);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let m: Message = serde_json::from_slice(line).map_err(|e| {
            ReadError::Corrupt(format!(
                "line {}, column {}: not a message: {e}",
                i + 2,
                e.column()
            ))
        })?;
        messages.push(m);
    }
    if messages.len() as u64 != header.messages {
        return Err(ReadError::Corrupt(format!(
            "header says {} messages, the file holds {}",
            header.messages,
            messages.len()
        )));
    }
    Ok((header, messages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Severity;

    fn msg(i: i64) -> Message {
        Message {
            uid: format!("u{i}"),
            message_id: i,
            severity: Severity::Warning,
            component: "c".into(),
            machine: "m\u{1b}[2J".into(),
            site: "s".into(),
            time: "2026-11-23T10:00:00Z".into(),
            module: None,
            report_type: None,
            process_id: Some(4),
            thread_id: None,
            win32_error: None,
            insertion_strings: vec!["a".into()],
            attributes: [(7, "x".to_string())].into_iter().collect(),
        }
    }

    #[test]
    fn round_trips_and_detects_every_truncation() {
        let mut h = RetryHeader::new(3, "database is locked", SystemTime::now());
        h.failed("database is locked", SystemTime::now());
        let msgs = vec![msg(1), msg(2), msg(3)];
        let bytes = encode(&h, &msgs);
        let (h2, m2) = decode(&bytes).unwrap();
        assert_eq!(h2, h);
        assert_eq!(m2, msgs);
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "a file torn at byte {cut} must be refused"
            );
        }
    }

    #[test]
    fn an_edited_file_is_refused_with_a_reason() {
        let h = RetryHeader::new(2, "x", SystemTime::now());
        let mut bytes = encode(&h, &[msg(1), msg(2)]);
        let text = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("\"message_id\":2", "\"message_id\":\"two\"");
        let err = decode(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        bytes.extend_from_slice(&bytes.clone()[bytes.len() - 10..]);
        assert!(decode(&bytes).is_err());
    }

    #[test]
    fn history_is_bounded() {
        let mut h = RetryHeader::new(1, "x", SystemTime::now());
        for i in 0..50 {
            h.failed(&format!("e{i}"), SystemTime::now());
        }
        assert_eq!(h.attempts, 50);
        assert_eq!(h.history.len(), HISTORY);
        assert_eq!(h.history.last().unwrap().error, "e49");
    }
}
