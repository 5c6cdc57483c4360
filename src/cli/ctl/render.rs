//! The human text of `statmgr status` and `statmgr retry ls`. Every string that came from
//! the processor (names, errors, sources) goes through `escape` before it reaches a terminal.

use std::fmt::Write;

use crate::api::wire::{BatchInfo, FilePage, FileSummary, Snapshot};

/// Makes processor text safe for a terminal (`message::escape_text` in the CLI).
pub type Escape = fn(&str) -> String;

pub use crate::tui::format::bytes;

pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 10.0 {
        return format!("{s:.1} s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{sec} s"),
        (0, _) => format!("{m}m {sec:02}s"),
        _ => format!("{h}h {m:02}m {sec:02}s"),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn next_attempt(f: &FileSummary) -> String {
    match f.next_attempt_in_s {
        None => "-".into(),
        Some(s) if s <= 0.0 => "due".into(),
        Some(s) => format!("in {}", duration(s)),
    }
}

fn file_line(f: &FileSummary, escape: Escape) -> String {
    // Stuck files have no next attempt: only an operator's requeue moves them.
    let next = match f.next_attempt_in_s {
        Some(_) => format!(", next {}", next_attempt(f)),
        None => String::new(),
    };
    format!(
        "{}  {}, {}{next}: {}",
        escape(&f.name),
        plural(f.messages, "message", "messages"),
        plural(u64::from(f.attempts), "attempt", "attempts"),
        escape(&f.last_error)
    )
}

fn batch_line(b: &BatchInfo, escape: Escape) -> String {
    let ids = match (b.first_record_id, b.last_record_id) {
        (Some(first), Some(last)) => format!("ids {first}-{last}"),
        _ => "no new ids".into(),
    };
    let from = match &b.source_file {
        Some(file) => format!("{} {}", escape(&b.source), escape(file)),
        None => escape(&b.source),
    };
    format!(
        "#{} at {}: {}, {}, {} duplicates, {:.1} ms, from {from}",
        b.id,
        escape(&b.committed_at),
        plural(b.count, "row", "rows"),
        ids,
        b.duplicates,
        b.duration_ms
    )
}

fn files_section(out: &mut String, label: &str, page: &FilePage, escape: Escape) {
    let _ = writeln!(out, "{label:<10} {}", plural(page.total, "file", "files"));
    for f in &page.files {
        let _ = writeln!(out, "{:<10}   {}", "", file_line(f, escape));
    }
    let shown = page.files.len() as u64;
    if page.total > shown {
        let _ = writeln!(out, "{:<10}   ... and {} more", "", page.total - shown);
    }
}

pub fn status(s: &Snapshot, url: &str, rows: usize, escape: Escape) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {} (root {})",
        "processor",
        escape(url),
        escape(&s.root)
    );
    let _ = writeln!(
        out,
        "{:<10} {}, up {}",
        "state",
        s.state.as_str(),
        duration(s.uptime_s)
    );
    let _ = writeln!(
        out,
        "{:<10} {}, {}, oldest {}",
        "inbox",
        plural(s.inbox.depth, "file", "files"),
        bytes(s.inbox.bytes),
        duration(s.inbox.oldest_age_s)
    );
    let _ = writeln!(
        out,
        "{:<10} {} in {}, oldest {}",
        "in flight",
        plural(s.in_flight.messages, "message", "messages"),
        plural(s.in_flight.files, "file", "files"),
        duration(s.in_flight.oldest_age_s)
    );
    files_section(&mut out, "retry", &s.retry, escape);
    files_section(&mut out, "stuck", &s.stuck, escape);
    let a = &s.allocator;
    let _ = writeln!(
        out,
        "{:<10} next id {}, block to {}, high water {}, db max {}, {} resyncs, {} failures",
        "allocator", a.next_id, a.block_end, a.high_water, a.db_max_id, a.resyncs, a.failures
    );
    if let Some(e) = &a.last_error {
        let _ = writeln!(out, "{:<10}   last error: {}", "", escape(e));
    }
    let c = &s.counters;
    let _ = writeln!(
        out,
        "{:<10} received {}, committed {}, duplicates {}, retried {}, stuck {}, corrupt {}, batches {}",
        "counters", c.received, c.committed, c.duplicates, c.retried, c.stuck, c.corrupt, c.batches
    );
    if s.batches.is_empty() {
        let _ = writeln!(out, "{:<10} none yet", "batches");
    }
    for (i, b) in s.batches.iter().take(rows).enumerate() {
        let label = if i == 0 { "batches" } else { "" };
        let _ = writeln!(out, "{label:<10} {}", batch_line(b, escape));
    }
    out
}

