//! The connection to the processor's API: a snapshot, then the event stream, with a snapshot
//! every second (inbox depth and ages are not events) and whenever the file queries change.
//! When the processor goes away it reports "disconnected", reconnects with backoff, and
//! (with `--root`) re-reads the endpoint, since a restarted processor has a new port.
//! Commands (pause, requeue, ...) run in a task of their own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::api::client::{Client, ClientError, Target};
use crate::api::wire::{BulkAction, BulkSelection, EventKind, FileQuery, Snapshot};
use crate::tui::action::{Action, ActionFailure, ApiUpdate, Command};

/// A bulk action of 100,000 files takes tens of seconds on the server.
const BULK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub const REFRESH: Duration = Duration::from_secs(1);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The retry, stuck and discarded file queries the console wants.
pub type Queries = (FileQuery, FileQuery, FileQuery);

/// Doubling delays between reconnection attempts, back to the minimum after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff { next: min, min, max }
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Where the event stream resumes: after the last event seen, unless the processor restarted
/// (its event ids start again) — then from the new snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resume {
    pub started_at: Option<String>,
    pub last_event_id: u64,
}

impl Resume {
    pub fn from_snapshot(&mut self, snapshot: &Snapshot) -> u64 {
        let same = self.started_at.as_deref() == Some(snapshot.started_at.as_str())
            && self.last_event_id <= snapshot.last_event_id;
        if !same {
            self.started_at = Some(snapshot.started_at.clone());
            self.last_event_id = snapshot.last_event_id;
        }
        self.last_event_id
    }
}

/// Re-read `<root>/control/` after a lost connection.
#[derive(Debug, Clone)]
pub struct Rediscover {
    pub root: PathBuf,
    pub with_token: bool,
}

/// What the connection tasks share with the UI.
pub struct Links {
    /// Which processor of the fleet this connection is to (0 for the single console).
    pub processor: usize,
    pub updates: mpsc::Sender<Action>,
    pub queries: watch::Receiver<Queries>,
    pub refresh_now: Arc<Notify>,
    /// The client commands use; `None` until the processor's endpoint is known.
    pub client: watch::Sender<Option<Client>>,
    pub cancel: CancellationToken,
}

impl Links {
    /// Sends an update tagged with this processor; `false` when the UI is gone.
    async fn report(&self, update: ApiUpdate) -> bool {
        let action = Action::Processor {
            processor: self.processor,
            update,
        };
        self.updates.send(action).await.is_ok()
    }
}

