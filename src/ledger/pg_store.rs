//! The PostgreSQL store: the schema, and each ledger operation as exchanges with the server
//! (see `pg` for the URL, TLS and messages, `pg_conn` for the deadlines).
//!
//! Invariant: every decision is one statement inside one transaction, on a primary key: of any
//! number of processes on any number of hosts refreshing one token, the database lets exactly
//! one insert its key; the others wait on that row and then see it (`reused`).

use std::fmt;
use std::time::Duration;

use postgres::types::Type;

use super::pg::{
    Target, io_failure_words, ledger_error, missing_table, password_missing, pg_words, sqlstate,
};
use super::pg_conn::{Client, Conn, Failed, MAX_LIST_ANSWER};
use super::{Entry, KEEP_AFTER_EXP_SECS, LedgerStore, RecordFn, State, TokenId, reused, revoked};
use crate::error::{Error, Reason, Result};

/// The prune cutoff, conservative across clocks: ids go a day after `exp` by both the server's
/// clock and this host's (`$1`), so one host with a fast clock cannot delete the entry of a
/// token other hosts still accept, and a refresh of it would succeed twice.
const CUTOFF: &str = "LEAST(extract(epoch FROM now())::bigint, $1) - 86400";
const _: () = assert!(KEEP_AFTER_EXP_SECS == 86400, "CUTOFF spells the day out");

/// The schema version this build writes.
const SCHEMA_VERSION: i32 = 2;

/// The advisory lock every schema change takes, so hosts starting together do not collide.
const SCHEMA_LOCK: &str = "SELECT pg_advisory_xact_lock(7302858315260497)";

/// Schema 2: entries keyed by the SHA-256 of their id (see [`TokenId`]), the id beside it (an
/// id too long for a btree entry, SQLSTATE 54000, is then stored and found all the same).
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS jwtctl_schema (version integer NOT NULL);
    CREATE TABLE IF NOT EXISTS jwtctl_ids (
        key   bytea PRIMARY KEY,
        id    text NOT NULL,
        state text NOT NULL CHECK (state IN ('consumed', 'revoked')),
        exp   bigint NOT NULL,
        at    bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS jwtctl_ids_by_exp ON jwtctl_ids (exp);
    INSERT INTO jwtctl_schema (version)
        SELECT 2 WHERE NOT EXISTS (SELECT 1 FROM jwtctl_schema);
";

/// Schema 1 keyed entries by the id itself: add the key, fill it, make it the primary key.
const MIGRATE_1_TO_2: &str = "
    ALTER TABLE jwtctl_ids ADD COLUMN key bytea;
    UPDATE jwtctl_ids SET key = sha256(convert_to(id, 'UTF8'));
    ALTER TABLE jwtctl_ids DROP CONSTRAINT jwtctl_ids_pkey;
    ALTER TABLE jwtctl_ids ALTER COLUMN key SET NOT NULL;
    ALTER TABLE jwtctl_ids ADD PRIMARY KEY (key);
    UPDATE jwtctl_schema SET version = 2;
";

/// The PostgreSQL store.
pub struct PgLedger {
    conn: Conn,
    shown: String,
    /// Whether this connection has checked the schema version (and created a missing schema).
    checked: bool,
    /// `ledger init`: create the tables when missing; otherwise missing tables are an error.
    create: bool,
}

impl fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLedger")
            .field("url", &self.shown)
            .finish()
    }
}

/// What the deciding statement of a refresh found.
enum Found {
    Inserted,
    Newer(i32),
    Held(Option<State>),
}

impl PgLedger {
    /// Connect; with `create` (`ledger init`), create the schema when missing.
    pub fn open(url: &str, create: bool) -> Result<PgLedger> {
        let target = Target::parse(url)?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(super::pg::tls_config(&target)?);
        let conn = connect(&target, &tls)?;
        // The schema is checked by the first operation: `consume` (every refresh) reads its
        // version in the statement that decides, saving a round trip; the others check first.
        Ok(PgLedger {
            conn,
            shown: target.shown,
            checked: false,
            create,
        })
    }

    /// Check the schema (creating it when missing) unless this connection already has.
    fn ensure_schema(&mut self) -> Result<()> {
        if !self.checked {
            self.check_schema()?;
            self.checked = true;
        }
        Ok(())
    }

    fn newer_schema(&self, version: i32) -> Error {
        ledger_error(
            &self.shown,
            "use",
            &format!(
                "it has schema {version}, newer than this jwtctl ({SCHEMA_VERSION}); upgrade jwtctl"
            ),
        )
    }

