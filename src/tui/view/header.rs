//! The header bar: endpoint, processor state, uptime, throughput, and the READ-ONLY badge.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::api::wire::ProcessorState;
use crate::tui::format;
use crate::tui::state::{Conn, State};
use crate::tui::theme::Theme;
use crate::tui::view::text;

const BADGE: &str = " READ-ONLY ";

pub fn draw(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let s = &theme.styles;
    frame.render_widget(Paragraph::new("").style(s.header), area);
    let badge_width = if state.is_read_only() {
        BADGE.len() as u16 + 1
    } else {
        0
    };
    // The name is the first thing to go on a narrow screen: the state matters more.
    let mut spans = if area.width >= 100 {
        vec![Span::styled(" statmgr ", s.header.patch(s.title)), sep(theme)]
    } else {
        vec![Span::raw(" ")]
    };
    if let Some(name) = &state.member {
        spans.extend(text::spans(name, 24, s.header.patch(s.title), theme));
        spans.push(sep(theme));
    }
    let endpoint_room = (area.width as usize / 3).max(12);
    spans.extend(text::spans(&state.endpoint, endpoint_room, s.header, theme));
    spans.push(sep(theme));
    spans.extend(status(state, theme));
    // Files set aside by an operator: shown while there are any (they wait for a decision).
    if let Some(d) = state
        .snapshot
        .as_ref()
        .map(|s| s.discarded.total_unfiltered)
        .filter(|n| *n > 0)
    {
        spans.push(sep(theme));
        spans.push(Span::styled(
            format!("discarded {}", crate::tui::format::count(d)),
            s.header.patch(s.warn),
        ));
    }
    let left = Rect::new(area.x, area.y, area.width.saturating_sub(badge_width), 1);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(s.header), left);
    if state.is_read_only() {
        let right = Rect::new(area.right().saturating_sub(badge_width), area.y, badge_width, 1);
        frame.render_widget(
            Paragraph::new(Span::styled(BADGE, s.badge)).right_aligned(),
            right,
        );
    }
}

/// `statmgr demo`'s line: its rate, what its trouble-maker is doing, and what it is.
pub fn draw_demo(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let (Some(demo), true) = (&state.demo, area.height > 0) else {
        return;
    };
    let s = &theme.styles;
    let mut spans = vec![
        Span::styled(" DEMO ", s.badge),
        Span::styled(format!(" {} msg/s (+/-) ", format::count(demo.rate)), s.value),
    ];
    let alarm = demo.status.contains("LOCKED");
    let mut used: usize = spans
        .iter()
        .map(|sp| crate::tui::sanitize::width(&sp.content))
        .sum();
    for (text, style) in [
        (&demo.status, if alarm { s.warn } else { s.muted }),
        (&demo.banner, s.muted),
    ] {
        if text.is_empty() {
            continue;
        }
        spans.push(Span::styled("│ ", s.muted));
        let room = (area.width as usize).saturating_sub(used + 3);
        let fitted = text::spans(text, room, style, theme);
        used += 2
            + fitted
                .iter()
                .map(|sp| crate::tui::sanitize::width(&sp.content))
                .sum::<usize>()
            + 1;
        spans.extend(fitted);
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn sep(theme: &Theme) -> Span<'static> {
    Span::styled(" │ ", theme.styles.header.patch(theme.styles.muted))
}

/// The state badge (with a symbol, so it reads without colour) and what follows it.
fn status(state: &State, theme: &Theme) -> Vec<Span<'static>> {
    let s = &theme.styles;
    match &state.conn {
        Conn::Connecting => vec![Span::styled(" … CONNECTING ", s.state_draining)],
        Conn::Disconnected {
            since_s,
            retry_at_s,
            error,
        } => {
            let since = format::age(state.now_s - since_s);
            let retry = (retry_at_s - state.now_s).max(0.0);
            let mut out = vec![
                Span::styled(format!(" ✖ DISCONNECTED {since} "), s.state_down),
                Span::styled(format!(" retry in {}: ", format::age(retry)), s.header),
            ];
            out.extend(text::spans(error, 40, s.header.patch(s.muted), theme));
            out
        }
        Conn::Connected => connected(state, theme),
    }
}

fn connected(state: &State, theme: &Theme) -> Vec<Span<'static>> {
    let s = &theme.styles;
    let Some(snap) = &state.snapshot else {
        return vec![Span::styled(" … WAITING FOR A SNAPSHOT ", s.state_draining)];
    };
    let (symbol, style) = match snap.state {
        ProcessorState::Running => ("●", s.state_running),
        ProcessorState::Paused => ("‖", s.state_paused),
        ProcessorState::Draining => ("↓", s.state_draining),
        ProcessorState::Starting => ("…", s.state_draining),
        ProcessorState::Stopped => ("■", s.state_down),
    };
    let uptime = format::age(snap.uptime_s + state.snapshot_age_s());
    let mut out = vec![
        Span::styled(format!(" {symbol} {} ", format::state_word(snap.state)), style),
        sep(theme),
        Span::styled(format!("up {uptime}"), s.header),
        sep(theme),
        Span::styled(
            format!(
                "{} msg/s",
                format::rate(state.history.out_rate).trim_end_matches("/s")
            ),
            s.header,
        ),
    ];
    if !snap.database.reachable {
        let since = snap.database.since.as_deref().map_or("?", format::clock);
        out.push(sep(theme));
        out.push(Span::styled(
            format!(" ✖ database unreachable since {since} "),
            s.state_down,
        ));
        if let Some(error) = &snap.database.last_error {
            out.push(Span::styled(" ", s.header));
            out.extend(text::spans(error, 60, s.header.patch(s.muted), theme));
        }
    }
    out
}
