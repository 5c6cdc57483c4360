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
    /// How long messages are kept, per severity (all `None`: retention off, the default).
    pub retention: RetentionRules,
    /// How often retention runs (a pass also runs at start).
    pub retain_interval: Duration,
    /// The durable event history in `journal/`.
    pub journal: crate::processor::journal::JournalConfig,
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
            retention: RetentionRules::default(),
            retain_interval: Duration::from_secs(60),
            journal: Default::default(),
        }
    }
}

/// Days a message is kept, per severity, counted from the message's own `time`; a
/// severity without a rule is kept forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionRules {
    pub error: Option<u32>,
    pub warning: Option<u32>,
    pub info: Option<u32>,
}

impl RetentionRules {
    /// `--retain error=90,warning=30,info=7` (any subset, each severity at most once).
    pub fn parse(spec: &str) -> Result<RetentionRules, String> {
        let mut rules = RetentionRules::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (severity, days) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not SEVERITY=DAYS (e.g. error=90,warning=30,info=7)"))?;
            let days: u32 = days
                .trim()
                .parse()
                .ok()
                .filter(|d| *d >= 1)
                .ok_or_else(|| format!("{part:?}: the days must be a whole number of at least 1"))?;
            let slot = match severity.trim() {
                "error" => &mut rules.error,
                "warning" => &mut rules.warning,
                "info" => &mut rules.info,
                other => return Err(format!("{other:?} is not a severity (error, warning, info)")),
            };
            if slot.replace(days).is_some() {
                return Err(format!("{:?} is given twice", severity.trim()));
            }
        }
        if rules.is_off() {
            return Err("no rule given (e.g. error=90,warning=30,info=7)".into());
        }
        Ok(rules)
    }

    /// These rules, with `days` for every severity that has none (`--retain-days`).
    pub fn or_days(self, days: Option<u32>) -> RetentionRules {
        RetentionRules {
            error: self.error.or(days),
            warning: self.warning.or(days),
            info: self.info.or(days),
        }
    }

    pub fn is_off(&self) -> bool {
        self.error.is_none() && self.warning.is_none() && self.info.is_none()
    }

    /// `(severity, days)` for every severity that has a rule.
    pub fn rules(&self) -> Vec<(crate::message::Severity, u32)> {
        use crate::message::Severity;
        [
            (Severity::Error, self.error),
            (Severity::Warning, self.warning),
            (Severity::Info, self.info),
        ]
        .into_iter()
        .filter_map(|(s, d)| d.map(|d| (s, d)))
        .collect()
    }
}

/// The platform's data directory for statmgr (`~/.local/share/statmgr` on Linux).
pub fn default_root() -> PathBuf {
    dirs::data_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("statmgr")
}

#[cfg(test)]
mod tests {
    use super::RetentionRules;

    #[test]
    fn retention_rules_parse_and_fill_in_the_default() {
        let rules = RetentionRules::parse("error=90, warning=30").unwrap();
        assert_eq!(
            (rules.error, rules.warning, rules.info),
            (Some(90), Some(30), None)
        );
        let all = rules.or_days(Some(7));
        assert_eq!((all.error, all.warning, all.info), (Some(90), Some(30), Some(7)));
        assert!(RetentionRules::default().is_off());
        assert!(!RetentionRules::default().or_days(Some(1)).is_off());
        for (bad, why) in [
            ("fatal=3", "not a severity"),
            ("error=0", "at least 1"),
            ("error=x", "at least 1"),
            ("error", "SEVERITY=DAYS"),
            ("error=1,error=2", "twice"),
            ("", "no rule"),
        ] {
            let err = RetentionRules::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
