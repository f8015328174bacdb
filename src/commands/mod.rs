//! One file per subcommand; this module holds what they share: keys, token input, ledgers.

pub mod batch;
pub mod inspect;
pub mod issue;
pub mod refresh;
pub mod revoke;
pub mod verdict;
pub mod verify;

use std::io::{self, IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::audit::{Audit, Record, TokenDigest};
use crate::cli::{Alg, CheckArgs, KeyArgs};
use crate::error::{Error, Exit, Reason, Result};
use crate::keys::{self, JwkSet, Key, Keyring, Source};
use crate::ledger::{self, Ledger, TokenId};
use crate::token::{self, Authenticated, Policy};

/// Largest input read from stdin for one token or claims object.
const MAX_INPUT: u64 = 1 << 20;

/// What every command gets besides its arguments.
pub struct Ctx<'a> {
    pub audit: &'a Audit,
    /// Seconds since the Unix epoch, read once per process.
    pub now: i64,
    /// The same reading with its fraction of a second, for comparing fractional NumericDates.
    pub now_precise: f64,
    /// `--log-sync`: fsync what jwtctl records (the log and the ledger) before answering.
    pub durable: bool,
}

/// How a command finished.
pub enum Done {
    /// Print this on stdout once the operation's record is written.
    Print(String),
    /// Print this on stdout: the operation's record is written already (it was written inside
    /// the ledger transaction it describes).
    Recorded(String),
    /// The token was rejected: record the failure, then reply as the command was asked to.
    Refused(Error, Reply),
    /// Records and output were written as the command went (`verify --batch`).
    Streamed(Exit),
}

/// Where a rejection is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// One line on stderr (the default).
    Stderr,
    /// This text on stdout instead (`verify --output json`).
    Stdout(String),
    /// Nothing at all (`verify --quiet`): the exit code tells.
    Silent,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub fn algorithm(alg: Alg) -> Algorithm {
    match alg {
        Alg::HS256 => Algorithm::HS256,
        Alg::HS384 => Algorithm::HS384,
        Alg::HS512 => Algorithm::HS512,
        Alg::RS256 => Algorithm::RS256,
        Alg::RS384 => Algorithm::RS384,
        Alg::RS512 => Algorithm::RS512,
        Alg::PS256 => Algorithm::PS256,
        Alg::PS384 => Algorithm::PS384,
        Alg::PS512 => Algorithm::PS512,
        Alg::ES256 => Algorithm::ES256,
        Alg::ES384 => Algorithm::ES384,
        Alg::EdDSA => Algorithm::EdDSA,
    }
}

fn algorithms(args: &KeyArgs) -> Vec<Algorithm> {
    args.alg.iter().copied().map(algorithm).collect()
}

/// Find, read and classify the key. `create` lets `issue` make `./jwtctl.key` when no source
/// is named and it is missing.
fn read_key(args: &KeyArgs, ctx: &Ctx, rec: &Record, create: bool) -> Result<Key> {
    let source = keys::resolve_source(
        args.key_file.as_deref(),
        args.secret_env.as_deref(),
        env_var,
    )?;
    let material = match (keys::read_source(&source, env_var)?, &source) {
        (Some(material), _) => material,
        (None, Source::DefaultFile(path)) if create => {
            if keys::create_default_key(path)? {
                crate::sys::eprint_line(&format!(
                    "jwtctl: created a new HMAC key in {} (mode 0600); keep it secret",
                    path.display()
                ));
                ctx.audit.warning(rec.op, "key_created")?;
            }
            keys::read_source(&source, env_var)?
                .ok_or_else(|| Error::key(format!("cannot read key file {}", path.display())))?
        }
        (None, _) => {
            return Err(Error::key(format!(
                "no key: pass --key-file PATH, --secret-env NAME or --jwks PATH, or set {} or {} \
                 (./{} does not exist)",
                keys::KEY_FILE_VAR,
                keys::SECRET_VAR,
                keys::DEFAULT_KEY_FILE
            )));
        }
    };
    let key = keys::classify(&material)?;
    if let Source::File(path) | Source::DefaultFile(path) = &source {
        warn_if_loose(path, key.can_sign(), ctx, rec)?;
    }
    Ok(key)
}

