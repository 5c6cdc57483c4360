//! Throughput of whole processors (inbox -> database): one on SQLite, then one, two and
//! three sharing one PostgreSQL server (fsync on) in a temporary directory.
//!
//! `cargo run --release --example bench_postgres [MESSAGES_PER_PROCESSOR [nofsync]]`
//! (default 20000 messages, fsync on); `BENCH_ROUNDS` repeats the whole sequence (medians
//! and every round's ratios are printed), `BENCH_PROCESSORS=1,3` picks the PostgreSQL
//! processor counts (default 1,2,3); `BENCH_BATCH_AGE_MS` overrides `--batch-age`,
//! `BENCH_BATCH_MAX` `--batch-max`; uids are random UUIDs unless `BENCH_SEQUENTIAL_UIDS=1`.
//! Each run also prints the CPU time of the processors (this process) and of the server.
//! Every inbox is filled first (files of 100 messages); the clock runs from the processors'
//! start until every inbox is empty (a file leaves only after its messages committed).

#[path = "bench/data.rs"]
#[allow(dead_code)]
mod data;
#[path = "../tests/postgres_support/mod.rs"]
mod postgres_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use statmgr::config::ProcessorConfig;
use statmgr::processor::{self, StateDir};
use tokio_util::sync::CancellationToken;

const PER_FILE: u64 = 100;

fn main() {
    let per_processor: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    statmgr::cli::run::init_logging(statmgr::cli::run::LogFormat::Text);
    data::set_sequential_uids(std::env::var("BENCH_SEQUENTIAL_UIDS").is_ok_and(|v| v == "1"));
    let rounds: usize = env_parse("BENCH_ROUNDS").unwrap_or(1);
    let counts: Vec<usize> = std::env::var("BENCH_PROCESSORS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // `nofsync` as the second argument: how much of the time is the server's fsync.
    let fsync = std::env::args().nth(2).is_none_or(|a| a != "nofsync");
    println!(
        "{per_processor} messages per processor, files of {PER_FILE}, fsync {fsync}, {rounds} round(s), \
         PostgreSQL with {counts:?} processors"
    );
    // Per round: the SQLite rate, then the PostgreSQL rate for each processor count.
    let mut results: Vec<(f64, Vec<f64>)> = Vec::new();
    for round in 1..=rounds {
        println!("round {round} (load average {})", load_average());
        let cpu = Cpu::now(None);
        let sqlite = runtime.block_on(run(None, 1, per_processor));
        let cpu = cpu.since(None);
        println!(
            "sqlite      1 processor : {sqlite:>8.0} messages/s (processor CPU {:.2} s)",
            cpu.0
        );
        let mut pg_rates = Vec::new();
        for &processors in &counts {
            let Some(pg) = postgres_support::server_with("bench_postgres", fsync) else {
                return;
            };
            let sql = pg.sql();
            let postmaster = postmaster_pid(&sql);
            let cpu = Cpu::now(postmaster);
            let sampler = WaitSampler::start(pg.url());
            let rate = runtime.block_on(run(Some(pg.url()), processors, per_processor));
            let (client_cpu, server_cpu) = cpu.since(postmaster);
            let waits = sampler.stop();
            let stored = sql.i64("SELECT count(*) FROM status_messages") as u64;
            assert_eq!(stored, processors as u64 * per_processor, "messages stored");
            let batches = sql.i64("SELECT count(*) FROM batches");
            let mean_ms = sql.i64("SELECT round(avg(duration_ms))::int8 FROM batches");
            let plural = if processors == 1 { " " } else { "s" };
            println!(
                "postgresql  {processors} processor{plural}: {rate:>8.0} messages/s = {:.2}x sqlite \
                 ({batches} batches, {mean_ms} ms each before COMMIT; CPU: processors {client_cpu:.2} s, \
                 server {server_cpu:.2} s)",
                rate / sqlite
            );
            println!("            what the processors' sessions were doing (sampled every 20 ms): {waits}");
            pg_rates.push(rate);
        }
        results.push((sqlite, pg_rates));
    }
    if rounds > 1 {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!("medians of {rounds} rounds (ratios: each round's own, then the median):");
        println!(
            "sqlite      1 processor : {:>8.0} messages/s",
            median(results.iter().map(|r| r.0).collect())
        );
        for (i, processors) in counts.iter().enumerate() {
            let rates: Vec<f64> = results.iter().map(|r| r.1[i]).collect();
            let ratios: Vec<String> = results.iter().map(|r| format!("{:.2}", r.1[i] / r.0)).collect();
            let to_one: Vec<String> = results
                .iter()
                .map(|r| format!("{:.2}", r.1[i] / r.1[0]))
                .collect();
            println!(
                "postgresql  {processors} processor(s): {:>8.0} messages/s; to sqlite {} (median {:.2}); \
                 to {} processor(s) {}",
                median(rates),
                ratios.join(" / "),
                median(results.iter().map(|r| r.1[i] / r.0).collect()),
                counts[0],
                to_one.join(" / ")
            );
        }
    }
}

/// Samples what statmgr's server sessions are doing (`pg_stat_activity`: running on the
/// CPU, or waiting for a lock, the WAL flush, I/O...) from a thread of its own.
struct WaitSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<String>,
}

