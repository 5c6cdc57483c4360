//! TLS to PostgreSQL: `sslmode=require` against a server whose certificate is signed by a
//! private CA, trusted through `PGSSLROOTCERT`; refused with a hint without it. (Its own
//! test binary: it sets an environment variable.)

mod postgres_support;

use std::time::Duration;

use postgres_support::server;
use statmgr::processor::postgres::{PgOptions, PgStore, ROOT_CERT_ENV};

fn options() -> PgOptions {
    PgOptions {
        timeout: Duration::from_secs(5),
        key_block_size: 10,
        processor: "tls".into(),
    }
}

#[test]
fn sslmode_require_verifies_the_server_against_pgsslrootcert() {
    let Some(pg) = server("sslmode_require_verifies_the_server_against_pgsslrootcert") else {
        return;
    };
    let Some(ca) = pg.enable_tls() else {
        println!("SKIPPED sslmode_require_verifies_the_server_against_pgsslrootcert: no openssl command");
        return;
    };
    let url = pg.url().replace("sslmode=disable", "sslmode=require");

    let refused = PgStore::open(&url, &options()).unwrap_err().to_string();
    assert!(refused.contains(ROOT_CERT_ENV), "{refused}");

    std::env::set_var(ROOT_CERT_ENV, &ca);
    let store = PgStore::open(&url, &options()).expect("open over TLS");
    let encrypted = pg.sql().i64(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.application_name = 'statmgr' AND s.ssl",
    );
    assert!(encrypted >= 1, "the store's connection is not encrypted");
    drop(store);

    std::env::set_var(ROOT_CERT_ENV, pg_url_file_that_is_not_pem(&ca));
    let bad = PgStore::open(&url, &options()).unwrap_err().to_string();
    assert!(bad.contains(ROOT_CERT_ENV) && bad.contains("PEM"), "{bad}");
    std::env::remove_var(ROOT_CERT_ENV);
}

fn pg_url_file_that_is_not_pem(ca: &std::path::Path) -> std::path::PathBuf {
    let path = ca.with_file_name("not-a-cert.pem");
    std::fs::write(&path, "hello\n").unwrap();
    path
}
