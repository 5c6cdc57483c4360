//! Connection slots: a bounded number of open connections, where a new connection may take
//! the slot of the oldest one that never sent a request. Idle sockets opened by a local
//! attacker therefore cannot lock the operator's console out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct Slot {
    id: u64,
    used: Arc<AtomicBool>,
    evict: CancellationToken,
}

#[derive(Debug)]
pub struct Slots {
    max: usize,
    open: Mutex<(u64, VecDeque<Slot>)>,
}

/// What a connection holds: set `used` on its first request; `evict` fires if its slot is
/// taken. Dropping it frees the slot.
#[derive(Debug)]
pub struct Ticket {
    slots: Arc<Slots>,
    id: u64,
    pub used: Arc<AtomicBool>,
    pub evict: CancellationToken,
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max,
            open: Mutex::new((0, VecDeque::new())),
        })
    }

    /// A slot for a new connection: a free one, else the oldest never-used one's (it is
    /// evicted); `None` when every open connection is in use.
    pub fn admit(self: &Arc<Slots>) -> Option<Ticket> {
        let mut guard = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (next_id, open) = &mut *guard;
        if open.len() >= self.max {
            let idle = open.iter().position(|s| !s.used.load(Ordering::Relaxed))?;
            if let Some(victim) = open.remove(idle) {
                victim.evict.cancel();
            }
        }
        *next_id += 1;
        let slot = Slot {
            id: *next_id,
            used: Arc::new(AtomicBool::new(false)),
            evict: CancellationToken::new(),
        };
        let ticket = Ticket {
            slots: self.clone(),
            id: slot.id,
            used: slot.used.clone(),
            evict: slot.evict.clone(),
        };
        open.push_back(slot);
        Some(ticket)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).1.len()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut guard = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = guard.1.iter().position(|s| s.id == self.id) {
            guard.1.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_server_evicts_the_oldest_unused_connection_never_a_used_one() {
        let slots = Slots::new(3);
        let a = slots.admit().unwrap();
        a.used.store(true, Ordering::Relaxed); // e.g. the console's event stream
        let b = slots.admit().unwrap();
        let c = slots.admit().unwrap();
        let d = slots.admit().expect("the oldest idle slot is taken");
        assert!(b.evict.is_cancelled() && !a.evict.is_cancelled() && !c.evict.is_cancelled());
        drop(b);
        assert_eq!(slots.len(), 3);
        c.used.store(true, Ordering::Relaxed);
        d.used.store(true, Ordering::Relaxed);
        assert!(
            slots.admit().is_none(),
            "every connection is in use: the new one is refused"
        );
        drop(a);
        assert!(slots.admit().is_some());
    }
}
