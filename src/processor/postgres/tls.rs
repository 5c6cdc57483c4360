//! TLS to PostgreSQL (rustls), configured by the libpq parameters of the URL (see `params`):
//! which CAs are trusted, how the server's certificate is checked, the client certificate.

mod chain_only;
mod files;
pub mod params;

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::Error;
pub use params::{Mode, RootCert, TlsOptions};

/// The environment variable naming extra trusted CA certificates (PEM), as for libpq.
pub const ROOT_CERT_ENV: &str = "PGSSLROOTCERT";

/// The connector for the pool. With `sslmode=disable` no TLS is attempted and no file is
/// read. Otherwise the server's certificate always verifies: against the CAs of
/// `sslrootcert` (only those), or the system's store plus `PGSSLROOTCERT`; its host name
/// too, except with `verify-ca`. The client certificate is presented when one is given.
pub(super) fn connector(options: &TlsOptions) -> Result<MakeRustlsConnect, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::Config(format!("cannot set up TLS for PostgreSQL: {err}")))?;
    let roots = if options.mode == Mode::Disable {
        RootCertStore::empty()
    } else {
        trusted_roots(options.root_cert.as_ref())?
    };
    let builder = if options.mode == Mode::VerifyCa {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(chain_only::ChainOnly::new(Arc::new(roots), provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    let tls = match &options.client_cert {
        Some((cert, key)) if options.mode != Mode::Disable => {
            let chain = files::certificates("sslcert", cert)?;
            let key_der = files::private_key(key)?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|err| match err {
                    rustls::Error::InconsistentKeys(_) => Error::Config(format!(
                        "--database: sslkey={} is not the private key of sslcert={} ({err}); \
                         give the certificate's own key",
                        key.display(),
                        cert.display()
                    )),
                    other => Error::Config(format!(
                        "--database: sslkey={}: the private key cannot be used ({other}); it must be \
                         an unencrypted RSA, ECDSA or Ed25519 key in PEM",
                        key.display()
                    )),
                })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(tls))
}

fn trusted_roots(root_cert: Option<&RootCert>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(RootCert::File(path)) => files::add_roots(&mut roots, "sslrootcert", path)?,
        Some(RootCert::System) => add_system_roots(&mut roots),
        None => {
            add_system_roots(&mut roots);
            if let Some(path) = std::env::var_os(ROOT_CERT_ENV) {
                files::add_roots(&mut roots, ROOT_CERT_ENV, Path::new(&path)).map_err(|err| {
                    Error::Config(format!(
                        "{err}; {ROOT_CERT_ENV} must name a PEM file of CA certificates"
                    ))
                })?;
            }
        }
    }
    Ok(roots)
}

fn add_system_roots(roots: &mut RootCertStore) {
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(
        added,
        errors = native.errors.len(),
        "system CA certificates loaded"
    );
}

/// A hint added to a connection failure that looks like a certificate problem.
pub(super) fn hint(error_text: &str) -> Option<&'static str> {
    let lower = error_text.to_ascii_lowercase();
    if lower.contains("not valid for name") {
        return Some(
            "the server's TLS certificate is not for the host name of the URL: connect by a name \
             (or address) the certificate holds, or use sslmode=verify-ca to check only its CA",
        );
    }
    if lower.contains("client certificate") {
        return Some(
            "the server demands a client certificate: give it with sslcert=PATH&sslkey=PATH in \
             the URL (its common name must be the database user)",
        );
    }
    (lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")).then_some(
        "the server's TLS certificate did not verify: name the PEM file of its CA with \
         sslrootcert=PATH in the URL (or set PGSSLROOTCERT), or use sslmode=disable on a trusted \
         network",
    )
}
