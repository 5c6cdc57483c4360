//! `/metrics` over HTTP: the telemetry model in the Prometheus text format, the batch
//! histogram fed from commits, open to reads but behind the Host check.

mod api_harness;

use std::time::Duration;

use api_harness::{batch, Harness};
use statmgr::api::wire::{AllocatorInfo, FileKind, ProcessorState};

/// The value of the sample line that starts with `name` (labels included).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_telemetry_model() {
    let h = Harness::start().await;
    let t = &h.telemetry;
    t.set_inbox(
        12,
        3400,
        Some(std::time::SystemTime::now() - Duration::from_secs(30)),
    );
    t.update_counters(|c| {
        c.received = 120;
        c.retried = 7;
        c.stuck = 2;
        c.corrupt = 1;
    });
    t.set_allocator(AllocatorInfo {
        next_id: 1001,
        high_water: 2000,
        db_max_id: 1000,
        failures: 3,
        ..AllocatorInfo::default()
    });
    h.put_file(FileKind::Retry, "a.retry", 1, "locked");
    h.put_file(FileKind::Stuck, "b.retry", 20, "poison");
    h.put_file(FileKind::Stuck, "c.retry", 20, "poison");
    t.set_state(ProcessorState::Paused);
    for id in 1..=4 {
        let mut b = batch(id);
        b.duration_ms = 3.0 * id as f64;
        t.batch_committed(b);
    }
    let client = h.client();
    // The histogram is fed by a task that follows the events: wait for it to catch up.
    let mut text = String::new();
    for _ in 0..100 {
        text = client.metrics().await.unwrap();
        if sample(&text, "statmgr_batch_duration_seconds_count") == Some(4.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (name, value) in [
        ("statmgr_inbox_depth", 12.0),
        ("statmgr_inbox_bytes", 3400.0),
        ("statmgr_messages_received_total", 120.0),
        ("statmgr_messages_committed_total", 40.0),
        ("statmgr_messages_retried_total", 7.0),
        ("statmgr_messages_stuck_total", 2.0),
        ("statmgr_messages_corrupt_total", 1.0),
        ("statmgr_batches_total", 4.0),
        ("statmgr_retry_files", 1.0),
        ("statmgr_stuck_files", 2.0),
        ("statmgr_allocator_next_id", 1001.0),
        ("statmgr_allocator_high_water", 2000.0),
        ("statmgr_allocator_db_max_id", 1000.0),
        ("statmgr_allocator_failures_total", 3.0),
        ("statmgr_processor_state{state=\"paused\"}", 1.0),
        ("statmgr_processor_state{state=\"running\"}", 0.0),
        ("statmgr_batch_duration_seconds_count", 4.0),
        ("statmgr_batch_duration_seconds_sum", 0.03),
    ] {
        let got = sample(&text, name).unwrap_or_else(|| panic!("no {name} in:\n{text}"));
        assert!((got - value).abs() < 1e-9, "{name}: {got} != {value}");
    }
    let age = sample(&text, "statmgr_inbox_oldest_age_seconds").unwrap();
    assert!((29.0..60.0).contains(&age), "{age}");
    assert!(text.ends_with("# EOF\n"));

    let foreign = h
        .raw()
        .get(h.url("/metrics"))
        .header("Host", "metrics.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    h.stop().await;
}
