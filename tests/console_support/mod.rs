//! Shared by the console tests: hand-made snapshots fed through the reducer the way the API
//! task feeds them, and whole screens rendered on ratatui's TestBackend.
#![allow(dead_code)]

pub mod fleet;
pub mod samples;
pub mod svg;
pub mod tmux;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use statmgr::api::wire::{
    AllocatorInfo, BatchInfo, ConfigInfo, Counters, Event, EventKind, FilePage, FileQuery, FileSummary,
    InFlight, InboxStats, ProcessorState, Snapshot, SNAPSHOT_VERSION,
};
use statmgr::tui::action::{Action, ApiUpdate, Command};
use statmgr::tui::keymap::Key;
use statmgr::tui::reduce::reduce;
use statmgr::tui::state::State;
use statmgr::tui::theme::Theme;
use statmgr::tui::view;

pub const ENDPOINT: &str = "http://127.0.0.1:41234";

pub fn retry_file(i: u64, error: &str) -> FileSummary {
    FileSummary {
        name: format!("retry-20240501-1203{:02}-{i:06}.jsonl", i % 60),
        messages: 10 + i * 7 % 990,
        attempts: (i % 5) as u32 + 1,
        next_attempt: Some("2024-05-01T12:10:00.000Z".into()),
        next_attempt_in_s: Some(30.0 + i as f64 * 11.0),
        last_error: error.into(),
        age_s: 125.0 + i as f64 * 60.0,
        created: "2024-05-01T12:03:04.000Z".into(),
        discarded: None,
    }
}

/// A discarded file as the server lists it: what its `.reason` says.
pub fn discarded_file(i: u64, error: &str, note: Option<&str>) -> FileSummary {
    FileSummary {
        name: format!("stuck-20240501-0900{:02}-{i:06}.jsonl", i % 60),
        attempts: 20,
        next_attempt: None,
        next_attempt_in_s: None,
        discarded: Some(statmgr::api::wire::DiscardedInfo {
            at: format!("2024-05-01T13:{:02}:00.000Z", i % 60),
            by: "api 127.0.0.1:50412 (token 3f9a1c)".into(),
            note: note.map(str::to_string),
        }),
        ..retry_file(i, error)
    }
}

pub fn stuck_file(i: u64, error: &str) -> FileSummary {
    FileSummary {
        name: format!("stuck-20240501-0900{:02}-{i:06}.jsonl", i % 60),
        attempts: 20,
        next_attempt: None,
        next_attempt_in_s: None,
        ..retry_file(i, error)
    }
}

pub fn page(files: Vec<FileSummary>, total: u64) -> FilePage {
    FilePage {
        total,
        total_unfiltered: total,
        offset: 0,
        limit: files.len() as u64,
        files,
    }
}

pub fn batch(id: i64, count: u64, first: i64, ms: f64, source: &str) -> BatchInfo {
    BatchInfo {
        id,
        committed_at: "2024-05-01T12:05:00.000Z".into(),
        count,
        duplicates: 0,
        first_record_id: Some(first),
        last_record_id: Some(first + count as i64 - 1),
        duration_ms: ms,
        source: source.into(),
        source_file: None,
    }
}

