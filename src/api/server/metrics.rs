//! `GET /metrics`: the telemetry model in the Prometheus (OpenMetrics) text format. Values
//! are read from telemetry at each scrape; the batch-duration histogram is fed by a task
//! that follows the event ring.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::api::wire::{EventKind, FileKind, FileQuery, ProcessorState};
use crate::processor::telemetry::Telemetry;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const STATES: [ProcessorState; 5] = [
    ProcessorState::Starting,
    ProcessorState::Running,
    ProcessorState::Paused,
    ProcessorState::Draining,
    ProcessorState::Stopped,
];

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    batch_duration: Histogram,
}

/// Reads the telemetry model at each scrape.
#[derive(Debug)]
struct TelemetryCollector {
    telemetry: Arc<Telemetry>,
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> fmt::Result {
    let g = ConstGauge::new(value);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

impl Collector for TelemetryCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let t = &self.telemetry;
        let totals_only = FileQuery {
            limit: 0,
            ..FileQuery::default()
        };
        let s = t.snapshot(&totals_only, &totals_only);
        let e = &mut enc;
        gauge(
            e,
            "statmgr_inbox_depth",
            "Message files waiting in inbox/",
            s.inbox.depth as f64,
        )?;
        gauge(
            e,
            "statmgr_inbox_bytes",
            "Bytes of the files in inbox/",
            s.inbox.bytes as f64,
        )?;
        gauge(
            e,
            "statmgr_inbox_oldest_age_seconds",
            "Age of the oldest inbox file",
            s.inbox.oldest_age_s,
        )?;
        gauge(
            e,
            "statmgr_in_flight_messages",
            "Messages read but not yet durable",
            s.in_flight.messages as f64,
        )?;
        let c = &s.counters;
        counter(
            e,
            "statmgr_messages_received",
            "Messages parsed from the inbox",
            c.received,
        )?;
        counter(e, "statmgr_messages_committed", "Rows committed", c.committed)?;
        counter(
            e,
            "statmgr_messages_duplicates",
            "Messages skipped: uid already committed",
            c.duplicates,
        )?;
        counter(
            e,
            "statmgr_messages_retried",
            "Messages written to retry/",
            c.retried,
        )?;
        counter(e, "statmgr_messages_stuck", "Messages moved to stuck/", c.stuck)?;
        counter(
            e,
            "statmgr_messages_corrupt",
            "Files or lines moved to corrupt/",
            c.corrupt,
        )?;
        counter(e, "statmgr_batches", "Batches committed", c.batches)?;
        gauge(
            e,
            "statmgr_retry_files",
            "Files in retry/",
            t.file_count(FileKind::Retry) as f64,
        )?;
        gauge(
            e,
            "statmgr_stuck_files",
            "Files in stuck/",
            t.file_count(FileKind::Stuck) as f64,
        )?;
        let (discarded_files, discarded_messages) = t.discarded_totals();
        gauge(
            e,
            "statmgr_discarded_files",
            "Files an operator set aside in discarded/",
            discarded_files as f64,
        )?;
        gauge(
            e,
            "statmgr_discarded_messages",
            "Messages in the files of discarded/",
            discarded_messages as f64,
        )?;
        let a = &s.allocator;
        gauge(
            e,
            "statmgr_allocator_next_id",
            "Next record id to hand out",
            a.next_id as f64,
        )?;
        gauge(
            e,
            "statmgr_allocator_high_water",
            "Persisted high-water mark",
            a.high_water as f64,
        )?;
        gauge(
            e,
            "statmgr_allocator_db_max_id",
            "MAX(record_id) at the last reconciliation",
            a.db_max_id as f64,
        )?;
        counter(e, "statmgr_allocator_failures", "Allocator failures", a.failures)?;
        counter(
            e,
            "statmgr_allocator_resyncs",
            "Allocator reconciliations",
            a.resyncs,
        )?;
        let r = &s.retention;
        gauge(
            e,
            "statmgr_retention_enabled",
            "1 when --retain-days or --retain is set",
            f64::from(u8::from(r.enabled)),
        )?;
        counter(
            e,
            "statmgr_retention_pruned",
            "Messages deleted by retention since start",
            r.pruned_total,
        )?;
        if let Some(pass) = &r.last_pass {
            gauge(
                e,
                "statmgr_retention_last_pass_longest_hold_seconds",
                "Longest write-lock hold of the last retention pass",
                pass.longest_hold_ms / 1000.0,
            )?;
        }
        if let Some(rows) = r.rows {
            gauge(e, "statmgr_database_rows", "Messages stored", rows as f64)?;
        }
        if let Some(bytes) = r.database_bytes {
            gauge(e, "statmgr_database_bytes", "Size of the database", bytes as f64)?;
        }
        if let Some(oldest) = r
            .oldest_message
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            gauge(
                e,
                "statmgr_oldest_message_timestamp_seconds",
                "Unix time of the oldest stored message",
                oldest.timestamp() as f64,
            )?;
        }
        let j = &s.journal;
        if j.enabled {
            counter(
                e,
                "statmgr_journal_written",
                "Events written to the journal",
                j.written,
            )?;
            counter(
                e,
                "statmgr_journal_dropped_queue_full",
                "Events not journaled: the writer's queue was full",
                j.dropped_queue_full,
            )?;
            counter(
                e,
                "statmgr_journal_dropped_write_error",
                "Events not journaled: the journal could not be written",
                j.dropped_write_error,
            )?;
            gauge(
                e,
                "statmgr_journal_stopped",
                "1 while a write error (a full disk) stops the event history",
                f64::from(u8::from(j.stopped)),
            )?;
            gauge(
                e,
                "statmgr_journal_bytes",
                "Size of the event journal",
                j.bytes as f64,
            )?;
        }
        gauge(
            e,
            "statmgr_database_reachable",
            "1 while the database is usable (the same record as statmgr_database_up and /readyz)",
            f64::from(u8::from(s.database.reachable)),
        )?;
        gauge(
            e,
            "statmgr_uptime_seconds",
            "Seconds since the processor started",
            s.uptime_s,
        )?;
        let database_up = self.telemetry.health.database_problem().is_none();
        gauge(
            e,
            "statmgr_database_up",
            "1 if the last database operation succeeded (what /readyz reports), 0 if it failed",
            f64::from(u8::from(database_up)),
        )?;
        let mut family = enc.encode_descriptor(
            "statmgr_processor_state",
            "1 for the current state",
            None,
            MetricType::Gauge,
        )?;
        for state in STATES {
            let value = ConstGauge::new(i64::from(state == s.state));
            value.encode(family.encode_family(&[("state", state.as_str())])?)?;
        }
        Ok(())
    }
}

