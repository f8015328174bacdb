//! The ledger stores the ledger tests run against: SQLite always, PostgreSQL on the server
//! `scripts/pg-test-server.sh` starts (`JWTCTL_TEST_POSTGRES`, an administrator URL; see
//! `needs::postgres`). `store_tests!` makes one test per store from a function taking a [`Store`].
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

/// For each `fn NAME(store: Store)` named, a module `NAME` of one test per store: `NAME::sqlite`,
/// which every `cargo test` runs, and `NAME::postgres`, ignored unless asked (`needs::postgres`).
macro_rules! store_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use $crate::common::stores::Store;

            #[test]
            fn sqlite() {
                super::$name(Store::Sqlite);
            }

            #[test]
            #[ignore = "needs PostgreSQL; to run it: apt-get install postgresql, eval \"$(scripts/pg-test-server.sh DIR)\", cargo test -- --include-ignored"]
            fn postgres() {
                if let Some(db) = $crate::common::needs::postgres() {
                    super::$name(Store::Postgres(db));
                }
            }
        }
    )+};
}
pub(crate) use store_tests;

/// A database created for one test and dropped after it.
pub struct PgDb {
    admin: String,
    pub name: String,
    pub url: String,
}

impl PgDb {
    /// A fresh database on the server `admin` (a URL) administers.
    pub fn create(admin: &str) -> PgDb {
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
