//! What the console knows of the past (plain data): older events paged in behind the live
//! tail, a stretch of history jumped to by time, the time being typed, and the chart window
//! (live, or the last hour or day from the processor's per-minute rollups).

use crate::api::wire::{Event, RollupPage};

/// Events asked for per page of history.
pub const PAGE: usize = 200;
/// How often the rollups of a 1 h / 24 h window are asked for again.
pub const ROLLUP_REFRESH_S: f64 = 30.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartWindow {
    /// From successive snapshots (one sample a second, ten minutes).
    #[default]
    Live,
    Hour,
    Day,
}

impl ChartWindow {
    pub fn next(self) -> ChartWindow {
        match self {
            ChartWindow::Live => ChartWindow::Hour,
            ChartWindow::Hour => ChartWindow::Day,
            ChartWindow::Day => ChartWindow::Live,
        }
    }

    /// The API's name (`GET /api/v1/rollups?window=`); `None` for live.
    pub fn api(self) -> Option<&'static str> {
        match self {
            ChartWindow::Live => None,
            ChartWindow::Hour => Some("1h"),
            ChartWindow::Day => Some("24h"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChartWindow::Live => "live",
            ChartWindow::Hour => "1 h",
            ChartWindow::Day => "24 h",
        }
    }

    /// Minutes the window spans.
    pub fn minutes(self) -> usize {
        match self {
            ChartWindow::Live => 10,
            ChartWindow::Hour => 60,
            ChartWindow::Day => 1440,
        }
    }
}

/// A stretch of history shown instead of the live tail, from a time the operator gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Jump {
    /// What was typed, and the time it means (RFC 3339).
    pub asked: String,
    pub from: String,
    pub events: Vec<Event>,
    /// First event shown (index into `events`).
    pub top: usize,
    pub more_before: bool,
    pub more_after: bool,
}

/// Why a page of history was asked for, so its answer lands in the right place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageFor {
    /// Older events behind the live tail.
    Older,
    /// A jump to a time (`asked`: what was typed).
    Jump {
        asked: String,
        from: String,
    },
    /// Scrolling a jumped-to stretch back or forward.
    JumpBefore,
    JumpAfter,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    /// Events older than the live tail, oldest first.
    pub older: Vec<Event>,
    /// Nothing older is kept on the server.
    pub start_reached: bool,
    /// A page is being fetched.
    pub loading: bool,
    pub jump: Option<Jump>,
    /// The time being typed after `t`.
    pub prompt: Option<String>,
    pub window: ChartWindow,
    pub rollups: Option<RollupPage>,
    /// Console clock when the rollups arrived.
    pub rollups_at_s: f64,
    /// The last history or rollup request that failed, and why.
    pub error: Option<String>,
}

/// Rollup values per column: `values` (one a minute, `minutes` of them ending now) folded to
/// `width` columns by their largest value.
pub fn fold(values: &[u64], width: usize) -> Vec<u64> {
    if width == 0 || values.is_empty() {
        return Vec::new();
    }
    if values.len() <= width {
        return values.to_vec();
    }
    (0..width)
        .map(|c| {
            let a = c * values.len() / width;
            let b = ((c + 1) * values.len() / width).max(a + 1);
            values[a..b].iter().copied().max().unwrap_or(0)
        })
        .collect()
}

/// The three rollup series of a window, one value a minute from its start (minutes without
/// a rollup are 0): rows per second, commit p99 latency (ms), inbox depth.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub throughput: Vec<u64>,
    pub latency_ms: Vec<u64>,
    pub depth: Vec<u64>,
}

pub fn series(page: &RollupPage, minutes: usize) -> Series {
    let minute_of = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| d.timestamp().div_euclid(60))
    };
    let mut out = Series {
        throughput: vec![0; minutes],
        latency_ms: vec![0; minutes],
        depth: vec![0; minutes],
    };
    let Some(end) = minute_of(&page.to) else {
        return out;
    };
    let start = end - minutes as i64 + 1;
    for r in &page.rollups {
        let Some(m) = minute_of(&r.minute) else { continue };
        if m < start || m > end {
            continue;
        }
        let i = (m - start) as usize;
        out.throughput[i] = r.committed.div_ceil(60);
        out.latency_ms[i] = r.latency_p99_ms.ceil() as u64;
        out.depth[i] = r.inbox_depth;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::Rollup;

    #[test]
    fn fold_keeps_peaks() {
        assert_eq!(fold(&[1, 9, 2, 3, 7, 1], 3), [9, 3, 7]);
        assert_eq!(fold(&[1, 2], 5), [1, 2]);
        assert!(fold(&[], 5).is_empty());
    }

    #[test]
    fn series_places_minutes_and_leaves_gaps_empty() {
        let page = RollupPage {
            window: "1h".into(),
            from: "2026-11-27T09:00:30.000Z".into(),
            to: "2026-11-27T10:00:30.000Z".into(),
            rollups: vec![
                Rollup {
                    minute: "2026-11-27T10:00:00Z".into(),
                    committed: 600,
                    latency_p99_ms: 12.2,
                    inbox_depth: 4,
                    ..Rollup::default()
                },
                Rollup {
                    minute: "2026-11-27T09:58:00Z".into(),
                    committed: 60,
                    ..Rollup::default()
                },
            ],
        };
        let s = series(&page, 60);
        assert_eq!(s.throughput[59], 10);
        assert_eq!(s.latency_ms[59], 13);
        assert_eq!(s.depth[59], 4);
        assert_eq!(s.throughput[57], 1);
        assert_eq!(s.throughput[58], 0);
    }
}