    /// Missing tables: only `ledger init` creates them (see [`super::open`]).
    fn not_set_up(&self) -> Error {
        Error::new(
            Reason::LedgerError,
            format!(
                "the ledger {} is not set up (its tables do not exist); create them with jwtctl \
                 ledger init and the same --ledger / JWTCTL_LEDGER, or check it for a typo",
                self.shown
            ),
        )
    }

    fn error(&self, what: &str, failed: &Failed) -> Error {
        failure(&self.shown, what, failed)
    }

    /// Refuse a schema newer than this build; with `create`, create a missing one; migrate an
    /// older one.
    fn check_schema(&mut self) -> Result<()> {
        // A simple query: one round trip, where a prepared one takes two.
        let answer = self.conn.call(|c| {
            let messages = match c.simple_query("SELECT max(version) FROM jwtctl_schema") {
                Ok(messages) => messages,
                Err(e) if missing_table(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(messages.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => {
                    row.get(0).and_then(|v| v.parse::<i32>().ok())
                }
                _ => None,
            }))
        });
        let version = answer.map_err(|f| self.error("read", &f))?;
        match version {
            Some(v) if v > SCHEMA_VERSION => Err(self.newer_schema(v)),
            Some(SCHEMA_VERSION) => Ok(()),
            None if !self.create => Err(self.not_set_up()),
            _ => self.conn.call(set_up).map_err(|f| self.error("set up", &f)),
        }
    }

    /// Consume `id` in one transaction: one statement inserts its key unless a revocation of
    /// its jti for every issuer bars it (exactly one of any number of racing sessions succeeds;
    /// the others wait on the row, then do nothing), prunes a few expired ids (skipping rows
    /// another session holds, so no refresh waits on another's housekeeping) and reads the
    /// schema version, which saves a round trip per refresh. `record` runs before `COMMIT`.
    fn decide(&mut self, id: &TokenId, exp: i64, now: i64, record: RecordFn) -> Result<()> {
        let (own, _, any) = id.keys();
        let (text, lookup_id) = (id.id.clone(), id.clone());
        let found = self.conn.call(move |c| {
            in_transaction(c, |c| {
                let row = c.query_typed_one(
                    &format!(
                        "WITH barred AS (
                             SELECT 1 FROM jwtctl_ids WHERE key = $5 AND state = 'revoked'
                         ), ins AS (
                             INSERT INTO jwtctl_ids (key, id, state, exp, at)
                             SELECT $2, $4, 'consumed', $3, $1
                             WHERE NOT EXISTS (SELECT 1 FROM barred)
                             ON CONFLICT (key) DO NOTHING RETURNING 1
                         ), pruned AS (
                             DELETE FROM jwtctl_ids WHERE key IN (
                                 SELECT key FROM jwtctl_ids WHERE exp < {CUTOFF}
                                 LIMIT 100 FOR UPDATE SKIP LOCKED)
                         )
                         SELECT (SELECT count(*) FROM ins),
                                (SELECT max(version) FROM jwtctl_schema)"
                    ),
                    &[
                        (&now, Type::INT8),
                        (&&own[..], Type::BYTEA),
                        (&exp, Type::INT8),
                        (&text, Type::TEXT),
                        (&&any[..], Type::BYTEA),
                    ],
                )?;
                // A newer schema: roll back and refuse.
                if let Ok(Some(version)) = row.try_get::<_, Option<i32>>(1)
                    && version > SCHEMA_VERSION
                {
                    return Ok(Found::Newer(version));
                }
                // An answer that cannot be read counts as "not inserted": refused, never
                // refreshed twice.
                if row.try_get::<_, i64>(0).unwrap_or(0) == 1 {
                    return Ok(Found::Inserted);
                }
                // Someone holds the key: read what, as committed now (a fresh snapshot).
                Ok(Found::Held(lookup(c, &lookup_id)?))
            })
        });
        match found {
            Ok(Found::Inserted) => {}
            Ok(Found::Newer(version)) => return Err(self.newer_schema(version)),
            Ok(Found::Held(Some(State::Revoked))) => return Err(revoked()),
            Ok(Found::Held(_)) => return Err(reused()),
            Err(Failed::Pg(e)) if missing_table(&e) => return Err(self.not_set_up()),
            Err(Failed::Pg(e)) if sqlstate(&e) == Some("42703") && !self.checked => {
                // No `key` column: an older schema, migrated once, then decided again.
                self.ensure_schema()?;
                return self.decide(id, exp, now, record);
            }
            Err(f) => return Err(self.error("write", &f)),
        }
        self.finish(record)
    }

    /// Write the record inside the open transaction, then commit; a failed record rolls back.
    fn finish(&mut self, record: RecordFn) -> Result<()> {
        if let Err(e) = record() {
            let _ = self.conn.call(|c| c.batch_execute("ROLLBACK"));
            return Err(e);
        }
        self.conn
            .call(|c| c.batch_execute("COMMIT"))
            .map_err(|f| self.error("write", &f))
    }
}

