//! `statmgr config check FILE` and `statmgr config show`: validate a config file, print the
//! effective settings of `statmgr run` with the database password redacted.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::settings::{self, ConfigError};

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a config file: exit 0 if `statmgr run --config FILE` would accept it, else 2
    /// with the file, line and column of the first mistake
    Check { file: PathBuf },
    /// Print the settings `statmgr run` would use with these flags (and --config FILE or
    /// STATMGR_CONFIG), as TOML, each with where it came from; passwords are redacted
    Show(Box<crate::cli::run::RunArgs>),
}

/// `argv`: the arguments after `config show` (used again to merge with the file).
pub fn main(args: ConfigArgs, argv: Vec<OsString>) -> ExitCode {
    match args.command {
        ConfigCommand::Check { file } => match settings::load(&file) {
            Ok(found) => {
                println!("{}: ok ({} settings)", file.display(), found.len());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("statmgr: {err}");
                ExitCode::from(2)
            }
        },
        ConfigCommand::Show(_) => match settings::resolve(argv) {
            Ok(resolved) => {
                print!("{}", settings::show(&resolved));
                ExitCode::SUCCESS
            }
            Err(ConfigError::Usage(err)) => err.exit(),
            Err(err) => {
                eprintln!("statmgr: {err}");
                ExitCode::from(2)
            }
        },
    }
}
