//! Certificates made in the test with the `openssl` command (a CA, a server certificate for
//! localhost and 127.0.0.1, a client certificate for the `postgres` user, and a second,
//! unrelated CA), and a test server that demands the client certificate.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{user_ids, PgServer, REQUIRE_ENV};

/// The PEM files of one test PKI.
pub struct TlsFiles {
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// CN=postgres, signed by `ca`.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

fn make_ca(dir: &Path, name: &str) -> bool {
    let (key, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN=statmgr test {name}"),
    );
    let args = [
        &["req", "-x509"][..],
        &EC[..],
        &[
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subj,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    ]
    .concat();
    openssl(dir, &args)
}

/// A key and a certificate signed by `ca`, with the extensions in `ext`.
fn make_leaf(dir: &Path, name: &str, subject: &str, ext: &str) -> bool {
    let (key, csr, crt, extfile) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    std::fs::write(dir.join(&extfile), ext).unwrap();
    let request = [
        &["req"][..],
        &EC[..],
        &["-keyout", &key, "-out", &csr, "-subj", subject],
    ]
    .concat();
    openssl(dir, &request)
        && openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ],
        )
}

/// Makes the test PKI in `dir`; `None` (after printing SKIPPED, or failing when PostgreSQL
/// tests are required) when no `openssl` command works.
pub fn make_certificates(dir: &Path, test: &str) -> Option<TlsFiles> {
    let made = make_ca(dir, "ca")
        && make_ca(dir, "other-ca")
        && make_leaf(
            dir,
            "server",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        && make_leaf(
            dir,
            "client",
            "/CN=postgres",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        );
    if !made {
        let require = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
        assert!(
            !require,
            "{REQUIRE_ENV}=1 but the openssl command could not make the test certificates"
        );
        println!("SKIPPED {test}: no working openssl command");
        return None;
    }
    for key in ["ca.key", "other-ca.key", "server.key", "client.key"] {
        std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Some(TlsFiles {
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
    })
}

impl PgServer {
    /// Turns TLS on with `files` (server certificate, `ssl_ca_file` = the test CA) and makes
    /// every TLS connection from 127.0.0.1 authenticate by client certificate (`hostssl ...
    /// cert`: a verified certificate whose CN is the user); plain connections stay `trust`
    /// for the tests' own checks (`sql()`). Restarts the server.
    pub fn require_client_certificates(&self, files: &TlsFiles) {
        let dir = self.dir.path();
        let copy = |from: &Path, name: &str| -> PathBuf {
            let to = dir.join(name);
            std::fs::copy(from, &to).unwrap();
            if let Some(user) = &self.run_as {
                let (uid, gid) = user_ids(user);
                std::os::unix::fs::chown(&to, Some(uid), Some(gid)).unwrap();
            }
            to
        };
        let cert = copy(&files.server_cert, "pg-server.crt");
        let key = copy(&files.server_key, "pg-server.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ca = copy(&files.ca, "pg-ca.pem");
        let conf = self.data().join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap_or_default();
        text.push_str(&format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nssl_ca_file = '{}'\n",
            cert.display(),
            key.display(),
            ca.display()
        ));
        std::fs::write(&conf, text).unwrap();
        let hba = self.data().join("pg_hba.conf");
        let old = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(
            &hba,
            format!("hostssl all all 127.0.0.1/32 cert\nhostnossl all all 127.0.0.1/32 trust\n{old}"),
        )
        .unwrap();
        self.stop(false);
        self.start_again();
    }
}
