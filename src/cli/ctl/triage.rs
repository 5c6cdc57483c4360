//! `statmgr retry groups|requeue|discard|restore|purge`: triage from a script or a
//! terminal. A bulk command previews its exact set, asks on a terminal (unless `--yes`),
//! and acts on that set only. Exit codes: 0 every file acted on (or a dry run), 1 refused,
//! cancelled, or some files skipped (reported by reason), 2 usage, 3 no processor.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use super::render::duration;
use super::{print_json, run_timeout, safe, ConnectArgs};
use crate::api::client::{Client, ClientError};
use crate::api::preview::render;
use crate::api::wire::{BulkAction, BulkPreview, BulkRequest, BulkResult, BulkSelection, BulkSource};

/// A bulk action of 100,000 files takes tens of seconds on the server.
const BULK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Names and causes shown in a preview.
const PREVIEW_LINES: usize = 10;

#[derive(clap::Args, Debug, Clone)]
pub struct GroupsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Group stuck/ instead of retry/
    #[arg(long)]
    pub stuck: bool,
    /// Print the groups as JSON
    #[arg(long)]
    pub json: bool,
    /// Only files whose name or last error contains this text (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BulkArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Bare file names, as `statmgr retry ls` shows them
    #[arg(value_name = "NAME", required_unless_present = "all", conflicts_with = "all")]
    pub names: Vec<String>,
    /// Every file of retry/ (or, with --stuck, stuck/) that matches --filter and --cause
    #[arg(long)]
    pub all: bool,
    /// Act on stuck/ [default for names: stuck/ first, then retry/]
    #[arg(long)]
    pub stuck: bool,
    /// Only files whose name or last error contains this text (with --all)
    #[arg(long, value_name = "TEXT", requires = "all")]
    pub filter: Option<String>,
    /// Only files of this cause, as `statmgr retry groups` shows it (with --all)
    #[arg(long, value_name = "ID", requires = "all")]
    pub cause: Option<String>,
    /// The attempt count you saw (one NAME only): refused if the file changed since
    #[arg(long, value_name = "N")]
    pub attempts: Option<u32>,
    /// A note kept in each file's .reason (discard)
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Print the preview and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask, even on a terminal
    #[arg(long)]
    pub yes: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Bare names of files in discarded/
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub yes: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Purge from discarded/ (the only directory anything is ever deleted from)
    #[arg(long, required = true)]
    pub discarded: bool,
    /// Only files discarded at least this many days ago
    #[arg(long, value_name = "DAYS", required = true)]
    pub older_than: u32,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub yes: bool,
}

pub fn groups(args: GroupsArgs) -> ExitCode {
    let source = if args.stuck {
        BulkSource::Stuck
    } else {
        BulkSource::Retry
    };
    super::run(&args.connect, false, |client| async move {
        let list = client.causes(source, args.filter.as_deref()).await?;
        if args.json {
            return print_json(&list);
        }
        println!(
            "{} files ({} messages) in {}/, {} causes",
            list.files,
            list.messages,
            source.as_str(),
            list.groups.len()
        );
        if !list.groups.is_empty() {
            println!(
                "{:>8} {:>9} {:>10} {:>10} {:>9}  {:<12}  cause",
                "files", "messages", "oldest", "newest", "attempts", "id"
            );
        }
        for g in &list.groups {
            let attempts = if g.min_attempts == g.max_attempts {
                g.max_attempts.to_string()
            } else {
                format!("{}-{}", g.min_attempts, g.max_attempts)
            };
            println!(
                "{:>8} {:>9} {:>10} {:>10} {:>9}  {:<12}  {}",
                g.files,
                g.messages,
                duration(g.oldest_age_s),
                duration(g.newest_age_s),
                attempts,
                g.id,
                safe(&g.cause)
            );
        }
        Ok(())
    })
}

/// What one bulk command does, once its arguments are checked.
struct Plan {
    action: BulkAction,
    /// Tried in order; names missing from one are looked for in the next.
    sources: Vec<BulkSource>,
    names: Vec<String>,
    filter: Option<String>,
    cause: Option<String>,
    older_than_days: Option<u32>,
    note: Option<String>,
    dry_run: bool,
    yes: bool,
}

