//! The JSON documents of the API, shared by the server, the CLI and the console (serde only).

use serde::{Deserialize, Serialize};

pub mod find;

pub use crate::message::Message;

mod history;
pub use history::{HistoryPage, JournalInfo, Rollup, RollupPage};

/// Version of the snapshot document; bumped on any incompatible change.
pub const SNAPSHOT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorState {
    Starting,
    Running,
    Paused,
    Draining,
    Stopped,
}

impl ProcessorState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessorState::Starting => "starting",
            ProcessorState::Running => "running",
            ProcessorState::Paused => "paused",
            ProcessorState::Draining => "draining",
            ProcessorState::Stopped => "stopped",
        }
    }
}

/// `GET /api/v1/snapshot`, and `statmgr status --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub state: ProcessorState,
    /// RFC 3339, when this processor started.
    pub started_at: String,
    pub uptime_s: f64,
    /// RFC 3339, when this snapshot was taken.
    pub taken_at: String,
    pub root: String,
    pub inbox: InboxStats,
    pub in_flight: InFlight,
    pub retry: FilePage,
    pub stuck: FilePage,
    /// Recent commits, newest first.
    pub batches: Vec<BatchInfo>,
    pub allocator: AllocatorInfo,
    pub counters: Counters,
    pub config: ConfigInfo,
    /// A page of `discarded/` (files an operator set aside; query prefix `discarded_`).
    #[serde(default)]
    pub discarded: FilePage,
    /// Id of the newest event when the snapshot was taken: a client resumes the stream from here.
    pub last_event_id: u64,
    /// Retention and what the database holds (absent from older processors: defaults).
    #[serde(default)]
    pub retention: RetentionInfo,
    /// Whether the database answers (absent from older processors: reachable).
    #[serde(default)]
    pub database: DatabaseInfo,
    /// The durable event history (absent from older processors: disabled).
    #[serde(default)]
    pub journal: JournalInfo,
}

/// `retention` of the snapshot: the rules, what was pruned, and what is stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetentionInfo {
    /// Off unless `--retain-days` or `--retain` is given.
    pub enabled: bool,
    pub rules: Vec<RetentionRule>,
    pub interval_s: u64,
    /// Messages deleted by this processor since it started.
    pub pruned_total: u64,
    pub last_pass: Option<RetentionPass>,
    /// Rows in `status_messages` (counted at start and every few minutes, kept up to date
    /// in between with this processor's commits and prunes).
    pub rows: Option<u64>,
    /// Size of the database (SQLite: the file and its WAL; PostgreSQL: the tables).
    pub database_bytes: Option<u64>,
    /// RFC 3339 (UTC): the `time` of the oldest stored message.
    pub oldest_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionRule {
    pub severity: String,
    pub days: u32,
}

/// One retention pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionPass {
    /// RFC 3339, when it ended.
    pub at: String,
    pub pruned: u64,
    pub duration_ms: f64,
    /// The longest any one of its delete transactions held the write lock.
    pub longest_hold_ms: f64,
    /// Its delete transactions, the 99th percentile of their write-lock holds, and how
    /// many held it longer than 50 ms.
    #[serde(default)]
    pub transactions: u64,
    #[serde(default)]
    pub p99_hold_ms: f64,
    #[serde(default)]
    pub holds_over_50ms: u64,
    pub error: Option<String>,
}

/// `database` of the snapshot: whether the database answers, and since when it does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub reachable: bool,
    /// RFC 3339: when it stopped answering (`None` while reachable).
    pub since: Option<String>,
    pub last_error: Option<String>,
}

