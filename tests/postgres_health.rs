//! `/readyz` on PostgreSQL: 503 with the reason while the server is stopped, ready again
//! once it is back (without a restart of the processor); `/healthz` stays 200 throughout.

mod postgres_support;
mod support;

use std::time::Duration;

use postgres_support::{server, wait_until, PgProc};
use support::{bin, http_get, tempdir};

fn readyz(endpoint: &str) -> (u16, serde_json::Value) {
    let (status, body) = http_get(endpoint, "/readyz").expect("the API answers");
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

#[test]
fn readyz_says_why_while_postgres_is_stopped_and_recovers() {
    let Some(pg) = server("postgres_health") else {
        return;
    };
    let tmp = tempdir();
    let root = tmp.path().join("state");
    let url = pg.url();
    let proc = PgProc::start(bin(), &root, &url, &["--busy-timeout", "1000"]);
    let endpoint = std::fs::read_to_string(root.join("control/endpoint")).unwrap();
    let endpoint = endpoint.trim();
    wait_until(Duration::from_secs(20), "ready", || readyz(endpoint).0 == 200);

    pg.stop(true);
    let mut body = serde_json::Value::Null;
    wait_until(
        Duration::from_secs(20),
        "readyz 503 with PostgreSQL stopped",
        || {
            let (status, b) = readyz(endpoint);
            body = b;
            status == 503
        },
    );
    eprintln!("/readyz with PostgreSQL stopped: {body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("database unreachable: "), "{body}");
    assert!(body["since"].is_string(), "{body}");
    let (status, _) = http_get(endpoint, "/healthz").unwrap();
    assert_eq!(status, 200, "the processor itself is alive");

    pg.start_again();
    wait_until(Duration::from_secs(30), "ready again", || {
        readyz(endpoint).0 == 200
    });
    assert!(proc.terminate(Duration::from_secs(20)).success());
}
