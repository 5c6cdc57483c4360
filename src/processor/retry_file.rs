//! The retry-file format: a header line, then one message per line (JSON Lines). The same
//! format is used in `retry/` and `stuck/`; files are written durably and atomically, and
//! read back with the inbox's limits (size, message count, every field's checks).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::api::wire::Attempt;
use crate::config::Limits;
use crate::message::{Message, RejectedLine};
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

/// Splits `messages` into runs that each make a retry file within the inbox's limits (at
/// most `max_messages_per_file` messages and `max_file_bytes` of message lines), so that
/// every file the committer writes reads back. A message larger than that on its own
/// (possible only if the limits were lowered since it was read) gets a file of its own.
pub fn chunks<'a>(messages: &'a [Message], limits: &Limits) -> Vec<&'a [Message]> {
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let max_count = limits.max_messages_per_file.max(1);
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, m) in messages.iter().enumerate() {
        let mut size = Count(1);
        serde_json::to_writer(&mut size, m).expect("a message serializes");
        let full = i - start >= max_count || bytes + size.0 > limits.max_file_bytes;
        if full && i > start {
            out.push(&messages[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size.0;
    }
    if start < messages.len() {
        out.push(&messages[start..]);
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

/// A retry or stuck file, decoded with the inbox's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub header: RetryHeader,
    pub messages: Vec<Message>,
    /// Lines that are not a valid message (a hand edit, junk appended): they go to
    /// `corrupt/` as one entry, and the messages beside them go on.
    pub rejected: Vec<RejectedLine>,
}

/// The largest retry file read: a body as large as the largest inbox file, and a header.
/// The committer never writes a larger one (`Settler::write_retry` splits).
pub fn max_file_bytes(limits: &Limits) -> u64 {
    limits.max_file_bytes.saturating_add(MAX_HEADER_BYTES)
}

/// Reads and checks the whole file, never more than [`max_file_bytes`] into memory.
pub fn read(path: &Path, limits: &Limits) -> Result<Decoded, ReadError> {
    let limit = max_file_bytes(limits);
    let too_large = |size: u64| {
        ReadError::Corrupt(format!(
            "the file is {size} bytes, over the limit of {limit} bytes for a retry file \
             (--max-file-bytes {}, plus {MAX_HEADER_BYTES} for its header)",
            limits.max_file_bytes
        ))
    };
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    decode(&bytes, limits)
}

/// Decodes a file. Refused whole (never half replayed): a torn or foreign header, a torn
/// last line, more lines than `max_messages_per_file`, or message lines whose count fits
/// the header neither with nor without the bad lines (a line lost or doubled). Each
/// message line is decoded and validated as an inbox line is; a line that fails is kept,
/// with its reason, in `rejected`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, ReadError> {
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
    let max = limits.max_messages_per_file;
    let mut messages = Vec::with_capacity(header.messages.min(max as u64) as usize);
    let mut rejected = Vec::new();
    let mut count = 0usize;
    for (i, text) in body.split(|&b| b == b'\n').enumerate() {
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = i + 2;
        count += 1;
        if count > max {
            return Err(ReadError::Corrupt(format!(
                "more than {max} message lines, the limit per file (--max-messages-per-file): line {line} is message line {count}"
            )));
        }
        match crate::message::parse_line(text, line, limits) {
            Ok(m) => messages.push(m),
            Err(reason) => rejected.push(RejectedLine {
                line,
                text: text.to_vec(),
                reason,
            }),
        }
    }
    let (good, bad) = (messages.len() as u64, rejected.len() as u64);
    // Bad lines are either damaged messages (good + bad = header) or added to a whole
    // file (good = header); any other count means a line was lost or doubled.
    if good != header.messages && good + bad != header.messages {
        let holds = match (bad, rejected.first()) {
            (0, _) | (_, None) => format!("{good}"),
            (_, Some(first)) => format!(
                "{good} and {bad} lines that are not messages (the first: {})",
                first.reason
            ),
        };
        return Err(ReadError::Corrupt(format!(
            "header says {} messages, the file holds {holds}",
            header.messages
        )));
    }
    Ok(Decoded {
        header,
        messages,
        rejected,
    })
}

#[cfg(test)]
mod tests;
