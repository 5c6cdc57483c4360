//! The HTTP client of the API, used by the CLI and the console (reqwest): finding the
//! processor, authenticating, decoding answers and errors, and following the event stream.

mod bulk;
mod find;
pub mod history;
mod sse;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::api::query::{file_query_pairs, STUCK_PREFIX};
use crate::api::wire::{
    ActionResult, ApiError, Event, FileDetail, FileKind, FileQuery, HealthStatus, RequeueRequest, Snapshot,
};

pub use sse::{Frame, Parser as SseParser};

/// Longest wait for a TCP connection, whatever the call's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An event stream that stays silent this long is dead: the server sends a comment every 15 s.
const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(45);
/// Below the server's idle limit, so the client never reuses a connection the server closed.
const POOL_IDLE: Duration = Duration::from_secs(10);
/// Longest error body read back.
const MAX_ERROR_BODY: usize = 64 * 1024;

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

/// How to start a processor, naming the root the endpoint file came from when known.
fn start_hint(origin: &str) -> String {
    let path = Path::new(origin);
    let root = if path.ends_with("control/endpoint") {
        path.parent().and_then(Path::parent)
    } else {
        None
    };
    let root = root
        .map(|r| r.display().to_string())
        .unwrap_or_else(|| "DIR".into());
    format!("start one with `statmgr run --root {root}`")
}

/// Checks a base URL and drops a trailing slash.
fn base_url(text: &str, origin: &str) -> Result<String, ClientError> {
    let text = text.trim().trim_end_matches('/');
    match reqwest::Url::parse(text) {
        Ok(url) if url.scheme() == "http" && url.host().is_some() => Ok(text.to_string()),
        Ok(_) => Err(ClientError::Other(format!(
            "{origin}: {text:?} is not an http:// URL with a host (like http://127.0.0.1:41234)"
        ))),
        Err(e) => Err(ClientError::Other(format!(
            "{origin}: {text:?} is not a URL: {e}"
        ))),
    }
}

fn read_token(path: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            "; run as the user that runs the processor, or watch read-only without a token"
        } else {
            ""
        };
        ClientError::Other(format!(
            "cannot read the control token {}: {e}{hint}",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ClientError::Other(format!(
            "the control token {} is empty",
            path.display()
        )));
    }
    Ok(token.to_string())
}

impl Target {
    /// Reads `<root>/control/endpoint` and, if `with_token`, `<root>/control/token`.
    pub fn from_root(root: &Path, with_token: bool) -> Result<Target, ClientError> {
        let endpoint = root.join("control").join("endpoint");
        let origin = endpoint.display().to_string();
        let text = match std::fs::read_to_string(&endpoint) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ClientError::Unreachable(format!(
                    "no processor is running for {}: {origin} does not exist; {}",
                    root.display(),
                    start_hint(&origin)
                )))
            }
            Err(e) => return Err(ClientError::Other(format!("cannot read {origin}: {e}"))),
        };
        let url = base_url(&text, &origin)?;
        let token = if with_token {
            Some(read_token(&root.join("control").join("token"))?)
        } else {
            None
        };
        Ok(Target { url, token, origin })
    }

    /// The same target with the token read from `path` (`--token-file` beside `--root`).
    pub fn with_token_file(self, path: &Path) -> Result<Target, ClientError> {
        Ok(Target {
            token: Some(read_token(path)?),
            ..self
        })
    }

    /// `--url URL [--token-file F]`.
    pub fn from_url(url: &str, token_file: Option<&PathBuf>) -> Result<Target, ClientError> {
        let url = base_url(url, "--url")?;
        let token = token_file.map(|f| read_token(f)).transpose()?;
        Ok(Target {
            url,
            token,
            origin: "--url".into(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    target: Target,
    /// Calls with a total timeout.
    calls: reqwest::Client,
    /// Event streams: no total timeout, a read timeout instead.
    streams: reqwest::Client,
}

/// An open event stream (server-sent events), resumable with `Last-Event-ID`.
pub struct EventStream {
    response: reqwest::Response,
    parser: sse::Parser,
    last_event_id: u64,
    target: Target,
}

impl EventStream {
    /// The next event; `Ok(None)` when the server closed the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        loop {
            if let Some(frame) = self.parser.next_frame() {
                let event: Event = serde_json::from_str(&frame.data).map_err(|e| {
                    ClientError::Other(format!("malformed event from {}: {e}", self.target.url))
                })?;
                self.last_event_id = frame.id.and_then(|id| id.parse().ok()).unwrap_or(event.id);
                return Ok(Some(event));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.parser.push(&chunk).map_err(ClientError::Other)?,
                Ok(None) => return Ok(None),
                Err(e) => return Err(transport_error(&self.target, e)),
            }
        }
    }

    /// The id to resume after (`Client::events(stream.last_event_id())`).
    pub fn last_event_id(&self) -> u64 {
        self.last_event_id
    }

    /// The reconnection delay the server asked for, if it did.
    pub fn retry_hint(&self) -> Option<Duration> {
        self.parser.retry()
    }
}

fn transport_error(target: &Target, e: reqwest::Error) -> ClientError {
    let detail = if e.is_timeout() {
        "it did not answer in time".to_string()
    } else {
        // The source chain says why (connection refused, reset, ...).
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    };
    if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() {
        let stale = if target.origin == "--url" {
            String::new()
        } else {
            " (the endpoint file may be left over from a processor that stopped)".into()
        };
        ClientError::Unreachable(format!(
            "no processor answered at {} (from {}){stale}: {detail}; {}",
            target.url,
            target.origin,
            start_hint(&target.origin)
        ))
    } else {
        ClientError::Other(format!("{}: {detail}", target.url))
    }
}

/// The server's error message, from its JSON body when it has one.
async fn refused(response: reqwest::Response) -> ClientError {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let body = &body[..body.len().min(MAX_ERROR_BODY)];
    let message = match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => e.error,
        Err(_) => {
            let text = String::from_utf8_lossy(body).trim().to_string();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            }
        }
    };
    ClientError::Refused {
        status: status.as_u16(),
        message,
    }
}

