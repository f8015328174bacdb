//! The ledger seam: consumed and revoked token ids, for single use and revocation. The commands
//! see only [`LedgerStore`]; each store is a file of its own: `sqlite` for one host, `pg`
//! (PostgreSQL) for several.

mod files;
mod pg;
mod pg_conn;
mod pg_store;
mod pg_stream;
mod sqlite;

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Reason, Result};
use crate::hash::sha256_hex;
use crate::token::Claims;

/// Ids are kept this long after their token's `exp`; no grace or leeway may reach past it.
pub const KEEP_AFTER_EXP_SECS: i64 = 24 * 3600;

/// What the ledger knows of a token id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Consumed,
    Revoked,
}

impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Consumed => "consumed",
            State::Revoked => "revoked",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<State> {
        match s {
            "consumed" => Some(State::Consumed),
            "revoked" => Some(State::Revoked),
            _ => None,
        }
    }
}

/// A token's identity in the ledger, and the form an older ledger (schema 1) wrote it in.
///
/// Invariant: the id depends only on what the signature covers, never on the signature itself,
/// so nobody without the key can make a second text of a token with another id (an ECDSA twin
/// `(r, n - s)`, another valid RSA-PSS signature, a re-encoded signature segment). See
/// docs/ledger.md#ids.
///
/// Stores key each entry by the SHA-256 of its id ([`TokenId::key`]), with the id beside it: an
/// id is as long as the token's `jti` and `iss` (an 8,000-character `jti` passes `verify`), and a
/// fixed-size key fits every index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenId {
    /// `jti:<jti>` (no `iss`), `iss+jti:["<iss>","<jti>"]`, or `signed:<hex>` for a token without
    /// a string `jti`: the SHA-256 of its signing input (`header.payload`).
    pub id: String,
    /// What schema 1 wrote: `jti:<jti>` or `sha256:<hex of the whole text>`; entries migrated
    /// from such a ledger carry the prefix [`LEGACY_PREFIX`] and are matched by it until pruned.
    pub(crate) legacy: String,
    /// For a token with a string `jti`: `any-iss+jti:<jti>`, the id `revoke --jti` without
    /// `--iss` revokes, which counts (as revoked only) for that `jti` under every issuer.
    pub(crate) any_issuer: Option<String>,
}

/// Prefix given to the ids of a schema-1 ledger when it is migrated.
pub(crate) const LEGACY_PREFIX: &str = "v1:";

/// The fixed-size key a store indexes an id by: its SHA-256.
pub(crate) fn key(id: &str) -> [u8; 32] {
    crate::hash::sha256(id.as_bytes())
}

impl TokenId {
    /// The id of a token known only by its `jti` and issuer, as `revoke --jti ID --iss ISS`
    /// takes it: the same id [`TokenId::of`] gives the token itself.
    pub fn of_jti(iss: &str, jti: &str) -> TokenId {
        let mut claims = Claims::new();
        claims.insert("iss".into(), Value::from(iss));
        claims.insert("jti".into(), Value::from(jti));
        TokenId::of(&claims, "")
    }

    /// The id `revoke --jti ID` (no `--iss`) revokes: `ID` under every issuer, and without one.
    pub fn any_issuer(jti: &str) -> TokenId {
        let id = format!("any-iss+jti:{jti}");
        TokenId {
            legacy: id.clone(),
            any_issuer: Some(id.clone()),
            id,
        }
    }

    /// The id of a token whose signature has been checked: `claims` are its verified claims and
    /// `token_text` its compact form.
    pub fn of(claims: &Claims, token_text: &str) -> TokenId {
        let legacy = match claims.get("jti") {
            Some(Value::String(jti)) => format!("jti:{jti}"),
            _ => format!("sha256:{}", sha256_hex(token_text.as_bytes())),
        };
        let id = match (claims.get("iss"), claims.get("jti")) {
            (None, Some(Value::String(jti))) => format!("jti:{jti}"),
            // `jti` is unique per issuer (RFC 7519 §4.1.7): two issuers sharing a ledger never
            // revoke or burn each other's tokens. JSON keeps any iss and jti apart unambiguously.
            (Some(iss), Some(Value::String(jti))) => {
                format!(
                    "iss+jti:{}",
                    Value::from(vec![iss.clone(), Value::from(jti.as_str())])
                )
            }
            _ => {
                let signing_input = token_text.rsplit_once('.').map_or(token_text, |(i, _)| i);
                format!("signed:{}", sha256_hex(signing_input.as_bytes()))
            }
        };
        let any_issuer = match claims.get("jti") {
            Some(Value::String(jti)) => Some(format!("any-iss+jti:{jti}")),
            _ => None,
        };
        TokenId {
            id,
            legacy: format!("{LEGACY_PREFIX}{legacy}"),
            any_issuer,
        }
    }

