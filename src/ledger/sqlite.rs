//! The SQLite ledger store: one file (WAL mode, 0600) for the processes of one host.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    Access, Entry, KEEP_AFTER_EXP_SECS, LedgerStore, RecordFn, State, TokenId, reused, revoked,
};
use crate::error::{Error, Reason, Result};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

/// How long a process waits for another one holding the ledger's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteLedger {
    conn: Connection,
    path: PathBuf,
    /// The mode of a ledger file others can read, for the warning.
    exposed: Option<u32>,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.path)
            .finish()
    }
}

fn ledger_error(path: &Path, what: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        Reason::LedgerError,
        format!(
            "cannot {what} the ledger {}: {why}; check --ledger / JWTCTL_LEDGER",
            path.display()
        ),
    )
}

/// A SQLite failure in our words. SQLite's own text is never shown: it can echo paths and SQL.
fn sqlite_words(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::*;
    let rusqlite::Error::SqliteFailure(failure, _) = e else {
        return "the database answered unexpectedly".into();
    };
    match failure.code {
        DatabaseBusy | DatabaseLocked => {
            "another process held it locked for over 10 s; try again".into()
        }
        NotADatabase => "it is not a jwtctl ledger (not a SQLite database)".into(),
        DatabaseCorrupt => "it is corrupt; restore it from a backup".into(),
        ReadOnly | PermissionDenied | CannotOpen => {
            "permission denied, or its directory cannot be written".into()
        }
        DiskFull => "no space left on device".into(),
        SystemIoFailure => "an I/O error".into(),
        _ => format!("SQLite error {}", failure.extended_code),
    }
}

/// Schema 3: entries keyed by the SHA-256 of their id (see [`TokenId`]), the id beside it.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS ids (
        key   BLOB PRIMARY KEY,
        id    TEXT NOT NULL,
        state TEXT NOT NULL,
        exp   INTEGER NOT NULL,
        at    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS ids_by_exp ON ids (exp);
    PRAGMA user_version = 3;
";

/// Schema 1 keyed ids by `jti` alone and by the hash of the whole token text. Its entries are
/// kept, marked with [`LEGACY_PREFIX`], and still matched (see [`TokenId`]) until they are pruned.
const MIGRATE_1_TO_2: &str = "
    UPDATE ids SET id = 'v1:' || id WHERE id NOT LIKE 'v1:%';
    PRAGMA user_version = 2;
";

/// Schema 2 keyed entries by the id itself; schema 3 by its hash. The old table is renamed
/// aside, its rows copied with their keys, then dropped, in the set-up transaction.
const MIGRATE_2_TO_3_BEFORE: &str = "
    DROP INDEX IF EXISTS ids_by_exp;
    ALTER TABLE ids RENAME TO ids_v2;
";

/// The schema version this build writes.
const SCHEMA_VERSION: i64 = 3;

/// Copy schema 2's entries into schema 3's table, keyed by the hash of their id.
fn migrate_2_to_3(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute_batch(MIGRATE_2_TO_3_BEFORE)?;
    tx.execute_batch(SCHEMA)?;
    {
        let mut read = tx.prepare("SELECT id, state, exp, at FROM ids_v2")?;
        let mut write =
            tx.prepare("INSERT INTO ids (key, id, state, exp, at) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let state: String = row.get(1)?;
            let (exp, at): (i64, i64) = (row.get(2)?, row.get(3)?);
            write.execute(params![&super::key(&id)[..], id, state, exp, at])?;
        }
    }
    tx.execute_batch("DROP TABLE ids_v2")
}

/// Put a new ledger in WAL mode and create its table, racing other processes doing the same.
/// SQLite answers "busy" at once, without waiting, when two connections that both read the new
/// file want to switch its journal mode; so a busy answer is retried here until BUSY_TIMEOUT.
fn set_up(conn: &mut Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let attempt = conn
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .and_then(|()| {
                // IMMEDIATE takes the write lock before reading, so this waits its turn.
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                // Read the version under the write lock: another process may have set up or
                // migrated the ledger since this one looked.
                let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                if version == 0 {
                    tx.execute_batch(SCHEMA)?;
                }
                if version == 1 {
                    tx.execute_batch(MIGRATE_1_TO_2)?;
                }
                if (1..=2).contains(&version) {
                    migrate_2_to_3(&tx)?;
                }
                tx.commit()
            });
        match attempt {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            done => return done,
        }
    }
}

