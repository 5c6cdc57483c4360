//! The API server inside `statmgr run`: binds (loopback unless told otherwise), publishes
//! `<root>/control/endpoint` and `token`, serves HTTP/1 until shutdown, then withdraws.
//!
//! Routes (every one behind the `Host` check, 403; errors are `wire::ApiError`):
//! `GET /api/v1/snapshot` (query parameters: see `api::query`), `GET /api/v1/retry/{name}`
//! and `/api/v1/stuck/{name}` (`offset`, `limit` of its messages), `GET /api/v1/events`
//! (server-sent events; `Last-Event-ID` header or `?last_event_id=`), `GET /metrics`,
//! `GET /healthz` and `GET /readyz` (200, or 503 with `wire::HealthStatus`);
//! with `Authorization: Bearer <token>`: `POST /api/v1/pause`, `resume`, `flush`, `resync`,
//! `/api/v1/retry/{name}/requeue` (optional body `wire::RequeueRequest`, for retry and stuck files).
//! Triage (see `bulk`): `GET /api/v1/causes`, `GET /api/v1/bulk/select`; with the token
//! `POST /api/v1/bulk/preview` and `POST /api/v1/bulk/action`.

mod auth;
mod bulk;
mod failure;
mod find;
mod health;
mod history;
mod linger;
mod metrics;
mod routes;
mod slots;
mod sse;
mod unread_body;

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::Error;
use crate::processor::control::Handle;
use crate::processor::dirs::sync_dir;

pub use auth::{constant_time_eq, HostPolicy};
pub use failure::control_status;
pub use routes::MAX_BODY;