impl Default for DatabaseInfo {
    fn default() -> Self {
        DatabaseInfo {
            reachable: true,
            since: None,
            last_error: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboxStats {
    /// Complete message files waiting in `inbox/` (including those in flight).
    pub depth: u64,
    pub bytes: u64,
    /// Age of the oldest file, by its modification time; 0 when empty.
    pub oldest_age_s: f64,
}

/// Messages read from the inbox and not yet durable anywhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    pub messages: u64,
    pub files: u64,
    pub oldest_age_s: f64,
}

/// One page of the retry or stuck files, with the total count of the filtered list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilePage {
    /// Files matching the filter.
    pub total: u64,
    /// Files in the directory, whatever the filter.
    pub total_unfiltered: u64,
    pub offset: u64,
    pub limit: u64,
    pub files: Vec<FileSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    pub name: String,
    pub messages: u64,
    /// Failed commit attempts so far; also the version a requeue must name.
    pub attempts: u32,
    /// RFC 3339 time of the next automatic attempt; `None` for stuck files.
    pub next_attempt: Option<String>,
    /// Seconds until the next attempt (negative: overdue); `None` for stuck files.
    pub next_attempt_in_s: Option<f64>,
    pub last_error: String,
    /// Seconds since the file was first written.
    pub age_s: f64,
    /// RFC 3339, when the file was first written.
    pub created: String,
    /// Discarded files: when, by whom and why, from their `.reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded: Option<DiscardedInfo>,
}

/// What a discarded file's `.reason` says, as the Discarded tab lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscardedInfo {
    /// RFC 3339.
    pub at: String,
    /// The client (`api <peer address>`, and the token id, never the token).
    pub by: String,
    /// The operator's note, if one was typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One committed batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchInfo {
    pub id: i64,
    /// RFC 3339.
    pub committed_at: String,
    /// Rows inserted.
    pub count: u64,
    /// Messages already in the database (same uid), skipped.
    pub duplicates: u64,
    pub first_record_id: Option<i64>,
    pub last_record_id: Option<i64>,
    pub duration_ms: f64,
    /// `inbox`, `retry` or `drain`.
    pub source: String,
    /// The retry file a `retry` batch came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AllocatorInfo {
    /// The next record id that will be handed out.
    pub next_id: i64,
    /// End (exclusive) of the block reserved in memory.
    pub block_end: i64,
    /// Persisted high-water mark: every id below it may have been used.
    pub high_water: i64,
    pub block_size: i64,
    /// `MAX(record_id)` at the last reconciliation.
    pub db_max_id: i64,
    pub resyncs: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Messages parsed from the inbox.
    pub received: u64,
    /// Rows committed.
    pub committed: u64,
    /// Messages skipped because their uid was already committed.
    pub duplicates: u64,
    /// Messages written to `retry/`.
    pub retried: u64,
    /// Messages moved to `stuck/`.
    pub stuck: u64,
    /// Files or lines moved to `corrupt/`.
    pub corrupt: u64,
    pub batches: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfo {
    pub batch_size: u64,
    pub batch_age_ms: u64,
    pub max_attempts: u32,
    pub read_only_api: bool,
}

/// One event of the stream (`GET /api/v1/events`); ids increase by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    /// RFC 3339.
    pub time: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    BatchCommitted {
        batch: BatchInfo,
    },
    /// A batch was written to `retry/`, or a retry attempt failed again.
    BatchRetried {
        file: String,
        messages: u64,
        attempts: u32,
        error: String,
        next_attempt_in_s: f64,
    },
    FileStuck {
        file: String,
        messages: u64,
        error: String,
    },
    FileCorrupt {
        file: String,
        reason: String,
    },
    AllocatorResync {
        next_id: i64,
        db_max_id: i64,
        reason: String,
    },
    StateChanged {
        state: ProcessorState,
    },
    OperatorAction {
        action: String,
        target: Option<String>,
        origin: String,
        outcome: String,
    },
    Warning {
        message: String,
    },
    /// A bulk action's progress (at most a few per second; the summary is one
    /// `operator_action` at the end).
    BulkProgress {
        /// The action's id. Named `action_id` on the wire: the event's own `id` sits beside
        /// it in the same object, and two `id` keys made the event unreadable.
        #[serde(rename = "action_id")]
        id: u64,
        action: BulkAction,
        done: u64,
        total: u64,
        skipped: u64,
    },
    /// Sent by the server when a client's `Last-Event-ID` is older than the buffer:
    /// events were missed, refetch the snapshot.
    Resync {
        oldest_available: u64,
    },
}

/// Which directory a file lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Retry,
    Stuck,
    /// `discarded/`: set aside by an operator, brought back only by a restore.
    Discarded,
}

impl FileKind {
    /// The directory's name (and the API path segment of its files).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Retry => "retry",
            FileKind::Stuck => "stuck",
            FileKind::Discarded => "discarded",
        }
    }
}

/// `GET /api/v1/retry/{name}` and `/api/v1/stuck/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDetail {
    pub kind: FileKind,
    pub summary: FileSummary,
    /// Every failed attempt, oldest first.
    pub history: Vec<Attempt>,
    pub messages: MessagePage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub time: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePage {
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub items: Vec<Message>,
}

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    pub status: u16,
}

/// Body of `POST /api/v1/retry/{name}/requeue` (optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequeueRequest {
    /// The attempt count the client saw; the server answers 409 if the file changed since.
    pub attempts: Option<u32>,
}

/// Body of a successful mutation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    pub action: String,
    pub outcome: String,
}

/// How a list of retry or stuck files is paged, sorted and filtered on the server
/// (query parameters of the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileQuery {
    pub offset: u64,
    pub limit: u64,
    pub sort: SortKey,
    pub desc: bool,
    /// Case-insensitive substring of the name or the last error.
    pub filter: Option<String>,
}

impl Default for FileQuery {
    fn default() -> Self {
        FileQuery {
            offset: 0,
            limit: DEFAULT_PAGE,
            sort: SortKey::Name,
            desc: false,
            filter: None,
        }
    }
}

pub const DEFAULT_PAGE: u64 = 100;
pub const MAX_PAGE: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Name,
    Age,
    Messages,
    Attempts,
    NextAttempt,
    Error,
}

