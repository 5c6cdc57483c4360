//! A fleet of hand-made processors fed through the fleet reducer, as the connection tasks
//! feed it, and its screen on a TestBackend.

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use statmgr::api::wire::Snapshot;
use statmgr::tui::action::{Action, ApiUpdate};
use statmgr::tui::fleet::{Fleet, Member};
use statmgr::tui::keymap::Key;
use statmgr::tui::reduce::{reduce_fleet, Addressed};
use statmgr::tui::state::State;
use statmgr::tui::theme::Theme;
use statmgr::tui::view;

use super::{snapshot, text_of, theme};

pub struct FleetConsole {
    pub fleet: Fleet,
    pub now: f64,
}

/// A processor of the fleet: name, URL, token or not, and the database it writes.
pub struct Spec {
    pub name: &'static str,
    pub url: &'static str,
    pub token: bool,
    pub database: &'static str,
}

pub fn spec(name: &'static str, url: &'static str, token: bool) -> Spec {
    Spec {
        name,
        url,
        token,
        database: "",
    }
}

impl FleetConsole {
    pub fn new(specs: &[Spec], width: u16, height: u16) -> FleetConsole {
        let members = specs
            .iter()
            .map(|s| {
                let mut state = State::new(s.url, !s.token);
                if !s.token {
                    state.read_only_reason = Some(format!("for {}: it has no token_file", s.name));
                }
                Member::new(s.name, s.database, state)
            })
            .collect();
        let mut c = FleetConsole {
            fleet: Fleet::new(members),
            now: 0.0,
        };
        c.act(Action::Resize { width, height });
        c
    }

    pub fn act(&mut self, action: Action) -> Vec<Addressed> {
        reduce_fleet(&mut self.fleet, action, self.now)
    }

    pub fn key(&mut self, key: Key) -> Vec<Addressed> {
        self.act(Action::Key(key))
    }

    pub fn keys_typed(&mut self, text: &str) -> Vec<Addressed> {
        text.chars().flat_map(|c| self.key(Key::Char(c))).collect()
    }

    pub fn api(&mut self, processor: usize, update: ApiUpdate) -> Vec<Addressed> {
        self.act(Action::Processor { processor, update })
    }

    pub fn connect(&mut self, processor: usize) {
        let endpoint = self.fleet.members[processor].state.endpoint.clone();
        self.api(processor, ApiUpdate::Connected { endpoint });
    }

    /// A snapshot for processor `processor`, answering the queries its dashboard asks.
    pub fn feed(&mut self, processor: usize, snapshot: Snapshot) {
        let (retry_query, stuck_query, discarded_query) = self.fleet.members[processor].state.all_queries();
        self.api(
            processor,
            ApiUpdate::Snapshot {
                snapshot: Box::new(snapshot),
                retry_query,
                stuck_query,
                discarded_query,
            },
        );
    }

    pub fn state(&self, processor: usize) -> &State {
        &self.fleet.members[processor].state
    }

    pub fn screen(&self, theme: &Theme) -> Buffer {
        let (w, h) = (self.fleet.screen.width, self.fleet.screen.height);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        terminal
            .draw(|f| view::draw_fleet(&self.fleet, theme, f))
            .expect("test backend draws");
        terminal.backend().buffer().clone()
    }

    pub fn text(&self) -> String {
        text_of(&self.screen(&theme("default")))
    }
}

/// A running processor's snapshot holding ids `next_id..block_end`, with `retry`/`stuck` files.
pub fn holding(next_id: i64, block_end: i64, db_max_id: i64, depth: u64) -> Snapshot {
    let mut s = snapshot();
    s.allocator.next_id = next_id;
    s.allocator.block_end = block_end;
    s.allocator.high_water = block_end;
    s.allocator.db_max_id = db_max_id;
    s.inbox.depth = depth;
    s
}

/// Three processors on one database: site-a running with control, site-b gone for 12 s,
/// site-c read-only (no token) and paused. Rates are known (snapshots a second apart).
pub fn three(width: u16, height: u16) -> FleetConsole {
    let specs = [
        spec("site-a", "http://127.0.0.1:4100", true),
        spec("site-b", "http://10.0.0.2:4100", true),
        spec("site-c", "http://10.0.0.3:4100", false),
    ];
    let mut c = FleetConsole::new(&specs, width, height);
    let mut snaps = [
        holding(1_201_001, 1_202_000, 1_203_500, 1234),
        holding(1_202_001, 1_203_000, 1_203_500, 17),
        holding(1_203_501, 1_204_500, 1_203_500, 0),
    ];
    snaps[1].retry.total_unfiltered = 0;
    snaps[1].stuck.total_unfiltered = 0;
    snaps[2].state = statmgr::api::wire::ProcessorState::Paused;
    snaps[2].stuck.total_unfiltered = 3;
    for i in 0..3 {
        c.connect(i);
    }
    for step in 0..3u64 {
        c.now += 1.0;
        for (i, s) in snaps.iter_mut().enumerate() {
            s.uptime_s += 1.0;
            s.counters.received += 900 + step * 10 + i as u64 * 300;
            s.counters.committed += 800 + step * 10 + i as u64 * 300;
            c.feed(i, s.clone());
        }
    }
    for (i, kind) in super::sample_events().into_iter().enumerate() {
        let event = super::event(9001 + i as u64, kind);
        c.api(0, ApiUpdate::Event(Box::new(event)));
    }
    c.api(
        1,
        ApiUpdate::Disconnected {
            error: "connection refused (os error 111)".into(),
            retry_in_s: 2.0,
        },
    );
    c.now += 12.0;
    c.act(Action::Tick);
    c.api(
        1,
        ApiUpdate::Disconnected {
            error: "connection refused (os error 111)".into(),
            retry_in_s: 4.0,
        },
    );
    c
}
