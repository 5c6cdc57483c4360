//! The committer's throughput while retention prunes a large history, against the same
//! database with retention off; and the longest write-lock hold of the prune.
//!
//! `cargo run --release --example bench_retention [OLD_ROWS [MESSAGES]]` (defaults
//! 1,000,000 old rows, each with two insertion strings and an attribute, and 1,000,000 new
//! messages, enough to keep the committer busy for several seconds of the pass). Each run writes the old rows, fills the inbox, starts a processor (retention
//! off, or `--retain-days 30`: its first pass starts with the processor) and times it from
//! start until the inbox is empty. With retention on it then waits for the pass to end and
//! reports it, and how many rows it had pruned while the committer was busy (the inbox not
//! yet empty). `BENCH_RUNS=N` repeats both modes N times (medians printed).

use std::path::Path;
use std::time::{Duration, Instant};

use statmgr::api::wire::EventKind;
use statmgr::config::{ProcessorConfig, RetentionRules};
use statmgr::processor::sqlite::SqliteStore;
use statmgr::processor::{self, StateDir};
use tokio_util::sync::CancellationToken;

const PER_FILE: u64 = 1000;

struct Run {
    rate: f64,
    batch_max_ms: f64,
    batch_p99_ms: f64,
    /// Rows retention had pruned when the inbox became empty.
    pruned_while_busy: u64,
    pass: Option<statmgr::api::wire::RetentionPass>,
}

fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let (old, messages) = (arg(1, 1_000_000), arg(2, 1_000_000));
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("{old} old rows (to prune), {messages} new messages in files of {PER_FILE}, batches of 1000");
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        off.push(runtime.block_on(run(old, messages, false)));
        on.push(runtime.block_on(run(old, messages, true)));
    }
    for (name, results) in [("retention off", &off), ("retention on ", &on)] {
        for r in results.iter() {
            print!(
                "{name}: {:>8.0} messages/s, batch commit max {:>6.1} ms, p99 {:>6.1} ms",
                r.rate, r.batch_max_ms, r.batch_p99_ms
            );
            match &r.pass {
                Some(p) => println!(
                    "; {} rows pruned while the committer was busy; pass pruned {} rows in {:.1} s ({:.0} rows/s), {} delete transactions: \
                     write-lock hold p99 {:.1} ms, longest {:.1} ms, {} over 50 ms",
                    r.pruned_while_busy,
                    p.pruned,
                    p.duration_ms / 1000.0,
                    p.pruned as f64 / (p.duration_ms / 1000.0),
                    p.transactions,
                    p.p99_hold_ms,
                    p.longest_hold_ms,
                    p.holds_over_50ms
                ),
                None => println!(),
            }
        }
    }
    let median = |v: &Vec<Run>| {
        let mut rates: Vec<f64> = v.iter().map(|r| r.rate).collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    println!(
        "committer throughput while pruning / without: {:.2} (medians of {runs})",
        median(&on) / median(&off)
    );
    let pairs: Vec<String> = off
        .iter()
        .zip(&on)
        .map(|(off, on)| format!("{:.2}", on.rate / off.rate))
        .collect();
    println!(
        "run by run (each on / the off run just before it): {}",
        pairs.join(", ")
    );
}

async fn run(old: u64, messages: u64, retention: bool) -> Run {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("state");
    StateDir::at(&root).create().expect("state dir");
    let db = root.join("statmgr.db");
    drop(SqliteStore::open(&db, Duration::from_secs(5)).expect("create the database"));
    write_history(&db, old);
    fill_inbox(&root, messages);

    let mut config = ProcessorConfig::new(root.clone());
    if retention {
        config.retention = RetentionRules::default().or_days(Some(30));
    }
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let p = processor::start(config, shutdown.clone(), true).expect("start the processor");
    let telemetry = p.handle().telemetry.clone();
    while !inbox_empty(&root) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let pruned_while_busy = telemetry.retention().pruned_total;
    let mut durations: Vec<f64> = telemetry
        .events_after(0, 100_000)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::BatchCommitted { batch } => Some(batch.duration_ms),
            _ => None,
        })
        .collect();
    durations.sort_by(f64::total_cmp);
    let pass = if retention {
        loop {
            if let Some(pass) = telemetry.retention().last_pass {
                break Some(pass);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        None
    };
    shutdown.cancel();
    p.wait().await;
    Run {
        rate: messages as f64 / elapsed.as_secs_f64(),
        batch_max_ms: durations.last().copied().unwrap_or(0.0),
        batch_p99_ms: durations.get(durations.len() * 99 / 100).copied().unwrap_or(0.0),
        pruned_while_busy,
        pass,
    }
}

/// Old rows with the shape of real ones, written straight to the database.
fn write_history(db: &Path, rows: u64) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO status_messages (record_id, uid, message_id, severity, component, machine, site,
                                      time, received, batch_id)
             SELECT i, 'old-' || i, 1, CASE i % 3 WHEN 0 THEN 'info' WHEN 1 THEN 'warning' ELSE 'error' END,
                    'SMS_EXECUTIVE', 'HOST' || (i % 50), 'S01', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z', 0
             FROM n;
         INSERT INTO status_message_insstrs SELECT record_id, 0, 'is-' || record_id FROM status_messages;
         INSERT INTO status_message_insstrs SELECT record_id, 1, 'two' FROM status_messages;
         INSERT INTO status_message_attributes SELECT record_id, 400, 'attr-' || record_id FROM status_messages;
         INSERT INTO allocator (id, high_water, block_size) VALUES (1, {rows} + 1, 1000);
         COMMIT;"
    ))
    .expect("write the old rows");
}

fn fill_inbox(root: &Path, count: u64) {
    let inbox = root.join("inbox");
    let time = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let mut n = 0;
    while n < count {
        let end = (n + PER_FILE).min(count);
        let body: String = (n..end)
            .map(|k| {
                format!(
                    "{{\"uid\":\"u-{k}\",\"message_id\":{k},\"severity\":\"info\",\"component\":\"SMS_EXECUTIVE\",\
                     \"machine\":\"HOST{}\",\"site\":\"S01\",\"time\":\"{time}\",\
                     \"insertion_strings\":[\"is-{k}\",\"two\"],\"attributes\":{{\"400\":\"attr-{k}\"}}}}\n",
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
