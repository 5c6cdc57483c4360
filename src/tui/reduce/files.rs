//! Navigation in a file list paged from the server: the selection is an absolute index, and
//! the window of rows asked for follows it, so 100,000 files cost one page.

use crate::api::wire::{FileKind, SortKey};
use crate::tui::layout;
use crate::tui::state::{FileList, State, WINDOW};

pub fn rows(state: &State) -> u64 {
    layout::file_rows(state)
}

/// Selects the file at `index` (clamped), scrolls it into view and moves the window if needed.
pub fn select(list: &mut FileList, index: u64, rows: u64) {
    let total = list.total();
    list.selected = index.min(total.saturating_sub(1));
    if list.selected < list.top {
        list.top = list.selected;
    } else if list.selected >= list.top.saturating_add(rows) {
        list.top = list.selected.saturating_add(1).saturating_sub(rows);
    }
    list.top = list.top.min(total.saturating_sub(rows));
    follow_window(list, rows);
}

pub fn move_by(list: &mut FileList, delta: i64, rows: u64) {
    let index = if delta < 0 {
        list.selected.saturating_sub(delta.unsigned_abs())
    } else {
        list.selected.saturating_add(delta as u64)
    };
    select(list, index, rows);
}

/// Asks for a new window when the visible rows leave the one asked for.
fn follow_window(list: &mut FileList, rows: u64) {
    let start = list.query.offset;
    let end = start.saturating_add(list.query.limit);
    let visible_end = list
        .top
        .saturating_add(rows)
        .min(list.total().max(list.top.saturating_add(1)));
    if list.top < start || visible_end > end {
        list.query.offset = list.top.saturating_add(rows / 2).saturating_sub(WINDOW / 2);
        list.query.limit = WINDOW;
    }
}

/// A new filter, sort or order: back to the first row.
fn restart(list: &mut FileList) {
    list.selected = 0;
    list.top = 0;
    list.query.offset = 0;
    list.query.limit = WINDOW;
}

pub fn set_filter(list: &mut FileList, filter: Option<String>) {
    let filter = filter.filter(|f| !f.is_empty());
    if list.query.filter != filter {
        list.query.filter = filter;
        restart(list);
    }
}

pub fn cycle_sort(list: &mut FileList) {
    list.query.sort = match list.query.sort {
        SortKey::Name => SortKey::Age,
        SortKey::Age => SortKey::Messages,
        SortKey::Messages => SortKey::Attempts,
        SortKey::Attempts => SortKey::NextAttempt,
        SortKey::NextAttempt => SortKey::Error,
        SortKey::Error => SortKey::Name,
    };
    restart(list);
}

pub fn reverse_sort(list: &mut FileList) {
    list.query.desc = !list.query.desc;
    restart(list);
}

/// After a resize or a new page: the selection stays within the list and in view.
pub fn relayout(state: &mut State) {
    let rows = rows(state);
    for kind in [FileKind::Retry, FileKind::Stuck, FileKind::Discarded] {
        let list = state.list_mut(kind);
        if list.page_matches() {
            let selected = list.selected;
            select(list, selected, rows);
        }
    }
}