impl SqliteLedger {
    /// Open the ledger at `path`; with `create` (`ledger init`), create it (mode 0600, WAL
    /// mode) when missing, else refuse a missing one. Its files are checked first (see
    /// [`files`](super::files)). With `durable`, every commit is fsynced (SQLite
    /// `synchronous=FULL`); without it, a commit survives a crash of jwtctl but the last ones
    /// may be lost to a power cut (`NORMAL`).
    pub fn open(path: &Path, durable: bool, access: Access) -> Result<SqliteLedger> {
        let create = access == Access::Create;
        // Created by us, 0600 and never through a link: SQLite gives its side files this mode.
        let (_file, exposed) = super::files::open_checked(path, access)?;
        let mode = match access {
            Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
            Access::Write | Access::Create => OpenFlags::SQLITE_OPEN_READ_WRITE,
        };
        let flags = mode | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|e| ledger_error(path, "open", sqlite_words(&e)))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| ledger_error(path, "open", sqlite_words(&e)))?;
        // One short transaction per process: leave the WAL for the next process instead of
        // checkpointing and deleting it at every exit (5 fsyncs per refresh down to 1).
        // SQLite still checkpoints automatically as the WAL grows.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| ledger_error(path, "open", sqlite_words(&e)))?;
        let sync = if durable { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!("PRAGMA synchronous = {sync}"))
            .map_err(|e| ledger_error(path, "open", sqlite_words(&e)))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| ledger_error(path, "read", sqlite_words(&e)))?;
        if version > SCHEMA_VERSION {
            return Err(ledger_error(
                path,
                "use",
                format!(
                    "it has schema {version}, newer than this jwtctl ({SCHEMA_VERSION}); upgrade jwtctl"
                ),
            ));
        }
        if version == 0 && !create {
            return Err(super::files::not_set_up(path, "is not set up"));
        }
        if version < SCHEMA_VERSION && access == Access::Read {
            // An upgrade is the one write a reader makes (see `Access`).
            drop(conn);
            return Self::open(path, durable, Access::Write).map_err(|_| {
                ledger_error(
                    path,
                    "upgrade",
                    format!(
                        "it has schema {version} and this jwtctl reads {SCHEMA_VERSION}; run \
                         'jwtctl ledger init --ledger {}' as its owner to upgrade it",
                        path.display()
                    ),
                )
            });
        }
        if version < SCHEMA_VERSION {
            set_up(&mut conn).map_err(|e| ledger_error(path, "set up", sqlite_words(&e)))?;
        }
        Ok(SqliteLedger {
            conn,
            path: path.to_path_buf(),
            exposed,
        })
    }
}

impl LedgerStore for SqliteLedger {
    fn exposed(&self) -> Option<String> {
        let mode = self.exposed?;
        Some(format!(
            "the ledger {p} (or a side file of it) can be read by other users (mode {mode:04o}); \
             run chmod 600 {p}*",
            p = self.path.display()
        ))
    }

    /// What the ledger knows of the token `id`, if anything.
    fn state(&mut self, id: &TokenId) -> Result<Option<State>> {
        lookup(&self.conn, id).map_err(|e| ledger_error(&self.path, "read", sqlite_words(&e)))
    }

