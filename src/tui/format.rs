//! Human formatting of numbers, sizes, durations, rates and events (pure functions).

use crate::api::wire::{EventKind, ProcessorState};

/// `100000` → `100,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed record id with thousands separators.
pub fn id(n: i64) -> String {
    if n < 0 {
        format!("-{}", count(n.unsigned_abs()))
    } else {
        count(n as u64)
    }
}

/// `2_200_000` → `2.1 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration in seconds, short: `0.4s`, `12s`, `4m05s`, `2h03m`, `3d04h`.
pub fn age(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "0s".into();
    }
    if seconds < 10.0 {
        return format!("{seconds:.1}s");
    }
    let s = seconds as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A rate per second, short: `0/s`, `12/s`, `1.2k/s`, `3.4M/s`.
pub fn rate(per_s: f64) -> String {
    if !per_s.is_finite() || per_s <= 0.0 {
        return "0/s".into();
    }
    if per_s < 10.0 {
        format!("{per_s:.1}/s")
    } else if per_s < 1000.0 {
        format!("{per_s:.0}/s")
    } else if per_s < 1_000_000.0 {
        format!("{:.1}k/s", per_s / 1000.0)
    } else {
        format!("{:.1}M/s", per_s / 1_000_000.0)
    }
}

/// Time until the next automatic attempt: `in 3m05s`, `due`, `—` (stuck files: never).
pub fn next_attempt(in_s: Option<f64>) -> String {
    match in_s {
        None => "—".into(),
        Some(s) if s <= 0.0 => "due".into(),
        Some(s) => format!("in {}", age(s)),
    }
}

/// Milliseconds, short: `0.8ms`, `12ms`, `1.3s`.
pub fn millis(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// `HH:MM:SS` of an RFC 3339 time, or the text itself when it is not one.
pub fn clock(rfc3339: &str) -> &str {
    let b = rfc3339.as_bytes();
    let looks_right = b.len() >= 19 && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if looks_right && rfc3339.is_char_boundary(11) && rfc3339.is_char_boundary(19) {
        &rfc3339[11..19]
    } else {
        rfc3339
    }
}

pub fn state_word(state: ProcessorState) -> &'static str {
    match state {
        ProcessorState::Starting => "STARTING",
        ProcessorState::Running => "RUNNING",
        ProcessorState::Paused => "PAUSED",
        ProcessorState::Draining => "DRAINING",
        ProcessorState::Stopped => "STOPPED",
    }
}

/// How an event line is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Normal,
    Good,
    Warn,
    Bad,
    Operator,
}

/// One line describing an event (raw text: the view escapes it).
pub fn describe(kind: &EventKind) -> (Tone, String) {
    match kind {
        EventKind::BatchCommitted { batch } => {
            let ids = match (batch.first_record_id, batch.last_record_id) {
                (Some(a), Some(b)) => format!(" ids {}-{}", id(a), id(b)),
                _ => String::new(),
            };
            let text = format!(
                "batch #{} committed {} from {}{ids} in {}",
                batch.id,
                count(batch.count),
                batch.source,
                millis(batch.duration_ms)
            );
            (Tone::Good, text)
        }
        EventKind::BatchRetried {
            file,
            messages,
            attempts,
            error,
            next_attempt_in_s,
        } => (
            Tone::Warn,
            format!(
                "retry {file}: {} msgs, attempt {attempts} failed, next {}: {error}",
                count(*messages),
                next_attempt(Some(*next_attempt_in_s))
            ),
        ),
        EventKind::FileStuck {
            file,
            messages,
            error,
        } => (
            Tone::Bad,
            format!("STUCK {file}: {} msgs: {error}", count(*messages)),
        ),
        EventKind::FileCorrupt { file, reason } => (Tone::Bad, format!("corrupt {file}: {reason}")),
        EventKind::AllocatorResync {
            next_id,
            db_max_id,
            reason,
        } => (
            Tone::Warn,
            format!(
                "allocator resync: next id {}, db max {}: {reason}",
                id(*next_id),
                id(*db_max_id)
            ),
        ),
        EventKind::StateChanged { state } => (Tone::Normal, format!("state → {}", state.as_str())),
        EventKind::OperatorAction {
            action,
            target,
            origin,
            outcome,
        } => {
            let target = target.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
            (
                Tone::Operator,
                format!("operator {action}{target} ({origin}): {outcome}"),
            )
        }
        EventKind::Warning { message } => (Tone::Warn, format!("warning: {message}")),
        EventKind::BulkProgress {
            id,
            action,
            done,
            total,
            skipped,
        } => (
            Tone::Operator,
            format!(
                "bulk {} #{id}: {} of {} done, {} skipped",
                action.as_str(),
                count(*done),
                count(*total),
                count(*skipped)
            ),
        ),
        EventKind::Resync { oldest_available } => (
            Tone::Warn,
            format!("events missed (oldest kept #{oldest_available}): snapshot refetched"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_an_operator_expects() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(id(-1234), "-1,234");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2_200_000), "2.1 MiB");
        assert_eq!(age(3.24), "3.2s");
        assert_eq!(age(245.0), "4m05s");
        assert_eq!(age(7380.0), "2h03m");
        assert_eq!(rate(1234.0), "1.2k/s");
        assert_eq!(next_attempt(Some(-1.0)), "due");
        assert_eq!(next_attempt(None), "—");
        assert_eq!(clock("2024-05-01T12:03:04.123Z"), "12:03:04");
        assert_eq!(clock("garbage"), "garbage");
    }
}
