//! `statmgr send`: drop messages into the inbox the way producers must — a temporary
//! dot-file, fsync, rename to `*.json`/`*.jsonl`, fsync of the directory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cli::RootArg;
use crate::config::Limits;
use crate::message::{escape_text, parse_file, FileFormat};
use crate::processor::dirs::write_durably;

#[derive(clap::Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub root: RootArg,
    /// Message files (one JSON object, or JSON Lines); standard input if none
    pub files: Vec<PathBuf>,
    /// Drop the files as they are, without checking them first
    #[arg(long)]
    pub no_validate: bool,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A unique, time-ordered inbox name.
fn inbox_name(format: FileFormat) -> String {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f");
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let ext = match format {
        FileFormat::Json => "json",
        FileFormat::JsonLines => "jsonl",
    };
    format!("{stamp}-{}-{n}.{ext}", std::process::id())
}

/// Decides the format (by the source name, else by content) and checks every message.
fn check(source: &str, bytes: &[u8], validate: bool) -> Result<(FileFormat, usize), String> {
    let by_name = FileFormat::from_name(source.rsplit('/').next().unwrap_or(source));
    let limits = Limits::default();
    let candidates: &[FileFormat] = match by_name {
        Some(f) => &[f][..],
        None => &[FileFormat::Json, FileFormat::JsonLines][..],
    };
    if !validate {
        return Ok((by_name.unwrap_or(FileFormat::JsonLines), 0));
    }
    let mut last = String::new();
    for &format in candidates {
        match parse_file(format, bytes, &limits) {
            Ok(p) if p.rejected.is_empty() => return Ok((format, p.messages.len())),
            Ok(p) => {
                let bad = &p.rejected[0];
                last = format!(
                    "line {}: {} ({} bad lines in all)",
                    bad.line,
                    bad.reason,
                    p.rejected.len()
                );
            }
            Err(e) => last = e.reason,
        }
    }
    Err(last)
}

fn send_one(inbox: &Path, source: &str, bytes: &[u8], validate: bool) -> Result<String, String> {
    let (format, count) = check(source, bytes, validate)?;
    let name = inbox_name(format);
    write_durably(inbox, &name, bytes).map_err(|e| format!("cannot write to {}: {e}", inbox.display()))?;
    Ok(if validate {
        format!("{name} ({count} messages)")
    } else {
        name
    })
}

pub fn main(args: SendArgs) -> ExitCode {
    let root = args.root.path();
    let inbox = root.join("inbox");
    if !inbox.is_dir() {
        eprintln!(
            "statmgr send: {} does not exist; start a processor first (`statmgr run --root {}`) or give --root",
            inbox.display(),
            root.display()
        );
        return ExitCode::FAILURE;
    }
    let mut inputs: Vec<(String, Result<Vec<u8>, std::io::Error>)> = Vec::new();
    if args.files.is_empty() {
        let mut buf = Vec::new();
        let r = std::io::stdin().read_to_end(&mut buf).map(|_| buf);
        inputs.push(("standard input".into(), r));
    } else {
        for f in &args.files {
            inputs.push((f.display().to_string(), std::fs::read(f)));
        }
    }
    let mut failed = false;
    for (source, bytes) in inputs {
        let result = bytes
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|b| send_one(&inbox, &source, &b, !args.no_validate));
        match result {
            Ok(what) => println!("{}: sent as inbox/{what}", escape_text(&source)),
            Err(why) => {
                failed = true;
                eprintln!("statmgr send: {}: {}", escape_text(&source), escape_text(&why));
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
