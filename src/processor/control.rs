//! The processor's control surface: what the API (or any embedding program) may ask of a
//! running processor, and what it may read. Mutations reach the committer as commands.

use std::sync::Arc;

use tokio::sync::{oneshot, watch};

use crate::api::wire::{ActionResult, EventKind, FileDetail, FileKind, FileQuery, ProcessorState, Snapshot};
use crate::config::Limits;
use crate::processor::dirs::StateDir;
use crate::processor::telemetry::Telemetry;

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Not a bare file name (API: 400).
    #[error("{0}")]
    BadName(String),
    /// No such retry or stuck file (API: 404).
    #[error("{0}")]
    NotFound(String),
    /// The file changed since the client saw it (API: 409).
    #[error("{0}")]
    Stale(String),
    /// The processor is shutting down or the committer is gone (API: 503).
    #[error("{0}")]
    Unavailable(String),
    /// It was tried and failed (API: 500).
    #[error("{0}")]
    Failed(String),
}

pub type Reply = oneshot::Sender<Result<String, ControlError>>;

/// A mutation for the committer thread, which owns the database and the retry files.
#[derive(Debug)]
pub enum Command {
    Flush {
        reply: Reply,
    },
    Resync {
        reply: Reply,
    },
    Requeue {
        name: String,
        expected_attempts: Option<u32>,
        reply: Reply,
    },
}

/// Cheap to clone; every clone talks to the same processor.
#[derive(Clone, Debug)]
pub struct Handle {
    pub telemetry: Arc<Telemetry>,
    pub dirs: StateDir,
    commands: crossbeam_channel::Sender<Command>,
    paused: Arc<watch::Sender<bool>>,
    /// The inbox's limits, which retry and stuck files are read with.
    limits: Limits,
}

impl Handle {
    pub fn new(
        telemetry: Arc<Telemetry>,
        dirs: StateDir,
        commands: crossbeam_channel::Sender<Command>,
        paused: Arc<watch::Sender<bool>>,
    ) -> Handle {
        Handle {
            telemetry,
            dirs,
            commands,
            paused,
            limits: Limits::default(),
        }
    }

    /// The limits retry and stuck files are read with (the processor's own).
    pub fn with_limits(mut self, limits: Limits) -> Handle {
        self.limits = limits;
        self
    }

    pub fn snapshot(&self, retry: &FileQuery, stuck: &FileQuery) -> Snapshot {
        self.telemetry.snapshot(retry, stuck)
    }

    /// One retry or stuck file read from disk, with a page of its messages. Blocking I/O:
    /// call it from a blocking context.
    pub fn file_detail(
        &self,
        kind: FileKind,
        name: &str,
        offset: u64,
        limit: u64,
    ) -> Result<FileDetail, ControlError> {
        crate::processor::retry::file_detail(
            &self.dirs,
            &self.telemetry,
            kind,
            name,
            offset,
            limit,
            &self.limits,
        )
    }

    fn record(&self, action: &str, target: Option<&str>, origin: &str, outcome: &str) -> ActionResult {
        self.telemetry.emit(EventKind::OperatorAction {
            action: action.to_string(),
            target: target.map(str::to_string),
            origin: origin.to_string(),
            outcome: outcome.to_string(),
        });
        ActionResult {
            action: action.to_string(),
            outcome: outcome.to_string(),
        }
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Stops intake: files stay in `inbox/`; retries and the open batch go on.
    pub fn pause(&self, origin: &str) -> ActionResult {
        let was = self.paused.send_replace(true);
        if self.telemetry.state() == ProcessorState::Running {
            self.telemetry.set_state(ProcessorState::Paused);
        }
        let outcome = if was {
            "intake was already paused"
        } else {
            "intake paused"
        };
        self.record("pause", None, origin, outcome)
    }

    pub fn resume(&self, origin: &str) -> ActionResult {
        let was = self.paused.send_replace(false);
        if self.telemetry.state() == ProcessorState::Paused {
            self.telemetry.set_state(ProcessorState::Running);
        }
        let outcome = if was {
            "intake resumed"
        } else {
            "intake was not paused"
        };
        self.record("resume", None, origin, outcome)
    }

    async fn ask(&self, make: impl FnOnce(Reply) -> Command) -> Result<String, ControlError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| ControlError::Unavailable("the processor is shutting down".into()))?;
        rx.await
            .map_err(|_| ControlError::Unavailable("the processor stopped before answering".into()))?
    }

    async fn ask_and_record(
        &self,
        action: &str,
        target: Option<&str>,
        origin: &str,
        make: impl FnOnce(Reply) -> Command,
    ) -> Result<ActionResult, ControlError> {
        match self.ask(make).await {
            Ok(outcome) => Ok(self.record(action, target, origin, &outcome)),
            Err(e) => {
                self.record(action, target, origin, &format!("refused: {e}"));
                Err(e)
            }
        }
    }

    /// Commits the open batch now.
    pub async fn flush(&self, origin: &str) -> Result<ActionResult, ControlError> {
        self.ask_and_record("flush", None, origin, |reply| Command::Flush { reply })
            .await
    }

    /// Reconciles the allocator with the database now.
    pub async fn resync(&self, origin: &str) -> Result<ActionResult, ControlError> {
        self.ask_and_record("resync", None, origin, |reply| Command::Resync { reply })
            .await
    }

    /// A stuck file goes back to `retry/`, due now; a retry file becomes due now.
    /// `expected_attempts` is the version the client saw.
    pub async fn requeue(
        &self,
        name: &str,
        expected_attempts: Option<u32>,
        origin: &str,
    ) -> Result<ActionResult, ControlError> {
        if let Err(e) = crate::processor::dirs::validate_file_name(name) {
            let e = ControlError::BadName(e.to_string());
            self.record(
                "requeue",
                Some(&format!("{name:?}")),
                origin,
                &format!("refused: {e}"),
            );
            return Err(e);
        }
        let name_owned = name.to_string();
        self.ask_and_record("requeue", Some(name), origin, move |reply| Command::Requeue {
            name: name_owned,
            expected_attempts,
            reply,
        })
        .await
    }
}
