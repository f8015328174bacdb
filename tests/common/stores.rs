//! The ledger stores the ledger tests run against: SQLite always, PostgreSQL when the server
//! `scripts/pg-test-server.sh` starts is configured (`JWTCTL_TEST_POSTGRES`, an administrator
//! URL). With `JWTCTL_POSTGRES_REQUIRED=1` (as `.ci/run` sets) a missing server fails the tests
//! instead of skipping PostgreSQL.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};

/// One store, with a ledger of its own for one test.
pub enum Store {
    Sqlite,
    Postgres(PgDb),
}

impl Store {
    /// What `--ledger` / `JWTCTL_LEDGER` takes: a file in the test's dir, or a database URL.
    pub fn location(&self) -> &str {
        match self {
            Store::Sqlite => "ledger.db",
            Store::Postgres(db) => &db.url,
        }
    }

    /// Create the ledger (`jwtctl ledger init`, the one command that creates one) in `env`'s
    /// dir; its location.
    pub fn init(&self, env: &crate::common::Env) -> &str {
        init(env, self.location());
        self.location()
    }

    pub fn name(&self) -> &'static str {
        match self {
            Store::Sqlite => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }
}

/// `jwtctl ledger init` for the ledger at `location`, run in `env`'s dir; it must succeed.
pub fn init(env: &crate::common::Env, location: &str) {
    let out = env
        .jwtctl()
        .env("JWTCTL_LEDGER", location)
        .args(["ledger", "init"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
}

/// Every store configured here, each with a fresh ledger.
pub fn stores() -> Vec<Store> {
    let mut stores = vec![Store::Sqlite];
    stores.extend(postgres().map(Store::Postgres));
    stores
}

/// A fresh PostgreSQL database, or None (with a note on stderr) when no server is configured.
pub fn postgres() -> Option<PgDb> {
    match std::env::var("JWTCTL_TEST_POSTGRES") {
        Ok(admin) if !admin.is_empty() => Some(PgDb::create(&admin)),
        _ => {
            assert!(
                std::env::var("JWTCTL_POSTGRES_REQUIRED").as_deref() != Ok("1"),
                "JWTCTL_POSTGRES_REQUIRED=1 but JWTCTL_TEST_POSTGRES is unset: start \
                 scripts/pg-test-server.sh"
            );
            eprintln!("skipping the PostgreSQL ledger: JWTCTL_TEST_POSTGRES is unset");
            None
        }
    }
}

/// A database created for one test and dropped after it.
pub struct PgDb {
    admin: String,
    pub name: String,
    pub url: String,
}

impl PgDb {
    fn create(admin: &str) -> PgDb {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "jwtctl_t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = postgres::Client::connect(admin, postgres::NoTls).unwrap();
        // One statement each: a multi-statement string runs as one transaction, which
        // CREATE DATABASE refuses.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client.batch_execute(&sql).unwrap();
        }
        // The administrator URL with the new database's name in place of its own.
        let (base, query) = admin.split_once('?').unwrap_or((admin, ""));
        let (server, _) = base.rsplit_once('/').unwrap();
        let url = format!("{server}/{name}?{query}");
        PgDb {
            admin: admin.to_string(),
            name,
            url,
        }
    }

    /// `jwtctl ledger init` on this database (as the administrator).
    pub fn init(&self, env: &crate::common::Env) {
        init(env, &self.url);
    }

    /// Run SQL in the test's database as the administrator.
    pub fn sql(&self, sql: &str) -> Vec<postgres::SimpleQueryMessage> {
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        client.simple_query(sql).unwrap()
    }

    /// How many rows a query returns.
    pub fn count(&self, sql: &str) -> usize {
        self.sql(sql)
            .iter()
            .filter(|m| matches!(m, postgres::SimpleQueryMessage::Row(_)))
            .count()
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
