//! The journal's files: segment names (`events-<first id>.jsonl`), listing, and reading
//! lines cheaply (the id and time are the first two fields of every line), where a torn
//! or foreign line is skipped, never fatal.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::api::wire::Event;

const PREFIX: &str = "events-";
const SUFFIX: &str = ".jsonl";

/// One segment file: the events from `first_id` on, one JSON object a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub first_id: u64,
    pub path: PathBuf,
    pub bytes: u64,
    pub modified: SystemTime,
}

pub fn file_name(first_id: u64) -> String {
    format!("{PREFIX}{first_id:020}{SUFFIX}")
}

fn first_id_of(name: &str) -> Option<u64> {
    name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?.parse().ok()
}

/// The segments of `dir`, oldest first (a missing directory has none; other names are ignored).
pub fn list(dir: &Path) -> io::Result<Vec<Segment>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(first_id) = name.to_str().and_then(first_id_of) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        out.push(Segment {
            first_id,
            path: entry.path(),
            bytes: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    out.sort_by_key(|s| s.first_id);
    Ok(out)
}

/// The id of a line written by the journal (`{"id":N,...`), without parsing the rest.
pub fn line_id(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"id\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// The RFC 3339 time of a line (`{"id":N,"time":"...",...`), without parsing the rest.
pub fn line_time(line: &[u8]) -> Option<&str> {
    let comma = line.iter().position(|b| *b == b',')?;
    let rest = line[comma + 1..].strip_prefix(b"\"time\":\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// A whole line as an event; `None` for a torn or foreign line (skipped by every reader).
pub fn parse(line: &[u8]) -> Option<Event> {
    serde_json::from_slice(line).ok()
}

/// The complete lines of a file: a last line without its newline (torn by a crash while
/// it was written) is left out.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    match fs::File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(bytes),
        Err(e) => return Err(e),
    }
    let keep = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    bytes.truncate(keep);
    Ok(bytes)
}

/// The non-empty lines of `bytes` (as `read` returns them).
pub fn lines(bytes: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

/// The id and time of a segment's first event (from its first 8 KiB).
pub fn first_event(path: &Path) -> Option<(u64, String)> {
    let mut f = fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 8192];
    let n = f.read(&mut buf).ok()?;
    let line = buf[..n].split(|b| *b == b'\n').next()?;
    Some((line_id(line)?, line_time(line)?.to_string()))
}

/// The time of a segment's first event.
pub fn first_time(path: &Path) -> Option<String> {
    first_event(path).map(|(_, t)| t)
}

/// The id after the newest complete event of the newest segment that has one; a torn last
/// line is skipped. A segment without any event still counts: ids never go back below its name.
pub fn recover_next_id(dir: &Path) -> io::Result<u64> {
    let segments = list(dir)?;
    let mut floor = 1;
    for segment in segments.iter().rev() {
        floor = floor.max(segment.first_id);
        let bytes = read(&segment.path)?;
        let newest = lines(&bytes).rev().find_map(line_id);
        if let Some(id) = newest {
            return Ok(floor.max(id + 1));
        }
    }
    Ok(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times_are_read_from_the_prefix() {
        let line = br#"{"id":42,"time":"2026-01-02T03:04:05.000Z","type":"warning","message":"x"}"#;
        assert_eq!(line_id(line), Some(42));
        assert_eq!(line_time(line), Some("2026-01-02T03:04:05.000Z"));
        assert_eq!(line_id(b"{\"id\":"), None);
        assert_eq!(line_id(b"garbage"), None);
        assert_eq!(line_time(b"{\"id\":1}"), None);
    }

    #[test]
    fn names_round_trip_and_sort_by_id() {
        assert_eq!(first_id_of(&file_name(7)), Some(7));
        assert_eq!(first_id_of("events-x.jsonl"), None);
        assert_eq!(first_id_of("rollups.jsonl"), None);
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_recovery_skips_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(10));
        let good = br#"{"id":10,"time":"t","type":"warning","message":"a"}
{"id":11,"time":"t","type":"warning","message":"b"}
{"id":12,"time":"t","type":"war"#;
        fs::write(&path, good).unwrap();
        let bytes = read(&path).unwrap();
        assert_eq!(lines(&bytes).count(), 2);
        assert_eq!(recover_next_id(dir.path()).unwrap(), 12);
        // A newer, empty segment (created just before a crash) still moves the floor.
        fs::write(dir.path().join(file_name(20)), b"").unwrap();
        assert_eq!(recover_next_id(dir.path()).unwrap(), 20);
    }

    #[test]
    fn an_empty_or_missing_journal_starts_at_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(recover_next_id(&dir.path().join("none")).unwrap(), 1);
        assert_eq!(recover_next_id(dir.path()).unwrap(), 1);
    }
}
