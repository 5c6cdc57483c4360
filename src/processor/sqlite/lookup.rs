//! `find` and the batch drill-down on SQLite: a read-only connection of their own (WAL: a
//! reader never waits for the committer and never blocks it), opened on first use and
//! again after a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use super::classify::{classify_with, with_context};
use crate::api::wire::find::{BatchMessages, Location, StoredMessage};
use crate::api::wire::BatchInfo;
use crate::processor::store::{Lookup, StoreError};

const FIND_UID: &str = "SELECT m.record_id, m.batch_id, m.received, b.committed_at, b.source, b.source_file
     FROM status_messages m LEFT JOIN batches b ON b.id = m.batch_id WHERE m.uid = ?1";

const BATCH: &str = "SELECT id, committed_at, count, duplicates, first_record_id, last_record_id,
     duration_ms, source, source_file FROM batches WHERE id = ?1";

/// A batch's rows lie between its first and last record id (no index on `batch_id`).
const COUNT_ROWS: &str =
    "SELECT count(*) FROM status_messages WHERE record_id BETWEEN ?2 AND ?3 AND batch_id = ?1";

const ROWS: &str = "SELECT record_id, uid, message_id, severity, component, machine, site, time,
     module, report_type, process_id, thread_id, win32_error, received, batch_id
     FROM status_messages WHERE record_id BETWEEN ?2 AND ?3 AND batch_id = ?1
     ORDER BY record_id LIMIT ?4 OFFSET ?5";

const INSSTRS: &str =
    "SELECT record_id, value FROM status_message_insstrs WHERE record_id BETWEEN ?1 AND ?2 ORDER BY record_id, idx";

const ATTRIBUTES: &str = "SELECT record_id, attribute_id, value FROM status_message_attributes
     WHERE record_id BETWEEN ?1 AND ?2 ORDER BY record_id, attribute_id";

#[derive(Debug)]
pub struct SqliteLookup {
    path: PathBuf,
    busy_timeout: Duration,
    conn: Option<Connection>,
}

impl SqliteLookup {
    /// Nothing is opened until the first question.
    pub fn new(path: &Path, busy_timeout: Duration) -> SqliteLookup {
        SqliteLookup {
            path: path.to_path_buf(),
            busy_timeout,
            conn: None,
        }
    }

    fn failed(&self, what: &str, err: &rusqlite::Error) -> StoreError {
        with_context(what, classify_with(err, Some(self.busy_timeout)))
    }

    /// Runs `read` on the connection; a failure drops it (the next question reopens).
    fn with_conn<T>(
        &mut self,
        what: &str,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        if self.conn.is_none() {
            // Never creates the file; `query_only` refuses any write a bug could attempt.
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let opened = Connection::open_with_flags(&self.path, flags).and_then(|c| {
                c.busy_timeout(self.busy_timeout)?;
                c.pragma_update(None, "query_only", true)?;
                Ok(c)
            });
            self.conn = Some(opened.map_err(|e| self.failed("open the database for reading", &e))?);
        }
        let conn = self.conn.as_ref().expect("opened above");
        let result = conn.execute_batch("BEGIN").and_then(|()| {
            let value = read(conn);
            let _ = conn.execute_batch("COMMIT");
            value
        });
        result.map_err(|e| {
            let err = self.failed(what, &e);
            self.conn = None;
            err
        })
    }
}

fn stored(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        record_id: row.get(0)?,
        uid: row.get(1)?,
        message_id: row.get(2)?,
        severity: row.get(3)?,
        component: row.get(4)?,
        machine: row.get(5)?,
        site: row.get(6)?,
        time: row.get(7)?,
        module: row.get(8)?,
        report_type: row.get(9)?,
        process_id: row.get(10)?,
        thread_id: row.get(11)?,
        win32_error: row.get(12)?,
        received: row.get(13)?,
        batch_id: row.get(14)?,
        insertion_strings: Vec::new(),
        attributes: BTreeMap::new(),
    })
}

fn batch_info(row: &Row<'_>) -> rusqlite::Result<BatchInfo> {
    Ok(BatchInfo {
        id: row.get(0)?,
        committed_at: row.get(1)?,
        count: row.get::<_, i64>(2)?.max(0) as u64,
        duplicates: row.get::<_, i64>(3)?.max(0) as u64,
        first_record_id: row.get(4)?,
        last_record_id: row.get(5)?,
        duration_ms: row.get(6)?,
        source: row.get(7)?,
        source_file: row.get(8)?,
    })
}

fn read_page(
    conn: &Connection,
    batch_id: i64,
    offset: u64,
    limit: u64,
) -> rusqlite::Result<Option<BatchMessages>> {
    let Some(batch) = conn
        .prepare_cached(BATCH)?
        .query_row([batch_id], batch_info)
        .optional()?
    else {
        return Ok(None);
    };
    let (low, high) = match (batch.first_record_id, batch.last_record_id) {
        (Some(low), Some(high)) => (low, high),
        _ => (1, 0), // a batch of duplicates only: no rows
    };
    let total: i64 = conn
        .prepare_cached(COUNT_ROWS)?
        .query_row(params![batch_id, low, high], |r| r.get(0))?;
    let mut items: Vec<StoredMessage> = conn
        .prepare_cached(ROWS)?
        .query_map(params![batch_id, low, high, limit as i64, offset as i64], stored)?
        .collect::<rusqlite::Result<_>>()?;
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let (from, to) = (first.record_id, last.record_id);
        let mut at: BTreeMap<i64, usize> = BTreeMap::new();
        for (i, m) in items.iter().enumerate() {
            at.insert(m.record_id, i);
        }
        let mut insstrs = conn.prepare_cached(INSSTRS)?;
        let mut rows = insstrs.query([from, to])?;
        while let Some(row) = rows.next()? {
            if let Some(&i) = at.get(&row.get::<_, i64>(0)?) {
                items[i].insertion_strings.push(row.get(1)?);
            }
        }
        let mut attributes = conn.prepare_cached(ATTRIBUTES)?;
        let mut rows = attributes.query([from, to])?;
        while let Some(row) = rows.next()? {
            if let Some(&i) = at.get(&row.get::<_, i64>(0)?) {
                items[i].attributes.insert(row.get(1)?, row.get(2)?);
            }
        }
    }
    Ok(Some(BatchMessages {
        batch,
        total: total.max(0) as u64,
        offset,
        limit,
        items,
    }))
}

impl Lookup for SqliteLookup {
    fn committed(&mut self, uids: &[String]) -> Result<Vec<(String, Location)>, StoreError> {
        self.with_conn("look up uids", |conn| {
            let mut statement = conn.prepare_cached(FIND_UID)?;
            let mut out = Vec::new();
            for uid in uids {
                let found = statement
                    .query_row([uid], |r| {
                        Ok(Location::Committed {
                            record_id: r.get(0)?,
                            batch_id: r.get(1)?,
                            received: r.get(2)?,
                            committed_at: r.get(3)?,
                            batch_source: r.get(4)?,
                            source_file: r.get(5)?,
                        })
                    })
                    .optional()?;
                if let Some(place) = found {
                    out.push((uid.clone(), place));
                }
            }
            Ok(out)
        })
    }

    fn batch_messages(
        &mut self,
        batch_id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<Option<BatchMessages>, StoreError> {
        self.with_conn("read a batch's messages", |conn| {
            read_page(conn, batch_id, offset, limit)
        })
    }
}
