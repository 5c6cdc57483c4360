//! The batch commit's fast path: binary `COPY` of the rows straight into the three tables.
//!
//! `INSERT ... ON CONFLICT DO NOTHING` inserts each row speculatively (probe the uid index,
//! insert, confirm) and row by row; `COPY` fills heap pages many rows at a time and writes
//! far less WAL. It cannot skip a known uid, so this path assumes there is none (the
//! common case: duplicates come only from a file read again after a crash): a uid that is
//! already stored, or twice in the batch, fails the `COPY` with a unique violation, the
//! transaction rolls back, and the caller commits the batch with the set-based statement
//! (`write.rs`), which skips it. Any other error the server reports goes the same way, so
//! every failure a batch can meet is decided, and worded, by that one statement exactly as
//! before.

use std::pin::pin;
use std::time::{Instant, SystemTime};

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::Fail;
use crate::processor::store::{elapsed_ms, BatchSource, Committed, KeyedMessage};

/// Batches at least this big take the `COPY` path: below it the single statement's three
/// round trips beat `COPY`'s eight.
pub(super) const COPY_FROM: usize = 64;

const MESSAGES: &str = "COPY status_messages (record_id, uid, message_id, severity, component, machine,
    site, time, module, report_type, process_id, thread_id, win32_error, received, batch_id)
    FROM STDIN (FORMAT binary)";
const MESSAGE_TYPES: [Type; 15] = [
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::INT8,
];
const INSSTRS: &str = "COPY status_message_insstrs (record_id, idx, value) FROM STDIN (FORMAT binary)";
const ATTRIBUTES: &str =
    "COPY status_message_attributes (record_id, attribute_id, value) FROM STDIN (FORMAT binary)";
const CHILD_TYPES: [Type; 3] = [Type::INT8, Type::INT8, Type::TEXT];

/// The smallest record id of the batch that already has child rows (rows another writer
/// left): a new message must not adopt them. The batch's ids come as runs of consecutive
/// ids `[lo, hi]` (one per key block, so one or two), and each run costs two index
/// descents whatever its length: `record_id = ANY(ids)` made the planner scan both child
/// tables whole (a hashed filter), which grows with the database.
const ORPHANS: &str = "SELECT min(o.record_id) FROM unnest($1::int8[], $2::int8[]) AS r(lo, hi),
    LATERAL ((SELECT record_id FROM status_message_insstrs
              WHERE record_id BETWEEN r.lo AND r.hi ORDER BY record_id LIMIT 1)
             UNION ALL
             (SELECT record_id FROM status_message_attributes
              WHERE record_id BETWEEN r.lo AND r.hi ORDER BY record_id LIMIT 1)) AS o";

const TALLY: &str = "INSERT INTO batches (id, committed_at, count, duplicates, first_record_id,
        last_record_id, duration_ms, source, source_file, processor)
    OVERRIDING SYSTEM VALUE
    VALUES ($1, now(), $2, 0, $3, $4, $5, $6, $7, $8)";

/// How the fast path ended.
pub(super) enum Outcome {
    Committed(Committed),
    /// The server refused something (a known uid, a bad value, a trigger...): nothing is
    /// kept; commit the batch with the set-based statement, which decides what it is.
    Refused(tokio_postgres::Error),
}

