//! Pure token logic over jsonwebtoken: issue, verify and refresh, each taking `now`; no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Map, Value};

use crate::error::{Error, Reason, Result};

pub type Claims = Map<String, Value>;

/// Claims jwtctl sets itself; `--claim`/`--claims` may not touch them.
const RESERVED: [(&str, &str); 4] = [
    ("exp", "--ttl sets it"),
    ("iat", "it is always the time of issue"),
    ("nbf", "tokens are valid from the time of issue"),
    ("jti", "it is always 128 random bits"),
];

/// What `issue` was asked to put in a token, before `now` and the random `jti` are known.
#[derive(Debug, Default)]
pub struct IssueRequest {
    /// Claims from `--claims`, lowest precedence.
    pub base: Claims,
    /// `--claim KEY=VALUE` flags, in order.
    pub claim_flags: Vec<String>,
    pub sub: Option<String>,
    pub iss: Option<String>,
    pub aud: Vec<String>,
    pub ttl_secs: i64,
    pub kid: Option<String>,
}

/// Turn an issue request into claims: `--claims` < `--claim` < `--sub/--iss/--aud`, then `iat`,
/// `exp` and `jti`.
pub fn issue_claims(req: &IssueRequest, now: i64, jti: &str) -> Result<Claims> {
    let mut claims = Claims::new();
    for (name, value) in &req.base {
        reject_reserved(name, "--claims")?;
        claims.insert(name.clone(), value.clone());
    }
    for flag in &req.claim_flags {
        let (name, value) = parse_claim_flag(flag)?;
        reject_reserved(&name, "--claim")?;
        claims.insert(name, value);
    }
    if let Some(sub) = &req.sub {
        claims.insert("sub".into(), Value::from(sub.as_str()));
    }
    if let Some(iss) = &req.iss {
        claims.insert("iss".into(), Value::from(iss.as_str()));
    }
    match req.aud.as_slice() {
        [] => {}
        [one] => {
            claims.insert("aud".into(), Value::from(one.as_str()));
        }
        many => {
            claims.insert("aud".into(), Value::from(many.to_vec()));
        }
    }
    set_lifetime(&mut claims, now, req.ttl_secs, jti);
    Ok(claims)
}

fn set_lifetime(claims: &mut Claims, now: i64, ttl_secs: i64, jti: &str) {
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now.saturating_add(ttl_secs)));
    claims.insert("jti".into(), Value::from(jti));
}

fn reject_reserved(name: &str, flag: &str) -> Result<()> {
    match RESERVED.iter().find(|(n, _)| *n == name) {
        Some((_, why)) => Err(Error::usage(format!(
            "'{name}' cannot be set with {flag}: {why}{}",
            if name == "exp" { "; use --ttl" } else { "" }
        ))),
        None => Ok(()),
    }
}

/// `KEY=VALUE`: VALUE is JSON when it parses as JSON, else a string; `=` may occur in VALUE.
pub fn parse_claim_flag(flag: &str) -> Result<(String, Value)> {
    let Some((name, raw)) = flag.split_once('=') else {
        return Err(Error::usage(format!(
            "--claim takes KEY=VALUE, got '{}'",
            shown(flag)
        )));
    };
    if name.is_empty() {
        return Err(Error::usage(
            "--claim needs a name before '=', as in --claim role=admin",
        ));
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::from(raw));
    Ok((name.to_string(), value))
}

/// Sign claims into a compact JWS.
pub fn sign(
    claims: &Claims,
    alg: Algorithm,
    kid: Option<&str>,
    typ: Option<&str>,
    key: &EncodingKey,
) -> Result<String> {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).map_err(|_| {
        Error::key(format!(
            "signing with {alg:?} failed; check that the key is valid"
        ))
    })
}

/// What a token must satisfy to be accepted.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The one algorithm accepted, pinned from `--alg` or the key, never from the token.
    pub alg: Algorithm,
    pub leeway_secs: i64,
    /// Extra tolerance for `exp` only: how long after expiry a token may still be refreshed.
    pub grace_secs: i64,
    pub iss: Option<String>,
    pub sub: Option<String>,
    /// Accepted audiences: the token must carry at least one of them. Empty: the token must
    /// carry no `aud` at all (RFC 7519 §4.1.3).
    pub aud: Vec<String>,
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub header: Map<String, Value>,
    pub claims: Claims,
}

