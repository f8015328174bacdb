//! `--policy FILE` for the verifying commands (read the file under the key files' rule, pick the
//! issuer a token names, verify with its keys and settings, judge its rules) and `jwtctl policy`
//! (check, new, pin).

use std::path::{Path, PathBuf};

use crate::token::Algorithm;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Ctx, Done, KeySet, verifying_keys};
use crate::audit::Record;
use crate::cli::{KeyArgs, PolicyAction, RemoteArgs};
use crate::error::{Error, Reason, Rejection, Result};
use crate::keys::Keyring;
use crate::keys::remote::Location;
use crate::policy::{self, Issuer, KeySource, PolicyFile, Refusal};
use crate::token::{self, Claims, Policy, Verdict, Verified};
use crate::trusted::ReadError;

/// A policy file as read: where it is, its SHA-256, and what it says.
#[derive(Debug)]
pub struct Loaded {
    /// The path as given, for messages and records.
    pub shown: String,
    /// The directory a relative `jwks_file` is found in.
    pub dir: PathBuf,
    pub sha256: String,
    pub file: PolicyFile,
}

/// What `--output json` adds for a token a policy let through: the policy file, the issuer
/// entry that judged it, and the identity (issuer, subject and the claims the policy looked at).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passed {
    pub file: String,
    pub sha256: String,
    pub issuer: String,
    pub identity: Map<String, Value>,
}

/// Read and parse the policy file at `path` (a file another user could replace is refused, as a
/// key file is; so is anything but a regular file: a FIFO or `<(...)` has no contents to
/// review), noting it and its SHA-256 in the record.
pub fn load(path: &Path, ctx: &Ctx, rec: &mut Record) -> Result<Loaded> {
    let shown = path.display().to_string();
    // A token or secret given for the path is not recorded either (see escape::looks_like_material).
    if !crate::escape::looks_like_material(path) {
        rec.policy = Some(shown.clone());
    }
    let contents = crate::trusted::read_regular(path).map_err(|e| match e {
        ReadError::Io(_) if crate::escape::looks_like_material(path) => Error::new(
            Reason::PolicyError,
            crate::escape::not_a_file("--policy", "give the path of a policy file (TOML)"),
        ),
        ReadError::Io(e) => Error::new(
            Reason::PolicyError,
            format!(
                "cannot read the policy file {shown}: {}",
                crate::error::io_words(&e)
            ),
        ),
        ReadError::Refused(refusal) => {
            Error::new(Reason::PolicyError, refusal.message("policy file", path))
        }
    })?;
    let sha256 = crate::hash::sha256_hex(&contents.bytes);
    rec.policy_sha256 = Some(sha256.clone());
    if crate::keys::loose_mode(contents.mode, false).is_some() {
        crate::sys::eprint_line(&format!(
            "jwtctl: warning: policy file {shown} can be changed by other users (mode {:04o}); \
             run chmod go-w {shown}",
            contents.mode
        ));
        ctx.audit.warning(rec.op, "policy_file_exposed")?;
    }
    let file = parse(&contents.bytes, &shown)?;
    Ok(Loaded {
        dir: crate::trusted::dir_of(path),
        shown,
        sha256,
        file,
    })
}

/// Parse a policy file's bytes; an error names the file and line.
fn parse(bytes: &[u8], shown: &str) -> Result<PolicyFile> {
    let bad = |line: usize, message: &str| {
        let at = match line {
            0 => String::new(),
            line => format!(", line {line}"),
        };
        Error::new(
            Reason::PolicyError,
            format!("the policy file {shown}{at}: {message}"),
        )
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad(0, "it is not UTF-8 text"))?;
    policy::parse(text).map_err(|e| bad(e.line, &e.message))
}

