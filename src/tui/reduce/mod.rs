//! The reducer: state + action → state, plus the commands the API task must carry out.
//! Everything the console does passes through here, so it is all testable without a terminal.

mod api;
mod files;
mod fleet;
mod keys;
mod timeline;
mod trace;
mod triage;

pub use fleet::{fleet_context, reduce_fleet, Addressed};
pub use keys::context;

use crate::tui::action::{Action, Command};
use crate::tui::state::{Screen, State};

/// Applies one action at console time `now_s` (seconds since start).
pub fn reduce(state: &mut State, action: Action, now_s: f64) -> Vec<Command> {
    state.now_s = state.now_s.max(now_s);
    match action {
        Action::Key(key) => keys::on_key(state, key),
        Action::Resize { width, height } => {
            state.screen = Screen { width, height };
            files::relayout(state);
            Vec::new()
        }
        Action::Tick => timeline::on_tick(state),
        Action::Demo { rate, status } => {
            if let Some(demo) = state.demo.as_mut() {
                demo.rate = rate;
                demo.status = status;
            }
            Vec::new()
        }
        Action::Api(update) | Action::Processor { update, .. } => api::on_update(state, update),
    }
}
