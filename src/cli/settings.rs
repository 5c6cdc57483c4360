//! The `run` settings from a TOML file (`--config`, `STATMGR_CONFIG`): every value is checked
//! by the same clap definitions as its flag, and merged flag > environment > file > default.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches};

use crate::cli::run::RunArgs;

/// The TOML type a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Bool,
    Str,
}

/// Every key a config file may hold: the `run` flag's name with `_` for `-`. A test
/// checks this list against the flags and against contrib/statmgr.toml.
pub const KEYS: &[(&str, Kind)] = &[
    ("root", Kind::Str),
    ("listen", Kind::Str),
    ("listen_public", Kind::Bool),
    ("read_only_api", Kind::Bool),
    ("batch_size", Kind::Int),
    ("batch_age", Kind::Int),
    ("key_block", Kind::Int),
    ("max_attempts", Kind::Int),
    ("retry_min", Kind::Int),
    ("retry_max", Kind::Int),
    ("drain_deadline", Kind::Int),
    ("database", Kind::Str),
    ("busy_timeout", Kind::Int),
    ("rescan", Kind::Int),
    ("max_file_bytes", Kind::Int),
    ("max_messages_per_file", Kind::Int),
    ("max_string_bytes", Kind::Int),
    ("retain_days", Kind::Int),
    ("retain", Kind::Str),
    ("retain_interval", Kind::Int),
    ("batch_max", Kind::Int),
    ("cache_size", Kind::Int),
    ("wal_autocheckpoint", Kind::Int),
    ("checkpoint_pages", Kind::Int),
    ("log_format", Kind::Str),
    ("journal", Kind::Str),
    ("journal_segment_mb", Kind::Int),
    ("journal_max_mb", Kind::Int),
    ("journal_max_days", Kind::Int),
];

/// `run` flags that are not settings of a file: the file itself, and a hidden test knob.
pub const NOT_IN_FILE: &[&str] = &["config", "max_db_pages"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {message}")]
    At {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read the config file {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The command line itself is wrong (clap prints it with usage).
    #[error("{0}")]
    Usage(#[from] clap::Error),
}

/// One setting read from a file, as the arguments of its flag.
#[derive(Debug, Clone)]
pub struct FileSetting {
    pub key: String,
    pub args: Vec<String>,
}

/// `statmgr run`'s clap command, for checking values and merging.
pub fn run_command() -> clap::Command {
    RunArgs::augment_args(clap::Command::new("run").no_binary_name(true))
}

/// Reads and checks a config file: unknown keys, wrong types and values the flag would
/// refuse are errors naming the file, line and column.
pub fn load(path: &Path) -> Result<Vec<FileSetting>, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    let at = |offset: usize, message: String| {
        let (line, column) = position(&text, offset);
        ConfigError::At {
            file: file.clone(),
            line,
            column,
            message,
        }
    };
    type Table = std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>;
    let table: Table = toml::from_str(&text).map_err(|err: toml::de::Error| {
        let offset = err.span().map_or(0, |s| s.start);
        at(offset, err.message().trim().to_string())
    })?;
    let mut settings = Vec::new();
    for (key, value) in &table {
        let name = key.get_ref().as_str();
        let Some(&(_, kind)) = KEYS.iter().find(|(k, _)| *k == name) else {
            return Err(at(
                key.span().start,
                format!(
                    "unknown key `{name}` (the keys are the flags of `statmgr run`: {})",
                    key_list()
                ),
            ));
        };
        let text = match (kind, value.get_ref()) {
            (Kind::Int, toml::Value::Integer(n)) => n.to_string(),
            (Kind::Bool, toml::Value::Boolean(b)) => b.to_string(),
            (Kind::Str, toml::Value::String(s)) => s.clone(),
            (kind, other) => {
                let want = match kind {
                    Kind::Int => "an integer",
                    Kind::Bool => "true or false",
                    Kind::Str => "a string",
                };
                return Err(at(
                    value.span().start,
                    format!("`{name}` must be {want}, not {}", describe(other)),
                ));
            }
        };
        let args = flag_args(name, kind, &text);
        run_command().try_get_matches_from(&args).map_err(|err| {
            at(
                value.span().start,
                format!("bad value for `{name}`: {}", first_line(&err)),
            )
        })?;
        settings.push(FileSetting {
            key: name.to_string(),
            args,
        });
    }
    Ok(settings)
}

/// The effective `run` arguments, and where each setting came from.
pub struct Resolved {
    pub args: RunArgs,
    pub matches: ArgMatches,
    pub config: Option<PathBuf>,
    pub from_file: Vec<String>,
}

/// Parses `argv` (the arguments after `run`), reads the config file it names (or
/// `STATMGR_CONFIG`) and merges: a flag or environment variable beats the file, which
/// beats the default.
pub fn resolve(argv: Vec<OsString>) -> Result<Resolved, ConfigError> {
    let cli = run_command().try_get_matches_from(&argv)?;
    let config = cli.get_one::<PathBuf>("config").cloned();
    let mut merged: Vec<OsString> = Vec::new();
    let mut from_file = Vec::new();
    if let Some(path) = &config {
        for setting in load(path)? {
            let explicit = matches!(
                cli.value_source(&setting.key),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if !explicit {
                merged.extend(setting.args.iter().map(OsString::from));
                from_file.push(setting.key);
            }
        }
    }
    merged.extend(argv);
    let matches = run_command().try_get_matches_from(merged)?;
    let args = RunArgs::from_arg_matches(&matches)?;
    Ok(Resolved {
        args,
        matches,
        config,
        from_file,
    })
}

/// The effective settings as TOML, each with where it came from; the database password
/// is replaced by `***` (the control token is not a setting and never shown).
pub fn show(resolved: &Resolved) -> String {
    let mut out = String::from("# statmgr run: effective settings (flag > environment > file > default)\n");
    if let Some(path) = &resolved.config {
        out.push_str(&format!("# config file: {}\n", path.display()));
    }
    for &(key, kind) in KEYS {
        let source = if resolved.from_file.iter().any(|k| k == key) {
            "file"
        } else {
            match resolved.matches.value_source(key) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "environment",
                _ => "default",
            }
        };
        let raw: Option<String> = match kind {
            Kind::Bool => Some(resolved.matches.get_flag(key).to_string()),
            _ => resolved
                .matches
                .get_raw(key)
                .and_then(|mut values| values.next())
                .map(|v| v.to_string_lossy().into_owned()),
        };
        let raw = match (key, raw) {
            ("root", None) => Some(resolved.args.root.path().display().to_string()),
            ("database", Some(url)) => Some(redact_url(&url)),
            (_, raw) => raw,
        };
        let line = match (kind, raw) {
            (_, None) => format!("# {key} = (not set)"),
            (Kind::Str, Some(v)) => format!("{key} = {}", toml::Value::String(v)),
            (_, Some(v)) => format!("{key} = {v}"),
        };
        out.push_str(&format!("{line:<48} # {source}\n"));
    }
    out
}

/// A database URL with its password (in the user info or a `password=` parameter)
/// replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let url = redact_userinfo(url);
    match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url,
    }
}

fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

fn flag_args(key: &str, kind: Kind, value: &str) -> Vec<String> {
    let flag = format!("--{}", key.replace('_', "-"));
    match kind {
        Kind::Bool if value == "true" => vec![flag],
        Kind::Bool => Vec::new(),
        _ => vec![format!("{flag}={value}")],
    }
}

fn key_list() -> String {
    KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
}

fn describe(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// clap's message without its "error: " prefix and usage hints.
fn first_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
