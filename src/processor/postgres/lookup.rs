//! `find` and the batch drill-down on PostgreSQL: connections from the store's pool (a
//! read never waits behind a commit), times as RFC 3339 text in UTC.

use std::collections::BTreeMap;
use std::sync::Arc;

use deadpool_postgres::Client;

use super::{Backend, Fail};
use crate::api::wire::find::{BatchMessages, Location, StoredMessage};
use crate::api::wire::BatchInfo;
use crate::processor::store::{Lookup, StoreError};

const UTC_TEXT: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

fn find_uid() -> String {
    format!(
        "SELECT m.record_id, m.batch_id, to_char(m.received AT TIME ZONE 'UTC', {UTC_TEXT}),
         to_char(b.committed_at AT TIME ZONE 'UTC', {UTC_TEXT}), b.source, b.source_file, m.uid
         FROM status_messages m LEFT JOIN batches b ON b.id = m.batch_id WHERE m.uid = ANY($1)"
    )
}

fn batch() -> String {
    format!(
        "SELECT id, to_char(committed_at AT TIME ZONE 'UTC', {UTC_TEXT}), count, duplicates,
         first_record_id, last_record_id, duration_ms, source, source_file FROM batches WHERE id = $1"
    )
}

fn rows() -> String {
    format!(
        "SELECT record_id, uid, message_id, severity, component, machine, site, time, module,
         report_type, process_id, thread_id, win32_error,
         to_char(received AT TIME ZONE 'UTC', {UTC_TEXT}), batch_id
         FROM status_messages WHERE record_id BETWEEN $2 AND $3 AND batch_id = $1
         ORDER BY record_id LIMIT $4 OFFSET $5"
    )
}

const COUNT_ROWS: &str =
    "SELECT count(*) FROM status_messages WHERE record_id BETWEEN $2 AND $3 AND batch_id = $1";
const INSSTRS: &str =
    "SELECT record_id, value FROM status_message_insstrs WHERE record_id BETWEEN $1 AND $2 ORDER BY record_id, idx";
const ATTRIBUTES: &str = "SELECT record_id, attribute_id, value FROM status_message_attributes
     WHERE record_id BETWEEN $1 AND $2 ORDER BY record_id, attribute_id";

/// The lookup's handle on the store's pool.
#[derive(Clone)]
pub struct PgLookup {
    backend: Arc<Backend>,
}

impl std::fmt::Debug for PgLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLookup")
            .field("database", &self.backend.name)
            .finish()
    }
}

impl PgLookup {
    pub(super) fn new(backend: Arc<Backend>) -> PgLookup {
        PgLookup { backend }
    }
}

async fn committed(client: &mut Client, uids: &[String]) -> Result<Vec<(String, Location)>, Fail> {
    let statement = client.prepare_cached(&find_uid()).await?;
    let uid_list: Vec<&str> = uids.iter().map(String::as_str).collect();
    let found = client.query(&statement, &[&uid_list]).await?;
    let mut by_uid: BTreeMap<String, Location> = BTreeMap::new();
    for r in found {
        let uid: String = r.get(6);
        by_uid.insert(
            uid,
            Location::Committed {
                record_id: r.get(0),
                batch_id: r.get(1),
                received: r.get::<_, Option<String>>(2).unwrap_or_default(),
                committed_at: r.get(3),
                batch_source: r.get(4),
                source_file: r.get(5),
            },
        );
    }
    Ok(uids
        .iter()
        .filter_map(|u| by_uid.get(u).map(|l| (u.clone(), l.clone())))
        .collect())
}

async fn page(
    client: &mut Client,
    batch_id: i64,
    offset: u64,
    limit: u64,
) -> Result<Option<BatchMessages>, Fail> {
    let statement = client.prepare_cached(&batch()).await?;
    let Some(b) = client.query_opt(&statement, &[&batch_id]).await? else {
        return Ok(None);
    };
    let batch = BatchInfo {
        id: b.get(0),
        committed_at: b.get::<_, Option<String>>(1).unwrap_or_default(),
        count: b.get::<_, i64>(2).max(0) as u64,
        duplicates: b.get::<_, i64>(3).max(0) as u64,
        first_record_id: b.get(4),
        last_record_id: b.get(5),
        duration_ms: b.get(6),
        source: b.get(7),
        source_file: b.get(8),
    };
    let (low, high) = match (batch.first_record_id, batch.last_record_id) {
        (Some(low), Some(high)) => (low, high),
        _ => (1, 0),
    };
    let total: i64 = client
        .query_one(COUNT_ROWS, &[&batch_id, &low, &high])
        .await?
        .get(0);
    let statement = client.prepare_cached(&rows()).await?;
    let found = client
        .query(
            &statement,
            &[&batch_id, &low, &high, &(limit as i64), &(offset as i64)],
        )
        .await?;
    let mut items: Vec<StoredMessage> = found
        .iter()
        .map(|r| StoredMessage {
            record_id: r.get(0),
            uid: r.get(1),
            message_id: r.get(2),
            severity: r.get(3),
            component: r.get(4),
            machine: r.get(5),
            site: r.get(6),
            time: r.get(7),
            module: r.get(8),
            report_type: r.get(9),
            process_id: r.get(10),
            thread_id: r.get(11),
            win32_error: r.get(12),
            received: r.get::<_, Option<String>>(13).unwrap_or_default(),
            batch_id: r.get(14),
            insertion_strings: Vec::new(),
            attributes: BTreeMap::new(),
        })
        .collect();
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let (from, to) = (first.record_id, last.record_id);
        let at: BTreeMap<i64, usize> = items.iter().enumerate().map(|(i, m)| (m.record_id, i)).collect();
        for r in client.query(INSSTRS, &[&from, &to]).await? {
            if let Some(&i) = at.get(&r.get::<_, i64>(0)) {
                items[i].insertion_strings.push(r.get(1));
            }
        }
        for r in client.query(ATTRIBUTES, &[&from, &to]).await? {
            if let Some(&i) = at.get(&r.get::<_, i64>(0)) {
                items[i].attributes.insert(r.get(1), r.get(2));
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

impl Lookup for PgLookup {
    fn committed(&mut self, uids: &[String]) -> Result<Vec<(String, Location)>, StoreError> {
        self.backend
            .run("look up uids", async |client| committed(client, uids).await)
    }

    fn batch_messages(
        &mut self,
        batch_id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<Option<BatchMessages>, StoreError> {
        self.backend.run("read a batch's messages", async |client| {
            page(client, batch_id, offset, limit).await
        })
    }
}