    /// The keys a lookup matches in any state (the id, its schema-1 form) and the key that
    /// counts only when revoked (`revoke --jti` for every issuer; the id's own key if none).
    pub(crate) fn keys(&self) -> ([u8; 32], [u8; 32], [u8; 32]) {
        let any = self.any_issuer.as_deref().unwrap_or(&self.id);
        (key(&self.id), key(&self.legacy), key(any))
    }
}

/// The rejection for a token refreshed before: reuse is the mark of a stolen token.
pub fn reused() -> Error {
    Error::rejected(
        Reason::Reused,
        "this token was already refreshed once; reuse is the mark of a stolen token, so sign in \
         again",
    )
}

/// The rejection for a revoked token.
pub fn revoked() -> Error {
    Error::rejected(Reason::Revoked, "this token has been revoked")
}

/// Writes the record of the change a store is making, inside its transaction: an error rolls the
/// change back (see [`LedgerStore::consume`]).
pub type RecordFn<'a> = &'a mut dyn FnMut() -> Result<()>;

/// What the commands need of a ledger store. Every decision is the store's own transaction, so
/// of several processes (or hosts) racing on one token exactly one wins. `Debug` never shows a
/// password or a connection string's secrets.
pub trait LedgerStore: fmt::Debug {
    /// Make sure the store is set up (`ledger init`); stores that set up when opened need not.
    fn ready(&mut self) -> Result<()> {
        Ok(())
    }

    /// A warning to give when other users can read the store (a SQLite file's mode), if any.
    fn exposed(&self) -> Option<String> {
        None
    }

    /// What the store knows of the token `id`, if anything.
    fn state(&mut self, id: &TokenId) -> Result<Option<State>>;

    /// Mark `id` consumed, unless it already is (`reused`) or is revoked (`revoked`). With
    /// `dry_run`, everything is checked and nothing is kept. `record` writes the operation's
    /// record while the transaction is open: when it fails, nothing is consumed (a retry works);
    /// when the commit fails after it, the caller records the failure and prints nothing.
    fn consume(
        &mut self,
        id: &TokenId,
        exp: i64,
        now: i64,
        dry_run: bool,
        record: RecordFn,
    ) -> Result<()>;

    /// Mark `id` revoked (whatever it was before); `record` as for [`LedgerStore::consume`].
    fn revoke(&mut self, id: &TokenId, exp: i64, now: i64, record: RecordFn) -> Result<()>;

    /// Forget ids whose tokens expired more than [`KEEP_AFTER_EXP_SECS`] before `now`; returns
    /// how many went.
    fn prune(&mut self, now: i64) -> Result<u64>;

    /// Every entry (in one state, if given), oldest first.
    fn list(&mut self, state: Option<State>) -> Result<Vec<Entry>>;
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub id: String,
    pub state: &'static str,
    /// The `exp` the entry is kept by (pruned a day after it).
    pub exp: i64,
    /// When it was recorded.
    pub at: i64,
}

/// An open ledger, whichever store holds it.
pub type Ledger = Box<dyn LedgerStore>;

/// What a command may do to a ledger it opens.
///
/// Invariant: only `ledger init` creates a ledger (a file, or tables), and a command that only
/// reads it (`verify`, `ledger list`, `ledger stats`) opens a SQLite ledger read-only, so it works
/// on a ledger it may not write (the service's, `chmod 644`) and can never change one. The one
/// exception is an upgrade: a ledger of an older schema is migrated once by whichever command
/// meets it first, and a reader that cannot write it is told to run `ledger init` as its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Create,
}

/// Open the ledger at `location`: a `postgres://` or `postgresql://` URL (any case), else a
/// SQLite file path. Only `create` (`ledger init`) creates a ledger (a file, or tables): a
/// ledger named explicitly must exist, so a mistyped path never turns revocation off. With `durable`, every SQLite commit is synced (a PostgreSQL commit is as
/// durable as the server's `synchronous_commit` makes it). A password in a URL given as
/// `--ledger` is refused before this, where the command line is parsed (`lib::parse`).
pub fn open(location: &Path, durable: bool, access: Access) -> Result<Ledger> {
    let text = location.to_str();
    if let Some(url) = text.filter(|l| pg::is_url(l)) {
        return Ok(Box::new(pg_store::PgLedger::open(
            url,
            access == Access::Create,
        )?));
    }
    // Anything URL-like that is not one jwtctl reads is refused without being shown: it may
    // hold a password, and a SQLite error would print it as a path.
    if text.is_some_and(|l| looks_like_url(l) || may_hold_credential(l)) && !location.exists() {
        return Err(Error::usage(
            "the ledger is neither a postgres:// URL nor a file path jwtctl can use; check \
             --ledger / JWTCTL_LEDGER",
        ));
    }
    Ok(Box::new(sqlite::SqliteLedger::open(
        location, durable, access,
    )?))
}

