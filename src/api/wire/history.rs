//! The JSON documents of the durable history: the journal's state in the snapshot, pages of
//! past events, and per-minute rollups for the long chart windows.

use serde::{Deserialize, Serialize};

use super::Event;

/// `journal` of the snapshot: the durable event history in `<root>/journal/`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JournalInfo {
    /// `false` with `run --journal off`.
    pub enabled: bool,
    /// Events written since start.
    pub written: u64,
    /// Events not written because the writer's queue was full (processing never waits).
    pub dropped_queue_full: u64,
    /// Events not written because the journal could not be written (a full disk, ...).
    pub dropped_write_error: u64,
    /// History is stopped by a write error now (tried again every 30 s).
    pub stopped: bool,
    pub last_error: Option<String>,
    /// Bytes and segment files kept now.
    pub bytes: u64,
    pub segments: u64,
    /// The oldest event still kept, and its time (RFC 3339).
    pub oldest_id: Option<u64>,
    pub oldest_time: Option<String>,
}

/// `GET /api/v1/events/history`: events oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub events: Vec<Event>,
    /// Older events exist (in the journal or the ring) before the first one returned.
    pub more_before: bool,
    /// Newer events exist after the last one returned.
    pub more_after: bool,
    /// The oldest event id kept anywhere (journal or ring), if any.
    pub oldest_id: Option<u64>,
    /// The newest event id when the page was read.
    pub newest_id: u64,
}

/// One minute of the processor's work, kept in `<root>/journal/rollups.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// RFC 3339, the start of the minute (UTC).
    pub minute: String,
    /// Rows committed during the minute.
    pub committed: u64,
    pub batches: u64,
    /// Commit durations of the minute's batches, in milliseconds.
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// Largest inbox depth sampled during the minute (files).
    pub inbox_depth: u64,
    /// Largest number of retry and stuck files sampled during the minute.
    pub retry_files: u64,
    pub stuck_files: u64,
}

/// `GET /api/v1/rollups?window=1h|24h`: the minutes of the window, oldest first (minutes
/// without a line, when the processor was not running, are absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RollupPage {
    /// `1h` or `24h`.
    pub window: String,
    /// RFC 3339: the window's start and end.
    pub from: String,
    pub to: String,
    pub rollups: Vec<Rollup>,
}
