//! Points in the event history as people write them: an event id, an RFC 3339 time, a time
//! back from now (`-24h`, `-90m`, `-2d`, `-30s`) or a UTC clock time (`03:12`, `03:12:30`:
//! its latest past occurrence). Used by the API, `statmgr events` and the console.

use chrono::{DateTime, Duration, NaiveTime, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Id(u64),
    Time(DateTime<Utc>),
}

/// The format events are stamped with (UTC, milliseconds): comparable as text.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An id or a time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<Since, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map(Since::Id)
            .map_err(|_| format!("{t:?} is too large for an event id"));
    }
    parse_time(t, now).map(Since::Time)
}

/// A time: RFC 3339, `-N{s,m,h,d}`, or a UTC clock time `HH:MM[:SS]`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let hint = "expected an RFC 3339 time (2026-11-27T03:12:00Z), a time back from now (-24h, -90m, -2d, -30s) or a UTC clock time (03:12)";
    if let Some(back) = t.strip_prefix('-') {
        let (digits, unit) = back.split_at(back.len().saturating_sub(1));
        let n: i64 = digits.parse().map_err(|_| format!("{t:?}: not a time; {hint}"))?;
        let span = match unit {
            "s" => Duration::try_seconds(n),
            "m" => Duration::try_minutes(n),
            "h" => Duration::try_hours(n),
            "d" => Duration::try_days(n),
            _ => None,
        }
        .ok_or_else(|| format!("{t:?}: not a time; {hint}"))?;
        return now
            .checked_sub_signed(span)
            .ok_or_else(|| format!("{t:?}: too far back"));
    }
    if let Ok(clock) =
        NaiveTime::parse_from_str(t, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
    {
        let today = now.date_naive().and_time(clock).and_utc();
        return Ok(if today > now {
            today - Duration::days(1)
        } else {
            today
        });
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("{t:?}: not a time; {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn every_form_is_understood() {
        let at = |s: &str| stamp(parse_time(s, now()).unwrap());
        assert_eq!(at("-24h"), "2026-11-26T10:00:00.000Z");
        assert_eq!(at("-90m"), "2026-11-27T08:30:00.000Z");
        assert_eq!(at("-2d"), "2026-11-25T10:00:00.000Z");
        assert_eq!(at("03:12"), "2026-11-27T03:12:00.000Z");
        // A clock time later than now is yesterday's.
        assert_eq!(at("11:00:30"), "2026-11-26T11:00:30.000Z");
        assert_eq!(at("2026-11-27T05:00:00+02:00"), "2026-11-27T03:00:00.000Z");
        assert_eq!(parse_since("42", now()), Ok(Since::Id(42)));
    }

    #[test]
    fn bad_input_says_what_is_expected() {
        for bad in [
            "",
            "-",
            "-5x",
            "yesterday",
            "25:00",
            "-h",
            "99999999999999999999999",
        ] {
            let e = parse_since(bad, now()).unwrap_err();
            assert!(e.contains("expected") || e.contains("too large"), "{bad}: {e}");
        }
    }
}
