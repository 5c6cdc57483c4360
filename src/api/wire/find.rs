//! The wire types of `find` (where is message X) and of the batch drill-down (the messages
//! of one committed batch), shared by the server, the CLI and the console.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::BatchInfo;

/// Most uids one `find` request may ask about.
pub const MAX_FIND_UIDS: usize = 1000;
/// Largest page of a batch's messages.
pub const MAX_BATCH_PAGE: u64 = 1000;

/// `GET /api/v1/find?uid=..&uid=..`: one result per uid asked, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindReport {
    pub results: Vec<FindResult>,
    /// Files in `retry/`, `stuck/` and `discarded/` whose uids are not indexed yet (the
    /// index is still being built after a start): a uid in one of them is not found yet.
    pub index_pending: u64,
    /// Files the uid index covers.
    pub index_files: u64,
    /// Why the database could not be asked (then `committed` places are unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_error: Option<String>,
    /// Why some part of the state directory could not be searched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindResult {
    pub uid: String,
    /// Empty: not seen anywhere.
    pub places: Vec<Location>,
}

impl FindResult {
    pub fn found(&self) -> bool {
        !self.places.is_empty()
    }
}

/// Where a message is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "place", rename_all = "snake_case")]
pub enum Location {
    /// Stored in the database.
    Committed {
        record_id: i64,
        batch_id: i64,
        /// RFC 3339; `None` when the batch row is gone (another writer).
        #[serde(default)]
        committed_at: Option<String>,
        /// When the row was written (RFC 3339).
        received: String,
        /// The batch's source: `inbox`, `retry` or `drain`.
        #[serde(default)]
        batch_source: Option<String>,
        /// The retry file a `retry` batch came from. The inbox file a message came in is
        /// not stored in the database.
        #[serde(default)]
        source_file: Option<String>,
    },
    /// In an inbox file the processor has read: in the open batch, not durable yet.
    InFlight { file: String },
    /// In an inbox file not read yet.
    Inbox { file: String },
    Retry {
        file: String,
        attempts: u32,
        last_error: String,
        #[serde(default)]
        next_attempt: Option<String>,
    },
    Stuck {
        file: String,
        attempts: u32,
        last_error: String,
    },
    Discarded {
        file: String,
        attempts: u32,
        last_error: String,
    },
    /// In a file of `corrupt/` whose text names the uid (the file could not be read as
    /// messages, or this is its set-aside bad lines).
    Corrupt { file: String, reason: String },
}

impl Location {
    pub fn place(&self) -> &'static str {
        match self {
            Location::Committed { .. } => "committed",
            Location::InFlight { .. } => "in_flight",
            Location::Inbox { .. } => "inbox",
            Location::Retry { .. } => "retry",
            Location::Stuck { .. } => "stuck",
            Location::Discarded { .. } => "discarded",
            Location::Corrupt { .. } => "corrupt",
        }
    }
}

/// One stored message with every field, as the database holds it (text as stored, so a
/// row another writer made is shown, not refused).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub record_id: i64,
    pub uid: String,
    pub message_id: i64,
    pub severity: String,
    pub component: String,
    pub machine: String,
    pub site: String,
    pub time: String,
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub report_type: Option<String>,
    #[serde(default)]
    pub process_id: Option<i64>,
    #[serde(default)]
    pub thread_id: Option<i64>,
    #[serde(default)]
    pub win32_error: Option<i64>,
    pub received: String,
    pub batch_id: i64,
    #[serde(default)]
    pub insertion_strings: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<i64, String>,
}

/// `GET /api/v1/batches/{id}/messages?offset=&limit=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchMessages {
    pub batch: BatchInfo,
    /// Rows of this batch still in the database (retention may have pruned some).
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub items: Vec<StoredMessage>,
}
