//! The ledger: a SQLite file of consumed and revoked token ids, for single use and revocation.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use crate::audit::token_sha256;
use crate::error::{Error, Reason, Result};
use crate::token::Claims;

/// Ids are kept this long after their token's `exp`; no grace or leeway may reach past it.
pub const KEEP_AFTER_EXP_SECS: i64 = 24 * 3600;

/// How long a process waits for another one holding the ledger's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the ledger knows of a token id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Consumed,
    Revoked,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Consumed => "consumed",
            State::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Option<State> {
        match s {
            "consumed" => Some(State::Consumed),
            "revoked" => Some(State::Revoked),
            _ => None,
        }
    }
}

/// A token's ledger id: its `jti` when it has a string one, else the SHA-256 of its text.
pub fn token_id(claims: &Claims, token_text: &str) -> String {
    match claims.get("jti") {
        Some(Value::String(jti)) => format!("jti:{jti}"),
        _ => format!("sha256:{}", token_sha256(token_text)),
    }
}

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

fn ledger_error(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        Reason::LedgerError,
        format!(
            "cannot {what} the ledger {}: {e}; check --ledger / JWTCTL_LEDGER",
            path.display()
        ),
    )
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS ids (
        id    TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        exp   INTEGER NOT NULL,
        at    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS ids_by_exp ON ids (exp);
    PRAGMA user_version = 1;
";

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
                tx.execute_batch(SCHEMA)?;
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

impl Ledger {
    /// Open the ledger at `path`, creating it (mode 0600, WAL mode) when missing. With
    /// `durable`, every commit is fsynced (SQLite `synchronous=FULL`); without it, a commit
    /// survives a crash of jwtctl but the last ones may be lost to a power cut (`NORMAL`).
    pub fn open(path: &Path, durable: bool) -> Result<Ledger> {
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(ledger_error(path, "open", "it is a symbolic link"));
        }
        // Create the file ourselves so it is 0600 and never follows a link.
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| ledger_error(path, "open", crate::keys::io_words(&e)))?;
        let mut conn = Connection::open(path).map_err(|e| ledger_error(path, "open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| ledger_error(path, "open", e))?;
        // One short transaction per process: leave the WAL for the next process instead of
        // checkpointing and deleting it at every exit (5 fsyncs per refresh down to 1).
        // SQLite still checkpoints automatically as the WAL grows.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| ledger_error(path, "open", e))?;
        let sync = if durable { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!("PRAGMA synchronous = {sync}"))
            .map_err(|e| ledger_error(path, "open", e))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| ledger_error(path, "read", e))?;
        if version == 0 {
            set_up(&mut conn).map_err(|e| ledger_error(path, "set up", e))?;
        }
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// What the ledger knows of `id`, if anything.
    pub fn state(&self, id: &str) -> Result<Option<State>> {
        lookup(&self.conn, id).map_err(|e| ledger_error(&self.path, "read", e))
    }

    /// Mark `id` consumed, unless it already is (`reused`) or is revoked (`revoked`). The write
    /// lock is taken before the check, so of several processes racing on one token exactly one
    /// wins. With `dry_run`, everything is checked and nothing is kept.
    pub fn consume(&mut self, id: &str, exp: i64, now: i64, dry_run: bool) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| ledger_error(&path, "lock", e))?;
        match lookup(&tx, id).map_err(|e| ledger_error(&path, "read", e))? {
            Some(State::Revoked) => return Err(revoked()),
            Some(State::Consumed) => {
                return Err(Error::rejected(
                    Reason::Reused,
                    "this token was already refreshed once; reuse is the mark of a stolen \
                     token, so sign in again",
                ));
            }
            None => {}
        }
        if dry_run {
            return Ok(());
        }
        upsert(&tx, id, State::Consumed, exp, now).map_err(|e| ledger_error(&path, "write", e))?;
        tx.commit().map_err(|e| ledger_error(&path, "write", e))
    }

    /// Mark `id` revoked (whatever it was before).
    pub fn revoke(&mut self, id: &str, exp: i64, now: i64) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| ledger_error(&path, "lock", e))?;
        upsert(&tx, id, State::Revoked, exp, now).map_err(|e| ledger_error(&path, "write", e))?;
        tx.commit().map_err(|e| ledger_error(&path, "write", e))
    }
}

/// The rejection for a revoked token.
pub fn revoked() -> Error {
    Error::rejected(Reason::Revoked, "this token has been revoked")
}

fn lookup(conn: &Connection, id: &str) -> rusqlite::Result<Option<State>> {
    let state: Option<String> = conn
        .query_row("SELECT state FROM ids WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    Ok(state.as_deref().and_then(State::parse))
}

/// Record `id` and prune ids whose tokens expired more than [`KEEP_AFTER_EXP_SECS`] ago.
fn upsert(conn: &Connection, id: &str, state: State, exp: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO ids (id, state, exp, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, at = excluded.at",
        params![id, state.as_str(), exp, now],
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

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn consume_once_then_reused_and_revoked_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.db"), false).unwrap();
        ledger.consume("jti:a", NOW + 60, NOW, true).unwrap();
        ledger.consume("jti:a", NOW + 60, NOW, false).unwrap();
        let again = ledger.consume("jti:a", NOW + 60, NOW, false).unwrap_err();
        assert_eq!(again.reason(), Reason::Reused);
        ledger.revoke("jti:b", NOW + 60, NOW).unwrap();
        assert_eq!(ledger.state("jti:b").unwrap(), Some(State::Revoked));
        assert_eq!(
            ledger
                .consume("jti:b", NOW + 60, NOW, false)
                .unwrap_err()
                .reason(),
            Reason::Revoked
        );
    }

    #[test]
    fn ids_are_pruned_a_day_after_exp() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("l.db"), false).unwrap();
        ledger.consume("jti:old", NOW, NOW - 10, false).unwrap();
        ledger
            .consume(
                "jti:new",
                NOW + KEEP_AFTER_EXP_SECS + 1,
                NOW + KEEP_AFTER_EXP_SECS,
                false,
            )
            .unwrap();
        assert_eq!(ledger.state("jti:old").unwrap(), Some(State::Consumed));
        ledger
            .consume("jti:x", NOW * 2, NOW + KEEP_AFTER_EXP_SECS + 1, false)
            .unwrap();
        assert_eq!(ledger.state("jti:old").unwrap(), None);
        assert_eq!(ledger.state("jti:new").unwrap(), Some(State::Consumed));
    }

    #[test]
    fn the_wal_is_left_for_the_next_process_and_every_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        Ledger::open(&path, true)
            .unwrap()
            .consume("jti:a", NOW + 60, NOW, false)
            .unwrap();
        Ledger::open(&path, true)
            .unwrap()
            .consume("jti:b", NOW + 60, NOW, false)
            .unwrap();
        for name in ["l.db", "l.db-wal", "l.db-shm"] {
            let meta = std::fs::metadata(dir.path().join(name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        }
        let ledger = Ledger::open(&path, true).unwrap();
        assert_eq!(ledger.state("jti:a").unwrap(), Some(State::Consumed));
    }

    #[test]
    fn ids_prefer_the_jti_and_fall_back_to_the_hash() {
        let with: Claims = serde_json::from_str(r#"{"jti":"abc"}"#).unwrap();
        assert_eq!(token_id(&with, "t"), "jti:abc");
        let without: Claims = serde_json::from_str(r#"{"jti":5}"#).unwrap();
        assert!(token_id(&without, "t").starts_with("sha256:"));
    }
}
