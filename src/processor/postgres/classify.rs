//! Turns PostgreSQL failures (SQLSTATEs, lost connections, pool timeouts) into the retry
//! decision the committer needs, in operator words.

use tokio_postgres::error::{DbError, SqlState};

use crate::processor::store::StoreError;

/// The primary keys statmgr's allocator fills; a conflict on any other key is not fixed
/// by a resync.
const KEYED_CONSTRAINTS: [&str; 3] = [
    "status_messages_pkey",
    "status_message_insstrs_pkey",
    "status_message_attributes_pkey",
];

/// How a failed PostgreSQL call should be handled. No answer from the server (the
/// connection was lost or refused) -> `Transient`.
pub fn classify(err: &tokio_postgres::Error) -> StoreError {
    match err.as_db_error() {
        Some(db) => classify_db(db),
        None if err.is_closed() => StoreError::Transient(format!(
            "the connection to PostgreSQL was lost ({err}); the batch is tried again once it is back"
        )),
        None => {
            let text = full_text(err);
            let hint = super::tls::hint(&text).map_or(String::new(), |hint| format!("; {hint}"));
            StoreError::Transient(format!("cannot talk to PostgreSQL: {text}{hint}"))
        }
    }
}

fn classify_db(db: &DbError) -> StoreError {
    let mut detail = db.message().to_string();
    if let Some(more) = db.detail() {
        detail = format!("{detail}: {more}");
    }
    classify_state(db.code(), db.constraint(), &detail)
}

/// The decision for one SQLSTATE. Data and constraint errors depend on the messages
/// (bisect them); everything else is about the server, the network or the schema, which
/// no message causes and an operator or time fixes (wait in `retry/`).
pub fn classify_state(code: &SqlState, constraint: Option<&str>, detail: &str) -> StoreError {
    let sqlstate = code.code();
    let class = &sqlstate[..2.min(sqlstate.len())];
    if *code == SqlState::UNIQUE_VIOLATION {
        return unique_violation(constraint, detail);
    }
    let transient = |why: &str| StoreError::Transient(format!("{why} ({detail}; SQLSTATE {sqlstate})"));
    let permanent = |why: &str| StoreError::Permanent(format!("{why} ({detail}; SQLSTATE {sqlstate})"));
    match class {
        "08" => transient("the connection to PostgreSQL failed"),
        "40" => {
            transient("the transaction was rolled back by PostgreSQL (serialization failure or deadlock)")
        }
        "53" if *code == SqlState::DISK_FULL => transient("the PostgreSQL server's disk is full"),
        "53" => transient("the PostgreSQL server is out of resources (memory, connections)"),
        "57" if *code == SqlState::QUERY_CANCELED => transient("the statement was cancelled or timed out"),
        "57" => transient("the PostgreSQL server is shutting down, restarting or not yet accepting work"),
        "58" | "XX" => transient("the PostgreSQL server hit a system or internal error"),
        "55" => transient("an object is locked or not in the required state"),
        "25" => transient("the database does not accept writes now (read-only or a standby)"),
        "28" if detail.contains("certificate") => transient(
            "PostgreSQL refused the login: it demands a valid client certificate; give it with \
             sslcert=PATH&sslkey=PATH in --database (its common name must be the user)",
        ),
        "28" => transient("PostgreSQL refused the login; fix the user or password in --database"),
        "3D" => transient("the database named in --database does not exist"),
        "42" if *code == SqlState::INSUFFICIENT_PRIVILEGE => {
            transient("the database user lacks a privilege statmgr needs; grant it")
        }
        "42" => {
            transient("the statmgr schema in PostgreSQL is missing or altered; an operator must restore it")
        }
        "23" => permanent("the database refused a value"),
        "22" => permanent("a value is not valid for the database"),
        "27" | "P0" | "2F" | "38" | "39" | "09" => permanent("rejected by a database trigger or function"),
        _ => transient("PostgreSQL refused the operation"),
    }
}

fn unique_violation(constraint: Option<&str>, detail: &str) -> StoreError {
    match constraint {
        Some(name) if KEYED_CONSTRAINTS.contains(&name) => {
            StoreError::KeyConflict(format!("record id already used ({detail})"))
        }
        Some(name) => StoreError::Permanent(format!(
            "unique constraint {name}, whose keys statmgr does not allocate, refused a value ({detail})"
        )),
        None => StoreError::Permanent(format!("a unique constraint refused a value ({detail})")),
    }
}

/// The error with its causes (tokio-postgres puts the I/O reason in the source).
pub(super) fn full_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(err: StoreError) -> &'static str {
        match err {
            StoreError::KeyConflict(_) => "conflict",
            StoreError::Transient(_) => "transient",
            StoreError::Permanent(_) => "permanent",
        }
    }

    #[test]
    fn server_and_network_trouble_is_transient() {
        for code in [
            SqlState::CONNECTION_FAILURE,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::DISK_FULL,
            SqlState::OUT_OF_MEMORY,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::UNDEFINED_TABLE,
            SqlState::INVALID_PASSWORD,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::QUERY_CANCELED,
            SqlState::IO_ERROR,
        ] {
            assert_eq!(kind(classify_state(&code, None, "x")), "transient", "{code:?}");
        }
    }

    #[test]
    fn data_and_constraint_errors_are_permanent() {
        for code in [
            SqlState::CHARACTER_NOT_IN_REPERTOIRE,
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            SqlState::NOT_NULL_VIOLATION,
            SqlState::CHECK_VIOLATION,
            SqlState::FOREIGN_KEY_VIOLATION,
            SqlState::RAISE_EXCEPTION,
        ] {
            assert_eq!(kind(classify_state(&code, None, "x")), "permanent", "{code:?}");
        }
    }

    #[test]
    fn a_used_record_id_is_a_key_conflict_and_other_unique_keys_are_not() {
        let unique = SqlState::UNIQUE_VIOLATION;
        for name in KEYED_CONSTRAINTS {
            assert_eq!(kind(classify_state(&unique, Some(name), "x")), "conflict");
        }
        let other = classify_state(&unique, Some("audit_pkey"), "Key (id)=(1) already exists.");
        assert_eq!(kind(other.clone()), "permanent");
        assert!(other.to_string().contains("audit_pkey"), "{other}");
    }

    #[test]
    fn the_reason_names_the_sqlstate() {
        let err = classify_state(&SqlState::DISK_FULL, None, "could not extend file");
        assert!(err.to_string().contains("53100"), "{err}");
        assert!(err.to_string().contains("disk is full"), "{err}");
    }
}