/// A processor that has been running a while, with a few retry and stuck files.
pub fn snapshot() -> Snapshot {
    let retry: Vec<FileSummary> = (0..6)
        .map(|i| {
            let e = if i % 2 == 0 {
                "database is locked (SQLITE_BUSY) after 5000 ms"
            } else {
                "disk I/O error while writing statmgr.db-wal"
            };
            retry_file(i, e)
        })
        .collect();
    let stuck = vec![stuck_file(
        1,
        "UNIQUE constraint failed: status_messages.uid (uid 7f3a9c, message 4012 from WKS-0042)",
    )];
    Snapshot {
        version: SNAPSHOT_VERSION,
        state: ProcessorState::Running,
        started_at: "2024-05-01T10:00:00.000Z".into(),
        uptime_s: 7385.0,
        taken_at: "2024-05-01T12:03:05.000Z".into(),
        root: "/var/lib/statmgr".into(),
        inbox: InboxStats {
            depth: 1234,
            bytes: 2_200_000,
            oldest_age_s: 3.2,
        },
        in_flight: InFlight {
            messages: 500,
            files: 3,
            oldest_age_s: 0.2,
        },
        retry: page(retry, 6),
        stuck: page(stuck, 1),
        batches: (0..12)
            .map(|i| {
                batch(
                    1200 - i,
                    1000,
                    1_200_000 - i * 1000,
                    12.0 + (i % 4) as f64 * 7.5,
                    "inbox",
                )
            })
            .collect(),
        allocator: AllocatorInfo {
            next_id: 1_201_001,
            block_end: 1_202_000,
            high_water: 1_202_000,
            block_size: 1000,
            db_max_id: 1_201_000,
            resyncs: 1,
            failures: 0,
            last_error: None,
        },
        counters: Counters {
            received: 1_300_000,
            committed: 1_201_000,
            duplicates: 12,
            retried: 5000,
            stuck: 10,
            corrupt: 2,
            batches: 1200,
        },
        config: ConfigInfo {
            batch_size: 1000,
            batch_age_ms: 200,
            max_attempts: 20,
            read_only_api: false,
        },
        discarded: FilePage::default(),
        last_event_id: 9000,
        retention: statmgr::api::wire::RetentionInfo {
            enabled: true,
            rules: vec![
                statmgr::api::wire::RetentionRule {
                    severity: "error".into(),
                    days: 90,
                },
                statmgr::api::wire::RetentionRule {
                    severity: "info".into(),
                    days: 7,
                },
            ],
            interval_s: 60,
            pruned_total: 48_210,
            last_pass: None,
            rows: Some(1_250_000),
            database_bytes: Some(512 * 1024 * 1024),
            oldest_message: Some("2024-02-01T10:00:00Z".into()),
        },
        database: Default::default(),
        journal: Default::default(),
    }
}

pub fn event(id: u64, kind: EventKind) -> Event {
    Event {
        id,
        time: format!("2024-05-01T12:04:{:02}.000Z", id % 60),
        kind,
    }
}

/// A state as the API task leaves it: connected, with `snapshots` received a second apart.
pub struct Console {
    pub state: State,
    pub now: f64,
}

impl Console {
    pub fn new(read_only: bool, width: u16, height: u16) -> Console {
        let mut c = Console {
            state: State::new(ENDPOINT, read_only),
            now: 0.0,
        };
        c.act(Action::Resize { width, height });
        c
    }

    /// The notice line's text ("" when none).
    pub fn notice(&self) -> String {
        self.state
            .notice
            .as_ref()
            .map(|n| n.text.clone())
            .unwrap_or_default()
    }

    pub fn act(&mut self, action: Action) -> Vec<Command> {
        reduce(&mut self.state, action, self.now)
    }

    pub fn api(&mut self, update: ApiUpdate) -> Vec<Command> {
        self.act(Action::Api(update))
    }

    pub fn key(&mut self, key: Key) -> Vec<Command> {
        self.act(Action::Key(key))
    }

    pub fn keys(&mut self, text: &str) -> Vec<Command> {
        text.chars().flat_map(|c| self.key(Key::Char(c))).collect()
    }

    pub fn connect(&mut self) {
        self.api(ApiUpdate::Connected {
            endpoint: ENDPOINT.into(),
        });
    }

    /// Feeds a snapshot answering the queries the console currently asks for.
    pub fn feed(&mut self, snapshot: Snapshot) {
        let (retry_query, stuck_query) = self.state.queries();
        self.feed_for(snapshot, retry_query, stuck_query);
    }

    pub fn feed_for(&mut self, snapshot: Snapshot, retry_query: FileQuery, stuck_query: FileQuery) {
        let discarded_query = self.state.discarded.query.clone();
        self.api(ApiUpdate::Snapshot {
            snapshot: Box::new(snapshot),
            retry_query,
            stuck_query,
            discarded_query,
        });
    }

