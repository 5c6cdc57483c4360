//! The PostgreSQL implementation of `Store`, for several processors sharing one database:
//! key blocks come from a sequence, connections from a pool driven by a runtime of its own.

mod classify;
mod connect;
mod copy;
mod lookup;
mod prune;
mod read;
mod schema;
mod tls;
mod write;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{Client, Object, Pool, PoolError};

pub use classify::{classify, classify_state};
pub use connect::{is_postgres_url, processor_name};
pub use lookup::PgLookup;
pub use prune::PgPruner;
pub use read::PgReader;
pub use schema::{RECORD_ID_SEQUENCE, SCHEMA_VERSION};
pub use tls::ROOT_CERT_ENV;

use crate::error::Error;
use crate::processor::store::{BatchSource, Committed, KeyBlock, KeyedMessage, Store, StoreError};

/// What the PostgreSQL store is told at open.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The longest one database operation (waiting for a connection, connecting, a whole
    /// commit) may take before it counts as a transient failure.
    pub timeout: Duration,
    /// `INCREMENT BY` of the key sequence when this processor creates it.
    pub key_block_size: i64,
    /// Recorded in `batches.processor`.
    pub processor: String,
}

/// Why an operation failed, before it is classified.
#[derive(Debug)]
enum Fail {
    Pg(tokio_postgres::Error),
    /// A statement failed, with what it was doing.
    Context {
        what: String,
        source: tokio_postgres::Error,
    },
    Pool(PoolError),
    Timeout(Duration),
    /// Child rows already exist under this record id (orphans another writer left).
    Orphan {
        record_id: i64,
        uid: String,
    },
    /// The request or the database state is impossible (exhausted ids, newer schema).
    Invalid(String),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(err: tokio_postgres::Error) -> Fail {
        Fail::Pg(err)
    }
}

impl Fail {
    fn classify(&self) -> StoreError {
        match self {
            Fail::Pg(err) => classify(err),
            Fail::Context { what, source } => with_context(what, classify(source)),
            Fail::Pool(PoolError::Backend(err)) => classify(err),
            Fail::Pool(err) => {
                let text = classify::full_text(err);
                let hint = tls::hint(&text).map_or(String::new(), |hint| format!("; {hint}"));
                StoreError::Transient(format!("cannot get a PostgreSQL connection: {text}{hint}"))
            }
            Fail::Timeout(limit) => StoreError::Transient(format!(
                "PostgreSQL did not answer within {} ms; the outcome is unknown, the batch is tried \
                 again (its uids make that safe)",
                limit.as_millis()
            )),
            Fail::Orphan { record_id, uid } => StoreError::KeyConflict(format!(
                "record id {record_id} (message uid {uid:?}) already has insertion strings or attributes \
                 (rows another writer left)"
            )),
            Fail::Invalid(why) => StoreError::Permanent(why.clone()),
        }
    }

    /// After these the connection may be dead, and so may every idle one (a server
    /// restart): they are dropped rather than handed out again.
    fn connection_suspect(&self) -> bool {
        let pg = match self {
            Fail::Pg(err) | Fail::Context { source: err, .. } | Fail::Pool(PoolError::Backend(err)) => err,
            Fail::Timeout(_) | Fail::Pool(_) => return true,
            Fail::Orphan { .. } | Fail::Invalid(_) => return false,
        };
        match pg.as_db_error() {
            None => true,
            Some(db) => matches!(&db.code().code()[..2], "08" | "57" | "58" | "XX"),
        }
    }
}

