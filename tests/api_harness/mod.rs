//! A test harness for the API (not the processor): a real `Handle` over a real temporary
//! state directory and real telemetry, the real server on a loopback port, and a thread that
//! answers the command channel the way the committer will.
#![allow(dead_code)] // each test file uses its own part of the harness

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use statmgr::api::client::{Client, Target};
use statmgr::api::server::{self, RunningServer, ServerOptions};
use statmgr::api::wire::{BatchInfo, ConfigInfo, FileKind, ProcessorState};
use statmgr::processor::control::{Command, ControlError, Handle};
use statmgr::processor::dirs::{resolve_regular_file, StateDir};
use statmgr::processor::telemetry::{FileEntry, Telemetry};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub dirs: StateDir,
    pub telemetry: Arc<Telemetry>,
    pub handle: Handle,
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    /// Requeue commands that reached the committer's side.
    pub requeues_seen: Arc<AtomicUsize>,
    server: Option<RunningServer>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(false).await
    }

    pub async fn start_with(read_only: bool) -> Harness {
        let dir = tempfile::tempdir().expect("temporary directory");
        let dirs = StateDir::at(&dir.path().join("state"));
        dirs.create().expect("state directory");
        let telemetry = Arc::new(Telemetry::new(
            dirs.root.display().to_string(),
            ConfigInfo {
                read_only_api: read_only,
                ..ConfigInfo::default()
            },
        ));
        telemetry.set_state(ProcessorState::Running);
        let (tx, rx) = crossbeam_channel::unbounded();
        let (paused, _) = watch::channel(false);
        let handle = Handle::new(telemetry.clone(), dirs.clone(), tx, Arc::new(paused));
        let requeues_seen = Arc::new(AtomicUsize::new(0));
        let (d, t, seen) = (dirs.clone(), telemetry.clone(), requeues_seen.clone());
        std::thread::spawn(move || answer_commands(rx, d, t, seen));
        let shutdown = CancellationToken::new();
        let opts = ServerOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            listen_public: false,
            read_only,
            liveness_limit: statmgr::api::server::DEFAULT_LIVENESS_LIMIT,
        };
        let server = server::start(handle.clone(), opts, shutdown.clone())
            .await
            .expect("server starts");
        Harness {
            dir,
            dirs,
            telemetry,
            handle,
            addr: server.addr,
            shutdown,
            requeues_seen,
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn token(&self) -> String {
        fs::read_to_string(self.dirs.control.join("token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// A client that found the server the way the CLI does, through `<root>/control/`.
    pub fn client(&self) -> Client {
        let target = Target::from_root(&self.dirs.root, true).expect("control files");
        Client::new(target, Duration::from_secs(10))
    }

    pub fn raw(&self) -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// A file in `retry/` or `stuck/`, known to telemetry with `attempts`.
    pub fn put_file(&self, kind: FileKind, name: &str, attempts: u32, error: &str) -> PathBuf {
        let dir = match kind {
            FileKind::Retry => &self.dirs.retry,
            FileKind::Stuck => &self.dirs.stuck,
            FileKind::Discarded => &self.dirs.discarded,
        };
        let path = dir.join(name);
        fs::write(&path, format!("{{\"file\":{name:?}}}\n")).unwrap();
        self.telemetry.upsert_file(
            kind,
            FileEntry {
                name: name.into(),
                messages: 2,
                attempts,
                next_attempt: (kind == FileKind::Retry).then(|| SystemTime::now() + Duration::from_secs(60)),
                last_error: error.into(),
                created: SystemTime::now() - Duration::from_secs(attempts as u64),
            },
        );
        path
    }

    pub fn commit_batch(&self, id: i64) {
        self.telemetry.batch_committed(batch(id));
    }

    /// Cancels the server and waits until it stopped.
    pub async fn stop(mut self) -> Harness {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server.wait())
                .await
                .expect("the server stops within 10 s");
        }
        self
    }
}

pub fn batch(id: i64) -> BatchInfo {
    BatchInfo {
        id,
        committed_at: "2024-01-01T00:00:00.000Z".into(),
        count: 10,
        duplicates: 0,
        first_record_id: Some(id * 10),
        last_record_id: Some(id * 10 + 9),
        duration_ms: 3.0,
        source: "inbox".into(),
        source_file: None,
    }
}

fn answer_commands(
    rx: crossbeam_channel::Receiver<Command>,
    dirs: StateDir,
    telemetry: Arc<Telemetry>,
    requeues_seen: Arc<AtomicUsize>,
) {
    for command in rx {
        let _ = match command {
            Command::Flush { reply } => reply.send(Ok("open batch committed (0 messages)".into())),
            Command::Resync { reply } => reply.send(Ok("allocator reconciled with the database".into())),
            Command::Requeue {
                name,
                expected_attempts,
                reply,
            } => {
                requeues_seen.fetch_add(1, Ordering::SeqCst);
                reply.send(requeue(&dirs, &telemetry, &name, expected_attempts))
            }
            // Bulk actions are tested against the real committer (tests/triage_*.rs).
            Command::Bulk { reply, .. } => {
                let _ = reply.send(Err(ControlError::Unavailable(
                    "the API harness has no committer".into(),
                )));
                Ok(())
            }
        };
    }
}

/// What the committer does: find the file in `retry/` or `stuck/` (never following a link),
/// refuse a stale version, and move a stuck file back to `retry/`.
fn requeue(
    dirs: &StateDir,
    telemetry: &Telemetry,
    name: &str,
    expected: Option<u32>,
) -> Result<String, ControlError> {
    for (kind, dir) in [(FileKind::Retry, &dirs.retry), (FileKind::Stuck, &dirs.stuck)] {
        let path = match resolve_regular_file(dir, name) {
            Err(e) => return Err(ControlError::BadName(e.to_string())),
            Ok(None) => continue,
            Ok(Some(path)) => path,
        };
        let entry = telemetry.file(kind, name);
        let attempts = entry.as_ref().map(|e| e.attempts).unwrap_or(0);
        if let Some(expected) = expected.filter(|e| *e != attempts) {
            return Err(ControlError::Stale(format!(
                "{name:?} changed since you saw it: {attempts} attempts now, you saw {expected}"
            )));
        }
        if kind == FileKind::Stuck {
            fs::rename(&path, dirs.retry.join(name)).map_err(|e| ControlError::Failed(e.to_string()))?;
            if let Some(entry) = telemetry.remove_file(FileKind::Stuck, name) {
                telemetry.upsert_file(FileKind::Retry, entry);
            }
            return Ok(format!("{name} moved back to retry/, due now"));
        }
        return Ok(format!("{name} is due now"));
    }
    Err(ControlError::NotFound(format!(
        "no retry or stuck file named {name:?}"
    )))
}