impl Metrics {
    pub fn new(telemetry: Arc<Telemetry>) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(TelemetryCollector { telemetry }));
        // 1 ms to about 33 s.
        let batch_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "statmgr_batch_duration_seconds",
            "Time to commit one batch",
            batch_duration.clone(),
        );
        Metrics {
            registry,
            batch_duration,
        }
    }

    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Feeds the histogram from `batch_committed` events until `shutdown`; events dropped
    /// from the ring before this task saw them are skipped (the counters stay exact).
    pub async fn follow_batches(self: Arc<Self>, telemetry: Arc<Telemetry>, shutdown: CancellationToken) {
        let mut changes = telemetry.subscribe();
        let mut last = 0;
        loop {
            changes.borrow_and_update();
            match telemetry.events_after(last, 1000) {
                Ok(events) if !events.is_empty() => {
                    for event in events {
                        last = event.id;
                        if let EventKind::BatchCommitted { batch } = event.kind {
                            self.batch_duration.observe(batch.duration_ms / 1000.0);
                        }
                    }
                    // A long burst must not keep this worker thread from the others.
                    tokio::task::yield_now().await;
                }
                Ok(_) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        changed = changes.changed() => if changed.is_err() { return },
                    }
                }
                Err(oldest) => last = oldest - 1,
            }
        }
    }
}
