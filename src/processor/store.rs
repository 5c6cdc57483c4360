//! The storage trait the committer writes through; SQLite (`sqlite.rs`) is the embedded
//! implementation, and another backend (PostgreSQL) is an added implementation.

use crate::message::Message;

/// How a failed store operation should be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A record id of this batch is already used (another writer, a restored backup):
    /// resync the allocator and try again at once.
    #[error("record id conflict: {0}")]
    KeyConflict(String),
    /// Busy, locked, full, I/O, read-only, unreachable: the batch waits in `retry/`
    /// and is tried again later, unchanged.
    #[error("{0}")]
    Transient(String),
    /// This batch will never commit as it is (a trigger, a constraint, a bad value):
    /// bisect it until the failing message is isolated.
    #[error("{0}")]
    Permanent(String),
}

impl StoreError {
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Where a batch came from (the `source` column of `batches`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSource {
    Inbox,
    Retry,
    Drain,
}

impl BatchSource {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchSource::Inbox => "inbox",
            BatchSource::Retry => "retry",
            BatchSource::Drain => "drain",
        }
    }
}

/// A block of record ids `[start, end)` reserved durably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyBlock {
    pub start: i64,
    pub end: i64,
}

/// What one committed batch wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub batch_id: i64,
    /// Rows inserted.
    pub inserted: u64,
    /// Messages whose uid was already in the database (skipped, key unused).
    pub duplicates: u64,
    pub first_record_id: Option<i64>,
    pub last_record_id: Option<i64>,
    pub duration_ms: f64,
}

/// A batch's `duration_ms`: from the moment its commit began.
pub fn elapsed_ms(started: std::time::Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// One message with the record id the allocator gave it.
#[derive(Debug, Clone, Copy)]
pub struct KeyedMessage<'a> {
    pub record_id: i64,
    pub message: &'a Message,
}

/// The durable store of messages and of the allocator's high-water mark.
pub trait Store: Send {
    /// The largest record id used anywhere in the message tables (0 when empty).
    fn max_record_id(&mut self) -> Result<i64, StoreError>;

    /// The persisted high-water mark: every id below it may have been handed out.
    fn high_water(&mut self) -> Result<i64, StoreError>;

    /// Durably reserves `size` ids, all at or above `at_least` and above every block
    /// reserved before; returns the block only once the reservation is durable.
    fn reserve_block(&mut self, at_least: i64, size: i64) -> Result<KeyBlock, StoreError>;

    /// Writes the messages (with insertion strings and attributes) and one `batches` row
    /// in one transaction. A message whose uid is already stored is skipped. A record
    /// id that is already used fails the whole transaction with `KeyConflict`.
    fn commit_batch(
        &mut self,
        rows: &[KeyedMessage<'_>],
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Result<Committed, StoreError>;

    /// Housekeeping between batches (SQLite: a WAL checkpoint). Failures are not fatal.
    fn maintain(&mut self) -> Result<(), StoreError>;
}

/// Deletes old messages for retention, on a connection of its own (never the committer's),
/// in transactions small enough to keep the write lock short.
pub trait Pruner: Send {
    /// Deletes at most `limit` messages whose `time` is before their severity's cutoff,
    /// with their insertion strings and attributes, in one transaction.
    fn prune_chunk(&mut self, cutoffs: &Cutoffs, limit: usize) -> Result<Chunk, StoreError>;

    /// The `time` (RFC 3339, UTC) of the oldest stored message, and the database's size.
    fn oldest_and_size(&mut self) -> Result<(Option<String>, u64), StoreError>;

    /// Rows in `status_messages` (a full count: called rarely).
    fn count_rows(&mut self) -> Result<u64, StoreError>;
}

/// Per severity, the instant before which messages go (`None`: kept forever).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cutoffs {
    pub error: Option<chrono::DateTime<chrono::Utc>>,
    pub warning: Option<chrono::DateTime<chrono::Utc>>,
    pub info: Option<chrono::DateTime<chrono::Utc>>,
}

/// What one prune transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Chunk {
    /// Messages deleted (their child rows went with them).
    pub deleted: u64,
    /// How long the write lock (or the delete transaction) was held.
    pub held: std::time::Duration,
}

/// Reads for `find` and the batch drill-down, on a read-only connection of their own
/// (SQLite: a WAL reader, which never waits for or blocks the committer; PostgreSQL: a
/// connection from the pool).
pub trait Lookup: Send {
    /// Where each of these uids is stored, for those that are.
    fn committed(
        &mut self,
        uids: &[String],
    ) -> Result<Vec<(String, crate::api::wire::find::Location)>, StoreError>;

    /// One page of a committed batch's messages, in record id order; `None` if there is
    /// no such batch.
    fn batch_messages(
        &mut self,
        batch_id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<Option<crate::api::wire::find::BatchMessages>, StoreError>;
}
