//! What the telemetry model knows of the database itself: retention and what is stored,
//! and whether the database answers (read by the snapshot, /metrics and /readyz).

use std::time::SystemTime;

use super::{rfc3339, Telemetry};
use crate::api::wire::{DatabaseInfo, EventKind, RetentionInfo};

impl Telemetry {
    pub fn update_retention(&self, f: impl FnOnce(&mut RetentionInfo)) {
        f(&mut self.model().retention);
    }

    pub fn retention(&self) -> RetentionInfo {
        self.model().retention.clone()
    }

    pub fn database(&self) -> DatabaseInfo {
        self.model().database.clone()
    }

    /// The database answered. Emits a warning event when it comes back.
    pub fn database_reachable(&self) {
        let was_down = {
            let mut m = self.model();
            let was_down = !m.database.reachable;
            m.database = DatabaseInfo::default();
            was_down
        };
        if was_down {
            self.emit(EventKind::Warning {
                message: "the database is reachable again".into(),
            });
        }
    }

    /// The database could not be reached: `since` is kept from the first failure.
    pub fn database_unreachable(&self, error: &str) {
        let first = {
            let mut m = self.model();
            let first = m.database.reachable;
            if first {
                m.database.reachable = false;
                m.database.since = Some(rfc3339(SystemTime::now()));
            }
            m.database.last_error = Some(error.to_string());
            first
        };
        if first {
            self.emit(EventKind::Warning {
                message: format!("the database is unreachable: {error}"),
            });
        }
    }
}
