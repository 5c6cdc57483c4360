//! The operator console (`statmgr console`, `statmgr watch`): a ratatui view of a processor,
//! kept current over its API. Plain-data state, one reducer, one view function per panel.

pub mod action;
pub mod app;
pub mod conn;
pub mod format;
pub mod keymap;
pub mod layout;
pub mod reduce;
pub mod sanitize;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod view;

use std::path::PathBuf;

pub use app::run_console;
pub use theme::{ColorChoice, Theme, ThemeError};

/// How the console looks and where it finds the processor again after a restart.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    pub theme: Theme,
    /// The state directory the endpoint came from: re-read after a lost connection, since a
    /// restarted processor listens on a new port. `None` (`--url`, or an in-process
    /// processor): keep the same endpoint.
    pub root: Option<PathBuf>,
}

impl Default for ConsoleOptions {
    /// The default theme (mono when `NO_COLOR` is set).
    fn default() -> Self {
        let theme = Theme::resolve("default", ColorChoice::Auto, theme::no_color_env())
            .unwrap_or_else(|_| Theme::plain());
        ConsoleOptions { theme, root: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("stdout is not a terminal: the console needs one (for scripts, use `statmgr status --json`)")]
    NotATerminal,
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
    #[error(transparent)]
    Theme(#[from] ThemeError),
    #[error("the console stopped: {0}")]
    Internal(String),
}