/// Warn, on stderr and with a WARN record, about a key file other users can get at (see
/// `keys::loose_mode`). A warning, not a refusal: the key still works, and fixing it is one chmod.
fn warn_if_loose(path: &Path, secret: bool, ctx: &Ctx, rec: &Record) -> Result<()> {
    let Some(mode) = keys::loose_mode(path, secret) else {
        return Ok(());
    };
    let (who, fix) = if secret {
        ("read or changed", "600")
    } else {
        ("changed", "go-w")
    };
    crate::sys::eprint_line(&format!(
        "jwtctl: warning: key file {p} can be {who} by other users (mode {mode:04o}); \
         run chmod {fix} {p}",
        p = path.display()
    ));
    ctx.audit.warning(rec.op, "key_file_exposed")
}

/// The signing key and its one algorithm, for `issue`.
pub fn signing_key(args: &KeyArgs, ctx: &Ctx, rec: &mut Record) -> Result<(Key, Algorithm)> {
    let key = read_key(args, ctx, rec, true)?;
    let alg = match algorithms(args).as_slice() {
        [] => key.pick_alg(None)?,
        [one] => key.pick_alg(Some(*one))?,
        _ => {
            return Err(Error::usage(
                "issue signs with one algorithm; give --alg once",
            ));
        }
    };
    rec.alg = Some(format!("{alg:?}"));
    if key.check_strength(alg, args.allow_weak_secret)? {
        ctx.audit.warning(rec.op, "weak_secret_allowed")?;
    }
    Ok((key, alg))
}

/// The keys a token is checked against (`--jwks`, or one key) and the algorithms accepted.
pub fn verifying_keys(
    args: &KeyArgs,
    jwks: Option<&Path>,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<(Keyring, Vec<Algorithm>)> {
    let mut ring = match jwks {
        Some(path) => {
            let material = crate::sys::read_file_bounded(path)
                .map(keys::Secret::new)
                .map_err(|e| {
                    Error::key(format!(
                        "cannot read the JWK Set {}: {}; check --jwks",
                        path.display(),
                        crate::error::io_words(&e)
                    ))
                })?;
            let ring = Keyring::Set(JwkSet::parse(&material)?);
            warn_if_loose(path, ring.keys().iter().any(Key::can_sign), ctx, rec)?;
            ring
        }
        None => Keyring::One(read_key(args, ctx, rec, false)?),
    };
    let algs = ring.algorithms(&algorithms(args))?;
    if let [one] = algs.as_slice() {
        rec.alg = Some(format!("{one:?}"));
    }
    if ring.check_strength(&algs, args.allow_weak_secret)? {
        ctx.audit.warning(rec.op, "weak_secret_allowed")?;
    }
    Ok((ring, algs))
}

/// Read all of stdin, at most 1 MiB (`oversize` makes the error past it). Refuses to wait on a
/// terminal: nothing prompts.
pub fn read_stdin(what: &str, oversize: fn(String) -> Error) -> Result<String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage(format!(
            "expected {what} on stdin, but stdin is a terminal; pipe it in or pass it as an argument"
        )));
    }
    let mut text = String::new();
    let read = stdin.lock().take(MAX_INPUT + 1).read_to_string(&mut text);
    match read {
        Ok(n) if n as u64 > MAX_INPUT => {
            Err(oversize(format!("{what} on stdin is larger than 1 MiB")))
        }
        Ok(_) => Ok(text),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::rejected(
            Reason::Malformed,
            format!("{what} on stdin is not UTF-8"),
        )),
        Err(e) => Err(Error::io(format!(
            "cannot read stdin: {}",
            crate::error::io_words(&e)
        ))),
    }
}

