//! Flags, defaults and limits of the processor, in one place.

use std::path::PathBuf;
use std::time::Duration;

/// Limits that every inbox file is checked against before any message in it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest inbox file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Most messages one file may hold.
    pub max_messages_per_file: usize,
    /// Longest string field, in bytes (UTF-8).
    pub max_string_bytes: usize,
    /// Most insertion strings one message may carry.
    pub max_insertion_strings: usize,
    /// Most attributes one message may carry.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 8 * 1024 * 1024,
            max_messages_per_file: 100_000,
            max_string_bytes: 4096,
            max_insertion_strings: 10,
            max_attributes: 64,
        }
    }
}

/// Everything `statmgr run` can be told.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    pub root: PathBuf,
    /// A batch is closed at this many messages...
    pub batch_size: usize,
    /// ...or when its first message is this old, whichever comes first, while the inbox
    /// is quiet. Under a backlog (read files waiting) the age does not close a batch that
    /// can be filled at once: it grows up to `batch_max`, and stays open at most
    /// `batch_age` from its first message.
    pub batch_age: Duration,
    /// Largest batch under a backlog (never below `batch_size`).
    pub batch_max: usize,
    /// Ids reserved durably per allocator block.
    pub key_block_size: i64,
    /// A retry file that failed this many times moves to `stuck/`.
    pub max_attempts: u32,
    /// Backoff bounds for retry files.
    pub retry_backoff_min: Duration,
    pub retry_backoff_max: Duration,
    /// How often the inbox is rescanned (the truth; notify events are hints).
    pub rescan_interval: Duration,
    /// How long shutdown may try to commit before writing the open batch to `retry/`.
    pub drain_deadline: Duration,
    /// SQLite busy timeout.
    pub busy_timeout: Duration,
    /// Files with an unknown extension are left alone this long (a producer may rename them).
    pub foreign_file_grace: Duration,
    pub limits: Limits,
    /// A `postgres://` URL: commit to this shared PostgreSQL database instead of the
    /// state directory's SQLite file (several processors may share one database).
    pub database: Option<String>,
    /// Most pages the database may hold (SQLite `max_page_count`); a test knob for "full".
    pub max_db_pages: Option<u64>,
    /// SQLite page cache of the committer's connection, in KiB.
    pub sqlite_cache_kib: u64,
    /// SQLite `wal_autocheckpoint` of the committer's connection, in pages (0: never on
    /// the commit path).
    pub wal_autocheckpoint: u64,
    /// A checkpoint thread with its own connection copies the WAL into the database once
    /// it holds this many pages (0: no thread).
    pub checkpoint_pages: u64,
}

impl ProcessorConfig {
    pub fn new(root: PathBuf) -> Self {
        ProcessorConfig {
            root,
            batch_size: 1000,
            batch_age: Duration::from_millis(200),
            batch_max: 10_000,
            key_block_size: 100_000,
            max_attempts: 20,
            retry_backoff_min: Duration::from_secs(1),
            retry_backoff_max: Duration::from_secs(300),
            rescan_interval: Duration::from_secs(5),
            drain_deadline: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
            foreign_file_grace: Duration::from_secs(60),
            limits: Limits::default(),
            database: None,
            max_db_pages: None,
            sqlite_cache_kib: 24 * 1024,
            wal_autocheckpoint: 50_000,
            checkpoint_pages: 20_000,
        }
    }
}

/// The platform's data directory for statmgr (`~/.local/share/statmgr` on Linux).
pub fn default_root() -> PathBuf {
    dirs::data_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("statmgr")
}
