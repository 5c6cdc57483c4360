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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    /// A writer that takes the turn again as soon as it lets it go (the committer under
    /// a backlog) lets a second one in after at most the turn it holds when asked.
    #[test]
    fn a_writer_that_asks_gets_the_next_turn() {
        let turns = Arc::new(WriteTurns::default());
        let (taken, done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let busy = {
            let (turns, taken, done) = (turns.clone(), taken.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    let _turn = turns.take();
                    taken.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            })
        };
        while taken.load(Ordering::SeqCst) < 10 {
            std::thread::yield_now();
        }
        let mut most = 0;
        for _ in 0..50 {
            let asked = taken.load(Ordering::SeqCst);
            let _turn = turns.take();
            // The turn held when asked may end (+1), and one may start between the load
            // and the request (+1); never more.
            most = most.max(taken.load(Ordering::SeqCst) - asked);
        }
        done.store(true, Ordering::SeqCst);
        busy.join().unwrap();
        assert!(
            most <= 2,
            "the busy writer took {most} turns while the other waited"
        );
    }
}
