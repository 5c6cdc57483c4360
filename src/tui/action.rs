//! Everything that can happen to the console (a key, a resize, a tick, an API update), and
//! the commands the reducer asks the API task to carry out.

use crate::api::wire::{
    ActionResult, BulkPreview, BulkRequest, BulkResult, CauseList, Event, FileDetail, FileKind, FileQuery,
    Snapshot,
};
use crate::tui::keymap::Key;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(Key),
    Resize {
        width: u16,
        height: u16,
    },
    /// Once a second: ages and "disconnected since" move on.
    Tick,
    /// `statmgr demo`'s rate and what it is doing, read from its hooks.
    Demo {
        rate: u64,
        status: String,
    },
    Api(ApiUpdate),
    /// An update from one processor of a fleet (`processor`: its index, in the order given).
    Processor {
        processor: usize,
        update: ApiUpdate,
    },
}

/// What the API task reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiUpdate {
    /// Trying to reach the processor at `endpoint`.
    Connecting {
        endpoint: String,
    },
    Connected {
        endpoint: String,
    },
    /// The processor stopped answering; the next attempt is in `retry_in_s`.
    Disconnected {
        error: String,
        retry_in_s: f64,
    },
    /// A fresh snapshot, and the file queries it answered.
    Snapshot {
        snapshot: Box<Snapshot>,
        retry_query: FileQuery,
        stuck_query: FileQuery,
        discarded_query: FileQuery,
    },
    Event(Box<Event>),
    Detail {
        kind: FileKind,
        name: String,
        result: Result<Box<FileDetail>, String>,
    },
    /// The files of a list grouped by cause.
    Causes {
        kind: FileKind,
        result: Result<Box<CauseList>, String>,
    },
    /// Every file of a filter or cause, for marking (the server's selection).
    Selected {
        kind: FileKind,
        result: Result<Box<BulkPreview>, String>,
    },
    /// The result of a bulk action.
    BulkDone {
        result: Result<Box<BulkResult>, ActionFailure>,
    },
    /// Where a uid is (`m`).
    Found {
        uid: String,
        result: Result<Box<crate::api::wire::find::FindReport>, String>,
    },
    /// A page of a committed batch's messages.
    BatchPage {
        batch_id: i64,
        offset: u64,
        result: Result<Box<crate::api::wire::find::BatchMessages>, String>,
    },
    /// A page of past events, for the purpose it was asked for.
    History {
        purpose: crate::tui::timeline::PageFor,
        result: Result<Box<crate::api::wire::HistoryPage>, String>,
    },
    Rollups {
        window: String,
        result: Result<Box<crate::api::wire::RollupPage>, String>,
    },
    /// The outcome of a command: the server's answer or its refusal.
    ActionDone {
        label: String,
        result: Result<ActionResult, ActionFailure>,
    },
}

/// Why the server (or the network) refused an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFailure {
    /// HTTP status when the server answered.
    pub status: Option<u16>,
    pub message: String,
}

/// Work for the API task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    Flush,
    Resync,
    /// `attempts`: the version the operator saw (the server answers 409 if it changed).
    Requeue {
        name: String,
        attempts: u32,
    },
    FetchDetail {
        kind: FileKind,
        name: String,
        offset: u64,
        limit: u64,
    },
    /// `statmgr demo` only: messages per second for its generator (not an API call).
    SetDemoRate(u64),
    /// The groups of a list by cause (`filter` as the list has it).
    FetchCauses {
        kind: FileKind,
        filter: Option<String>,
    },
    /// Every file matching `filter` (a substring or `cause:ID`), to mark them all.
    SelectAll {
        kind: FileKind,
        filter: Option<String>,
    },
    /// A bulk action on exactly this set; runs beside the other commands.
    Bulk(Box<BulkRequest>),
    /// Where a uid is (a read: allowed in watch).
    Find {
        uid: String,
    },
    /// A page of a committed batch's messages (a read).
    FetchBatch {
        batch_id: i64,
        offset: u64,
        limit: u64,
    },
    /// A page of past events (`GET /api/v1/events/history`).
    FetchHistory {
        at: crate::api::client::history::PageAt,
        limit: usize,
        purpose: crate::tui::timeline::PageFor,
    },
    /// The per-minute rollups of a chart window (`1h`, `24h`).
    FetchRollups {
        window: String,
    },
}

impl Command {
    /// How the command is named in notices.
    pub fn label(&self) -> String {
        match self {
            Command::Pause => "pause".into(),
            Command::Resume => "resume".into(),
            Command::Flush => "flush".into(),
            Command::Resync => "resync".into(),
            Command::Requeue { name, .. } => format!("requeue {name}"),
            Command::FetchDetail { name, .. } => format!("detail {name}"),
            Command::SetDemoRate(_) => "demo rate".into(),
            Command::FetchCauses { .. } => "causes".into(),
            Command::SelectAll { .. } => "mark all".into(),
            Command::Bulk(r) => format!("bulk {}", r.action.as_str()),
            Command::Find { uid } => format!("find {uid}"),
            Command::FetchBatch { batch_id, .. } => format!("batch #{batch_id}"),
            Command::FetchHistory { .. } => "history".into(),
            Command::FetchRollups { .. } => "rollups".into(),
        }
    }
}
