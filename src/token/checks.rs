//! The checks a verified signature is not enough for: the header (`crit`, `typ`) and the claims
//! (times, issuer, subject, audience, required claims), as of an instant.

use super::Algorithm;
use serde_json::{Map, Value};

use super::path::ClaimPath;
use super::rules::{ClaimRule, Outcome};
use super::text::{Claims, reject, shown, when};
use crate::error::{Reason, Result};

/// The largest token accepted by default (64 KiB); longer ones are `too_large` before decoding.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 64 * 1024;

/// What a token must satisfy to be accepted.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The algorithms accepted, pinned from `--alg` or the key(s), never from the token.
    pub algs: Vec<Algorithm>,
    pub leeway_secs: i64,
    /// Extra tolerance for `exp` only: how long after expiry a token may still be refreshed.
    pub grace_secs: i64,
    pub iss: Option<String>,
    /// Other exact values `iss` may have (a policy issuer's `aliases`), when `iss` is set.
    pub iss_aliases: Vec<String>,
    pub sub: Option<String>,
    /// Accepted audiences: the token must carry at least one of them. Empty: the token must
    /// carry no `aud` at all (RFC 7519 §4.1.3).
    pub aud: Vec<String>,
    /// Claims that must be present (a path: its innermost member).
    pub require: Vec<ClaimPath>,
    /// The header `typ` required when present (case-insensitive); `None` means `JWT`.
    pub typ: Option<String>,
    /// Reject tokens that expire sooner than this.
    pub min_remaining_secs: Option<i64>,
    /// Reject tokens whose `iat` is older than this.
    pub max_age_secs: Option<i64>,
    pub max_size: usize,
    /// Claim values the token must have (`--claim-eq`, `--claim-match`); all must hold.
    pub claim_rules: Vec<ClaimRule>,
}

impl Policy {
    /// The strict defaults, accepting `algs`.
    pub fn new(algs: Vec<Algorithm>) -> Self {
        Policy {
            algs,
            leeway_secs: 0,
            grace_secs: 0,
            iss: None,
            iss_aliases: Vec::new(),
            sub: None,
            aud: Vec::new(),
            require: Vec::new(),
            typ: None,
            min_remaining_secs: None,
            max_age_secs: None,
            max_size: DEFAULT_MAX_TOKEN_SIZE,
            claim_rules: Vec::new(),
        }
    }
}

/// We understand no JWS extension, so any `crit` is refused (RFC 7515 §4.1.11); `typ`, when
/// present, must be `JWT` or what `--typ` names (case-insensitive, `application/` allowed).
pub(super) fn check_header(header: &Map<String, Value>, want_typ: Option<&str>) -> Result<()> {
    if header.contains_key("crit") {
        return Err(reject(
            Reason::CritUnsupported,
            "the token has a 'crit' header; jwtctl understands no JWS extensions",
        ));
    }
    let want = want_typ.unwrap_or("JWT");
    // RFC 7515 §4.1.9: `application/` may be left out, so `JWT` and `application/jwt` are one
    // media type, whichever side writes which.
    let bare = |typ: &'_ str| -> String {
        typ.get(..12)
            .filter(|p| p.eq_ignore_ascii_case("application/"))
            .map_or(typ, |_| &typ[12..])
            .to_ascii_lowercase()
    };
    let matches = |typ: &str| bare(typ) == bare(want);
    match header.get("typ") {
        None if want_typ.is_none() => Ok(()),
        None => Err(reject(
            Reason::TypMismatch,
            format!("the token has no 'typ'; --typ wants {}", shown(want)),
        )),
        Some(Value::String(typ)) if matches(typ) => Ok(()),
        Some(Value::String(typ)) => Err(reject(
            Reason::TypMismatch,
            format!(
                "the token's typ is {} but {} is required (--typ)",
                shown(typ),
                shown(want)
            ),
        )),
        Some(_) => Err(reject(
            Reason::Malformed,
            "the header's 'typ' is not a string",
        )),
    }
}

/// A registered time claim: absent, or a finite JSON number.
fn numeric(claims: &Claims, name: &str) -> Result<Option<f64>> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| {
                reject(
                    Reason::InvalidClaim,
                    format!("'{name}' must be a number of seconds"),
                )
            }),
    }
}

fn string_claim<'a>(claims: &'a Claims, name: &str) -> Result<Option<&'a str>> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(reject(
            Reason::InvalidClaim,
            format!("'{name}' must be a string"),
        )),
    }
}

fn audiences(claims: &Claims) -> Result<Option<Vec<&str>>> {
    let bad = || {
        reject(
            Reason::InvalidClaim,
            "'aud' must be a string or an array of strings",
        )
    };
    match claims.get("aud") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(bad))
            .collect::<Result<_>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// The registered time claims of a token, read as numbers.
struct Times {
    exp: f64,
    nbf: Option<f64>,
    iat: Option<f64>,
}

