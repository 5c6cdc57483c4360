//! Reaching PostgreSQL: the `--database` URL, the connection pool, and the small runtime
//! that drives its connections for the (synchronous) committer and telemetry threads.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::Host;
use tokio_postgres::Config;

use super::tls;
use crate::error::Error;

/// Connections in the pool: the committer uses one at a time, the telemetry reader one.
const POOL_SIZE: usize = 4;

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A parsed `--database` URL: the connection config tokio-postgres is given, and the TLS
/// settings (libpq's `sslmode`, `sslrootcert`, `sslcert`, `sslkey`) the connector applies.
#[derive(Debug)]
pub(super) struct Target {
    pub config: Config,
    pub tls: tls::TlsOptions,
}

/// Parses the URL; the error never repeats the URL (it may hold a password).
pub(super) fn parse_url(url: &str, timeout: Duration) -> Result<Target, Error> {
    if !is_postgres_url(url) {
        return Err(Error::Config(
            "--database must be a postgres:// or postgresql:// URL \
             (e.g. postgres://statmgr@db.example:5432/statmgr); leave it out to use SQLite"
                .into(),
        ));
    }
    let (url, tls) = tls::params::split(url.trim())?;
    let mut config = Config::from_str(&url).map_err(|err| {
        Error::Config(format!(
            "--database: the PostgreSQL URL cannot be parsed ({err}); \
             the form is postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=verify-full&sslrootcert=PATH]"
        ))
    })?;
    if config.get_hosts().is_empty() {
        return Err(Error::Config(
            "--database: the PostgreSQL URL names no host (postgres://USER@HOST/DATABASE)".into(),
        ));
    }
    if config.get_application_name().is_none() {
        // So an operator can tell the processors apart in pg_stat_activity.
        config.application_name("statmgr");
    }
    config.connect_timeout(timeout);
    config.ssl_mode(tls.mode.negotiation());
    Ok(Target { config, tls })
}

/// The URL without its password, for logs and error messages.
pub fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            Host::Tcp(name) => format!("{name}:{port}"),
            Host::Unix(path) => format!("{}:{port}", path.display()),
        })
        .collect();
    let user = config.get_user().unwrap_or("(default user)");
    let dbname = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{dbname}", hosts.join(","))
}

/// The runtime that drives the pool's connections. One worker thread keeps every
/// connection polled (a closed connection is noticed while idle); the committer and the
/// telemetry reader block on it from their own threads.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("statmgr-pg")
        .enable_all()
        .build()
        .map_err(|err| Error::Config(format!("cannot start the PostgreSQL connection runtime: {err}")))
}

/// A pool that gives up waiting for, or creating, a connection after `timeout`. Must be
/// built inside the runtime that will drive its connections.
pub(super) fn pool(target: Target, timeout: Duration) -> Result<Pool, Error> {
    let manager_config = ManagerConfig {
        // A connection the server closed is noticed by its task (is_closed), and
        // `run` drops the idle ones after a connection failure: no test query per use.
        recycling_method: RecyclingMethod::Fast,
    };
    let connector = tls::connector(&target.tls)?;
    let manager = Manager::from_config(target.config, connector, manager_config);
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .post_create(Hook::async_fn(|client, _| {
            Box::pin(async move { durable_commits(client).await.map_err(HookError::Backend) })
        }))
        .build()
        .map_err(|err| Error::Config(format!("cannot create the PostgreSQL connection pool: {err}")))
}

/// A commit must be on disk when COMMIT returns, or a PostgreSQL crash could lose a batch
/// whose inbox files are already gone. `off` (set on the server or the role) is raised
/// to `on` for statmgr's sessions; stronger settings (remote_apply...) are kept.
async fn durable_commits(client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    let row = client.query_one("SHOW synchronous_commit", &[]).await?;
    let setting: String = row.get(0);
    if setting.eq_ignore_ascii_case("off") {
        tracing::warn!("the database has synchronous_commit=off; statmgr sets it to on for its own sessions");
        client.batch_execute("SET synchronous_commit = on").await?;
    }
    Ok(())
}

/// Who commits: `batches.processor` records it for every batch. The host name and the
/// state directory, which only one processor can hold at a time (the lock).
pub fn processor_name(root: &std::path::Path) -> String {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    format!("{}:{}", host_name(), root.display())
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_urls_are_postgres() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("PostgreSQL://u@h/db"));
        assert!(!is_postgres_url("/var/lib/statmgr/statmgr.db"));
        assert!(!is_postgres_url("mysql://u@h/db"));
        assert!(!is_postgres_url("host=h user=u"));
    }

    #[test]
    fn a_bad_url_is_refused_without_repeating_the_password() {
        let err = parse_url("sqlite:///x", Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
        let err = parse_url("postgres://u:s3cret@h:notaport/db", Duration::from_secs(1)).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("cannot be parsed"), "{err}");
    }

    #[test]
    fn describe_leaves_out_the_password() {
        let config = parse_url("postgres://app:s3cret@db1:6543/stat", Duration::from_secs(1))
            .unwrap()
            .config;
        let text = describe(&config);
        assert_eq!(text, "postgres://app@db1:6543/stat");
        assert_eq!(config.get_application_name(), Some("statmgr"));
    }

    #[test]
    fn libpq_tls_parameters_reach_the_tls_settings_and_the_rest_the_config() {
        use tokio_postgres::config::SslMode;
        let target = parse_url(
            "postgres://app@db1/stat?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(target.tls.mode, tls::Mode::VerifyFull);
        assert_eq!(target.tls.root_cert, Some(tls::RootCert::File("/ca.pem".into())));
        assert_eq!(target.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(target.config.get_application_name(), Some("x"));
        let plain = parse_url("postgres://app@db1/stat?sslmode=disable", Duration::from_secs(1)).unwrap();
        assert_eq!(plain.config.get_ssl_mode(), SslMode::Disable);
        let default = parse_url("postgres://app@db1/stat", Duration::from_secs(1)).unwrap();
        assert_eq!(default.config.get_ssl_mode(), SslMode::Prefer);
    }
}
