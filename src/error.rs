//! The library's error type: each variant says what failed, where, and what to do.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    Unsafe(String),
    #[error("database {path}: {message}")]
    Database { path: String, message: String },
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub fn io(what: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}
