//! The two write transactions: committing a batch of messages, and reserving a key block.

use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use rusqlite::{params, CachedStatement, Connection, TransactionBehavior};

use super::read;
use crate::processor::store::{elapsed_ms, BatchSource, Committed, KeyBlock, KeyedMessage};

/// Why a write transaction failed, before it is classified.
#[derive(Debug)]
pub(super) enum Fail {
    /// A statement failed outside any one message.
    Sql(rusqlite::Error),
    /// Writing this message failed (a used record id, a trigger, a bad value).
    Message {
        record_id: i64,
        uid: String,
        source: rusqlite::Error,
    },
    /// Child rows already exist under this record id (orphans another writer left).
    Orphan { record_id: i64, uid: String },
    /// The request itself is impossible (exhausted id space, a bad size).
    Invalid(String),
}

impl From<rusqlite::Error> for Fail {
    fn from(err: rusqlite::Error) -> Fail {
        Fail::Sql(err)
    }
}

const INSERT_BATCH: &str =
    "INSERT INTO batches (committed_at, count, duplicates, duration_ms, source, source_file)
     VALUES (?1, 0, 0, 0, ?2, ?3)";
/// `DO NOTHING` only covers the uid: a used record id still fails the statement.
const INSERT_MESSAGE: &str = "INSERT INTO status_messages (record_id, uid, message_id, severity, component,
     machine, site, time, module, report_type, process_id, thread_id, win32_error, received, batch_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
     ON CONFLICT (uid) DO NOTHING";
const HAS_CHILDREN: &str = "SELECT EXISTS (SELECT 1 FROM status_message_insstrs WHERE record_id = ?1)
     OR EXISTS (SELECT 1 FROM status_message_attributes WHERE record_id = ?1)";
/// The same question for a whole batch at once: one range seek per table instead of two
/// seeks per message.
const HAS_CHILDREN_IN: &str =
    "SELECT EXISTS (SELECT 1 FROM status_message_insstrs WHERE record_id BETWEEN ?1 AND ?2)
     OR EXISTS (SELECT 1 FROM status_message_attributes WHERE record_id BETWEEN ?1 AND ?2)";
const INSERT_INSSTR: &str = "INSERT INTO status_message_insstrs (record_id, idx, value) VALUES (?1, ?2, ?3)";
const INSERT_ATTRIBUTE: &str =
    "INSERT INTO status_message_attributes (record_id, attribute_id, value) VALUES (?1, ?2, ?3)";
const FINISH_BATCH: &str = "UPDATE batches SET count = ?2, duplicates = ?3, first_record_id = ?4,
     last_record_id = ?5, duration_ms = ?6 WHERE id = ?1";
const SET_HIGH_WATER: &str = "INSERT INTO allocator (id, high_water, block_size) VALUES (1, ?1, ?2)
     ON CONFLICT (id) DO UPDATE SET high_water = excluded.high_water, block_size = excluded.block_size";

/// What the rows of one batch came to.
#[derive(Debug, Default)]
struct Tally {
    // i64 because that is what SQLite stores; never negative.
    inserted: i64,
    duplicates: i64,
    first: Option<i64>,
    last: Option<i64>,
}

impl Tally {
    fn inserted(&mut self, record_id: i64) {
        self.inserted += 1;
        self.first = Some(self.first.map_or(record_id, |first| first.min(record_id)));
        self.last = Some(self.last.map_or(record_id, |last| last.max(record_id)));
    }
}

/// The prepared statements of the per-message loop.
struct MessageStatements<'c> {
    insert: CachedStatement<'c>,
    /// `None` when no record id of the batch has child rows (checked once, up front).
    has_children: Option<CachedStatement<'c>>,
    insstr: CachedStatement<'c>,
    attribute: CachedStatement<'c>,
}