/// A client must send a whole request head within this time; an idle kept-alive connection
/// is closed after it too, so idle connections cost nothing for long.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once. A new one takes the slot of the oldest connection that never
/// sent a request (see `slots`); when all are in use it is closed at once.
const MAX_CONNECTIONS: usize = 512;
/// How long shutdown waits for open requests to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `ServerOptions::liveness_limit` unless the service manager's watchdog asks for less.
pub const DEFAULT_LIVENESS_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen` address.
    pub listen_public: bool,
    /// Refuse every mutation (403).
    pub read_only: bool,
    /// `/healthz` says 503 once the committer or intake thread made no progress for this long.
    pub liveness_limit: Duration,
}

#[derive(Debug)]
pub struct RunningServer {
    /// The address bound (the real port when 0 was asked).
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Returns once the server stopped (after `shutdown` was cancelled) and withdrew its endpoint.
    pub async fn wait(self) {
        if let Err(e) = self.task.await {
            tracing::error!("the API server task failed: {e}");
        }
    }
}

fn check_listen(opts: &ServerOptions) -> Result<(), Error> {
    if opts.listen.ip().is_loopback() {
        return Ok(());
    }
    if !opts.listen_public {
        return Err(Error::Config(format!(
            "refusing to serve the API on {}: it is not a loopback address, so other machines could \
             reach it; use 127.0.0.1 or [::1], or pass --listen-public if that is what you want",
            opts.listen
        )));
    }
    tracing::warn!(
        listen = %opts.listen,
        "the API listens on a non-loopback address (--listen-public): other machines can read \
         the state, and change it with the token; there is no TLS"
    );
    Ok(())
}

/// A listening socket with a deep accept queue, so a burst of connections (an attacker's,
/// or many consoles at once) is queued by the kernel rather than dropped and retried.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Binds, writes `<root>/control/endpoint` ("http://ADDR\n") and `<root>/control/token` (64 hex
/// chars = 32 random bytes, file mode 0600; the control dir exists with 0700), serves until
/// `shutdown` is cancelled, then removes `control/endpoint`.
pub async fn start(
    handle: Handle,
    opts: ServerOptions,
    shutdown: CancellationToken,
) -> Result<RunningServer, Error> {
    check_listen(&opts)?;
    let listener = listen(opts.listen).map_err(|source| Error::Io {
        what: "listen on",
        path: opts.listen.to_string(),
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| Error::Io {
        what: "read the address of",
        path: opts.listen.to_string(),
        source,
    })?;
    let token = auth::new_token();
    let control = handle.dirs.control.clone();
    let files = (control.clone(), token.clone());
    tokio::task::spawn_blocking(move || publish(&files.0, addr, &files.1))
        .await
        .map_err(|e| Error::Config(format!("writing the control files failed: {e}")))??;

    let metrics = Arc::new(metrics::Metrics::new(handle.telemetry.clone()));
    let tracker = TaskTracker::new();
    tracker.spawn(
        metrics
            .clone()
            .follow_batches(handle.telemetry.clone(), shutdown.clone()),
    );
    let shared = routes::Shared {
        handle,
        token,
        read_only: opts.read_only,
        hosts: HostPolicy::new(addr, opts.listen_public),
        metrics,
        shutdown: shutdown.clone(),
        liveness_limit: opts.liveness_limit,
    };
    let app = routes::router(Arc::new(shared));
    tracing::info!(%addr, read_only = opts.read_only, "API listening");
    let task = tokio::spawn(serve(listener, app, shutdown, tracker, control.join("endpoint")));
    Ok(RunningServer { addr, task })
}

/// Writes `name` in the control directory: a temporary file with mode 0600, fsync, rename.
fn write_private(dir: &Path, name: &str, text: &str) -> Result<PathBuf, Error> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("write", &target, e)
    })?;
    Ok(target)
}

/// The token first, so that whoever finds the endpoint finds the matching token.
fn publish(control: &Path, addr: SocketAddr, token: &str) -> Result<(), Error> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(control)
        .map_err(|e| Error::io("create control directory", control, e))?;
    fs::set_permissions(control, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("set mode of", control, e))?;
    write_private(control, "token", &format!("{token}\n"))?;
    write_private(control, "endpoint", &format!("http://{addr}\n"))?;
    sync_dir(control).map_err(|e| Error::io("sync", control, e))
}

async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    endpoint: PathBuf,
) {
    let slots = slots::Slots::new(MAX_CONNECTIONS);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, most likely: wait instead of spinning.
                    tracing::warn!("API accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(ticket) = slots.admit() else {
            tracing::debug!(%peer, "API connection refused: {MAX_CONNECTIONS} connections in use");
            continue;
        };
        tracker.spawn(connection(stream, peer, app.clone(), shutdown.clone(), ticket));
    }
    drop(listener);
    if let Err(e) = fs::remove_file(&endpoint) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("cannot remove {}: {e}", endpoint.display());
        }
    }
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("API connections still open {SHUTDOWN_GRACE:?} after shutdown; leaving them");
    }
    tracing::info!("API stopped");
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
    ticket: slots::Ticket,
) {
    let inner = TowerToHyperService::new(app.layer(Extension(ConnectInfo(peer))));
    let used = ticket.used.clone();
    let service = hyper::service::service_fn(move |req| {
        used.store(true, std::sync::atomic::Ordering::Relaxed);
        let (req, body_ended) = unread_body::watch(req);
        let answer = hyper::service::Service::call(&inner, req);
        // Boxed: `poll_without_shutdown` needs an `Unpin` future.
        Box::pin(async move {
            let mut response = answer.await?;
            unread_body::close_if_unread(&mut response, &body_ended);
            Ok::<_, std::convert::Infallible>(response)
        })
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // Served without the final shutdown, so that the socket can be taken back for a
    // lingering close (see `linger`).
    let mut conn = builder.serve_connection(TokioIo::new(stream), service);
    let result = tokio::select! {
        result = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => result,
        _ = ticket.evict.cancelled() => {
            tracing::debug!(%peer, "API connection evicted: idle while the server was full");
            return;
        }
        _ = shutdown.cancelled() => {
            std::pin::Pin::new(&mut conn).graceful_shutdown();
            if let Err(e) = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)).await {
                tracing::debug!(%peer, "API connection ended at shutdown: {e}");
            }
            return;
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "API connection ended: {e}");
        return;
    }
    let mut stream = conn.into_parts().io.into_inner();
    // Lingering holds the slot, but as an idle one: a new connection may take it.
    ticket.used.store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::select! {
        (end, thrown) = linger::discard(&mut stream, linger::LIMITS) => {
            if end != linger::End::ClientClosed {
                tracing::debug!(%peer, ?end, thrown, "API connection closed after lingering");
            }
        }
        _ = ticket.evict.cancelled() => {}
        _ = shutdown.cancelled() => {}
    }
}