/// The runtime and pool, shared by the store and the telemetry reader.
struct Backend {
    /// `Some` until drop, where it is shut down without waiting (drop may run inside
    /// another runtime, where a blocking shutdown would panic).
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    timeout: Duration,
    /// The URL without its password.
    name: String,
    /// `INCREMENT BY` of the key sequence if this processor creates it.
    block_size: i64,
    /// Whether the schema has been checked and migrated. A database that cannot be reached
    /// at start is prepared by the first operation that reaches it.
    schema_ready: std::sync::atomic::AtomicBool,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.pool.close();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Backend {
    /// Runs one operation on a pooled connection, within the timeout, after preparing the
    /// schema if that has not been done yet. Must not be called from inside a tokio runtime
    /// (the committer and reader threads are plain threads).
    fn run<T>(
        &self,
        what: &str,
        operation: impl AsyncFnOnce(&mut Client) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        if !self.schema_ready.load(std::sync::atomic::Ordering::Acquire) {
            // Never "permanent" here (a newer schema found after a late start): that would
            // bisect every batch into stuck/; the batches wait in retry/ with the reason.
            self.prepare_schema()
                .map_err(|err| StoreError::Transient(with_context(what, err).message()))?;
        }
        self.run_now(what, operation)
    }

    /// Checks the schema version, applies pending migrations (idempotent, under an
    /// advisory lock) and creates the key sequence if missing.
    fn prepare_schema(&self) -> Result<(), StoreError> {
        let block_size = self.block_size;
        let increment = self.run_now("prepare the schema", async |client| {
            schema::migrate(client, block_size).await
        })?;
        if !self.schema_ready.swap(true, std::sync::atomic::Ordering::AcqRel) && increment != block_size {
            tracing::warn!(
                "the record id sequence hands out blocks of {increment} ids (set when it was created); \
                 --key-block {block_size} is not used (ALTER SEQUENCE {RECORD_ID_SEQUENCE} INCREMENT BY n \
                 changes it for every processor)"
            );
        }
        Ok(())
    }

    fn run_now<T>(
        &self,
        what: &str,
        operation: impl AsyncFnOnce(&mut Client) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let Some(runtime) = &self.runtime else {
            return Err(StoreError::Transient("the PostgreSQL store is closed".into()));
        };
        let result = runtime.block_on(async {
            let mut client = self.pool.get().await.map_err(Fail::Pool)?;
            match tokio::time::timeout(self.timeout, operation(&mut client)).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(fail)) => {
                    if fail.connection_suspect() {
                        self.discard(client);
                    }
                    Err(fail)
                }
                Err(_) => {
                    self.discard(client);
                    Err(Fail::Timeout(self.timeout))
                }
            }
        });
        result.map_err(|fail| with_context(what, fail.classify()))
    }

    /// Closes this connection and every idle one, so the next operation connects afresh.
    fn discard(&self, client: Client) {
        drop(Object::take(client));
        self.pool.retain(|_, _| false);
    }
}

/// What `open` does when the server cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreachable {
    Refuse,
    Wait,
}

/// The committer's store on PostgreSQL.
pub struct PgStore {
    backend: Arc<Backend>,
    processor: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.backend.name)
            .field("processor", &self.processor)
            .finish()
    }
}

impl PgStore {
    /// Connects, applies pending migrations (idempotent; safe with several processors
    /// starting at once) and creates the key sequence if missing. Every failure is an
    /// error. Must not be called from inside a tokio runtime.
    pub fn open(url: &str, options: &PgOptions) -> Result<PgStore, Error> {
        PgStore::open_with(url, options, Unreachable::Refuse)
    }

