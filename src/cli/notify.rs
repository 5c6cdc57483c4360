//! The service manager's notify protocol for `statmgr run` (systemd `Type=notify`, through
//! the `sd-notify` crate): `READY=1` once the processor can work, `STATUS=` lines while it
//! runs, `STOPPING=1` when the drain begins, and `WATCHDOG=1` while the committer and intake
//! threads make progress. Without `NOTIFY_SOCKET` every call is a no-op.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::processor::telemetry::Telemetry;

/// How often a `STATUS=` line is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// Talks to the service manager, if there is one.
#[derive(Debug, Clone)]
pub struct Notifier {
    enabled: bool,
    /// `WATCHDOG_USEC` (for this process, as `WATCHDOG_PID` says), if the manager wants pings.
    watchdog: Option<Duration>,
    /// With the watchdog: how long a silent thread counts as alive (`/healthz`'s limit).
    liveness_limit: Option<Duration>,
    /// A failed send is logged once, not at every tick.
    warned: Arc<AtomicBool>,
}

impl Notifier {
    /// From the environment the service manager set (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `WATCHDOG_PID`).
    pub fn from_env() -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty());
        let watchdog = sd_notify::watchdog_enabled().filter(|d| !d.is_zero());
        Notifier {
            enabled,
            watchdog: watchdog.filter(|_| enabled),
            liveness_limit: None,
            warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The watchdog interval, if pings are asked for.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Pings stop once a thread has been silent for longer than `limit` (default: the
    /// watchdog interval).
    pub fn with_liveness_limit(mut self, limit: Duration) -> Notifier {
        self.liveness_limit = Some(limit);
        self
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        match sd_notify::notify(states) {
            Ok(()) => self.warned.store(false, Ordering::Relaxed),
            Err(e) if !self.warned.swap(true, Ordering::Relaxed) => {
                tracing::warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
            }
            Err(_) => {}
        }
    }

    /// `READY=1` with a first status line.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// `STOPPING=1`: the drain began.
    pub fn stopping(&self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// Refreshes the status line and, when asked for, pings the watchdog while the
    /// processor's threads are alive; sends `STOPPING=1` when `shutdown` is cancelled.
    /// Runs until aborted.
    pub async fn run(self, telemetry: Arc<Telemetry>, shutdown: CancellationToken) {
        if !self.enabled {
            return;
        }
        // Pinging at half the interval leaves the other half for a late tick.
        let tick = self
            .watchdog
            .map_or(STATUS_EVERY, |w| (w / 2).min(STATUS_EVERY))
            .max(Duration::from_millis(10));
        let mut rate = Rate::new(telemetry.counters().committed);
        let mut last_status = Instant::now();
        let mut stopping_sent = false;
        let mut wedged_said = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.cancelled(), if !stopping_sent => {
                    stopping_sent = true;
                    // The processor marks itself draining a moment later: say it now.
                    let line = status_line(&telemetry, rate.per_second());
                    let rest = line.split_once(';').map_or("", |(_, rest)| rest);
                    self.stopping(&format!("draining;{rest}"));
                }
            }
            if let Some(limit) = self.watchdog.map(|w| self.liveness_limit.unwrap_or(w)) {
                match telemetry.health.all_alive(limit) {
                    Ok(()) => {
                        self.send(&[NotifyState::Watchdog]);
                        wedged_said = false;
                    }
                    Err(why) if !wedged_said => {
                        wedged_said = true;
                        tracing::error!(
                            "{why}: no more watchdog pings (the service manager will restart the processor)"
                        );
                    }
                    Err(_) => {}
                }
            }
            if last_status.elapsed() >= STATUS_EVERY {
                last_status = Instant::now();
                rate.observe(telemetry.counters().committed);
                self.status(&status_line(&telemetry, rate.per_second()));
            }
        }
    }
}

/// Committed messages per second over the last interval.
struct Rate {
    last: u64,
    at: Instant,
    per_second: f64,
}

impl Rate {
    fn new(committed: u64) -> Rate {
        Rate {
            last: committed,
            at: Instant::now(),
            per_second: 0.0,
        }
    }

    fn observe(&mut self, committed: u64) {
        let secs = self.at.elapsed().as_secs_f64();
        if secs > 0.0 {
            self.per_second = committed.saturating_sub(self.last) as f64 / secs;
        }
        self.last = committed;
        self.at = Instant::now();
    }

    fn per_second(&self) -> f64 {
        self.per_second
    }
}

/// One line for `systemctl status`: state, inbox depth and age, commit rate, retry/stuck.
pub fn status_line(telemetry: &Telemetry, rate: f64) -> String {
    let one = crate::api::wire::FileQuery {
        limit: 1,
        ..Default::default()
    };
    let snap = telemetry.snapshot(&one, &one);
    let mut line = format!("{}; inbox {} files", snap.state.as_str(), snap.inbox.depth);
    if snap.inbox.depth > 0 {
        line.push_str(&format!(", oldest {:.0}s", snap.inbox.oldest_age_s));
    }
    line.push_str(&format!(
        "; {rate:.0} msg/s committed; retry {}, stuck {}",
        snap.retry.total, snap.stuck.total
    ));
    if let Some(problem) = telemetry.health.database_problem() {
        line.push_str(&format!(
            "; database unreachable: {}",
            crate::message::escape_text(&problem.reason)
        ));
    }
    line
}
