//! What the console knows about several processors at once: one dashboard state per
//! processor, the fleet screen's selection, and the key blocks they hold in a shared database.
//! Plain data, like `state.rs`.

use crate::tui::state::{Conn, Notice, Screen, State, Tone, NOTICE_S};

/// One processor of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    /// Processors with the same label share one database (and one key sequence).
    pub database: String,
    /// Its dashboard, kept current whether it is shown or not.
    pub state: State,
}

impl Member {
    pub fn new(name: impl Into<String>, database: impl Into<String>, mut state: State) -> Member {
        let name = name.into();
        state.member = Some(name.clone());
        Member {
            name,
            database: database.into(),
            state,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub members: Vec<Member>,
    /// The row selected on the fleet screen.
    pub selected: usize,
    /// The processor whose dashboard is shown; `None`: the fleet screen.
    pub shown: Option<usize>,
    /// The help overlay over the fleet screen, and its scroll.
    pub help: Option<u16>,
    /// The result of the last action started from the fleet screen (or news of a processor).
    pub notice: Option<Notice>,
    pub screen: Screen,
    pub now_s: f64,
    pub quit: bool,
}

impl Fleet {
    /// With one member its dashboard is the whole console: no fleet screen, no `Esc` back.
    pub fn new(mut members: Vec<Member>) -> Fleet {
        if members.len() == 1 {
            members[0].state.member = None;
        }
        let labels: Vec<String> = members.iter().map(|m| m.database.clone()).collect();
        for m in &mut members {
            m.state.shared_sequence = labels.iter().filter(|l| **l == m.database).count() > 1;
        }
        let shown = (members.len() == 1).then_some(0);
        Fleet {
            members,
            selected: 0,
            shown,
            help: None,
            notice: None,
            screen: Screen {
                width: 80,
                height: 24,
            },
            now_s: 0.0,
            quit: false,
        }
    }

    /// More than one processor: there is a fleet screen.
    pub fn is_fleet(&self) -> bool {
        self.members.len() > 1
    }

    /// The dashboard on screen, if one is.
    pub fn shown_state(&self) -> Option<&State> {
        self.shown.and_then(|i| self.members.get(i)).map(|m| &m.state)
    }

    pub fn selected_member(&self) -> Option<&Member> {
        self.members.get(self.selected)
    }

    /// Every processor refuses changes (`statmgr watch`, or no tokens at all).
    pub fn all_read_only(&self) -> bool {
        self.members.iter().all(|m| m.state.is_read_only())
    }

    pub fn connected(&self) -> usize {
        self.members.iter().filter(|m| m.state.is_connected()).count()
    }

    pub fn notify(&mut self, tone: Tone, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            tone,
            at_s: self.now_s,
        });
    }

    pub fn current_notice(&self) -> Option<&Notice> {
        self.notice.as_ref().filter(|n| self.now_s - n.at_s < NOTICE_S)
    }
}

/// Ids a processor holds and may still hand out: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub member: usize,
    pub start: i64,
    /// Exclusive.
    pub end: i64,
}

impl Block {
    pub fn overlaps(&self, other: &Block) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The key sequence of one shared database, as its processors last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub database: String,
    /// Members reporting on this database, in fleet order.
    pub members: Vec<usize>,
    /// The highest persisted high-water mark any of them reported.
    pub high_water: Option<i64>,
    /// The highest `MAX(record_id)` any of them reported.
    pub db_max_id: Option<i64>,
    /// Blocks held now, in fleet order.
    pub blocks: Vec<Block>,
    /// Pairs of members whose blocks overlap: both may hand out the same id.
    pub overlaps: Vec<(usize, usize)>,
}

/// The block a processor holds, from its last snapshot; `None` when it holds no ids.
pub fn block_of(member: usize, state: &State) -> Option<Block> {
    let a = &state.snapshot.as_ref()?.allocator;
    (a.next_id > 0 && a.block_end > a.next_id).then_some(Block {
        member,
        start: a.next_id,
        end: a.block_end,
    })
}

/// One sequence per database label, in the order the labels first appear.
pub fn sequences(fleet: &Fleet) -> Vec<Sequence> {
    let mut out: Vec<Sequence> = Vec::new();
    for (i, m) in fleet.members.iter().enumerate() {
        let at = match out.iter().position(|s| s.database == m.database) {
            Some(at) => at,
            None => {
                out.push(Sequence {
                    database: m.database.clone(),
                    members: Vec::new(),
                    high_water: None,
                    db_max_id: None,
                    blocks: Vec::new(),
                    overlaps: Vec::new(),
                });
                out.len() - 1
            }
        };
        let seq = &mut out[at];
        seq.members.push(i);
        if let Some(snap) = &m.state.snapshot {
            let a = &snap.allocator;
            seq.high_water = seq.high_water.max(Some(a.high_water));
            seq.db_max_id = seq.db_max_id.max(Some(a.db_max_id));
        }
        if let Some(block) = block_of(i, &m.state) {
            for other in &seq.blocks {
                if other.overlaps(&block) {
                    seq.overlaps.push((other.member, i));
                }
            }
            seq.blocks.push(block);
        }
    }
    out
}

/// The connection as a row shows it: `connected`, `connecting`, `DISCONNECTED 12s`.
pub fn connection_word(state: &State) -> String {
    match &state.conn {
        Conn::Connecting => "connecting".into(),
        Conn::Connected => "connected".into(),
        Conn::Disconnected { since_s, .. } => {
            format!("DISCONNECTED {}", crate::tui::format::age(state.now_s - since_s))
        }
    }
}
