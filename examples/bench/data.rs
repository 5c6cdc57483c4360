//! The benchmark's message content and how it is laid out on disk: the floor and statmgr
//! read exactly the same bytes, and retry files are written in statmgr's own format.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use anyhow::{Context, Result};
use statmgr::config::Limits;
use statmgr::message::{parse_file, FileFormat, Message};
use statmgr::processor::retry_file::{encode, ms_since_epoch, RetryHeader};

/// `--sequential-uids`: uids `prefix-N` instead of random UUIDs.
static SEQUENTIAL: AtomicBool = AtomicBool::new(false);

pub fn set_sequential_uids(on: bool) {
    SEQUENTIAL.store(on, Ordering::Relaxed);
}

pub fn sequential_uids() -> bool {
    SEQUENTIAL.load(Ordering::Relaxed)
}

/// The uid of message `n` of `prefix`: by default a random-looking UUID v4 in text form
/// (what Windows producers send), derived from `prefix` and `n` so that every run, the
/// floor and statmgr alike, gets the same uids; `prefix-N` with `--sequential-uids`.
pub fn uid(prefix: &str, n: u64) -> String {
    if sequential_uids() {
        return format!("{prefix}-{n}");
    }
    random_uid(prefix, n)
}

/// A UUID v4 (random) in text form, a pure function of `prefix` and `n`.
pub fn random_uid(prefix: &str, n: u64) -> String {
    let mut seed = 0xcbf2_9ce4_8422_2325u64; // FNV-1a of the prefix
    for b in prefix.bytes() {
        seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let hi = splitmix64(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let lo = splitmix64(hi ^ 0x5851_f42d_4c95_7f2d);
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // variant 10
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One message as one JSON line (no newline): a realistic status message with a module,
/// process and thread ids, two insertion strings and two attributes (about 420 bytes).
pub fn message_line(prefix: &str, n: u64) -> String {
    let severity = ["info", "warning", "error"][(n % 3) as usize];
    let (dp, minute, second) = (n % 40, (n / 60) % 60, n % 60);
    format!(
        concat!(
            r#"{{"uid":"{uid}","message_id":{id},"severity":"{severity}","#,
            r#""component":"SMS_DISTRIBUTION_MANAGER","machine":"SITE-SRV{machine:02}","site":"S01","#,
            r#""time":"2026-11-23T10:{minute:02}:{second:02}Z","module":"SMS Server","#,
            r#""process_id":{pid},"thread_id":{tid},"#,
            r#""insertion_strings":["package S01{n:05X} version {version}","distribution point DP{dp:02}"],"#,
            r#""attributes":{{"400":"S01{n:05X}","404":"\\\\DP{dp:02}.corp.example\\SMSPKG$"}}}}"#
        ),
        uid = uid(prefix, n),
        n = n,
        id = 2300 + n % 50,
        severity = severity,
        machine = n % 7,
        minute = minute,
        second = second,
        pid = 4000 + n % 13,
        tid = 100 + n % 97,
        version = n % 9 + 1,
        dp = dp,
    )
}

/// Writes `messages` messages into `inbox` as files of `per_file` messages: `.json`
/// (one object) when `per_file` is 1, JSON Lines otherwise. Names sort in arrival order.
/// Returns the number of files. The processor is not running yet, so files are written
/// in place (a producer would rename them in; that cost is the producer's).
pub fn write_inbox(inbox: &Path, prefix: &str, messages: u64, per_file: u64) -> Result<u64> {
    fs::create_dir_all(inbox).with_context(|| format!("create {}", inbox.display()))?;
    let ext = if per_file == 1 { "json" } else { "jsonl" };
    let mut files = 0;
    let mut next = 0;
    let mut body = String::new();
    while next < messages {
        body.clear();
        let end = (next + per_file).min(messages);
        for n in next..end {
            body.push_str(&message_line(prefix, n));
            body.push('\n');
        }
        let path = inbox.join(format!("{prefix}-{files:08}.{ext}"));
        fs::write(&path, body.as_bytes()).with_context(|| format!("write {}", path.display()))?;
        files += 1;
        next = end;
    }
    Ok(files)
}

/// The messages `[first, first + count)` of `prefix`, parsed by statmgr's own parser.
pub fn messages(prefix: &str, first: u64, count: u64) -> Result<Vec<Message>> {
    let limits = Limits::default();
    (first..first + count)
        .map(|n| {
            let line = message_line(prefix, n);
            let mut parsed = parse_file(FileFormat::Json, line.as_bytes(), &limits)
                .map_err(|e| anyhow::anyhow!("benchmark message {n} is invalid: {e}"))?;
            parsed
                .messages
                .pop()
                .context("benchmark message parsed to nothing")
        })
        .collect()
}

/// Writes `files` retry files of `per_file` messages each into `retry`, in statmgr's
/// retry-file format (one failed attempt behind them). `due_in_s` is when their next
/// attempt is due: 0 for now. Returns the number of messages written.
pub fn write_retry_files(
    retry: &Path,
    prefix: &str,
    files: u64,
    per_file: u64,
    due_in_s: u64,
) -> Result<u64> {
    fs::create_dir_all(retry).with_context(|| format!("create {}", retry.display()))?;
    let now = SystemTime::now();
    for i in 0..files {
        let msgs = messages(prefix, i * per_file, per_file)?;
        let mut header = RetryHeader::new(per_file, "database is locked", now);
        header.failed("database is locked", now);
        header.next_attempt_ms = if due_in_s == 0 {
            0
        } else {
            ms_since_epoch(now) + due_in_s * 1000
        };
        // The shape of the names the processor gives its own retry files.
        let name = format!("20261123T100000.000-{i:06}-1.batch");
        let path = retry.join(&name);
        let mut f = fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
        f.write_all(&encode(&header, &msgs))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(files * per_file)
}

/// Flushes every dirty page to disk, so that the write-back of generated files does not
/// land in the middle of a timed phase (the files stay in the page cache).
pub fn settle_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}
