//! Sample data shared by the screen tests and the screenshots: hostile producer text and
//! the file detail a server would send.

use statmgr::api::wire::{Attempt, EventKind, FileDetail, FileKind, FileSummary, MessagePage};
use statmgr::message::{Message, Severity};
use statmgr::tui::action::ApiUpdate;

use super::{event, retry_file, snapshot, Console};

pub const HOSTILE: [&str; 5] = [
    "\u{1b}[2J\u{1b}[31mwiped",
    "evil\u{202e}gpj.exe",
    "csi\u{9b}31mC1",
    "nul\0byte\u{7}bell",
    "機械名-東京-サーバー-データベース-ロック",
];

pub fn hostile_console() -> Console {
    let mut c = Console::running(false, 100, 30);
    let mut s = snapshot();
    s.retry.files = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut f = retry_file(i as u64, &format!("error from {h}: 主キー重複 {h}"));
            f.name = format!("{h}.jsonl");
            f
        })
        .collect();
    s.retry.total = HOSTILE.len() as u64;
    s.retry.total_unfiltered = HOSTILE.len() as u64;
    s.allocator.last_error = Some("registry \u{1b}]0;pwned\u{7} 読めない".into());
    c.feed(s);
    for (i, h) in HOSTILE.iter().enumerate() {
        let kind = EventKind::Warning {
            message: format!("producer said {h}"),
        };
        c.api(ApiUpdate::Event(Box::new(event(9100 + i as u64, kind))));
    }
    c
}

pub fn message(id: i64, machine: &str) -> Message {
    Message {
        uid: format!("uid-{id:04}"),
        message_id: 4000 + id,
        severity: Severity::Error,
        component: "Backup".into(),
        machine: machine.into(),
        site: "TKY".into(),
        time: "2024-05-01T12:00:00Z".into(),
        module: Some("vss.dll".into()),
        report_type: None,
        process_id: Some(1234),
        thread_id: None,
        win32_error: Some(5),
        insertion_strings: vec![format!("volume C: on {machine}")],
        attributes: Default::default(),
    }
}

/// The detail the server would send for `summary`, with messages from `machine`.
pub fn detail_of(kind: FileKind, summary: FileSummary, machine: &str) -> FileDetail {
    FileDetail {
        kind,
        summary,
        history: (0..3)
            .map(|i| Attempt {
                time: format!("2024-05-01T09:0{i}:00.000Z"),
                error: "UNIQUE constraint failed: status_messages.uid".into(),
            })
            .collect(),
        messages: MessagePage {
            total: 17,
            offset: 0,
            limit: 100,
            items: (0..3).map(|i| message(i, machine)).collect(),
        },
    }
}