    /// The write lock is taken before the check (`BEGIN IMMEDIATE`), so of several processes
    /// racing on one token exactly one wins; a failed `record` drops the transaction unfinished,
    /// which rolls it back.
    fn consume(
        &mut self,
        id: &TokenId,
        exp: i64,
        now: i64,
        dry_run: bool,
        record: RecordFn,
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| ledger_error(&path, "lock", sqlite_words(&e)))?;
        match lookup(&tx, id).map_err(|e| ledger_error(&path, "read", sqlite_words(&e)))? {
            Some(State::Revoked) => return Err(revoked()),
            Some(State::Consumed) => return Err(reused()),
            None => {}
        }
        if dry_run {
            return Ok(());
        }
        upsert(&tx, &id.id, State::Consumed, exp, now)
            .map_err(|e| ledger_error(&path, "write", sqlite_words(&e)))?;
        record()?;
        tx.commit()
            .map_err(|e| ledger_error(&path, "write", sqlite_words(&e)))
    }

    /// Mark `id` revoked (whatever it was before); `record` as for [`LedgerStore::consume`].
    fn revoke(&mut self, id: &TokenId, exp: i64, now: i64, record: RecordFn) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| ledger_error(&path, "lock", sqlite_words(&e)))?;
        upsert(&tx, &id.id, State::Revoked, exp, now)
            .map_err(|e| ledger_error(&path, "write", sqlite_words(&e)))?;
        record()?;
        tx.commit()
            .map_err(|e| ledger_error(&path, "write", sqlite_words(&e)))
    }

    fn list(&mut self, state: Option<State>) -> Result<Vec<Entry>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, state, exp, at FROM ids ORDER BY at, id")
            .map_err(|e| ledger_error(&self.path, "read", sqlite_words(&e)))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(|e| ledger_error(&self.path, "read", sqlite_words(&e)))?;
        let mut entries = Vec::new();
        for row in rows {
            let (id, kind, exp, at) =
                row.map_err(|e| ledger_error(&self.path, "read", sqlite_words(&e)))?;
            let Some(kind) = State::parse(&kind) else {
                continue;
            };
            if state.is_none_or(|s| s == kind) {
                entries.push(Entry {
                    id,
                    state: kind.as_str(),
                    exp,
                    at,
                });
            }
        }
        Ok(entries)
    }

    fn prune(&mut self, now: i64) -> Result<u64> {
        let cutoff = now.saturating_sub(KEEP_AFTER_EXP_SECS);
        self.conn
            .execute("DELETE FROM ids WHERE exp < ?1", [cutoff])
            .map(|n| n as u64)
            .map_err(|e| ledger_error(&self.path, "prune", sqlite_words(&e)))
    }
}

/// The state of a token under its id or its migrated schema-1 id, or revoked for every issuer
/// (`revoke --jti` without `--iss`); revoked wins over consumed.
fn lookup(conn: &Connection, id: &TokenId) -> rusqlite::Result<Option<State>> {
    let (own, legacy, any) = id.keys();
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM ids WHERE key IN (?1, ?2) OR (key = ?3 AND state = 'revoked')
             ORDER BY state = 'revoked' DESC LIMIT 1",
            params![&own[..], &legacy[..], &any[..]],
            |r| r.get(0),
        )
        .optional()?;
    // A state this build does not know refuses the token: never taken for "not held".
    Ok(state.map(|s| State::parse(&s).unwrap_or(State::Revoked)))
}