pub fn requeue_or_discard(action: BulkAction, args: BulkArgs) -> ExitCode {
    if args.attempts.is_some() && (args.names.len() != 1 || args.all) {
        eprintln!("statmgr: --attempts goes with exactly one NAME");
        return ExitCode::from(2);
    }
    // One named requeue, from a script: the single-file call (409 when the version changed).
    let single = action == BulkAction::Requeue
        && args.names.len() == 1
        && !args.all
        && !args.dry_run
        && (args.attempts.is_some() || args.yes || !std::io::stdin().is_terminal());
    if single && !args.stuck {
        let name = args.names[0].clone();
        let attempts = args.attempts;
        return super::run(&args.connect, true, |client| async move {
            let done = client.requeue(&name, attempts).await?;
            println!("{}: {}", done.action, safe(&done.outcome));
            Ok(())
        });
    }
    let sources = if args.stuck {
        vec![BulkSource::Stuck]
    } else if args.all {
        vec![BulkSource::Retry]
    } else {
        vec![BulkSource::Stuck, BulkSource::Retry]
    };
    let plan = Plan {
        action,
        sources,
        names: args.names,
        filter: args.filter,
        cause: args.cause,
        older_than_days: None,
        note: args.note,
        dry_run: args.dry_run,
        yes: args.yes,
    };
    execute(&args.connect, plan)
}

pub fn restore(args: RestoreArgs) -> ExitCode {
    let plan = Plan {
        action: BulkAction::Restore,
        sources: vec![BulkSource::Discarded],
        names: args.names,
        filter: None,
        cause: None,
        older_than_days: None,
        note: None,
        dry_run: args.dry_run,
        yes: args.yes,
    };
    execute(&args.connect, plan)
}

pub fn purge(args: PurgeArgs) -> ExitCode {
    debug_assert!(args.discarded);
    let plan = Plan {
        action: BulkAction::Purge,
        sources: vec![BulkSource::Discarded],
        names: Vec::new(),
        filter: None,
        cause: None,
        older_than_days: Some(args.older_than),
        note: None,
        dry_run: args.dry_run,
        yes: args.yes,
    };
    execute(&args.connect, plan)
}

fn ask(previews: &[BulkPreview]) -> Result<bool, ClientError> {
    for p in previews {
        for line in render(p, PREVIEW_LINES) {
            eprintln!("{}", safe(&line));
        }
    }
    eprint!("Proceed? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| ClientError::Other(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn report(r: &BulkResult) -> bool {
    println!("{}", safe(&r.outcome));
    for (label, names) in [
        ("changed since the preview", &r.changed),
        ("vanished", &r.vanished),
        ("already moved", &r.already_moved),
        ("failed", &r.failed),
    ] {
        for n in names {
            println!("skipped ({label}): {}", safe(n));
        }
    }
    r.skipped() == 0
}

async fn previews(client: &Client, plan: &Plan) -> Result<(Vec<BulkPreview>, Vec<String>), ClientError> {
    let mut out = Vec::new();
    let mut names = plan.names.clone();
    for &source in &plan.sources {
        let sel = BulkSelection {
            action: plan.action,
            source,
            names: names.clone(),
            filter: plan.filter.clone(),
            cause: plan.cause.clone(),
            older_than_days: plan.older_than_days,
        };
        let mut p = client.preview(&sel).await?;
        let missing = std::mem::take(&mut p.missing);
        if p.files > 0 || out.is_empty() {
            out.push(p);
        }
        if plan.names.is_empty() {
            return Ok((out, Vec::new()));
        }
        names = missing;
        if names.is_empty() {
            break;
        }
    }
    Ok((out, names))
}

fn execute(connect: &ConnectArgs, plan: Plan) -> ExitCode {
    let all_done = std::cell::Cell::new(true);
    let (plan, flag) = (&plan, &all_done);
    let code = run_timeout(connect, true, BULK_TIMEOUT, move |client| async move {
        let (previews, missing) = previews(&client, plan).await?;
        for n in &missing {
            eprintln!(
                "statmgr: no file {} in {}",
                safe(n),
                plan.sources
                    .iter()
                    .map(|s| format!("{}/", s.as_str()))
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
            flag.set(false);
        }
        if plan.dry_run {
            for p in &previews {
                for line in render(p, PREVIEW_LINES) {
                    println!("{}", safe(&line));
                }
            }
            println!("dry run: nothing changed");
            return Ok(());
        }
        let files: u64 = previews.iter().map(|p| p.files).sum();
        if files == 0 {
            println!("nothing to {}: no file matches", plan.action.as_str());
            return Ok(());
        }
        if !plan.yes && std::io::stdin().is_terminal() && !ask(&previews)? {
            return Err(ClientError::Other("cancelled; nothing changed".into()));
        }
        for p in previews.into_iter().filter(|p| p.files > 0) {
            let request = BulkRequest {
                action: p.action,
                source: p.source,
                set: p.set,
                note: plan.note.clone(),
            };
            let result = client.bulk_action(&request).await?;
            if !report(&result) {
                flag.set(false);
            }
        }
        Ok(())
    });
    if code == ExitCode::SUCCESS && !all_done.get() {
        return ExitCode::from(1);
    }
    code
}
