//! TLS to PostgreSQL against a real test server with certificates made in the test:
//! `sslmode=require` trusting a private CA through `PGSSLROOTCERT`; libpq's `verify-ca` and
//! `verify-full` with `sslrootcert`, and client certificates (`sslcert`, `sslkey`) that the
//! server demands. (Its own test binary: one test sets an environment variable.)

mod postgres_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use postgres_support::{make_certificates, server, PgServer, TlsFiles};
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

/// A server with TLS that demands a client certificate, and the PKI it trusts.
fn server_with_client_certificates(test: &str) -> Option<(PgServer, TlsFiles, tempfile::TempDir)> {
    let pg = server(test)?;
    let dir = tempfile::Builder::new().prefix("statmgr-pki-").tempdir().unwrap();
    let files = make_certificates(dir.path(), test)?;
    pg.require_client_certificates(&files);
    Some((pg, files, dir))
}

/// The URL of the test server under `host` (connecting to 127.0.0.1 whatever the name, as
/// libpq's `hostaddr` does), with the TLS parameters `tls`.
fn url(pg: &PgServer, host: &str, tls: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/postgres?hostaddr=127.0.0.1&{tls}",
        pg.port
    )
}

fn client_params(files: &TlsFiles) -> String {
    format!(
        "sslcert={}&sslkey={}",
        files.client_cert.display(),
        files.client_key.display()
    )
}

fn open_err(url: &str) -> String {
    let err = PgStore::open(url, &options())
        .map(|_| ())
        .expect_err("the connection must be refused")
        .to_string();
    eprintln!("refused: {err}");
    err
}

/// Connections of the store authenticated by the test client certificate.
fn certified_connections(pg: &PgServer) -> i64 {
    pg.sql().i64(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.application_name = 'statmgr' AND s.ssl AND s.client_dn LIKE '%CN=postgres%'",
    )
}

#[test]
fn verify_full_checks_the_ca_and_the_host_name_and_verify_ca_only_the_ca() {
    let test = "verify_full_checks_the_ca_and_the_host_name_and_verify_ca_only_the_ca";
    let Some((pg, files, _dir)) = server_with_client_certificates(test) else {
        return;
    };
    let client = client_params(&files);
    let ca = format!("sslrootcert={}", files.ca.display());
    for host in ["localhost", "127.0.0.1"] {
        let store = PgStore::open(
            &url(&pg, host, &format!("sslmode=verify-full&{ca}&{client}")),
            &options(),
        )
        .unwrap_or_else(|e| panic!("verify-full to {host} with the right CA: {e}"));
        assert!(
            certified_connections(&pg) >= 1,
            "no connection authenticated by the client certificate"
        );
        drop(store);
    }

    // A CA that did not sign the server's certificate: refused in both modes, with a hint.
    let other = format!("sslrootcert={}", files.other_ca.display());
    for mode in ["verify-full", "verify-ca"] {
        let err = open_err(&url(
            &pg,
            "localhost",
            &format!("sslmode={mode}&{other}&{client}"),
        ));
        assert!(
            err.contains("UnknownIssuer") || err.contains("issuer"),
            "{mode}: {err}"
        );
        assert!(err.contains("sslrootcert=PATH"), "{mode}, the hint: {err}");
    }

    // A host name the certificate is not for: verify-full refuses, verify-ca connects.
    let err = open_err(&url(
        &pg,
        "db.wrong.invalid",
        &format!("sslmode=verify-full&{ca}&{client}"),
    ));
    assert!(err.contains("not valid for name"), "{err}");
    assert!(err.contains("verify-ca"), "the hint: {err}");
    let store = PgStore::open(
        &url(
            &pg,
            "db.wrong.invalid",
            &format!("sslmode=verify-ca&{ca}&{client}"),
        ),
        &options(),
    )
    .expect("verify-ca checks the CA only");
    drop(store);
}

