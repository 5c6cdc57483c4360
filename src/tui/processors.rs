//! The processors file (`--processors FILE`): the processors a console attaches to, by name,
//! each with a URL (and maybe a token file) or a state directory. Errors name the file, line
//! and column, like the theme loader's.
//!
//! ```toml
//! [[processor]]
//! name = "site-a"
//! url = "http://127.0.0.1:4100"
//! token_file = "/etc/statmgr/site-a.token"   # optional: without it, read-only
//! database = "plant"                          # optional: processors sharing a database
//!
//! [[processor]]
//! name = "site-b"
//! root = "/var/lib/statmgr-b"                 # endpoint and token from <root>/control/
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::tui::theme::line_column;

/// Where a processor is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Url(String),
    /// Its state directory: the endpoint (and token) are read from `<root>/control/`.
    Root(PathBuf),
}

/// One `[[processor]]` of the file, checked; relative paths resolved against the file's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorEntry {
    pub name: String,
    pub place: Place,
    pub token_file: Option<PathBuf>,
    /// Processors with the same label share a database; empty: the one shared database.
    pub database: String,
    /// Line of its `[[processor]]`, for errors found later (an unreadable token file).
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessorsFileError {
    #[error("processors file {file}, line {line}, column {column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read the processors file {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    processor: Option<Vec<Spanned<RawProcessor>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcessor {
    name: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    root: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    database: Option<Spanned<String>>,
}

struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ProcessorsFileError {
        let (line, column) = line_column(self.text, span.map_or(0, |s| s.start));
        ProcessorsFileError::Invalid {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Reads and checks a processors file.
pub fn load(path: &Path) -> Result<Vec<ProcessorEntry>, ProcessorsFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ProcessorsFileError::Read {
        file: file.clone(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, &file, base)
}

/// Parses a processors file's text; `file` names it in errors, `base` anchors relative paths.
pub fn parse(text: &str, file: &str, base: &Path) -> Result<Vec<ProcessorEntry>, ProcessorsFileError> {
    let source = Source { text, file };
    let raw: RawFile = toml::from_str(text).map_err(|e| source.error(e.span(), e.message()))?;
    let raws = raw.processor.unwrap_or_default();
    if raws.is_empty() {
        return Err(source.error(
            None,
            "no processor listed: add a [[processor]] table with name and url (or root)",
        ));
    }
    let mut out: Vec<ProcessorEntry> = Vec::with_capacity(raws.len());
    for raw in &raws {
        let entry = entry(&source, raw, base)?;
        if let Some(first) = out.iter().find(|e| e.name == entry.name) {
            let span = raw.get_ref().name.as_ref().map_or(raw.span(), |n| n.span());
            let message = format!(
                "the name `{}` is already used by the processor on line {}: names must differ",
                entry.name, first.line
            );
            return Err(source.error(Some(span), message));
        }
        out.push(entry);
    }
    Ok(out)
}

fn entry(
    source: &Source,
    raw: &Spanned<RawProcessor>,
    base: &Path,
) -> Result<ProcessorEntry, ProcessorsFileError> {
    let p = raw.get_ref();
    let path = |s: &Spanned<String>| base.join(s.get_ref());
    let place = match (&p.url, &p.root) {
        (Some(url), None) => Place::Url(check_url(source, url)?),
        (None, Some(root)) if root.get_ref().trim().is_empty() => {
            return Err(source.error(Some(root.span()), "root is empty: give the state directory"))
        }
        (None, Some(root)) => Place::Root(path(root)),
        (Some(_), Some(root)) => {
            return Err(source.error(
                Some(root.span()),
                "url and root exclude each other: give one of them",
            ))
        }
        (None, None) => {
            return Err(source.error(
                Some(raw.span()),
                "this [[processor]] has neither url = \"http://HOST:PORT\" nor root = \"/state/dir\"",
            ))
        }
    };
    if let (Place::Root(_), Some(token)) = (&place, &p.token_file) {
        return Err(source.error(
            Some(token.span()),
            "token_file goes with url: with root, the token is read from <root>/control/token",
        ));
    }
    let name = match &p.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            return Err(source.error(Some(n.span()), "the name is empty"))
        }
        Some(n) => n.get_ref().trim().to_string(),
        None => match &place {
            Place::Url(url) => url.trim_start_matches("http://").to_string(),
            Place::Root(root) => root.display().to_string(),
        },
    };
    let (line, _) = line_column(source.text, raw.span().start);
    Ok(ProcessorEntry {
        name,
        place,
        token_file: p.token_file.as_ref().map(path),
        database: p
            .database
            .as_ref()
            .map(|d| d.get_ref().clone())
            .unwrap_or_default(),
        line,
    })
}

