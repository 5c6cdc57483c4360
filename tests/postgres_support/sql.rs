//! A small synchronous SQL client for the tests' checks, and the checks every
//! PostgreSQL test ends with.

/// A synchronous SQL session for checks (its own small runtime).
pub struct Sql {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Sql {
    pub fn connect(url: &str) -> Sql {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect to the test PostgreSQL");
            tokio::spawn(connection);
            client
        });
        Sql { runtime, client }
    }

    pub fn execute(&self, sql: &str) {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs `sql`, giving back the error text instead of panicking.
    pub fn try_execute(&self, sql: &str) -> Result<(), String> {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| format!("{e:?}"))
    }

    pub fn i64(&self, sql: &str) -> i64 {
        self.runtime
            .block_on(self.client.query_one(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    pub fn strings(&self, sql: &str) -> Vec<String> {
        self.runtime
            .block_on(self.client.query(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    pub fn i64s(&self, sql: &str) -> Vec<i64> {
        self.runtime
            .block_on(self.client.query(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

/// The invariants every PostgreSQL test ends with: no uid twice, the sequence above every
/// record id, no orphan child rows.
pub fn check_database(sql: &Sql) {
    let duplicates =
        sql.i64("SELECT count(*) FROM (SELECT uid FROM status_messages GROUP BY uid HAVING count(*) > 1) d");
    assert_eq!(duplicates, 0, "a uid is stored twice");
    let max = sql.i64("SELECT COALESCE(max(record_id), 0) FROM status_messages");
    let next = sql.i64(
        "SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement ELSE s.last_value END
         FROM statmgr_record_ids s, pg_sequence p WHERE p.seqrelid = 'statmgr_record_ids'::regclass",
    );
    assert!(
        next > max,
        "the sequence ({next}) must be above MAX(record_id) {max}"
    );
    let orphans = sql.i64(
        "SELECT count(*) FROM status_message_insstrs i
         WHERE NOT EXISTS (SELECT 1 FROM status_messages m WHERE m.record_id = i.record_id)",
    );
    assert_eq!(orphans, 0, "insertion strings without a message");
}
