//! `statmgr run`: the processor in the foreground, with its API; SIGTERM/SIGINT drain.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::notify::{status_line, Notifier};
use crate::cli::RootArg;
use crate::config::{ProcessorConfig, RetentionRules};
use crate::processor::telemetry::Telemetry;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Read settings from this TOML file (flags and environment variables win over it)
    #[arg(long, env = "STATMGR_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub root: RootArg,
    /// Address of the local API (port 0: any free port; see <root>/control/endpoint)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (the API is then reachable from the network)
    #[arg(long)]
    pub listen_public: bool,
    /// Refuse every mutation through the API (pause, flush, requeue, ...)
    #[arg(long)]
    pub read_only_api: bool,
    /// Close a batch at this many messages
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
    /// ...or when its oldest message is this many milliseconds old (while the inbox is
    /// quiet; under a backlog a batch fills up to --batch-max, open at most this long)
    #[arg(long, default_value_t = 200)]
    pub batch_age: u64,
    /// Largest batch while read files are waiting (a backlog); never below --batch-size
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_max: u64,
    /// SQLite page cache of the committing connection, in MiB
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub cache_size: u64,
    /// SQLite checkpoints the WAL on the commit path when it reaches this many pages: the
    /// backstop behind --checkpoint-pages (0: only statmgr's periodic checkpoint)
    #[arg(long, default_value_t = 50_000)]
    pub wal_autocheckpoint: u64,
    /// A checkpoint thread with its own connection copies the WAL into the database file
    /// once it holds this many pages, off the commit path (0: no thread)
    #[arg(long, default_value_t = 20_000)]
    pub checkpoint_pages: u64,
    /// Record ids reserved durably per allocator block (one extra commit per block; ids
    /// left in a block are skipped after a restart)
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000))]
    pub key_block: i64,
    /// A retry file that failed this many times moves to stuck/
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Shortest wait before retrying a retry file, in milliseconds
    #[arg(long, default_value_t = 1000)]
    pub retry_min: u64,
    /// Longest wait before retrying a retry file, in milliseconds
    #[arg(long, default_value_t = 300_000)]
    pub retry_max: u64,
    /// How long shutdown tries to commit before writing the open batch to retry/, in milliseconds
    #[arg(long, default_value_t = 10_000)]
    pub drain_deadline: u64,
    /// Commit to this PostgreSQL database (postgres://USER@HOST:PORT/DB) instead of SQLite;
    /// several processors may share one. Best given in the environment, so a password
    /// stays off the command line
    #[arg(long, env = "STATMGR_DATABASE", hide_env_values = true, value_name = "URL")]
    pub database: Option<String>,
    /// SQLite busy timeout (with --database: the longest one database operation may take), in milliseconds
    #[arg(long, default_value_t = 5_000)]
    pub busy_timeout: u64,
    /// Inbox rescan interval, in milliseconds (notify events are only hints)
    #[arg(long, default_value_t = 5_000)]
    pub rescan: u64,
    /// Largest inbox file accepted, in bytes
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_file_bytes: u64,
    /// Most messages accepted in one inbox file
    #[arg(long, default_value_t = 100_000)]
    pub max_messages_per_file: usize,
    /// Longest string field accepted, in bytes
    #[arg(long, default_value_t = 4096)]
    pub max_string_bytes: usize,
    /// Delete messages older than this many days (by the message's own time) [default: keep forever]
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retain_days: Option<u32>,
    /// Days to keep per severity, e.g. error=90,warning=30,info=7 (others: --retain-days)
    #[arg(long, value_name = "SEV=DAYS,...", value_parser = RetentionRules::parse)]
    pub retain: Option<RetentionRules>,
    /// Seconds between retention passes (one also runs at start)
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub retain_interval: u64,
    /// Most pages the database may grow to (a test of a full database)
    #[arg(long, hide = true)]
    pub max_db_pages: Option<u64>,
    /// Log format on stderr: `text` (human; without its own timestamp under systemd's
    /// journal, which adds one) or `json` (one object per line)
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Keep the event history in <root>/journal/ (`off`: events live only in memory)
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub journal: Switch,
    /// Close a journal segment and start a new one past this many MiB
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub journal_segment_mb: u64,
    /// Delete the oldest journal segments while the journal is larger than this many MiB
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub journal_max_mb: u64,
    /// ...or older than this many days (the per-minute rollups too)
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub journal_max_days: u64,
}

