//! `statmgr console` and `statmgr watch`: find the processor (or processors), load the theme,
//! run the console.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::api::client::{Client, ClientError, Target};
use crate::tui::app::ProcessorLink;
use crate::tui::conn::Rediscover;
use crate::tui::processors::{self, Place, ProcessorEntry};
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
    /// The processor's API base URL (instead of --root), e.g. http://127.0.0.1:41234; repeat it
    /// to watch several processors (without tokens: use --processors to give them)
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,
    /// File holding the control token (with a single --url)
    #[arg(long, value_name = "F", requires = "url")]
    pub token_file: Option<PathBuf>,
    /// A TOML file listing processors: [[processor]] with name, url and token_file, or root
    #[arg(long, value_name = "FILE", conflicts_with_all = ["url", "token_file"])]
    pub processors: Option<PathBuf>,
    #[command(flatten)]
    pub look: LookArgs,
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub root: crate::cli::RootArg,
    /// The processor's API base URL (instead of --root); repeat it to watch several
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,
    /// A TOML file listing processors ([[processor]] with name and url or root); tokens unused
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub processors: Option<PathBuf>,
    #[command(flatten)]
    pub look: LookArgs,
}

/// Exit codes: 2 for a bad invocation (theme, processors file, not a terminal), 3 when no
/// processor answers.
const USAGE: u8 = 2;
const UNREACHABLE: u8 = 3;

/// `--root` given on the command line, not inherited from `STATMGR_ROOT` (which `--url`
/// simply overrides). Clap's own conflict check cannot tell the two apart.
fn root_on_command_line(root: &crate::cli::RootArg) -> bool {
    root.root
        .as_ref()
        .is_some_and(|r| std::env::var_os("STATMGR_ROOT").map(PathBuf::from).as_ref() != Some(r))
}

fn exclusive(url: &[String], processors: bool, root: &crate::cli::RootArg) -> Option<ExitCode> {
    let other = if !url.is_empty() {
        "--url"
    } else if processors {
        "--processors"
    } else {
        return None;
    };
    root_on_command_line(root).then(|| {
        fail(
            USAGE,
            &format!("{other} and --root exclude each other: give one of them"),
        )
    })
}

pub fn console_main(args: ConsoleArgs) -> ExitCode {
    if let Some(code) = exclusive(&args.url, args.processors.is_some(), &args.root) {
        return code;
    }
    if let Some(file) = &args.processors {
        return run_fleet(args.look, || from_file(file, false));
    }
    match args.url.as_slice() {
        [] => {
            let root = args.root.path();
            run(args.look, false, Some(root.clone()), || {
                Target::from_root(&root, true)
            })
        }
        [url] => run(args.look, false, None, || {
            Target::from_url(url, args.token_file.as_ref())
        }),
        urls if args.token_file.is_some() => {
            let n = urls.len();
            let e = format!(
                "--token-file goes with a single --url, and {n} were given: list the processors \
                 and their token files in a --processors file"
            );
            fail(USAGE, &e)
        }
        urls => run_fleet(args.look, || from_urls(urls, false)),
    }
}

pub fn watch_main(args: WatchArgs) -> ExitCode {
    if let Some(code) = exclusive(&args.url, args.processors.is_some(), &args.root) {
        return code;
    }
    if let Some(file) = &args.processors {
        return run_fleet(args.look, || from_file(file, true));
    }
    match args.url.as_slice() {
        [] => {
            let root = args.root.path();
            run(args.look, true, Some(root.clone()), || {
                Target::from_root(&root, false)
            })
        }
        [url] => run(args.look, true, None, || Target::from_url(url, None)),
        urls => run_fleet(args.look, || from_urls(urls, true)),
    }
}

/// A processor to attach to, before the runtime exists (clients are made inside it).
struct Plan {
    link: ProcessorLink,
    target: Option<Target>,
}

/// Why the processors cannot be attached to: an exit code and a message.
type Refusal = (u8, String);

/// `--url A --url B ...`: named by host and port, and read-only (a URL carries no token).
fn from_urls(urls: &[String], watch: bool) -> Result<Vec<Plan>, Refusal> {
    let mut plans: Vec<Plan> = Vec::new();
    for url in urls {
        let target = Target::from_url(url, None).map_err(|e| (USAGE, e.to_string()))?;
        let name = target.url.trim_start_matches("http://").to_string();
        if plans.iter().any(|p| p.link.name == name) {
            return Err((USAGE, format!("--url {url} is given twice")));
        }
        let reason = (!watch)
            .then(|| format!("for {name}: --url holds no token (give token_file in a --processors file)"));
        plans.push(plan(name, String::new(), Some(target), None, reason));
    }
    Ok(plans)
}

