//! One file per subcommand, and what they share: the context, how a command finishes, the
//! verification policy from flags, and the ledger helpers; key loading in `keys`, input in
//! `input`, and the one presenter of every outcome in `present`.

pub mod batch;
pub mod cache;
pub mod docs;
mod input;
pub mod inspect;
pub mod issue;
pub mod key;
mod keys;
pub mod ledgers;
pub mod log;
pub mod log_search;
pub mod policy;
pub mod present;
pub mod refresh;
pub mod revoke;
pub mod verify;

pub use input::{read_stdin, read_token};
pub use keys::{
    KeySet, algorithm, any_keys, judge_signing_strength, password, signing_key, verifying_keys,
};

use std::path::Path;
use std::time::Duration;

use crate::token::Algorithm;

use crate::audit::{Audit, Record};
use crate::cli::{CheckArgs, RemoteArgs};
use crate::error::{Error, Exit, Rejection, Result};
use crate::keys::Keyring;
use crate::keys::remote::{Location, Remote};
use crate::ledger::{self, Ledger, TokenId};
use crate::net::FetchPolicy;
use crate::token::{self, Authenticated, ClaimRule, Policy, Verdict, Verified};

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

/// How a command finished. A rejected token is a verdict, not an error: `Err` is left for usage,
/// configuration, I/O and log failures. [`present`] shows each.
#[derive(Debug)]
pub enum Done {
    /// Print this on stdout once the operation's record is written.
    Print(String),
    /// Print this on stdout: the operation's record is written already (it was written inside
    /// the ledger transaction it describes).
    Recorded(String),
    /// `verify` found the token valid (and, with `--policy`, what the policy let through):
    /// record the success, then present it as asked.
    Valid(Verified, Option<Box<policy::Passed>>),
    /// The token was rejected: record the rejection, then present it as asked.
    Rejected(Rejection),
    /// Records and output were written as the command went (`verify --batch`).
    Streamed(Exit),
    /// A verdict on something other than a token (`log verify` found the log tampered with):
    /// recorded as a failure with `reason`; shown as `stdout` when there is one (a JSON
    /// report), else as the one stderr line `message`.
    Broken {
        reason: crate::error::Reason,
        message: String,
        stdout: String,
    },
}

/// A command's result with a rejection taken out as a verdict: for the commands whose core and
/// ledger raise rejections on their way (`refresh`, `revoke`, `inspect`).
pub fn judged(result: Result<Done>) -> Result<Done> {
    Ok(match Verdict::of(result)? {
        Verdict::Valid(done) => done,
        Verdict::Rejected(rejection) => Done::Rejected(rejection),
    })
}

/// The verification policy the flags ask for, with the accepted algorithms.
pub fn policy(args: &CheckArgs, algs: Vec<Algorithm>) -> Result<Policy> {
    // With --oidc, the token's iss must be the issuer discovery was done for.
    let iss = match (&args.iss, &args.remote.oidc) {
        (Some(iss), Some(oidc)) if iss != oidc => {
            return Err(Error::usage(
                "--iss and --oidc name different issuers; give one (--oidc requires its issuer)",
            ));
        }
        (iss, oidc) => iss.clone().or_else(|| oidc.clone()),
    };
    Ok(Policy {
        leeway_secs: secs(args.leeway),
        iss,
        sub: args.sub.clone(),
        aud: args.aud.clone(),
        require: args.require.iter().map(token::ClaimPath::name).collect(),
        typ: args.typ.clone(),
        min_remaining_secs: args.min_remaining.map(secs),
        max_age_secs: args.max_age.map(secs),
        max_size: args.max_token_size,
        claim_rules: claim_rules(args)?,
        ..Policy::new(algs)
    })
}

/// The remote JWK Set `--jwks-url` or `--oidc` names, if any, and how to fetch it.
pub fn remote(args: &RemoteArgs) -> Option<Remote> {
    let location = match (&args.jwks_url, &args.oidc) {
        (Some(url), _) => Location::JwksUrl(url.clone()),
        (None, Some(issuer)) => Location::Oidc(issuer.clone()),
        (None, None) => return None,
    };
    Some(remote_at(location, args))
}

/// The remote JWK Set at `location`, fetched as `args` say (a policy names the location).
pub fn remote_at(location: Location, args: &RemoteArgs) -> Remote {
    Remote {
        location,
        cache_dir: args
            .cache_dir
            .clone()
            .unwrap_or_else(crate::keys::remote::default_cache_dir),
        offline: args.offline,
        policy: FetchPolicy {
            connect_timeout: args.fetch_timeout.min(Duration::from_secs(5)),
            total_timeout: args.fetch_timeout,
            ca_file: args.ca_file.clone(),
        },
    }
}

