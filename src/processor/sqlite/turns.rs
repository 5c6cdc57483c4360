//! Turns at SQLite's write lock between the committer and retention, the two writers of
//! a state directory's database (one processor owns it). The turn is a fair lock: when
//! retention asks for it, it gets the next turn, after the committer's current write.
//! Without it retention polls SQLite's busy handler (sleeps of up to 100 ms) against a
//! committer that takes the write lock again within microseconds of releasing it, and a
//! saturated committer starves it until the busy timeout ends the pass.

use parking_lot::{FairMutex, FairMutexGuard};

/// Shared by the committer's store and retention's connection.
#[derive(Debug, Default)]
pub struct WriteTurns {
    lock: FairMutex<()>,
}

/// The turn; the next one waiting gets it when this is dropped.
pub type Turn<'a> = FairMutexGuard<'a, ()>;

impl WriteTurns {
    /// Waits for the turn: at most the write under way, plus those that asked first.
    pub fn take(&self) -> Turn<'_> {
        self.lock.lock()
    }
}
