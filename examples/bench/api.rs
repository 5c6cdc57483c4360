//! The API and console figures, driven by the benchmark (they were measured by hand):
//! snapshot pages with 100,000 retry files (default, sorted, filtered deep page), grouping
//! 100,000 stuck files of 50 causes, a console frame (the real view code on a TestBackend),
//! and a bulk requeue of 100,000 stuck files under a steady inbox load: its time, every
//! message committed afterwards, the committer's inbox batch durations during it against
//! idle, console frames during it, and the processor's peak RSS.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use statmgr::api::client::{Client, Target};
use statmgr::api::query::{file_query_pairs, STUCK_PREFIX};
use statmgr::api::wire::{BulkAction, BulkRequest, BulkSelection, BulkSource, FileQuery, SortKey};
use statmgr::processor::retry_file::{encode, ms_since_epoch, RetryHeader};
use statmgr::tui::action::{Action, ApiUpdate};
use statmgr::tui::keymap::Key;
use statmgr::tui::state::State;

use crate::child::{Processor, RunFlags};
use crate::data;

#[derive(Debug, Default)]
pub struct ApiRun {
    pub files: u64,
    /// (request, median ms, samples)
    pub requests: Vec<(String, f64, usize)>,
    pub frame_idle_ms: (f64, f64),
    /// The stuck list's cause view (50 causes of 100,000 files), fresh snapshot and
    /// groups each frame: (median, max).
    pub frame_causes_ms: (f64, f64),
    pub causes: usize,
    pub bulk_files: u64,
    pub preview_s: f64,
    pub action_s: f64,
    pub action_done: u64,
    pub committed_after_s: Option<f64>,
    pub batch_p99_idle_ms: f64,
    pub batch_p99_during_ms: f64,
    pub batches_idle: usize,
    pub batches_during: usize,
    pub frame_during_ms: (f64, f64),
    pub frames_during: usize,
    pub peak_rss: u64,
}

fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// `files` one-message files of retry format in `dir`: `attempts` failed attempts, errors
/// from `error(i)`, due in an hour.
fn write_files(dir: &Path, files: u64, attempts: u32, error: impl Fn(u64) -> String) -> Result<()> {
    fs::create_dir_all(dir)?;
    let now = SystemTime::now();
    for i in 0..files {
        let msgs = data::messages("api", i, 1)?;
        let e = error(i);
        let mut header = RetryHeader::new(1, &e, now);
        for _ in 0..attempts {
            header.failed(&e, now);
        }
        header.next_attempt_ms = ms_since_epoch(now) + 3_600_000;
        let path = dir.join(format!("20261127T100000.000-{i:06}-1.batch"));
        fs::File::create(&path)?.write_all(&encode(&header, &msgs))?;
    }
    data::settle_disk();
    Ok(())
}

/// Median time of `n` requests of `path?query` (ms).
async fn time_get(http: &reqwest::Client, url: &str, pairs: &[(String, String)], n: usize) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let r = http.get(url).query(pairs).send().await?;
        anyhow::ensure!(r.status().is_success(), "{url}: HTTP {}", r.status());
        r.bytes().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(quantile(times, 0.5))
}

/// The terminal size the frames are drawn at (a large terminal: more rows, more cells).
const FRAME_SIZE: (u16, u16) = (250, 80);

/// A console state fed like the API task feeds it, and the time of one whole frame.
struct Frames {
    state: State,
    theme: statmgr::tui::Theme,
    terminal: ratatui::Terminal<ratatui::backend::TestBackend>,
    now: f64,
}

impl Frames {
    fn new(endpoint: &str) -> Frames {
        let mut state = State::new(endpoint, false);
        statmgr::tui::reduce::reduce(
            &mut state,
            Action::Resize {
                width: FRAME_SIZE.0,
                height: FRAME_SIZE.1,
            },
            0.0,
        );
        let connected = ApiUpdate::Connected {
            endpoint: endpoint.into(),
        };
        statmgr::tui::reduce::reduce(&mut state, Action::Api(connected), 0.0);
        Frames {
            state,
            theme: statmgr::tui::Theme::builtin("default").expect("the default theme"),
            terminal: ratatui::Terminal::new(ratatui::backend::TestBackend::new(FRAME_SIZE.0, FRAME_SIZE.1))
                .expect("backend"),
            now: 0.0,
        }
    }

