//! The one state model every stage updates; the API reads snapshots and events from it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::watch;

pub mod history;
mod store_health;

use crate::api::wire::{
    AllocatorInfo, BatchInfo, BulkSource, CauseList, ConfigInfo, Counters, Event, EventKind, FileKind,
    FileQuery, FileSummary, InFlight, InboxStats, ProcessorState, RetentionInfo, Snapshot, SNAPSHOT_VERSION,
};
use crate::processor::exact_set::SetItem;
use crate::processor::file_index::FileIndex;
use crate::processor::uid_index::Place;

/// Recent batches kept for the snapshot.
const RECENT_BATCHES: usize = 100;
/// Events kept for clients that reconnect with `Last-Event-ID`.
pub const EVENT_BUFFER: usize = 10_000;

/// What the processor knows of one retry or stuck file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub name: String,
    pub messages: u64,
    pub attempts: u32,
    /// Wall-clock time of the next automatic attempt (retry files only).
    pub next_attempt: Option<SystemTime>,
    pub last_error: String,
    pub created: SystemTime,
}

#[derive(Debug, Default)]
struct Model {
    state: Option<ProcessorState>,
    inbox_depth: u64,
    inbox_bytes: u64,
    inbox_oldest: Option<SystemTime>,
    in_flight_messages: u64,
    in_flight_files: u64,
    in_flight_oldest: Option<Instant>,
    retry: FileIndex,
    stuck: FileIndex,
    discarded: FileIndex,
    batches: VecDeque<BatchInfo>,
    allocator: AllocatorInfo,
    counters: Counters,
    retention: RetentionInfo,
}

impl Model {
    fn index(&self, source: BulkSource) -> &FileIndex {
        match source {
            BulkSource::Retry => &self.retry,
            BulkSource::Stuck => &self.stuck,
            BulkSource::Discarded => &self.discarded,
        }
    }
}

#[derive(Debug, Default)]
struct EventRing {
    next_id: u64,
    events: VecDeque<Event>,
}

/// Shared by every stage of one processor (behind an `Arc`).
#[derive(Debug)]
pub struct Telemetry {
    model: Mutex<Model>,
    events: Mutex<EventRing>,
    latest_event: watch::Sender<u64>,
    started: Instant,
    started_wall: SystemTime,
    root: String,
    config: ConfigInfo,
    /// Thread heartbeats and database reachability (`/healthz`, `/readyz`, the watchdog).
    pub health: crate::processor::health::Health,
    /// The uids of the retry, stuck and discarded files (`find`).
    pub uids: crate::processor::uid_index::UidIndex,
    /// The durable history (absent with `run --journal off`).
    journal: history::JournalSlot,
}