impl Verified {
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }
}

/// The token text from user input: surrounding whitespace and a leading `Bearer ` are accepted.
pub fn token_text(input: &str) -> &str {
    let t = input.trim();
    match t.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => t[7..].trim_start(),
        _ => t,
    }
}

/// A value from the token, made safe and short for a one-line message.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

fn reject(reason: Reason, message: impl Into<String>) -> Error {
    Error::rejected(reason, message)
}

fn decode_json_object(segment: &str, what: &str) -> Result<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| reject(Reason::Malformed, format!("the {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(reject(
            Reason::Malformed,
            format!("the {what} is not a JSON object"),
        )),
    }
}

/// Verify a token's signature (with the pinned algorithm) and then its claims, as of `now`.
pub fn verify(token: &str, key: &DecodingKey, policy: &Policy, now: i64) -> Result<Verified> {
    let verified = verify_signature(token, key, policy.alg)?;
    check_claims(&verified.claims, policy, now)?;
    Ok(verified)
}

/// Verify only the form and signature of a token (for `revoke`, which accepts expired tokens).
pub fn verify_signature(token: &str, key: &DecodingKey, alg: Algorithm) -> Result<Verified> {
    if token.is_empty() {
        return Err(reject(
            Reason::Malformed,
            "no token given; pass it as an argument or on stdin",
        ));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(reject(
            Reason::Malformed,
            "a token is three base64url parts separated by '.'",
        ));
    };
    let header = decode_json_object(h, "header")?;
    check_alg(&header, alg)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| reject(Reason::Malformed, "the signature is not base64url"))?;
    if signature.is_empty() {
        return Err(reject(Reason::BadSignature, "the token has no signature"));
    }
    let message_len = h.len() + 1 + p.len();
    let valid = jsonwebtoken::crypto::verify(s, &token.as_bytes()[..message_len], key, alg)
        .unwrap_or(false);
    if !valid {
        return Err(reject(
            Reason::BadSignature,
            "the signature does not match the key; check that the right key is used",
        ));
    }
    let claims = decode_json_object(p, "payload")?;
    Ok(Verified { header, claims })
}