pub(super) fn check_claims(claims: &Claims, policy: &Policy, now: f64) -> Result<()> {
    let (exp, nbf, iat) = (
        numeric(claims, "exp")?,
        numeric(claims, "nbf")?,
        numeric(claims, "iat")?,
    );
    let (iss, sub) = (string_claim(claims, "iss")?, string_claim(claims, "sub")?);
    let aud = audiences(claims)?;
    let Some(exp) = exp else {
        return Err(reject(
            Reason::MissingClaim,
            "the token has no 'exp'; every token must expire",
        )
        .with_claim("exp"));
    };
    check_required(claims, policy)?;
    let times = Times { exp, nbf, iat };
    check_times(&times, policy, now)?;
    check_limits(&times, policy, now)?;
    if !iss.is_some_and(|have| policy.iss_aliases.iter().any(|a| a == have)) {
        expect_string("iss", iss, policy.iss.as_deref())?;
    }
    expect_string("sub", sub, policy.sub.as_deref())?;
    check_audience(aud, &policy.aud)?;
    policy
        .claim_rules
        .iter()
        .try_for_each(|rule| check_rule(claims, rule))
}

/// A claim rule from the flags; the messages name the claim, never its value (a record never
/// holds either).
fn check_rule(claims: &Claims, rule: &ClaimRule) -> Result<()> {
    let name = rule.claim();
    let flag = match rule {
        ClaimRule::Equals(..) => "--claim-eq",
        _ => "--claim-match",
    };
    match rule.judge(claims) {
        Outcome::Holds(_) => Ok(()),
        Outcome::Missing => Err(reject(
            Reason::MissingClaim,
            format!("the token has no {} ({flag})", name.shown()),
        )
        .with_claim(&name.record())),
        Outcome::Differs => Err(reject(
            Reason::ClaimMismatch,
            format!("{} is not what {flag} asks", name.shown()),
        )
        .with_claim(&name.record())),
    }
}

fn check_required(claims: &Claims, policy: &Policy) -> Result<()> {
    match policy
        .require
        .iter()
        .find(|path| path.find(claims).is_none())
    {
        Some(path) => Err(reject(
            Reason::MissingClaim,
            format!("the token has no {} (--require)", path.shown()),
        )
        .with_claim(&path.record())),
        None => Ok(()),
    }
}

/// `exp` (with grace), `nbf` and `iat` against now, each with the leeway.
fn check_times(t: &Times, policy: &Policy, now: f64) -> Result<()> {
    let leeway = policy.leeway_secs as f64;
    if now >= t.exp + leeway + policy.grace_secs as f64 {
        return Err(reject(
            Reason::Expired,
            format!("the token expired at {}; get a new token", when(t.exp)),
        ));
    }
    if let Some(nbf) = t.nbf.filter(|nbf| now + leeway < *nbf) {
        return Err(reject(
            Reason::NotYetValid,
            format!("the token is not valid before {}", when(nbf)),
        ));
    }
    if let Some(iat) = t.iat.filter(|iat| *iat > now + leeway) {
        return Err(reject(
            Reason::IssuedInFuture,
            format!(
                "the token claims to be issued at {}, in the future; check clocks or --leeway",
                when(iat)
            ),
        ));
    }
    Ok(())
}

/// `--min-remaining` and `--max-age`.
fn check_limits(t: &Times, policy: &Policy, now: f64) -> Result<()> {
    if let Some(min) = policy.min_remaining_secs
        && t.exp - now < min as f64
    {
        return Err(reject(
            Reason::ExpiresTooSoon,
            format!(
                "the token expires at {}, sooner than --min-remaining allows",
                when(t.exp)
            ),
        ));
    }
    let Some(max_age) = policy.max_age_secs else {
        return Ok(());
    };
    let Some(iat) = t.iat else {
        return Err(reject(
            Reason::MissingClaim,
            "the token has no 'iat' but --max-age was given",
        )
        .with_claim("iat"));
    };
    if now - iat > max_age as f64 + policy.leeway_secs as f64 {
        return Err(reject(
            Reason::TooOld,
            format!(
                "the token was issued at {}, longer ago than --max-age allows",
                when(iat)
            ),
        ));
    }
    Ok(())
}

/// RFC 7519 §4.1.3: a token with an audience is refused unless one of its audiences is accepted.
fn check_audience(have: Option<Vec<&str>>, want: &[String]) -> Result<()> {
    audience_matches(have, want).map_err(|e| e.with_claim("aud"))
}

fn audience_matches(have: Option<Vec<&str>>, want: &[String]) -> Result<()> {
    match (have, want) {
        (None, []) => Ok(()),
        (Some(_), []) => Err(reject(
            Reason::ClaimMismatch,
            "the token has an audience; pass --aud with the audience you accept",
        )),
        (None, _) => Err(reject(
            Reason::MissingClaim,
            "the token has no 'aud' but --aud was given",
        )),
        (Some(have), want) if have.iter().any(|a| want.iter().any(|w| w == a)) => Ok(()),
        (Some(_), _) => Err(reject(
            Reason::ClaimMismatch,
            "the token's audience is none of the --aud values",
        )),
    }
}

fn expect_string(name: &str, have: Option<&str>, want: Option<&str>) -> Result<()> {
    string_matches(name, have, want).map_err(|e| e.with_claim(name))
}

fn string_matches(name: &str, have: Option<&str>, want: Option<&str>) -> Result<()> {
    match (have, want) {
        (_, None) => Ok(()),
        (None, Some(_)) => Err(reject(
            Reason::MissingClaim,
            format!("the token has no '{name}' but --{name} was given"),
        )),
        (Some(h), Some(w)) if h == w => Ok(()),
        (Some(_), Some(w)) => Err(reject(
            Reason::ClaimMismatch,
            format!("'{name}' is not '{}'", shown(w)),
        )),
    }
}
