//! `find`: where each of some uids is now — inbox (read or not), `retry/`, `stuck/`,
//! `discarded/` (through the uid index), `corrupt/` (by its text) and the database (through
//! a read-only connection) — and the batch drill-down's reads.
//!
//! The places are searched in the order messages move (inbox, files, corrupt, database),
//! so a message moving forward during a search is met at its next place; a candidate file
//! that vanished is looked up again in the index, which follows every move.

use std::collections::HashMap;
use std::fs;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::api::wire::find::{BatchMessages, FindReport, FindResult, Location};
use crate::config::Limits;
use crate::message::{parse_file, FileFormat};
use crate::processor::dirs::StateDir;
use crate::processor::inbox::InboxIndex;
use crate::processor::retry_file::{self, ReadError};
use crate::processor::store::{Lookup, StoreError};
use crate::processor::telemetry::{rfc3339, Telemetry};
use crate::processor::uid_index::Place;

/// How often a candidate that moved away is looked up again before giving up on it.
const MOVE_RETRIES: usize = 50;
/// Largest `corrupt/` file searched (bigger ones are skipped with a warning).
const MAX_CORRUPT_BYTES: u64 = 64 * 1024 * 1024;

/// What `find` and the drill-down need of a running processor.
pub struct Finder {
    dirs: StateDir,
    telemetry: Arc<Telemetry>,
    inbox: InboxIndex,
    limits: Limits,
    lookup: Mutex<Box<dyn Lookup>>,
}

impl std::fmt::Debug for Finder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finder").field("root", &self.dirs.root).finish()
    }
}

impl Finder {
    pub fn new(
        dirs: StateDir,
        telemetry: Arc<Telemetry>,
        inbox: InboxIndex,
        limits: Limits,
        lookup: Box<dyn Lookup>,
    ) -> Finder {
        Finder {
            dirs,
            telemetry,
            inbox,
            limits,
            lookup: Mutex::new(lookup),
        }
    }

    /// Where each uid is. Blocking I/O: call it from a blocking context.
    pub fn find(&self, uids: &[String]) -> FindReport {
        let mut report = FindReport {
            results: uids
                .iter()
                .map(|u| FindResult {
                    uid: u.clone(),
                    places: Vec::new(),
                })
                .collect(),
            ..FindReport::default()
        };
        let wanted: HashMap<&str, usize> = uids.iter().enumerate().map(|(i, u)| (u.as_str(), i)).collect();
        let mut found: Vec<Vec<Location>> = vec![Vec::new(); uids.len()];
        self.search_inbox(&wanted, &mut found, &mut report.warnings);
        for (i, uid) in uids.iter().enumerate() {
            found[i].extend(self.search_files(uid));
        }
        self.search_corrupt(uids, &mut found, &mut report.warnings);
        let committed = self
            .lookup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .committed(uids);
        match committed {
            Ok(rows) => {
                for (uid, place) in rows {
                    if let Some(&i) = wanted.get(uid.as_str()) {
                        found[i].push(place);
                    }
                }
            }
            Err(e) => report.database_error = Some(e.to_string()),
        }
        for (result, places) in report.results.iter_mut().zip(found) {
            result.places = places;
        }
        let index = self.telemetry.uids.lock();
        report.index_pending = index.pending() as u64;
        report.index_files = index.files() as u64;
        report
    }