fn check_alg(header: &Map<String, Value>, pinned: Algorithm) -> Result<()> {
    let Some(alg) = header.get("alg").and_then(Value::as_str) else {
        return Err(reject(Reason::Malformed, "the header has no 'alg' string"));
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(reject(
            Reason::AlgNotAllowed,
            "unsigned tokens (alg none) are never accepted",
        ));
    }
    if alg != format!("{pinned:?}") {
        return Err(reject(
            Reason::AlgNotAllowed,
            format!(
                "the token says alg {} but {pinned:?} is pinned; pass --alg if the key should \
                 accept it",
                shown(alg)
            ),
        ));
    }
    Ok(())
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

fn when(secs: f64) -> String {
    chrono::DateTime::from_timestamp(secs.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{secs} (out of range)"))
}

fn check_claims(claims: &Claims, policy: &Policy, now: i64) -> Result<()> {
    let now_f = now as f64;
    let leeway = policy.leeway_secs as f64;
    let exp = numeric(claims, "exp")?;
    let nbf = numeric(claims, "nbf")?;
    let iat = numeric(claims, "iat")?;
    let iss = string_claim(claims, "iss")?;
    let sub = string_claim(claims, "sub")?;
    let aud = audiences(claims)?;

    let Some(exp) = exp else {
        return Err(reject(
            Reason::MissingClaim,
            "the token has no 'exp'; every token must expire",
        ));
    };
    if now_f >= exp + leeway + policy.grace_secs as f64 {
        return Err(reject(
            Reason::Expired,
            format!("the token expired at {}; get a new token", when(exp)),
        ));
    }
    if let Some(nbf) = nbf {
        if now_f + leeway < nbf {
            return Err(reject(
                Reason::NotYetValid,
                format!("the token is not valid before {}", when(nbf)),
            ));
        }
    }
    if let Some(iat) = iat {
        if iat > now_f + leeway {
            return Err(reject(
                Reason::IssuedInFuture,
                format!(
                    "the token claims to be issued at {}, in the future; check clocks or --leeway",
                    when(iat)
                ),
            ));
        }
    }
    expect_string("iss", iss, policy.iss.as_deref())?;
    expect_string("sub", sub, policy.sub.as_deref())?;
    match (aud, policy.aud.as_slice()) {
        (None, []) => {}
        (Some(_), []) => {
            return Err(reject(
                Reason::ClaimMismatch,
                "the token has an audience; pass --aud with the audience you accept",
            ));
        }
        (None, _) => {
            return Err(reject(
                Reason::MissingClaim,
                "the token has no 'aud' but --aud was given",
            ));
        }
        (Some(have), want) => {
            if !have.iter().any(|a| want.iter().any(|w| w == a)) {
                return Err(reject(
                    Reason::ClaimMismatch,
                    "the token's audience is none of the --aud values",
                ));
            }
        }
    }
    Ok(())
}

fn expect_string(name: &str, have: Option<&str>, want: Option<&str>) -> Result<()> {
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

/// Refresh policy: the new token's lifetime and the cap on a token family's whole life.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    pub ttl_secs: i64,
    /// Counted from `orig_iat`: no refresh at or after `orig_iat + max_lifetime_secs`.
    pub max_lifetime_secs: i64,
}

/// The claims of a refreshed token, and what the record says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Renewal {
    pub claims: Claims,
    pub orig_iat: i64,
    pub exp: i64,
}

/// A claim's value as whole seconds (floored; out-of-range values saturate).
pub fn seconds(claims: &Claims, name: &str) -> Option<i64> {
    claims
        .get(name)
        .and_then(Value::as_f64)
        .map(|n| n.floor() as i64)
}

/// Renew a verified token: every claim carried over, a new `iat` and `jti`, `nbf` moved to now
/// when present, `orig_iat` kept (or started), and `exp` = min(now + ttl, orig_iat + max).
pub fn renew(verified: &Verified, now: i64, life: Lifetime, jti: &str) -> Result<Renewal> {
    let claims = &verified.claims;
    if claims.get("orig_iat").is_some_and(|v| !v.is_number()) {
        return Err(reject(
            Reason::InvalidClaim,
            "'orig_iat' must be a number of seconds",
        ));
    }
    let orig_iat = seconds(claims, "orig_iat")
        .or_else(|| seconds(claims, "iat"))
        .unwrap_or(now);
    let cap = orig_iat.saturating_add(life.max_lifetime_secs);
    if now >= cap {
        return Err(reject(
            Reason::MaxLifetimeExceeded,
            format!(
                "this token's family reached its maximum lifetime at {}; sign in again",
                when(cap as f64)
            ),
        ));
    }
    let exp = now.saturating_add(life.ttl_secs).min(cap);
    let mut claims = claims.clone();
    set_lifetime(&mut claims, now, exp - now, jti);
    claims.insert("orig_iat".into(), Value::from(orig_iat));
    if claims.contains_key("nbf") {
        claims.insert("nbf".into(), Value::from(now));
    }
    Ok(Renewal {
        claims,
        orig_iat,
        exp,
    })
}

/// Seconds past `exp` when a token was accepted only thanks to the grace window.
pub fn grace_used(verified: &Verified, policy: &Policy, now: i64) -> Option<i64> {
    let exp = verified.claims.get("exp").and_then(Value::as_f64)?;
    (now as f64 >= exp + policy.leeway_secs as f64).then(|| (now as f64 - exp).floor() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn policy() -> Policy {
        Policy {
            alg: Algorithm::HS256,
            leeway_secs: 0,
            grace_secs: 0,
            iss: None,
            sub: None,
            aud: vec![],
        }
    }

    fn mint(claims: Value) -> String {
        let Value::Object(map) = claims else {
            panic!("claims must be an object")
        };
        sign(
            &map,
            Algorithm::HS256,
            None,
            Some("JWT"),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn check(token: &str, policy: &Policy) -> Result<Verified> {
        verify(token, &DecodingKey::from_secret(SECRET), policy, NOW)
    }

    fn reason(token: &str, policy: &Policy) -> Reason {
        check(token, policy).unwrap_err().reason()
    }

    #[test]
    fn issued_claims_follow_flag_precedence() {
        let req = IssueRequest {
            base: serde_json::from_str(r#"{"sub":"file","role":"user","n":1}"#).unwrap(),
            claim_flags: vec!["role=admin".into(), "n=2".into(), "eq=a=b".into()],
            sub: Some("alice".into()),
            aud: vec!["a".into(), "b".into()],
            ttl_secs: 60,
            ..Default::default()
        };
        let c = issue_claims(&req, NOW, "J").unwrap();
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["role"], "admin");
        assert_eq!(c["n"], 2);
        assert_eq!(c["eq"], "a=b");
        assert_eq!(c["aud"], serde_json::json!(["a", "b"]));
        assert_eq!(
            (c["iat"].as_i64(), c["exp"].as_i64()),
            (Some(NOW), Some(NOW + 60))
        );
    }

    #[test]
    fn reserved_claims_are_refused_with_the_flag_to_use() {
        let req = IssueRequest {
            claim_flags: vec!["exp=1".into()],
            ..Default::default()
        };
        let e = issue_claims(&req, NOW, "J").unwrap_err();
        assert_eq!(e.reason(), Reason::Usage);
        assert!(e.message().contains("--ttl"));
    }

    #[test]
    fn expiry_is_on_or_after_exp_plus_leeway() {
        let at_exp = mint(serde_json::json!({"exp": NOW}));
        assert_eq!(reason(&at_exp, &policy()), Reason::Expired);
        let just_before = mint(serde_json::json!({"exp": NOW + 1}));
        assert!(check(&just_before, &policy()).is_ok());
        let lenient = Policy {
            leeway_secs: 1,
            ..policy()
        };
        assert!(check(&at_exp, &lenient).is_ok());
    }

    #[test]
    fn every_claim_check_has_its_reason() {
        let p = policy();
        let exp = NOW + 100;
        assert_eq!(
            reason(&mint(serde_json::json!({})), &p),
            Reason::MissingClaim
        );
        assert_eq!(
            reason(&mint(serde_json::json!({"exp": "x"})), &p),
            Reason::InvalidClaim
        );
        assert_eq!(
            reason(&mint(serde_json::json!({"exp": exp, "nbf": NOW + 5})), &p),
            Reason::NotYetValid
        );
        assert_eq!(
            reason(&mint(serde_json::json!({"exp": exp, "iat": NOW + 5})), &p),
            Reason::IssuedInFuture
        );
        assert_eq!(
            reason(&mint(serde_json::json!({"exp": exp, "aud": "x"})), &p),
            Reason::ClaimMismatch
        );
        let want_iss = Policy {
            iss: Some("me".into()),
            ..policy()
        };
        assert_eq!(
            reason(&mint(serde_json::json!({"exp": exp})), &want_iss),
            Reason::MissingClaim
        );
        assert_eq!(
            reason(
                &mint(serde_json::json!({"exp": exp, "iss": "you"})),
                &want_iss
            ),
            Reason::ClaimMismatch
        );
        let want_aud = Policy {
            aud: vec!["a".into(), "b".into()],
            ..policy()
        };
        assert!(
            check(
                &mint(serde_json::json!({"exp": exp, "aud": ["z", "b"]})),
                &want_aud
            )
            .is_ok()
        );
        assert_eq!(
            reason(
                &mint(serde_json::json!({"exp": exp, "aud": ["z"]})),
                &want_aud
            ),
            Reason::ClaimMismatch
        );
    }

    #[test]
    fn the_algorithm_comes_from_the_policy_not_the_token() {
        let token = mint(serde_json::json!({"exp": NOW + 100}));
        let hs512 = Policy {
            alg: Algorithm::HS512,
            ..policy()
        };
        assert_eq!(reason(&token, &hs512), Reason::AlgNotAllowed);
        let body = token.split('.').nth(1).unwrap();
        let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#));
        assert_eq!(reason(&none, &policy()), Reason::AlgNotAllowed);
    }

    #[test]
    fn tampering_and_garbage_are_told_apart() {
        let token = mint(serde_json::json!({"exp": NOW + 100, "sub": "a"}));
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!(
            "{head}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(br#"{"exp":1900000000,"sub":"b"}"#)
        );
        assert_eq!(reason(&forged, &policy()), Reason::BadSignature);
        assert_eq!(reason("a.b", &policy()), Reason::Malformed);
        assert_eq!(reason("%%%.a.b", &policy()), Reason::Malformed);
    }

    #[test]
    fn bearer_prefix_and_whitespace_are_accepted() {
        assert_eq!(token_text("  Bearer abc.def.ghi\n"), "abc.def.ghi");
        assert_eq!(token_text("abc.def.ghi\r\n"), "abc.def.ghi");
    }

    const LIFE: Lifetime = Lifetime {
        ttl_secs: 1800,
        max_lifetime_secs: 86400,
    };

    #[test]
    fn renew_keeps_claims_and_caps_the_lifetime() {
        let token = mint(
            serde_json::json!({"exp": NOW + 100, "iat": NOW - 100, "nbf": NOW - 100, "sub": "a", "x": {"y": [1]}}),
        );
        let verified = check(&token, &policy()).unwrap();
        let r = renew(&verified, NOW, LIFE, "new").unwrap();
        assert_eq!(r.claims["x"], serde_json::json!({"y": [1]}));
        assert_eq!(r.claims["jti"], "new");
        assert_eq!((r.orig_iat, r.exp), (NOW - 100, NOW + 1800));
        assert_eq!(
            (r.claims["iat"].as_i64(), r.claims["nbf"].as_i64()),
            (Some(NOW), Some(NOW))
        );
        assert_eq!(r.claims["orig_iat"].as_i64(), Some(NOW - 100));
        // Near the cap, exp stops at orig_iat + max.
        let late = mint(serde_json::json!({"exp": NOW + 100, "orig_iat": NOW - 86000}));
        let r = renew(&check(&late, &policy()).unwrap(), NOW, LIFE, "j").unwrap();
        assert_eq!(r.exp, NOW - 86000 + 86400);
        // At the cap, no refresh.
        let capped = mint(serde_json::json!({"exp": NOW + 100, "orig_iat": NOW - 86400}));
        let e = renew(&check(&capped, &policy()).unwrap(), NOW, LIFE, "j").unwrap_err();
        assert_eq!(e.reason(), Reason::MaxLifetimeExceeded);
    }

    #[test]
    fn tokens_without_iat_start_their_family_now() {
        let legacy = mint(serde_json::json!({"user_id": 42, "exp": NOW + 100}));
        let r = renew(&check(&legacy, &policy()).unwrap(), NOW, LIFE, "j").unwrap();
        assert_eq!((r.orig_iat, r.claims["user_id"].as_i64()), (NOW, Some(42)));
        assert!(!r.claims.contains_key("nbf"));
    }

    #[test]
    fn grace_extends_exp_only_and_is_measured() {
        let token = mint(serde_json::json!({"exp": NOW - 30}));
        assert_eq!(reason(&token, &policy()), Reason::Expired);
        let graced = Policy {
            grace_secs: 60,
            ..policy()
        };
        let verified = check(&token, &graced).unwrap();
        assert_eq!(grace_used(&verified, &graced, NOW), Some(30));
        let fresh = check(&mint(serde_json::json!({"exp": NOW + 30})), &graced).unwrap();
        assert_eq!(grace_used(&fresh, &graced, NOW), None);
        let early = mint(serde_json::json!({"exp": NOW + 30, "nbf": NOW + 10}));
        assert_eq!(reason(&early, &graced), Reason::NotYetValid);
    }
}
