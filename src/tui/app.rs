//! The console's event loop: keys, API updates and a one-second tick go through the reducer;
//! the screen is redrawn only when something changed, at most 30 times a second. Keys have a
//! stream of their own and are served first, so a slow or flooding API never freezes input.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::api::client::Client;
use crate::tui::action::{Action, ApiUpdate, Command};
use crate::tui::conn::{self, Links, Queries, Rediscover};
use crate::tui::keymap::Key;
use crate::tui::reduce::reduce;
use crate::tui::state::{DemoInfo, State};
use crate::tui::terminal::{self, Tui};
use crate::tui::theme::Theme;
use crate::tui::{view, ConsoleError, ConsoleOptions, DemoHooks};

const FRAME: Duration = Duration::from_millis(33);
const TICK: Duration = Duration::from_secs(1);

/// Runs the console against `client` until the operator quits. `read_only`: `statmgr watch`.
pub async fn run_console(client: Client, read_only: bool, opts: ConsoleOptions) -> Result<(), ConsoleError> {
    if !std::io::stdout().is_terminal() {
        return Err(ConsoleError::NotATerminal);
    }
    let mut state = State::new(client.target().url.clone(), read_only);
    state.demo = opts.demo.as_ref().map(|hooks| {
        let (rate, status) = read_demo(hooks);
        DemoInfo {
            banner: hooks.banner.clone(),
            rate,
            status,
        }
    });
    let (updates_tx, updates) = mpsc::channel(1024);
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (queries, queries_rx) = watch::channel(state.queries());
    let (client_tx, client_rx) = watch::channel(client.clone());
    let refresh_now = Arc::new(Notify::new());
    let cancel = CancellationToken::new();
    let stopped = CancellationToken::new();
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
    let conn_task = tokio::spawn(conn::run(client, rediscover, links));
    let exec_task = tokio::spawn(conn::execute(commands_rx, client_rx, updates_tx, refresh_now));
    let abort = (conn_task.abort_handle(), exec_task.abort_handle());
    // If either task ends (a panic included) while the console runs, the console says so.
    for task in [conn_task, exec_task] {
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _ = task.await;
            stopped.cancel();
        });
    }
    let channels = Channels {
        updates,
        commands,
        queries,
        stopped,
        demo: opts.demo.clone(),
    };
    let result = run_ui(state, &opts.theme, channels).await;
    cancel.cancel();
    abort.0.abort();
    abort.1.abort();
    result
}

/// How the UI talks to whatever keeps it current.
pub struct Channels {
    pub updates: mpsc::Receiver<ApiUpdate>,
    pub commands: mpsc::UnboundedSender<Command>,
    /// The file queries the UI wants; the API task refetches when they change.
    pub queries: watch::Sender<Queries>,
    /// Cancelled when the API tasks stop: the console cannot go on.
    pub stopped: CancellationToken,
    /// `statmgr demo`'s rate and status, read every tick.
    pub demo: Option<DemoHooks>,
}

fn read_demo(hooks: &DemoHooks) -> (u64, String) {
    let rate = hooks.rate.load(std::sync::atomic::Ordering::Relaxed);
    let status = hooks
        .status
        .lock()
        .map(|s| s.clone())
        .unwrap_or_else(|e| e.into_inner().clone());
    (rate, status)
}

/// Takes the terminal, runs the loop until quit, restores the terminal (also on error).
pub async fn run_ui(mut state: State, theme: &Theme, channels: Channels) -> Result<(), ConsoleError> {
    let (mut tui, _guard) = terminal::enter().map_err(ConsoleError::Terminal)?;
    ui_loop(&mut tui, &mut state, theme, channels).await
}

struct Signals {
    term: Signal,
    hup: Signal,
    int: Signal,
}

fn signals() -> Result<Signals, ConsoleError> {
    let on = |kind| signal(kind).map_err(ConsoleError::Terminal);
    Ok(Signals {
        term: on(SignalKind::terminate())?,
        hup: on(SignalKind::hangup())?,
        int: on(SignalKind::interrupt())?,
    })
}

async fn ui_loop(
    tui: &mut Tui,
    state: &mut State,
    theme: &Theme,
    mut ch: Channels,
) -> Result<(), ConsoleError> {
    let clock = Instant::now();
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sig = signals()?;
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
        if !terminal::is_active() {
            return Err(ConsoleError::Internal("a task panicked (message above)".into()));
        }
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
            _ = sig.term.recv() => return Ok(()),
            _ = sig.hup.recv() => return Ok(()),
            _ = sig.int.recv() => return Ok(()),
            _ = ch.stopped.cancelled() => return Err(ConsoleError::Internal("the API connection task stopped".into())),
            update = ch.updates.recv() => match update {
                Some(u) => Some(Action::Api(u)),
                None => return Err(ConsoleError::Internal("the API tasks stopped".into())),
            },
            _ = tokio::time::sleep_until(next_frame.into()), if dirty => None,
            _ = tick.tick() => Some(Action::Tick),
        };
        let Some(action) = action else { continue };
        let now = clock.elapsed().as_secs_f64();

        for command in reduce(state, action, now) {
            if let (Command::SetDemoRate(rate), Some(hooks)) = (&command, &ch.demo) {
                hooks.rate.store(*rate, std::sync::atomic::Ordering::Relaxed);
            }
            // The executor only stops with the console; a failed send has nobody to tell.
            let _ = ch.commands.send(command);
        }
        if let Some(hooks) = &ch.demo {
            let (rate, status) = read_demo(hooks);
            reduce(state, Action::Demo { rate, status }, now);
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
