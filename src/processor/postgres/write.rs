//! The two write transactions: committing a batch of messages (a few set-based statements,
//! not one round trip per message), and taking a key block from the sequence.

use std::time::Instant;

use deadpool_postgres::{Client, Transaction};

use super::schema::{sequence_increment, SEQUENCE_LOCK};
use super::Fail;
use crate::message::Message;
use crate::processor::store::{BatchSource, Committed, KeyBlock, KeyedMessage};

const INSERT_BATCH: &str = "INSERT INTO batches
     (committed_at, count, duplicates, duration_ms, source, source_file, processor)
     VALUES (now(), 0, 0, 0, $1, $2, $3) RETURNING id";
/// `DO NOTHING` only covers the uid (a uid met twice in one batch is inserted once):
/// a used record id still fails the statement with the primary key's unique_violation.
const INSERT_MESSAGES: &str = "INSERT INTO status_messages (record_id, uid, message_id, severity,
     component, machine, site, time, module, report_type, process_id, thread_id, win32_error,
     received, batch_id)
     SELECT m.*, now(), $14 FROM unnest($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[],
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int8[], $12::int8[],
         $13::int8[]) AS m
     ON CONFLICT (uid) DO NOTHING
     RETURNING record_id";
/// Child rows under a record id that has no message are another writer's leftovers: a
/// new message must not adopt them.
const ORPHANS: &str = "SELECT record_id FROM status_message_insstrs WHERE record_id = ANY($1)
     UNION ALL SELECT record_id FROM status_message_attributes WHERE record_id = ANY($1)
     LIMIT 1";
const INSERT_INSSTRS: &str = "INSERT INTO status_message_insstrs (record_id, idx, value)
     SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[])";
const INSERT_ATTRIBUTES: &str = "INSERT INTO status_message_attributes (record_id, attribute_id, value)
     SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[])";
const FINISH_BATCH: &str = "UPDATE batches SET count = $2, duplicates = $3, first_record_id = $4,
     last_record_id = $5, duration_ms = $6 WHERE id = $1";

