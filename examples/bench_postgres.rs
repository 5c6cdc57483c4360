//! Throughput of whole processors (inbox -> database): one on SQLite, then one, two and
//! three sharing one PostgreSQL server (fsync on) in a temporary directory.
//!
//! `cargo run --release --example bench_postgres [MESSAGES_PER_PROCESSOR [nofsync]]`
//! (default 20000 messages, fsync on); `BENCH_BATCH_AGE_MS` overrides `--batch-age`,
//! `BENCH_BATCH_MAX` `--batch-max`; uids are random UUIDs unless `BENCH_SEQUENTIAL_UIDS=1`.
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // `nofsync` as the second argument: how much of the time is the server's fsync.
    let fsync = std::env::args().nth(2).is_none_or(|a| a != "nofsync");
    println!("{per_processor} messages per processor, files of {PER_FILE}, batches of 1000, fsync {fsync}");
    let rate = runtime.block_on(run(None, 1, per_processor));
    println!("sqlite      1 processor : {rate:>8.0} messages/s");
    for processors in 1..=3 {
        let Some(pg) = postgres_support::server_with("bench_postgres", fsync) else {
            return;
        };
        let rate = runtime.block_on(run(Some(pg.url()), processors, per_processor));
        let sql = pg.sql();
        let stored = sql.i64("SELECT count(*) FROM status_messages") as u64;
        assert_eq!(stored, processors as u64 * per_processor, "messages stored");
        let batches = sql.i64("SELECT count(*) FROM batches");
        let mean_ms = sql.i64("SELECT round(avg(duration_ms))::int8 FROM batches");
        let plural = if processors == 1 { " " } else { "s" };
        println!(
            "postgresql  {processors} processor{plural}: {rate:>8.0} messages/s \
             ({batches} batches, {mean_ms} ms each before COMMIT)"
        );
    }
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