    /// `open` for a processor, from any thread (including one inside a tokio runtime, as
    /// `processor::start` is). A server that cannot be reached now (a transient failure)
    /// is not an error: the store opens, every operation fails as transient (batches wait
    /// in `retry/`) and the first one that reaches the server prepares the schema. A newer
    /// schema or a bad URL is still an error.
    pub fn open_blocking(url: &str, options: &PgOptions) -> Result<PgStore, Error> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| PgStore::open_with(url, options, Unreachable::Wait))
                .join()
                .unwrap_or_else(|_| Err(Error::Config("opening the PostgreSQL store panicked".into())))
        })
    }

    fn open_with(url: &str, options: &PgOptions, unreachable: Unreachable) -> Result<PgStore, Error> {
        let target = connect::parse_url(url, options.timeout)?;
        let name = connect::describe(&target.config);
        let runtime = connect::runtime()?;
        let pool = {
            let _entered = runtime.enter();
            connect::pool(target, options.timeout)?
        };
        let backend = Arc::new(Backend {
            runtime: Some(runtime),
            pool,
            timeout: options.timeout,
            name: name.clone(),
            block_size: options.key_block_size,
            schema_ready: std::sync::atomic::AtomicBool::new(false),
        });
        match backend.prepare_schema() {
            Ok(()) => {
                tracing::info!(database = %name, processor = %options.processor, "PostgreSQL store open")
            }
            Err(StoreError::Transient(why)) if unreachable == Unreachable::Wait => tracing::warn!(
                database = %name,
                "PostgreSQL cannot be reached at start ({why}); starting anyway: batches wait in \
                 retry/ and commit once it answers"
            ),
            Err(err) => {
                return Err(Error::Database {
                    path: name.clone(),
                    message: err.to_string(),
                })
            }
        }
        Ok(PgStore {
            backend,
            processor: options.processor.clone(),
        })
    }

    /// A reader for telemetry that shares this store's pool.
    pub fn reader(&self) -> PgReader {
        PgReader::new(self.backend.clone())
    }

    /// `find` and the batch drill-down: a handle on this store's pool.
    pub fn lookup(&self) -> PgLookup {
        PgLookup::new(self.backend.clone())
    }

    /// Retention's handle on this store's pool (its own connection from it).
    pub fn pruner(&self) -> PgPruner {
        PgPruner::new(self.backend.clone())
    }

    /// The database, without its password (for logs).
    pub fn name(&self) -> &str {
        &self.backend.name
    }
}

impl Store for PgStore {
    fn max_record_id(&mut self) -> Result<i64, StoreError> {
        self.backend.run("read the largest record id", async |client| {
            read::max_record_id(client).await
        })
    }

    fn high_water(&mut self) -> Result<i64, StoreError> {
        self.backend.run("read the record id sequence", async |client| {
            read::high_water(client).await
        })
    }

    fn reserve_block(&mut self, at_least: i64, size: i64) -> Result<KeyBlock, StoreError> {
        self.backend.run("reserve a key block", async |client| {
            write::reserve_block(client, at_least, size).await
        })
    }

    fn commit_batch(
        &mut self,
        rows: &[KeyedMessage<'_>],
        source: BatchSource,
        source_file: Option<&str>,
    ) -> Result<Committed, StoreError> {
        let started = Instant::now();
        let plural = if rows.len() == 1 { "" } else { "s" };
        let what = format!("commit a batch of {} message{plural}", rows.len());
        let processor = self.processor.as_str();
        self.backend.run(&what, async |client| {
            write::commit_batch(client, rows, source, source_file, processor, started).await
        })
    }

    /// Nothing to do between batches: PostgreSQL's autovacuum and checkpoints run on the
    /// server.
    fn maintain(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The same decision, with the operation that failed in front of the reason.
fn with_context(what: &str, err: StoreError) -> StoreError {
    match err {
        StoreError::KeyConflict(why) => StoreError::KeyConflict(format!("{what}: {why}")),
        StoreError::Transient(why) => StoreError::Transient(format!("{what}: {why}")),
        StoreError::Permanent(why) => StoreError::Permanent(format!("{what}: {why}")),
    }
}

/// Options for `statmgr run`: `--busy-timeout` bounds each operation, the key block size
/// seeds a new sequence, the processor is named after its host and state directory.
pub fn options(config: &crate::config::ProcessorConfig) -> PgOptions {
    PgOptions {
        timeout: config.busy_timeout.max(Duration::from_millis(100)),
        key_block_size: config.key_block_size,
        processor: processor_name(Path::new(&config.root)),
    }
}