/// An on/off setting.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

/// `--log-format`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl RunArgs {
    pub fn config(&self) -> ProcessorConfig {
        let mut c = ProcessorConfig::new(self.root.path());
        c.batch_size = self.batch_size as usize;
        c.batch_age = Duration::from_millis(self.batch_age);
        c.batch_max = self.batch_max as usize;
        c.sqlite_cache_kib = self.cache_size * 1024;
        c.wal_autocheckpoint = self.wal_autocheckpoint;
        c.checkpoint_pages = self.checkpoint_pages;
        c.key_block_size = self.key_block;
        c.max_attempts = self.max_attempts;
        c.retry_backoff_min = Duration::from_millis(self.retry_min.max(1));
        c.retry_backoff_max = Duration::from_millis(self.retry_max.max(self.retry_min.max(1)));
        c.drain_deadline = Duration::from_millis(self.drain_deadline);
        c.busy_timeout = Duration::from_millis(self.busy_timeout);
        c.rescan_interval = Duration::from_millis(self.rescan.max(10));
        c.limits.max_file_bytes = self.max_file_bytes;
        c.limits.max_messages_per_file = self.max_messages_per_file;
        c.limits.max_string_bytes = self.max_string_bytes;
        c.database = self.database.clone().filter(|url| !url.trim().is_empty());
        c.max_db_pages = self.max_db_pages;
        c.retention = self.retain.unwrap_or_default().or_days(self.retain_days);
        c.retain_interval = Duration::from_secs(self.retain_interval);
        c.journal.enabled = self.journal == Switch::On;
        c.journal.segment_bytes = self.journal_segment_mb * 1024 * 1024;
        c.journal.max_bytes = self.journal_max_mb.saturating_mul(1024 * 1024);
        c.journal.max_age = Duration::from_secs(self.journal_max_days * 86_400);
        c
    }
}

/// Logs to stderr through tracing; `RUST_LOG` overrides the default level (info).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log write that fails (stderr redirected to a file on a full disk) must not be
        // reported with `eprintln!`, which panics there and killed the committer thread.
        .log_internal_errors(false);
    let _ = match format {
        // serde_json escapes every control character, so producers' text (already escaped
        // by the processor) cannot become a raw escape sequence here either.
        LogFormat::Json => builder.json().with_target(true).try_init(),
        // Colours only for a terminal: a log file holds no escape sequence at all.
        LogFormat::Text if stderr_is_journal() => builder
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .try_init(),
    };
}

