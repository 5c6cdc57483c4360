//! What the console knows: plain data with no terminal types, so its logic is tested without one.

use std::collections::VecDeque;

use crate::api::wire::{
    AllocatorInfo, Event, FileDetail, FileKind, FilePage, FileQuery, FileSummary, Snapshot,
};

/// Events kept for the events panel.
pub const EVENT_TAIL: usize = 1000;
/// Samples kept for the sparklines and charts (one a second: ten minutes).
pub const HISTORY: usize = 600;
/// Rows of a file list asked from the server around the visible part.
pub const WINDOW: u64 = 200;
/// Messages of a file asked for in its detail view.
pub const DETAIL_MESSAGES: u64 = 100;
/// How long an action's result stays in the footer.
pub const NOTICE_S: f64 = 15.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// Before the first answer.
    Connecting,
    Connected,
    /// The processor stopped answering at `since_s`; the next attempt is at `retry_at_s`.
    Disconnected {
        since_s: f64,
        retry_at_s: f64,
        error: String,
    },
}

/// The panel that receives navigation keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Retry,
    Stuck,
    /// The Discarded tab of the files panel (`discarded/`, restored with `b`).
    Discarded,
    Batches,
    Events,
}

impl Focus {
    pub const ALL: [Focus; 5] = [
        Focus::Retry,
        Focus::Stuck,
        Focus::Discarded,
        Focus::Batches,
        Focus::Events,
    ];

    pub fn next(self) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0);
        Focus::ALL[(i + 1) % Focus::ALL.len()]
    }

    pub fn prev(self) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0);
        Focus::ALL[(i + Focus::ALL.len() - 1) % Focus::ALL.len()]
    }

    pub fn file_kind(self) -> Option<FileKind> {
        match self {
            Focus::Retry => Some(FileKind::Retry),
            Focus::Stuck => Some(FileKind::Stuck),
            Focus::Discarded => Some(FileKind::Discarded),
            _ => None,
        }
    }
}

/// The filter being typed after `/`; `before` comes back on `Esc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterEdit {
    pub text: String,
    pub before: Option<String>,
}

/// One of the three file lists (retry, stuck, discarded), paged from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct FileList {
    pub kind: FileKind,
    /// What the console asks the server for (sort, filter and the window of rows).
    pub query: FileQuery,
    /// The last page received, and the query it answered.
    pub page: FilePage,
    pub page_query: Option<FileQuery>,
    /// Absolute index of the selected file in the sorted, filtered list.
    pub selected: u64,
    /// Absolute index of the first visible row.
    pub top: u64,
    pub filter_edit: Option<FilterEdit>,
}

impl FileList {
    pub fn new(kind: FileKind) -> FileList {
        FileList {
            kind,
            query: FileQuery {
                limit: WINDOW,
                ..FileQuery::default()
            },
            page: FilePage::default(),
            page_query: None,
            selected: 0,
            top: 0,
            filter_edit: None,
        }
    }

    /// The page answers the current sort and filter (its rows may still be another window).
    pub fn page_matches(&self) -> bool {
        self.page_query.as_ref().is_some_and(|q| {
            q.sort == self.query.sort && q.desc == self.query.desc && q.filter == self.query.filter
        })
    }

    /// Files matching the filter, as far as the console knows.
    pub fn total(&self) -> u64 {
        self.page.total
    }

    /// The file at an absolute index, if the last page holds it.
    pub fn row(&self, index: u64) -> Option<&FileSummary> {
        if !self.page_matches() || index < self.page.offset {
            return None;
        }
        self.page.files.get((index - self.page.offset) as usize)
    }

    pub fn selected_file(&self) -> Option<&FileSummary> {
        self.row(self.selected)
    }

    /// The filter in force, or being typed.
    pub fn filter_text(&self) -> Option<&str> {
        match &self.filter_edit {
            Some(edit) => Some(edit.text.as_str()),
            None => self.query.filter.as_deref(),
        }
    }
}

/// Recent values for the sparklines and charts, derived from successive snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub depth: VecDeque<u64>,
    /// Rows committed per second, one sample per snapshot.
    pub throughput: VecDeque<u64>,
    /// Commit durations of recent batches, in milliseconds, oldest first.
    pub latency_ms: VecDeque<u64>,
    pub in_rate: f64,
    pub out_rate: f64,
    /// `(uptime_s, received, committed)` of the previous snapshot, for the rates.
    pub last_counters: Option<(f64, u64, u64)>,
    /// Newest batch already counted (from a snapshot or an event).
    pub last_batch_id: Option<i64>,
}

pub fn push_capped<T>(queue: &mut VecDeque<T>, value: T, cap: usize) {
    queue.push_back(value);
    while queue.len() > cap {
        queue.pop_front();
    }
}

/// The detail view of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub kind: FileKind,
    pub summary: FileSummary,
    pub detail: Option<FileDetail>,
    pub error: Option<String>,
    /// First message of the page asked for.
    pub msg_offset: u64,
    /// Lines scrolled down.
    pub scroll: u16,
}