/// The keys of the issuer a token names, and the algorithms they accept (`kid`: the token's, so
/// a rotated remote set is refetched).
pub fn issuer_keys(
    loaded: &Loaded,
    issuer: &Issuer,
    key: &KeyArgs,
    remote: &RemoteArgs,
    kid: Option<&str>,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<(Keyring, Vec<Algorithm>)> {
    let keys = match &issuer.keys {
        KeySource::JwksFile(path) => {
            let path = loaded.dir.join(path);
            verifying_keys(key, KeySet::Local(Some(&path)), ctx, rec)
        }
        KeySource::Oidc(url) => {
            let remote = super::remote_at(Location::Oidc(url.clone()), remote);
            verifying_keys(key, KeySet::Remote(&remote, kid), ctx, rec)
        }
        KeySource::JwksUrl(url) => {
            let remote = super::remote_at(Location::JwksUrl(url.clone()), remote);
            verifying_keys(key, KeySet::Remote(&remote, kid), ctx, rec)
        }
    };
    keys.map_err(|e| in_policy_words(loaded, issuer, e))
}

/// The setting an issuer's keys come from, as the policy writes it (`issuer[1].jwks_file`).
pub fn key_setting(issuer: &Issuer) -> String {
    let setting = match issuer.keys {
        KeySource::Oidc(_) => "oidc",
        KeySource::JwksUrl(_) => "jwks_url",
        KeySource::JwksFile(_) => "jwks_file",
    };
    format!("{}.{setting}", issuer.path)
}

/// Where an issuer's keys come from as the policy says it (`jwks_file = "k.json"`), for what
/// a line refused because they could not be loaded "expected".
pub fn key_source_shown(issuer: &Issuer) -> String {
    let q = |s: &str| Value::from(s).to_string();
    match &issuer.keys {
        KeySource::Oidc(url) if *url == issuer.url => "oidc = true".to_owned(),
        KeySource::Oidc(url) => format!("oidc = {}", q(url)),
        KeySource::JwksUrl(url) => format!("jwks_url = {}", q(url)),
        KeySource::JwksFile(path) => format!("jwks_file = {}", q(&path.to_string_lossy())),
    }
}

/// A failure to load an issuer's keys, naming the policy setting they come from instead of the
/// flags the key loaders name (`--jwks`, `--key-file`, `--oidc`), which do not apply under a
/// policy. A log failure stays as it is.
fn in_policy_words(loaded: &Loaded, issuer: &Issuer, e: Error) -> Error {
    if e.reason() == Reason::LogError {
        return e;
    }
    let mut message = e.message().to_owned();
    for (flag, words) in [
        ("; check --jwks", ""),
        ("the --jwks file", "the JWK Set file"),
        ("; give it with --key-file", ""),
        ("; a single JWK goes to --key-file", ""),
        ("as --oidc gives", "as the policy's url gives"),
    ] {
        message = message.replace(flag, words);
    }
    Error::new(
        e.reason(),
        format!("policy {} {}: {message}", loaded.shown, key_setting(issuer)),
    )
}

/// The verification policy for `issuer`: the flags' (leeway, typ, sizes) with the issuer's
/// URL (and its aliases), audiences, algorithms (those the keys serve, when the policy names none), maximum age
/// and required claims.
pub fn issuer_policy(issuer: &Issuer, base: &Policy, algs: Vec<Algorithm>) -> Policy {
    Policy {
        algs: match issuer.algorithms.is_empty() {
            true => algs,
            false => issuer.algorithms.clone(),
        },
        iss: Some(issuer.url.clone()),
        iss_aliases: issuer.aliases.clone(),
        aud: issuer.audiences.clone(),
        require: issuer.require.clone(),
        max_age_secs: issuer.max_age_secs,
        claim_rules: Vec::new(),
        ..base.clone()
    }
}

/// The issuer entry for a token, judged from its unverified claims (verification then requires
/// the token's `iss` to be that issuer's URL); a token naming none the policy lists is refused.
pub fn issuer_of<'a>(loaded: &'a Loaded, claims: &Claims) -> Result<&'a Issuer> {
    loaded.file.issuer_for(claims).ok_or_else(|| {
        let expected = loaded.file.issuer_urls();
        let (reason, what) = match token::claim(claims, "iss") {
            None => (Reason::MissingClaim, "the token has no 'iss'; it must be"),
            Some(_) => (Reason::ClaimMismatch, "'iss' must be"),
        };
        Error::rejected(
            reason,
            format!("policy {} issuer: {what} {expected}", loaded.shown),
        )
        .with_claim("iss")
        .with_rule("issuer", expected)
    })
}

/// Verify `text` under the policy and judge its claims by the rules of the issuer it names.
pub fn judge(
    loaded: &Loaded,
    text: &str,
    base: &Policy,
    keys: (&KeyArgs, &RemoteArgs),
    ctx: &Ctx,
    rec: &mut Record,
    now: f64,
) -> Result<Verdict<(Verified, Passed)>> {
    let decoded = match token::decode_unverified(text, base.max_size) {
        Ok(decoded) => decoded,
        Err(e) => return Ok(Verdict::Rejected(e.into_rejection()?)),
    };
    let issuer = match issuer_of(loaded, &decoded.claims) {
        Ok(issuer) => issuer,
        Err(e) => return Ok(Verdict::Rejected(e.into_rejection()?)),
    };
    let kid = decoded.header.get("kid").and_then(Value::as_str);
    let (ring, algs) = issuer_keys(loaded, issuer, keys.0, keys.1, kid, ctx, rec)?;
    let policy = issuer_policy(issuer, base, algs);
    judge_with(loaded, issuer, text, &ring, &policy, now)
}

