//! One file per subcommand; this module holds what they share: key loading and token input.

pub mod issue;
pub mod refresh;
pub mod revoke;
pub mod verify;

use std::io::{self, IsTerminal, Read};
use std::path::Path;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::audit::{Audit, Record, token_sha256};
use crate::cli::{Alg, CheckArgs, KeyArgs};
use crate::error::{Error, Reason, Result};
use crate::keys::{self, Key, Source};
use crate::ledger::{self, Ledger};
use crate::token::{self, Policy, Verified};

/// Largest input read from stdin for one token or claims object.
const MAX_INPUT: u64 = 1 << 20;

/// What every command gets besides its arguments.
pub struct Ctx<'a> {
    pub audit: &'a Audit,
    /// Seconds since the Unix epoch, read once per process.
    pub now: i64,
    /// `--log-sync`: fsync what jwtctl records (the log and the ledger) before answering.
    pub durable: bool,
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

/// Find, read and classify the key, pin the algorithm and check the secret's strength.
/// `create` lets `issue` make `./jwtctl.key` when no source is named and it is missing.
pub fn load_key(
    args: &KeyArgs,
    ctx: &Ctx,
    rec: &mut Record,
    create: bool,
) -> Result<(Key, Algorithm)> {
    let source = keys::resolve_source(
        args.key_file.as_deref(),
        args.secret_env.as_deref(),
        env_var,
    )?;
    let material = match (keys::read_source(&source, env_var)?, &source) {
        (Some(material), _) => material,
        (None, Source::DefaultFile(path)) if create => {
            if keys::create_default_key(path)? {
                eprintln!(
                    "jwtctl: created a new HMAC key in {} (mode 0600); keep it secret",
                    path.display()
                );
                ctx.audit.warning(rec.op, "key_created")?;
            }
            keys::read_source(&source, env_var)?
                .ok_or_else(|| Error::key(format!("cannot read key file {}", path.display())))?
        }
        (None, _) => {
            return Err(Error::key(format!(
                "no key: pass --key-file PATH or --secret-env NAME, or set {} or {} \
                 (./{} does not exist)",
                keys::KEY_FILE_VAR,
                keys::SECRET_VAR,
                keys::DEFAULT_KEY_FILE
            )));
        }
    };
    let key = keys::classify(&material)?;
    let alg = key.pick_alg(args.alg.map(algorithm))?;
    rec.alg = Some(format!("{alg:?}"));
    if key.check_strength(alg, args.allow_weak_secret)? {
        ctx.audit.warning(rec.op, "weak_secret_allowed")?;
    }
    Ok((key, alg))
}

/// Read all of stdin (bounded). Refuses to wait on a terminal: nothing prompts.
pub fn read_stdin(what: &str) -> Result<String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Err(Error::usage(format!(
            "expected {what} on stdin, but stdin is a terminal; pipe it in or pass it as an argument"
        )));
    }
    let mut text = String::new();
    let read = stdin.lock().take(MAX_INPUT + 1).read_to_string(&mut text);
    match read {
        Ok(n) if n as u64 > MAX_INPUT => Err(Error::usage(format!(
            "{what} on stdin is larger than 1 MiB"
        ))),
        Ok(_) => Ok(text),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::rejected(
            Reason::Malformed,
            format!("{what} on stdin is not UTF-8"),
        )),
        Err(e) => Err(Error::io(format!(
            "cannot read stdin: {}",
            keys::io_words(&e)
        ))),
    }
}

/// The token from the argument, or from stdin when the argument is absent or `-`.
fn read_token(arg: Option<&str>) -> Result<String> {
    match arg {
        Some(token) if token != "-" => Ok(token.to_string()),
        _ => read_stdin("a token"),
    }
}

/// The verification policy the flags ask for, with the pinned algorithm.
pub fn policy(args: &CheckArgs, alg: Algorithm) -> Policy {
    Policy {
        alg,
        leeway_secs: secs(args.leeway),
        grace_secs: 0,
        iss: args.iss.clone(),
        sub: args.sub.clone(),
        aud: args.aud.clone(),
    }
}

/// A token as presented: its text (less whitespace and `Bearer `), and what verifying it gave.
pub struct Presented {
    pub text: String,
    pub verified: Verified,
}

/// Read the token (argument or stdin), record its hash (as `parent_token_sha256` when it is the
/// parent of a new token), and verify it: fully against `policy`, or (without one) its form
/// and signature only.
pub fn check_token(
    arg: Option<&str>,
    key: &Key,
    alg: Algorithm,
    policy: Option<&Policy>,
    ctx: &Ctx,
    rec: &mut Record,
    as_parent: bool,
) -> Result<Presented> {
    let input = read_token(arg)?;
    let text = token::token_text(&input).to_string();
    let hash = Some(token_sha256(&text));
    if as_parent {
        rec.parent_token_sha256 = hash;
    } else {
        rec.token_sha256 = hash;
    }
    let verified = match policy {
        Some(policy) => token::verify(&text, key.decoding(), policy, ctx.now)?,
        None => token::verify_signature(&text, key.decoding(), alg)?,
    };
    note_verified(rec, &verified);
    Ok(Presented { text, verified })
}

impl Presented {
    /// The token's id in the ledger and the `exp` it is kept by.
    pub fn ledger_entry(&self, now: i64) -> (String, i64) {
        let exp = token::seconds(&self.verified.claims, "exp").unwrap_or(now);
        (ledger::token_id(&self.verified.claims, &self.text), exp)
    }
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

/// Copy what a verified token says about itself into the record.
fn note_verified(rec: &mut Record, verified: &Verified) {
    let claim = |name| {
        verified
            .claims
            .get(name)
            .and_then(|v: &serde_json::Value| v.as_str())
    };
    rec.sub = claim("sub").map(str::to_owned);
    rec.jti = claim("jti").map(str::to_owned);
    rec.kid = verified.header_str("kid").map(str::to_owned);
    rec.exp = verified
        .claims
        .get("exp")
        .and_then(serde_json::Value::as_i64);
}

/// A flag's duration in whole seconds (durations too long for i64 saturate).
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// 128 random bits, base64url: a fresh `jti`.
pub fn new_jti() -> Result<String> {
    use base64::Engine as _;
    let mut raw = [0u8; 16];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| Error::key("no randomness available"))?;
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