/// `--processors FILE`: each entry by its URL (and token file) or its state directory.
fn from_file(file: &Path, watch: bool) -> Result<Vec<Plan>, Refusal> {
    let entries = processors::load(file).map_err(|e| (USAGE, e.to_string()))?;
    let at = |entry: &ProcessorEntry, e: ClientError| {
        let code = if matches!(e, ClientError::Unreachable(_)) {
            UNREACHABLE
        } else {
            USAGE
        };
        let where_ = format!("processors file {}, line {}", file.display(), entry.line);
        (code, format!("{where_} (processor `{}`): {e}", entry.name))
    };
    let mut plans = Vec::new();
    for entry in entries {
        let database = entry.database.clone();
        let plan = match &entry.place {
            Place::Url(url) => {
                let token_file = entry.token_file.as_ref().filter(|_| !watch);
                let target = Target::from_url(url, token_file).map_err(|e| at(&entry, e))?;
                let reason = (!watch && target.token.is_none())
                    .then(|| format!("for {}: it has no token_file in {}", entry.name, file.display()));
                plan(entry.name.clone(), database, Some(target), None, reason)
            }
            Place::Root(root) => {
                // Not running yet is fine: its endpoint is looked for again and again.
                let target = match Target::from_root(root, !watch) {
                    Ok(target) => Some(target),
                    Err(ClientError::Unreachable(_)) => None,
                    Err(e) => return Err(at(&entry, e)),
                };
                let rediscover = Rediscover {
                    root: root.clone(),
                    with_token: !watch,
                };
                plan(entry.name.clone(), database, target, Some(rediscover), None)
            }
        };
        plans.push(plan);
    }
    if watch {
        for p in &mut plans {
            p.link.read_only = true;
            p.link.read_only_reason = None;
        }
    }
    Ok(plans)
}

fn plan(
    name: String,
    database: String,
    target: Option<Target>,
    rediscover: Option<Rediscover>,
    reason: Option<String>,
) -> Plan {
    let endpoint = match (&target, &rediscover) {
        (Some(t), _) => t.url.clone(),
        (None, Some(r)) => r.root.join("control").join("endpoint").display().to_string(),
        (None, None) => String::new(),
    };
    let read_only = reason.is_some() || rediscover.as_ref().is_some_and(|r| !r.with_token);
    Plan {
        link: ProcessorLink {
            name,
            database,
            endpoint,
            client: None,
            rediscover,
            read_only,
            read_only_reason: reason,
        },
        target,
    }
}

fn theme_and_terminal(look: &LookArgs) -> Result<Theme, ExitCode> {
    // Checked before anything else so a bad theme or a pipe is reported at once.
    let theme = Theme::resolve(&look.theme, look.color.into(), tui::theme::no_color_env())
        .map_err(|e| fail(USAGE, &e))?;
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(fail(USAGE, &ConsoleError::NotATerminal));
    }
    Ok(theme)
}

fn run_fleet(look: LookArgs, plans: impl FnOnce() -> Result<Vec<Plan>, Refusal>) -> ExitCode {
    let plans = match plans() {
        Ok(plans) => plans,
        Err((code, message)) => return fail(code, &message),
    };
    let theme = match theme_and_terminal(&look) {
        Ok(theme) => theme,
        Err(code) => return code,
    };
    let runtime = match crate::cli::runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(1, &e),
    };
    let opts = ConsoleOptions {
        theme,
        root: None,
        demo: None,
    };
    let result = runtime.block_on(async move {
        let links = plans
            .into_iter()
            .map(|p| ProcessorLink {
                client: p.target.map(|t| Client::new(t, tui::conn::REQUEST_TIMEOUT)),
                ..p.link
            })
            .collect();
        tui::app::run_fleet(links, opts).await
    });
    finish(result)
}

fn run(
    look: LookArgs,
    read_only: bool,
    root: Option<PathBuf>,
    target: impl FnOnce() -> Result<Target, ClientError>,
) -> ExitCode {
    let theme = match theme_and_terminal(&look) {
        Ok(theme) => theme,
        Err(code) => return code,
    };
    let target = match target() {
        Ok(t) => t,
        Err(e @ ClientError::Unreachable(_)) => return fail(UNREACHABLE, &e),
        Err(e) => return fail(1, &e),
    };
    let runtime = match crate::cli::runtime() {
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
    finish(result)
}

fn finish(result: Result<(), ConsoleError>) -> ExitCode {
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
