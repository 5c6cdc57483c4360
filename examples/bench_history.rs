//! `cargo run --release --example bench_history`: the console's jump to a time 24 hours back,
//! measured end to end against a real `statmgr run` whose journal holds 24 hours of events
//! (synthesised segments at a realistic rate): the API request for the page of history plus
//! the reducer and a full render of the dashboard (TestBackend, 120x40). Also the 24 h chart
//! (rollups request + render). Prints medians and maxima of `--rounds` rounds.
//!
//! Flags: `--rate EVENTS_PER_S` (default 5: a batch commit every 200 ms all day),
//! `--rounds N` (default 21), `--statmgr PATH` (default target/release/statmgr).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use statmgr::api::client::history::PageAt;
use statmgr::api::client::{Client, Target};
use statmgr::api::wire::{BatchInfo, Event, EventKind, Rollup};
use statmgr::processor::journal::{dir_of, rollup, segment};
use statmgr::tui::action::{Action, ApiUpdate};
use statmgr::tui::reduce::reduce;
use statmgr::tui::state::State;
use statmgr::tui::timeline::PageFor;
use statmgr::tui::{view, Theme};

/// A watch-mode console state on a 120x40 terminal.
fn console_of_120x40() -> State {
    let mut state = State::new("bench", true);
    reduce(
        &mut state,
        Action::Resize {
            width: 120,
            height: 40,
        },
        0.0,
    );
    state
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// 24 h of batch commits (and a warning now and then) at `rate` events a second, in 8 MiB
/// segments, plus a rollup a minute. Returns the number of events.
fn synthesise(root: &Path, rate: f64) -> u64 {
    let dir = dir_of(root);
    std::fs::create_dir_all(&dir).unwrap();
    let end = Utc::now() - chrono::Duration::seconds(5);
    let start = end - chrono::Duration::hours(24);
    let total = (rate * 86_400.0) as u64;
    let step = 86_400_000.0 / total as f64;
    let mut out: Option<(std::io::BufWriter<std::fs::File>, u64)> = None;
    for id in 1..=total {
        let t = start + chrono::Duration::milliseconds((id as f64 * step) as i64);
        let time = t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let kind = if id % 500 == 0 {
            EventKind::Warning {
                message: format!(
                    "inbox file m-{id}.jsonl: line 3: severity \"fatal\" is not info, warning or error"
                ),
            }
        } else {
            EventKind::BatchCommitted {
                batch: BatchInfo {
                    id: id as i64,
                    committed_at: time.clone(),
                    count: 400 + id % 600,
                    duplicates: 0,
                    first_record_id: Some((id * 1000) as i64),
                    last_record_id: Some((id * 1000 + 999) as i64),
                    duration_ms: 8.0 + (id % 37) as f64,
                    source: "inbox".into(),
                    source_file: None,
                },
            }
        };
        let line = serde_json::to_vec(&Event { id, time, kind }).unwrap();
        if out.as_ref().is_none_or(|(_, bytes)| *bytes >= 8 * 1024 * 1024) {
            let f = std::fs::File::create(dir.join(segment::file_name(id))).unwrap();
            out = Some((std::io::BufWriter::new(f), 0));
        }
        let (w, bytes) = out.as_mut().unwrap();
        w.write_all(&line).unwrap();
        w.write_all(b"\n").unwrap();
        *bytes += line.len() as u64 + 1;
    }
    out.unwrap().0.flush().unwrap();
    for m in 0..1440u64 {
        let minute = rollup::minute_of((start + chrono::Duration::minutes(m as i64)).into());
        let r = Rollup {
            minute: rollup::minute_text(minute),
            committed: (rate * 60.0) as u64 * 700,
            batches: (rate * 60.0) as u64,
            latency_p50_ms: 20.0,
            latency_p90_ms: 35.0,
            latency_p99_ms: 44.0,
            latency_max_ms: 45.0,
            inbox_depth: m % 300,
            retry_files: 0,
            stuck_files: 0,
        };
        rollup::append(&dir, &r).unwrap();
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rate: f64 = arg("--rate").map(|r| r.parse().unwrap()).unwrap_or(5.0);
    let rounds: usize = arg("--rounds").map(|r| r.parse().unwrap()).unwrap_or(21);
    let bin = arg("--statmgr")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/statmgr"));
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let t0 = Instant::now();
    let events = synthesise(&root, rate);
    let journal_bytes: u64 = segment::list(&dir_of(&root))
        .unwrap()
        .iter()
        .map(|s| s.bytes)
        .sum();
    eprintln!(
        "synthesised {events} events ({:.0} MiB) in {:.1}s",
        journal_bytes as f64 / 1048576.0,
        t0.elapsed().as_secs_f64()
    );
    let mut child = Command::new(&bin)
        .args(["run", "--root"])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start statmgr run");
    let endpoint = root.join("control/endpoint");
    let t1 = Instant::now();
    while !endpoint.exists() && t1.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(Target::from_root(&root, false).unwrap(), Duration::from_secs(10));
    let theme = Theme::plain();
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();

    let mut jump = |asked: &str| -> f64 {
        let from = statmgr::api::when::stamp(statmgr::api::when::parse_time(asked, Utc::now()).unwrap());
        let started = Instant::now();
        let page = runtime
            .block_on(client.history(&PageAt::Since(from.clone()), statmgr::tui::timeline::PAGE))
            .expect("history page");
        assert!(!page.events.is_empty(), "the journal holds {asked}");
        let mut state = console_of_120x40();
        reduce(
            &mut state,
            Action::Api(ApiUpdate::History {
                purpose: PageFor::Jump {
                    asked: asked.into(),
                    from,
                },
                result: Ok(Box::new(page)),
            }),
            0.0,
        );
        terminal.draw(|f| view::draw(&state, &theme, f)).unwrap();
        started.elapsed().as_secs_f64() * 1000.0
    };
    let mut report = Vec::new();
    for asked in ["-24h", "-12h", "-1h"] {
        let times: Vec<f64> = (0..rounds).map(|_| jump(asked)).collect();
        let max = times.iter().copied().fold(0.0, f64::max);
        report.push(format!(
            "| jump to {asked} (request + reduce + render 120x40) | {:.1} ms | {:.1} ms |",
            median(times),
            max
        ));
    }
    let mut chart = || -> f64 {
        let started = Instant::now();
        let page = runtime.block_on(client.rollups("24h")).expect("rollups");
        let mut state = console_of_120x40();
        reduce(&mut state, Action::Key(statmgr::tui::keymap::Key::Char('w')), 0.0);
        reduce(&mut state, Action::Key(statmgr::tui::keymap::Key::Char('w')), 0.0);
        reduce(
            &mut state,
            Action::Api(ApiUpdate::Rollups {
                window: "24h".into(),
                result: Ok(Box::new(page)),
            }),
            0.0,
        );
        terminal.draw(|f| view::draw(&state, &theme, f)).unwrap();
        started.elapsed().as_secs_f64() * 1000.0
    };
    let times: Vec<f64> = (0..rounds).map(|_| chart()).collect();
    let max = times.iter().copied().fold(0.0, f64::max);
    report.push(format!(
        "| 24 h charts (rollups request + render) | {:.1} ms | {:.1} ms |",
        median(times),
        max
    ));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    println!(
        "journal: {events} events over 24 h at {rate}/s, {:.0} MiB; {rounds} rounds\n",
        journal_bytes as f64 / 1048576.0
    );
    println!("| case | median | max |\n|---|---|---|");
    for line in report {
        println!("{line}");
    }
}
