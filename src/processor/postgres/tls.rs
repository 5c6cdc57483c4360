//! TLS to PostgreSQL (rustls): the server certificate is always verified, against the
//! system's CA store plus the PEM file named by `PGSSLROOTCERT` (libpq's variable).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::Error;

/// The environment variable naming extra trusted CA certificates (PEM), as for libpq.
pub const ROOT_CERT_ENV: &str = "PGSSLROOTCERT";

/// The connector for the pool. With `sslmode=disable` no TLS is attempted, so no
/// certificate store is read; otherwise (prefer, the default, or require) a server that
/// offers TLS must present a certificate that verifies.
pub(super) fn connector(config: &tokio_postgres::Config) -> Result<MakeRustlsConnect, Error> {
    let mut roots = RootCertStore::empty();
    if config.get_ssl_mode() != SslMode::Disable {
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(
            added,
            errors = native.errors.len(),
            "system CA certificates loaded"
        );
        if let Some(path) = std::env::var_os(ROOT_CERT_ENV) {
            add_pem_file(&mut roots, Path::new(&path))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::Config(format!("cannot set up TLS for PostgreSQL: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(tls))
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<(), Error> {
    let bad = |why: String| {
        Error::Config(format!(
            "{ROOT_CERT_ENV}={}: {why}; it must name a PEM file of CA certificates",
            path.display()
        ))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|err| bad(err.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|err| bad(err.to_string()))?;
    if certs.is_empty() {
        return Err(bad("it holds no certificate".into()));
    }
    for cert in certs {
        roots.add(cert).map_err(|err| bad(err.to_string()))?;
    }
    Ok(())
}

/// A hint added to a connection failure that looks like a certificate problem.
pub(super) fn hint(error_text: &str) -> Option<&'static str> {
    let lower = error_text.to_ascii_lowercase();
    (lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")).then_some(
        "the server's TLS certificate did not verify: set PGSSLROOTCERT to the PEM file of its CA, \
         or add ?sslmode=disable to the URL on a trusted network",
    )
}
