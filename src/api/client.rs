//! The HTTP client of the API, used by the CLI and the console (reqwest).
//! SIGNATURES ONLY for now: being implemented on branch `api`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::wire::{ActionResult, Event, FileDetail, FileKind, FileQuery, Snapshot};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No processor answered (CLI exit code 3): says where it looked and how to start one.
    #[error("{0}")]
    Unreachable(String),
    /// The server answered with an error status (CLI exit code 1): its JSON message.
    #[error("{message} (HTTP {status})")]
    Refused { status: u16, message: String },
    /// Anything else (a malformed answer, ...).
    #[error("{0}")]
    Other(String),
}

/// Where the processor is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Bearer token; `None` for read-only use (`statmgr watch`).
    pub token: Option<String>,
    /// Where it was found, for error messages (`<root>/control/endpoint`, or `--url`).
    pub origin: String,
}

impl Target {
    /// Reads `<root>/control/endpoint` and, if `with_token`, `<root>/control/token`.
    pub fn from_root(root: &Path, with_token: bool) -> Result<Target, ClientError> {
        let _ = (root, with_token);
        todo!()
    }
    /// `--url URL [--token-file F]`.
    pub fn from_url(url: &str, token_file: Option<&PathBuf>) -> Result<Target, ClientError> {
        let _ = (url, token_file);
        todo!()
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    _private: (),
}

/// An open event stream (server-sent events), resumable with `Last-Event-ID`.
pub struct EventStream {
    _private: (),
}

impl EventStream {
    /// The next event; `Ok(None)` when the server closed the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        todo!()
    }
}

impl Client {
    pub fn new(target: Target, timeout: Duration) -> Client {
        let _ = (target, timeout);
        todo!()
    }
    pub fn target(&self) -> &Target {
        todo!()
    }
    pub async fn snapshot(&self, retry: &FileQuery, stuck: &FileQuery) -> Result<Snapshot, ClientError> {
        let _ = (retry, stuck);
        todo!()
    }
    pub async fn file_detail(
        &self,
        kind: FileKind,
        name: &str,
        offset: u64,
        limit: u64,
    ) -> Result<FileDetail, ClientError> {
        let _ = (kind, name, offset, limit);
        todo!()
    }
    /// Events after `last_event_id` (0: from now on).
    pub async fn events(&self, last_event_id: u64) -> Result<EventStream, ClientError> {
        let _ = last_event_id;
        todo!()
    }
    pub async fn pause(&self) -> Result<ActionResult, ClientError> {
        todo!()
    }
    pub async fn resume(&self) -> Result<ActionResult, ClientError> {
        todo!()
    }
    pub async fn flush(&self) -> Result<ActionResult, ClientError> {
        todo!()
    }
    pub async fn resync(&self) -> Result<ActionResult, ClientError> {
        todo!()
    }
    /// `attempts`: the version the client saw (409 if the file changed since).
    pub async fn requeue(&self, name: &str, attempts: Option<u32>) -> Result<ActionResult, ClientError> {
        let _ = (name, attempts);
        todo!()
    }
}
