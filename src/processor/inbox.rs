//! What the processor knows of `inbox/`: every complete message file seen, its size and
//! age, and which ones are in flight. Shared by intake (adds) and the committer (removes).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use crate::message::Message;

/// A parsed inbox file on its way to the committer.
#[derive(Debug)]
pub struct InboxFile {
    pub name: String,
    pub messages: Vec<Message>,
    pub read_at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Stat {
    bytes: u64,
    mtime: SystemTime,
}

#[derive(Debug, Default)]
struct Files {
    stats: HashMap<String, Stat>,
    by_age: BTreeSet<(SystemTime, String)>,
    bytes: u64,
    in_flight: HashSet<String>,
    /// Released after a failure to make them durable: not read again before this instant.
    held: HashMap<String, Instant>,
}

/// Cheap to clone; all clones share one index.
#[derive(Debug, Clone, Default)]
pub struct InboxIndex {
    files: Arc<Mutex<Files>>,
    in_flight_messages: Arc<AtomicU64>,
}

impl InboxIndex {
    fn lock(&self) -> MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a file seen in the inbox. Returns true when it should be read: it is not
    /// in flight and not held back.
    pub fn observe(&self, name: &str, bytes: u64, mtime: SystemTime, now: Instant) -> bool {
        let mut f = self.lock();
        if let Some(old) = f.stats.insert(name.to_string(), Stat { bytes, mtime }) {
            f.bytes -= old.bytes;
            f.by_age.remove(&(old.mtime, name.to_string()));
        }
        f.bytes += bytes;
        f.by_age.insert((mtime, name.to_string()));
        if let Some(until) = f.held.get(name) {
            if *until > now {
                return false;
            }
            f.held.remove(name);
        }
        !f.in_flight.contains(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.lock().stats.contains_key(name)
    }

    /// The file left the inbox (unlinked, moved, or gone).
    pub fn remove(&self, name: &str) {
        let mut f = self.lock();
        if let Some(old) = f.stats.remove(name) {
            f.bytes -= old.bytes;
            f.by_age.remove(&(old.mtime, name.to_string()));
        }
        f.in_flight.remove(name);
        f.held.remove(name);
    }

    /// Forgets files that a rescan did not find, unless they are in flight.
    pub fn retain_present(&self, present: &HashSet<String>) {
        let mut f = self.lock();
        let gone: Vec<String> = f
            .stats
            .keys()
            .filter(|n| !present.contains(*n) && !f.in_flight.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(old) = f.stats.remove(&name) {
                f.bytes -= old.bytes;
                f.by_age.remove(&(old.mtime, name));
            }
        }
    }

    pub fn mark_in_flight(&self, name: &str, messages: u64) {
        self.lock().in_flight.insert(name.to_string());
        self.in_flight_messages.fetch_add(messages, Ordering::Relaxed);
    }

    pub fn is_in_flight(&self, name: &str) -> bool {
        self.lock().in_flight.contains(name)
    }

    /// Messages of in-flight files became durable (or were handed back).
    pub fn settled(&self, messages: u64) {
        self.in_flight_messages.fetch_sub(messages, Ordering::Relaxed);
    }

    /// The file could not be made durable: it stays in the inbox and is read again after
    /// `until`.
    pub fn release(&self, name: &str, until: Instant) {
        let mut f = self.lock();
        f.in_flight.remove(name);
        f.held.insert(name.to_string(), until);
    }

    /// (depth, bytes, oldest modification time, in-flight files, in-flight messages)
    pub fn stats(&self) -> (u64, u64, Option<SystemTime>, u64, u64) {
        let f = self.lock();
        (
            f.stats.len() as u64,
            f.bytes,
            f.by_age.first().map(|(t, _)| *t),
            f.in_flight.len() as u64,
            self.in_flight_messages.load(Ordering::Relaxed),
        )
    }

    /// Names held back whose time has come, to be read again.
    pub fn due_held(&self, now: Instant) -> Vec<String> {
        let f = self.lock();
        f.held
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_ages_and_flight_are_tracked() {
        let idx = InboxIndex::default();
        let now = Instant::now();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        assert!(idx.observe("a.json", 10, t0, now));
        assert!(idx.observe("b.json", 5, t0 + Duration::from_secs(5), now));
        idx.mark_in_flight("a.json", 3);
        assert!(!idx.observe("a.json", 10, t0, now), "in flight: not read twice");
        assert_eq!(idx.stats(), (2, 15, Some(t0), 1, 3));
        idx.retain_present(&HashSet::new());
        assert_eq!(
            idx.stats().0,
            1,
            "the in-flight file is kept, the vanished one forgotten"
        );
        idx.release("a.json", now + Duration::from_secs(60));
        assert!(!idx.observe("a.json", 10, t0, now), "held back after a failure");
        assert!(idx.observe("a.json", 10, t0, now + Duration::from_secs(61)));
        idx.settled(3);
        idx.remove("a.json");
        assert_eq!(idx.stats(), (0, 0, None, 0, 0));
    }
}
