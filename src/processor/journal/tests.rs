//! The journal on a real directory: rotation, retention by size and age, reading across
//! segments, and ids that go on after a reopen.

use std::time::{Duration, SystemTime};

use super::*;
use crate::api::wire::{Event, EventKind};

fn event(id: u64, minute: u64) -> Event {
    Event {
        id,
        time: format!("2026-11-27T{:02}:{:02}:00.000Z", minute / 60, minute % 60),
        kind: EventKind::Warning {
            message: format!("event {id} {}", "x".repeat(100)),
        },
    }
}

/// Writes events `ids` through a real writer thread, then stops it.
fn write(root: &Path, config: JournalConfig, ids: std::ops::Range<u64>) -> u64 {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let opened = open(root, config, Box::new(Sample::default), stop_rx).unwrap();
    let next = opened.next_id;
    let thread = std::thread::spawn(opened.writer);
    for id in ids {
        opened.journal.record(&event(id, id));
    }
    drop(stop_tx);
    thread.join().unwrap();
    next
}

fn small(segment_bytes: u64, max_bytes: u64) -> JournalConfig {
    JournalConfig {
        segment_bytes,
        max_bytes,
        ..JournalConfig::default()
    }
}

#[test]
fn segments_rotate_by_size_and_reads_cross_them() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(write(tmp.path(), small(2_000, u64::MAX), 1..101), 1);
    let dir = dir_of(tmp.path());
    let segments = segment::list(&dir).unwrap();
    assert!(segments.len() > 5, "{} segments", segments.len());
    for pair in segments.windows(2) {
        assert!(pair[0].first_id < pair[1].first_id);
        // Each segment starts with the event it is named for.
        assert_eq!(segment::first_event(&pair[1].path).unwrap().0, pair[1].first_id);
    }
    let ids = |v: Vec<Event>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(read::after(&dir, 0, 1000).unwrap()),
        (1..101).collect::<Vec<_>>()
    );
    assert_eq!(ids(read::after(&dir, 37, 5).unwrap()), [38, 39, 40, 41, 42]);
    assert_eq!(ids(read::before(&dir, 37, 5).unwrap()), [32, 33, 34, 35, 36]);
    assert_eq!(ids(read::before(&dir, 3, 5).unwrap()), [1, 2]);
    assert_eq!(
        read::first_at(&dir, "2026-11-27T00:50:00.000Z").unwrap(),
        Some(50)
    );
    assert_eq!(
        read::first_at(&dir, "2026-11-27T00:50:00.001Z").unwrap(),
        Some(51)
    );
    assert_eq!(read::first_at(&dir, "2026-11-28T00:00:00.000Z").unwrap(), None);
    assert_eq!(read::first_at(&dir, "2020-01-01T00:00:00.000Z").unwrap(), Some(1));
    // Reopened, ids go on after the newest event.
    assert_eq!(write(tmp.path(), small(2_000, u64::MAX), 101..103), 101);
}

#[test]
fn retention_by_size_deletes_the_oldest_segments_only() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), small(2_000, 6_000), 1..201);
    let dir = dir_of(tmp.path());
    let segments = segment::list(&dir).unwrap();
    let total: u64 = segments.iter().map(|s| s.bytes).sum();
    assert!(total <= 6_000 + 2_500, "{total} bytes kept");
    let all = read::after(&dir, 0, 1000).unwrap();
    // The newest events are kept, contiguous up to the last one.
    assert_eq!(all.last().unwrap().id, 200);
    assert!(all.first().unwrap().id > 1);
    assert!(all.windows(2).all(|w| w[1].id == w[0].id + 1));
}

#[test]
fn retention_by_age_deletes_segments_last_written_too_long_ago() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), small(2_000, u64::MAX), 1..51);
    let dir = dir_of(tmp.path());
    let before = segment::list(&dir).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3 * 86_400);
    for s in &before[..2] {
        std::fs::File::options()
            .append(true)
            .open(&s.path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let config = JournalConfig {
        max_age: Duration::from_secs(2 * 86_400),
        ..small(2_000, u64::MAX)
    };
    write(tmp.path(), config, 51..53);
    let after = segment::list(&dir).unwrap();
    assert_eq!(after.first().unwrap().first_id, before[2].first_id);
    assert_eq!(after.len(), before.len() - 2 + 1);
}

#[test]
fn a_full_queue_drops_and_counts_without_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let (_stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let config = JournalConfig {
        queue: 4,
        ..JournalConfig::default()
    };
    // The writer is never started: the queue fills at once.
    let opened = open(tmp.path(), config, Box::new(Sample::default), stop_rx).unwrap();
    for id in 1..11 {
        opened.journal.record(&event(id, 0));
    }
    let info = opened.journal.info();
    assert_eq!(info.dropped_queue_full, 6);
    assert_eq!(info.written, 0);
}
