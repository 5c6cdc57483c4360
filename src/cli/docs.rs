//! `statmgr completions SHELL` and `statmgr man`: generated from the clap definitions
//! (clap_complete, clap_mangen), never written by hand, so they cannot drift from the flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap_complete::Shell;

#[derive(clap::Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ManArgs {
    /// Write statmgr.1 and one statmgr-COMMAND.1 per command into this directory instead
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> ExitCode {
    let name = command.get_name().to_string();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}

pub fn man(args: ManArgs, command: clap::Command) -> ExitCode {
    let result = match &args.dir {
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(command, dir))
            .map_err(|e| format!("cannot write the manual pages into {}: {e}", dir.display())),
        None => clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .map_err(|e| format!("cannot print the manual page: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statmgr: {e}");
            ExitCode::FAILURE
        }
    }
}