pub fn rfc3339(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn age_s(now: SystemTime, then: SystemTime) -> f64 {
    now.duration_since(then).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Seconds from `now` to `then`, negative when `then` is past.
fn until_s(now: SystemTime, then: SystemTime) -> f64 {
    match then.duration_since(now) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

impl Telemetry {
    pub fn new(root: String, config: ConfigInfo) -> Self {
        let (latest_event, _) = watch::channel(0);
        Telemetry {
            model: Mutex::new(Model::default()),
            events: Mutex::new(EventRing {
                next_id: 1,
                events: VecDeque::new(),
            }),
            latest_event,
            started: Instant::now(),
            started_wall: SystemTime::now(),
            root,
            config,
            health: Default::default(),
            uids: Default::default(),
            journal: Default::default(),
        }
    }

    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        // A panic while holding the lock leaves plain counters behind: keep serving them.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state(&self) -> ProcessorState {
        self.model().state.unwrap_or(ProcessorState::Starting)
    }

    /// Sets the state and emits `state_changed` when it changed.
    pub fn set_state(&self, state: ProcessorState) {
        let changed = {
            let mut m = self.model();
            let changed = m.state != Some(state);
            m.state = Some(state);
            changed
        };
        if changed {
            self.emit(EventKind::StateChanged { state });
        }
    }

    pub fn set_inbox(&self, depth: u64, bytes: u64, oldest: Option<SystemTime>) {
        let mut m = self.model();
        m.inbox_depth = depth;
        m.inbox_bytes = bytes;
        m.inbox_oldest = oldest;
    }

    pub fn set_in_flight(&self, messages: u64, files: u64, oldest: Option<Instant>) {
        let mut m = self.model();
        m.in_flight_messages = messages;
        m.in_flight_files = files;
        m.in_flight_oldest = oldest;
    }

    pub fn update_counters(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.model().counters);
    }

    pub fn counters(&self) -> Counters {
        self.model().counters.clone()
    }

    pub fn set_allocator(&self, info: AllocatorInfo) {
        self.model().allocator = info;
    }

    pub fn allocator(&self) -> AllocatorInfo {
        self.model().allocator.clone()
    }

    /// Records a commit: recent batches, counters, and a `batch_committed` event.
    pub fn batch_committed(&self, batch: BatchInfo) {
        {
            let mut m = self.model();
            m.counters.committed += batch.count;
            m.counters.duplicates += batch.duplicates;
            m.counters.batches += 1;
            m.batches.push_front(batch.clone());
            m.batches.truncate(RECENT_BATCHES);
        }
        self.emit(EventKind::BatchCommitted { batch });
    }

    /// A file in `retry/` or `stuck/`, new or changed. The uid index learns of a file it
    /// does not know from its loader (a writer that has the messages calls `uids.set`
    /// first, a mover `uids.rename`).
    pub fn upsert_file(&self, kind: FileKind, entry: FileEntry) {
        self.uids.ensure(kind, &entry.name);
        let mut m = self.model();
        let map = match kind {
            FileKind::Retry => &mut m.retry,
            FileKind::Stuck => &mut m.stuck,
            FileKind::Discarded => &mut m.discarded,
        };
        map.insert(entry, None);
    }

    pub fn remove_file(&self, kind: FileKind, name: &str) -> Option<FileEntry> {
        self.uids.remove(kind, name);
        let mut m = self.model();
        match kind {
            FileKind::Retry => m.retry.remove(name),
            FileKind::Stuck => m.stuck.remove(name),
            FileKind::Discarded => m.discarded.remove(name),
        }
    }

    pub fn file(&self, kind: FileKind, name: &str) -> Option<FileEntry> {
        let m = self.model();
        match kind {
            FileKind::Retry => m.retry.get(name).map(|f| f.entry()),
            FileKind::Stuck => m.stuck.get(name).map(|f| f.entry()),
            FileKind::Discarded => m.discarded.get(name).map(|f| f.entry()),
        }
    }

    pub fn file_count(&self, kind: FileKind) -> usize {
        let m = self.model();
        match kind {
            FileKind::Retry => m.retry.len(),
            FileKind::Stuck => m.stuck.len(),
            FileKind::Discarded => m.discarded.len(),
        }
    }

    /// A file set aside in `discarded/`: when, by whom, the note.
    pub fn upsert_discarded(&self, entry: FileEntry, how: crate::processor::file_index::Discard) {
        self.uids.ensure(Place::Discarded, &entry.name);
        self.model().discarded.insert(entry, Some(how));
    }

    pub fn remove_discarded(&self, name: &str) -> Option<FileEntry> {
        self.uids.remove(Place::Discarded, name);
        self.model().discarded.remove(name)
    }

    /// Files and messages in `discarded/`.
    pub fn discarded_totals(&self) -> (u64, u64) {
        let m = self.model();
        (m.discarded.len() as u64, m.discarded.messages())
    }

    /// The files of one directory grouped by cause (`filter`: substring or `cause:ID`).
    pub fn causes(&self, source: BulkSource, filter: Option<&str>) -> CauseList {
        let now = SystemTime::now();
        let m = self.model();
        m.index(source).causes(filter, now)
    }

    /// Every file of one directory matching the selection, as an exact set.
    pub fn select(
        &self,
        source: BulkSource,
        filter: Option<&str>,
        cause: Option<&str>,
        older_than: Option<std::time::Duration>,
    ) -> Vec<SetItem> {
        let now = SystemTime::now();
        let m = self.model();
        m.index(source).select_items(filter, cause, older_than, now)
    }

    /// The set item of one named file, if the processor knows it.
    pub fn set_item(&self, source: BulkSource, name: &str) -> Option<SetItem> {
        let m = self.model();
        m.index(source).get(name).map(|f| f.set_item())
    }

    /// Appends an event to the ring and wakes every stream.
    pub fn emit(&self, kind: EventKind) -> u64 {
        let id = {
            let mut ring = self.events.lock().unwrap_or_else(|e| e.into_inner());
            let id = ring.next_id;
            ring.next_id += 1;
            let event = Event {
                id,
                time: rfc3339(SystemTime::now()),
                kind,
            };
            // Under the ring's lock, so the journal receives events in id order.
            if let Some(journal) = self.journal.get() {
                journal.record(&event);
            }
            ring.events.push_back(event);
            while ring.events.len() > EVENT_BUFFER {
                ring.events.pop_front();
            }
            id
        };
        self.latest_event.send_replace(id);
        id
    }

    /// Events with an id above `after`, at most `max`. `Err(oldest)` when events after
    /// `after` were already dropped from the buffer: the client must refetch the snapshot.
    pub fn events_after(&self, after: u64, max: usize) -> Result<Vec<Event>, u64> {
        let ring = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = ring.events.front().map(|e| e.id).unwrap_or(ring.next_id);
        if after + 1 < oldest {
            return Err(oldest);
        }
        let skip = (after + 1).saturating_sub(oldest) as usize;
        Ok(ring.events.iter().skip(skip).take(max).cloned().collect())
    }

    pub fn last_event_id(&self) -> u64 {
        *self.latest_event.borrow()
    }

    /// Changes whenever an event is emitted (its value is the newest id).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest_event.subscribe()
    }

    pub fn snapshot(&self, retry_query: &FileQuery, stuck_query: &FileQuery) -> Snapshot {
        let totals_only = FileQuery {
            limit: 0,
            ..FileQuery::default()
        };
        self.snapshot_with(retry_query, stuck_query, &totals_only)
    }

    /// The snapshot with a page of `discarded/` as well.
    pub fn snapshot_with(
        &self,
        retry_query: &FileQuery,
        stuck_query: &FileQuery,
        discarded_query: &FileQuery,
    ) -> Snapshot {
        let now = SystemTime::now();
        let last_event_id = self.last_event_id();
        let journal = self.journal_info();
        let m = self.model();
        Snapshot {
            version: SNAPSHOT_VERSION,
            state: m.state.unwrap_or(ProcessorState::Starting),
            started_at: rfc3339(self.started_wall),
            uptime_s: self.started.elapsed().as_secs_f64(),
            taken_at: rfc3339(now),
            root: self.root.clone(),
            inbox: InboxStats {
                depth: m.inbox_depth,
                bytes: m.inbox_bytes,
                oldest_age_s: m.inbox_oldest.map(|t| age_s(now, t)).unwrap_or(0.0),
            },
            in_flight: InFlight {
                messages: m.in_flight_messages,
                files: m.in_flight_files,
                oldest_age_s: m
                    .in_flight_oldest
                    .map(|t| t.elapsed().as_secs_f64())
                    .unwrap_or(0.0),
            },
            retry: m.retry.page(retry_query, now),
            stuck: m.stuck.page(stuck_query, now),
            discarded: m.discarded.page(discarded_query, now),
            batches: m.batches.iter().cloned().collect(),
            allocator: m.allocator.clone(),
            counters: m.counters.clone(),
            config: self.config.clone(),
            last_event_id,
            retention: m.retention.clone(),
            database: store_health::database_info(self.health.database_problem()),
            journal,
        }
    }
}

