//! The two write transactions: committing a batch of messages (one set-based statement,
//! after `copy.rs`'s fast path for large batches), and taking a key block from the sequence.

use std::time::Instant;

use deadpool_postgres::Client;

use super::copy;
use super::schema::{sequence_increment, SEQUENCE_LOCK};
use super::Fail;
use crate::message::Message;
use crate::processor::store::{elapsed_ms, BatchSource, Committed, KeyBlock, KeyedMessage};

/// The whole batch in one statement (three round trips with BEGIN and COMMIT, whatever
/// the batch size). Data-modifying CTEs all see the database as it was before the
/// statement, so `orphans` finds only child rows someone else left under a new record id
/// (a new message must not adopt them: the caller rolls back).
/// `ON CONFLICT (uid) DO NOTHING` covers only the uid (a uid met twice in one batch is
/// inserted once): a used record id still fails with the primary key's unique_violation.
const COMMIT_BATCH: &str = "
WITH batch AS (SELECT nextval(pg_get_serial_sequence('batches', 'id')) AS id),
m AS (
    INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site,
        time, module, report_type, process_id, thread_id, win32_error, received, batch_id)
    SELECT m.*, now(), (SELECT id FROM batch)
    FROM unnest($1::int8[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::int8[], $12::int8[], $13::int8[]) AS m
    ON CONFLICT (uid) DO NOTHING
    RETURNING record_id),
orphans AS (
    SELECT record_id FROM status_message_insstrs WHERE record_id IN (SELECT record_id FROM m)
    UNION ALL
    SELECT record_id FROM status_message_attributes WHERE record_id IN (SELECT record_id FROM m)),
insstrs AS (
    INSERT INTO status_message_insstrs (record_id, idx, value)
    SELECT * FROM unnest($14::int8[], $15::int8[], $16::text[]) AS c(r, i, v)
    WHERE c.r IN (SELECT record_id FROM m)),
attributes AS (
    INSERT INTO status_message_attributes (record_id, attribute_id, value)
    SELECT * FROM unnest($17::int8[], $18::int8[], $19::text[]) AS c(r, k, v)
    WHERE c.r IN (SELECT record_id FROM m)),
tally AS (
    INSERT INTO batches (id, committed_at, count, duplicates, first_record_id, last_record_id,
        duration_ms, source, source_file, processor)
    OVERRIDING SYSTEM VALUE
    SELECT (SELECT id FROM batch), now(), count(*), $20::int8 - count(*), min(record_id), max(record_id),
        $21::float8 + 1000 * extract(epoch FROM clock_timestamp() - statement_timestamp())::float8,
        $22::text, $23::text, $24::text
    FROM m
    RETURNING id, count, first_record_id, last_record_id)
SELECT id, count, first_record_id, last_record_id, (SELECT min(record_id) FROM orphans)
FROM tally";

/// One transaction: the messages, their children and the `batches` row.
pub(super) async fn commit_batch(
    client: &mut Client,
    rows: &[KeyedMessage<'_>],
    source: BatchSource,
    source_file: Option<&str>,
    processor: &str,
    started: Instant,
) -> Result<Committed, Fail> {
    if rows.len() >= copy::COPY_FROM {
        match copy::commit_batch(client, rows, source, source_file, processor, started).await? {
            copy::Outcome::Committed(committed) => return Ok(committed),
            copy::Outcome::Refused(err) => tracing::debug!(
                "the COPY of a batch of {} was refused ({err}); committing it with the set-based statement",
                rows.len()
            ),
        }
    }
    let columns = Columns::of(rows);
    let tx = client.transaction().await?;
    let statement = tx.prepare_cached(COMMIT_BATCH).await?;
    let total = rows.len() as i64;
    let row = tx
        .query_one(
            &statement,
            &[
                &columns.ids,
                &columns.uids,
                &columns.message_ids,
                &columns.severities,
                &columns.components,
                &columns.machines,
                &columns.sites,
                &columns.times,
                &columns.modules,
                &columns.report_types,
                &columns.process_ids,
                &columns.thread_ids,
                &columns.win32_errors,
                &columns.insstr_owners,
                &columns.insstr_indexes,
                &columns.insstr_values,
                &columns.attribute_owners,
                &columns.attribute_ids,
                &columns.attribute_values,
                &total,
                &elapsed_ms(started),
                &source.as_str(),
                &source_file,
                &processor,
            ],
        )
        .await?;
    if let Some(record_id) = row.get::<_, Option<i64>>(4) {
        let uid = rows
            .iter()
            .find(|r| r.record_id == record_id)
            .map_or_else(String::new, |r| r.message.uid.clone());
        // Dropping the transaction rolls it back.
        return Err(Fail::Orphan { record_id, uid });
    }
    tx.commit().await?;
    let inserted: i64 = row.get(1);
    Ok(Committed {
        batch_id: row.get(0),
        inserted: inserted.unsigned_abs(),
        duplicates: (total - inserted).unsigned_abs(),
        first_record_id: row.get(2),
        last_record_id: row.get(3),
        duration_ms: elapsed_ms(started),
    })
}

/// A batch as column arrays, for `unnest`.
#[derive(Default)]
struct Columns<'m> {
    ids: Vec<i64>,
    uids: Vec<&'m str>,
    message_ids: Vec<i64>,
    severities: Vec<&'m str>,
    components: Vec<&'m str>,
    machines: Vec<&'m str>,
    sites: Vec<&'m str>,
    times: Vec<&'m str>,
    modules: Vec<Option<&'m str>>,
    report_types: Vec<Option<&'m str>>,
    process_ids: Vec<Option<i64>>,
    thread_ids: Vec<Option<i64>>,
    win32_errors: Vec<Option<i64>>,
    insstr_owners: Vec<i64>,
    insstr_indexes: Vec<i64>,
    insstr_values: Vec<&'m str>,
    attribute_owners: Vec<i64>,
    attribute_ids: Vec<i64>,
    attribute_values: Vec<&'m str>,
}

impl<'m> Columns<'m> {
    fn of(rows: &[KeyedMessage<'m>]) -> Columns<'m> {
        let mut c = Columns::default();
        for row in rows {
            let m: &'m Message = row.message;
            c.ids.push(row.record_id);
            c.uids.push(&m.uid);
            c.message_ids.push(m.message_id);
            c.severities.push(m.severity.as_str());
            c.components.push(&m.component);
            c.machines.push(&m.machine);
            c.sites.push(&m.site);
            c.times.push(&m.time);
            c.modules.push(m.module.as_deref());
            c.report_types.push(m.report_type.as_deref());
            c.process_ids.push(m.process_id);
            c.thread_ids.push(m.thread_id);
            c.win32_errors.push(m.win32_error);
            for (idx, value) in (0i64..).zip(&m.insertion_strings) {
                c.insstr_owners.push(row.record_id);
                c.insstr_indexes.push(idx);
                c.insstr_values.push(value);
            }
            for (attribute_id, value) in &m.attributes {
                c.attribute_owners.push(row.record_id);
                c.attribute_ids.push(*attribute_id);
                c.attribute_values.push(value);
            }
        }
        c
    }
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
