//! The TLS parameters of a PostgreSQL URL as libpq names them (`sslmode` with `verify-ca`
//! and `verify-full`, `sslrootcert`, `sslcert`, `sslkey`), taken out of the URL before
//! tokio-postgres parses the rest (it knows only `sslmode=disable|prefer|require`).

use std::path::PathBuf;

use crate::error::Error;

/// `sslmode`, as libpq defines it (`allow` is not supported: tokio-postgres cannot try
/// without TLS first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    Disable,
    /// TLS if the server offers it (tokio-postgres's and libpq's default).
    #[default]
    Prefer,
    /// TLS, always.
    Require,
    /// TLS; the server's certificate chain must lead to a trusted CA (its name is not checked).
    VerifyCa,
    /// `VerifyCa`, and the certificate must be for the host name of the URL.
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Mode, Error> {
        Ok(match value {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            "allow" => {
                return Err(Error::Config(
                    "--database: sslmode=allow is not supported (no fallback from plain to TLS); \
                     use sslmode=prefer, require, verify-ca or verify-full"
                        .into(),
                ))
            }
            other => {
                return Err(Error::Config(format!(
                    "--database: sslmode={other:?} is not a TLS mode; use disable, prefer, require, \
                     verify-ca or verify-full"
                )))
            }
        })
    }

    /// What tokio-postgres is told: it only negotiates; checking is the connector's.
    pub fn negotiation(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode;
        match self {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// `sslrootcert=PATH`: the CA certificates of that PEM file, and no others.
    File(PathBuf),
    /// `sslrootcert=system`: the system's CA store.
    System,
}

/// The TLS settings of one `--database` URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    pub mode: Mode,
    /// `None`: the system's CA store plus `PGSSLROOTCERT`.
    pub root_cert: Option<RootCert>,
    /// `sslcert` and `sslkey`: the client certificate (PEM chain) and its private key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// Splits the URL into the URL tokio-postgres is given (without the parameters above) and
/// the TLS options. Errors never repeat the URL (it may hold a password).
pub fn split(url: &str) -> Result<(String, TlsOptions), Error> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), TlsOptions::default()));
    };
    let mut rest = Vec::new();
    let mut options = TlsOptions::default();
    let (mut cert, mut key) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = || percent_decode(value, name);
        match name {
            "sslmode" => options.mode = Mode::parse(&value()?)?,
            "sslrootcert" => {
                let v = value()?;
                options.root_cert = Some(if v == "system" {
                    RootCert::System
                } else {
                    RootCert::File(non_empty(v, name)?)
                });
            }
            "sslcert" => cert = Some(non_empty(value()?, name)?),
            "sslkey" => key = Some(non_empty(value()?, name)?),
            _ => rest.push(pair),
        }
    }
    options.client_cert = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((cert, key)),
        (Some(_), None) => {
            return Err(Error::Config(
                "--database: sslcert is given without sslkey; a client certificate needs its \
                 private key (sslkey=PATH)"
                    .into(),
            ))
        }
        (None, Some(_)) => {
            return Err(Error::Config(
                "--database: sslkey is given without sslcert; a private key needs its client \
                 certificate (sslcert=PATH)"
                    .into(),
            ))
        }
    };
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, options))
}

fn non_empty(value: String, name: &str) -> Result<PathBuf, Error> {
    if value.is_empty() {
        return Err(Error::Config(format!(
            "--database: {name} is empty; it must name a file"
        )));
    }
    Ok(PathBuf::from(value))
}

/// `%XX` decoding (and `+` kept as is, as libpq does); the result must be UTF-8.
fn percent_decode(value: &str, name: &str) -> Result<String, Error> {
    let bad = || Error::Config(format!("--database: the value of {name} has a bad %-escape"));
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::Config(format!("--database: the value of {name} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_parameters_are_taken_out_and_the_rest_is_kept() {
        let (url, o) = split(
            "postgres://u:pw@h:5/db?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem\
             &sslcert=/c/client.crt&sslkey=/c/client.key&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(url, "postgres://u:pw@h:5/db?application_name=x&connect_timeout=3");
        assert_eq!(o.mode, Mode::VerifyFull);
        assert_eq!(o.root_cert, Some(RootCert::File("/etc/ca.pem".into())));
        assert_eq!(
            o.client_cert,
            Some(("/c/client.crt".into(), "/c/client.key".into()))
        );
        let (url, o) = split("postgres://u@h/db?sslmode=verify-ca&sslrootcert=system").unwrap();
        assert_eq!(url, "postgres://u@h/db");
        assert_eq!((o.mode, o.root_cert), (Mode::VerifyCa, Some(RootCert::System)));
        let (url, o) = split("postgres://u@h/db").unwrap();
        assert_eq!((url.as_str(), o), ("postgres://u@h/db", TlsOptions::default()));
    }

    #[test]
    fn every_mode_of_libpq_but_allow_is_known() {
        for (text, mode) in [
            ("disable", Mode::Disable),
            ("prefer", Mode::Prefer),
            ("require", Mode::Require),
            ("verify-ca", Mode::VerifyCa),
            ("verify-full", Mode::VerifyFull),
        ] {
            assert_eq!(
                split(&format!("postgres://h/d?sslmode={text}")).unwrap().1.mode,
                mode
            );
        }
        let err = split("postgres://h/d?sslmode=allow").unwrap_err().to_string();
        assert!(err.contains("allow is not supported"), "{err}");
        let err = split("postgres://h/d?sslmode=verify_full")
            .unwrap_err()
            .to_string();
        assert!(err.contains("verify-full"), "{err}");
    }

    #[test]
    fn a_certificate_without_its_key_and_bad_values_are_refused_without_the_password() {
        let err = split("postgres://u:s3cret@h/d?sslcert=/c.crt")
            .unwrap_err()
            .to_string();
        assert!(err.contains("without sslkey") && !err.contains("s3cret"), "{err}");
        let err = split("postgres://u:s3cret@h/d?sslkey=/c.key")
            .unwrap_err()
            .to_string();
        assert!(err.contains("without sslcert"), "{err}");
        let err = split("postgres://u:s3cret@h/d?sslrootcert=")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sslrootcert is empty"), "{err}");
        let err = split("postgres://u:s3cret@h/d?sslrootcert=%zz")
            .unwrap_err()
            .to_string();
        assert!(err.contains("%-escape") && !err.contains("s3cret"), "{err}");
        let err = split("postgres://u@h/d?sslkey=%ff&sslcert=x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }
}
