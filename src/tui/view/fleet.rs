//! The fleet screen: a header with the fleet's totals, the table of processors, the shared
//! key sequence, the selected processor's events, and the footer.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::tui::fleet::Fleet;
use crate::tui::format;
use crate::tui::keymap::{Context, HelpOf};
use crate::tui::layout;
use crate::tui::state::Screen;
use crate::tui::theme::Theme;
use crate::tui::view::{events, fleet_table, footer, help, sequence, text, too_small};

const BADGE: &str = " READ-ONLY ";

pub fn draw(fleet: &Fleet, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    frame.render_widget(Block::new().style(theme.styles.base), area);
    let screen = Screen {
        width: area.width,
        height: area.height,
    };
    if !layout::fits(screen) {
        too_small(theme, frame, area);
        return;
    }
    // The table and the key sequence take what they need, up to a third of the screen each;
    // the events of the selected processor get the rest.
    let third = area.height / 3;
    let table = (fleet.members.len() as u16 + 3).clamp(5, third.max(5));
    let seq = sequence::height(fleet).min(third.max(4));
    let [head, table_area, seq_area, events_area, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(table),
        Constraint::Length(seq),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    header(fleet, theme, frame, head);
    fleet_table::draw(fleet, theme, frame, table_area);
    sequence::draw(fleet, theme, frame, seq_area);
    if let Some(m) = fleet.selected_member() {
        let title = vec![Span::raw("Events · ")]
            .into_iter()
            .chain(text::spans(&m.name, 24, theme.styles.title, theme))
            .collect();
        events::draw_titled(&m.state, title, false, theme, frame, events_area);
    }
    let hints: Vec<(&str, &str)> = if fleet.help.is_some() {
        crate::tui::keymap::in_context(Context::Help)
            .map(|b| (b.label, b.help))
            .take(4)
            .collect()
    } else {
        footer::short_hints(Context::Fleet, fleet.all_read_only()).collect()
    };
    footer::draw_line(fleet.current_notice(), &hints, theme, frame, foot);
    if let Some(scroll) = fleet.help {
        help::draw_keys(
            fleet.all_read_only(),
            HelpOf::FleetScreen,
            scroll,
            theme,
            frame,
            area,
        );
    }
}

/// ` statmgr │ fleet of 3 │ 2 connected │ 1 DISCONNECTED │ 4.1k msg/s`, and READ-ONLY when
/// no processor can be changed.
fn header(fleet: &Fleet, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    frame.render_widget(Paragraph::new("").style(s.header), area);
    let sep = || Span::styled(" │ ", s.header.patch(s.muted));
    let total = fleet.members.len();
    let connected = fleet.connected();
    let rate: f64 = fleet
        .members
        .iter()
        .filter(|m| m.state.is_connected())
        .map(|m| m.state.history.out_rate)
        .sum();
    let mut spans = vec![
        Span::styled(" statmgr ", s.header.patch(s.title)),
        sep(),
        Span::styled(format!("fleet of {total}"), s.header),
        sep(),
        Span::styled(format!(" {connected} connected "), s.state_running),
    ];
    if connected < total {
        spans.push(sep());
        spans.push(Span::styled(
            format!(" ✖ {} not connected ", total - connected),
            s.state_down,
        ));
    }
    spans.push(sep());
    let rate = format::rate(rate);
    spans.push(Span::styled(
        format!("{} msg/s", rate.trim_end_matches("/s")),
        s.header,
    ));
    let read_only = fleet.all_read_only();
    let badge_width = if read_only { BADGE.len() as u16 + 1 } else { 0 };
    let left = Rect::new(area.x, area.y, area.width.saturating_sub(badge_width), 1);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(s.header), left);
    if read_only {
        let right = Rect::new(area.right().saturating_sub(badge_width), area.y, badge_width, 1);
        frame.render_widget(
            Paragraph::new(Span::styled(BADGE, s.badge)).right_aligned(),
            right,
        );
    }
}
