//! `find` at scale: a committed SQLite database of `--rows` messages (default 2,000,000;
//! the target is 10,000,000, which takes ~13 min and several GiB to build) and
//! `--stuck-files` stuck files of `--per-file` messages (default 100,000 x 10), then
//! `GET /api/v1/find` per uid against the real `statmgr run` (release build), for
//! committed, stuck and unknown uids. Also the uid index's memory for those files,
//! counted two ways (the index's own byte count, and the RSS growth of building it here).
//!
//! `cargo build --release && cargo run --release --example bench_find -- [--rows N]
//! [--stuck-files N] [--per-file N] [--queries N] [--cache DIR]`

#[allow(dead_code)]
#[path = "bench/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "bench/prefill.rs"]
mod prefill;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use statmgr::api::client::{Client, Target};
use statmgr::api::wire::find::FindReport;
use statmgr::processor::uid_index::{Files, Place};

struct Args {
    rows: u64,
    stuck_files: u64,
    per_file: u64,
    queries: usize,
    cache: PathBuf,
}

fn args() -> Result<Args> {
    let mut a = Args {
        rows: 2_000_000,
        stuck_files: 100_000,
        per_file: 10,
        queries: 300,
        cache: PathBuf::from("target/bench-cache"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => a.rows = value()?.parse()?,
            "--stuck-files" => a.stuck_files = value()?.parse()?,
            "--per-file" => a.per_file = value()?.parse()?,
            "--queries" => a.queries = value()?.parse()?,
            "--cache" => a.cache = value()?.into(),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The index alone, as the processor fills it (one `set` per file): bytes it counts, and
/// how much this process's RSS grew.
fn index_memory(files: u64, per_file: u64) -> (usize, u64, f64) {
    let before = rss_kib(std::process::id());
    let t = Instant::now();
    let mut index = Files::default();
    for i in 0..files {
        let uids: Vec<String> = (0..per_file)
            .map(|j| data::uid("stuck", i * per_file + j))
            .collect();
        index.set(
            Place::Stuck,
            &format!("20261123T100000.000-{i:06}-1.batch"),
            uids.iter().map(String::as_str),
        );
    }
    let secs = t.elapsed().as_secs_f64();
    let after = rss_kib(std::process::id());
    let bytes = index.heap_bytes();
    assert!(!index.candidates(&data::uid("stuck", 0)).is_empty());
    drop(index);
    (bytes, after.saturating_sub(before), secs)
}

struct Stats {
    median: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(f64::total_cmp);
    let q = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: *v.last().unwrap_or(&0.0),
    }
}

fn start(bin: &Path, root: &Path) -> Result<Child> {
    Command::new(bin)
        .args(["run", "--root"])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(root.with_extension("log"))?)
        .spawn()
        .context("start statmgr run")
}

async fn find(client: &Client, uid: &str) -> Result<(f64, FindReport)> {
    let t = Instant::now();
    let r = client.find(&[uid.to_string()]).await?;
    Ok((t.elapsed().as_secs_f64() * 1000.0, r))
}

fn main() -> Result<()> {
    let a = args()?;
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("statmgr"))
        .context("locate target/release/statmgr")?;
    if !bin.exists() {
        bail!("{} is missing: run `cargo build --release` first", bin.display());
    }
    let (bytes, rss, secs) = index_memory(a.stuck_files, a.per_file);
    let files = a.stuck_files.max(1) as f64;
    println!(
        "uid index, {} files x {} messages: {:.1} MiB counted ({:.0} bytes/file), RSS +{:.1} MiB \
         ({:.0} bytes/file), built in {secs:.2} s",
        a.stuck_files,
        a.per_file,
        bytes as f64 / 1048576.0,
        bytes as f64 / files,
        rss as f64 / 1024.0,
        rss as f64 * 1024.0 / files
    );

    let db = prefill::cached(&a.cache, a.rows)?;
    let tmp = tempfile::Builder::new()
        .prefix("bench-find")
        .tempdir_in(&a.cache)?;
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root)?;
    prefill::install(&db, &root)?;
    let t = Instant::now();
    data::write_retry_files(&root.join("stuck"), "stuck", a.stuck_files, a.per_file, 0)?;
    data::settle_disk();
    eprintln!(
        "wrote {} stuck files in {:.0} s",
        a.stuck_files,
        t.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut child = start(&bin, &root)?;
    let result = measure(&a, &root, &child, started);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    result
}

fn measure(a: &Args, root: &Path, child: &Child, started: Instant) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = loop {
            if started.elapsed() > Duration::from_secs(120) {
                bail!("the processor did not start: see {}", root.with_extension("log").display());
            }
            if let Ok(target) = Target::from_root(root, false) {
                let c = Client::new(target, Duration::from_secs(30));
                if c.find(&["x".into()]).await.is_ok() {
                    break c;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // A message dropped now commits while the index is still being built.
        data::write_inbox(&root.join("inbox"), "first", 1, 1)?;
        let first_uid = data::uid("first", 0);
        let api_up = started.elapsed().as_secs_f64();
        let mut first_commit = None;
        let indexed = loop {
            let (_, r) = find(&client, &first_uid).await?;
            if first_commit.is_none() && r.results[0].places.iter().any(|p| p.place() == "committed") {
                first_commit = Some(started.elapsed().as_secs_f64() - api_up);
            }
            if r.index_pending == 0 && r.index_files >= a.stuck_files && first_commit.is_some() {
                break started.elapsed().as_secs_f64();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        println!(
            "start: API up {api_up:.1} s; first commit {:.2} s after that; uid index complete at {indexed:.1} s",
            first_commit.unwrap_or(f64::NAN)
        );
        println!("processor RSS with the index built: {:.1} MiB", rss_kib(child.id()) as f64 / 1024.0);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        };
        for (class, want) in [("committed", "committed"), ("stuck", "stuck"), ("unknown", "")] {
            let mut times = Vec::with_capacity(a.queries);
            for _ in 0..a.queries {
                let uid = match class {
                    "committed" => data::random_uid("pre", 1 + next(a.rows)),
                    "stuck" => data::uid("stuck", next(a.stuck_files * a.per_file)),
                    _ => format!("unknown-{}", next(u64::MAX)),
                };
                let (ms, r) = find(&client, &uid).await?;
                let places: Vec<&str> = r.results[0].places.iter().map(|p| p.place()).collect();
                if want.is_empty() {
                    anyhow::ensure!(places.is_empty(), "{uid} should be unknown: {places:?}");
                } else {
                    anyhow::ensure!(places == [want], "{uid} should be {want}: {places:?}");
                }
                times.push(ms);
            }
            let s = stats(times);
            println!(
                "find one {class:<9} uid ({} queries): median {:.2} ms  p90 {:.2}  p99 {:.2}  max {:.2}",
                a.queries, s.median, s.p90, s.p99, s.max
            );
        }
        println!("(database: {} rows; {} stuck files of {} messages)", a.rows, a.stuck_files, a.per_file);
        Ok(())
    })
}