/// A file-list filter of this form selects the files of one cause (`cause:ID`).
pub const CAUSE_FILTER_PREFIX: &str = "cause:";

/// Largest set one bulk action (or preview) may name: more is refused with 413.
pub const MAX_BULK_FILES: usize = 100_000;

/// The version of a file a bulk action must find unchanged: attempts, messages and
/// creation time, as the snapshot shows them.
pub fn file_version(summary: &FileSummary) -> String {
    format!("{}/{}/{}", summary.attempts, summary.messages, summary.created)
}

/// What a bulk action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// A stuck file goes back to `retry/`, due now; a retry file becomes due now.
    Requeue,
    /// Moved to `discarded/` with a `.reason` (never deleted).
    Discard,
    /// From `discarded/` back to `retry/`.
    Restore,
    /// Deleted from `discarded/`: the only deletion.
    Purge,
}

impl BulkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Requeue => "requeue",
            BulkAction::Discard => "discard",
            BulkAction::Restore => "restore",
            BulkAction::Purge => "purge",
        }
    }
}

/// Which directory a bulk action takes its files from (the same names on the wire).
pub type BulkSource = FileKind;

/// `GET /api/v1/causes?kind=retry|stuck[&filter=S]`: the files grouped by cause, on the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CauseList {
    pub files: u64,
    pub messages: u64,
    /// Sorted by file count, largest first.
    pub groups: Vec<CauseGroup>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CauseGroup {
    /// Stable id of the cause (`--cause ID`, filter `cause:ID`).
    pub id: String,
    /// The last error, normalised (variable parts masked).
    pub cause: String,
    /// One real error of the group, as written.
    pub example: String,
    pub files: u64,
    pub messages: u64,
    pub oldest_age_s: f64,
    pub newest_age_s: f64,
    pub min_attempts: u32,
    pub max_attempts: u32,
}

/// One file of an exact set: what the operator saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEntry {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub messages: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cause_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cause: String,
}

/// Which files a preview (or the console's mark-all) selects: named ones, or all of a
/// directory that match a filter and a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkSelection {
    pub action: BulkAction,
    pub source: BulkSource,
    /// Bare names; when empty, every file that matches `filter` and `cause`.
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    /// Only files discarded (or, for retry/stuck, created) at least this many days ago.
    #[serde(default)]
    pub older_than_days: Option<u32>,
}

/// `POST /api/v1/bulk/preview`, and `GET /api/v1/bulk/select`: the exact set and what acting
/// on it would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkPreview {
    pub action: BulkAction,
    pub source: BulkSource,
    pub files: u64,
    pub messages: u64,
    /// Causes involved, largest first: (id, cause, files).
    pub causes: Vec<CauseCount>,
    /// Where the files go (`retry/`, `discarded/`, "deleted").
    pub destination: String,
    /// What happens next, and if the cause is not fixed.
    pub consequence: String,
    /// Names the operator asked for that are not there (named selections only).
    #[serde(default)]
    pub missing: Vec<String>,
    /// The exact set: send it back unchanged to act.
    pub set: Vec<SetEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseCount {
    pub id: String,
    pub cause: String,
    pub files: u64,
}

/// `POST /api/v1/bulk/action`: act on exactly this set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRequest {
    pub action: BulkAction,
    pub source: BulkSource,
    pub set: Vec<SetEntry>,
    /// The operator's note, kept in each `.reason` (discard only).
    #[serde(default)]
    pub note: Option<String>,
}

/// What a bulk action did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkResult {
    pub id: u64,
    pub action: String,
    pub total: u64,
    /// Files acted on.
    pub done: u64,
    /// Messages in the files acted on.
    pub messages: u64,
    /// Skipped because the file changed since the preview (another version).
    pub changed: Vec<String>,
    /// Skipped because the file is gone (committed, deleted).
    pub vanished: Vec<String>,
    /// Skipped because it was already moved where this action would move it.
    pub already_moved: Vec<String>,
    /// Failed (I/O): the file stays where it was.
    pub failed: Vec<String>,
    pub outcome: String,
}

impl BulkResult {
    pub fn skipped(&self) -> u64 {
        (self.changed.len() + self.vanished.len() + self.already_moved.len() + self.failed.len()) as u64
    }
}

/// `GET /healthz` and `GET /readyz`: `status` is `ok` (HTTP 200) or `unavailable` (503),
/// with the `reason` (and, for the database, `since`, RFC 3339) when not ok.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthStatus {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_progress_event_reads_back_as_it_was_written() {
        let event = Event {
            id: 7,
            time: "2026-11-27T21:29:54.360Z".into(),
            kind: EventKind::BulkProgress {
                id: 2,
                action: BulkAction::Restore,
                done: 1,
                total: 3,
                skipped: 0,
            },
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json.matches("\"id\"").count(), 1, "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }
}