/// The token text from the argument, or from stdin when the argument is absent or `-`, less
/// surrounding whitespace and `Bearer `. Its hash goes into the record (as
/// `parent_token_sha256` when it is the parent of a new token).
///
/// One verdict for one input: a token that is not UTF-8 is `malformed` and one over 1 MiB is
/// `too_large` (exit 1), whether it comes as the argument or on stdin.
pub fn read_token(
    arg: Option<&std::ffi::OsStr>,
    rec: &mut Record,
    as_parent: bool,
) -> Result<String> {
    let input = match arg {
        Some(token) if token != "-" => token
            .to_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::rejected(Reason::Malformed, "the token argument is not UTF-8"))?,
        _ => read_stdin("a token", |m| Error::rejected(Reason::TooLarge, m))?,
    };
    let text = token::token_text(&input).to_string();
    let digest = Some(TokenDigest::of(&text));
    if as_parent {
        rec.parent_token = digest;
    } else {
        rec.token = digest;
    }
    Ok(text)
}

/// The verification policy the flags ask for, with the accepted algorithms.
pub fn policy(args: &CheckArgs, algs: Vec<Algorithm>) -> Policy {
    Policy {
        leeway_secs: secs(args.leeway),
        iss: args.iss.clone(),
        sub: args.sub.clone(),
        aud: args.aud.clone(),
        require: args.require.clone(),
        typ: args.typ.clone(),
        min_remaining_secs: args.min_remaining.map(secs),
        max_age_secs: args.max_age.map(secs),
        max_size: args.max_token_size,
        ..Policy::new(algs)
    }
}

/// Copy what a verified token says about itself into the record.
pub fn note_verified(rec: &mut Record, verified: &Authenticated) {
    let claim = |name| {
        verified
            .claims
            .get(name)
            .and_then(|v: &serde_json::Value| v.as_str())
    };
    rec.sub = claim("sub").map(str::to_owned);
    rec.jti = claim("jti").map(str::to_owned);
    rec.kid = verified.header_str("kid").map(str::to_owned);
    rec.alg = Some(format!("{:?}", verified.alg));
    rec.exp = token::seconds(&verified.claims, "exp");
}

/// A token's id in the ledger and the `exp` it is kept by.
pub fn ledger_entry(verified: &Authenticated, text: &str, now: i64) -> (TokenId, i64) {
    let exp = token::seconds(&verified.claims, "exp").unwrap_or(now);
    (TokenId::of(&verified.claims, text), exp)
}

/// Open the ledger when one is configured. Ids are pruned a day after `exp`, so no tolerance
/// past `exp` may reach further than that while a ledger is in use.
pub fn open_ledger(path: Option<&Path>, tolerance: Duration, ctx: &Ctx) -> Result<Option<Ledger>> {
    let Some(path) = path else { return Ok(None) };
    if tolerance.as_secs() > ledger::KEEP_AFTER_EXP_SECS as u64 {
        return Err(Error::usage(
            "with --ledger, --leeway plus --grace may not exceed 24h (ids are kept 24h past exp)",
        ));
    }
    Ledger::open(path, ctx.durable).map(Some)
}

/// A flag's duration in whole seconds (durations too long for i64 saturate).
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// 128 random bits, base64url: a fresh `jti`.
pub fn new_jti() -> Result<String> {
    use base64::Engine as _;
    let mut raw = [0u8; 16];
    crate::sys::random_bytes(&mut raw)
        .map_err(|_| Error::key("no randomness available from the OS"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jtis_are_128_random_bits() {
        let (a, b) = (new_jti().unwrap(), new_jti().unwrap());
        assert_eq!((a.len(), b.len()), (22, 22));
        assert_ne!(a, b);
    }

    #[test]
    fn randomness_is_seeded_from_the_os_not_cpu_jitter() {
        // .cargo/config.toml builds AWS-LC without jitter entropy (30 ms per process otherwise).
        assert!(aws_lc_rs::try_fips_cpu_jitter_entropy().is_err());
    }
}
