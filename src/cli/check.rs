//! `statmgr check`: a monitoring plugin in the Nagios/Icinga convention. One status line,
//! `STATMGR OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata`, and the exit code 0, 1, 2
//! or 3. A threshold is crossed when the value is above it (the plugin guidelines' plain
//! `N` range: alert outside 0..N).

use std::process::ExitCode;
use std::time::Duration;

use crate::api::client::{Client, ClientError};
use crate::api::wire::{FileQuery, HealthStatus, ProcessorState, Snapshot};
use crate::cli::ctl::ConnectArgs;

#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Warning above this many files waiting in the inbox
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub warn_inbox_depth: u64,
    /// Critical above this many files waiting in the inbox
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub crit_inbox_depth: u64,
    /// Warning when the oldest inbox file is older than this, in seconds
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub warn_inbox_age: u64,
    /// Critical when the oldest inbox file is older than this, in seconds
    #[arg(long, value_name = "S", default_value_t = 300)]
    pub crit_inbox_age: u64,
    /// Warning above this many files in retry/
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub warn_retry: u64,
    /// Critical above this many files in retry/
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub crit_retry: u64,
    /// Warning above this many files in stuck/ (they wait for an operator)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub warn_stuck: u64,
    /// Critical above this many files in stuck/
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub crit_stuck: u64,
    /// Warning when the last commit is older than this, in seconds, while the inbox has
    /// work (an idle processor commits nothing, and that is fine)
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub warn_commit_age: u64,
    /// Critical when the last commit is older than this, in seconds, while the inbox has work
    #[arg(long, value_name = "S", default_value_t = 300)]
    pub crit_commit_age: u64,
    /// UNKNOWN if the processor does not answer within this many seconds
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub timeout: u64,
}

/// A plugin result, ordered by severity (worse is greater), except `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }
}

/// One measured value with its thresholds.
#[derive(Debug, Clone)]
struct Measure {
    label: &'static str,
    value: f64,
    unit: &'static str,
    warn: u64,
    crit: u64,
    /// What a crossing is called in the summary.
    what: &'static str,
    /// False when the value says nothing now (last commit age with an empty inbox).
    judged: bool,
}

