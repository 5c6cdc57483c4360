//! The benchmark's report: one Markdown document with the machine, the command, every
//! figure, the ratios against the floor and whether each target is met.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::backlog::{BacklogRun, RetryScaling};
use crate::floor::RawRates;
use crate::steady::SteadyRun;
use crate::throughput::Case;

#[derive(Debug, Default)]
pub struct Results {
    pub raw: Option<RawRates>,
    pub cases: Vec<Case>,
    /// Per binary (its name first).
    pub steady: Vec<(String, SteadyRun)>,
    pub backlog: Vec<(String, BacklogRun)>,
    pub ticks: Vec<(usize, usize, f64)>,
    pub scaling: Vec<RetryScaling>,
}

pub struct Setup {
    /// Names of the binaries measured; the first is the one the targets are about.
    pub binaries: Vec<String>,
    pub command: String,
    pub batch_size: usize,
    pub batch_age_ms: u64,
    pub repeat: usize,
    pub uids: &'static str,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// 1234567.8 -> "1,234,568"
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

pub fn machine(dir: &Path) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    format!(
        "{cpu}, {cores} cores, Linux {}, state directory on {} (load average at start: {load})",
        kernel.trim(),
        fs_type(dir)
    )
}

fn fs_type(dir: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return "an unknown file system".into();
    };
    // SAFETY: statfs writes into the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "an unknown file system".into();
    }
    match st.f_type as u64 {
        0xEF53 => "ext4".into(),
        0x0102_1994 => "tmpfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794C_7630 => "overlayfs".into(),
        other => format!("file system type {other:#x}"),
    }
}

pub fn render(setup: &Setup, r: &Results, machine: &str) -> String {
    let mut o = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let _ = writeln!(o, "## Results\n");
    let _ = writeln!(
        o,
        "- date: {date}\n- machine: {machine}\n- command: `{}`",
        setup.command
    );
    let _ = writeln!(
        o,
        "- settings (floor and statmgr alike): batch size {}, batch age {} ms, SQLite WAL with \
         synchronous=FULL; uids {}; statmgr runs as the release binary, one child process per run; \
         medians of {} runs\n",
        setup.batch_size, setup.batch_age_ms, setup.uids, setup.repeat
    );
    raw_section(&mut o, r);
    throughput_section(&mut o, r, &setup.binaries);
    steady_section(&mut o, r, setup);
    backlog_section(&mut o, r);
    targets_section(&mut o, r, setup);
    o
}

fn raw_section(o: &mut String, r: &Results) {
    let Some(raw) = &r.raw else { return };
    let _ = writeln!(o, "### Raw rates on the state directory's file system\n");
    let _ = writeln!(o, "| operation | per second |\n|---|---:|");
    for (what, v) in [
        ("create a 420-byte file (open, write, close)", raw.create),
        ("read a file (open, read, close)", raw.read),
        ("parse and validate one message (statmgr's parser)", raw.parse),
        ("unlink a file", raw.unlink),
        ("append 4 KiB + fdatasync (a WAL commit's fsync)", raw.fsync),
    ] {
        let _ = writeln!(o, "| {what} | {} |", thousands(v));
    }
    let _ = writeln!(o);
}

fn throughput_section(o: &mut String, r: &Results, names: &[String]) {
    if r.cases.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "### Backlog throughput: files present in `inbox/` until all committed and the inbox empty\n"
    );
    let _ = writeln!(
        o,
        "| case | files | floor msg/s | binary | msg/s | ratio to floor | floor time | time | first commit | CPU | peak RSS |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in &r.cases {
        let f = median(c.floor.iter().map(|x| x.elapsed.as_secs_f64()).collect());
        for (name, runs) in names.iter().zip(&c.statmgr) {
            let s = median(runs.iter().map(|x| x.elapsed.as_secs_f64()).collect());
            let first = median(runs.iter().map(|x| x.first_commit.as_secs_f64()).collect());
            let cpu = median(runs.iter().map(|x| x.cpu.as_secs_f64()).collect());
            let rss = runs.iter().map(|x| x.peak_rss).max().unwrap_or(0);
            let _ = writeln!(
                o,
                "| {} | {} | {} | {name} | {} | **{:.2}x** | {f:.2} s | {s:.2} s | {first:.2} s | {cpu:.2} s | {} |",
                c.label,
                thousands(c.files as f64),
                thousands(c.messages as f64 / f),
                thousands(c.messages as f64 / s),
                f / s,
                mib(rss)
            );
        }
    }
    let _ = writeln!(o, "\nEvery run, in seconds (floor; then each binary):\n");
    for c in &r.cases {
        let list = |v: Vec<f64>| v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ");
        let mut line = format!(
            "- {}: floor {}",
            c.label,
            list(c.floor.iter().map(|x| x.elapsed.as_secs_f64()).collect())
        );
        for (name, runs) in names.iter().zip(&c.statmgr) {
            line += &format!(
                "; {name} {}",
                list(runs.iter().map(|x| x.elapsed.as_secs_f64()).collect())
            );
        }
        let _ = writeln!(o, "{line}");
    }
    let _ = writeln!(o, "\nWhere the floor's time goes (median of each part):\n");
    let _ = writeln!(
        o,
        "| case | list | read + parse | commit | unlink |\n|---|---:|---:|---:|---:|"
    );
    for c in &r.cases {
        let m = |f: &dyn Fn(&crate::floor::FloorRun) -> Duration| {
            median(c.floor.iter().map(|x| f(x).as_secs_f64()).collect())
        };
        let _ = writeln!(
            o,
            "| {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
            c.label,
            m(&|x| x.list),
            m(&|x| x.read_parse),
            m(&|x| x.commit),
            m(&|x| x.unlink)
        );
    }
    let _ = writeln!(o);
}

