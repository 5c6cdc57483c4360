//! `cargo run --release --example bench`: measures statmgr against the floor (the simplest
//! correct hand-written loop) on this machine, in one run, and prints a Markdown report.
//! `--quick` is a smoke run of a few seconds; see BENCHMARKS.md for what each figure means.

#[path = "bench/api.rs"]
mod api;
#[path = "bench/backlog.rs"]
mod backlog;
#[path = "bench/child.rs"]
mod child;
#[path = "bench/data.rs"]
mod data;
#[path = "bench/floor.rs"]
mod floor;
#[path = "bench/prefill.rs"]
mod prefill;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/steady.rs"]
mod steady;
#[path = "bench/throughput.rs"]
mod throughput;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;

use child::RunFlags;
use report::{Results, Setup};

#[derive(Parser, Debug)]
#[command(about = "statmgr's benchmarks: throughput against the floor, latency, backlog start, memory")]
struct Args {
    /// A smoke run of a few seconds at small sizes (CI); the default is the full sizes
    #[arg(long)]
    quick: bool,
    /// Where to create the state directories [default: a new directory in the temp dir]
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The statmgr binary [default: built with `cargo build --release --bin statmgr`]
    #[arg(long)]
    statmgr: Option<PathBuf>,
    /// Another statmgr binary (e.g. an older build) measured in the same rounds, for
    /// before/after figures on equal terms
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Extra arguments for `statmgr run` of the binary under test (one string, split at spaces)
    #[arg(long, allow_hyphen_values = true)]
    statmgr_args: Option<String>,
    /// Extra arguments for `statmgr run` of the baseline (one string, split at spaces);
    /// with no --baseline, the binary under test is run a second time with these
    #[arg(long, allow_hyphen_values = true)]
    baseline_args: Option<String>,
    /// Runs of each throughput case (the report gives medians) [default: 3, quick: 1]
    #[arg(long)]
    repeat: Option<usize>,
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    #[arg(long, default_value_t = 200)]
    batch_age: u64,
    /// Steady load, messages (one-message files) per second
    #[arg(long)]
    rate: Option<u64>,
    /// Steady load, seconds
    #[arg(long)]
    seconds: Option<u64>,
    /// Only these parts (comma-separated): raw, files, jsonl, prefill, steady, backlog, scaling, api
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Uids `prefix-N` instead of random UUIDs (the default, as Windows producers send)
    #[arg(long)]
    sequential_uids: bool,
    /// Messages in the one-message-file case [default: 100,000, quick: 2,000]
    #[arg(long)]
    single: Option<u64>,
    /// Messages in the JSON Lines case [default: 1,000,000, quick: 20,000]
    #[arg(long)]
    jsonl: Option<u64>,
    /// The pre-filled-database case: databases already holding these many random-uid rows
    /// (comma-separated) [default: 2,000,000, quick: 100,000]
    #[arg(long, value_delimiter = ',')]
    prefill: Vec<u64>,
    /// Messages (JSON Lines of 100) committed onto each pre-filled database [default: 100,000, quick: 10,000]
    #[arg(long)]
    prefill_messages: Option<u64>,
    /// Keep the pre-filled databases here between runs (built once; 10,000,000 rows take
    /// minutes) [default: inside the run's temporary directory, removed at the end]
    #[arg(long)]
    prefill_cache: Option<PathBuf>,
    /// Record a CPU profile of every statmgr run into this directory (perf record -g)
    #[arg(long)]
    perf: Option<PathBuf>,
    /// Also write the report to this file
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The sizes of one run.
struct Sizes {
    raw_files: u64,
    fsync_for: Duration,
    single: u64,
    jsonl: u64,
    rate: u64,
    seconds: u64,
    backlog_inbox: u64,
    backlog_retry: u64,
    scaling_due: u64,
    scaling_present: u64,
    prefill: Vec<u64>,
    prefill_messages: u64,
}

impl Sizes {
    fn of(args: &Args) -> Sizes {
        let mut s = if args.quick {
            Sizes {
                raw_files: 2_000,
                fsync_for: Duration::from_millis(300),
                single: 2_000,
                jsonl: 20_000,
                rate: 500,
                seconds: 2,
                backlog_inbox: 2_000,
                backlog_retry: 200,
                scaling_due: 20,
                scaling_present: 400,
                prefill: vec![100_000],
                prefill_messages: 10_000,
            }
        } else {
            Sizes {
                raw_files: 20_000,
                fsync_for: Duration::from_secs(2),
                single: 100_000,
                jsonl: 1_000_000,
                rate: 2_000,
                seconds: 30,
                backlog_inbox: 100_000,
                backlog_retry: 10_000,
                scaling_due: 100,
                scaling_present: 10_000,
                prefill: vec![2_000_000],
                prefill_messages: 100_000,
            }
        };
        s.rate = args.rate.unwrap_or(s.rate);
        s.seconds = args.seconds.unwrap_or(s.seconds);
        s.single = args.single.unwrap_or(s.single);
        s.jsonl = args.jsonl.unwrap_or(s.jsonl);
        s.prefill_messages = args.prefill_messages.unwrap_or(s.prefill_messages);
        if !args.prefill.is_empty() {
            s.prefill = args.prefill.clone();
        }
        s
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) && args.statmgr.is_none() {
        bail!("build the benchmark in release mode: cargo run --release --example bench");
    }
    let sizes = Sizes::of(&args);
    data::set_sequential_uids(args.sequential_uids);
    let repeat = args.repeat.unwrap_or(if args.quick { 1 } else { 3 }).max(1);
    let wanted = |part: &str| args.only.is_empty() || args.only.iter().any(|p| p == part);
    let mut bins = vec![throughput::Binary {
        name: "statmgr".into(),
        path: match &args.statmgr {
            Some(p) => p.clone(),
            None => build_statmgr()?,
        },
        args: split_args(&args.statmgr_args),
    }];
    if args.baseline.is_some() || args.baseline_args.is_some() {
        let path = args.baseline.clone().unwrap_or_else(|| bins[0].path.clone());
        bins.push(throughput::Binary {
            name: "baseline".into(),
            path,
            args: split_args(&args.baseline_args),
        });
    }
    // Removed at the end (and on an error) with everything the runs left.
    let base = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::Builder::new().prefix("statmgr-bench-").tempdir_in(d)?
        }
        None => tempfile::Builder::new().prefix("statmgr-bench-").tempdir()?,
    };
    let dir = base.path();
    let machine = report::machine(dir);
    let flags = RunFlags {
        batch_size: args.batch_size,
        batch_age_ms: args.batch_age,
        perf: args.perf.clone(),
    };
    let started = Instant::now();
    let mut r = Results::default();
    if wanted("raw") {
        eprintln!("raw file-system rates...");
        r.raw = Some(floor::raw_rates(
            &dir.join("raw"),
            sizes.raw_files,
            sizes.fsync_for,
        )?);
    }
    if wanted("files") {
        let label = format!(
            "{} messages, one per .json file",
            report::thousands(sizes.single as f64)
        );
        eprintln!("{label}...");
        r.cases.push(throughput::run(
            dir,
            &bins,
            &flags,
            &label,
            sizes.single,
            1,
            repeat,
            None,
        )?);
    }
    if wanted("jsonl") {
        let label = format!(
            "{} messages in .jsonl files of 100",
            report::thousands(sizes.jsonl as f64)
        );
        eprintln!("{label}...");
        r.cases.push(throughput::run(
            dir,
            &bins,
            &flags,
            &label,
            sizes.jsonl,
            100,
            repeat,
            None,
        )?);
    }
    if wanted("prefill") {
        let cache = match &args.prefill_cache {
            Some(d) => d.clone(),
            None => dir.join("prefill-cache"),
        };
        for &rows in &sizes.prefill {
            let db = prefill::cached(&cache, rows)?;
            let label = format!(
                "{} messages in .jsonl files of 100, database holding {} rows",
                report::thousands(sizes.prefill_messages as f64),
                report::thousands(rows as f64)
            );
            eprintln!("{label}...");
            r.cases.push(throughput::run(
                dir,
                &bins,
                &flags,
                &label,
                sizes.prefill_messages,
                100,
                repeat,
                Some((&db, rows)),
            )?);
        }
    }
    if wanted("steady") {
        eprintln!("steady load, {} msg/s for {} s...", sizes.rate, sizes.seconds);
        for b in &bins {
            let run = steady::run(dir, b, &flags, sizes.rate, sizes.seconds)?;
            r.steady.push((b.name.clone(), run));
        }
    }
    if wanted("backlog") {
        eprintln!("start with a backlog...");
        let limit = Duration::from_secs(if args.quick { 60 } else { 240 });
        for b in &bins {
            let run = backlog::start_with_backlog(
                dir,
                &b.path,
                &flags,
                sizes.backlog_inbox,
                sizes.backlog_retry,
                limit,
            )?;
            r.backlog.push((b.name.clone(), run));
        }
    }
    if wanted("scaling") {
        eprintln!("retry worker scaling...");
        let due = sizes.scaling_due as usize;
        for present in [due, due * 10, due * 100, due * 1000] {
            r.ticks
                .push((present, due, backlog::schedule_tick_us(present, due, 5)));
        }
        r.ticks.push((
            sizes.scaling_present as usize,
            0,
            backlog::schedule_tick_us(sizes.scaling_present as usize, 0, 5),
        ));
        let window = if args.quick {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(5500)
        };
        let mut runs = vec![Vec::new(), Vec::new()];
        for _ in 0..repeat {
            for (i, present) in [sizes.scaling_due, sizes.scaling_present].into_iter().enumerate() {
                let path = &bins[0].path;
                runs[i].push(backlog::retry_scaling(
                    dir,
                    path,
                    &flags,
                    present,
                    sizes.scaling_due,
                    window,
                )?);
            }
        }
        r.scaling = runs.into_iter().map(backlog::median_scaling).collect();
    }
    let setup = Setup {
        binaries: bins.iter().map(|b| b.name.clone()).collect(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        batch_size: args.batch_size,
        batch_age_ms: args.batch_age,
        repeat,
        uids: if args.sequential_uids {
            "sequential (`prefix-N`)"
        } else {
            "random UUID v4 text"
        },
    };
    let mut text = report::render(&setup, &r, &machine);
    if wanted("api") {
        eprintln!("API and console...");
        let files = if args.quick { 2_000 } else { 100_000 };
        text.push_str(&api::render(&api::run(
            dir,
            &bins[0].path,
            &flags,
            files,
            args.quick,
        )?));
    }
    println!("{text}");
    eprintln!("benchmark finished in {:.0} s", started.elapsed().as_secs_f64());
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("write {}", out.display()))?;
    }
    Ok(())
}

fn split_args(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Builds the release binary (a no-op when it is current) and returns its path, beside
/// this example's own binary.
fn build_statmgr() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "statmgr"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .context("run cargo build --release --bin statmgr")?;
    ensure!(status.success(), "cargo build --release --bin statmgr failed");
    let exe = std::env::current_exe()?;
    // target/release/examples/bench -> target/release/statmgr
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("statmgr"))
        .context("cannot find the target directory")?;
    ensure!(bin.exists(), "{} was not built", bin.display());
    Ok(bin)
}

/// Rows in a state directory's `status_messages`.
pub fn count_rows(root: &Path) -> Result<u64> {
    let conn = rusqlite::Connection::open(root.join("statmgr.db"))?;
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM status_messages", [], |r| r.get(0))?;
    Ok(n as u64)
}
