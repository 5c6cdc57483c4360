//! Backlog throughput: the same files drained by the floor and by `statmgr run`, turn
//! about, from files present in `inbox/` to every message committed and the inbox empty.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::child::{dir_empty, Processor, RunFlags};
use crate::data::{settle_disk, write_inbox};
use crate::floor::{self, FloorRun};

/// One statmgr run, seen from outside.
#[derive(Debug, Clone, Default)]
pub struct StatmgrRun {
    pub elapsed: Duration,
    pub first_commit: Duration,
    pub peak_rss: u64,
    pub cpu: Duration,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub label: String,
    pub messages: u64,
    pub files: u64,
    pub floor: Vec<FloorRun>,
    /// The runs of each binary, in the order given.
    pub statmgr: Vec<Vec<StatmgrRun>>,
}

/// A statmgr binary under test, with the name the report gives it.
#[derive(Debug, Clone)]
pub struct Binary {
    pub name: String,
    pub path: std::path::PathBuf,
    /// Extra `statmgr run` arguments for this binary.
    pub args: Vec<String>,
}

/// Runs the floor and each binary `repeat` times on `messages` messages in files of
/// `per_file`, rotating which goes first so that drift favours none. With `prefill`, each
/// run starts from a copy of that database (its path and row count).
#[allow(clippy::too_many_arguments)]
pub fn run(
    base: &Path,
    bins: &[Binary],
    flags: &RunFlags,
    label: &str,
    messages: u64,
    per_file: u64,
    repeat: usize,
    prefill: Option<(&Path, u64)>,
) -> Result<Case> {
    let mut case = Case {
        label: label.to_string(),
        messages,
        files: messages.div_ceil(per_file),
        floor: Vec::new(),
        statmgr: vec![Vec::new(); bins.len()],
    };
    let turns = bins.len() + 1;
    for round in 0..repeat {
        for turn in (0..turns).map(|t| (t + round) % turns) {
            if turn == bins.len() {
                let f = floor_once(base, flags, messages, per_file, prefill)?;
                eprintln!(
                    "  {label} round {}: floor {:.2} s ({:.0} msg/s)",
                    round + 1,
                    f.elapsed.as_secs_f64(),
                    messages as f64 / f.elapsed.as_secs_f64()
                );
                case.floor.push(f);
            } else {
                let s = statmgr_once(base, &bins[turn], flags, messages, per_file, prefill)?;
                eprintln!(
                    "  {label} round {}: {} {:.2} s ({:.0} msg/s), peak RSS {:.1} MiB",
                    round + 1,
                    bins[turn].name,
                    s.elapsed.as_secs_f64(),
                    messages as f64 / s.elapsed.as_secs_f64(),
                    s.peak_rss as f64 / (1 << 20) as f64
                );
                case.statmgr[turn].push(s);
            }
        }
    }
    Ok(case)
}

fn fresh(base: &Path, name: &str) -> Result<std::path::PathBuf> {
    let root = base.join(name);
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("remove {}", root.display()))?;
    }
    fs::create_dir_all(&root)?;
    Ok(root)
}

/// A fresh state directory with the inbox filled (and the pre-filled database copied in).
fn prepare(
    base: &Path,
    name: &str,
    messages: u64,
    per_file: u64,
    prefill: Option<(&Path, u64)>,
) -> Result<std::path::PathBuf> {
    let root = fresh(base, name)?;
    if let Some((db, _)) = prefill {
        crate::prefill::install(db, &root)?;
    }
    write_inbox(&root.join("inbox"), "m", messages, per_file)?;
    Ok(root)
}

fn floor_once(
    base: &Path,
    flags: &RunFlags,
    messages: u64,
    per_file: u64,
    prefill: Option<(&Path, u64)>,
) -> Result<FloorRun> {
    let root = prepare(base, "floor", messages, per_file, prefill)?;
    settle_disk();
    let run = floor::run(&root, flags.batch_size)?;
    ensure!(
        run.messages == messages,
        "the floor committed {} of {messages} messages",
        run.messages
    );
    ensure!(
        dir_empty(&root.join("inbox"))?,
        "the floor left files in its inbox"
    );
    fs::remove_dir_all(&root)?;
    Ok(run)
}

fn statmgr_once(
    base: &Path,
    bin: &Binary,
    flags: &RunFlags,
    messages: u64,
    per_file: u64,
    prefill: Option<(&Path, u64)>,
) -> Result<StatmgrRun> {
    let root = prepare(base, "statmgr", messages, per_file, prefill)?;
    settle_disk();
    let inbox = root.join("inbox");
    let args: Vec<&str> = bin.args.iter().map(String::as_str).collect();
    let mut p = Processor::start(&bin.path, &root, flags, &args)?;
    let limit = Duration::from_secs(600);
    let poll = Duration::from_millis(10);
    let first_commit = p.wait_until(poll, limit, "the first commit", |_, c| Ok(c.batches > 0))?;
    let elapsed = p.wait_until(
        poll,
        limit,
        "every message committed and the inbox empty",
        |_, c| Ok(c.messages >= messages && dir_empty(&inbox)?),
    )?;
    let run = StatmgrRun {
        elapsed,
        first_commit,
        peak_rss: p.peak_rss()?,
        cpu: p.cpu_time()?,
    };
    let committed = p.committed()?.messages;
    p.stop()?;
    ensure!(
        committed == messages,
        "statmgr committed {committed} of {messages} messages"
    );
    let rows = crate::count_rows(&root)?;
    let before = prefill.map_or(0, |(_, rows)| rows);
    ensure!(
        rows == before + messages,
        "statmgr stored {} rows for {messages} messages",
        rows as i64 - before as i64
    );
    fs::remove_dir_all(&root)?;
    Ok(run)
}