/// `statmgr retry ls`: a table, then which part of how many files it shows.
pub fn file_page(page: &FilePage, dir: &str, filter: Option<&str>, escape: Escape) -> String {
    let mut out = String::new();
    if !page.files.is_empty() {
        let _ = writeln!(
            out,
            "{:<40} {:>8} {:>8} {:>10} {:>10}  LAST ERROR",
            "NAME", "MESSAGES", "ATTEMPTS", "NEXT", "AGE"
        );
    }
    for f in &page.files {
        let _ = writeln!(
            out,
            "{:<40} {:>8} {:>8} {:>10} {:>10}  {}",
            escape(&f.name),
            f.messages,
            f.attempts,
            next_attempt(f),
            duration(f.age_s),
            escape(&f.last_error)
        );
    }
    let shown = page.files.len() as u64;
    let range = if shown == 0 {
        "none".to_string()
    } else {
        format!("{}-{}", page.offset + 1, page.offset + shown)
    };
    let matching = match filter {
        Some(f) => format!(" matching {} ({} in {dir}/)", escape(f), page.total_unfiltered),
        None => String::new(),
    };
    let _ = writeln!(out, "showing {range} of {} {dir} files{matching}", page.total);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::*;

    /// Marks what went through the escape, so a test sees that every processor string did.
    fn mark(text: &str) -> String {
        format!("«{}»", text.escape_debug())
    }

    fn file(name: &str, error: &str) -> FileSummary {
        FileSummary {
            name: name.into(),
            messages: 2,
            attempts: 1,
            next_attempt: Some("2024-01-01T00:00:00.000Z".into()),
            next_attempt_in_s: Some(12.0),
            last_error: error.into(),
            age_s: 75.0,
            created: "2024-01-01T00:00:00.000Z".into(),
            discarded: None,
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            state: ProcessorState::Running,
            started_at: String::new(),
            uptime_s: 3723.0,
            taken_at: String::new(),
            root: "/srv/statmgr".into(),
            inbox: InboxStats {
                depth: 12,
                bytes: 3400,
                oldest_age_s: 2.1,
            },
            in_flight: InFlight::default(),
            retry: FilePage {
                total: 7,
                total_unfiltered: 7,
                offset: 0,
                limit: 1,
                files: vec![file("a\u{1b}[2J.retry", "database is locked\nreally")],
            },
            stuck: FilePage::default(),
            batches: vec![BatchInfo {
                id: 3,
                committed_at: "2024-01-01T00:00:01.000Z".into(),
                count: 10,
                duplicates: 0,
                first_record_id: Some(1),
                last_record_id: Some(10),
                duration_ms: 4.2,
                source: "retry".into(),
                source_file: Some("x.retry".into()),
            }],
            allocator: AllocatorInfo {
                next_id: 11,
                last_error: Some("registry unreachable".into()),
                ..AllocatorInfo::default()
            },
            counters: Counters::default(),
            config: ConfigInfo::default(),
            discarded: FilePage::default(),
            last_event_id: 0,
            retention: Default::default(),
            database: Default::default(),
            journal: Default::default(),
        }
    }

    #[test]
    fn status_reads_as_a_summary_and_escapes_processor_text() {
        let text = status(&snapshot(), "http://127.0.0.1:1", 5, mark);
        assert!(text.contains("state      running, up 1h 02m 03s"), "{text}");
        assert!(
            text.contains("inbox      12 files, 3.3 KiB, oldest 2.1 s"),
            "{text}"
        );
        assert!(text.contains("retry      7 files"), "{text}");
        assert!(
            text.contains(
                "«a\\u{1b}[2J.retry»  2 messages, 1 attempt, next in 12 s: «database is locked\\nreally»"
            ),
            "{text}"
        );
        assert!(text.contains("... and 6 more"), "{text}");
        assert!(text.contains("last error: «registry unreachable»"), "{text}");
        assert!(
            text.contains("#3 at «2024-01-01T00:00:01.000Z»: 10 rows, ids 1-10"),
            "{text}"
        );
        assert!(text.contains("from «retry» «x.retry»"), "{text}");
        assert!(!text.contains('\u{1b}'), "a raw escape reached the terminal");
    }

    #[test]
    fn file_pages_say_what_part_they_show() {
        let page = snapshot().retry;
        let text = file_page(&page, "retry", Some("locked"), mark);
        assert!(text.starts_with("NAME"), "{text}");
        assert!(
            text.contains("showing 1-1 of 7 retry files matching «locked» (7 in retry/)"),
            "{text}"
        );
        let empty = file_page(&FilePage::default(), "stuck", None, mark);
        assert_eq!(empty, "showing none of 0 stuck files\n");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(duration(-1.0), "0.0 s");
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(75.0), "1m 15s");
        assert_eq!(duration(3723.0), "1h 02m 03s");
    }
}
