//! Drawing: one module per panel, each `draw(&State, &Theme, &mut Frame, Rect)`; this module
//! lays the dashboard out and stacks the overlays (the fleet screen is `fleet.rs`).

mod allocator;
mod batches;
mod causes;
mod confirm;
mod detail;
mod discarded;
mod drill;
mod events;
mod files;
mod fleet;
mod fleet_table;
mod footer;
mod header;
mod help;
pub mod history;
mod inbox;
mod sequence;
pub mod text;
mod trace;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::fleet::Fleet;
use crate::tui::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use crate::tui::state::{Focus, Overlay, Screen, State};
use crate::tui::theme::Theme;

/// Draws the console: the dashboard shown, or the fleet screen.
pub fn draw_fleet(fleet: &Fleet, theme: &Theme, frame: &mut Frame) {
    match fleet.shown_state() {
        Some(state) => draw(state, theme, frame),
        None => fleet::draw(fleet, theme, frame),
    }
}

/// Draws one processor's dashboard.
pub fn draw(state: &State, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    frame.render_widget(Block::new().style(theme.styles.base), area);
    let screen = Screen {
        width: area.width,
        height: area.height,
    };
    let Some(plan) = layout::plan(screen, state.demo.is_some()) else {
        too_small(theme, frame, area);
        return;
    };
    let [header_area, banner_area, top, files_area, bottom, footer_area] = Layout::vertical([
        Constraint::Length(plan.header),
        Constraint::Length(plan.banner),
        Constraint::Length(plan.top),
        Constraint::Length(plan.files),
        Constraint::Length(plan.bottom),
        Constraint::Length(plan.footer),
    ])
    .areas(area);
    let [inbox_area, allocator_area] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
    let [batches_area, events_area] = Layout::horizontal([Constraint::Percentage(50); 2]).areas(bottom);
    header::draw(state, theme, frame, header_area);
    header::draw_demo(state, theme, frame, banner_area);
    inbox::draw(state, theme, frame, inbox_area);
    allocator::draw(state, theme, frame, allocator_area);
    files::draw(state, theme, frame, files_area);
    batches::draw(state, theme, frame, batches_area);
    events::draw(state, theme, frame, events_area);
    footer::draw(state, theme, frame, footer_area);
    match &state.overlay {
        None => {}
        Some(Overlay::Help { scroll }) => help::draw(state, *scroll, theme, frame, area),
        Some(Overlay::Detail(d)) => detail::draw(state, d, theme, frame, area),
        Some(Overlay::Confirm(c)) => confirm::draw(state, c, theme, frame, area),
        Some(Overlay::Trace(t)) => trace::draw(state, t, theme, frame, area),
        Some(Overlay::Batch(b)) => drill::draw(state, b, theme, frame, area),
    }
}

pub(crate) fn too_small(theme: &Theme, frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(Span::styled("terminal too small", theme.styles.error)),
        Line::from(format!("this one is {}x{}", area.width, area.height)),
        Line::from(format!("need {MIN_WIDTH}x{MIN_HEIGHT}: enlarge the window")),
        Line::from(Span::styled("q quits", theme.styles.muted)),
    ];
    let height = (lines.len() as u16).min(area.height);
    let y = area.y + area.height.saturating_sub(height) / 2;
    let inner = Rect::new(area.x, y, area.width, height);
    frame.render_widget(Paragraph::new(lines).centered(), inner);
}

/// A panel's frame: focus shows in the border style and in a `▶` before the title.
pub(crate) fn panel<'a>(title: Vec<Span<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let s = &theme.styles;
    let (marker, title_style, border_style) = if focused {
        ("▶", s.title_focus, s.border_focus)
    } else {
        (" ", s.title, s.border)
    };
    let mut spans = vec![Span::styled(marker, title_style)];
    spans.extend(title.into_iter().map(|sp| {
        let style = title_style.patch(sp.style);
        sp.style(style)
    }));
    spans.push(Span::raw(" "));
    Block::bordered()
        .border_style(border_style)
        .title(Line::from(spans))
}

pub(crate) fn focused(state: &State, focus: Focus) -> bool {
    state.overlay.is_none() && state.focus == focus
}

/// A box of at most `width` x `height` in the middle of `area`, cleared.
pub(crate) fn centered(frame: &mut Frame, area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    rect
}
