//! `statmgr demo`: a processor, a message generator and the console, on a temporary state
//! directory (removed on exit unless `--keep`). The trouble it makes is real: a trigger that
//! refuses one machine, and periods when another connection holds the database locked.

pub mod generator;
pub mod trouble;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::client::{Client, Target};
use crate::api::server::{self, ServerOptions};
use crate::config::ProcessorConfig;
use crate::tui::{ConsoleOptions, DemoHooks};

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Keep the temporary state directory on exit (its path is printed)
    #[arg(long)]
    pub keep: bool,
    /// Messages per second to generate at start (`+`/`-` in the console change it)
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    /// Seconds between the demo's database locks (0: never lock)
    #[arg(long, default_value_t = 45)]
    pub lock_every: u64,
    /// How long each lock is held, in seconds
    #[arg(long, default_value_t = 8)]
    pub lock_for: u64,
    #[command(flatten)]
    pub look: crate::cli::console::LookArgs,
}

pub fn main(args: DemoArgs) -> ExitCode {
    let runtime = match crate::cli::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("statmgr demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statmgr demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to a file in the state directory: the console owns the terminal.
fn log_to(path: &std::path::Path) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init();
    Ok(())
}

async fn run(args: DemoArgs) -> Result<(), String> {
    let look = &args.look;
    let theme = crate::tui::Theme::resolve(&look.theme, look.color.into(), crate::tui::theme::no_color_env())
        .map_err(|e| e.to_string())?;
    let tmp = tempfile::Builder::new()
        .prefix("statmgr-demo-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let root = tmp.path().join("state");
    let mut config = ProcessorConfig::new(root.clone());
    config.busy_timeout = Duration::from_millis(1000);
    config.retry_backoff_min = Duration::from_secs(1);
    config.retry_backoff_max = Duration::from_secs(10);
    config.drain_deadline = Duration::from_secs(3);
    config.rescan_interval = Duration::from_secs(2);
    log_to(&tmp.path().join("statmgr.log"))?;

    let shutdown = CancellationToken::new();
    let processor = crate::processor::start(config, shutdown.clone(), false).map_err(|e| e.to_string())?;
    trouble::install_poison_trigger(&root.join("statmgr.db"))
        .map_err(|e| format!("cannot install the demo trigger: {e}"))?;
    let api_shutdown = CancellationToken::new();
    let opts = ServerOptions {
        listen: "127.0.0.1:0".parse().expect("a valid address"),
        listen_public: false,
        read_only: false,
        liveness_limit: server::DEFAULT_LIVENESS_LIMIT,
    };
    let server = server::start(processor.handle(), opts, api_shutdown.clone())
        .await
        .map_err(|e| e.to_string())?;

    let rate = Arc::new(AtomicU64::new(args.rate));
    let stats = Arc::new(generator::Generated::default());
    let status = Arc::new(Mutex::new(String::new()));
    let locks = Arc::new(AtomicU64::new(0));
    let side = CancellationToken::new();
    let gen = generator::Generator {
        inbox: root.join("inbox"),
        rate: rate.clone(),
        stats: stats.clone(),
        shutdown: side.clone(),
    };
    let mut threads = vec![std::thread::spawn(move || gen.run())];
    if args.lock_every > 0 {
        let locker = trouble::Locker {
            db: root.join("statmgr.db"),
            every: Duration::from_secs(args.lock_every),
            hold: Duration::from_secs(args.lock_for),
            status: status.clone(),
            locks: locks.clone(),
            shutdown: side.clone(),
        };
        threads.push(std::thread::spawn(move || locker.run()));
    }

    let target = Target::from_root(&root, true).map_err(|e| e.to_string())?;
    let client = Client::new(target, Duration::from_secs(5));
    let banner = format!(
        "DEMO in {}: messages from {} are refused by a trigger (-> stuck/); the database is locked now and then (-> retry/). +/- rate",
        root.display(),
        generator::POISON_MACHINE
    );
    let console = ConsoleOptions {
        theme,
        root: None,
        demo: Some(DemoHooks {
            banner,
            rate: rate.clone(),
            status: status.clone(),
        }),
    };
    let result = crate::tui::run_console(client, false, console).await;

    side.cancel();
    for t in threads {
        let _ = t.join();
    }
    let handle = processor.handle();
    shutdown.cancel();
    processor.wait().await;
    api_shutdown.cancel();
    server.wait().await;
    let counters = handle.telemetry.counters();
    let q = crate::api::wire::FileQuery::default();
    let snap = handle.snapshot(&q, &q);
    println!("statmgr demo: what happened");
    println!(
        "  generated  {} messages in {} files ({} from {}, {} corrupt files)",
        stats.messages.load(Ordering::Relaxed),
        stats.files.load(Ordering::Relaxed),
        stats.poison.load(Ordering::Relaxed),
        generator::POISON_MACHINE,
        stats.corrupt_files.load(Ordering::Relaxed)
    );
    println!(
        "  committed  {} messages in {} batches; {} went through retry/ during {} database locks",
        counters.committed,
        counters.batches,
        counters.retried,
        locks.load(Ordering::Relaxed)
    );
    println!(
        "  stuck/     {} messages ({} files); corrupt/ {} files; left in inbox/ {} files, retry/ {} files",
        counters.stuck, snap.stuck.total, counters.corrupt, snap.inbox.depth, snap.retry.total
    );
    if args.keep {
        let kept = tmp.keep();
        println!("  state directory kept: {} (log: statmgr.log)", kept.display());
    } else {
        println!("  state directory removed (use --keep to keep it)");
    }
    result.map_err(|e| e.to_string())
}
