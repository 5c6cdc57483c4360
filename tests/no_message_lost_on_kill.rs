//! Nothing is lost, nothing is duplicated: `kill -9` at random moments while a producer
//! keeps writing. Afterwards every message is in the database exactly once, the database
//! is intact and the allocator is above MAX(record_id).
//!
//! Cycles: STATMGR_KILL_CYCLES (default 1,000; 10,000 for the full soak). Replay a run: STATMGR_SEED=<printed seed>.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use support::*;

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let cycles: u64 = std::env::var("STATMGR_KILL_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let seed: u64 = std::env::var("STATMGR_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("kill -9 soak: {cycles} cycles, seed {seed} (replay with STATMGR_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let tmp = tempdir();
    let root = state_root(&tmp);
    // Create the state directory once so the producer has an inbox from the start.
    Proc::start(&root, &[]).kill9();

    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (root, sent, stop) = (root.clone(), sent.clone(), stop.clone());
        let mut prng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let start = sent.load(Ordering::Relaxed);
                let n = prng.random_range(1..=20);
                drop_messages(&root, start..start + n, n);
                sent.store(start + n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(prng.random_range(0..5)));
            }
        })
    };

    for _ in 0..cycles {
        let p = Proc::start(&root, &["--batch-age", "20", "--key-block", "50"]);
        std::thread::sleep(Duration::from_millis(rng.random_range(0..150)));
        p.kill9();
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    let total = sent.load(Ordering::Relaxed);

    let p = Proc::start(&root, &["--retry-min", "20", "--retry-max", "200"]);
    wait_for(Duration::from_secs(120), "every message to be committed", || {
        files_in(&root, "inbox").is_empty()
            && files_in(&root, "retry").is_empty()
            && row_count(&root) >= total
    });
    let (st, _) = p.terminate(Duration::from_secs(15));
    assert!(st.success());

    assert!(
        files_in(&root, "stuck").is_empty(),
        "seed {seed}: nothing should be stuck"
    );
    assert!(
        files_in(&root, "corrupt").is_empty(),
        "seed {seed}: nothing should be corrupt"
    );
    let got = uids(&root);
    assert_eq!(got.len() as u64, total, "seed {seed}: every message exactly once");
    let mut want: Vec<String> = (0..total).map(|n| format!("u-{n}")).collect();
    want.sort();
    assert_eq!(got, want, "seed {seed}");
    check_database(&root);
    eprintln!("kill -9 soak: {cycles} cycles, {total} messages, 0 lost, 0 duplicated");
}