/// Whether stderr is systemd's journal stream (`JOURNAL_STREAM` names its device and
/// inode, as sd_journal_stream_fd documents): the journal stamps each line itself.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    std::fs::metadata("/proc/self/fd/2").is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// `argv`: the arguments after `run`; merged with the config file they name.
pub fn main(argv: Vec<std::ffi::OsString>) -> ExitCode {
    let args = match crate::cli::settings::resolve(argv) {
        Ok(resolved) => resolved.args,
        Err(crate::cli::settings::ConfigError::Usage(err)) => err.exit(),
        Err(err) => {
            eprintln!("statmgr: {err}");
            return ExitCode::from(2);
        }
    };
    init_logging(args.log_format);
    crate::processor::memory::limit_arenas();
    let runtime = match crate::cli::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("statmgr: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statmgr: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> Result<(), crate::error::Error> {
    let config = args.config();
    let notifier = Notifier::from_env();
    let limit = liveness_limit(&config, notifier.watchdog());
    let notifier = notifier.with_liveness_limit(limit);
    let shutdown = CancellationToken::new();
    let processor = crate::processor::start(config.clone(), shutdown.clone(), args.read_only_api)?;
    // Before the API starts: a SIGTERM from the service manager at any moment after this drains.
    let signals = tokio::spawn(watch_signals(shutdown.clone(), processor.hurry_handle()));
    // The API outlives the drain, so an operator can watch it; it stops after.
    let api_shutdown = CancellationToken::new();
    let options = crate::api::server::ServerOptions {
        listen: args.listen,
        listen_public: args.listen_public,
        read_only: args.read_only_api,
        liveness_limit: limit,
    };
    let server = match crate::api::server::start(processor.handle(), options, api_shutdown.clone()).await {
        Ok(s) => s,
        Err(e) => {
            shutdown.cancel();
            signals.abort();
            processor.wait().await;
            return Err(e);
        }
    };
    tracing::info!(
        root = %config.root.display(),
        api = %format!("http://{}", server.addr),
        batch_size = config.batch_size,
        batch_age_ms = config.batch_age.as_millis() as u64,
        "processor started"
    );
    let telemetry = processor.handle().telemetry.clone();
    let notifying = tokio::spawn(announce(notifier.clone(), telemetry.clone(), shutdown.clone()));
    processor.wait().await;
    signals.abort();
    notifying.abort();
    notifier.status(&status_line(&telemetry, 0.0));
    api_shutdown.cancel();
    server.wait().await;
    tracing::info!("drained; exiting");
    Ok(())
}

/// `READY=1` once intake's first scan has begun (the database is open and the API listens
/// by now), then the status and watchdog loop until aborted.
async fn announce(notifier: Notifier, telemetry: std::sync::Arc<Telemetry>, shutdown: CancellationToken) {
    while !telemetry.health.has_scanned() {
        if shutdown.is_cancelled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if !shutdown.is_cancelled() {
        notifier.ready(&status_line(&telemetry, 0.0));
    }
    notifier.run(telemetry, shutdown).await;
}

/// How long a silent thread counts as alive, for `/healthz` and the watchdog pings: long
/// enough for one slow database operation (the larger of 10 s and twice `--busy-timeout`);
/// under systemd's watchdog, half its interval when that is longer (systemd then restarts
/// a wedged processor about 1.5 intervals after the wedge, not 2), never more than it.
fn liveness_limit(config: &ProcessorConfig, watchdog: Option<Duration>) -> Duration {
    let floor = (config.busy_timeout * 2).max(crate::api::server::DEFAULT_LIVENESS_LIMIT);
    match watchdog {
        None => floor,
        Some(w) => (w / 2).max(floor.min(w)),
    }
}

/// First SIGTERM/SIGINT: drain. Second: hurry (write the open batch to retry/ now).
/// The handlers are installed when this is called, not when the future first runs.
fn watch_signals(
    shutdown: CancellationToken,
    hurry: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let installed = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        let (Ok(term), Ok(int)) = installed else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        follow_signals(term, int, shutdown, hurry).await;
    }
}

async fn follow_signals(
    mut term: tokio::signal::unix::Signal,
    mut int: tokio::signal::unix::Signal,
    shutdown: CancellationToken,
    hurry: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let mut seen = 0;
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        seen += 1;
        if seen == 1 {
            tracing::info!("{name}: stopping intake and draining");
            shutdown.cancel();
        } else {
            tracing::warn!("{name} again: writing what is open to retry/ without more commit attempts");
            hurry.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liveness_limit_is_half_the_watchdog_interval_but_never_below_one_slow_operation() {
        let mut config = ProcessorConfig::new("/state".into());
        config.busy_timeout = Duration::from_secs(5);
        let s = Duration::from_secs;
        assert_eq!(liveness_limit(&config, None), s(10));
        assert_eq!(liveness_limit(&config, Some(s(30))), s(15));
        assert_eq!(liveness_limit(&config, Some(s(120))), s(60));
        // Half of 16 s is less than one slow operation: the floor, 10 s.
        assert_eq!(liveness_limit(&config, Some(s(16))), s(10));
        // An interval shorter than the floor is the limit itself.
        assert_eq!(liveness_limit(&config, Some(s(4))), s(4));
        config.busy_timeout = s(20);
        assert_eq!(liveness_limit(&config, None), s(40));
        assert_eq!(liveness_limit(&config, Some(s(60))), s(40));
    }
}