/// Run `work` after `BEGIN`; on an error or a refusal, `ROLLBACK`. On success the transaction
/// is left open for the record and the `COMMIT` ([`PgLedger::finish`]).
fn in_transaction<T>(
    c: &mut Client,
    work: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error>,
) -> std::result::Result<T, postgres::Error>
where
    T: Committable,
{
    c.batch_execute("BEGIN")?;
    let done = work(c);
    if !done.as_ref().is_ok_and(Committable::commits) {
        let _ = c.batch_execute("ROLLBACK");
    }
    done
}

/// Whether a transaction's outcome is to be committed.
trait Committable {
    fn commits(&self) -> bool;
}

impl Committable for Found {
    fn commits(&self) -> bool {
        matches!(self, Found::Inserted)
    }
}

impl Committable for () {
    fn commits(&self) -> bool {
        true
    }
}

/// Create the schema, or migrate an older one, under the advisory lock; the version is read
/// again under the lock, since another host may have done it meanwhile.
fn set_up(c: &mut Client) -> std::result::Result<(), postgres::Error> {
    in_transaction(c, |tx| {
        tx.batch_execute(SCHEMA_LOCK)?;
        let exists = tx
            .query_typed_one("SELECT to_regclass('jwtctl_schema') IS NOT NULL", &[])?
            .try_get::<_, bool>(0)
            .unwrap_or(false);
        let version = if exists {
            tx.query_typed_one("SELECT max(version) FROM jwtctl_schema", &[])?
                .try_get::<_, Option<i32>>(0)
                .ok()
                .flatten()
        } else {
            None
        };
        match version {
            None => tx.batch_execute(SCHEMA),
            Some(1) => tx.batch_execute(MIGRATE_1_TO_2),
            Some(_) => Ok(()),
        }
    })?;
    c.batch_execute("COMMIT")
}

/// The state of `id` as committed now: its own entry, or a revocation of its jti for every
/// issuer; revoked wins.
fn lookup(
    client: &mut Client,
    id: &TokenId,
) -> std::result::Result<Option<State>, postgres::Error> {
    let (own, _, any) = id.keys();
    let row = client.query_typed_opt(
        "SELECT state FROM jwtctl_ids WHERE key = $1 OR (key = $2 AND state = 'revoked')
         ORDER BY state = 'revoked' DESC LIMIT 1",
        &[(&&own[..], Type::BYTEA), (&&any[..], Type::BYTEA)],
    )?;
    // `try_get`, never `get` (which panics): a database's answer is input like any other. An
    // answer of the wrong type is an error, and a state this build does not know refuses the
    // token: a row that is there is never taken for "not held".
    let Some(row) = row else { return Ok(None) };
    let state: &str = row.try_get(0)?;
    Ok(Some(State::parse(state).unwrap_or(State::Revoked)))
}

/// Connect to the first host of the list that answers, as libpq does: each host has its own
/// `connect_timeout`, and one that is refused, stalls, answers garbage or fails TLS is skipped
/// for the next. A server's own refusal (the password, the database) ends the search: the
/// hosts of a list are one database, and libpq does not try the rest after it either.
fn connect(target: &Target, tls: &tokio_postgres_rustls::MakeRustlsConnect) -> Result<Conn> {
    let hosts = target.per_host();
    let mut failures = Vec::new();
    for (label, config) in hosts.iter().cloned() {
        let timeout = target.connect_timeout();
        match Conn::open(config, tls.clone(), timeout, target.answer_timeout()) {
            Ok(conn) => return Ok(conn),
            Err(Failed::Pg(e)) if password_missing(&e) => {
                return Err(ledger_error(
                    &target.shown,
                    "log in to",
                    &format!("the server asks for a password and {}", target.no_password),
                ));
            }
            Err(Failed::Pg(e)) if e.as_db_error().is_some() => {
                return Err(ledger_error(&target.shown, "reach", &pg_words(&e)));
            }
            Err(failed) => failures.push((label, failed)),
        }
    }
    let why = match &failures[..] {
        [(_, failed)] => connect_words(failed),
        _ => {
            let each: Vec<String> = failures
                .iter()
                .map(|(label, failed)| {
                    let words = connect_words(failed);
                    let brief = words.split(';').next().unwrap_or(&words).to_string();
                    format!("{label}: {brief}")
                })
                .collect();
            format!(
                "no host of the list connected ({}); check that PostgreSQL runs on them and \
                 that the hosts, ports and firewall are right (connect_timeout is per host)",
                each.join("; ")
            )
        }
    };
    Err(ledger_error(&target.shown, "reach", &why))
}