fn steady_section(o: &mut String, r: &Results, setup: &Setup) {
    let Some((_, first)) = r.steady.first() else {
        return;
    };
    let _ = writeln!(
        o,
        "### Steady load: {} one-message files per second for {} s ({} messages)\n",
        first.rate, first.seconds, first.messages
    );
    let _ = writeln!(
        o,
        "Latency from the file's rename into `inbox/` to its row being committed. *Observed*: \
         seen by polling the database every 5 ms (an upper bound). *Database*: the row's \
         `received` plus its batch's stored duration (a lower bound: it misses the COMMIT).\n"
    );
    let _ = writeln!(
        o,
        "| binary | observed p50 | p99 | max | database p50 | p99 | max | producer files/s | CPU | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (name, s) in &r.steady {
        let _ = writeln!(
            o,
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} | {:.0} % of a core | {} |",
            s.upper_ms[0],
            s.upper_ms[1],
            s.upper_ms[2],
            s.lower_ms[0],
            s.lower_ms[1],
            s.lower_ms[2],
            s.offered_rate,
            s.cpu_share * 100.0,
            mib(s.peak_rss)
        );
    }
    let _ = writeln!(
        o,
        "\nTarget: p99 <= batch age + 50 ms = {} ms.\n",
        setup.batch_age_ms + 50
    );
}

fn backlog_section(o: &mut String, r: &Results) {
    if let Some((_, b)) = r.backlog.first() {
        let _ = writeln!(
            o,
            "### Start with a backlog: {} one-message files in `inbox/`, {} files of {} messages in `retry/` (all due)\n",
            thousands(b.inbox_files as f64),
            thousands(b.retry_files as f64),
            crate::backlog::RETRY_FILE_MESSAGES
        );
        let _ = writeln!(
            o,
            "| binary | first commit | first inbox commit | inbox empty | everything committed | peak RSS |\n|---|---:|---:|---:|---:|---:|"
        );
    }
    for (name, b) in &r.backlog {
        let _ = writeln!(
            o,
            "| {name} | {} | {} | {} | {} | {} |",
            secs(b.first_commit),
            secs(b.first_inbox_commit),
            secs(b.inbox_empty),
            b.all_done.map_or("not within the limit".into(), secs),
            mib(b.peak_rss)
        );
    }
    if !r.backlog.is_empty() {
        let _ = writeln!(o);
    }
    if !r.ticks.is_empty() {
        let _ = writeln!(
            o,
            "Retry schedule tick (take every due file, find the next due time), in-process, median:\n"
        );
        let _ = writeln!(o, "| files present | files due | tick |\n|---:|---:|---:|");
        for (present, due, us) in &r.ticks {
            let _ = writeln!(
                o,
                "| {} | {} | {us:.1} µs |",
                thousands(*present as f64),
                thousands(*due as f64)
            );
        }
        let _ = writeln!(o);
    }
    if !r.scaling.is_empty() {
        let _ = writeln!(
            o,
            "The retry worker in the real process (empty inbox; the files not due are due in an hour):\n"
        );
        let _ = writeln!(
            o,
            "| retry files present | due | time per due file | CPU once the due files are done |\n|---:|---:|---:|---:|"
        );
        for s in &r.scaling {
            let _ = writeln!(
                o,
                "| {} | {} | {:.2} ms | {:.1} % of a core |",
                thousands(s.present as f64),
                s.due,
                s.per_due_file.as_secs_f64() * 1000.0,
                s.idle_cpu_share * 100.0
            );
        }
        let _ = writeln!(o);
    }
}

fn targets_section(o: &mut String, r: &Results, setup: &Setup) {
    let _ = writeln!(
        o,
        "### Targets ({})\n\n| target | measured | met |\n|---|---:|:---:|",
        setup.binaries[0]
    );
    for c in &r.cases {
        let f = median(c.floor.iter().map(|x| x.elapsed.as_secs_f64()).collect());
        let s = median(c.statmgr[0].iter().map(|x| x.elapsed.as_secs_f64()).collect());
        let _ = writeln!(
            o,
            "| throughput >= 1.0x floor, {} | {:.2}x | {} |",
            c.label,
            f / s,
            met(f / s >= 1.0)
        );
    }
    if let Some((_, s)) = r.steady.first() {
        let limit = (setup.batch_age_ms + 50) as f64;
        let _ = writeln!(
            o,
            "| steady p99 latency <= {limit:.0} ms | {:.1} ms | {} |",
            s.upper_ms[1],
            met(s.upper_ms[1] <= limit)
        );
    }
    if let Some(c) = r.cases.iter().max_by_key(|c| c.messages) {
        let rss = c.statmgr[0].iter().map(|x| x.peak_rss).max().unwrap_or(0);
        let _ = writeln!(
            o,
            "| peak RSS < 100 MiB, {} | {} | {} |",
            c.label,
            mib(rss),
            met(rss < 100 << 20)
        );
    }
    if let Some((_, b)) = r.backlog.first() {
        let _ = writeln!(
            o,
            "| first commit <= 2 s with the backlog | {} | {} |",
            secs(b.first_commit),
            met(b.first_commit <= Duration::from_secs(2))
        );
    }
    let _ = writeln!(o);
}
