//! The key allocator: hands out record ids from blocks reserved durably in the store, and
//! reconciles with the database at start and after any key conflict.

use crate::api::wire::AllocatorInfo;
use crate::processor::store::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct KeyAllocator {
    next: i64,
    /// End (exclusive) of the reserved block; `next == end` means no ids in hand.
    end: i64,
    block_size: i64,
    high_water: i64,
    db_max: i64,
    synced: bool,
    resyncs: u64,
    failures: u64,
    last_error: Option<String>,
}

impl KeyAllocator {
    pub fn new(block_size: i64) -> KeyAllocator {
        KeyAllocator {
            next: 1,
            end: 1,
            block_size: block_size.max(1),
            high_water: 0,
            db_max: 0,
            synced: false,
            resyncs: 0,
            failures: 0,
            last_error: None,
        }
    }

    fn failed(&mut self, e: StoreError) -> StoreError {
        self.failures += 1;
        self.last_error = Some(e.to_string());
        // A failure may hide a change in the database: look again before the next id.
        self.synced = false;
        e
    }

    /// Reconciles with the database: the next id is above `MAX(record_id)` and the
    /// persisted high-water mark. Ids left in the current block below that are dropped.
    pub fn reconcile(&mut self, store: &mut dyn Store) -> Result<(), StoreError> {
        let db_max = store.max_record_id().map_err(|e| self.failed(e))?;
        let high_water = store.high_water().map_err(|e| self.failed(e))?;
        self.db_max = db_max;
        self.high_water = self.high_water.max(high_water);
        let floor = db_max.checked_add(1).ok_or_else(|| {
            self.failed(StoreError::Permanent(
                "record id space exhausted (MAX(record_id) is i64::MAX)".into(),
            ))
        })?;
        if self.next < floor {
            self.next = floor;
        }
        if self.next >= self.end {
            // Nothing usable in hand: the next block starts above everything ever reserved.
            self.next = self.next.max(self.high_water);
            self.end = self.next;
        }
        if self.synced {
            self.resyncs += 1;
        }
        self.synced = true;
        Ok(())
    }

    /// Forces a reconciliation before the next id (after a key conflict, or on request).
    pub fn resync(&mut self, store: &mut dyn Store) -> Result<(), StoreError> {
        self.synced = true; // counts as a resync, not a first sync
        self.reconcile(store)
    }

    /// `n` fresh record ids, reserving blocks durably as needed.
    pub fn allocate(&mut self, n: usize, store: &mut dyn Store) -> Result<Vec<i64>, StoreError> {
        if !self.synced {
            self.reconcile(store)?;
        }
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            if self.next >= self.end {
                let want = self.block_size.max((n - ids.len()) as i64);
                let block = store.reserve_block(self.next, want).map_err(|e| self.failed(e))?;
                self.next = block.start;
                self.end = block.end;
                self.high_water = self.high_water.max(block.end);
                crate::failpoint!("keys.after_reserve");
            }
            let take = ((self.end - self.next) as usize).min(n - ids.len());
            ids.extend(self.next..self.next + take as i64);
            self.next += take as i64;
        }
        self.last_error = None;
        Ok(ids)
    }

    /// Records what the database holds now (from the telemetry reader).
    pub fn observe_db_max(&mut self, db_max: i64) {
        self.db_max = db_max;
    }

    pub fn info(&self) -> AllocatorInfo {
        AllocatorInfo {
            next_id: self.next,
            block_end: self.end,
            high_water: self.high_water,
            block_size: self.block_size,
            db_max_id: self.db_max,
            resyncs: self.resyncs,
            failures: self.failures,
            last_error: self.last_error.clone(),
        }
    }
}
