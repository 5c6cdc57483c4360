//! API updates → state: connection state, snapshots (with the rates and history derived
//! from them), events, file details and the outcome of actions.

use crate::api::wire::{BatchInfo, EventKind, FileQuery, Snapshot};
use crate::tui::action::{ActionFailure, ApiUpdate, Command};
use crate::tui::format;
use crate::tui::reduce::{files, trace, triage};
use crate::tui::state::{push_capped, Conn, History, Overlay, State, Tone, EVENT_TAIL, HISTORY};

pub fn on_update(state: &mut State, update: ApiUpdate) -> Vec<Command> {
    if triage::on_update(state, &update) {
        return Vec::new();
    }
    let Some(update) = trace::on_update(state, update) else {
        return Vec::new();
    };
    let after_snapshot = matches!(update, ApiUpdate::Snapshot { .. });
    match update {
        ApiUpdate::Connecting { endpoint } => state.endpoint = endpoint,
        ApiUpdate::Connected { endpoint } => connected(state, endpoint),
        ApiUpdate::Disconnected { error, retry_in_s } => disconnected(state, error, retry_in_s),
        ApiUpdate::Snapshot {
            snapshot,
            retry_query,
            stuck_query,
            discarded_query,
        } => on_snapshot(state, *snapshot, [retry_query, stuck_query, discarded_query]),
        ApiUpdate::Event(event) => on_event(state, *event),
        ApiUpdate::Detail { kind, name, result } => {
            if let Some(Overlay::Detail(d)) = state.overlay.as_mut() {
                if d.kind == kind && d.summary.name == name {
                    match result {
                        Ok(detail) => {
                            d.summary = detail.summary.clone();
                            d.detail = Some(*detail);
                            d.error = None;
                        }
                        Err(e) => d.error = Some(e),
                    }
                }
            }
        }
        ApiUpdate::ActionDone { label, result } => match result {
            // The server names the action; the outcome names the file, so the label is not repeated.
            Ok(r) => {
                let action = if r.action.is_empty() { label } else { r.action };
                state.notify(Tone::Ok, format!("{action}: {}", r.outcome))
            }
            Err(failure) => state.notify(Tone::Error, refusal(&label, &failure)),
        },
        ApiUpdate::Causes { .. }
        | ApiUpdate::Selected { .. }
        | ApiUpdate::BulkDone { .. }
        | ApiUpdate::Found { .. }
        | ApiUpdate::BatchPage { .. } => {}
        ApiUpdate::History { purpose, result } => {
            super::timeline::on_history(state, purpose, result.map(|p| *p))
        }
        ApiUpdate::Rollups { window, result } => {
            super::timeline::on_rollups(state, window, result.map(|p| *p))
        }
    }
    if after_snapshot {
        return triage::after_snapshot(state);
    }
    Vec::new()
}

fn refusal(label: &str, failure: &ActionFailure) -> String {
    match failure.status {
        Some(409) => format!(
            "{label} refused: the file changed since you looked ({}); check it and try again",
            failure.message
        ),
        Some(status) => format!("{label} refused (HTTP {status}): {}", failure.message),
        None => format!("{label} failed: {}", failure.message),
    }
}

fn connected(state: &mut State, endpoint: String) {
    if let Conn::Disconnected { since_s, .. } = state.conn {
        let after = format::age(state.now_s - since_s);
        state.notify(Tone::Ok, format!("reconnected to {endpoint} after {after}"));
    }
    state.endpoint = endpoint;
    state.conn = Conn::Connected;
}

fn disconnected(state: &mut State, error: String, retry_in_s: f64) {
    let since_s = match state.conn {
        Conn::Disconnected { since_s, .. } => since_s,
        _ => state.now_s,
    };
    state.conn = Conn::Disconnected {
        since_s,
        retry_at_s: state.now_s + retry_in_s.max(0.0),
        error,
    };
}

fn on_snapshot(state: &mut State, snapshot: Snapshot, queries: [FileQuery; 3]) {
    update_history(&mut state.history, &snapshot);
    let [retry_query, stuck_query, discarded_query] = queries;
    state.retry.page = snapshot.retry.clone();
    state.retry.page_query = Some(retry_query);
    state.stuck.page = snapshot.stuck.clone();
    state.stuck.page_query = Some(stuck_query);
    state.discarded.page = snapshot.discarded.clone();
    state.discarded.page_query = Some(discarded_query);
    state.batches_scroll = state.batches_scroll.min(snapshot.batches.len().saturating_sub(1));
    state.snapshot = Some(snapshot);
    state.snapshot_at_s = state.now_s;
    files::relayout(state);
}

fn update_history(history: &mut History, s: &Snapshot) {
    let c = &s.counters;
    if let Some((uptime, received, committed)) = history.last_counters {
        let dt = s.uptime_s - uptime;
        // A smaller uptime or counter is a restarted processor: start the rates afresh.
        if dt > 0.0 && c.received >= received && c.committed >= committed {
            history.in_rate = (c.received - received) as f64 / dt;
            history.out_rate = (c.committed - committed) as f64 / dt;
            push_capped(&mut history.throughput, history.out_rate.round() as u64, HISTORY);
        } else if dt < 0.0 {
            history.last_batch_id = None;
        }
    }
    history.last_counters = Some((s.uptime_s, c.received, c.committed));
    push_capped(&mut history.depth, s.inbox.depth, HISTORY);
    for batch in s.batches.iter().rev() {
        count_batch(history, batch);
    }
}

/// Adds a batch's duration to the latency history once, whether it came by event or snapshot.
fn count_batch(history: &mut History, batch: &BatchInfo) {
    if history.last_batch_id.is_some_and(|last| batch.id <= last) {
        return;
    }
    history.last_batch_id = Some(batch.id);
    push_capped(&mut history.latency_ms, batch.duration_ms.round() as u64, HISTORY);
}

fn on_event(state: &mut State, event: crate::api::wire::Event) {
    triage::on_event(state, &event.kind);
    match &event.kind {
        EventKind::StateChanged { state: new } => {
            if let Some(s) = state.snapshot.as_mut() {
                s.state = *new;
            }
        }
        EventKind::BatchCommitted { batch } => {
            let fresh = state.history.last_batch_id.is_none_or(|last| batch.id > last);
            count_batch(&mut state.history, batch);
            if let (true, Some(s)) = (fresh, state.snapshot.as_mut()) {
                s.batches.insert(0, batch.clone());
                s.batches.truncate(100);
            }
        }
        _ => {}
    }
    push_capped(&mut state.events, event, EVENT_TAIL);
    if state.events_scroll > 0 {
        // Keep the lines the operator is reading in place while new ones arrive.
        state.events_scroll = (state.events_scroll + 1).min(state.events.len().saturating_sub(1));
    }
}
