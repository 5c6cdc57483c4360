//! A real PostgreSQL server for the tests, in a temporary directory: `initdb`, `pg_ctl`
//! on a free port of 127.0.0.1 (run as the `postgres` user when the tests run as root),
//! stopped and removed on drop. Plus a small synchronous SQL client.
#![allow(dead_code)]

mod proc;
mod sql;
mod tls;

#[allow(unused_imports)]
pub use proc::PgProc;
#[allow(unused_imports)]
pub use sql::{check_database, Sql};
#[allow(unused_imports)]
pub use tls::{make_certificates, TlsFiles};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Set to 1 (CI) to fail instead of skipping when no PostgreSQL server is installed.
pub const REQUIRE_ENV: &str = "STATMGR_REQUIRE_POSTGRES";

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// `Some(user)` when the server runs as another user (the tests run as root).
    run_as: Option<String>,
    pub port: u16,
    fsync: bool,
}

/// The server, or `None` after printing a SKIPPED line when PostgreSQL is not installed.
pub fn server(test: &str) -> Option<PgServer> {
    server_with(test, false)
}

/// `server`, with `fsync=on` (benchmarks; the tests crash the server process, never the
/// machine, so they run without it).
pub fn server_with(test: &str, fsync: bool) -> Option<PgServer> {
    let Some(bin) = find_bin() else {
        let require = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
        assert!(
            !require,
            "{REQUIRE_ENV}=1 but no PostgreSQL server binaries (initdb, pg_ctl) were found; \
             install postgresql (Debian: apt-get install postgresql) or set STATMGR_PG_BIN"
        );
        println!(
            "SKIPPED {test}: no PostgreSQL server binaries (initdb, pg_ctl) in STATMGR_PG_BIN, \
             /usr/lib/postgresql/*/bin or PATH"
        );
        return None;
    };
    Some(PgServer::start(bin, fsync))
}

fn find_bin() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("STATMGR_PG_BIN") {
        let dir = PathBuf::from(dir);
        return has_tools(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_tools(dir))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    fn start(bin: PathBuf, fsync: bool) -> PgServer {
        let dir = tempfile::Builder::new().prefix("statmgr-pg-").tempdir().unwrap();
        let run_as = unsafe { libc::geteuid() == 0 }.then(server_user);
        if let Some(user) = &run_as {
            let (uid, gid) = user_ids(user);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let mut server = PgServer {
            dir,
            bin,
            run_as,
            port: 0,
            fsync,
        };
        let data = server.data();
        let out = server.tool(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", text(&out));
        for _ in 0..5 {
            server.port = free_port();
            if server.try_start() {
                return server;
            }
        }
        panic!("PostgreSQL would not start; log:\n{}", server.log_text());
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn tool(&self, name: &str, args: &[&str]) -> Output {
        let program = self.bin.join(name);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    fn try_start(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=60 -c fsync={} \
             -c full_page_writes={}",
            self.port,
            self.dir.path().display(),
            if self.fsync { "on" } else { "off" },
            if self.fsync { "on" } else { "off" },
        );
        let (data, log) = (self.data(), self.log_path());
        let out = self.tool(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        out.status.success()
    }

    /// Starts the server again on the same port (after `stop`).
    pub fn start_again(&self) {
        assert!(
            self.try_start(),
            "PostgreSQL would not start again; log:\n{}",
            self.log_text()
        );
    }

    /// Stops the server; `immediate` is a crash (no checkpoint; recovery at the next start).
    pub fn stop(&self, immediate: bool) {
        let data = self.data();
        let mode = if immediate { "immediate" } else { "fast" };
        let out = self.tool(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", mode, "-w", "stop"],
        );
        assert!(out.status.success(), "pg_ctl stop failed: {}", text(&out));
    }

    /// A crash and a start, as a database host's failover or restart looks to a client.
    pub fn restart(&self) {
        self.stop(true);
        self.start_again();
    }

    /// Turns TLS on with a certificate for 127.0.0.1 signed by a fresh test CA, restarts,
    /// and returns the CA's PEM file; `None` when no `openssl` command is installed.
    pub fn enable_tls(&self) -> Option<PathBuf> {
        let dir = self.dir.path();
        let openssl = |args: &[&str]| -> bool {
            Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let made = openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=statmgr test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign",
                ],
            ]
            .concat(),
        ) && openssl(
            &[
                &["req"],
                &ec[..],
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        ) && openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        if !made {
            return None;
        }
        let key = dir.join("server.key");
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(&key).unwrap().permissions(),
            0o600,
        );
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        if let Some(user) = &self.run_as {
            let (uid, gid) = user_ids(user);
            for file in ["server.key", "server.crt"] {
                std::os::unix::fs::chown(dir.join(file), Some(uid), Some(gid)).unwrap();
            }
        }
        let conf = self.data().join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap_or_default();
        text.push_str(&format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            dir.join("server.crt").display(),
            key.display()
        ));
        std::fs::write(&conf, text).unwrap();
        self.stop(false);
        self.start_again();
        Some(dir.join("ca.pem"))
    }

    /// The URL a processor is given (the server has no TLS).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    pub fn sql(&self) -> Sql {
        Sql::connect(&self.url())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.tool(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"],
        );
        if std::thread::panicking() {
            eprintln!("--- PostgreSQL log ---\n{}", self.log_text());
        }
    }
}

fn server_user() -> String {
    for user in ["postgres", "nobody"] {
        if Command::new("id")
            .arg("-u")
            .arg(user)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return user.to_string();
        }
    }
    panic!("running as root, and neither a postgres nor a nobody user exists to run the server");
}

fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, user]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