/// An action that changes files or the allocator, waiting for `y`.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Requeue {
        kind: FileKind,
        file: FileSummary,
        /// Attempts after which a file goes (back) to `stuck/`.
        max_attempts: u32,
    },
    Resync {
        allocator: AllocatorInfo,
    },
    /// A bulk action on the marked files (or the selected one): the preview of exactly the
    /// set it will carry. `read_only`: preview only (watch), `y` is refused.
    Bulk {
        preview: Box<crate::api::wire::BulkPreview>,
        kind: FileKind,
        note: String,
        read_only: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Detail(Box<Detail>),
    Confirm(Box<Confirm>),
    /// `m`: where is a message (see `tui::trace`).
    Trace(Box<crate::tui::trace::Trace>),
    /// Enter on Batch commits: that batch's messages.
    Batch(Box<crate::tui::trace::BatchView>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Ok,
    Error,
}

/// The result of an action (or why it was not done), shown in the footer.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub tone: Tone,
    pub at_s: f64,
}

/// What `statmgr demo` shows about itself, and the rate `+`/`-` change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoInfo {
    pub banner: String,
    /// Messages per second the generator drops.
    pub rate: u64,
    /// What the demo's trouble-maker is doing now.
    pub status: String,
}

/// Terminal size in cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub width: u16,
    pub height: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// `statmgr watch`, or a processor of a fleet without a token: mutating keys only say so.
    pub read_only: bool,
    /// Why `read_only` is set when it is not `statmgr watch` (said when a key is refused).
    pub read_only_reason: Option<String>,
    /// The processor's name when it is one of a fleet (`Esc` goes back to the fleet).
    pub member: Option<String>,
    /// Other processors of the fleet write the same database (their ids are not a conflict).
    pub shared_sequence: bool,
    pub endpoint: String,
    pub conn: Conn,
    pub snapshot: Option<Snapshot>,
    /// Console clock (seconds) when the snapshot arrived, to age it between refreshes.
    pub snapshot_at_s: f64,
    /// Console clock, seconds since start; advanced by every action.
    pub now_s: f64,
    pub history: History,
    pub focus: Focus,
    pub retry: FileList,
    pub stuck: FileList,
    pub discarded: FileList,
    /// Batches skipped from the newest.
    pub batches_scroll: usize,
    /// Events scrolled back from the newest (0: follow the tail).
    pub events_scroll: usize,
    pub events: VecDeque<Event>,
    pub overlay: Option<Overlay>,
    pub notice: Option<Notice>,
    pub screen: Screen,
    /// Set in `statmgr demo`.
    pub demo: Option<DemoInfo>,
    /// Causes, marks and bulk progress.
    pub triage: crate::tui::triage::Triage,
    /// Older events, a jump to a time, and the chart window.
    pub timeline: crate::tui::timeline::Timeline,
    pub quit: bool,
}

impl State {
    pub fn new(endpoint: impl Into<String>, read_only: bool) -> State {
        State {
            read_only,
            read_only_reason: None,
            member: None,
            shared_sequence: false,
            endpoint: endpoint.into(),
            conn: Conn::Connecting,
            snapshot: None,
            snapshot_at_s: 0.0,
            now_s: 0.0,
            history: History::default(),
            focus: Focus::Retry,
            retry: FileList::new(FileKind::Retry),
            stuck: FileList::new(FileKind::Stuck),
            discarded: FileList::new(FileKind::Discarded),
            batches_scroll: 0,
            events_scroll: 0,
            events: VecDeque::new(),
            overlay: None,
            notice: None,
            screen: Screen {
                width: 80,
                height: 24,
            },
            demo: None,
            triage: crate::tui::triage::Triage::default(),
            timeline: crate::tui::timeline::Timeline::default(),
            quit: false,
        }
    }

    pub fn list(&self, kind: FileKind) -> &FileList {
        match kind {
            FileKind::Retry => &self.retry,
            FileKind::Stuck => &self.stuck,
            FileKind::Discarded => &self.discarded,
        }
    }

    pub fn list_mut(&mut self, kind: FileKind) -> &mut FileList {
        match kind {
            FileKind::Retry => &mut self.retry,
            FileKind::Stuck => &mut self.stuck,
            FileKind::Discarded => &mut self.discarded,
        }
    }

    /// The file list shown in the files panel (the focused one, or retry).
    pub fn shown_list(&self) -> &FileList {
        match self.focus {
            Focus::Stuck => &self.stuck,
            Focus::Discarded => &self.discarded,
            _ => &self.retry,
        }
    }

    /// The queries the API task should use for the next snapshot.
    pub fn queries(&self) -> (FileQuery, FileQuery) {
        (self.retry.query.clone(), self.stuck.query.clone())
    }

    /// The retry, stuck and discarded queries (what the API task asks the snapshot for).
    pub fn all_queries(&self) -> (FileQuery, FileQuery, FileQuery) {
        (
            self.retry.query.clone(),
            self.stuck.query.clone(),
            self.discarded.query.clone(),
        )
    }

    /// Seconds since the snapshot was taken (ages shown are aged by this much).
    pub fn snapshot_age_s(&self) -> f64 {
        (self.now_s - self.snapshot_at_s).max(0.0)
    }

    /// Mutations are refused: `statmgr watch`, or a processor started with `--read-only-api`.
    pub fn is_read_only(&self) -> bool {
        self.read_only || self.snapshot.as_ref().is_some_and(|s| s.config.read_only_api)
    }

    pub fn is_connected(&self) -> bool {
        self.conn == Conn::Connected
    }

    pub fn notify(&mut self, tone: Tone, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            tone,
            at_s: self.now_s,
        });
    }

    /// The notice, while it is fresh.
    pub fn current_notice(&self) -> Option<&Notice> {
        self.notice.as_ref().filter(|n| self.now_s - n.at_s < NOTICE_S)
    }
}
