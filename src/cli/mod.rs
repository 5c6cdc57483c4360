//! The subcommands' bodies (argument structs and what each does); `main.rs` only dispatches.

pub mod backup;
pub mod check;
pub mod config_cmd;
pub mod console;
pub mod ctl;
pub mod docs;
pub mod events;
pub mod find;
pub mod notify;
pub mod run;
pub mod send;
pub mod settings;

use std::path::PathBuf;

/// `--root DIR`, shared by every subcommand.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RootArg {
    /// The state directory [default: the platform's data directory for statmgr]
    #[arg(long, env = "STATMGR_ROOT")]
    pub root: Option<PathBuf>,
}

impl RootArg {
    pub fn path(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(crate::config::default_root)
    }
}

/// The tokio runtime every long-running command uses (two workers: the machine's size).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}
