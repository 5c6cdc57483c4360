//! `statmgr console` and `statmgr watch`: find the processor, load the theme, run the console.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::api::client::{Client, ClientError, Target};
use crate::tui::{self, ColorChoice, ConsoleError, ConsoleOptions, Theme};

/// `--color`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorArg {
    /// Colours unless NO_COLOR is set
    #[default]
    Auto,
    Always,
    Never,
}

impl From<ColorArg> for ColorChoice {
    fn from(c: ColorArg) -> ColorChoice {
        match c {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
    }
}

/// What both commands share: the look.
#[derive(clap::Args, Debug, Clone)]
pub struct LookArgs {
    /// Theme: a built-in name (default, light, mono) or the path of a theme file
    #[arg(long, value_name = "NAME|PATH", default_value = "default")]
    pub theme: String,
    /// Colour: auto honours NO_COLOR
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

#[derive(clap::Args, Debug)]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub root: crate::cli::RootArg,
    /// The processor's API base URL (instead of --root), e.g. http://127.0.0.1:41234
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// File holding the control token (with --url)
    #[arg(long, value_name = "F", requires = "url")]
    pub token_file: Option<PathBuf>,
    #[command(flatten)]
    pub look: LookArgs,
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub root: crate::cli::RootArg,
    /// The processor's API base URL (instead of --root)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    #[command(flatten)]
    pub look: LookArgs,
}

/// Exit codes: 2 for a bad invocation (theme, not a terminal), 3 when no processor answers.
const USAGE: u8 = 2;
const UNREACHABLE: u8 = 3;

/// `--root` given on the command line, not inherited from `STATMGR_ROOT` (which `--url`
/// simply overrides). Clap's own conflict check cannot tell the two apart.
fn root_on_command_line(root: &crate::cli::RootArg) -> bool {
    root.root
        .as_ref()
        .is_some_and(|r| std::env::var_os("STATMGR_ROOT").map(PathBuf::from).as_ref() != Some(r))
}

fn url_and_root(url: &Option<String>, root: &crate::cli::RootArg) -> Option<ExitCode> {
    let both = url.is_some() && root_on_command_line(root);
    both.then(|| fail(USAGE, &"--url and --root exclude each other: give one of them"))
}

pub fn console_main(args: ConsoleArgs) -> ExitCode {
    if let Some(code) = url_and_root(&args.url, &args.root) {
        return code;
    }
    let target = |root: &PathBuf| Target::from_root(root, true);
    match args.url {
        Some(url) => run(args.look, false, None, || {
            Target::from_url(&url, args.token_file.as_ref())
        }),
        None => {
            let root = args.root.path();
            run(args.look, false, Some(root.clone()), || target(&root))
        }
    }
}

pub fn watch_main(args: WatchArgs) -> ExitCode {
    if let Some(code) = url_and_root(&args.url, &args.root) {
        return code;
    }
    match args.url {
        Some(url) => run(args.look, true, None, || Target::from_url(&url, None)),
        None => {
            let root = args.root.path();
            run(args.look, true, Some(root.clone()), || {
                Target::from_root(&root, false)
            })
        }
    }
}

fn run(
    look: LookArgs,
    read_only: bool,
    root: Option<PathBuf>,
    target: impl FnOnce() -> Result<Target, ClientError>,
) -> ExitCode {
    // Checked before anything else so a bad theme or a pipe is reported at once.
    let theme = match Theme::resolve(&look.theme, look.color.into(), tui::theme::no_color_env()) {
        Ok(theme) => theme,
        Err(e) => return fail(USAGE, &e),
    };
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return fail(USAGE, &ConsoleError::NotATerminal);
    }
    let target = match target() {
        Ok(t) => t,
        Err(e @ ClientError::Unreachable(_)) => return fail(UNREACHABLE, &e),
        Err(e) => return fail(1, &e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, &e),
    };
    let opts = ConsoleOptions {
        theme,
        root,
        demo: None,
    };
    let result = runtime.block_on(async move {
        let client = Client::new(target, tui::conn::REQUEST_TIMEOUT);
        tui::run_console(client, read_only, opts).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ ConsoleError::NotATerminal) => fail(USAGE, &e),
        Err(e) => fail(1, &e),
    }
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("statmgr: {error}");
    ExitCode::from(code)
}