    /// Connected, with two snapshots a second apart (so rates are known) and some history.
    pub fn running(read_only: bool, width: u16, height: u16) -> Console {
        let mut c = Console::new(read_only, width, height);
        c.connect();
        let mut s = snapshot();
        for step in 0..40u64 {
            s.uptime_s += 1.0;
            s.counters.received += 1000 + (step % 7) * 150;
            s.counters.committed += 900 + (step % 5) * 200;
            s.inbox.depth = 800 + (step * 37 % 500);
            c.now += 1.0;
            c.feed(s.clone());
        }
        for (i, kind) in sample_events().into_iter().enumerate() {
            c.api(ApiUpdate::Event(Box::new(event(9001 + i as u64, kind))));
        }
        c
    }

    pub fn screen(&self, theme: &Theme) -> Buffer {
        let area = (self.state.screen.width, self.state.screen.height);
        let mut terminal = Terminal::new(TestBackend::new(area.0, area.1)).expect("test backend");
        terminal
            .draw(|f| view::draw(&self.state, theme, f))
            .expect("test backend draws");
        terminal.backend().buffer().clone()
    }

    /// The screen as text, one quoted line per row.
    pub fn text(&self) -> String {
        text_of(&self.screen(&theme("default")))
    }
}

pub fn text_of(buffer: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut skip = 0;
        out.push('"');
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            if skip > 0 {
                skip -= 1;
                continue;
            }
            out.push_str(cell.symbol());
            skip = statmgr::tui::sanitize::width(cell.symbol()).saturating_sub(1);
        }
        out.push_str("\"\n");
    }
    out
}

pub fn theme(name: &str) -> Theme {
    Theme::builtin(name).expect("built-in theme")
}

/// With `STATMGR_SCREENSHOTS=1`, writes the screen as `screenshots/NAME.svg` (default
/// theme, dark terminal): how the tests whose states are built step by step (trace, batch
/// drill-down, history, Discarded tab) refresh their pictures. Without it, nothing.
#[allow(dead_code)]
pub fn picture(c: &Console, name: &str) {
    if std::env::var_os("STATMGR_SCREENSHOTS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let svg = svg::render(&c.screen(&theme("default")), svg::DARK);
    std::fs::write(dir.join(format!("{name}.svg")), svg).expect("write the screenshot");
}

pub fn sample_events() -> Vec<EventKind> {
    vec![
        EventKind::BatchCommitted {
            batch: batch(1201, 1000, 1_201_001, 14.5, "inbox"),
        },
        EventKind::BatchRetried {
            file: "retry-20240501-120300-000000.jsonl".into(),
            messages: 10,
            attempts: 1,
            error: "database is locked".into(),
            next_attempt_in_s: 30.0,
        },
        EventKind::OperatorAction {
            action: "pause".into(),
            target: None,
            origin: "console 127.0.0.1".into(),
            outcome: "intake paused".into(),
        },
        EventKind::StateChanged {
            state: ProcessorState::Paused,
        },
        EventKind::OperatorAction {
            action: "resume".into(),
            target: None,
            origin: "console 127.0.0.1".into(),
            outcome: "intake resumed".into(),
        },
        EventKind::StateChanged {
            state: ProcessorState::Running,
        },
        EventKind::FileStuck {
            file: "stuck-20240501-090001-000001.jsonl".into(),
            messages: 17,
            error: "UNIQUE constraint failed: status_messages.uid".into(),
        },
    ]
}

/// A file detail for `summary`, with three messages of the 17 it holds.
pub fn file_detail(summary: FileSummary) -> statmgr::api::wire::FileDetail {
    use statmgr::api::wire::{Attempt, FileDetail, FileKind, MessagePage};
    let kind = if summary.next_attempt_in_s.is_some() {
        FileKind::Retry
    } else {
        FileKind::Stuck
    };
    FileDetail {
        kind,
        summary,
        history: vec![Attempt {
            time: "2024-05-01T09:00:00.000Z".into(),
            error: "database is locked".into(),
        }],
        messages: MessagePage {
            total: 17,
            offset: 0,
            limit: 100,
            items: Vec::new(),
        },
    }
}
