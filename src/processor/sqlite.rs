//! TEMPORARY compile stub (replaced by the sqlite branch).
use crate::processor::store::*;
use std::path::Path;
use std::time::Duration;
pub struct SqliteStore;
impl SqliteStore {
    pub fn open(_p: &Path, _b: Duration) -> Result<SqliteStore, crate::error::Error> {
        todo!()
    }
}
impl Store for SqliteStore {
    fn max_record_id(&mut self) -> Result<i64, StoreError> {
        todo!()
    }
    fn high_water(&mut self) -> Result<i64, StoreError> {
        todo!()
    }
    fn reserve_block(&mut self, _a: i64, _s: i64) -> Result<KeyBlock, StoreError> {
        todo!()
    }
    fn commit_batch(
        &mut self,
        _r: &[KeyedMessage<'_>],
        _s: BatchSource,
        _f: Option<&str>,
    ) -> Result<Committed, StoreError> {
        todo!()
    }
    fn maintain(&mut self) -> Result<(), StoreError> {
        todo!()
    }
}
pub struct SqliteReader;
impl SqliteReader {
    pub fn open(_p: &Path, _b: Duration) -> Result<SqliteReader, crate::error::Error> {
        todo!()
    }
    pub fn max_record_id(&self) -> Result<i64, StoreError> {
        todo!()
    }
}
