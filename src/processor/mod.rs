//! The processor: intake -> batch -> commit -> retry. No UI and no HTTP types here.

pub mod bulk;
pub mod committer;
pub mod control;
pub mod corrupt;
pub mod dirs;
pub mod exact_set;
pub mod failpoints;
pub mod file_index;
pub mod fileops;
pub mod find;
pub mod health;
pub mod hints;
pub mod inbox;
pub mod intake;
pub mod journal;
pub mod keys;
pub mod memory;
pub mod postgres;
pub mod prehashed;
pub mod requeue;
pub mod retention;
pub mod retry;
pub mod retry_file;
pub mod settle;
pub mod settled;
pub mod sqlite;
pub mod store;
pub mod telemetry;
pub mod uid_index;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::wire::{ConfigInfo, ProcessorState};
use crate::config::ProcessorConfig;
use crate::error::Error;
pub use control::Handle;
pub use dirs::StateDir;

/// Parsed files buffered between intake and the committer (backpressure beyond that).
const INTAKE_QUEUE: usize = 64;
/// How often the telemetry reader looks at `MAX(record_id)`.
const DB_POLL: Duration = Duration::from_secs(1);

/// A started processor: its threads run until the shutdown token is cancelled.
pub struct Processor {
    handle: Handle,
    threads: Vec<JoinHandle<()>>,
    hurry: Arc<AtomicBool>,
    /// Dropped after the other threads finished: the journal writer then writes what it
    /// was sent and stops.
    journal_stop: Option<crossbeam_channel::Sender<()>>,
    journal_thread: Option<JoinHandle<()>>,
    _lock: dirs::StateLock,
}

/// Starts the processor on `config.root`. Must be called inside a tokio runtime.
/// Cancelling `shutdown` stops intake and drains (see `Processor::wait`).
pub fn start(
    config: ProcessorConfig,
    shutdown: CancellationToken,
    read_only_api: bool,
) -> Result<Processor, Error> {
    failpoints::configure_from_env()?;
    let dirs = StateDir::at(&config.root);
    dirs.create()?;
    let lock = dirs.lock()?;
    dirs.remove_stale_temporaries();
    let (store, db_reader, pruner, lookup) = open_store(&config, &dirs)?;
    let telemetry = Arc::new(telemetry::Telemetry::new(
        config.root.display().to_string(),
        ConfigInfo {
            batch_size: config.batch_size as u64,
            batch_age_ms: config.batch_age.as_millis() as u64,
            max_attempts: config.max_attempts,
            read_only_api,
        },
    ));
    let (journal_stop, journal_thread) = if config.journal.enabled {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let sampled = telemetry.clone();
        let opened = journal::open(
            &config.root,
            config.journal.clone(),
            Box::new(move || sampled.journal_sample()),
            stop_rx,
        )?;
        telemetry.attach_journal(opened.journal, opened.next_id);
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(opened.writer)
            .map_err(|e| Error::Config(format!("cannot start the journal thread: {e}")))?;
        (Some(stop_tx), Some(thread))
    } else {
        (None, None)
    };
    let (files_tx, files_rx) = crossbeam_channel::bounded(INTAKE_QUEUE);
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let paused = Arc::new(watch::channel(false).0);
    let hurry = Arc::new(AtomicBool::new(false));
    let db_max = Arc::new(AtomicI64::new(-1));
    let index = inbox::InboxIndex::default();
    let finder = find::Finder::new(
        dirs.clone(),
        telemetry.clone(),
        index.clone(),
        config.limits.clone(),
        lookup,
    );
    let handle = Handle::new(telemetry.clone(), dirs.clone(), cmd_tx, paused.clone())
        .with_limits(config.limits.clone())
        .with_finder(Arc::new(finder));

    let settler = settle::Settler::new(config.clone(), dirs.clone(), telemetry.clone(), store);
    let committer = committer::Committer::new(
        settler,
        index.clone(),
        files_rx,
        cmd_rx,
        stop_rx.clone(),
        hurry.clone(),
        db_max.clone(),
    );
    let intake = intake::Intake {
        config: config.clone(),
        dirs: dirs.clone(),
        telemetry: telemetry.clone(),
        index,
        to_committer: files_tx,
        paused: paused.subscribe(),
        shutdown: shutdown.clone(),
    };
    let mut threads = Vec::new();
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(f)
            .map_err(|e| Error::Config(format!("cannot start the {name} thread: {e}")))
    };
    threads.push(spawn("committer", Box::new(move || committer.run()))?);
    threads.push(spawn("intake", Box::new(move || intake.run()))?);
    let retention = retention::Retention {
        rules: config.retention,
        interval: config.retain_interval,
        pruner,
        telemetry: telemetry.clone(),
        stop: stop_rx.clone(),
    };
    threads.push(spawn("retention", Box::new(move || retention.run()))?);
    if let Some(queue) = telemetry.uids.take_loader_queue() {
        let (t, d, l, stop) = (
            telemetry.clone(),
            dirs.clone(),
            config.limits.clone(),
            stop_rx.clone(),
        );
        threads.push(spawn(
            "uid-index",
            Box::new(move || uid_index::run_loader(&t.uids, queue, d, l, stop)),
        )?);
    }
    let reader_telemetry = telemetry.clone();
    threads.push(spawn(
        "db-reader",
        Box::new(move || poll_db_max(db_reader, &db_max, &reader_telemetry, &stop_rx)),
    )?);

    telemetry.set_state(ProcessorState::Running);
    let t = telemetry.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        t.set_state(ProcessorState::Draining);
        drop(stop_tx);
    });
    Ok(Processor {
        handle,
        threads,
        hurry,
        journal_stop,
        journal_thread,
        _lock: lock,
    })
}

