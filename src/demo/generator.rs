//! The demo's producer: realistic status messages dropped into the inbox at an adjustable
//! rate, the way a real producer must (temporary dot-file, fsync, rename).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use crate::processor::dirs::write_durably;

/// Machines that report; the last one is refused by the demo's trigger (poison).
pub const MACHINES: [&str; 6] = [
    "SITE01-DP1",
    "SITE01-DP2",
    "SITE01-MP1",
    "SITE02-DP1",
    "SITE02-SUP",
    "SITE03-LEGACY",
];
pub const POISON_MACHINE: &str = "SITE03-LEGACY";
const COMPONENTS: [(&str, i64, &str); 6] = [
    ("SMS_DISTRIBUTION_MANAGER", 2300, "info"),
    ("SMS_DISTRIBUTION_MANAGER", 2302, "error"),
    ("SMS_EXECUTIVE", 500, "info"),
    ("SMS_MP_CONTROL_MANAGER", 5436, "warning"),
    ("SMS_INVENTORY_DATA_LOADER", 2703, "warning"),
    ("SMS_SITE_COMPONENT_MANAGER", 1016, "info"),
];

/// What the generator did, for the summary printed on exit.
#[derive(Debug, Default)]
pub struct Generated {
    pub messages: AtomicU64,
    pub files: AtomicU64,
    pub poison: AtomicU64,
    pub corrupt_files: AtomicU64,
}

pub struct Generator {
    pub inbox: PathBuf,
    /// Messages per second; the console's `+`/`-` change it.
    pub rate: Arc<AtomicU64>,
    pub stats: Arc<Generated>,
    pub shutdown: CancellationToken,
}

fn message(rng: &mut StdRng, seq: u64) -> serde_json::Value {
    // About one message in 2,000 comes from the decommissioned machine.
    let machine = if rng.random_range(0..2000) == 0 {
        POISON_MACHINE
    } else {
        MACHINES[rng.random_range(0..MACHINES.len() - 1)]
    };
    let (component, id, severity) = COMPONENTS[rng.random_range(0..COMPONENTS.len())];
    let package = format!("PKG{:05}", rng.random_range(1..200));
    serde_json::json!({
        "uid": format!("demo-{}-{seq}", std::process::id()),
        "message_id": id,
        "severity": severity,
        "component": component,
        "machine": machine,
        "site": &machine[..6],
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "module": "SMS Server",
        "process_id": rng.random_range(1000..9000),
        "thread_id": rng.random_range(1000..9000),
        "insertion_strings": [package.clone(), format!("\\\\{machine}\\SMSPKG$")],
        "attributes": {"400": package, "404": machine},
    })
}

impl Generator {
    /// Runs until shutdown (blocking: call it on its own thread).
    pub fn run(self) {
        let mut rng = StdRng::from_os_rng();
        let mut seq = 0u64;
        let mut files = 0u64;
        let started = Instant::now();
        let mut owed = 0.0f64;
        let mut last = Instant::now();
        while !self.shutdown.is_cancelled() {
            std::thread::sleep(Duration::from_millis(50));
            let now = Instant::now();
            owed += self.rate.load(Ordering::Relaxed) as f64 * (now - last).as_secs_f64();
            last = now;
            while owed >= 1.0 {
                // Files of 1 to 50 messages, JSON Lines.
                let n = (rng.random_range(1..=50) as f64).min(owed) as u64;
                owed -= n as f64;
                let mut body = String::new();
                for _ in 0..n {
                    let m = message(&mut rng, seq);
                    if m["machine"] == POISON_MACHINE {
                        self.stats.poison.fetch_add(1, Ordering::Relaxed);
                    }
                    body.push_str(&m.to_string());
                    body.push('\n');
                    seq += 1;
                }
                files += 1;
                let name = format!("demo-{files:08}.jsonl");
                if write_durably(&self.inbox, &name, body.as_bytes()).is_ok() {
                    self.stats.messages.fetch_add(n, Ordering::Relaxed);
                    self.stats.files.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Now and then a producer writes garbage: it ends in corrupt/ with its reason.
            if started.elapsed().as_secs() > 0 && rng.random_range(0..600) == 0 {
                files += 1;
                let name = format!("demo-{files:08}.json");
                let body = br#"{"message_id": "forty-two", "severity": "info"}"#;
                if write_durably(&self.inbox, &name, body).is_ok() {
                    self.stats.corrupt_files.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