/// The keys and algorithms a verifying command checks with: a local source or a remote set
/// (`kid`: the token's, when known, so a rotated remote set is refetched).
pub fn check_keys(
    check: &CheckArgs,
    kid: Option<&str>,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<(Keyring, Vec<Algorithm>)> {
    let remote = remote(&check.remote);
    verifying_keys(&check.key, key_set(check, remote.as_ref(), kid), ctx, rec)
}

/// A token's header `kid`, read without trusting anything: it only lets a remote set be
/// refetched when a provider has rotated to a new key.
pub fn unverified_kid(text: &str) -> Option<String> {
    token::decode_unverified(text, token::DEFAULT_MAX_TOKEN_SIZE)
        .ok()?
        .header
        .get("kid")?
        .as_str()
        .map(str::to_owned)
}

/// The keys `check` names: a remote set (with the kid of the token at hand, if known), or a
/// local source.
pub fn key_set<'a>(
    check: &'a CheckArgs,
    remote: Option<&'a Remote>,
    kid: Option<&'a str>,
) -> KeySet<'a> {
    match remote {
        Some(remote) => KeySet::Remote(remote, kid),
        None => KeySet::Local(check.jwks.as_deref()),
    }
}

/// `--claim-eq` and `--claim-match` as rules.
fn claim_rules(args: &CheckArgs) -> Result<Vec<ClaimRule>> {
    let mut rules = Vec::new();
    for flag in &args.claim_eq {
        let (name, value) = token::parse_claim_flag(flag)
            .map_err(|_| Error::usage("--claim-eq takes NAME=VALUE, as in --claim-eq ref=main"))?;
        rules.push(ClaimRule::Equals(token::ClaimPath::name(name), value));
    }
    for flag in &args.claim_match {
        match flag.split_once('=') {
            Some((name, glob)) if !name.is_empty() => {
                rules.push(ClaimRule::Matches(
                    token::ClaimPath::name(name),
                    glob.to_string(),
                ));
            }
            _ => {
                return Err(Error::usage(
                    "--claim-match takes NAME=GLOB, as in --claim-match 'ref=refs/heads/*'",
                ));
            }
        }
    }
    Ok(rules)
}

