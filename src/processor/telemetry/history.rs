//! The event history beyond the in-memory ring: the journal attached at start (ids go on
//! from its newest event), and pages of past events read from the ring and the journal.

use std::sync::OnceLock;

use super::Telemetry;
use crate::api::wire::{Event, HistoryPage, JournalInfo};
use crate::processor::journal::Journal;

/// Where the journal sits in telemetry (set once, at start, before any event).
pub type JournalSlot = OnceLock<Journal>;

impl Telemetry {
    /// Events go to `journal` too from now on, and ids continue at `next_id`.
    pub fn attach_journal(&self, journal: Journal, next_id: u64) {
        {
            let mut ring = self.events.lock().unwrap_or_else(|e| e.into_inner());
            ring.next_id = ring.next_id.max(next_id);
            self.latest_event.send_replace(ring.next_id - 1);
        }
        let _ = self.journal.set(journal);
    }

    pub fn journal(&self) -> Option<&Journal> {
        self.journal.get()
    }

    pub fn journal_info(&self) -> JournalInfo {
        self.journal.get().map(Journal::info).unwrap_or_default()
    }

    /// The oldest id the ring holds (the next id when it is empty).
    fn ring_oldest(&self) -> u64 {
        let ring = self.events.lock().unwrap_or_else(|e| e.into_inner());
        ring.events.front().map(|e| e.id).unwrap_or(ring.next_id)
    }

    /// The oldest id kept anywhere (journal or ring), if any event is kept.
    pub fn oldest_kept(&self) -> Option<u64> {
        let ring = self.ring_oldest();
        let journal = self.journal().and_then(Journal::oldest_id);
        match journal {
            Some(j) if j < ring => Some(j),
            _ if ring <= self.last_event_id() => Some(ring),
            _ => journal,
        }
    }

    /// Up to `limit` events after `after`, oldest first: from the journal while they are older
    /// than the ring, then from the ring. Ids may jump where the journal dropped events.
    pub fn history_after(&self, after: u64, limit: usize) -> Vec<Event> {
        match self.events_after(after, limit) {
            Ok(events) => events,
            Err(ring_oldest) => {
                let mut out: Vec<Event> = match self.journal() {
                    Some(j) => j.after(after, limit).unwrap_or_else(|e| {
                        tracing::warn!("cannot read the event journal: {e}");
                        Vec::new()
                    }),
                    None => Vec::new(),
                };
                out.retain(|e| e.id < ring_oldest);
                if out.len() < limit {
                    let from = out.last().map(|e| e.id).unwrap_or(after).max(ring_oldest - 1);
                    if let Ok(rest) = self.events_after(from, limit - out.len()) {
                        out.extend(rest);
                    }
                }
                out
            }
        }
    }

    /// Up to `limit` events before `before`, the newest of them, oldest first.
    pub fn history_before(&self, before: u64, limit: usize) -> Vec<Event> {
        let mut from_ring: Vec<Event> = {
            let ring = self.events.lock().unwrap_or_else(|e| e.into_inner());
            let newer: Vec<&Event> = ring
                .events
                .iter()
                .rev()
                .filter(|e| e.id < before)
                .take(limit)
                .collect();
            newer.into_iter().rev().cloned().collect()
        };
        if from_ring.len() < limit {
            let below = from_ring
                .first()
                .map(|e| e.id)
                .unwrap_or(before.min(self.ring_oldest()));
            if let Some(j) = self.journal() {
                match j.before(below, limit - from_ring.len()) {
                    Ok(mut older) => {
                        older.append(&mut from_ring);
                        from_ring = older;
                    }
                    Err(e) => tracing::warn!("cannot read the event journal: {e}"),
                }
            }
        }
        from_ring
    }

    /// The id of the first event at or after `time` (RFC 3339, UTC, milliseconds).
    pub fn first_id_at(&self, time: &str) -> u64 {
        let in_journal = self.journal().and_then(|j| j.first_at(time).ok().flatten());
        let ring_first = {
            let ring = self.events.lock().unwrap_or_else(|e| e.into_inner());
            ring.events.iter().find(|e| e.time.as_str() >= time).map(|e| e.id)
        };
        match (in_journal, ring_first) {
            (Some(j), Some(r)) => j.min(r),
            (Some(j), None) => j,
            (None, Some(r)) => r,
            (None, None) => self.last_event_id() + 1,
        }
    }

    /// A page of history: `before` an id, or `after` one, or from a time (`since`).
    pub fn history_page(&self, query: HistoryQuery) -> HistoryPage {
        let limit = query.limit.clamp(1, MAX_PAGE);
        let events = match query.position {
            Position::Before(id) => self.history_before(id, limit),
            Position::After(id) => self.history_after(id, limit),
            Position::Since(ref time) => {
                let first = self.first_id_at(time);
                self.history_after(first.saturating_sub(1), limit)
            }
            Position::Newest => self.history_before(u64::MAX, limit),
        };
        let newest_id = self.last_event_id();
        let oldest_id = self.oldest_kept();
        HistoryPage {
            more_before: match (events.first(), oldest_id) {
                (Some(first), Some(oldest)) => first.id > oldest,
                _ => false,
            },
            more_after: events.last().is_some_and(|e| e.id < newest_id),
            oldest_id,
            newest_id,
            events,
        }
    }
}

/// Most events in one page.
pub const MAX_PAGE: usize = 5_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Position {
    Before(u64),
    After(u64),
    /// RFC 3339, UTC, milliseconds (as events are stamped).
    Since(String),
    Newest,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    pub position: Position,
    pub limit: usize,
}

impl Telemetry {
    /// The depths the journal's rollups keep (sampled about once a second).
    pub fn journal_sample(&self) -> crate::processor::journal::Sample {
        let m = self.model();
        crate::processor::journal::Sample {
            inbox_depth: m.inbox_depth,
            retry_files: m.retry.len() as u64,
            stuck_files: m.stuck.len() as u64,
        }
    }
}