/// An `http://` URL with a host, without its trailing slash.
fn check_url(source: &Source, url: &Spanned<String>) -> Result<String, ProcessorsFileError> {
    let text = url.get_ref().trim().trim_end_matches('/');
    match reqwest::Url::parse(text) {
        Ok(u) if u.scheme() == "http" && u.host().is_some() => Ok(text.to_string()),
        Ok(_) => Err(source.error(
            Some(url.span()),
            format!("{text:?} is not an http:// URL with a host (like http://127.0.0.1:4100)"),
        )),
        Err(e) => Err(source.error(Some(url.span()), format!("{text:?} is not a URL: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        match parse(text, "f.toml", Path::new("/etc")) {
            Ok(entries) => panic!("accepted: {entries:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_good_file_gives_names_places_tokens_and_databases() {
        let text =
            "[[processor]]\nname = \"a\"\nurl = \"http://127.0.0.1:4100/\"\ntoken_file = \"a.token\"\n\
                    database = \"plant\"\n\n[[processor]]\nroot = \"/var/lib/b\"\n";
        let entries = parse(text, "f.toml", Path::new("/etc/statmgr")).expect("valid");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "a");
        assert_eq!(entries[0].place, Place::Url("http://127.0.0.1:4100".into()));
        assert_eq!(entries[0].token_file, Some(PathBuf::from("/etc/statmgr/a.token")));
        assert_eq!(entries[0].database, "plant");
        assert_eq!(entries[1].name, "/var/lib/b");
        assert_eq!(entries[1].place, Place::Root("/var/lib/b".into()));
        assert_eq!(entries[1].line, 7);
    }

    #[test]
    fn mistakes_point_at_their_line_and_column() {
        let unknown = parse_err("[[processor]]\nname = \"a\"\nurl = \"http://h:1\"\ntokn_file = \"x\"\n");
        assert!(unknown.contains("line 4, column 1"), "{unknown}");
        assert!(unknown.contains("tokn_file"), "{unknown}");
        let both = parse_err("[[processor]]\nurl = \"http://h:1\"\nroot = \"/r\"\n");
        assert!(
            both.contains("line 3, column 8") && both.contains("exclude"),
            "{both}"
        );
        let neither = parse_err("[[processor]]\nname = \"a\"\n");
        assert!(
            neither.contains("line 1, column 1") && neither.contains("neither url"),
            "{neither}"
        );
        let scheme = parse_err("[[processor]]\nurl = \"https://h:1\"\n");
        assert!(
            scheme.contains("line 2, column 7") && scheme.contains("http://"),
            "{scheme}"
        );
        let dup = parse_err("[[processor]]\nname = \"a\"\nurl = \"http://h:1\"\n[[processor]]\nname = \"a\"\nurl = \"http://h:2\"\n");
        assert!(
            dup.contains("line 5, column 8") && dup.contains("line 1"),
            "{dup}"
        );
        let token = parse_err("[[processor]]\nroot = \"/r\"\ntoken_file = \"t\"\n");
        assert!(
            token.contains("line 3") && token.contains("control/token"),
            "{token}"
        );
        let empty = parse_err("# nothing\n");
        assert!(empty.contains("no processor listed"), "{empty}");
        let syntax = parse_err("[[processor]]\nname = \"a\nurl = 1\n");
        assert!(syntax.contains("f.toml, line 2"), "{syntax}");
    }
}
