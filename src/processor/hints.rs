//! The queue of notify events between the watcher and intake, bounded: events are hints
//! and a listing of the inbox is the truth, so past the bound an event is dropped and a
//! rescan is asked for instead (a busy processor under a steady inbox load no longer holds
//! every event it has not had time to look at).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::Receiver;

/// Events held at most: about 2 to 3 MiB of paths.
pub const HINT_QUEUE: usize = 10_000;

pub type Hint = notify::Result<notify::Event>;

/// The receiving end, and whether an event was dropped since the last look.
pub struct Hints {
    pub rx: Receiver<Hint>,
    overflowed: Arc<AtomicBool>,
}

impl Hints {
    /// True once after events were dropped: the caller rescans.
    pub fn take_overflow(&self) -> bool {
        self.overflowed.swap(false, Ordering::AcqRel)
    }
}

/// A queue of `capacity` events: the sending half for the watcher's callback, and intake's half.
pub fn hint_queue(capacity: usize) -> (impl Fn(Hint) + Send + 'static, Hints) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let overflowed = Arc::new(AtomicBool::new(false));
    let flag = overflowed.clone();
    let send = move |ev: Hint| {
        if tx.try_send(ev).is_err() {
            // Set after the drop: the rescan it causes lists what the event was about.
            flag.store(true, Ordering::Release);
        }
    };
    (send, Hints { rx, overflowed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_events_are_dropped_and_a_rescan_is_asked_for_once() {
        let (send, hints) = hint_queue(2);
        let ev = || Ok(notify::Event::new(notify::EventKind::Any).add_path("inbox/a.json".into()));
        send(ev());
        send(ev());
        assert!(!hints.take_overflow());
        send(ev());
        assert_eq!(hints.rx.len(), 2);
        assert!(hints.take_overflow());
        assert!(!hints.take_overflow(), "asked once per overflow");
        while hints.rx.try_recv().is_ok() {}
        send(ev());
        assert_eq!((hints.rx.len(), hints.take_overflow()), (1, false));
    }
}
