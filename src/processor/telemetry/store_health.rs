//! What the telemetry model knows of the database itself: retention and what is stored,
//! and whether the database is usable (one record, in `Health`, read by the snapshot,
//! /metrics, /readyz and the watchdog).

use super::{rfc3339, Telemetry};
use crate::api::wire::{DatabaseInfo, EventKind, RetentionInfo};
use crate::processor::health::DatabaseProblem;

impl Telemetry {
    pub fn update_retention(&self, f: impl FnOnce(&mut RetentionInfo)) {
        f(&mut self.model().retention);
    }

    pub fn retention(&self) -> RetentionInfo {
        self.model().retention.clone()
    }

    /// The snapshot's `database`, from the one record of the database's usability that
    /// `/readyz`, `statmgr check` and the watchdog also read (`Health`).
    pub fn database(&self) -> DatabaseInfo {
        database_info(self.health.database_problem())
    }

    /// A database operation succeeded: the database is usable. Emits a warning event when
    /// it comes back.
    pub fn database_reachable(&self) {
        let was_down = self.health.database_problem().is_some();
        self.health.database_ok();
        if was_down {
            self.emit(EventKind::Warning {
                message: "the database is reachable again".into(),
            });
        }
    }

    /// A database operation failed for a transient reason (unreachable, locked, read-only):
    /// `since` is kept from the first failure; the event is emitted once per outage.
    pub fn database_unreachable(&self, error: &str) {
        let first = self.health.database_problem().is_none();
        self.health.database_failed(error);
        if first {
            self.emit(EventKind::Warning {
                message: format!("the database is unreachable: {error}"),
            });
        }
    }
}

pub fn database_info(problem: Option<DatabaseProblem>) -> DatabaseInfo {
    match problem {
        None => DatabaseInfo::default(),
        Some(p) => DatabaseInfo {
            reachable: false,
            since: Some(rfc3339(p.since)),
            last_error: Some(p.reason),
        },
    }
}