/// Record `id` and prune ids whose tokens expired more than [`KEEP_AFTER_EXP_SECS`] ago. A
/// revocation keeps the later of two `exp`s.
fn upsert(conn: &Connection, id: &str, state: State, exp: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO ids (key, id, state, exp, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, at = excluded.at,
             exp = max(ids.exp, excluded.exp)",
        params![&super::key(id)[..], id, state.as_str(), exp, now],
    )?;
    conn.execute(
        "DELETE FROM ids WHERE exp < ?1",
        [now.saturating_sub(KEEP_AFTER_EXP_SECS)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256_hex;
    use crate::token::Claims;

    const NOW: i64 = 1_800_000_000;

    fn id(jti: &str) -> TokenId {
        let claims: Claims = serde_json::from_value(serde_json::json!({ "jti": jti })).unwrap();
        TokenId::of(&claims, "h.p.s")
    }

    #[test]
    fn consume_once_then_reused_and_revoked_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger =
            SqliteLedger::open(&dir.path().join("l.db"), false, Access::Create).unwrap();
        ledger
            .consume(&id("a"), NOW + 60, NOW, true, &mut || Ok(()))
            .unwrap();
        ledger
            .consume(&id("a"), NOW + 60, NOW, false, &mut || Ok(()))
            .unwrap();
        let again = ledger
            .consume(&id("a"), NOW + 60, NOW, false, &mut || Ok(()))
            .unwrap_err();
        assert_eq!(again.reason(), Reason::Reused);
        ledger
            .revoke(&id("b"), NOW + 60, NOW, &mut || Ok(()))
            .unwrap();
        assert_eq!(ledger.state(&id("b")).unwrap(), Some(State::Revoked));
        assert_eq!(
            ledger
                .consume(&id("b"), NOW + 60, NOW, false, &mut || Ok(()))
                .unwrap_err()
                .reason(),
            Reason::Revoked
        );
    }

    #[test]
    fn ids_are_pruned_a_day_after_exp() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger =
            SqliteLedger::open(&dir.path().join("l.db"), false, Access::Create).unwrap();
        ledger
            .consume(&id("old"), NOW, NOW - 10, false, &mut || Ok(()))
            .unwrap();
        ledger
            .consume(
                &id("new"),
                NOW + KEEP_AFTER_EXP_SECS + 1,
                NOW + KEEP_AFTER_EXP_SECS,
                false,
                &mut || Ok(()),
            )
            .unwrap();
        assert_eq!(ledger.state(&id("old")).unwrap(), Some(State::Consumed));
        ledger
            .consume(
                &id("x"),
                NOW * 2,
                NOW + KEEP_AFTER_EXP_SECS + 1,
                false,
                &mut || Ok(()),
            )
            .unwrap();
        assert_eq!(ledger.state(&id("old")).unwrap(), None);
        assert_eq!(ledger.state(&id("new")).unwrap(), Some(State::Consumed));
    }

    #[test]
    fn the_wal_is_left_for_the_next_process_and_every_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        SqliteLedger::open(&path, true, Access::Create)
            .unwrap()
            .consume(&id("a"), NOW + 60, NOW, false, &mut || Ok(()))
            .unwrap();
        SqliteLedger::open(&path, true, Access::Create)
            .unwrap()
            .consume(&id("b"), NOW + 60, NOW, false, &mut || Ok(()))
            .unwrap();
        for name in ["l.db", "l.db-wal", "l.db-shm"] {
            let meta = std::fs::metadata(dir.path().join(name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        }
        let mut ledger = SqliteLedger::open(&path, true, Access::Create).unwrap();
        assert_eq!(ledger.state(&id("a")).unwrap(), Some(State::Consumed));
    }

    #[test]
    fn a_schema_1_ledger_is_migrated_and_its_entries_still_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE ids (id TEXT PRIMARY KEY, state TEXT NOT NULL, exp INTEGER NOT NULL,
                                   at INTEGER NOT NULL) WITHOUT ROWID;
                 CREATE INDEX ids_by_exp ON ids (exp);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
            let whole = format!("sha256:{}", sha256_hex(b"h.p.s"));
            for (old, state) in [("jti:abc", "revoked"), (whole.as_str(), "consumed")] {
                conn.execute(
                    "INSERT INTO ids VALUES (?1, ?2, ?3, ?4)",
                    params![old, state, NOW + 60, NOW],
                )
                .unwrap();
            }
        }
        let mut ledger = SqliteLedger::open(&path, false, Access::Create).unwrap();
        let claims = |v| -> Claims { serde_json::from_value(v).unwrap() };
        let with_iss = TokenId::of(&claims(serde_json::json!({"iss": "x", "jti": "abc"})), "t");
        assert_eq!(ledger.state(&with_iss).unwrap(), Some(State::Revoked));
        let no_jti = TokenId::of(&claims(serde_json::json!({})), "h.p.s");
        let e = ledger
            .consume(&no_jti, NOW + 60, NOW, false, &mut || Ok(()))
            .unwrap_err();
        assert_eq!(e.reason(), Reason::Reused);
        let version: i64 = ledger
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_state_this_build_does_not_know_refuses_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger =
            SqliteLedger::open(&dir.path().join("l.db"), false, Access::Create).unwrap();
        ledger
            .conn
            .execute(
                "INSERT INTO ids VALUES (?1, 'jti:a', 'bogus', ?2, ?2)",
                params![&crate::ledger::key("jti:a")[..], NOW + 60],
            )
            .unwrap();
        assert_eq!(ledger.state(&id("a")).unwrap(), Some(State::Revoked));
    }

    #[test]
    fn prune_forgets_ids_a_day_past_their_exp() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger =
            SqliteLedger::open(&dir.path().join("l.db"), false, Access::Create).unwrap();
        ledger
            .revoke(&id("old"), NOW, NOW - 10, &mut || Ok(()))
            .unwrap();
        ledger
            .revoke(&id("new"), NOW + 10, NOW - 10, &mut || Ok(()))
            .unwrap();
        assert_eq!(ledger.prune(NOW + KEEP_AFTER_EXP_SECS + 5).unwrap(), 1);
        assert_eq!(ledger.state(&id("old")).unwrap(), None);
        assert_eq!(ledger.state(&id("new")).unwrap(), Some(State::Revoked));
    }
}