pub fn summary(entry: &FileEntry, now: SystemTime) -> FileSummary {
    FileSummary {
        name: entry.name.clone(),
        messages: entry.messages,
        attempts: entry.attempts,
        next_attempt: entry.next_attempt.map(rfc3339),
        next_attempt_in_s: entry.next_attempt.map(|t| until_s(now, t)),
        last_error: entry.last_error.clone(),
        age_s: age_s(now, entry.created),
        created: rfc3339(entry.created),
        discarded: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::SortKey;
    use std::time::Duration;

    fn entry(name: &str, attempts: u32, error: &str) -> FileEntry {
        FileEntry {
            name: name.into(),
            messages: 3,
            attempts,
            next_attempt: None,
            last_error: error.into(),
            created: SystemTime::UNIX_EPOCH + Duration::from_secs(attempts as u64),
        }
    }

    #[test]
    fn events_after_reports_a_gap_older_than_the_buffer() {
        let t = Telemetry::new("/x".into(), ConfigInfo::default());
        for _ in 0..EVENT_BUFFER + 5 {
            t.emit(EventKind::Warning { message: "w".into() });
        }
        assert_eq!(t.events_after(0, 10), Err(6));
        let tail = t.events_after(EVENT_BUFFER as u64, 100).unwrap();
        assert_eq!(tail.first().unwrap().id, EVENT_BUFFER as u64 + 1);
        assert_eq!(tail.len(), 5);
        assert!(t.events_after(t.last_event_id(), 10).unwrap().is_empty());
    }

    #[test]
    fn pages_are_filtered_sorted_and_counted() {
        let t = Telemetry::new("/x".into(), ConfigInfo::default());
        for i in 0..250u32 {
            let err = if i % 2 == 0 {
                "database is locked"
            } else {
                "disk full"
            };
            t.upsert_file(FileKind::Retry, entry(&format!("f{i:04}"), i, err));
        }
        let q = FileQuery {
            offset: 10,
            limit: 5,
            filter: Some("LOCKED".into()),
            ..FileQuery::default()
        };
        let s = t.snapshot(&q, &FileQuery::default());
        assert_eq!(s.retry.total, 125);
        assert_eq!(s.retry.total_unfiltered, 250);
        let names: Vec<_> = s.retry.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["f0020", "f0022", "f0024", "f0026", "f0028"]);

        let q = FileQuery {
            limit: 2,
            sort: SortKey::Attempts,
            desc: true,
            ..FileQuery::default()
        };
        let s = t.snapshot(&q, &FileQuery::default());
        let names: Vec<_> = s.retry.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["f0249", "f0248"]);
        assert_eq!(s.stuck.total, 0);
    }

    #[test]
    fn the_snapshot_and_readiness_read_one_record_of_the_database() {
        let t = Telemetry::new("/x".into(), ConfigInfo::default());
        let q = FileQuery::default();
        assert!(t.snapshot(&q, &q).database.reachable);
        t.database_unreachable("database is locked");
        t.database_unreachable("connection refused");
        let db = t.snapshot(&q, &q).database;
        assert!(!db.reachable);
        assert_eq!(db.last_error.as_deref(), Some("connection refused"));
        let problem = t.health.database_problem().expect("readiness sees it too");
        assert_eq!(db.since, Some(rfc3339(problem.since)));
        let warnings = |t: &Telemetry| t.events_after(0, 100).unwrap().len();
        assert_eq!(warnings(&t), 1, "one event per outage");
        t.database_reachable();
        assert!(t.snapshot(&q, &q).database.reachable);
        assert_eq!(t.health.database_problem(), None);
        assert_eq!(warnings(&t), 2, "and one when it comes back");
    }
}