    /// Feeds a fresh snapshot, then draws: the time of the draw (ms).
    async fn frame(&mut self, client: &Client) -> Result<f64> {
        let (retry, stuck, discarded) = self.state.all_queries();
        let snapshot = client.snapshot_with(&retry, &stuck, &discarded).await?;
        self.now += 1.0;
        let update = ApiUpdate::Snapshot {
            snapshot: Box::new(snapshot),
            retry_query: retry,
            stuck_query: stuck,
            discarded_query: discarded,
        };
        let commands = statmgr::tui::reduce::reduce(&mut self.state, Action::Api(update), self.now);
        // The cause view asks for its groups with each snapshot: answer as the API task would.
        for command in commands {
            if let statmgr::tui::action::Command::FetchCauses { kind, filter } = command {
                let list = client
                    .causes(kind, filter.as_deref())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let update = ApiUpdate::Causes {
                    kind,
                    result: Ok(Box::new(list)),
                };
                statmgr::tui::reduce::reduce(&mut self.state, Action::Api(update), self.now);
            }
        }
        let t = Instant::now();
        let (state, theme) = (&self.state, &self.theme);
        self.terminal
            .draw(|f| statmgr::tui::view::draw(state, theme, f))?;
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    }
}

/// Inbox batch durations (ms) committed in the window of batch ids `(after, upto]`.
fn inbox_batch_ms(root: &Path, after: i64) -> Result<(Vec<f64>, i64)> {
    let conn = rusqlite::Connection::open(root.join("statmgr.db"))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut st =
        conn.prepare("SELECT id, duration_ms FROM batches WHERE id > ?1 AND source = 'inbox' ORDER BY id")?;
    let mut last = after;
    let mut out = Vec::new();
    for row in st.query_map([after], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)))? {
        let (id, ms) = row?;
        last = last.max(id);
        out.push(ms);
    }
    let max_id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM batches", [], |r| r.get(0))?;
    Ok((out, last.max(max_id)))
}

/// One-message files into `inbox/` at `rate` a second until `stop`.
fn producer(
    inbox: std::path::PathBuf,
    rate: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let line = data::message_line("steady", n);
            let tmp = inbox.join(format!(".tmp-s{n}"));
            if fs::write(&tmp, line.as_bytes()).is_ok() {
                let _ = fs::rename(&tmp, inbox.join(format!("s{n:08}.json")));
            }
            n += 1;
            sent.store(n, Ordering::Relaxed);
        }
    })
}

