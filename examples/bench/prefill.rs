//! A database that has run for months: `rows` messages with random (UUID v4) uids, built
//! once straight through rusqlite with statmgr's own schema and kept in a cache directory,
//! then copied for every run so that statmgr and the floor start from the same file.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use rusqlite::{params, Connection};
use statmgr::processor::sqlite::SqliteStore;

use crate::data::random_uid;

/// Rows per transaction while building (the build is not durable until its last commit).
const CHUNK: u64 = 100_000;

/// The cached database of `rows` rows in `cache`, built first if it is not there yet.
pub fn cached(cache: &Path, rows: u64) -> Result<PathBuf> {
    fs::create_dir_all(cache).with_context(|| format!("create {}", cache.display()))?;
    // The version in the name changes whenever what is built here changes.
    let path = cache.join(format!("prefill-v1-{rows}.db"));
    if path.exists() {
        return Ok(path);
    }
    let building = cache.join(format!("prefill-v1-{rows}.db.building"));
    remove_db(&building)?;
    eprintln!(
        "building a database of {rows} random-uid rows in {} (cached for later runs)...",
        cache.display()
    );
    let t = Instant::now();
    build(&building, rows)?;
    fs::rename(&building, &path).with_context(|| format!("rename {}", building.display()))?;
    eprintln!("  built in {:.0} s", t.elapsed().as_secs_f64());
    Ok(path)
}

/// Copies the cached database to `root/statmgr.db`.
pub fn install(cached: &Path, root: &Path) -> Result<()> {
    let db = root.join("statmgr.db");
    fs::copy(cached, &db).with_context(|| format!("copy {} to {}", cached.display(), db.display()))?;
    Ok(())
}

fn remove_db(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match fs::remove_file(PathBuf::from(p)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// Rows `1..=rows` in record-id order (as statmgr writes them), each with a random uid
/// (`random_uid("pre", n)`, never one the benchmark's messages use), two insertion strings
/// and two attributes, like the benchmark's messages. The uid index therefore grows by
/// random inserts, as it does in production. No `batches` rows, so that a run's
/// `batches` table counts only what the run committed.
fn build(path: &Path, rows: u64) -> Result<()> {
    drop(SqliteStore::open(path, Duration::from_secs(5)).context("create the schema")?);
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -2_000_000i64)?; // 2 GB: the build is a one-off
    conn.pragma_update(None, "wal_autocheckpoint", 0i64)?;
    let mut n = 1u64;
    while n <= rows {
        let end = (n + CHUNK).min(rows + 1);
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO status_messages (record_id, uid, message_id, severity, component,
                 machine, site, time, module, report_type, process_id, thread_id, win32_error,
                 received, batch_id)
                 VALUES (?1, ?2, ?3, ?4, 'SMS_DISTRIBUTION_MANAGER', ?5, 'S01', ?6, 'SMS Server',
                 NULL, ?7, ?8, NULL, '2026-08-01T00:00:00.000000Z', 0)",
            )?;
            let mut insstr = tx.prepare_cached(
                "INSERT INTO status_message_insstrs (record_id, idx, value) VALUES (?1, ?2, ?3)",
            )?;
            let mut attribute = tx.prepare_cached(
                "INSERT INTO status_message_attributes (record_id, attribute_id, value) VALUES (?1, ?2, ?3)",
            )?;
            for i in n..end {
                let id = i as i64;
                let dp = i % 40;
                insert.execute(params![
                    id,
                    random_uid("pre", i),
                    (2300 + i % 50) as i64,
                    ["info", "warning", "error"][(i % 3) as usize],
                    format!("SITE-SRV{:02}", i % 7),
                    format!("2026-08-01T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
                    (4000 + i % 13) as i64,
                    (100 + i % 97) as i64,
                ])?;
                insstr.execute(params![
                    id,
                    0i64,
                    format!("package S01{i:05X} version {}", i % 9 + 1)
                ])?;
                insstr.execute(params![id, 1i64, format!("distribution point DP{dp:02}")])?;
                attribute.execute(params![id, 400i64, format!("S01{i:05X}")])?;
                attribute.execute(params![
                    id,
                    404i64,
                    format!("\\\\DP{dp:02}.corp.example\\SMSPKG$")
                ])?;
            }
        }
        tx.commit()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        n = end;
    }
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM status_messages", [], |r| r.get(0))?;
    ensure!(count as u64 == rows, "built {count} rows, wanted {rows}");
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    // The WAL is empty; leave only the database file.
    remove_db_sidecars(path)
}

fn remove_db_sidecars(path: &Path) -> Result<()> {
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match fs::remove_file(PathBuf::from(p)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}