/// Why one host did not connect.
fn connect_words(failed: &Failed) -> String {
    match failed {
        Failed::Pg(e) => pg_words(e),
        Failed::TimedOut(limit) => format!(
            "no answer in {}s; check the host, port and firewall (connect_timeout)",
            limit.as_secs()
        ),
        Failed::TooLarge(limit) => format!(
            "the server sent an answer over {} MiB; it is not behaving like PostgreSQL (check \
             that the URL reaches PostgreSQL itself, and use sslmode=verify-full)",
            limit >> 20
        ),
        Failed::WrongSession => "it is not the kind of server target_session_attrs asks for \
                                 (read-write or read-only)"
            .into(),
        Failed::Io(e) => io_failure_words(e),
    }
}

/// A failed exchange in jwtctl's words.
fn failure(shown: &str, what: &str, failed: &Failed) -> Error {
    match failed {
        Failed::Pg(e) => ledger_error(shown, what, &pg_words(e)),
        Failed::TimedOut(limit) => ledger_error(
            shown,
            what,
            &format!(
                "the server did not answer within {}s; check the server and the network (a \
                 stalled server or proxy)",
                limit.as_secs()
            ),
        ),
        failed => ledger_error(shown, what, &connect_words(failed)),
    }
}

impl LedgerStore for PgLedger {
    fn ready(&mut self) -> Result<()> {
        self.ensure_schema()
    }

    fn state(&mut self, id: &TokenId) -> Result<Option<State>> {
        self.ensure_schema()?;
        let id = id.clone();
        self.conn
            .call(move |c| lookup(c, &id))
            .map_err(|f| self.error("read", &f))
    }

    fn consume(
        &mut self,
        id: &TokenId,
        exp: i64,
        now: i64,
        dry_run: bool,
        record: RecordFn,
    ) -> Result<()> {
        if dry_run {
            self.ensure_schema()?;
            return match self.state(id)? {
                Some(State::Revoked) => Err(revoked()),
                Some(State::Consumed) => Err(reused()),
                None => Ok(()),
            };
        }
        self.decide(id, exp, now, record)
    }

    fn revoke(&mut self, id: &TokenId, exp: i64, now: i64, record: RecordFn) -> Result<()> {
        self.ensure_schema()?;
        let (text, key) = (id.id.clone(), super::key(&id.id));
        self.conn
            .call(move |c| {
                in_transaction(c, |c| {
                    c.execute_typed(
                        "INSERT INTO jwtctl_ids (key, id, state, exp, at)
                         VALUES ($4, $1, 'revoked', $2, $3)
                         ON CONFLICT (key) DO UPDATE SET state = 'revoked', at = excluded.at,
                             exp = GREATEST(jwtctl_ids.exp, excluded.exp)",
                        &[
                            (&text, Type::TEXT),
                            (&exp, Type::INT8),
                            (&now, Type::INT8),
                            (&&key[..], Type::BYTEA),
                        ],
                    )
                    .map(|_| ())
                })
            })
            .map_err(|f| self.error("write", &f))?;
        self.finish(record)
    }

    fn prune(&mut self, now: i64) -> Result<u64> {
        self.ensure_schema()?;
        self.conn
            .call(move |c| {
                c.execute_typed(
                    &format!("DELETE FROM jwtctl_ids WHERE exp < {CUTOFF}"),
                    &[(&now, Type::INT8)],
                )
            })
            .map_err(|f| self.error("prune", &f))
    }

    fn list(&mut self, state: Option<State>) -> Result<Vec<Entry>> {
        self.ensure_schema()?;
        let rows = self
            .conn
            .call_reading(MAX_LIST_ANSWER, |c| {
                c.query_typed(
                    "SELECT id, state, exp, at FROM jwtctl_ids ORDER BY at, id",
                    &[],
                )
            })
            .map_err(|f| self.error("read", &f))?;
        let entries = rows.iter().filter_map(|row| {
            // A state the schema's CHECK should have refused is skipped, never trusted.
            let kind = State::parse(row.try_get::<_, &str>(1).ok()?)?;
            Some(Entry {
                id: row.try_get(0).ok()?,
                state: kind.as_str(),
                exp: row.try_get(2).ok()?,
                at: row.try_get(3).ok()?,
            })
        });
        Ok(entries
            .filter(|e| state.is_none_or(|s| s.as_str() == e.state))
            .collect())
    }
}

/// The answer timeout when the session's `statement_timeout` is unknown.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
