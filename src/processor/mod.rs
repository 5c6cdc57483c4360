//! The processor: intake -> batch -> commit -> retry. No UI and no HTTP types here.

pub mod control;
pub mod dirs;
pub mod retry;
pub mod sqlite;
pub mod store;
pub mod telemetry;
