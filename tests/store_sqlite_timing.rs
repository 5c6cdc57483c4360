//! How long committing a 1,000-message batch takes on this machine: a measurement to
//! read, not an assertion. Run with
//! `cargo test --test store_sqlite_timing -- --ignored --nocapture`.

#[path = "store_support.rs"]
mod support;

use std::time::{Duration, Instant};

use statmgr::message::Message;
use statmgr::processor::store::Store;
use support::{commit, message, TestDb};

const BATCH: usize = 1000;
const ROUNDS: usize = 20;

#[test]
#[ignore = "a timing measurement; run on demand with --ignored --nocapture"]
fn commit_1000_message_batch_timing() {
    let db = TestDb::temp();
    let mut store = db.open(Duration::from_secs(5));
    let mut times = Vec::with_capacity(ROUNDS);
    let mut next_id = 1;
    for round in 0..ROUNDS {
        let messages: Vec<Message> = (0..BATCH).map(|i| message(&format!("r{round}-m{i}"))).collect();
        let started = Instant::now();
        let committed = commit(&mut store, next_id, &messages).expect("commit");
        times.push(started.elapsed());
        assert_eq!(committed.inserted, BATCH as u64);
        next_id += BATCH as i64;
        store.maintain().expect("maintain");
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "commit of {BATCH} messages (2 insertion strings, 2 attributes each), {ROUNDS} rounds, {} build: \
         min {:.1} ms, median {:.1} ms, max {:.1} ms",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        ms(times[0]),
        ms(times[ROUNDS / 2]),
        ms(times[ROUNDS - 1]),
    );
}
