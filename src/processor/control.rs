//! The processor's control surface: what the API (or any embedding program) may ask of a
//! running processor, and what it may read. Mutations reach the committer as commands.

use std::sync::Arc;

use tokio::sync::{oneshot, watch};

use crate::api::wire::{
    ActionResult, BulkResult, BulkSelection, BulkSource, CauseList, EventKind, FileDetail, FileKind,
    FileQuery, ProcessorState, Snapshot, MAX_BULK_FILES,
};
use crate::config::Limits;
use crate::processor::dirs::StateDir;
use crate::processor::exact_set::{PreviewSet, SetItem};
use crate::processor::fileops::ActionOrigin;
use crate::processor::telemetry::Telemetry;

pub use crate::processor::fileops::ControlError;

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
    /// Acts on exactly this set, in slices between batches.
    Bulk {
        request: crate::processor::exact_set::BulkOrder,
        origin: ActionOrigin,
        reply: crate::processor::bulk::BulkReply,
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
    /// `find` and the batch drill-down (`None` in harnesses without a database).
    finder: Option<Arc<crate::processor::find::Finder>>,
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
            finder: None,
        }
    }

    pub fn with_finder(mut self, finder: Arc<crate::processor::find::Finder>) -> Handle {
        self.finder = Some(finder);
        self
    }

    /// `find` and the batch drill-down, when this processor has them.
    pub fn finder(&self) -> Option<Arc<crate::processor::find::Finder>> {
        self.finder.clone()
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
        crate::processor::fileops::file_detail(
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

    /// The snapshot with a page of `discarded/`.
    pub fn snapshot_with(&self, retry: &FileQuery, stuck: &FileQuery, discarded: &FileQuery) -> Snapshot {
        self.telemetry.snapshot_with(retry, stuck, discarded)
    }

    /// The files of one directory grouped by cause.
    pub fn causes(&self, source: BulkSource, filter: Option<&str>) -> CauseList {
        self.telemetry.causes(source, filter)
    }

    /// The exact set a selection names now, with its summary. `Err(n)`: more than
    /// [`MAX_BULK_FILES`] files (n of them).
    pub fn preview(&self, sel: &BulkSelection) -> Result<PreviewSet, usize> {
        let (set, missing) = if sel.names.is_empty() {
            let older = sel
                .older_than_days
                .map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400));
            let set = self
                .telemetry
                .select(sel.source, sel.filter.as_deref(), sel.cause.as_deref(), older);
            (set, Vec::new())
        } else {
            let mut set: Vec<SetItem> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut missing = Vec::new();
            for name in &sel.names {
                match self.telemetry.set_item(sel.source, name) {
                    Some(e) if seen.insert(e.name.clone()) => set.push(e),
                    Some(_) => {}
                    None => missing.push(name.clone()),
                }
            }
            (set, missing)
        };
        if set.len() > MAX_BULK_FILES {
            return Err(set.len());
        }
        Ok(PreviewSet::new(sel.action, sel.source, set, missing))
    }

    /// Runs a bulk action on exactly `request.set` and waits for its result. The committer
    /// works on it in slices between batches; progress goes to the event stream.
    pub async fn bulk(
        &self,
        request: crate::processor::exact_set::BulkOrder,
        origin: ActionOrigin,
    ) -> Result<BulkResult, ControlError> {
        if let Err(why) = crate::processor::bulk::check_applies(request.action, request.source) {
            return Err(ControlError::BadName(why));
        }
        for entry in &request.set {
            crate::processor::dirs::validate_file_name(&entry.name)
                .map_err(|e| ControlError::BadName(e.to_string()))?;
        }
        let (tx, rx) = oneshot::channel();
        let action = request.action;
        self.commands
            .send(Command::Bulk {
                request,
                origin: origin.clone(),
                reply: tx,
            })
            .map_err(|_| ControlError::Unavailable("the processor is shutting down".into()))?;
        let result = rx
            .await
            .map_err(|_| ControlError::Unavailable("the processor stopped before answering".into()))?;
        if let Err(e) = &result {
            self.record(
                &format!("bulk {}", action.as_str()),
                None,
                &origin.by,
                &format!("refused: {e}"),
            );
        }
        result
    }
}
