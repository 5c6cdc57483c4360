//! The floor: the simplest correct single-threaded loop a user would write instead of
//! statmgr, on the same SQLite settings, schema, parser and batch size; and the raw rates
//! of the file operations it is made of.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::{params, Connection, TransactionBehavior};
use statmgr::config::Limits;
use statmgr::message::{parse_file, FileFormat, Message};
use statmgr::processor::sqlite::SqliteStore;

/// What one floor run did and where its time went.
#[derive(Debug, Clone, Default)]
pub struct FloorRun {
    pub messages: u64,
    pub elapsed: Duration,
    pub list: Duration,
    pub read_parse: Duration,
    pub commit: Duration,
    pub unlink: Duration,
}

const INSERT_MESSAGE: &str = "INSERT INTO status_messages (record_id, uid, message_id, severity, component,
     machine, site, time, module, report_type, process_id, thread_id, win32_error, received, batch_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0)
     ON CONFLICT (uid) DO NOTHING";
const INSERT_INSSTR: &str = "INSERT INTO status_message_insstrs (record_id, idx, value) VALUES (?1, ?2, ?3)";
const INSERT_ATTRIBUTE: &str =
    "INSERT INTO status_message_attributes (record_id, attribute_id, value) VALUES (?1, ?2, ?3)";

/// Processes every file in `root/inbox`: read and parse it, insert its messages in
/// transactions of `batch_size` messages, and unlink the files of a batch once it is
/// committed (so a crash loses nothing; a re-read file's uids are skipped).
pub fn run(root: &Path, batch_size: usize) -> Result<FloorRun> {
    let db = root.join("statmgr.db");
    // statmgr's own schema, so both write the same tables and indexes.
    drop(SqliteStore::open(&db, Duration::from_secs(5)).context("create the floor's database")?);
    let mut conn = Connection::open(&db).context("open the floor's database")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let started = Instant::now();
    let mut out = FloorRun::default();
    let inbox = root.join("inbox");
    let mut names: Vec<String> = fs::read_dir(&inbox)
        .with_context(|| format!("list {}", inbox.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| FileFormat::from_name(n).is_some())
        .collect();
    names.sort();
    out.list = started.elapsed();
    let limits = Limits::default();
    let mut next_id: i64 = conn.query_row(
        "SELECT COALESCE(MAX(record_id), 0) + 1 FROM status_messages",
        [],
        |r| r.get(0),
    )?;
    let mut batch: Vec<Message> = Vec::with_capacity(batch_size);
    let mut done: Vec<PathBuf> = Vec::new();
    for name in names {
        let t = Instant::now();
        let path = inbox.join(&name);
        let bytes = fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        let format = FileFormat::from_name(&name).context("filtered above")?;
        let parsed = parse_file(format, &bytes, &limits)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.reason))?;
        batch.extend(parsed.messages);
        done.push(path);
        out.read_parse += t.elapsed();
        if batch.len() >= batch_size {
            commit_and_unlink(&mut conn, &mut batch, &mut done, &mut next_id, &mut out)?;
        }
    }
    commit_and_unlink(&mut conn, &mut batch, &mut done, &mut next_id, &mut out)?;
    out.elapsed = started.elapsed();
    Ok(out)
}

fn commit_and_unlink(
    conn: &mut Connection,
    batch: &mut Vec<Message>,
    done: &mut Vec<PathBuf>,
    next_id: &mut i64,
    out: &mut FloorRun,
) -> Result<()> {
    let t = Instant::now();
    if !batch.is_empty() {
        let received = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT_MESSAGE)?;
            let mut insstr = tx.prepare_cached(INSERT_INSSTR)?;
            let mut attribute = tx.prepare_cached(INSERT_ATTRIBUTE)?;
            for m in batch.iter() {
                let id = *next_id;
                *next_id += 1;
                let inserted = insert.execute(params![
                    id,
                    m.uid,
                    m.message_id,
                    m.severity.as_str(),
                    m.component,
                    m.machine,
                    m.site,
                    m.time,
                    m.module,
                    m.report_type,
                    m.process_id,
                    m.thread_id,
                    m.win32_error,
                    received,
                ])?;
                if inserted == 0 {
                    continue; // already stored by an earlier run
                }
                for (idx, value) in (0i64..).zip(&m.insertion_strings) {
                    insstr.execute(params![id, idx, value])?;
                }
                for (attribute_id, value) in &m.attributes {
                    attribute.execute(params![id, attribute_id, value])?;
                }
            }
        }
        tx.commit()?;
        out.messages += batch.len() as u64;
        batch.clear();
    }
    out.commit += t.elapsed();
    let t = Instant::now();
    for path in done.drain(..) {
        fs::remove_file(&path).with_context(|| format!("unlink {}", path.display()))?;
    }
    out.unlink += t.elapsed();
    Ok(())
}

/// Operations per second of the file-system primitives, on the state directory's file
/// system.
#[derive(Debug, Clone, Default)]
pub struct RawRates {
    pub create: f64,
    pub read: f64,
    pub unlink: f64,
    pub fsync: f64,
    pub parse: f64,
}

/// Creates, reads and unlinks `files` small files in `dir`, fsyncs a growing file for
/// `fsync_for`, and parses `files` messages in memory.
pub fn raw_rates(dir: &Path, files: u64, fsync_for: Duration) -> Result<RawRates> {
    fs::create_dir_all(dir)?;
    let body = crate::data::message_line("raw", 1);
    let paths: Vec<PathBuf> = (0..files).map(|i| dir.join(format!("raw-{i:08}.json"))).collect();
    let rate = |t: Instant, n: u64| n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for p in &paths {
        fs::write(p, body.as_bytes()).with_context(|| format!("create {}", p.display()))?;
    }
    let create = rate(t, files);
    crate::data::settle_disk();
    let t = Instant::now();
    let mut bytes = 0;
    for p in &paths {
        bytes += fs::read(p)
            .with_context(|| format!("read {}", p.display()))?
            .len();
    }
    let read = rate(t, files);
    anyhow::ensure!(bytes > 0, "read nothing");
    let limits = Limits::default();
    let t = Instant::now();
    for _ in 0..files {
        parse_file(FileFormat::Json, body.as_bytes(), &limits).map_err(|e| anyhow::anyhow!("parse: {e}"))?;
    }
    let parse = rate(t, files);
    let t = Instant::now();
    for p in &paths {
        fs::remove_file(p).with_context(|| format!("unlink {}", p.display()))?;
    }
    let unlink = rate(t, files);
    // A WAL-like pattern: append a page, fdatasync, as a SQLite commit does.
    let wal = dir.join("raw-fsync");
    let mut f = fs::File::create(&wal)?;
    let page = [7u8; 4096];
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < fsync_for {
        f.write_all(&page)?;
        f.sync_data()?;
        n += 1;
    }
    let fsync = rate(t, n);
    drop(f);
    fs::remove_file(&wal)?;
    Ok(RawRates {
        create,
        read,
        unlink,
        fsync,
        parse,
    })
}