/// Copy what a verified token says about itself into the record.
pub fn note_verified(rec: &mut Record, verified: &Authenticated) {
    // One walk over the claims for the four a record names (a batch notes every token).
    let (mut sub, mut iss, mut jti, mut exp) = (None, None, None, None);
    for (name, value) in &verified.claims {
        let slot = match name.as_str() {
            "sub" => &mut sub,
            "iss" => &mut iss,
            "jti" => &mut jti,
            "exp" => &mut exp,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    let text = serde_json::Value::as_str;
    put(&mut rec.sub, sub.and_then(text));
    put(&mut rec.iss, iss.and_then(text));
    put(&mut rec.jti, jti.and_then(text));
    let kid = token::claim(&verified.header, "kid").and_then(serde_json::Value::as_str);
    put(&mut rec.kid, kid);
    rec.alg = Some(token::alg_name(verified.alg));
    rec.exp = exp.and_then(token::whole_seconds);
}

/// Set `slot` to `value`, reusing the string already there (a batch reuses one record).
fn put(slot: &mut Option<String>, value: Option<&str>) {
    match (slot.as_mut(), value) {
        (Some(kept), Some(value)) => {
            kept.clear();
            kept.push_str(value);
        }
        (_, value) => *slot = value.map(str::to_owned),
    }
}

/// Make a ledger change whose success record (`done`) is written inside its transaction
/// (`change` hands the record writer to the store).
///
/// Invariant: the log never keeps an unwithdrawn success of a change that did not happen. When
/// the store fails after the record was written (its COMMIT failed: a full disk, a lost
/// connection), `rec`, from which the caller writes the failure record, becomes that same
/// operation marked `not_done`, as a failed log sink's withdrawal is (`audit::Audit::emit`).
pub fn recorded_change(
    rec: &mut Record,
    done: &Record,
    ctx: &Ctx,
    change: impl FnOnce(ledger::RecordFn) -> Result<()>,
) -> Result<()> {
    let mut written = false;
    let result = change(&mut || {
        written = ctx.audit.success_kept(done.clone())?;
        Ok(())
    });
    if result.is_err() && written {
        *rec = done.clone();
        rec.event = Some("not_done");
    }
    result
}

/// A token's id in the ledger and the `exp` it is kept by.
pub fn ledger_entry(verified: &Authenticated, text: &str, now: i64) -> (TokenId, i64) {
    let exp = token::seconds(&verified.claims, "exp").unwrap_or(now);
    (TokenId::of(&verified.claims, text), exp)
}

/// Open the ledger when one is configured (it must exist: see [`ledger::open`]). Ids are pruned
/// a day after `exp`, so no tolerance past `exp` may reach further than that while a ledger is
/// in use.
pub fn open_ledger(
    path: Option<&Path>,
    tolerance: Duration,
    access: ledger::Access,
    ctx: &Ctx,
    op: &'static str,
) -> Result<Option<Ledger>> {
    let Some(path) = path else { return Ok(None) };
    if tolerance.as_secs() > ledger::KEEP_AFTER_EXP_SECS as u64 {
        return Err(Error::usage(
            "with --ledger, --leeway plus --grace may not exceed 24h (ids are kept 24h past exp)",
        ));
    }
    open_existing(path, access, ctx, op).map(Some)
}

/// Open a ledger that must exist (everything but `ledger init`), warning on stderr and with a
/// WARN record when other users can read it.
pub fn open_existing(
    path: &Path,
    access: ledger::Access,
    ctx: &Ctx,
    op: &'static str,
) -> Result<Ledger> {
    let ledger = ledger::open(path, ctx.durable, access)?;
    warn_if_exposed(&ledger, ctx, op)?;
    Ok(ledger)
}

/// The warning for a ledger others can read: on stderr, and a WARN record.
pub fn warn_if_exposed(ledger: &Ledger, ctx: &Ctx, op: &'static str) -> Result<()> {
    let Some(warning) = ledger.exposed() else {
        return Ok(());
    };
    crate::sys::eprint_line(&format!("jwtctl: warning: {warning}"));
    ctx.audit.warning(op, "ledger_exposed")
}

/// A flag that loosened a security default: said on stderr (`jwtctl: warning: …`) and recorded
/// with a loosening record every log level keeps ([`Audit::loosening`]), naming the verified
/// token of `about` (the operation's record, once [`note_verified`] filled it) if given.
pub fn loosened(
    ctx: &Ctx,
    op: &'static str,
    event: &'static str,
    said: &str,
    about: Option<&Record>,
) -> Result<()> {
    crate::sys::eprint_line(&format!("jwtctl: warning: {said}"));
    ctx.audit.loosening(op, event, about)
}

/// The loosening flags every verifying command takes (`--leeway`, `--max-token-size` above its
/// default, `verify --at`), each said and
/// recorded once per command ([`loosened`]) when a token was accepted (`about`: its record).
pub fn note_check_loosening(
    check: &CheckArgs,
    at: Option<i64>,
    ctx: &Ctx,
    op: &'static str,
    about: Option<&Record>,
) -> Result<()> {
    if !check.leeway.is_zero() {
        loosened(
            ctx,
            op,
            "leeway_allowed",
            &format!(
                "--leeway {}s accepts a token that far past its exp or before its nbf/iat \
                 (recorded)",
                check.leeway.as_secs()
            ),
            about,
        )?;
    }
    if check.max_token_size > token::DEFAULT_MAX_TOKEN_SIZE {
        loosened(
            ctx,
            op,
            "max_token_size_allowed",
            &format!(
                "--max-token-size {} accepts tokens longer than the default {} bytes (recorded)",
                check.max_token_size,
                token::DEFAULT_MAX_TOKEN_SIZE
            ),
            about,
        )?;
    }
    if let Some(at) = at {
        let when = chrono::DateTime::from_timestamp(at, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        loosened(
            ctx,
            op,
            "verify_at_allowed",
            &format!("--at checks the token's times as of {when}, not now (recorded)"),
            about,
        )?;
    }
    Ok(())
}

/// A new token as `issue` and `refresh` print it: the token and a newline, or with
/// `--output json` one object a script needs no decoding for.
pub fn token_output(token: &str, rec: &Record, output: crate::cli::Output) -> String {
    if output == crate::cli::Output::Text {
        return format!("{token}\n");
    }
    let expires_at = rec
        .exp
        .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let value = serde_json::json!({
        "token": token,
        "jti": rec.jti,
        "kid": rec.kid,
        "exp": rec.exp,
        "expires_at": expires_at,
    });
    format!("{value}\n")
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
