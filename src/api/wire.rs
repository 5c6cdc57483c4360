//! The JSON documents of the API, shared by the server, the CLI and the console (serde only).

use serde::{Deserialize, Serialize};

pub use crate::message::Message;

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
    /// Id of the newest event when the snapshot was taken: a client resumes the stream from here.
    pub last_event_id: u64,
    /// Retention and what the database holds (absent from older processors: defaults).
    #[serde(default)]
    pub retention: RetentionInfo,
    /// Whether the database answers (absent from older processors: reachable).
    #[serde(default)]
    pub database: DatabaseInfo,
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
    /// Sent by the server when a client's `Last-Event-ID` is older than the buffer:
    /// events were missed, refetch the snapshot.
    Resync {
        oldest_available: u64,
    },
}

/// Which directory a file lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Retry,
    Stuck,
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
