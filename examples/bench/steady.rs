//! Steady load: a producer renames pre-written one-message files into the inbox at a fixed
//! rate while statmgr runs; every message's file-to-commit latency is measured from outside.
//!
//! Method: the producer notes the wall-clock time right after each `rename` into
//! `inbox/`. A watcher polls the database every `POLL` for rows above the last record id
//! it saw (ids only grow) and notes the time it first sees each row. That is an upper
//! bound of the commit time (late by at most one poll interval plus one query), so the
//! latency reported is conservative. As a cross-check, a lower bound comes from the
//! database itself: the row's `received` (taken when its transaction began) plus the
//! batch's stored `duration_ms` (which excludes the final COMMIT and its fsync).

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{ensure, Context, Result};
use rusqlite::Connection;

use crate::child::{Processor, RunFlags};
use crate::data::{message_line, uid};

const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Default)]
pub struct SteadyRun {
    pub rate: u64,
    pub seconds: u64,
    pub messages: u64,
    /// Rate the producer achieved (it must keep up for the figures to mean anything).
    pub offered_rate: f64,
    /// Observed latency (upper bound), in milliseconds: p50, p99, max.
    pub upper_ms: [f64; 3],
    /// From the database's own times (lower bound), in milliseconds: p50, p99, max.
    pub lower_ms: [f64; 3],
    /// Processor CPU time per wall-clock second during the load.
    pub cpu_share: f64,
    pub peak_rss: u64,
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Writes the `total` one-message files into `staging` (beside `inbox/`, on the same file
/// system) before the clock starts, so the timed producer only renames: writing 2,000
/// files a second on a busy 2-core machine did not keep up (750-900 files/s measured).
fn pregenerate(staging: &Path, total: u64) -> Result<()> {
    fs::create_dir_all(staging)?;
    for n in 0..total {
        let path = staging.join(format!("s-{n:08}.json"));
        fs::write(&path, message_line("s", n)).with_context(|| format!("write {}", path.display()))?;
    }
    crate::data::settle_disk();
    Ok(())
}

/// Releases the pre-written files into `inbox` at `rate` files per second, each with one
/// `rename` at its due time (a late producer catches up at once rather than drifting);
/// sends each message's uid with its rename time.
fn produce(
    staging: &Path,
    inbox: &Path,
    rate: u64,
    seconds: u64,
    out: mpsc::Sender<(String, i64)>,
) -> Result<f64> {
    let total = rate * seconds;
    let start = Instant::now();
    for n in 0..total {
        let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let name = format!("s-{n:08}.json");
        fs::rename(staging.join(&name), inbox.join(&name)).with_context(|| format!("rename {name}"))?;
        let _ = out.send((uid("s", n), micros(SystemTime::now())));
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Rows committed since `after`: (record id, uid, lower-bound commit time).
fn new_rows(conn: &Connection, after: i64) -> Result<Vec<(i64, String, i64)>> {
    let mut st = conn.prepare_cached(
        "SELECT m.record_id, m.uid, m.received, b.duration_ms FROM status_messages m
         JOIN batches b ON b.id = m.batch_id WHERE m.record_id > ?1 ORDER BY m.record_id",
    )?;
    let rows = st.query_map([after], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, f64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, uid, received, duration_ms) = row?;
        let began = chrono::DateTime::parse_from_rfc3339(&received)
            .with_context(|| format!("received {received:?}"))?
            .timestamp_micros();
        out.push((id, uid, began + (duration_ms * 1000.0) as i64));
    }
    Ok(out)
}

pub fn run(
    base: &Path,
    bin: &crate::throughput::Binary,
    flags: &RunFlags,
    rate: u64,
    seconds: u64,
) -> Result<SteadyRun> {
    let root = base.join("steady");
    let staging = base.join("steady-staging");
    for dir in [&root, &staging] {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
    }
    fs::create_dir_all(&root)?;
    pregenerate(&staging, rate * seconds)?;
    let args: Vec<&str> = bin.args.iter().map(String::as_str).collect();
    let mut p = Processor::start(&bin.path, &root, flags, &args)?;
    p.wait_ready()?;
    let conn = Connection::open(root.join("statmgr.db"))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let (tx, renamed_rx) = mpsc::channel();
    let inbox = root.join("inbox");
    let released = staging.clone();
    let producer = std::thread::spawn(move || produce(&released, &inbox, rate, seconds, tx));
    let cpu0 = (p.cpu_time()?, Instant::now());
    let total = rate * seconds;
    let mut renamed: HashMap<String, i64> = HashMap::new();
    let mut upper = Vec::with_capacity(total as usize);
    let mut lower = Vec::with_capacity(total as usize);
    let mut last_id = 0;
    let limit = Instant::now() + Duration::from_secs(seconds + 60);
    let mut pending: Vec<(String, i64, i64)> = Vec::new();
    while upper.len() < total as usize {
        ensure!(
            Instant::now() < limit,
            "steady load: only {} of {total} committed",
            upper.len()
        );
        std::thread::sleep(POLL);
        let rows = new_rows(&conn, last_id)?;
        let seen = micros(SystemTime::now());
        renamed.extend(renamed_rx.try_iter());
        for (id, n, committed_lower) in rows {
            last_id = last_id.max(id);
            pending.push((n, committed_lower, seen));
        }
        // A row can only be matched once its rename time has arrived from the producer.
        pending.retain(|(uid, committed_lower, seen)| match renamed.get(uid) {
            Some(&at) => {
                upper.push((*seen - at) as f64 / 1000.0);
                lower.push((*committed_lower - at) as f64 / 1000.0);
                false
            }
            None => true,
        });
    }
    let cpu1 = (p.cpu_time()?, Instant::now());
    let offered_rate = producer
        .join()
        .map_err(|_| anyhow::anyhow!("the producer thread panicked"))??;
    let peak_rss = p.peak_rss()?;
    p.stop()?;
    fs::remove_dir_all(&root)?;
    fs::remove_dir_all(&staging)?;
    Ok(SteadyRun {
        rate,
        seconds,
        messages: total,
        offered_rate,
        upper_ms: percentiles(&mut upper),
        lower_ms: percentiles(&mut lower),
        cpu_share: (cpu1.0 - cpu0.0).as_secs_f64() / (cpu1.1 - cpu0.1).as_secs_f64(),
        peak_rss,
    })
}

/// p50, p99 and max.
pub fn percentiles(v: &mut [f64]) -> [f64; 3] {
    if v.is_empty() {
        return [f64::NAN; 3];
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    [at(0.5), at(0.99), v[v.len() - 1]]
}
