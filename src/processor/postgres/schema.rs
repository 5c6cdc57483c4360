//! The PostgreSQL schema: versioned migrations applied at start under an advisory lock,
//! so several processors starting at once apply each one exactly once.

use deadpool_postgres::{Client, Transaction};

use super::Fail;

/// Advisory lock keys (any bigint; these spell "statmgr" and a purpose).
pub(super) const MIGRATION_LOCK: i64 = 0x7374_6d67_0001;
/// Taken shared around `nextval`, exclusive around raising the sequence.
pub(super) const SEQUENCE_LOCK: i64 = 0x7374_6d67_0002;

/// The sequence that hands out key blocks: each `nextval` is the start of a block of
/// `INCREMENT BY` ids, so no two callers ever get overlapping blocks.
pub const RECORD_ID_SEQUENCE: &str = "statmgr_record_ids";

/// Migration `i` brings the schema from version i to i + 1, in the transaction that
/// records the new version. To change the schema, append a `Vn` (never edit a released
/// one): older databases are brought forward, a newer one is refused untouched.
const MIGRATIONS: &[&str] = &[V1, V2];

/// Columns as in SQLite (see sqlite/schema.rs), with PostgreSQL types; `time` keeps the
/// producer's RFC 3339 text unchanged. The sequence replaces SQLite's `allocator` table;
/// `batches.processor` says which processor committed the batch.
const V1: &str = "
CREATE TABLE status_messages (
    record_id   BIGINT PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,
    message_id  BIGINT NOT NULL,
    severity    TEXT NOT NULL,
    component   TEXT NOT NULL,
    machine     TEXT NOT NULL,
    site        TEXT NOT NULL,
    time        TEXT NOT NULL,
    module      TEXT,
    report_type TEXT,
    process_id  BIGINT,
    thread_id   BIGINT,
    win32_error BIGINT,
    received    TIMESTAMPTZ NOT NULL,
    batch_id    BIGINT NOT NULL
);
CREATE TABLE status_message_insstrs (
    record_id BIGINT NOT NULL,
    idx       BIGINT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (record_id, idx)
);
CREATE TABLE status_message_attributes (
    record_id    BIGINT NOT NULL,
    attribute_id BIGINT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (record_id, attribute_id)
);
CREATE TABLE batches (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    committed_at    TIMESTAMPTZ NOT NULL,
    count           BIGINT NOT NULL,
    duplicates      BIGINT NOT NULL,
    first_record_id BIGINT,
    last_record_id  BIGINT,
    duration_ms     DOUBLE PRECISION NOT NULL,
    source          TEXT NOT NULL,
    source_file     TEXT,
    processor       TEXT NOT NULL
);
";

/// Retention finds old messages through this index, per severity. `time` is the
/// producer's RFC 3339 text: compared as text, so a message's UTC offset can shift when
/// it is pruned by up to that offset (hours, against rules counted in days).
const V2: &str = "
CREATE INDEX IF NOT EXISTS status_messages_retention ON status_messages (severity, time);
";

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies the migrations this database has not seen, and creates the key sequence with
/// `block_size` ids per block if it does not exist. Returns the sequence's block size
/// (set when it was created; it may differ from `block_size`).
pub(super) async fn migrate(client: &mut Client, block_size: i64) -> Result<i64, Fail> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    // No DDL when all is current: a processor's user then needs no CREATE privilege.
    let current = match exists(&tx, "statmgr_schema").await? {
        true => tx
            .query_opt("SELECT version FROM statmgr_schema WHERE id = 1", &[])
            .await?
            .map_or(0, |row| row.get(0)),
        false => 0,
    };
    if !(0..=SCHEMA_VERSION).contains(&current) {
        return Err(Fail::Invalid(format!(
            "the PostgreSQL schema is version {current}, newer than this statmgr (which knows \
             versions up to {SCHEMA_VERSION}); it is left unchanged: use a newer statmgr"
        )));
    }
    if current < SCHEMA_VERSION {
        apply(&tx, current).await?;
    }
    if !exists(&tx, RECORD_ID_SEQUENCE).await? {
        // CACHE 1: a block is handed out once, by the server, never from a session's cache.
        tx.batch_execute(&format!(
            "CREATE SEQUENCE {RECORD_ID_SEQUENCE} AS BIGINT
                 INCREMENT BY {block_size} MINVALUE 1 START WITH 1 CACHE 1 NO CYCLE"
        ))
        .await?;
    }
    let increment = sequence_increment(&tx).await?;
    tx.commit().await?;
    Ok(increment)
}

async fn exists(tx: &Transaction<'_>, relation: &str) -> Result<bool, Fail> {
    let row = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
        .await?;
    Ok(row.get(0))
}

/// Brings the schema from `current` to `SCHEMA_VERSION` and records it.
async fn apply(tx: &Transaction<'_>, current: i64) -> Result<(), Fail> {
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS statmgr_schema (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL)",
    )
    .await?;
    for (version, sql) in (0i64..).zip(MIGRATIONS).skip(current as usize) {
        tracing::info!("applying PostgreSQL schema migration to version {}", version + 1);
        tx.batch_execute(sql).await.map_err(|err| Fail::Context {
            what: format!("schema migration to version {}", version + 1),
            source: err,
        })?;
    }
    tx.execute(
        "INSERT INTO statmgr_schema (id, version) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        &[&SCHEMA_VERSION],
    )
    .await?;
    Ok(())
}

/// The sequence's `INCREMENT BY`: the size of every block it hands out.
pub(super) async fn sequence_increment(tx: &Transaction<'_>) -> Result<i64, Fail> {
    let row = tx
        .query_one(
            "SELECT seqincrement FROM pg_sequence WHERE seqrelid = 'statmgr_record_ids'::regclass",
            &[],
        )
        .await?;
    Ok(row.get(0))
}
