//! The console's event loop: keys, API updates (tagged by processor) and a one-second tick go
//! through the fleet reducer; the screen is redrawn only when something changed, at most 30
//! times a second. Keys have a stream of their own and are served first, so a slow or flooding
//! API never freezes input.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::api::client::Client;
use crate::tui::action::{Action, Command};
use crate::tui::conn::{self, Links, Queries, Rediscover};
use crate::tui::fleet::{Fleet, Member};
use crate::tui::keymap::Key;
use crate::tui::reduce::reduce_fleet;
use crate::tui::state::{DemoInfo, State};
use crate::tui::terminal::{self, Tui};
use crate::tui::theme::Theme;
use crate::tui::{view, ConsoleError, ConsoleOptions, DemoHooks};

const FRAME: Duration = Duration::from_millis(33);
const TICK: Duration = Duration::from_secs(1);

/// Runs the console against `client` until the operator quits. `read_only`: `statmgr watch`.
pub async fn run_console(client: Client, read_only: bool, opts: ConsoleOptions) -> Result<(), ConsoleError> {
    let url = client.target().url.clone();
    let processor = ProcessorLink {
        name: url.clone(),
        database: String::new(),
        endpoint: url,
        rediscover: opts.root.clone().map(|root| Rediscover {
            root,
            with_token: !read_only,
        }),
        client: Some(client),
        read_only,
        read_only_reason: None,
    };
    run_fleet(vec![processor], opts).await
}

/// One processor the console attaches to.
#[derive(Debug, Clone)]
pub struct ProcessorLink {
    pub name: String,
    /// Processors with the same label share a database (see `fleet::sequences`).
    pub database: String,
    /// Shown until the processor answers (its URL, or where its endpoint will be found).
    pub endpoint: String,
    /// `None`: its endpoint is not known yet (found later through `rediscover`).
    pub client: Option<Client>,
    /// Re-read `<root>/control/` after a lost connection.
    pub rediscover: Option<Rediscover>,
    /// Holds no token: mutating keys only say why.
    pub read_only: bool,
    /// Why, when it is not `statmgr watch`.
    pub read_only_reason: Option<String>,
}

/// Runs the console over several processors (one: the single dashboard), each with its own
/// connection and command tasks, so a slow or dead one delays nobody else.
pub async fn run_fleet(processors: Vec<ProcessorLink>, opts: ConsoleOptions) -> Result<(), ConsoleError> {
    if !std::io::stdout().is_terminal() {
        return Err(ConsoleError::NotATerminal);
    }
    if processors.is_empty() {
        return Err(ConsoleError::Internal("no processor to attach to".into()));
    }
    let members = processors
        .iter()
        .map(|p| {
            let mut state = State::new(p.endpoint.clone(), p.read_only);
            state.read_only_reason = p.read_only_reason.clone();
            Member::new(p.name.clone(), p.database.clone(), state)
        })
        .collect();
    let mut fleet = Fleet::new(members);
    fleet.members[0].state.demo = opts.demo.as_ref().map(|hooks| {
        let (rate, status) = read_demo(hooks);
        DemoInfo {
            banner: hooks.banner.clone(),
            rate,
            status,
        }
    });
    let (updates_tx, updates) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let stopped = CancellationToken::new();
    let mut commands = Vec::new();
    let mut queries = Vec::new();
    let mut aborts = Vec::new();
    for (i, p) in processors.into_iter().enumerate() {
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (queries_tx, queries_rx) = watch::channel(fleet.members[i].state.all_queries());
        let (client_tx, client_rx) = watch::channel(p.client.clone());
        let refresh_now = Arc::new(Notify::new());
        let links = Links {
            processor: i,
            updates: updates_tx.clone(),
            queries: queries_rx,
            refresh_now: refresh_now.clone(),
            client: client_tx,
            cancel: cancel.clone(),
        };
        let conn_task = tokio::spawn(conn::run(p.client, p.rediscover, links));
        let exec = conn::execute(i, commands_rx, client_rx, updates_tx.clone(), refresh_now);
        let exec_task = tokio::spawn(exec);
        // If a task ends (a panic included) while the console runs, the console says so.
        for task in [conn_task, exec_task] {
            aborts.push(task.abort_handle());
            let stopped = stopped.clone();
            tokio::spawn(async move {
                let _ = task.await;
                stopped.cancel();
            });
        }
        commands.push(commands_tx);
        queries.push(queries_tx);
    }
    let channels = Channels {
        updates,
        commands,
        queries,
        stopped,
        demo: opts.demo.clone(),
    };
    let result = run_ui(fleet, &opts.theme, channels).await;
    cancel.cancel();
    for abort in aborts {
        abort.abort();
    }
    result
}

/// How the UI talks to whatever keeps it current.
pub struct Channels {
    /// API updates, tagged with their processor.
    pub updates: mpsc::Receiver<Action>,
    /// Per processor, in fleet order.
    pub commands: Vec<mpsc::UnboundedSender<Command>>,
    /// Per processor: the file queries the UI wants; its API task refetches when they change.
    pub queries: Vec<watch::Sender<Queries>>,
    /// Cancelled when an API task stops: the console cannot go on.
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
pub async fn run_ui(mut fleet: Fleet, theme: &Theme, channels: Channels) -> Result<(), ConsoleError> {
    let (mut tui, _guard) = terminal::enter().map_err(ConsoleError::Terminal)?;
    ui_loop(&mut tui, &mut fleet, theme, channels).await
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
    fleet: &mut Fleet,
    theme: &Theme,
    mut ch: Channels,
) -> Result<(), ConsoleError> {
    let clock = Instant::now();
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sig = signals()?;
    let size = tui.size().map_err(ConsoleError::Terminal)?;
    reduce_fleet(
        fleet,
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
            tui.draw(|f| view::draw_fleet(fleet, theme, f))
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
                Some(action) => Some(action),
                None => return Err(ConsoleError::Internal("the API tasks stopped".into())),
            },
            _ = tokio::time::sleep_until(next_frame.into()), if dirty => None,
            _ = tick.tick() => Some(Action::Tick),
        };
        let Some(action) = action else { continue };
        let now = clock.elapsed().as_secs_f64();

        for (processor, command) in reduce_fleet(fleet, action, now) {
            if let (Command::SetDemoRate(rate), Some(hooks)) = (&command, &ch.demo) {
                hooks.rate.store(*rate, std::sync::atomic::Ordering::Relaxed);
            }
            // The executors only stop with the console; a failed send has nobody to tell.
            if let Some(commands) = ch.commands.get(processor) {
                let _ = commands.send(command);
            }
        }
        if let Some(hooks) = &ch.demo {
            let (rate, status) = read_demo(hooks);
            reduce_fleet(fleet, Action::Demo { rate, status }, now);
        }
        dirty = true;
        if fleet.quit {
            return Ok(());
        }
        for (member, queries) in fleet.members.iter().zip(&ch.queries) {
            let wanted = member.state.all_queries();
            if *queries.borrow() != wanted {
                queries.send_replace(wanted);
            }
        }
    }
}
