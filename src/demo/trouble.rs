//! The demo's trouble, made through the real mechanisms: a trigger that refuses one
//! machine (poison messages end in `stuck/`), and periods when another connection holds
//! the database locked (retry files grow, then drain).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio_util::sync::CancellationToken;

use crate::demo::generator::POISON_MACHINE;

/// Installs the trigger that refuses the decommissioned machine.
pub fn install_poison_trigger(db: &std::path::Path) -> rusqlite::Result<()> {
    let c = Connection::open(db)?;
    c.busy_timeout(Duration::from_secs(10))?;
    c.execute_batch(&format!(
        "CREATE TRIGGER IF NOT EXISTS demo_refuse_legacy BEFORE INSERT ON status_messages
         WHEN NEW.machine = '{POISON_MACHINE}'
         BEGIN SELECT RAISE(ABORT, '{POISON_MACHINE} is decommissioned: its messages are refused'); END;"
    ))
}

pub struct Locker {
    pub db: PathBuf,
    /// Time between lock periods, and their length.
    pub every: Duration,
    pub hold: Duration,
    /// What the demo is doing right now, shown on screen.
    pub status: Arc<Mutex<String>>,
    pub locks: Arc<std::sync::atomic::AtomicU64>,
    pub shutdown: CancellationToken,
}

impl Locker {
    fn say(&self, text: String) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = text;
    }

    /// Runs until shutdown (blocking: call it on its own thread).
    pub fn run(self) {
        let mut next = Instant::now() + self.every / 2;
        while !self.shutdown.is_cancelled() {
            let left = next.saturating_duration_since(Instant::now());
            self.say(format!("database free; next demo lock in {}s", left.as_secs()));
            if !left.is_zero() {
                std::thread::sleep(left.min(Duration::from_millis(500)));
                continue;
            }
            let Ok(c) = Connection::open(&self.db) else {
                next = Instant::now() + self.every;
                continue;
            };
            let _ = c.busy_timeout(Duration::from_secs(5));
            if c.execute_batch("BEGIN EXCLUSIVE").is_ok() {
                self.locks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let until = Instant::now() + self.hold;
                while Instant::now() < until && !self.shutdown.is_cancelled() {
                    let left = until.saturating_duration_since(Instant::now()).as_secs();
                    self.say(format!(
                        "DATABASE LOCKED by the demo for {left}s more: batches go to retry/"
                    ));
                    std::thread::sleep(Duration::from_millis(250));
                }
                let _ = c.execute_batch("ROLLBACK");
            }
            next = Instant::now() + self.every;
        }
    }
}