/// One `BEGIN IMMEDIATE` transaction; dropping it on any error rolls everything back.
pub(super) fn commit_batch(
    conn: &mut Connection,
    rows: &[KeyedMessage<'_>],
    source: BatchSource,
    source_file: Option<&str>,
    started: Instant,
) -> Result<Committed, Fail> {
    let received = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(INSERT_BATCH)?
        .execute(params![received, source.as_str(), source_file])?;
    let batch_id = tx.last_insert_rowid();
    let mut tally = Tally::default();
    {
        // Under the write lock no one else can add child rows, and this transaction adds
        // them only under record ids it has just inserted: if the batch's id range holds
        // none now, no message of it can adopt orphans. Otherwise, check each message.
        let orphans_possible = match id_range(rows) {
            Some((low, high)) => tx
                .prepare_cached(HAS_CHILDREN_IN)?
                .query_row([low, high], |r| r.get::<_, bool>(0))?,
            None => false,
        };
        let mut statements = MessageStatements {
            insert: tx.prepare_cached(INSERT_MESSAGE)?,
            has_children: if orphans_possible {
                Some(tx.prepare_cached(HAS_CHILDREN)?)
            } else {
                None
            },
            insstr: tx.prepare_cached(INSERT_INSSTR)?,
            attribute: tx.prepare_cached(INSERT_ATTRIBUTE)?,
        };
        for row in rows {
            if write_message(&mut statements, row, &received, batch_id)? {
                tally.inserted(row.record_id);
            } else {
                tally.duplicates += 1;
            }
        }
    }
    // The stored duration cannot include the COMMIT it is part of; the returned one does.
    let stored_ms = elapsed_ms(started);
    tx.prepare_cached(FINISH_BATCH)?.execute(params![
        batch_id,
        tally.inserted,
        tally.duplicates,
        tally.first,
        tally.last,
        stored_ms
    ])?;
    crate::failpoint!("db.before_commit", sql, "batch");
    tx.commit()?;
    Ok(Committed {
        batch_id,
        inserted: tally.inserted.unsigned_abs(),
        duplicates: tally.duplicates.unsigned_abs(),
        first_record_id: tally.first,
        last_record_id: tally.last,
        duration_ms: elapsed_ms(started),
    })
}

/// Writes one message and its children; `false` when its uid is already stored.
fn write_message(
    statements: &mut MessageStatements<'_>,
    row: &KeyedMessage<'_>,
    received: &str,
    batch_id: i64,
) -> Result<bool, Fail> {
    let message = row.message;
    let record_id = row.record_id;
    let failed = |source| Fail::Message {
        record_id,
        uid: message.uid.clone(),
        source,
    };
    let changed = statements
        .insert
        .execute(params![
            record_id,
            message.uid,
            message.message_id,
            message.severity.as_str(),
            message.component,
            message.machine,
            message.site,
            message.time,
            message.module,
            message.report_type,
            message.process_id,
            message.thread_id,
            message.win32_error,
            received,
            batch_id,
        ])
        .map_err(failed)?;
    if changed == 0 {
        return Ok(false);
    }
    // A message without insertion strings would otherwise silently adopt orphans.
    let orphaned = match &mut statements.has_children {
        Some(has_children) => has_children.query_row([record_id], |r| r.get::<_, bool>(0))?,
        None => false,
    };
    if orphaned {
        return Err(Fail::Orphan {
            record_id,
            uid: message.uid.clone(),
        });
    }
    for (idx, value) in (0i64..).zip(&message.insertion_strings) {
        statements
            .insstr
            .execute(params![record_id, idx, value])
            .map_err(failed)?;
    }
    for (attribute_id, value) in &message.attributes {
        statements
            .attribute
            .execute(params![record_id, attribute_id, value])
            .map_err(failed)?;
    }
    Ok(true)
}

/// The smallest and largest record id of the batch.
fn id_range(rows: &[KeyedMessage<'_>]) -> Option<(i64, i64)> {
    let low = rows.iter().map(|r| r.record_id).min()?;
    let high = rows.iter().map(|r| r.record_id).max()?;
    Some((low, high))
}

/// Moves the high-water mark past a new block in its own transaction; the block is
/// returned only after `COMMIT` (durable with `synchronous=FULL`).
pub(super) fn reserve_block(conn: &mut Connection, at_least: i64, size: i64) -> Result<KeyBlock, Fail> {
    if size <= 0 {
        return Err(Fail::Invalid(format!(
            "a key block must hold at least one id (asked for {size})"
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let start = read::high_water(&tx)?.max(at_least);
    let end = start.checked_add(size).ok_or_else(|| {
        Fail::Invalid(format!(
            "record id space exhausted: cannot reserve {size} ids from {start}"
        ))
    })?;
    tx.prepare_cached(SET_HIGH_WATER)?.execute(params![end, size])?;
    crate::failpoint!("db.before_commit", sql, "reserve");
    tx.commit()?;
    Ok(KeyBlock { start, end })
}
