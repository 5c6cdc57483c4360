//! The operator console (`statmgr console`, `statmgr watch`): a ratatui view of a processor,
//! kept current over its API. Plain-data state, one reducer, one view function per panel.

pub mod action;
pub mod app;
pub mod conn;
pub mod fleet;
pub mod format;
pub mod keymap;
pub mod layout;
pub mod processors;
pub mod reduce;
pub mod sanitize;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod timeline;
pub mod trace;
pub mod triage;
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
    /// Set by `statmgr demo`: what to say on screen, and the generator's rate (`+`/`-`).
    pub demo: Option<DemoHooks>,
}

/// The demo's link to the console: plain shared values, no processor types.
#[derive(Debug, Clone)]
pub struct DemoHooks {
    /// One line saying what the demo does.
    pub banner: String,
    /// Messages per second the generator drops.
    pub rate: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// What the demo's trouble-maker is doing right now.
    pub status: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Default for ConsoleOptions {
    /// The default theme (mono when `NO_COLOR` is set).
    fn default() -> Self {
        let theme = Theme::resolve("default", ColorChoice::Auto, theme::no_color_env())
            .unwrap_or_else(|_| Theme::plain());
        ConsoleOptions {
            theme,
            root: None,
            demo: None,
        }
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
