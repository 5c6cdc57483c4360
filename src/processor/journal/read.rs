//! Reading the journal: events after an id, before an id, and the first event at a time.
//! Segments are found by their names (first ids) and the first line's time; within a
//! segment, only the lines asked for are parsed in full. Torn or foreign lines are skipped.

use std::io;
use std::path::Path;

use super::segment::{self, Segment};
use crate::api::wire::Event;

/// Index of the segment that would hold `id` (the last one starting at or before it).
fn holding(segments: &[Segment], id: u64) -> usize {
    segments.partition_point(|s| s.first_id <= id).saturating_sub(1)
}

/// Up to `limit` events with an id above `after`, oldest first.
pub fn after(dir: &Path, after: u64, limit: usize) -> io::Result<Vec<Event>> {
    let segments = segment::list(dir)?;
    let mut out = Vec::new();
    if segments.is_empty() || limit == 0 {
        return Ok(out);
    }
    for s in &segments[holding(&segments, after.saturating_add(1))..] {
        let bytes = segment::read(&s.path)?;
        for line in segment::lines(&bytes) {
            if segment::line_id(line).is_none_or(|id| id <= after) {
                continue;
            }
            if let Some(event) = segment::parse(line) {
                out.push(event);
                if out.len() == limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Up to `limit` events with an id below `before`, the newest of them, oldest first.
pub fn before(dir: &Path, before: u64, limit: usize) -> io::Result<Vec<Event>> {
    let segments = segment::list(dir)?;
    let mut out: Vec<Event> = Vec::new();
    if segments.is_empty() || limit == 0 || before <= 1 {
        return Ok(out);
    }
    let last = holding(&segments, before - 1);
    for s in segments[..=last].iter().rev() {
        let bytes = segment::read(&s.path)?;
        let mut found: Vec<Event> = Vec::new();
        for line in segment::lines(&bytes).rev() {
            if segment::line_id(line).is_none_or(|id| id >= before) {
                continue;
            }
            if let Some(event) = segment::parse(line) {
                found.push(event);
                if out.len() + found.len() == limit {
                    break;
                }
            }
        }
        found.reverse();
        found.append(&mut out);
        out = found;
        if out.len() == limit {
            break;
        }
    }
    Ok(out)
}

/// The id of the first event at or after `time` (RFC 3339 as the journal writes it, UTC
/// with milliseconds), or `None` when every kept event is older.
pub fn first_at(dir: &Path, time: &str) -> io::Result<Option<u64>> {
    let segments = segment::list(dir)?;
    // The last segment whose first event is before `time`: the first event at `time` is
    // in it or is the first event of the next one.
    let mut start = 0;
    for (i, s) in segments.iter().enumerate() {
        match segment::first_time(&s.path) {
            Some(first) if first.as_str() < time => start = i,
            Some(_) => break,
            None => {}
        }
    }
    for s in segments.get(start..).unwrap_or_default() {
        let bytes = segment::read(&s.path)?;
        for line in segment::lines(&bytes) {
            if segment::line_time(line).is_some_and(|t| t >= time) {
                if let Some(id) = segment::line_id(line) {
                    return Ok(Some(id));
                }
            }
        }
    }
    Ok(None)
}

/// The oldest event kept: its id and time (read from the start of the oldest segments only).
pub fn oldest(dir: &Path) -> io::Result<Option<(u64, String)>> {
    for s in segment::list(dir)? {
        if let Some((id, time)) = segment::first_event(&s.path) {
            return Ok(Some((id, time)));
        }
    }
    Ok(None)
}