/// Verify `text` with an issuer's keys and policy, then judge its rules.
pub fn judge_with(
    loaded: &Loaded,
    issuer: &Issuer,
    text: &str,
    keys: &dyn token::KeySource,
    policy: &Policy,
    now: f64,
) -> Result<Verdict<(Verified, Passed)>> {
    Ok(match token::judge(text, keys, policy, now)? {
        Verdict::Rejected(r) => Verdict::Rejected(explained(loaded, issuer, r)),
        Verdict::Valid(verified) => match issuer.judge(&verified.claims) {
            Ok(()) => {
                let passed = passed(loaded, issuer, &verified.claims);
                Verdict::Valid((verified, passed))
            }
            Err(refusal) => {
                Verdict::Rejected(refused(loaded, refusal)?.signed_by(verified.signed()))
            }
        },
    })
}

/// What a passed token shows.
fn passed(loaded: &Loaded, issuer: &Issuer, claims: &Claims) -> Passed {
    Passed {
        file: loaded.shown.clone(),
        sha256: loaded.sha256.clone(),
        issuer: issuer.path.clone(),
        identity: policy::identity(issuer, claims),
    }
}

/// A rule's refusal as a rejection naming the rule, the claim and what was expected.
fn refused(loaded: &Loaded, refusal: Refusal) -> Result<Rejection> {
    let reason = match refusal.missing {
        true => Reason::MissingClaim,
        false => Reason::ClaimMismatch,
    };
    let mut error = Error::rejected(reason, refusal.message(&loaded.shown))
        .with_rule(refusal.rule, refusal.expected);
    if let Some(claim) = &refusal.claim {
        error = error.with_claim(&claim.record());
    }
    error.into_rejection()
}

/// A rejection of the token core about a setting the policy gave (audiences, algorithms,
/// max_age, require), said in the policy's words and naming the setting; others stand.
fn explained(loaded: &Loaded, issuer: &Issuer, r: Rejection) -> Rejection {
    let (setting, expected) = match (r.reason(), r.claim()) {
        (_, Some("aud")) => (
            "audiences",
            token::one_of(issuer.audiences.iter().map(|a| token::quoted(a))),
        ),
        (_, Some("iss")) if issuer.aliases.is_empty() => ("url", token::quoted(&issuer.url)),
        (_, Some("iss")) => (
            "url",
            token::one_of(issuer.issuer_names().map(token::quoted)),
        ),
        (Reason::TooOld, _) | (Reason::MissingClaim, Some("iat"))
            if issuer.max_age_secs.is_some() =>
        {
            (
                "max_age",
                format!("at most {}s ago", issuer.max_age_secs.unwrap_or_default()),
            )
        }
        (Reason::MissingClaim, Some(claim))
            if issuer.require.iter().any(|c| c.record() == claim) =>
        {
            ("require", "present".to_owned())
        }
        (Reason::AlgNotAllowed, _) if !issuer.algorithms.is_empty() => (
            "algorithms",
            token::one_of(
                issuer
                    .algorithms
                    .iter()
                    .map(|a| token::alg_name(*a).to_owned()),
            ),
        ),
        _ => return r,
    };
    let path = format!("{}.{setting}", issuer.path);
    // The claim as the policy names it: a required path by its keys, escaped.
    let shown = |claim: &str| {
        issuer
            .require
            .iter()
            .find(|c| c.record() == claim)
            .map_or_else(|| token::ClaimPath::name(claim).shown(), |c| c.shown())
    };
    // A token too old is about its `iat` (the core names no claim for it).
    let claim = match r.reason() {
        Reason::TooOld => Some("iat"),
        _ => r.claim(),
    };
    let subject = match (r.reason(), claim) {
        (Reason::MissingClaim, Some(claim)) => {
            format!("the token has no {}; it must be", shown(claim))
        }
        (_, Some(claim)) => format!("{} must be", shown(claim)),
        (Reason::AlgNotAllowed, None) => "the token's alg must be".to_owned(),
        (_, None) => "the token must be".to_owned(),
    };
    let message = format!("policy {} {path}: {subject} {expected}", loaded.shown);
    let claim = claim.map(str::to_owned);
    r.under_policy(path, expected, message).about(claim)
}

/// `jwtctl policy check|new|pin`.
pub fn run(action: &PolicyAction, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    match action {
        PolicyAction::Check(args) => check(&args.file, ctx, rec),
        PolicyAction::New(args) => new(args),
        PolicyAction::Pin(args) => pin(args, rec),
    }
}

