//! The history in a real terminal: `statmgr watch` (read-only) against a real processor that
//! was killed and restarted, so its history spans two runs: `t -1h Enter` shows the journal
//! from an hour back (the first run's start), `G` returns to live, `w` switches the charts
//! to the last hour from the rollups.

mod console_support;

use console_support::tmux::{Processor, Tmux, STATMGR};

#[test]
fn watch_jumps_back_an_hour_across_a_restart_and_switches_the_charts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Processor::start(dir.path());
    first.stop();
    let _second = Processor::start(dir.path());
    let command = format!("{STATMGR} watch --root {}", dir.path().display());
    let tmux = Tmux::start(120, 40, &command);
    tmux.wait_for("READ-ONLY");
    tmux.keys(&["t"]);
    tmux.wait_for("jump to:");
    tmux.run(&["send-keys", "-l", "--", "-1h"]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("(G: live)");
    // The first run's start (event 1) is in the journal, older than this run's ring.
    assert!(screen.contains("state → running"), "{screen}");
    tmux.keys(&["G"]);
    tmux.wait_until("back to live", |s| !s.contains("(G: live)"));
    tmux.keys(&["w"]);
    tmux.wait_for("last 1 h (w)");
    tmux.keys(&["q"]);
    assert_eq!(tmux.exit_code(), 0);
}