/// The connection loop; returns when cancelled or when the UI is gone. Without a client
/// (a `--root` whose processor is not running yet) it looks for the endpoint first.
pub async fn run(mut client: Option<Client>, rediscover: Option<Rediscover>, mut links: Links) {
    let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
    let mut resume = Resume::default();
    let mut not_found = String::from("no endpoint to connect to");
    // A client given at the start is tried first; after that the endpoint is read again
    // before each attempt, since a restarted processor listens on a new port.
    let mut look = client.is_none();
    loop {
        if let (true, Some(r)) = (look, rediscover.as_ref()) {
            if let Err(e) = refresh_target(&mut client, r, &links) {
                not_found = e;
            }
        }
        look = true;
        let error = match &client {
            Some(c) => {
                let endpoint = c.target().url.clone();
                if !links.report(ApiUpdate::Connecting { endpoint }).await {
                    return;
                }
                match session(c, &mut links, &mut backoff, &mut resume).await {
                    Ok(()) => return,
                    Err(error) => error,
                }
            }
            None => not_found.clone(),
        };
        let delay = backoff.next_delay();
        let update = ApiUpdate::Disconnected {
            error,
            retry_in_s: delay.as_secs_f64(),
        };
        if !links.report(update).await {
            return;
        }
        tokio::select! {
            _ = links.cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Reads `<root>/control/` again; a new endpoint or token replaces the client.
fn refresh_target(client: &mut Option<Client>, r: &Rediscover, links: &Links) -> Result<(), String> {
    let found = Target::from_root(&r.root, r.with_token).map_err(|e| e.to_string())?;
    let same = client
        .as_ref()
        .is_some_and(|c| c.target().url == found.url && c.target().token == found.token);
    if !same {
        *client = Some(Client::new(found, REQUEST_TIMEOUT));
        links.client.send_replace(client.clone());
    }
    Ok(())
}

/// One connection: `Ok` when the console is closing, `Err(why)` when the connection was lost.
async fn session(
    client: &Client,
    links: &mut Links,
    backoff: &mut Backoff,
    resume: &mut Resume,
) -> Result<(), String> {
    let snapshot = fetch(client, links).await?;
    let from = resume.from_snapshot(&snapshot.0);
    let mut stream = client.events(from).await.map_err(|e| e.to_string())?;
    // Only a connection that delivers both a snapshot and events counts as a success.
    backoff.reset();
    let endpoint = client.target().url.clone();
    send(links, ApiUpdate::Connected { endpoint }).await?;
    send_snapshot(links, snapshot).await?;
    // The stream is read in a task of its own: `next()` may not be safe to cancel in a select.
    let (tx, mut events) = mpsc::channel(256);
    let reader = tokio::spawn(async move {
        loop {
            let item = match stream.next().await {
                Ok(Some(event)) => Ok(event),
                Ok(None) => Err("the processor closed the event stream".to_string()),
                Err(e) => Err(e.to_string()),
            };
            let last = item.is_err();
            if tx.send(item).await.is_err() || last {
                return;
            }
        }
    });
    let _reader = AbortOnDrop(reader);
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    refresh.tick().await;
    loop {
        tokio::select! {
            _ = links.cancel.cancelled() => return Ok(()),
            item = events.recv() => {
                let event = item.unwrap_or_else(|| Err("the event reader stopped".into()))?;
                resume.last_event_id = resume.last_event_id.max(event.id);
                let missed = matches!(event.kind, EventKind::Resync { .. });
                send(links, ApiUpdate::Event(Box::new(event))).await?;
                if missed {
                    refresh_snapshot(client, links).await?;
                }
            }
            _ = refresh.tick() => refresh_snapshot(client, links).await?,
            changed = links.queries.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                refresh_snapshot(client, links).await?;
            }
            _ = links.refresh_now.notified() => refresh_snapshot(client, links).await?,
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A snapshot for the current queries, remembered with them.
async fn fetch(client: &Client, links: &mut Links) -> Result<(Snapshot, Queries), String> {
    let queries = links.queries.borrow_and_update().clone();
    let snapshot = client
        .snapshot_with(&queries.0, &queries.1, &queries.2)
        .await
        .map_err(|e| e.to_string())?;
    Ok((snapshot, queries))
}

async fn refresh_snapshot(client: &Client, links: &mut Links) -> Result<(), String> {
    let fetched = fetch(client, links).await?;
    send_snapshot(links, fetched).await
}

async fn send_snapshot(links: &Links, (snapshot, queries): (Snapshot, Queries)) -> Result<(), String> {
    let update = ApiUpdate::Snapshot {
        snapshot: Box::new(snapshot),
        retry_query: queries.0,
        stuck_query: queries.1,
        discarded_query: queries.2,
    };
    send(links, update).await
}

async fn send(links: &Links, update: ApiUpdate) -> Result<(), String> {
    // The UI is gone: end the session as if cancelled (the caller sees the cancel token next).
    if !links.report(update).await {
        links.cancel.cancel();
    }
    Ok(())
}

/// Carries out commands one after the other; each result goes back to the UI, then a
/// snapshot is asked for so the screen shows the effect.
pub async fn execute(
    processor: usize,
    mut commands: mpsc::UnboundedReceiver<Command>,
    client: watch::Receiver<Option<Client>>,
    updates: mpsc::Sender<Action>,
    refresh_now: Arc<Notify>,
) {
    while let Some(command) = commands.recv().await {
        let Some(c) = client.borrow().clone() else {
            let update = not_connected(command);
            if updates
                .send(Action::Processor { processor, update })
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        let update = match command {
            Command::FetchDetail {
                kind,
                name,
                offset,
                limit,
            } => {
                let result = c.file_detail(kind, &name, offset, limit).await;
                ApiUpdate::Detail {
                    kind,
                    name,
                    result: result.map(Box::new).map_err(|e| e.to_string()),
                }
            }
            Command::FetchCauses { kind, filter } => {
                let result = c.causes(kind, filter.as_deref()).await;
                ApiUpdate::Causes {
                    kind,
                    result: result.map(Box::new).map_err(|e| e.to_string()),
                }
            }
            Command::SelectAll { kind, filter } => {
                let selection = BulkSelection {
                    action: BulkAction::Requeue,
                    source: kind,
                    names: Vec::new(),
                    filter,
                    cause: None,
                    older_than_days: None,
                };
                let result = c.select(&selection).await;
                ApiUpdate::Selected {
                    kind,
                    result: result.map(Box::new).map_err(|e| e.to_string()),
                }
            }
            Command::Find { uid } => {
                let result = c.find(std::slice::from_ref(&uid)).await;
                ApiUpdate::Found {
                    uid,
                    result: result.map(Box::new).map_err(|e| e.to_string()),
                }
            }
            Command::FetchBatch {
                batch_id,
                offset,
                limit,
            } => {
                let result = c.batch_messages(batch_id, offset, limit).await;
                ApiUpdate::BatchPage {
                    batch_id,
                    offset,
                    result: result.map(Box::new).map_err(|e| e.to_string()),
                }
            }
            Command::FetchHistory { at, limit, purpose } => {
                let result = c.history(&at, limit).await;
                ApiUpdate::History {
                    purpose,
                    result: result.map(Box::new).map_err(|e| e.to_string()),
                }
            }
            Command::FetchRollups { window } => {
                let result = c.rollups(&window).await;
                ApiUpdate::Rollups {
                    window,
                    result: result.map(Box::new).map_err(|e| e.to_string()),
                }
            }
            Command::Bulk(request) => {
                // Beside the other commands: a bulk action takes seconds, the console goes on.
                let long = Client::new(c.target().clone(), BULK_TIMEOUT);
                let (updates, refresh) = (updates.clone(), refresh_now.clone());
                tokio::spawn(async move {
                    let result = long.bulk_action(&request).await;
                    refresh.notify_one();
                    let update = ApiUpdate::BulkDone {
                        result: result.map(Box::new).map_err(failure),
                    };
                    let _ = updates.send(Action::Processor { processor, update }).await;
                });
                continue;
            }
            other => {
                let label = other.label();
                let result = match other {
                    Command::Pause => c.pause().await,
                    Command::Resume => c.resume().await,
                    Command::Flush => c.flush().await,
                    Command::Resync => c.resync().await,
                    Command::Requeue { name, attempts } => c.requeue(&name, Some(attempts)).await,
                    Command::FetchDetail { .. }
                    | Command::SetDemoRate(_)
                    | Command::FetchCauses { .. }
                    | Command::SelectAll { .. }
                    | Command::Find { .. }
                    | Command::FetchBatch { .. }
                    | Command::FetchHistory { .. }
                    | Command::FetchRollups { .. }
                    | Command::Bulk(_) => continue,
                };
                refresh_now.notify_one();
                ApiUpdate::ActionDone {
                    label,
                    result: result.map_err(failure),
                }
            }
        };
        if updates
            .send(Action::Processor { processor, update })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The answer to a command for a processor whose endpoint was never found.
fn not_connected(command: Command) -> ApiUpdate {
    let message = "the processor's endpoint is not known yet".to_string();
    match command {
        Command::FetchDetail { kind, name, .. } => ApiUpdate::Detail {
            kind,
            name,
            result: Err(message),
        },
        Command::Find { uid } => ApiUpdate::Found {
            uid,
            result: Err(message),
        },
        Command::FetchBatch { batch_id, offset, .. } => ApiUpdate::BatchPage {
            batch_id,
            offset,
            result: Err(message),
        },
        Command::FetchHistory { purpose, .. } => ApiUpdate::History {
            purpose,
            result: Err(message),
        },
        Command::FetchRollups { window } => ApiUpdate::Rollups {
            window,
            result: Err(message),
        },
        other => ApiUpdate::ActionDone {
            label: other.label(),
            result: Err(ActionFailure {
                status: None,
                message,
            }),
        },
    }
}

fn failure(e: ClientError) -> ActionFailure {
    match e {
        ClientError::Refused { status, message } => ActionFailure {
            status: Some(status),
            message,
        },
        other => ActionFailure {
            status: None,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(started_at: &str, last_event_id: u64) -> Snapshot {
        let json = serde_json::json!({
            "version": 1, "state": "running", "started_at": started_at, "uptime_s": 1.0,
            "taken_at": started_at, "root": "/r",
            "inbox": {"depth": 0, "bytes": 0, "oldest_age_s": 0.0},
            "in_flight": {"messages": 0, "files": 0, "oldest_age_s": 0.0},
            "retry": {"total": 0, "total_unfiltered": 0, "offset": 0, "limit": 0, "files": []},
            "stuck": {"total": 0, "total_unfiltered": 0, "offset": 0, "limit": 0, "files": []},
            "batches": [], "allocator": {"next_id": 1, "block_end": 1, "high_water": 1, "block_size": 1,
                "db_max_id": 0, "resyncs": 0, "failures": 0, "last_error": null},
            "counters": {"received": 0, "committed": 0, "duplicates": 0, "retried": 0, "stuck": 0,
                "corrupt": 0, "batches": 0},
            "config": {"batch_size": 1, "batch_age_ms": 1, "max_attempts": 1, "read_only_api": false},
            "last_event_id": last_event_id,
        });
        serde_json::from_value(json).expect("a snapshot document")
    }

    #[test]
    fn events_resume_after_the_last_seen_unless_the_processor_restarted() {
        let mut resume = Resume::default();
        assert_eq!(resume.from_snapshot(&snapshot("t1", 50)), 50);
        resume.last_event_id = 60;
        // Same processor, reconnected: nothing between 60 and its newest event is missed.
        assert_eq!(resume.from_snapshot(&snapshot("t1", 80)), 60);
        // Restarted: its ids start again, so resuming from 60 would skip its first events.
        assert_eq!(resume.from_snapshot(&snapshot("t2", 5)), 5);
        // Same start time but fewer events than seen is also a new processor.
        resume.last_event_id = 40;
        assert_eq!(resume.from_snapshot(&snapshot("t2", 3)), 3);
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(1));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 250);
    }
}