/// One transaction: the `batches` row, the messages, their children, the tally.
pub(super) async fn commit_batch(
    client: &mut Client,
    rows: &[KeyedMessage<'_>],
    source: BatchSource,
    source_file: Option<&str>,
    processor: &str,
    started: Instant,
) -> Result<Committed, Fail> {
    let tx = client.transaction().await?;
    let statement = tx.prepare_cached(INSERT_BATCH).await?;
    let batch_id: i64 = tx
        .query_one(&statement, &[&source.as_str(), &source_file, &processor])
        .await?
        .get(0);
    let inserted = insert_messages(&tx, rows, batch_id).await?;
    let new_rows: Vec<&KeyedMessage<'_>> = rows
        .iter()
        .filter(|row| inserted.contains(&row.record_id))
        .collect();
    insert_children(&tx, &new_rows).await?;
    let first = inserted.iter().min().copied();
    let last = inserted.iter().max().copied();
    let count = inserted.len() as i64;
    let duplicates = (rows.len() - inserted.len()) as i64;
    // The stored duration cannot include the COMMIT it is part of; the returned one does.
    let statement = tx.prepare_cached(FINISH_BATCH).await?;
    tx.execute(
        &statement,
        &[
            &batch_id,
            &count,
            &duplicates,
            &first,
            &last,
            &elapsed_ms(started),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(Committed {
        batch_id,
        inserted: count.unsigned_abs(),
        duplicates: duplicates.unsigned_abs(),
        first_record_id: first,
        last_record_id: last,
        duration_ms: elapsed_ms(started),
    })
}

/// Inserts the messages whose uid is new; returns their record ids.
async fn insert_messages(
    tx: &Transaction<'_>,
    rows: &[KeyedMessage<'_>],
    batch_id: i64,
) -> Result<std::collections::HashSet<i64>, Fail> {
    let column = |f: fn(&Message) -> Option<&str>| rows.iter().map(|r| f(r.message)).collect::<Vec<_>>();
    let ids: Vec<i64> = rows.iter().map(|r| r.record_id).collect();
    let uids = column(|m| Some(&m.uid));
    let message_ids: Vec<i64> = rows.iter().map(|r| r.message.message_id).collect();
    let severities = column(|m| Some(m.severity.as_str()));
    let components = column(|m| Some(&m.component));
    let machines = column(|m| Some(&m.machine));
    let sites = column(|m| Some(&m.site));
    let times = column(|m| Some(&m.time));
    let modules = column(|m| m.module.as_deref());
    let report_types = column(|m| m.report_type.as_deref());
    let process_ids: Vec<Option<i64>> = rows.iter().map(|r| r.message.process_id).collect();
    let thread_ids: Vec<Option<i64>> = rows.iter().map(|r| r.message.thread_id).collect();
    let win32_errors: Vec<Option<i64>> = rows.iter().map(|r| r.message.win32_error).collect();
    let statement = tx.prepare_cached(INSERT_MESSAGES).await?;
    let inserted = tx
        .query(
            &statement,
            &[
                &ids,
                &uids,
                &message_ids,
                &severities,
                &components,
                &machines,
                &sites,
                &times,
                &modules,
                &report_types,
                &process_ids,
                &thread_ids,
                &win32_errors,
                &batch_id,
            ],
        )
        .await?;
    Ok(inserted.iter().map(|row| row.get::<_, i64>(0)).collect())
}

/// The insertion strings and attributes of the newly inserted messages.
async fn insert_children(tx: &Transaction<'_>, rows: &[&KeyedMessage<'_>]) -> Result<(), Fail> {
    let ids: Vec<i64> = rows.iter().map(|r| r.record_id).collect();
    let statement = tx.prepare_cached(ORPHANS).await?;
    if let Some(row) = tx.query_opt(&statement, &[&ids]).await? {
        let record_id: i64 = row.get(0);
        let uid = rows
            .iter()
            .find(|r| r.record_id == record_id)
            .map_or_else(String::new, |r| r.message.uid.clone());
        return Err(Fail::Orphan { record_id, uid });
    }
    let (mut owners, mut indexes, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let (mut attr_owners, mut attr_ids, mut attr_values) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        for (idx, value) in (0i64..).zip(&row.message.insertion_strings) {
            owners.push(row.record_id);
            indexes.push(idx);
            values.push(value.as_str());
        }
        for (attribute_id, value) in &row.message.attributes {
            attr_owners.push(row.record_id);
            attr_ids.push(*attribute_id);
            attr_values.push(value.as_str());
        }
    }
    if !owners.is_empty() {
        let statement = tx.prepare_cached(INSERT_INSSTRS).await?;
        tx.execute(&statement, &[&owners, &indexes, &values]).await?;
    }
    if !attr_owners.is_empty() {
        let statement = tx.prepare_cached(INSERT_ATTRIBUTES).await?;
        tx.execute(&statement, &[&attr_owners, &attr_ids, &attr_values])
            .await?;
    }
    Ok(())
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// Takes the next block from the sequence: `[nextval, nextval + INCREMENT)`. Every caller
/// gets a different `nextval`, so blocks never overlap, across processors too. A block
/// below `at_least` (rows someone else wrote above the sequence) is dropped after raising
/// the sequence past `at_least`. The block may hold fewer ids than `size` asked for (the
/// sequence's increment decides); the allocator then takes another.
pub(super) async fn reserve_block(client: &mut Client, at_least: i64, size: i64) -> Result<KeyBlock, Fail> {
    if size <= 0 {
        return Err(Fail::Invalid(format!(
            "a key block must hold at least one id (asked for {size})"
        )));
    }
    for _ in 0..3 {
        let (start, increment) = next_block(client).await?;
        if start >= at_least {
            let end = start.checked_add(increment).ok_or_else(|| {
                Fail::Invalid(format!(
                    "record id space exhausted: cannot reserve {increment} ids from {start}"
                ))
            })?;
            return Ok(KeyBlock { start, end });
        }
        raise_sequence(client, at_least).await?;
    }
    Err(Fail::Invalid(format!(
        "the record id sequence stays below {at_least} although it was raised: is another program \
         setting it back (setval)?"
    )))
}

/// One `nextval` and the increment it used, read while the sequence is locked against
/// `ALTER SEQUENCE` (nextval holds it until the transaction ends).
async fn next_block(client: &mut Client) -> Result<(i64, i64), Fail> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&SEQUENCE_LOCK])
        .await?;
    let start: i64 = tx
        .query_one("SELECT nextval('statmgr_record_ids')", &[])
        .await?
        .get(0);
    let increment = sequence_increment(&tx).await?;
    // The commit flushes the sequence's WAL (nextval gave the transaction an xid):
    // the block is durable before any id from it is used.
    tx.commit().await?;
    if increment <= 0 {
        return Err(Fail::Invalid(format!(
            "the record id sequence has INCREMENT BY {increment}; statmgr needs a positive increment \
             (ALTER SEQUENCE statmgr_record_ids INCREMENT BY 1000)"
        )));
    }
    Ok((start, increment))
}

/// Moves the sequence so its next value is at least `at_least`, never back. The
/// exclusive lock keeps every statmgr `nextval` out between the read and the `setval`.
async fn raise_sequence(client: &mut Client, at_least: i64) -> Result<(), Fail> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEQUENCE_LOCK])
        .await?;
    tx.execute(
        "SELECT setval('statmgr_record_ids', $1, false)
         FROM statmgr_record_ids s, pg_sequence p
         WHERE p.seqrelid = 'statmgr_record_ids'::regclass
           AND $1 > CASE WHEN s.is_called THEN s.last_value + p.seqincrement ELSE s.last_value END",
        &[&at_least],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        at_least,
        "raised the record id sequence above rows written outside it"
    );
    Ok(())
}
