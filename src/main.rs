//! `statmgr`: command-line parsing and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// The operator console: watch the processor and act on it (pause, flush, requeue, resync).
    Console(statmgr::cli::console::ConsoleArgs),
    /// The console, read-only: holds no token, every mutating key is disabled.
    Watch(statmgr::cli::console::WatchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => statmgr::cli::run::main(args),
        Command::Send(args) => statmgr::cli::send::main(args),
        Command::Console(args) => statmgr::cli::console::console_main(args),
        Command::Watch(args) => statmgr::cli::console::watch_main(args),
    }
}
