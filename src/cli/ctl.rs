//! `statmgr status`, `retry ls|groups|requeue|discard|restore|purge`, `pause`, `resume`, `flush`, `resync`: one call each
//! to a running processor's API, for operators and scripts. Exit codes: 0 done, 1 refused
//! or failed (with the server's message), 2 usage, 3 no processor reachable.

mod render;
mod triage;

pub use triage::{BulkArgs, GroupsArgs, PurgeArgs, RestoreArgs};

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::api::client::{Client, ClientError, Target};
use crate::api::wire::{FileQuery, MAX_PAGE};
use crate::cli::RootArg;

/// How long one call may take.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Files and batches shown by the human `status`.
const STATUS_ROWS: u64 = 5;

/// Where the processor is: `<root>/control/`, or `--url` (and `--token-file`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// The API's base URL, e.g. http://127.0.0.1:41234 [default: read from <root>/control/endpoint]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A file holding the control token [default: <root>/control/token]
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the snapshot document (pretty JSON), the same as the API's
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RetryArgs {
    #[command(subcommand)]
    pub command: RetryCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum RetryCommand {
    /// List the retry files (or, with --stuck, the stuck ones).
    Ls(LsArgs),
    /// Group the retry (or stuck) files by cause.
    Groups(GroupsArgs),
    /// Make retry files due now, or move stuck files back to retry/: NAME... or --all.
    Requeue(BulkArgs),
    /// Move retry or stuck files to discarded/ (never deleted), with a .reason each.
    Discard(BulkArgs),
    /// Move files from discarded/ back to retry/.
    Restore(RestoreArgs),
    /// Delete files from discarded/ (the only deletion): --discarded --older-than DAYS.
    Purge(PurgeArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct LsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// List stuck/ instead of retry/
    #[arg(long)]
    pub stuck: bool,
    /// Print the page as JSON
    #[arg(long)]
    pub json: bool,
    /// Only files whose name or last error contains this text (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Most files listed
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=MAX_PAGE))]
    pub limit: u64,
}

impl ConnectArgs {
    pub(crate) fn target(&self, with_token: bool) -> Result<Target, ClientError> {
        match &self.url {
            Some(url) => Target::from_url(url, self.token_file.as_ref()),
            None => {
                let use_root_token = with_token && self.token_file.is_none();
                let target = Target::from_root(&self.root.path(), use_root_token)?;
                match &self.token_file {
                    Some(file) => target.with_token_file(file),
                    None => Ok(target),
                }
            }
        }
    }
}

/// Text from the processor, safe for a terminal.
pub(crate) fn safe(text: &str) -> String {
    crate::message::escape_text(text)
}

pub(crate) fn exit_for(e: ClientError) -> ExitCode {
    match e {
        ClientError::Unreachable(m) => {
            eprintln!("statmgr: no processor is reachable: {}", safe(&m));
            ExitCode::from(3)
        }
        ClientError::Refused { status, message } => {
            eprintln!(
                "statmgr: refused by the processor (HTTP {status}): {}",
                safe(&message)
            );
            ExitCode::from(1)
        }
        ClientError::Other(m) => {
            eprintln!("statmgr: {}", safe(&m));
            ExitCode::from(1)
        }
    }
}

/// Connects, runs `call` on a small runtime, and turns its outcome into an exit code.
pub(crate) fn run<F, Fut>(connect: &ConnectArgs, with_token: bool, call: F) -> ExitCode
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), ClientError>>,
{
    run_timeout(connect, with_token, CALL_TIMEOUT, call)
}

/// `run` with another timeout per call.
pub(crate) fn run_timeout<F, Fut>(
    connect: &ConnectArgs,
    with_token: bool,
    timeout: Duration,
    call: F,
) -> ExitCode
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), ClientError>>,
{
    let target = match connect.target(with_token) {
        Ok(t) => t,
        Err(e) => return exit_for(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("statmgr: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(call(Client::new(target, timeout))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_for(e),
    }
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<(), ClientError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ClientError::Other(format!("cannot print the answer as JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

pub fn status(args: StatusArgs) -> ExitCode {
    let json = args.json;
    run(&args.connect, false, |client| async move {
        if json {
            let all = FileQuery::default();
            return print_json(&client.snapshot(&all, &all).await?);
        }
        let few = FileQuery {
            limit: STATUS_ROWS,
            ..FileQuery::default()
        };
        let snapshot = client.snapshot(&few, &few).await?;
        print!(
            "{}",
            render::status(&snapshot, &client.target().url, STATUS_ROWS as usize, safe)
        );
        Ok(())
    })
}

pub fn retry(args: RetryArgs) -> ExitCode {
    match args.command {
        RetryCommand::Ls(ls) => list(ls),
        RetryCommand::Groups(g) => triage::groups(g),
        RetryCommand::Requeue(b) => triage::requeue_or_discard(crate::api::wire::BulkAction::Requeue, b),
        RetryCommand::Discard(b) => triage::requeue_or_discard(crate::api::wire::BulkAction::Discard, b),
        RetryCommand::Restore(r) => triage::restore(r),
        RetryCommand::Purge(p) => triage::purge(p),
    }
}

fn list(args: LsArgs) -> ExitCode {
    let query = FileQuery {
        limit: args.limit,
        filter: args.filter.clone(),
        ..FileQuery::default()
    };
    run(&args.connect, false, |client| async move {
        let none = FileQuery {
            limit: 0,
            ..FileQuery::default()
        };
        let (retry, stuck) = if args.stuck {
            (&none, &query)
        } else {
            (&query, &none)
        };
        let snapshot = client.snapshot(retry, stuck).await?;
        let page = if args.stuck {
            snapshot.stuck
        } else {
            snapshot.retry
        };
        if args.json {
            return print_json(&page);
        }
        let dir = if args.stuck { "stuck" } else { "retry" };
        print!("{}", render::file_page(&page, dir, args.filter.as_deref(), safe));
        Ok(())
    })
}

/// One of the mutations without arguments.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Pause,
    Resume,
    Flush,
    Resync,
}

pub fn action(which: Action, args: ConnectArgs) -> ExitCode {
    run(&args, true, |client| async move {
        let done = match which {
            Action::Pause => client.pause().await?,
            Action::Resume => client.resume().await?,
            Action::Flush => client.flush().await?,
            Action::Resync => client.resync().await?,
        };
        println!("{}: {}", done.action, safe(&done.outcome));
        Ok(())
    })
}
