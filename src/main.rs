//! `statmgr`: command-line parsing and dispatch only.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use statmgr::cli::ctl;

#[derive(Parser, Debug)]
#[command(
    name = "statmgr",
    version,
    about = "A status-message processor that loses nothing, and its operator console"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the processor in the foreground (logs to stderr; exits 0 after a clean drain).
    Run(statmgr::cli::run::RunArgs),
    /// Drop messages into the inbox atomically (from files, or stdin if none).
    Send(statmgr::cli::send::SendArgs),
    /// Show the running processor's state (a summary, or --json for the snapshot document).
    Status(ctl::StatusArgs),
    /// Where each message is: committed, in flight, inbox, retry, stuck, corrupt, discarded
    /// or not seen (exit 0 all found, 1 some not, 2 usage, 3 no processor).
    Find(statmgr::cli::find::FindArgs),
    /// List the retry or stuck files, or requeue one.
    Retry(ctl::RetryArgs),
    /// Stop taking files from the inbox (retries and the open batch go on).
    Pause(ctl::ConnectArgs),
    /// Take files from the inbox again.
    Resume(ctl::ConnectArgs),
    /// Commit the open batch now.
    Flush(ctl::ConnectArgs),
    /// Reconcile the key allocator with the database now.
    Resync(ctl::ConnectArgs),
    /// The operator console: watch the processor and act on it (pause, flush, requeue, resync).
    Console(statmgr::cli::console::ConsoleArgs),
    /// The console, read-only: holds no token, every mutating key is disabled.
    Watch(statmgr::cli::console::WatchArgs),
    /// A processor, a message generator and the console, in a temporary state directory.
    Demo(statmgr::demo::DemoArgs),
    /// A monitoring plugin (Nagios/Icinga): one status line with perfdata; exit 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check(statmgr::cli::check::CheckArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout.
    Completions(statmgr::cli::docs::CompletionsArgs),
    /// Print the manual page (roff) to stdout, or write one page per command into --dir.
    Man(statmgr::cli::docs::ManArgs),
    /// Check a config file, or show the effective settings of `statmgr run`.
    Config(statmgr::cli::config_cmd::ConfigArgs),
    /// Print the event history from an id or a time, then (--follow) the live stream.
    Events(statmgr::cli::events::EventsArgs),
    /// Copy the SQLite database consistently while the processor runs (PostgreSQL: use pg_dump).
    Backup(statmgr::cli::backup::BackupArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A monitoring plugin's usage error is UNKNOWN (3), not clap's 2.
        Err(e) if is_check() && e.use_stderr() => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            return statmgr::cli::check::unknown(&format!(
                "bad arguments: {}",
                first.trim_start_matches("error: ")
            ));
        }
        Err(e) => e.exit(),
    };
    match cli.command {
        // Parsed again with the config file merged in (flag > environment > file > default).
        Command::Run(_) => statmgr::cli::run::main(std::env::args_os().skip(2).collect()),
        Command::Send(args) => statmgr::cli::send::main(args),
        Command::Status(args) => ctl::status(args),
        Command::Find(args) => statmgr::cli::find::main(args),
        Command::Retry(args) => ctl::retry(args),
        Command::Pause(args) => ctl::action(ctl::Action::Pause, args),
        Command::Resume(args) => ctl::action(ctl::Action::Resume, args),
        Command::Flush(args) => ctl::action(ctl::Action::Flush, args),
        Command::Resync(args) => ctl::action(ctl::Action::Resync, args),
        Command::Console(args) => statmgr::cli::console::console_main(args),
        Command::Watch(args) => statmgr::cli::console::watch_main(args),
        Command::Demo(args) => statmgr::demo::main(args),
        Command::Check(args) => statmgr::cli::check::main(args),
        Command::Completions(args) => statmgr::cli::docs::completions(args, Cli::command()),
        Command::Man(args) => statmgr::cli::docs::man(args, Cli::command()),
        Command::Config(args) => statmgr::cli::config_cmd::main(args, std::env::args_os().skip(3).collect()),
        Command::Backup(args) => statmgr::cli::backup::main(args),
        Command::Events(args) => statmgr::cli::events::main(args),
    }
}

/// Whether the subcommand is `check` (its first non-option argument).
fn is_check() -> bool {
    std::env::args().skip(1).find(|a| !a.starts_with('-')).as_deref() == Some("check")
}