#[test]
fn a_server_that_demands_a_client_certificate_refuses_a_connection_without_one() {
    let test = "a_server_that_demands_a_client_certificate_refuses_a_connection_without_one";
    let Some((pg, files, _dir)) = server_with_client_certificates(test) else {
        return;
    };
    let ca = format!("sslrootcert={}", files.ca.display());
    let err = open_err(&url(&pg, "localhost", &format!("sslmode=verify-full&{ca}")));
    assert!(err.contains("client certificate"), "{err}");
    assert!(err.contains("sslcert=PATH"), "the hint: {err}");
    // With it, the same URL connects.
    let with = url(
        &pg,
        "localhost",
        &format!("sslmode=verify-full&{ca}&{}", client_params(&files)),
    );
    drop(PgStore::open(&with, &options()).expect("with the client certificate"));
}

/// Every bad file gives an error naming the parameter and the file, before any connection
/// is tried (no server needed) and without a panic.
#[test]
fn missing_unreadable_and_bad_certificate_files_are_clear_errors() {
    let dir = tempfile::Builder::new().prefix("statmgr-pki-").tempdir().unwrap();
    let Some(files) = make_certificates(
        dir.path(),
        "missing_unreadable_and_bad_certificate_files_are_clear_errors",
    ) else {
        return;
    };
    let base = "postgres://postgres@127.0.0.1:1/postgres?sslmode=verify-full";
    let open = |params: String| open_err(&format!("{base}&{params}"));
    let with = |root: &Path, cert: &Path, key: &Path| {
        open(format!(
            "sslrootcert={}&sslcert={}&sslkey={}",
            root.display(),
            cert.display(),
            key.display()
        ))
    };
    let (ca, cert, key) = (&files.ca, &files.client_cert, &files.client_key);
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\n%%% not base64 %%%\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let text = dir.path().join("text.pem");
    std::fs::write(&text, "just some text\n").unwrap();
    let garbage_key = dir.path().join("garbage.key");
    std::fs::write(
        &garbage_key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&garbage_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cert_as_key = dir.path().join("cert-as.key");
    std::fs::copy(cert, &cert_as_key).unwrap();
    std::fs::set_permissions(&cert_as_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let open_key = dir.path().join("readable-by-all.key");
    std::fs::copy(key, &open_key).unwrap();
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();

    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "missing CA file",
            with(&missing, cert, key),
            vec!["sslrootcert=", "missing.pem", "cannot read"],
        ),
        (
            "a directory as CA file",
            with(dir.path(), cert, key),
            vec!["sslrootcert=", "cannot read"],
        ),
        (
            "CA file of text",
            with(&text, cert, key),
            vec!["sslrootcert=", "text.pem", "no certificate"],
        ),
        (
            "broken CA PEM",
            with(&garbage, cert, key),
            vec!["sslrootcert=", "garbage.pem", "not valid PEM"],
        ),
        (
            "missing client certificate",
            with(ca, &missing, key),
            vec!["sslcert=", "missing.pem", "cannot read"],
        ),
        (
            "broken client certificate",
            with(ca, &garbage, key),
            vec!["sslcert=", "garbage.pem", "not valid PEM"],
        ),
        (
            "a key as certificate",
            with(ca, key, key),
            vec!["sslcert=", "client.key", "no certificate"],
        ),
        (
            "missing key",
            with(ca, cert, &missing),
            vec!["sslkey=", "missing.pem", "cannot read"],
        ),
        (
            "a certificate as key",
            with(ca, cert, &cert_as_key),
            vec!["sslkey=", "cert-as.key", "holds no private key"],
        ),
        (
            "broken key",
            with(ca, cert, &garbage_key),
            vec!["sslkey=", "garbage.key", "cannot be used"],
        ),
        (
            "a key others may read",
            with(ca, cert, &open_key),
            vec!["sslkey=", "readable-by-all.key", "0644"],
        ),
        (
            "another certificate's key",
            with(ca, cert, &files.server_key),
            vec!["sslcert=", "sslkey=", "server.key", "not the private key of"],
        ),
        (
            "a certificate without its key",
            open(format!("sslcert={}", cert.display())),
            vec!["without sslkey"],
        ),
    ];
    for (case, err, wanted) in cases {
        eprintln!("{case}: {err}");
        for part in wanted {
            assert!(err.contains(part), "{case}: {part:?} not in {err:?}");
        }
    }
}
