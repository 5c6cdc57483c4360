//! The screen's geometry in plain numbers: shared by the views (which draw into it) and the
//! reducer (which pages the file lists by the number of visible rows).

use crate::tui::state::{Screen, State};

/// Smallest terminal the dashboard is drawn in; below it, a "too small" screen.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Heights of the dashboard's bands, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub header: u16,
    /// `statmgr demo`'s line (0 otherwise).
    pub banner: u16,
    /// Inbox and key allocator.
    pub top: u16,
    /// Retry and stuck files.
    pub files: u16,
    /// Batch commits and events.
    pub bottom: u16,
    pub footer: u16,
}

pub fn fits(screen: Screen) -> bool {
    screen.width >= MIN_WIDTH && screen.height >= MIN_HEIGHT
}

/// The bands for a screen (with the demo's line or not); `None` when it is too small.
pub fn plan(screen: Screen, banner: bool) -> Option<Plan> {
    if !fits(screen) {
        return None;
    }
    let banner = u16::from(banner);
    let top = if screen.height >= 34 { 6 } else { 5 };
    let rest = screen.height - 2 - banner - top;
    let bottom = (rest * 2 / 5).clamp(7, 18);
    Some(Plan {
        header: 1,
        banner,
        top,
        files: rest - bottom,
        bottom,
        footer: 1,
    })
}

fn plan_of(state: &State) -> Option<Plan> {
    plan(state.screen, state.demo.is_some())
}

/// Data rows visible in the file table (inside its border, below its column header).
pub fn file_rows(state: &State) -> u64 {
    plan_of(state)
        .map(|p| p.files.saturating_sub(3).max(1) as u64)
        .unwrap_or(1)
}

/// Lines visible in the events and batches panels.
pub fn bottom_rows(state: &State) -> usize {
    plan_of(state)
        .map(|p| p.bottom.saturating_sub(2) as usize)
        .unwrap_or(1)
}