    /// One page of a committed batch's messages (`None`: no such batch).
    pub fn batch_messages(
        &self,
        batch_id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<Option<BatchMessages>, StoreError> {
        self.lookup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .batch_messages(batch_id, offset, limit)
    }

    /// Every inbox file that names one of the uids (read, or waiting to be read).
    fn search_inbox(
        &self,
        wanted: &HashMap<&str, usize>,
        found: &mut [Vec<Location>],
        warnings: &mut Vec<String>,
    ) {
        let entries = match fs::read_dir(&self.dirs.inbox) {
            Ok(e) => e,
            Err(e) => return warnings.push(format!("cannot list {}: {e}", self.dirs.inbox.display())),
        };
        let needles: Vec<String> = wanted.keys().map(|u| json_string(u)).collect();
        let mut unreadable: Vec<String> = Vec::new();
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Some(format) = FileFormat::from_name(&name) else {
                continue;
            };
            let bytes = match read_capped(&entry.path(), self.limits.max_file_bytes) {
                Ok(bytes) => bytes,
                // Gone: committed or moved on, and met at its next place.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    unreadable.push(format!("{name} ({e})"));
                    continue;
                }
            };
            if !needles.iter().any(|n| contains(&bytes, n.as_bytes())) && !has_derived_uids(&bytes) {
                continue;
            }
            let Ok(parsed) = parse_file(format, &bytes, &self.limits) else {
                continue; // it goes to corrupt/, where it is searched by its text
            };
            let in_flight = self.inbox.is_in_flight(&name);
            for m in &parsed.messages {
                if let Some(&i) = wanted.get(m.uid.as_str()) {
                    let file = name.clone();
                    found[i].push(if in_flight {
                        Location::InFlight { file }
                    } else {
                        Location::Inbox { file }
                    });
                }
            }
        }
        if let Some(warning) = unreadable_warning(&unreadable) {
            warnings.push(warning);
        }
    }

    /// The retry, stuck and discarded files the index names for `uid`, each confirmed by
    /// reading it (a file that moved meanwhile is looked up again).
    fn search_files(&self, uid: &str) -> Vec<Location> {
        let mut out = Vec::new();
        let mut seen: Vec<(Place, String)> = Vec::new();
        for attempt in 0..MOVE_RETRIES {
            let candidates = self.telemetry.uids.lock().candidates(uid);
            let mut moved = false;
            for (place, name) in candidates {
                if seen.contains(&(place, name.clone())) {
                    continue;
                }
                match self.confirm(place, &name, uid) {
                    Ok(Some(location)) => {
                        out.push(location);
                        seen.push((place, name));
                    }
                    Ok(None) => seen.push((place, name)),
                    Err(()) => moved = true,
                }
            }
            if !moved || !out.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(if attempt < 10 { 1 } else { 10 }));
        }
        out
    }

    /// `Ok(None)`: the file does not hold `uid` (a hash collision, or a rewrite left it);
    /// `Err`: the file is not there (moved or removed).
    fn confirm(&self, place: Place, name: &str, uid: &str) -> Result<Option<Location>, ()> {
        let dir = match place {
            Place::Retry => &self.dirs.retry,
            Place::Stuck => &self.dirs.stuck,
            Place::Discarded => &self.dirs.discarded,
        };
        let decoded = match retry_file::read(&dir.join(name), &self.limits) {
            Ok(d) => d,
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Err(()),
            Err(_) => return Ok(None),
        };
        if !decoded.messages.iter().any(|m| m.uid == uid) {
            return Ok(None);
        }
        let h = decoded.header;
        let file = name.to_string();
        Ok(Some(match place {
            Place::Retry => Location::Retry {
                file,
                attempts: h.attempts,
                last_error: h.last_error,
                next_attempt: (h.next_attempt_ms > 0)
                    .then(|| rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(h.next_attempt_ms))),
            },
            Place::Stuck => Location::Stuck {
                file,
                attempts: h.attempts,
                last_error: h.last_error,
            },
            Place::Discarded => Location::Discarded {
                file,
                attempts: h.attempts,
                last_error: h.last_error,
            },
        }))
    }

    /// `corrupt/` files whose text holds a uid as a JSON string (their own `.reason` beside).
    fn search_corrupt(&self, uids: &[String], found: &mut [Vec<Location>], warnings: &mut Vec<String>) {
        let entries = match fs::read_dir(&self.dirs.corrupt) {
            Ok(e) => e,
            Err(e) => return warnings.push(format!("cannot list {}: {e}", self.dirs.corrupt.display())),
        };
        let needles: Vec<String> = uids.iter().map(|u| json_string(u)).collect();
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') || name.ends_with(".reason") {
                continue;
            }
            let bytes = match read_capped(&entry.path(), MAX_CORRUPT_BYTES) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    warnings.push(format!("corrupt/{name} not searched: {e}"));
                    continue;
                }
                Err(_) => continue,
            };
            for (i, needle) in needles.iter().enumerate() {
                if contains(&bytes, needle.as_bytes()) {
                    found[i].push(Location::Corrupt {
                        file: name.clone(),
                        reason: self.corrupt_reason(&name),
                    });
                }
            }
        }
    }

    fn corrupt_reason(&self, name: &str) -> String {
        let text = fs::read_to_string(self.dirs.corrupt.join(format!("{name}.reason"))).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("reason: "))
            .unwrap_or("(no reason file)")
            .chars()
            .take(500)
            .collect()
    }
}

/// The uid as it appears in a JSON text (quoted and escaped).
fn json_string(uid: &str) -> String {
    serde_json::to_string(uid).unwrap_or_else(|_| format!("\"{uid}\""))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether some message of the file may lack a `uid` field (its uid is then derived from
/// its content, so the text cannot be searched for it): fewer `"uid"` keys than lines.
fn has_derived_uids(bytes: &[u8]) -> bool {
    let keys = bytes.windows(5).filter(|w| *w == b"\"uid\"").count();
    let lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .count();
    keys < lines.max(1)
}

/// One warning for the inbox files `find` could not read (a uid in them is reported not
/// seen), naming the first few.
fn unreadable_warning(files: &[String]) -> Option<String> {
    const NAMED: usize = 3;
    let first = files.first()?;
    let (n, mut named) = (files.len(), first.clone());
    for f in files.iter().take(NAMED).skip(1) {
        named.push_str(", ");
        named.push_str(f);
    }
    let more = match n.saturating_sub(NAMED) {
        0 => String::new(),
        rest => format!(" and {rest} more"),
    };
    let (files, them) = if n == 1 { ("file", "it") } else { ("files", "them") };
    Some(format!(
        "{n} inbox {files} could not be searched: {named}{more}; a uid in {them} is reported not seen"
    ))
}

fn read_capped(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} bytes, over the {limit} bytes searched", meta.len()),
        ));
    }
    fs::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_inbox_files_make_one_warning_naming_the_first_three() {
        assert_eq!(unreadable_warning(&[]), None);
        assert_eq!(
            unreadable_warning(&["a.json (Permission denied (os error 13))".into()]).unwrap(),
            "1 inbox file could not be searched: a.json (Permission denied (os error 13)); \
             a uid in it is reported not seen"
        );
        let many: Vec<String> = (0..5).map(|i| format!("f{i}.json (denied)")).collect();
        assert_eq!(
            unreadable_warning(&many).unwrap(),
            "5 inbox files could not be searched: f0.json (denied), f1.json (denied), \
             f2.json (denied) and 2 more; a uid in them is reported not seen"
        );
    }

    #[test]
    fn text_search_helpers() {
        assert!(contains(b"{\"uid\":\"a-1\"}", json_string("a-1").as_bytes()));
        assert!(!contains(b"{\"uid\":\"a-12\"}", json_string("a-1").as_bytes()));
        assert_eq!(json_string("q\"x"), "\"q\\\"x\"");
        assert!(!has_derived_uids(b"{\"uid\":\"a\"}\n{\"uid\":\"b\"}\n"));
        assert!(has_derived_uids(b"{\"uid\":\"a\"}\n{\"message_id\":1}\n"));
        assert!(has_derived_uids(b"{\"message_id\":1}"));
    }
}
