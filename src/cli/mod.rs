//! The subcommands' bodies (argument structs and what each does); `main.rs` only dispatches.

pub mod console;
pub mod ctl;
pub mod run;
pub mod send;

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