/// The committer's store, where telemetry reads `MAX(record_id)`, and retention's own
/// connection.
type OpenedStore = (
    Box<dyn store::Store>,
    DbMaxReader,
    Box<dyn store::Pruner>,
    Box<dyn store::Lookup>,
);

/// Opens the state directory's SQLite file, or the PostgreSQL database of `--database`.
fn open_store(config: &ProcessorConfig, dirs: &StateDir) -> Result<OpenedStore, Error> {
    match &config.database {
        None => {
            let mut store = sqlite::SqliteStore::open(&dirs.db, config.busy_timeout)?;
            store.set_max_pages(config.max_db_pages);
            store.tune(sqlite::Tuning {
                cache_kib: config.sqlite_cache_kib,
                wal_autocheckpoint: config.wal_autocheckpoint,
                checkpoint_pages: config.checkpoint_pages,
            });
            let reader = DbMaxReader::Sqlite {
                path: dirs.db.clone(),
                busy: config.busy_timeout,
                open: None,
            };
            let pruner = sqlite::SqlitePruner::open(&dirs.db, config.busy_timeout)?.with_turns(store.turns());
            let lookup = sqlite::SqliteLookup::new(&dirs.db, config.busy_timeout);
            Ok((Box::new(store), reader, Box::new(pruner), Box::new(lookup)))
        }
        Some(url) => {
            let store = postgres::PgStore::open_blocking(url, &postgres::options(config))?;
            let reader = DbMaxReader::Postgres(store.reader());
            let pruner = store.pruner();
            let lookup = store.lookup();
            Ok((Box::new(store), reader, Box::new(pruner), Box::new(lookup)))
        }
    }
}

/// The telemetry reader's own connection (SQLite) or pool handle (PostgreSQL).
enum DbMaxReader {
    Sqlite {
        path: std::path::PathBuf,
        busy: Duration,
        open: Option<sqlite::SqliteReader>,
    },
    Postgres(postgres::PgReader),
}

impl DbMaxReader {
    /// The largest record id, or why the database cannot be read now (tried again next time).
    fn max_record_id(&mut self) -> Result<i64, String> {
        match self {
            DbMaxReader::Sqlite { path, busy, open } => {
                if open.is_none() {
                    *open = Some(sqlite::SqliteReader::open(path, *busy).map_err(|e| e.to_string())?);
                }
                let reader = open.as_ref().expect("opened above");
                let value = reader.max_record_id().map_err(|e| e.to_string());
                if value.is_err() {
                    *open = None;
                }
                value
            }
            DbMaxReader::Postgres(reader) => reader.max_record_id().map_err(|e| e.to_string()),
        }
    }

    /// After a failed commit: can a writer work again? (SQLite: take the write lock on a
    /// fresh connection; PostgreSQL: the read that just succeeded went through the pool.)
    fn writable(&self) -> bool {
        match self {
            DbMaxReader::Sqlite { path, busy, .. } => sqlite::probe_writable(path, *busy).is_ok(),
            DbMaxReader::Postgres(_) => true,
        }
    }
}

/// Keeps `MAX(record_id)` fresh for the allocator panel, on its own read connection, and
/// tells the health model and the snapshot whether the database can be read (and, after a
/// failed commit, written) now (the snapshot's `database`, /readyz).
fn poll_db_max(
    mut reader: DbMaxReader,
    db_max: &AtomicI64,
    telemetry: &telemetry::Telemetry,
    stop: &crossbeam_channel::Receiver<()>,
) {
    loop {
        match reader.max_record_id() {
            Ok(value) => {
                db_max.store(value, Ordering::Relaxed);
                // A read answered; a problem is cleared only if the database also takes
                // writes (a read-only or locked database stays a problem until a commit).
                if telemetry.health.database_problem().is_some() && reader.writable() {
                    telemetry.database_reachable();
                }
            }
            Err(e) => telemetry.database_unreachable(&e),
        }
        if !matches!(
            stop.recv_timeout(DB_POLL),
            Err(crossbeam_channel::RecvTimeoutError::Timeout)
        ) {
            return;
        }
    }
}

impl Processor {
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Set it (a second signal) to stop trying the database and write what is open to
    /// `retry/` at once.
    pub fn hurry_handle(&self) -> Arc<AtomicBool> {
        self.hurry.clone()
    }

    /// Waits until every thread has finished its drain.
    pub async fn wait(self) {
        let Processor {
            handle,
            threads,
            journal_stop,
            journal_thread,
            _lock,
            ..
        } = self;
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                if t.join().is_err() {
                    tracing::error!("a processor thread panicked");
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::error!("the processor threads could not be joined");
        }
        handle.telemetry.set_state(ProcessorState::Stopped);
        drop(journal_stop);
        if let Some(thread) = journal_thread {
            if tokio::task::spawn_blocking(move || thread.join()).await.is_err() {
                tracing::error!("the journal thread could not be joined");
            }
        }
        drop(_lock);
    }
}
