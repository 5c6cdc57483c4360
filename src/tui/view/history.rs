//! The chart data of the long windows (last 1 h / 24 h, from the processor's per-minute
//! rollups), folded to the width of a chart; the live window stays with the panels' own data.

use crate::tui::state::State;
use crate::tui::timeline::{fold, series, ChartWindow};

/// What the charts show in a 1 h or 24 h window.
pub struct LongWindow {
    pub label: &'static str,
    /// Rows per second, one value a column.
    pub throughput: Vec<u64>,
    /// Commit p99 in milliseconds, one value a column.
    pub latency_ms: Vec<u64>,
    pub depth: Vec<u64>,
    /// Rows per second of the newest minute, and the largest p99 of the window.
    pub throughput_now: u64,
    pub latency_peak_ms: u64,
    /// The rollups have not arrived yet.
    pub waiting: bool,
}

/// `None` in the live window.
pub fn long_window(state: &State, width: usize) -> Option<LongWindow> {
    let window = state.timeline.window;
    if window == ChartWindow::Live {
        return None;
    }
    let Some(page) = state.timeline.rollups.as_ref() else {
        return Some(LongWindow {
            label: window.label(),
            throughput: Vec::new(),
            latency_ms: Vec::new(),
            depth: Vec::new(),
            throughput_now: 0,
            latency_peak_ms: 0,
            waiting: true,
        });
    };
    let s = series(page, window.minutes());
    Some(LongWindow {
        label: window.label(),
        throughput: fold(&s.throughput, width),
        latency_ms: fold(&s.latency_ms, width),
        depth: fold(&s.depth, width),
        throughput_now: s.throughput.last().copied().unwrap_or(0),
        latency_peak_ms: s.latency_ms.iter().copied().max().unwrap_or(0),
        waiting: false,
    })
}
