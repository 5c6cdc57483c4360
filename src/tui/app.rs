//! The console's event loop: keys, API updates and a one-second tick go through the reducer;
//! the screen is redrawn only when something changed, at most 30 times a second. Keys have a
//! channel of their own and are served first, so a slow or flooding API never freezes input.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::api::client::Client;
use crate::tui::action::{Action, Command};
use crate::tui::conn::{self, Links, Queries, Rediscover};
use crate::tui::keymap::Key;
use crate::tui::reduce::reduce;
use crate::tui::state::State;
use crate::tui::terminal::{self, Tui};
use crate::tui::theme::Theme;
use crate::tui::{view, ConsoleError, ConsoleOptions};

const FRAME: Duration = Duration::from_millis(33);
const TICK: Duration = Duration::from_secs(1);

/// Runs the console against `client` until the operator quits. `read_only`: `statmgr watch`.
pub async fn run_console(client: Client, read_only: bool, opts: ConsoleOptions) -> Result<(), ConsoleError> {
    if !std::io::stdout().is_terminal() {
        return Err(ConsoleError::NotATerminal);
    }
    let mut state = State::new(client.target().url.clone(), read_only);
    let (updates_tx, updates) = mpsc::channel(1024);
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (queries_tx, queries_rx) = watch::channel(state.queries());
    let (client_tx, client_rx) = watch::channel(client.clone());
    let refresh_now = Arc::new(Notify::new());
    let cancel = CancellationToken::new();
    let rediscover = opts.root.clone().map(|root| Rediscover {
        root,
        with_token: !read_only,
    });
    let links = Links {
        updates: updates_tx.clone(),
        queries: queries_rx,
        refresh_now: refresh_now.clone(),
        client: client_tx,
        cancel: cancel.clone(),
    };
    let mut conn_task = tokio::spawn(conn::run(client, rediscover, links));
    let exec_task = tokio::spawn(conn::execute(commands_rx, client_rx, updates_tx, refresh_now));
    let result = match terminal::enter() {
        Ok((mut tui, _guard)) => {
            let channels = Channels {
                updates,
                commands,
                queries: queries_tx,
            };
            ui_loop(&mut tui, &mut state, &opts.theme, channels, &mut conn_task).await
        }
        Err(e) => Err(ConsoleError::Terminal(e)),
    };
    cancel.cancel();
    conn_task.abort();
    exec_task.abort();
    result
}

struct Channels {
    updates: mpsc::Receiver<crate::tui::action::ApiUpdate>,
    commands: mpsc::UnboundedSender<Command>,
    queries: watch::Sender<Queries>,
}

async fn ui_loop(
    tui: &mut Tui,
    state: &mut State,
    theme: &Theme,
    mut ch: Channels,
    conn_task: &mut tokio::task::JoinHandle<()>,
) -> Result<(), ConsoleError> {
    let clock = Instant::now();
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate()).map_err(ConsoleError::Terminal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(ConsoleError::Terminal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(ConsoleError::Terminal)?;
    let size = tui.size().map_err(ConsoleError::Terminal)?;
    reduce(
        state,
        Action::Resize {
            width: size.width,
            height: size.height,
        },
        0.0,
    );
    let mut last_draw: Option<Instant> = None;
    let mut dirty = true;
    loop {
        let next_frame = last_draw.map_or_else(Instant::now, |t| t + FRAME);
        if dirty && Instant::now() >= next_frame {
            tui.draw(|f| view::draw(state, theme, f))
                .map_err(ConsoleError::Terminal)?;
            last_draw = Some(Instant::now());
            dirty = false;
        }
        let action = tokio::select! {
            biased;
            event = input.next() => match event {
                Some(Ok(TermEvent::Key(k))) => Key::from_crossterm(&k).map(Action::Key),
                Some(Ok(TermEvent::Resize(width, height))) => Some(Action::Resize { width, height }),
                Some(Ok(_)) => None,
                Some(Err(e)) => return Err(ConsoleError::Terminal(e)),
                None => return Ok(()),
            },
            _ = sigterm.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
            _ = sigint.recv() => return Ok(()),
            _ = &mut *conn_task => return Err(ConsoleError::Internal("the API connection task stopped".into())),
            update = ch.updates.recv() => match update {
                Some(u) => Some(Action::Api(u)),
                None => return Err(ConsoleError::Internal("the API tasks stopped".into())),
            },
            _ = tokio::time::sleep_until(next_frame.into()), if dirty => None,
            _ = tick.tick() => Some(Action::Tick),
        };
        let Some(action) = action else { continue };
        for command in reduce(state, action, clock.elapsed().as_secs_f64()) {
            // The executor only stops with the console; a failed send has nobody to tell.
            let _ = ch.commands.send(command);
        }
        dirty = true;
        if state.quit {
            return Ok(());
        }
        let queries = state.queries();
        if *ch.queries.borrow() != queries {
            ch.queries.send_replace(queries);
        }
    }
}