/// `policy check FILE`: parse, then what parses but is wrong (an error, exit 2) or unwise (a
/// warning on stderr); print the policy normalised.
fn check(path: &Path, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let loaded = load(path, ctx, rec)?;
    let findings = policy::warnings(&loaded.file);
    if let Some(error) = policy::first_error(&findings) {
        return Err(Error::new(
            Reason::PolicyError,
            format!("the policy file {}, {error}", loaded.shown),
        ));
    }
    let unserved = loaded
        .file
        .issuers
        .iter()
        .filter_map(|issuer| unserved_algorithms(&loaded, issuer));
    for warning in findings.iter().cloned().chain(unserved) {
        crate::sys::eprint_line(&format!(
            "jwtctl: warning: the policy file {}, line {}: {}",
            loaded.shown, warning.line, warning.message
        ));
        ctx.audit.warning(rec.op, "policy_warning")?;
    }
    let normalised = policy::normalised(&loaded.file);
    // `policy new` leaves REPLACE-… values for what only a real token can tell.
    let placeholders = normalised.matches("REPLACE-").count();
    if placeholders > 0 {
        crate::sys::eprint_line(&format!(
            "jwtctl: warning: the policy file {}: {placeholders} placeholder{} left (REPLACE-…): \
             run jwtctl policy pin TOKEN with a sample token and put its rules in place of them",
            loaded.shown,
            if placeholders == 1 { "" } else { "s" }
        ));
        ctx.audit.warning(rec.op, "policy_warning")?;
    }
    Ok(Done::Print(normalised))
}

/// A warning for `algorithms` naming one that no key of the issuer's `jwks_file` verifies with
/// (every token signed so would be refused `no_matching_key`). A file that cannot be read or
/// parsed is left to `verify`, which says why; a fetched set is not fetched by `policy check`.
fn unserved_algorithms(loaded: &Loaded, issuer: &Issuer) -> Option<policy::Finding> {
    let KeySource::JwksFile(path) = &issuer.keys else {
        return None;
    };
    if issuer.algorithms.is_empty() {
        return None;
    }
    let contents = crate::trusted::read(&loaded.dir.join(path)).ok()?;
    let set = crate::keys::JwkSet::parse(&crate::keys::Secret::new(contents.bytes)).ok()?;
    let ring = Keyring::Set(set);
    let unserved: Vec<&str> = issuer
        .algorithms
        .iter()
        .filter(|alg| {
            !ring
                .keys()
                .iter()
                .any(|key| key.verifies && key.fits(**alg, false))
        })
        .map(|alg| token::alg_name(*alg))
        .collect();
    (!unserved.is_empty()).then(|| policy::Finding {
        error: false,
        line: issuer.line,
        message: format!(
            "{}.algorithms names {} but no key of its jwks_file {} verifies with it, so every \
             token signed so is refused (no_matching_key); drop it or add the key",
            issuer.path,
            unserved.join(", "),
            token::quoted(&path.to_string_lossy())
        ),
    })
}

/// `policy new --preset P`: a starting policy with comments, for the provider's issuer.
fn new(args: &crate::cli::PolicyNewArgs) -> Result<Done> {
    let preset = policy::presets::Preset::from_name(&args.preset).ok_or_else(|| {
        Error::usage(format!(
            "--preset takes one of {}",
            policy::presets::Preset::names()
        ))
    })?;
    for repo in &args.repository {
        if repo.split('/').filter(|p| !p.is_empty()).count() < 2
            || repo.contains(char::is_whitespace)
        {
            return Err(Error::usage(
                "--repository takes OWNER/NAME, as in --repository acme/deploy",
            ));
        }
    }
    let issuer = args.issuer.as_deref().unwrap_or(preset.issuer());
    Ok(Done::Print(policy::presets::template(
        preset,
        issuer,
        args.aud.as_deref(),
        &args.repository,
    )))
}

/// `policy pin TOKEN`: the id rules that pin the names a sample token carries. The token is only
/// decoded: the ids are what it says, to be checked before they go into a policy.
fn pin(args: &crate::cli::PolicyPinArgs, rec: &mut Record) -> Result<Done> {
    let text = super::read_token(args.token.as_deref(), rec, false)?;
    let decoded = token::decode_unverified(&text, token::DEFAULT_MAX_TOKEN_SIZE)?;
    let rules = policy::presets::pin_rules(&decoded.claims);
    if rules.is_empty() {
        return Err(Error::usage(
            "the token carries none of the names jwtctl pins (GitHub's repository and \
             repository_owner, GitLab's project_path and namespace_path, a Kubernetes service \
             account's name) with its id",
        ));
    }
    Ok(Done::Print(rules))
}