/// One transaction: the batch id and `now()`, the messages, the orphan check, the
/// children, the `batches` row, COMMIT. Every message is inserted or none is.
pub(super) async fn commit_batch(
    client: &mut Client,
    rows: &[KeyedMessage<'_>],
    source: BatchSource,
    source_file: Option<&str>,
    processor: &str,
    started: Instant,
) -> Result<Outcome, Fail> {
    let tx = client.transaction().await?;
    match copy_rows(&tx, rows, source, source_file, processor, started).await {
        Ok(mut committed) => {
            tx.commit().await?;
            committed.duration_ms = elapsed_ms(started);
            Ok(Outcome::Committed(committed))
        }
        // Dropping the transaction rolls it back. A lost or closing connection is not a
        // refusal: that failure is the caller's to classify, as any other.
        Err(fail) if !fail.connection_suspect() => match fail {
            Fail::Pg(err) if err.as_db_error().is_some() => Ok(Outcome::Refused(err)),
            fail => Err(fail),
        },
        Err(fail) => Err(fail),
    }
}

async fn copy_rows(
    tx: &Transaction<'_>,
    rows: &[KeyedMessage<'_>],
    source: BatchSource,
    source_file: Option<&str>,
    processor: &str,
    started: Instant,
) -> Result<Committed, Fail> {
    let head = tx
        .query_one(
            "SELECT nextval(pg_get_serial_sequence('batches', 'id')), now()",
            &[],
        )
        .await?;
    let batch_id: i64 = head.get(0);
    let received: SystemTime = head.get(1);

    let sink = tx.copy_in(MESSAGES).await?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &MESSAGE_TYPES));
    for row in rows {
        let m = row.message;
        let severity = m.severity.as_str();
        let values: [&(dyn ToSql + Sync); 15] = [
            &row.record_id,
            &m.uid,
            &m.message_id,
            &severity,
            &m.component,
            &m.machine,
            &m.site,
            &m.time,
            &m.module,
            &m.report_type,
            &m.process_id,
            &m.thread_id,
            &m.win32_error,
            &received,
            &batch_id,
        ];
        writer.as_mut().write(&values).await?;
    }
    writer.finish().await?;

    let ids: Vec<i64> = rows.iter().map(|r| r.record_id).collect();
    let (lows, highs) = runs(&ids);
    if let Some(record_id) = tx
        .query_one(ORPHANS, &[&lows, &highs])
        .await?
        .get::<_, Option<i64>>(0)
    {
        let uid = rows
            .iter()
            .find(|r| r.record_id == record_id)
            .map_or_else(String::new, |r| r.message.uid.clone());
        return Err(Fail::Orphan { record_id, uid });
    }

    if rows.iter().any(|r| !r.message.insertion_strings.is_empty()) {
        let sink = tx.copy_in(INSSTRS).await?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &CHILD_TYPES));
        for row in rows {
            for (idx, value) in (0i64..).zip(&row.message.insertion_strings) {
                writer.as_mut().write(&[&row.record_id, &idx, value]).await?;
            }
        }
        writer.finish().await?;
    }
    if rows.iter().any(|r| !r.message.attributes.is_empty()) {
        let sink = tx.copy_in(ATTRIBUTES).await?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &CHILD_TYPES));
        for row in rows {
            for (attribute_id, value) in &row.message.attributes {
                writer
                    .as_mut()
                    .write(&[&row.record_id, attribute_id, value])
                    .await?;
            }
        }
        writer.finish().await?;
    }

    let count = rows.len() as i64;
    let first = ids.iter().min().copied();
    let last = ids.iter().max().copied();
    let duration_ms = elapsed_ms(started);
    tx.execute(
        TALLY,
        &[
            &batch_id,
            &count,
            &first,
            &last,
            &duration_ms,
            &source.as_str(),
            &source_file,
            &processor,
        ],
    )
    .await?;
    Ok(Committed {
        batch_id,
        inserted: count.unsigned_abs(),
        duplicates: 0,
        first_record_id: first,
        last_record_id: last,
        duration_ms,
    })
}

/// The ids as runs of consecutive values: `(starts, ends)`, both inclusive.
fn runs(ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (mut lows, mut highs) = (Vec::new(), Vec::<i64>::new());
    for id in sorted {
        match highs.last_mut() {
            Some(high) if *high + 1 == id => *high = id,
            _ => {
                lows.push(id);
                highs.push(id);
            }
        }
    }
    (lows, highs)
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn ids_become_runs_of_consecutive_values() {
        assert_eq!(runs(&[]), (vec![], vec![]));
        assert_eq!(runs(&[5]), (vec![5], vec![5]));
        assert_eq!(runs(&[3, 4, 5, 6]), (vec![3], vec![6]));
        assert_eq!(
            runs(&[10, 11, 100, 101, 102, 7]),
            (vec![7, 10, 100], vec![7, 11, 102])
        );
        assert_eq!(runs(&[2, 1, 2]), (vec![1], vec![2]));
    }
}