pub fn run(dir: &Path, bin: &Path, flags: &RunFlags, files: u64, quick: bool) -> Result<ApiRun> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut r = ApiRun {
        files,
        ..ApiRun::default()
    };
    let samples = if quick { 5 } else { 20 };

    // 1. Snapshot pages and a console frame with `files` retry files.
    eprintln!("  api: {files} retry files...");
    let root = dir.join("api-retry");
    write_files(&root.join("retry"), files, 1, |i| {
        if i % 2 == 0 {
            "database is locked".to_string()
        } else {
            "disk I/O error while writing the WAL".to_string()
        }
    })?;
    let mut p = Processor::start(bin, &root, flags, &[])?;
    p.wait_ready()?;
    p.wait_until(
        Duration::from_millis(100),
        Duration::from_secs(120),
        "every retry file loaded",
        |_, _| Ok(status_total(&root).is_some_and(|n| n == files)),
    )?;
    let target = Target::from_root(&root, true).map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = format!("{}/api/v1/snapshot", target.url);
    let http = reqwest::Client::builder().no_proxy().build()?;
    let deep = (files * 2 / 5).to_string();
    let cases: Vec<(String, Vec<(String, String)>)> = vec![
        (
            "`GET /api/v1/snapshot` (first page of 100, name order)".into(),
            Vec::new(),
        ),
        (
            "`GET /api/v1/snapshot?sort=attempts&desc=true`".into(),
            file_query_pairs(
                "",
                &FileQuery {
                    sort: SortKey::Attempts,
                    desc: true,
                    ..FileQuery::default()
                },
            ),
        ),
        (
            format!("`GET /api/v1/snapshot?filter=locked&offset={deep}&limit=40`"),
            vec![
                ("filter".into(), "locked".into()),
                ("offset".into(), deep.clone()),
                ("limit".into(), "40".into()),
            ],
        ),
    ];
    let client = Client::new(target.clone(), Duration::from_secs(600));
    r.requests = rt.block_on(async {
        let mut out = Vec::new();
        for (label, pairs) in &cases {
            out.push((
                label.clone(),
                time_get(&http, &url, pairs, samples).await?,
                samples,
            ));
        }
        let mut frames = Frames::new(&target.url);
        let mut times = Vec::new();
        for _ in 0..samples {
            times.push(frames.frame(&client).await?);
        }
        r.frame_idle_ms = (quantile(times.clone(), 0.5), quantile(times, 1.0));
        anyhow::Ok(out)
    })?;
    p.stop()?;

    // 2. Grouping and a bulk requeue of `files` stuck files with 50 causes, under load.
    eprintln!("  api: {files} stuck files of 50 causes...");
    let root = dir.join("api-stuck");
    let site = |c: u64| {
        format!(
            "{}{}",
            (b'A' + (c / 26) as u8) as char,
            (b'A' + (c % 26) as u8) as char
        )
    };
    write_files(&root.join("stuck"), files, 20, |i| {
        format!(
            "message uid \"api-{i}\" (record id {}): rejected by a database trigger: site {} closed",
            i + 1000,
            site(i % 50)
        )
    })?;
    fs::create_dir_all(root.join("inbox"))?;
    let mut p = Processor::start(bin, &root, flags, &[])?;
    p.wait_ready()?;
    p.wait_until(
        Duration::from_millis(100),
        Duration::from_secs(120),
        "every stuck file loaded",
        |_, _| Ok(stuck_total(&root).is_some_and(|n| n == files)),
    )?;
    let target = Target::from_root(&root, true).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = Client::new(target.clone(), Duration::from_secs(1800));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let rate = if quick { 200 } else { 500 };
    let load = producer(root.join("inbox"), rate, stop.clone(), sent.clone());
    let idle_window = Duration::from_secs(if quick { 2 } else { 8 });
    let result = rt.block_on(async {
        let causes_url = format!("{}/api/v1/causes", target.url);
        let t = time_get(&http, &causes_url, &[("kind".into(), "stuck".into())], samples).await?;
        r.requests.push((
            format!("`GET /api/v1/causes?kind=stuck` ({files} stuck files, 50 causes)"),
            t,
            samples,
        ));
        let list = client
            .causes(BulkSource::Stuck, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        r.causes = list.groups.len();
        let id = list.groups.first().map(|g| g.id.clone()).unwrap_or_default();
        let pairs = file_query_pairs(
            STUCK_PREFIX,
            &FileQuery {
                filter: Some(format!("cause:{id}")),
                ..FileQuery::default()
            },
        );
        let t = time_get(&http, &format!("{}/api/v1/snapshot", target.url), &pairs, samples).await?;
        r.requests.push((
            "`GET /api/v1/snapshot?stuck_filter=cause:ID` (one cause's first page)".into(),
            t,
            samples,
        ));
        // The console's cause view of the stuck list: Tab to it, c, then frames.
        let mut frames = Frames::new(&target.url);
        for key in [Key::Tab, Key::Char('c')] {
            statmgr::tui::reduce::reduce(&mut frames.state, Action::Key(key), 0.0);
        }
        let mut times = Vec::new();
        for _ in 0..samples {
            times.push(frames.frame(&client).await?);
        }
        anyhow::ensure!(
            frames
                .state
                .triage
                .causes
                .as_ref()
                .is_some_and(|c| c.groups.len() == 50),
            "the cause view did not show the 50 causes"
        );
        r.frame_causes_ms = (quantile(times.clone(), 0.5), quantile(times, 1.0));
        // Idle: the steady load only.
        let (_, mark) = inbox_batch_ms(&root, 0)?;
        tokio::time::sleep(idle_window).await;
        let (idle, mark) = inbox_batch_ms(&root, mark)?;
        // The bulk requeue, with console frames drawn beside it.
        let t = Instant::now();
        let selection = BulkSelection {
            action: BulkAction::Requeue,
            source: BulkSource::Stuck,
            names: Vec::new(),
            filter: None,
            cause: None,
            older_than_days: None,
        };
        let preview = client
            .preview(&selection)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        r.preview_s = t.elapsed().as_secs_f64();
        r.bulk_files = preview.files;
        let request = BulkRequest {
            action: preview.action,
            source: preview.source,
            set: preview.set,
            note: None,
        };
        let t = Instant::now();
        let action = {
            let c = client.clone();
            tokio::spawn(async move { c.bulk_action(&request).await })
        };
        let mut frames = Frames::new(&target.url);
        let mut times = Vec::new();
        while !action.is_finished() {
            times.push(frames.frame(&client).await?);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let done = action.await?.map_err(|e| anyhow::anyhow!("{e}"))?;
        r.action_s = t.elapsed().as_secs_f64();
        r.action_done = done.done;
        let (during, _) = inbox_batch_ms(&root, mark)?;
        r.frames_during = times.len();
        r.frame_during_ms = (quantile(times.clone(), 0.5), quantile(times, 1.0));
        r.batches_idle = idle.len();
        r.batches_during = during.len();
        r.batch_p99_idle_ms = quantile(idle, 0.99);
        r.batch_p99_during_ms = quantile(during, 0.99);
        anyhow::Ok(t)
    });
    stop.store(true, Ordering::Relaxed);
    let _ = load.join();
    let started = result?;
    let want = files + sent.load(Ordering::Relaxed);
    let limit = p.started.elapsed() + Duration::from_secs(if quick { 120 } else { 900 });
    let all = p.wait_until(
        Duration::from_millis(200),
        limit,
        "every message committed",
        |_, c| Ok(c.messages >= want),
    );
    r.committed_after_s = all.ok().map(|_| started.elapsed().as_secs_f64());
    r.peak_rss = p.peak_rss()?;
    p.stop()?;
    Ok(r)
}

fn status_total(root: &Path) -> Option<u64> {
    snapshot_json(root).and_then(|v| v["retry"]["total"].as_u64())
}

fn stuck_total(root: &Path) -> Option<u64> {
    snapshot_json(root).and_then(|v| v["stuck"]["total"].as_u64())
}

fn snapshot_json(root: &Path) -> Option<serde_json::Value> {
    let endpoint = fs::read_to_string(root.join("control/endpoint")).ok()?;
    let addr = endpoint.trim().trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        stream,
        "GET /api/v1/snapshot?limit=0&stuck_limit=0 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    std::io::Read::read_to_string(&mut stream, &mut body).ok()?;
    let json = body.split_once("\r\n\r\n")?.1;
    serde_json::from_str(json).ok()
}

/// The Markdown section of the report.
pub fn render(r: &ApiRun) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n### API and console (driven by the benchmark)\n");
    let _ = writeln!(out, "{} retry files (one message each, due in an hour) for the snapshot pages; {} stuck files of {} causes for the grouping and the bulk requeue; loopback HTTP, medians:\n", r.files, r.files, r.causes);
    let _ = writeln!(out, "| request | time | samples |\n|---|---:|---:|");
    for (label, ms, n) in &r.requests {
        let _ = writeln!(out, "| {label} | {ms:.1} ms | {n} |");
    }
    let _ = writeln!(out, "\nOne whole console frame at {}x{} (the real view code on ratatui's TestBackend, fed the snapshot of that processor): median {:.2} ms, max {:.2} ms idle (retry list); the stuck list's cause view (50 causes, groups fetched with each snapshot): median {:.2} ms, max {:.2} ms.\n", FRAME_SIZE.0, FRAME_SIZE.1, r.frame_idle_ms.0, r.frame_idle_ms.1, r.frame_causes_ms.0, r.frame_causes_ms.1);
    let committed = r
        .committed_after_s
        .map(|s| format!("{s:.1} s"))
        .unwrap_or_else(|| "not within the limit".into());
    let _ = writeln!(out, "Bulk requeue of {} stuck files (preview, then the action on exactly that set) under a steady load of one-message inbox files:\n", r.bulk_files);
    let _ = writeln!(out, "| figure | value |\n|---|---:|");
    let _ = writeln!(
        out,
        "| preview (the exact set, {} files) | {:.2} s |",
        r.bulk_files, r.preview_s
    );
    let _ = writeln!(
        out,
        "| the action, until its result | {:.1} s ({} moved) |",
        r.action_s, r.action_done
    );
    let _ = writeln!(
        out,
        "| every message committed (requeued files and the load), from the action's start | {committed} |"
    );
    let _ = writeln!(
        out,
        "| committer p99 inbox batch duration, idle ({} batches) | {:.1} ms |",
        r.batches_idle, r.batch_p99_idle_ms
    );
    let _ = writeln!(
        out,
        "| committer p99 inbox batch duration, during the action ({} batches) | {:.1} ms |",
        r.batches_during, r.batch_p99_during_ms
    );
    let _ = writeln!(
        out,
        "| console frame during the action ({} frames) | median {:.2} ms, max {:.2} ms |",
        r.frames_during, r.frame_during_ms.0, r.frame_during_ms.1
    );
    let _ = writeln!(
        out,
        "| processor peak RSS (whole run) | {:.1} MiB |",
        r.peak_rss as f64 / 1048576.0
    );
    let ratio = r.batch_p99_during_ms / r.batch_p99_idle_ms;
    let _ = writeln!(out, "\nTargets: filtered deep page < 20 ms; grouping < 50 ms; action < 60 s; p99 batch during < 2x idle ({ratio:.2}x); frame < 16 ms; RSS < 150 MiB.");
    out
}