/// `scheme:...`: what a mistyped URL (`Postgres:/`, `postgress://`) looks like.
fn looks_like_url(location: &str) -> bool {
    location
        .trim_start()
        .split_once(':')
        .is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        })
}

/// Whether a location that is not a file may carry a password: a libpq keyword/value string
/// (`password=`, in any case) or `user:secret@` user information in a mistyped URL
/// (`postgres//u:pw@host/db`). Such a location is never shown, and never taken from argv.
fn may_hold_credential(location: &str) -> bool {
    // Past a leading `scheme://`, a colon before the last `@` separates a user from a secret.
    let rest = match location.split_once("://") {
        Some((scheme, rest)) if looks_like_url(&format!("{scheme}:")) => rest,
        _ => location,
    };
    location.to_ascii_lowercase().contains("password=")
        || rest
            .rsplit_once('@')
            .is_some_and(|(before, _)| before.contains(':'))
}

/// Whether a `--ledger` value carries a password: a database URL with one, or a location that
/// is no existing file and may hold one (see [`may_hold_credential`]).
pub fn url_has_password(location: &std::ffi::OsStr) -> bool {
    location.to_str().is_some_and(|l| {
        if pg::is_url(l) {
            pg::url_has_password(l)
        } else {
            may_hold_credential(l) && !Path::new(l).exists()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_found_wherever_the_client_would_read_one() {
        let has = |url: &str| url_has_password(std::ffi::OsStr::new(url));
        assert!(has("postgres://u:pw@h/db"));
        assert!(has("Postgres://u:pw@h/db"));
        assert!(has("postgresql://u@h/db?sslmode=verify-full&password=pw"));
        assert!(has("postgresql://u@h/db?%70assword=pw"));
        assert!(has("postgres://u:pa/ss@h/db"));
        assert!(has("postgres://u:pa?ss@h/db"));
        assert!(!has("postgres://u@h/db?sslmode=require"));
        assert!(!has("postgres://u@/db?host=/run/a:b"));
        assert!(!has("ledger.db"));
    }

    #[test]
    fn keyword_strings_and_userinfo_may_hold_a_password() {
        assert!(may_hold_credential("host=h port=1 PassWord=pw"));
        assert!(may_hold_credential("postgres//u:pw@h:1/db"));
        assert!(may_hold_credential("u:pa@ss@h/db"));
        assert!(!may_hold_credential("ledger.db"));
        assert!(may_hold_credential("Postgres:/u:pw@h/x"));
        assert!(may_hold_credential("postgres//u:pa/ss@h/db"));
        assert!(may_hold_credential("u:pw@h/db"));
        assert!(may_hold_credential("postgress://u:pw@h/db"));
        assert!(!may_hold_credential("/var/lib/jwtctl/a@b.db"));
        assert!(!may_hold_credential("postgres://u@h/db"));
        assert!(!may_hold_credential("postgress://u@/db?host=/run/a:b"));
    }

    #[test]
    fn mistyped_urls_look_like_urls_and_paths_do_not() {
        assert!(looks_like_url("Postgres:/u:pw@h/x"));
        assert!(looks_like_url(" postgress://u@h/x"));
        assert!(!looks_like_url("ledger.db"));
        assert!(!looks_like_url("/var/lib/jwtctl/ledger.db"));
    }

    #[test]
    fn ids_key_jti_by_issuer_and_otherwise_hash_what_the_signature_covers() {
        let claims = |v| -> Claims { serde_json::from_value(v).unwrap() };
        let bare = TokenId::of(&claims(serde_json::json!({"jti": "abc"})), "t");
        assert_eq!(bare.id, "jti:abc");
        let a = TokenId::of(&claims(serde_json::json!({"iss": "a", "jti": "abc"})), "t");
        let b = TokenId::of(&claims(serde_json::json!({"iss": "b", "jti": "abc"})), "t");
        assert_eq!(a.id, r#"iss+jti:["a","abc"]"#);
        assert_ne!(a.id, b.id);
        // No string jti: the signature segment does not count, the signed content does.
        let no_jti = claims(serde_json::json!({"jti": 5}));
        let one = TokenId::of(&no_jti, "h.p.sig1");
        assert_eq!(one.id, TokenId::of(&no_jti, "h.p.sig2").id);
        assert!(one.id.starts_with("signed:"));
        assert_ne!(one.id, TokenId::of(&no_jti, "h.q.sig1").id);
    }
}
