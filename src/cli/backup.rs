//! `statmgr backup FILE`: a consistent online copy of the state directory's SQLite database.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::RootArg;
use crate::processor::sqlite::backup::{backup, BackupError};

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// Where to write the copy (refused if it exists, unless --force)
    pub file: PathBuf,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// A processor on PostgreSQL has no SQLite file to copy: use pg_dump
    #[arg(long, env = "STATMGR_DATABASE", hide_env_values = true, value_name = "URL")]
    pub database: Option<String>,
}

pub fn main(args: BackupArgs) -> ExitCode {
    if args.database.as_deref().is_some_and(|url| !url.trim().is_empty()) {
        eprintln!(
            "statmgr backup: the database is PostgreSQL (--database or STATMGR_DATABASE): \
             back it up with pg_dump (e.g. pg_dump -Fc -f statmgr.dump DBNAME); \
             statmgr backup copies only the SQLite file of a state directory"
        );
        return ExitCode::from(2);
    }
    let source = crate::processor::StateDir::at(&args.root.path()).db;
    match backup(&source, &args.file, args.force, Duration::from_secs(5)) {
        Ok(report) => {
            println!(
                "backed up {} to {}: {} pages, {} bytes, {} steps, {} ms; integrity_check ok",
                source.display(),
                args.file.display(),
                report.pages,
                report.bytes,
                report.steps,
                report.duration.as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("statmgr backup: {err}");
            match err {
                BackupError::Exists(_) => ExitCode::from(1),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