fn build(timeout: Option<Duration>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE)
        .no_proxy();
    builder = match timeout {
        Some(t) => builder.timeout(t),
        None => builder.read_timeout(STREAM_READ_TIMEOUT),
    };
    // Without TLS the builder has nothing that can fail; the default client is the fallback.
    builder.build().unwrap_or_default()
}

impl Client {
    pub fn new(target: Target, timeout: Duration) -> Client {
        Client {
            target,
            calls: build(Some(timeout)),
            streams: build(None),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// `base/api/v1/<segments...>`, each segment percent-encoded (a name stays one segment).
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, ClientError> {
        let mut url = reqwest::Url::parse(&self.target.url)
            .map_err(|e| ClientError::Other(format!("{}: {e}", self.target.url)))?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Other(format!("{} cannot be a base URL", self.target.url)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&self.target, e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(refused(response).await)
        }
    }

    async fn json<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let response = self.send(request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&self.target, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Other(format!("malformed answer from {}: {e}", self.target.url)))
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.target.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn snapshot(&self, retry: &FileQuery, stuck: &FileQuery) -> Result<Snapshot, ClientError> {
        let mut query = file_query_pairs("", retry);
        query.extend(file_query_pairs(STUCK_PREFIX, stuck));
        let url = self.url(&["api", "v1", "snapshot"])?;
        self.json(self.calls.get(url).query(&query)).await
    }

    pub async fn file_detail(
        &self,
        kind: FileKind,
        name: &str,
        offset: u64,
        limit: u64,
    ) -> Result<FileDetail, ClientError> {
        let url = self.url(&["api", "v1", kind.as_str(), name])?;
        let query = [("offset", offset), ("limit", limit)];
        self.json(self.calls.get(url).query(&query)).await
    }

    /// Events after `last_event_id` (0: from now on).
    pub async fn events(&self, last_event_id: u64) -> Result<EventStream, ClientError> {
        let url = self.url(&["api", "v1", "events"])?;
        let mut request = self
            .streams
            .get(url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if last_event_id > 0 {
            request = request.header("Last-Event-ID", last_event_id.to_string());
        }
        // No total timeout: it would cut the stream; the stream client has a read timeout.
        let response = self.send(request).await?;
        Ok(EventStream {
            response,
            parser: sse::Parser::new(),
            last_event_id,
            target: self.target.clone(),
        })
    }

    /// `GET /healthz` or `/readyz` (`probe` is `healthz` or `readyz`): whether it said 200,
    /// and its body (503 is an answer here, not an error).
    pub async fn health(&self, probe: &str) -> Result<(bool, HealthStatus), ClientError> {
        let url = self.url(&[probe])?;
        let response = self
            .calls
            .get(url)
            .send()
            .await
            .map_err(|e| transport_error(&self.target, e))?;
        let ok = response.status().is_success();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&self.target, e))?;
        let body = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Other(format!("malformed /{probe} answer from {}: {e}", self.target.url))
        })?;
        Ok((ok, body))
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let url = self.url(&["metrics"])?;
        let response = self.send(self.calls.get(url)).await?;
        response
            .text()
            .await
            .map_err(|e| transport_error(&self.target, e))
    }

    async fn mutate(&self, segments: &[&str], body: Option<String>) -> Result<ActionResult, ClientError> {
        let url = self.url(segments)?;
        let mut request = self.authorized(self.calls.post(url));
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        self.json(request).await
    }

    pub async fn pause(&self) -> Result<ActionResult, ClientError> {
        self.mutate(&["api", "v1", "pause"], None).await
    }

    pub async fn resume(&self) -> Result<ActionResult, ClientError> {
        self.mutate(&["api", "v1", "resume"], None).await
    }

    pub async fn flush(&self) -> Result<ActionResult, ClientError> {
        self.mutate(&["api", "v1", "flush"], None).await
    }

    pub async fn resync(&self) -> Result<ActionResult, ClientError> {
        self.mutate(&["api", "v1", "resync"], None).await
    }

    /// `attempts`: the version the client saw (409 if the file changed since).
    pub async fn requeue(&self, name: &str, attempts: Option<u32>) -> Result<ActionResult, ClientError> {
        let body = serde_json::to_string(&RequeueRequest { attempts })
            .map_err(|e| ClientError::Other(format!("cannot encode the requeue request: {e}")))?;
        self.mutate(&["api", "v1", "retry", name, "requeue"], Some(body))
            .await
    }
}