impl Measure {
    /// Judged on the whole value that the line and the perfdata show.
    fn level(&self) -> Level {
        let value = self.value.round();
        if !self.judged {
            Level::Ok
        } else if value > self.crit as f64 {
            Level::Critical
        } else if value > self.warn as f64 {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    fn perfdata(&self) -> String {
        format!(
            "{}={}{};{};{};0",
            self.label,
            self.value.round() as i64,
            self.unit,
            self.warn,
            self.crit
        )
    }

    fn complaint(&self) -> String {
        let limit = if self.level() == Level::Critical {
            self.crit
        } else {
            self.warn
        };
        format!(
            "{} {:.0}{} > {limit}{}",
            self.what, self.value, self.unit, self.unit
        )
    }
}

impl CheckArgs {
    /// A warning threshold above its critical one is a usage error.
    pub fn validate(&self) -> Result<(), String> {
        let pairs = [
            ("inbox-depth", self.warn_inbox_depth, self.crit_inbox_depth),
            ("inbox-age", self.warn_inbox_age, self.crit_inbox_age),
            ("retry", self.warn_retry, self.crit_retry),
            ("stuck", self.warn_stuck, self.crit_stuck),
            ("commit-age", self.warn_commit_age, self.crit_commit_age),
        ];
        for (name, warn, crit) in pairs {
            if warn > crit {
                return Err(format!("--warn-{name} {warn} is above --crit-{name} {crit}"));
            }
        }
        Ok(())
    }
}

/// Seconds from the newest commit to the snapshot (or since start, if none yet).
fn last_commit_age(s: &Snapshot) -> f64 {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (
        s.batches.first().and_then(|b| parse(&b.committed_at)),
        parse(&s.taken_at),
    ) {
        (Some(commit), Some(now)) => ((now - commit).num_milliseconds() as f64 / 1000.0).max(0.0),
        _ => s.uptime_s,
    }
}

/// The plugin's verdict on a snapshot and the two probes' answers.
pub fn evaluate(
    args: &CheckArgs,
    s: &Snapshot,
    live: &HealthStatus,
    ready: &HealthStatus,
) -> (Level, String) {
    let work = s.inbox.depth > 0 || s.in_flight.messages > 0;
    let measure = |label, value, unit, warn, crit, what, judged| Measure {
        label,
        value,
        unit,
        warn,
        crit,
        what,
        judged,
    };
    let commit_age = last_commit_age(s);
    let measures = [
        measure(
            "inbox_depth",
            s.inbox.depth as f64,
            "",
            args.warn_inbox_depth,
            args.crit_inbox_depth,
            "inbox files",
            true,
        ),
        measure(
            "inbox_age",
            s.inbox.oldest_age_s,
            "s",
            args.warn_inbox_age,
            args.crit_inbox_age,
            "oldest inbox file",
            s.inbox.depth > 0,
        ),
        measure(
            "retry_files",
            s.retry.total_unfiltered as f64,
            "",
            args.warn_retry,
            args.crit_retry,
            "retry files",
            true,
        ),
        measure(
            "stuck_files",
            s.stuck.total_unfiltered as f64,
            "",
            args.warn_stuck,
            args.crit_stuck,
            "stuck files",
            true,
        ),
        measure(
            "last_commit_age",
            commit_age,
            "s",
            args.warn_commit_age,
            args.crit_commit_age,
            "last commit",
            work,
        ),
    ];
    let mut level = Level::Ok;
    let mut problems = Vec::new();
    for probe in [live, ready] {
        if probe.status != "ok" {
            let reason = probe.reason.as_deref().unwrap_or("unavailable");
            let severity = if s.state == ProcessorState::Draining {
                Level::Warning
            } else {
                Level::Critical
            };
            level = level.max(severity);
            problems.push(crate::message::escape_text(reason));
        }
    }
    if s.state == ProcessorState::Paused {
        level = level.max(Level::Warning);
        problems.push("intake paused".into());
    }
    for m in &measures {
        if m.level() > Level::Ok {
            level = level.max(m.level());
            problems.push(m.complaint());
        }
    }
    let mut summary = format!("inbox {} files", s.inbox.depth);
    if s.inbox.depth > 0 {
        summary.push_str(&format!(", oldest {:.0}s", s.inbox.oldest_age_s));
    }
    summary.push_str(&format!(
        "; retry {}; stuck {}; last commit {}",
        s.retry.total_unfiltered,
        s.stuck.total_unfiltered,
        if s.batches.is_empty() {
            "none since start".to_string()
        } else {
            format!("{commit_age:.0}s ago")
        }
    ));
    let head = if problems.is_empty() {
        summary
    } else {
        format!("{}; {summary}", problems.join("; "))
    };
    let perf: Vec<String> = measures.iter().map(Measure::perfdata).collect();
    let counters = format!("committed={}c;;;0", s.counters.committed);
    (
        level,
        format!(
            "STATMGR {} - {head} | {} {counters}",
            level.word(),
            perf.join(" ")
        ),
    )
}

/// The UNKNOWN line for a usage error or an unreachable processor.
pub fn unknown(why: &str) -> ExitCode {
    println!(
        "STATMGR UNKNOWN - {}",
        crate::message::escape_text(why).replace('|', "/")
    );
    ExitCode::from(Level::Unknown as u8)
}

pub fn main(args: CheckArgs) -> ExitCode {
    if let Err(e) = args.validate() {
        return unknown(&format!("bad arguments: {e}"));
    }
    let target = match args.connect.target(false) {
        Ok(t) => t,
        Err(ClientError::Unreachable(m)) => return unknown(&format!("processor not reachable: {m}")),
        Err(e) => return unknown(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return unknown(&format!("cannot start the async runtime: {e}")),
    };
    let client = Client::new(target, Duration::from_secs(args.timeout.max(1)));
    let fetched: Result<_, ClientError> = runtime.block_on(async {
        let none = FileQuery {
            limit: 0,
            ..FileQuery::default()
        };
        let snapshot = client.snapshot(&none, &none).await?;
        let (_, live) = client.health("healthz").await?;
        let (_, ready) = client.health("readyz").await?;
        Ok((snapshot, live, ready))
    });
    match fetched {
        Ok((snapshot, live, ready)) => {
            let (level, line) = evaluate(&args, &snapshot, &live, &ready);
            println!("{line}");
            ExitCode::from(level as u8)
        }
        Err(ClientError::Unreachable(m)) => unknown(&format!("processor not reachable: {m}")),
        Err(e) => unknown(&e.to_string()),
    }
}

#[cfg(test)]
mod tests;
