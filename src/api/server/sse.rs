//! `GET /api/v1/events`: each client follows telemetry's event ring at its own pace, so no
//! client, however slow, holds up the processor (the ring is pulled, never pushed); a
//! client behind the ring is served from the journal while it holds the events.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::api::wire::{Event, EventKind};
use crate::processor::telemetry::{rfc3339, Telemetry};

/// Events fetched from the ring per pull.
const PULL: usize = 500;
/// A comment this often keeps proxies and the client's read timeout from closing the stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a client waits before reconnecting (sent as `retry:`).
const RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// One client's position in the event ring.
pub struct Follower {
    telemetry: Arc<Telemetry>,
    changes: watch::Receiver<u64>,
    /// Id of the last event handed out.
    last: u64,
    pending: VecDeque<Event>,
    shutdown: CancellationToken,
}

fn resync(oldest_available: u64) -> Event {
    Event {
        // The id a client resumes after: the event just before the oldest one still kept.
        id: oldest_available.saturating_sub(1),
        time: rfc3339(SystemTime::now()),
        kind: EventKind::Resync { oldest_available },
    }
}

/// The oldest event id still in the ring (the next id to come if it is empty).
fn oldest_available(telemetry: &Telemetry) -> u64 {
    match telemetry.events_after(0, 1) {
        Ok(events) => events
            .first()
            .map(|e| e.id)
            .unwrap_or(telemetry.last_event_id() + 1),
        Err(oldest) => oldest,
    }
}

impl Follower {
    /// `after`: the client's `Last-Event-ID`; `None` starts with the next new event.
    pub fn new(telemetry: Arc<Telemetry>, after: Option<u64>, shutdown: CancellationToken) -> Follower {
        let changes = telemetry.subscribe();
        let mut follower = Follower {
            last: telemetry.last_event_id(),
            telemetry,
            changes,
            pending: VecDeque::new(),
            shutdown,
        };
        if let Some(after) = after {
            follower.last = after;
            // An id this processor never gave (the client knew another processor, or a journal
            // since deleted): the client missed everything the ring holds.
            if after > follower.telemetry.last_event_id() {
                let oldest = oldest_available(&follower.telemetry);
                follower.last = oldest - 1;
                follower.pending.push_back(resync(oldest));
            }
        }
        follower
    }

    /// The next event, waiting for one; `None` once the server shuts down.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = event.id;
                return Some(event);
            }
            // Marked seen before the pull, so an event emitted after it wakes the wait below.
            self.changes.borrow_and_update();
            match self.telemetry.events_after(self.last, PULL) {
                Ok(events) if !events.is_empty() => self.pending.extend(events),
                Ok(_) => {
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return None,
                        changed = self.changes.changed() => changed.ok()?,
                    }
                }
                // Older than the ring: from the journal, where it still holds them.
                Err(oldest) => {
                    // Read from disk off the runtime's workers.
                    let (telemetry, last) = (self.telemetry.clone(), self.last);
                    let events = tokio::task::spawn_blocking(move || telemetry.history_after(last, PULL))
                        .await
                        .unwrap_or_default();
                    match events.first() {
                        Some(first) if first.id == self.last + 1 => {}
                        Some(first) => self.pending.push_back(resync(first.id)),
                        None => self.pending.push_back(resync(oldest)),
                    }
                    self.pending.extend(events);
                }
            }
        }
    }
}

fn frame(event: &Event) -> Option<SseEvent> {
    match serde_json::to_string(event) {
        Ok(json) => Some(SseEvent::default().id(event.id.to_string()).data(json)),
        Err(e) => {
            tracing::warn!(id = event.id, "event not sent: cannot encode it: {e}");
            None
        }
    }
}

/// The response: a `retry:` hint first (which also sends the headers at once), then events.
pub fn response(follower: Follower) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let hello = SseEvent::default().retry(RECONNECT_DELAY);
    let events = futures_util::stream::unfold(follower, |mut f| async move {
        loop {
            let event = f.next().await?;
            if let Some(frame) = frame(&event) {
                return Some((Ok(frame), f));
            }
        }
    });
    let stream = futures_util::StreamExt::chain(futures_util::stream::iter([Ok(hello)]), events);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::wire::ConfigInfo;
    use crate::processor::telemetry::EVENT_BUFFER;

    fn telemetry() -> Arc<Telemetry> {
        Arc::new(Telemetry::new("/x".into(), ConfigInfo::default()))
    }

    fn warn(t: &Telemetry, n: usize) {
        for _ in 0..n {
            t.emit(EventKind::Warning { message: "w".into() });
        }
    }

    #[tokio::test]
    async fn without_an_id_only_new_events_come() {
        let t = telemetry();
        warn(&t, 3);
        let mut f = Follower::new(t.clone(), None, CancellationToken::new());
        warn(&t, 2);
        assert_eq!(f.next().await.unwrap().id, 4);
        assert_eq!(f.next().await.unwrap().id, 5);
    }

    #[tokio::test]
    async fn a_gap_older_than_the_buffer_starts_with_a_resync() {
        let t = telemetry();
        warn(&t, EVENT_BUFFER + 10);
        let mut f = Follower::new(t.clone(), Some(3), CancellationToken::new());
        let first = f.next().await.unwrap();
        assert_eq!(first.kind, EventKind::Resync { oldest_available: 11 });
        assert_eq!(first.id, 10);
        assert_eq!(f.next().await.unwrap().id, 11);
    }

    #[tokio::test]
    async fn an_id_from_an_earlier_processor_gets_a_resync() {
        let t = telemetry();
        warn(&t, 5);
        let mut f = Follower::new(t.clone(), Some(900), CancellationToken::new());
        assert_eq!(
            f.next().await.unwrap().kind,
            EventKind::Resync { oldest_available: 1 }
        );
        assert_eq!(f.next().await.unwrap().id, 1);
    }

    #[tokio::test]
    async fn shutdown_ends_a_waiting_stream() {
        let t = telemetry();
        let stop = CancellationToken::new();
        let mut f = Follower::new(t, None, stop.clone());
        let waiter = tokio::spawn(async move { f.next().await });
        stop.cancel();
        assert_eq!(waiter.await.unwrap(), None);
    }
}