impl WaitSampler {
    fn start(url: String) -> WaitSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let sql = postgres_support::Sql::connect(&url);
            let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
            let mut samples = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                for state in sql.strings(
                    "SELECT COALESCE(wait_event_type || ':' || wait_event, 'on CPU') FROM pg_stat_activity
                     WHERE application_name = 'statmgr' AND state = 'active'",
                ) {
                    *counts.entry(state).or_default() += 1;
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut top: Vec<(String, u64)> = counts.into_iter().collect();
            top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
            let parts: Vec<String> = top
                .iter()
                .take(6)
                .map(|(what, n)| format!("{what} {:.0} %", 100.0 * *n as f64 / samples.max(1) as f64))
                .collect();
            format!(
                "{} (of {samples} samples; a session active in every sample = 100 %)",
                parts.join(", ")
            )
        });
        WaitSampler { stop, thread }
    }

    fn stop(self) -> String {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The server's postmaster, from `postmaster.pid` in its data directory.
fn postmaster_pid(sql: &postgres_support::Sql) -> Option<i32> {
    let dir = sql.strings("SHOW data_directory").pop()?;
    let text = std::fs::read_to_string(Path::new(&dir).join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// CPU seconds used so far by this process (the processors run in it) and by the
/// PostgreSQL server (the postmaster, its reaped children, and its live children).
struct Cpu {
    client: f64,
    server: f64,
}

impl Cpu {
    fn now(postmaster: Option<i32>) -> Cpu {
        Cpu {
            client: self_cpu(),
            server: postmaster.map_or(0.0, server_cpu),
        }
    }

    fn since(&self, postmaster: Option<i32>) -> (f64, f64) {
        let now = Cpu::now(postmaster);
        (now.client - self.client, now.server - self.server)
    }
}

fn self_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Clock ticks of (utime, stime, cutime, cstime) and the parent pid from /proc/PID/stat.
fn proc_stat(pid: i32) -> Option<(i32, [f64; 4])> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let tick = 100.0;
    let f = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    Some((fields.get(1)?.parse().ok()?, [f(11), f(12), f(13), f(14)]))
}

fn server_cpu(postmaster: i32) -> f64 {
    let Some((_, t)) = proc_stat(postmaster) else {
        return 0.0;
    };
    let mut total = t.iter().sum::<f64>();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Some((ppid, t)) = proc_stat(pid) {
            if ppid == postmaster {
                total += t[0] + t[1];
            }
        }
    }
    total
}

/// Fills the inboxes, starts the processors, and returns messages per second.
async fn run(database: Option<String>, processors: usize, per_processor: u64) -> f64 {
    let tmp = tempfile::tempdir().expect("temp dir");
    let roots: Vec<PathBuf> = (0..processors)
        .map(|i| tmp.path().join(format!("p{i}")))
        .collect();
    for (i, root) in roots.iter().enumerate() {
        StateDir::at(root).create().expect("state dir");
        fill_inbox(root, i as u64 * per_processor, per_processor);
    }
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running: Vec<_> = roots
        .iter()
        .map(|root| {
            let mut config = ProcessorConfig::new(root.clone());
            config.database = database.clone();
            if let Some(ms) = std::env::var("BENCH_BATCH_AGE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                config.batch_age = Duration::from_millis(ms);
            }
            if let Some(n) = std::env::var("BENCH_BATCH_MAX").ok().and_then(|v| v.parse().ok()) {
                config.batch_max = n;
            }
            processor::start(config, shutdown.clone(), true).expect("start the processor")
        })
        .collect();
    while !roots.iter().all(|root| inbox_empty(root)) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    for p in running {
        p.wait().await;
    }
    (processors as u64 * per_processor) as f64 / elapsed.as_secs_f64()
}

fn fill_inbox(root: &Path, first: u64, count: u64) {
    let inbox = root.join("inbox");
    let mut n = first;
    while n < first + count {
        let end = (n + PER_FILE).min(first + count);
        let body: String = (n..end)
            .map(|k| {
                format!(
                    "{{\"uid\":\"{}\",\"message_id\":{k},\"severity\":\"info\",\"component\":\"SMS_EXECUTIVE\",\
                     \"machine\":\"HOST{}\",\"site\":\"S01\",\"time\":\"2026-11-23T10:00:00Z\",\
                     \"insertion_strings\":[\"is-{k}\",\"two\"],\"attributes\":{{\"400\":\"attr-{k}\"}}}}\n",
                    data::uid("u", k),
                    k % 50
                )
            })
            .collect();
        std::fs::write(inbox.join(format!("m-{n:09}.jsonl")), body).expect("write an inbox file");
        n = end;
    }
}

fn inbox_empty(root: &Path) -> bool {
    std::fs::read_dir(root.join("inbox"))
        .map(|entries| entries.flatten().next().is_none())
        .unwrap_or(false)
}
