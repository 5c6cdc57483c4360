//! The event stream over HTTP: events in order, a reconnect with `Last-Event-ID` in the
//! middle of a burst misses nothing and repeats nothing, and a reconnect older than the
//! buffer is told to refetch the snapshot first.

mod api_harness;

use std::time::Duration;

use api_harness::{batch, Harness};
use statmgr::api::client::EventStream;
use statmgr::api::wire::{ApiError, Event, EventKind};
use statmgr::processor::telemetry::EVENT_BUFFER;

async fn next(stream: &mut EventStream) -> Event {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("a readable stream")
        .expect("the stream is open")
}

fn batch_id(event: &Event) -> Option<i64> {
    match &event.kind {
        EventKind::BatchCommitted { batch } => Some(batch.id),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_order_and_only_new_ones_without_an_id() {
    let h = Harness::start().await;
    h.commit_batch(1); // before the client connects: not sent
    let base = h.telemetry.last_event_id();
    let mut stream = h.client().events(0).await.unwrap();
    for id in 2..=6 {
        h.commit_batch(id);
    }
    h.telemetry.emit(EventKind::Warning {
        message: "disk almost full".into(),
    });
    let mut ids = Vec::new();
    for _ in 0..5 {
        let e = next(&mut stream).await;
        ids.push((e.id, batch_id(&e)));
    }
    let expected: Vec<(u64, Option<i64>)> = (2..=6).map(|b| (base + b as u64 - 1, Some(b))).collect();
    assert_eq!(ids, expected);
    assert!(matches!(next(&mut stream).await.kind, EventKind::Warning { .. }));
    assert_eq!(stream.last_event_id(), base + 6);
    assert_eq!(stream.retry_hint(), Some(Duration::from_secs(2)));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_during_a_burst_sees_every_commit_exactly_once() {
    const BATCHES: i64 = 5000;
    let h = Harness::start().await;
    let client = h.client();
    let mut stream = client.events(0).await.unwrap();
    let telemetry = h.telemetry.clone();
    // The committer's side: commits from a plain thread, as fast as it can, in small bursts.
    let producer = std::thread::spawn(move || {
        for id in 1..=BATCHES {
            telemetry.batch_committed(batch(id));
            if id % 100 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    let mut seen = Vec::new();
    let mut reconnects = 0;
    while seen.last() != Some(&BATCHES) {
        let event = next(&mut stream).await;
        assert!(
            !matches!(event.kind, EventKind::Resync { .. }),
            "no gap expected: {event:?}"
        );
        seen.extend(batch_id(&event));
        // Drop the connection every 700 events and resume where it stopped.
        if seen.len() % 700 == 0 {
            let last = stream.last_event_id();
            drop(stream);
            stream = client.events(last).await.unwrap();
            reconnects += 1;
        }
    }
    producer.join().unwrap();
    assert!(reconnects >= 7, "{reconnects}");
    let expected: Vec<i64> = (1..=BATCHES).collect();
    assert_eq!(seen, expected, "every commit once, in order");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_older_than_the_buffer_gets_a_resync_first() {
    let h = Harness::start().await;
    for id in 1..=(EVENT_BUFFER as i64 + 100) {
        h.commit_batch(id);
    }
    let oldest = h.telemetry.last_event_id() - EVENT_BUFFER as u64 + 1;
    let mut stream = h.client().events(5).await.unwrap();
    let first = next(&mut stream).await;
    assert_eq!(
        first.kind,
        EventKind::Resync {
            oldest_available: oldest
        }
    );
    assert_eq!(first.id, oldest - 1, "the id to resume after");
    let second = next(&mut stream).await;
    assert_eq!(second.id, oldest);
    assert!(batch_id(&second).is_some());

    // An id this processor never gave (a client of an earlier run): told to resync too.
    let mut stream = h.client().events(10 * EVENT_BUFFER as u64).await.unwrap();
    assert_eq!(
        next(&mut stream).await.kind,
        EventKind::Resync {
            oldest_available: oldest
        }
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_by_header_or_query_and_bad_ids_refused() {
    let h = Harness::start().await;
    for id in 1..=10 {
        h.commit_batch(id);
    }
    let raw = h.raw();
    let response = raw
        .get(h.url("/api/v1/events?last_event_id=8"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut response = response;
    let mut text = String::new();
    while !text.contains("id: 10") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.expect("more")));
    }
    assert!(text.starts_with("retry: 2000"), "{text}");
    assert!(text.contains("id: 9\ndata: {\"id\":9,"), "{text}");
    assert!(!text.contains("id: 8\n"), "{text}");
    drop(response);

    for (header, query) in [(Some("x"), ""), (None, "?last_event_id=-1"), (None, "?since=1")] {
        let mut request = raw.get(h.url(&format!("/api/v1/events{query}")));
        if let Some(value) = header {
            request = request.header("Last-Event-ID", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{header:?} {query}");
        let _: ApiError = response.json().await.unwrap();
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_open_streams() {
    let h = Harness::start().await;
    let mut stream = h.client().events(0).await.unwrap();
    let stopping = tokio::spawn(h.stop());
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("ends in time");
    assert!(matches!(end, Ok(None)), "{:?}", end.map(|e| e.map(|e| e.id)));
    stopping.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_slows_nobody() {
    let h = Harness::start().await;
    // Connected, then never read: its socket buffers fill up and stay full.
    let stalled = h.client().events(0).await.unwrap();
    let telemetry = h.telemetry.clone();
    let started = std::time::Instant::now();
    let producer = std::thread::spawn(move || {
        for id in 1..=(2 * EVENT_BUFFER as i64) {
            telemetry.batch_committed(batch(id));
        }
    });
    let mut reader = h.client().events(0).await.unwrap();
    producer.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "emitting took {:?}",
        started.elapsed()
    );
    let snapshot = h
        .client()
        .snapshot(&Default::default(), &Default::default())
        .await
        .unwrap();
    assert_eq!(snapshot.counters.batches, 2 * EVENT_BUFFER as u64);
    // The other reader still follows (from wherever it connected).
    assert!(batch_id(&next(&mut reader).await).is_some());
    drop(stalled);
    h.stop().await;
}
