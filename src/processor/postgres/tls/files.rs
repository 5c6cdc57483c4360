//! Reading the PEM files the TLS settings name: CA certificates, the client certificate and
//! its private key. Every error names the parameter and the file, and says what is wrong.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use crate::error::Error;

fn bad(param: &str, path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Config(format!("--database: {param}={}: {why}", path.display()))
}

/// Why a PEM file could not be read, in words (an unreadable file keeps the system's reason).
fn pem_failure(err: pem::Error, what: &str) -> String {
    match err {
        pem::Error::Io(e) => format!("cannot read the file: {e}"),
        pem::Error::NoItemsFound => format!("the file holds no {what}"),
        other => format!("the file is not valid PEM ({other}); it must hold a {what}"),
    }
}

/// The certificates of a PEM file; `param` names the setting in errors (`sslrootcert`,
/// `sslcert`, `PGSSLROOTCERT`).
pub fn certificates(param: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let what = "certificate";
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(param, path, pem_failure(e, what)))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(param, path, pem_failure(e, what)))?;
    if certs.is_empty() {
        return Err(bad(
            param,
            path,
            "the file holds no certificate (PEM: -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

/// Adds the CA certificates of `path` to `roots`.
pub fn add_roots(roots: &mut RootCertStore, param: &str, path: &Path) -> Result<(), Error> {
    for cert in certificates(param, path)? {
        roots
            .add(cert)
            .map_err(|e| bad(param, path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(())
}

/// The private key of `sslkey`. As libpq, a key that its group or others may read is
/// refused (it must be mode 0600 or less, or 0640 or less when root owns it).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let meta =
        std::fs::metadata(path).map_err(|e| bad("sslkey", path, format!("cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(bad("sslkey", path, "not a regular file"));
    }
    let mode = meta.mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if mode & !allowed != 0 {
        return Err(bad(
            "sslkey",
            path,
            format!(
                "the private key file has mode {mode:04o}: others may read it; it must be u=rw (0600) \
                 or less, or u=rw,g=r (0640) or less when owned by root (chmod 600)"
            ),
        ));
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        bad(
            "sslkey",
            path,
            pem_failure(
                e,
                "private key (PEM: PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY, \
                 unencrypted: an encrypted key is not supported)",
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_file_and_a_file_that_is_not_pem_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = certificates("sslrootcert", &missing).unwrap_err().to_string();
        assert!(err.contains("sslrootcert=") && err.contains("nope.pem"), "{err}");
        assert!(err.contains("No such file"), "{err}");
        let text = dir.path().join("text.pem");
        std::fs::write(&text, "hello\n").unwrap();
        let err = certificates("sslcert", &text).unwrap_err().to_string();
        assert!(
            err.contains("text.pem") && err.contains("no certificate"),
            "{err}"
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = certificates("sslcert", &broken).unwrap_err().to_string();
        assert!(
            err.contains("broken.pem") && err.contains("not valid PEM"),
            "{err}"
        );
    }

    #[test]
    fn a_key_others_may_read_or_that_is_no_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(
            &key,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = private_key(&key).unwrap_err().to_string();
        assert!(err.contains("mode 0644") && err.contains("client.key"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = private_key(&key).unwrap_err().to_string();
        assert!(
            err.contains("holds no private key") && err.contains("client.key"),
            "{err}"
        );
        let err = private_key(&dir.path().join("gone.key")).unwrap_err().to_string();
        assert!(
            err.contains("sslkey=") && err.contains("gone.key") && err.contains("cannot read"),
            "{err}"
        );
    }
}
