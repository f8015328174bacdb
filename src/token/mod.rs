//! Pure token logic over jsonwebtoken: issue, verify and refresh, each taking `now`; no I/O.

mod verify;

pub use verify::{
    DEFAULT_MAX_TOKEN_SIZE, Decoded, KeySource, Policy, Verified, authenticate, decode_unverified,
    grace_used, token_text, verify, verify_precise,
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

use crate::error::{Error, Reason, Result};
use verify::reject;

pub type Claims = Map<String, Value>;

/// Claims jwtctl sets itself; `--claim`/`--claims` may not touch them.
const RESERVED: [(&str, &str); 5] = [
    ("exp", "--ttl sets it"),
    ("iat", "it is always the time of issue"),
    ("nbf", "tokens are valid from the time of issue"),
    ("jti", "it is always 128 random bits"),
    (
        "orig_iat",
        "refresh sets it to the first token's iat (the --max-lifetime cap counts from it)",
    ),
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
    check_registered_types(&claims)?;
    set_lifetime(&mut claims, now, req.ttl_secs, jti);
    Ok(claims)
}

/// `issue` refuses registered claims of a type `verify` always refuses: a token that can never
/// verify is a mistake, not a token.
fn check_registered_types(claims: &Claims) -> Result<()> {
    let wrong = |name: &str, needs: &str| {
        Err(Error::usage(format!(
            "the claim '{name}' must be {needs}; quote the value, e.g. --claim '{name}=\"42\"'"
        )))
    };
    for name in ["sub", "iss"] {
        if claims.get(name).is_some_and(|v| !v.is_string()) {
            return wrong(name, "a string");
        }
    }
    match claims.get("aud") {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        Some(_) => wrong("aud", "a string or an array of strings"),
    }
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
            verify::shown(flag)
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

/// Refresh policy: the new token's lifetime and the cap on a token family's whole life.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    pub ttl_secs: i64,
    /// The clock skew tolerated, as for verification: an `orig_iat` may not lie further ahead.
    pub leeway_secs: i64,
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

/// Where a token family started: its `orig_iat`, else its `iat`, else now.
///
/// Invariant: the cap `orig_iat + max-lifetime` can't be moved later by the token's holder. jwtctl
/// never lets `issue` set `orig_iat`; a token that carries one that is not a number, lies in the
/// future (beyond the leeway), or is later than the token's own `iat` is refused, and so is an
/// `iat` later than `exp`: such a token was not made by a refresh under this policy.
fn family_start(claims: &Claims, now: i64, leeway_secs: i64) -> Result<i64> {
    let invalid = |why: &str| reject(Reason::InvalidClaim, why.to_string());
    let number = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| invalid(&format!("'{name}' must be a number of seconds"))),
    };
    let (orig_iat, iat, exp) = (number("orig_iat")?, number("iat")?, number("exp")?);
    if let (Some(iat), Some(exp)) = (iat, exp) {
        if iat > exp {
            return Err(invalid(
                "'iat' is later than 'exp'; the token contradicts itself",
            ));
        }
    }
    // A start within the leeway ahead of now counts from now: the new token's iat is now, and a
    // family may not start after its token (that would refuse the next refresh).
    let Some(orig_iat) = orig_iat else {
        return Ok(iat.map_or(now, |iat| (iat.floor() as i64).min(now)));
    };
    // Whole seconds: an orig_iat of `time.time()` this very second is not in the future.
    if orig_iat.floor() > now.saturating_add(leeway_secs) as f64 {
        return Err(invalid(
            "'orig_iat' lies in the future; a token family cannot start later than now",
        ));
    }
    if iat.is_some_and(|iat| orig_iat > iat) {
        return Err(invalid(
            "'orig_iat' is later than 'iat'; a token family cannot start after its token",
        ));
    }
    Ok((orig_iat.floor() as i64).min(now))
}

/// Renew a verified token: every claim carried over, a new `iat` and `jti`, `nbf` moved to now
/// when present, `orig_iat` kept (or started), and `exp` = min(now + ttl, orig_iat + max).
pub fn renew(verified: &Verified, now: i64, life: Lifetime, jti: &str) -> Result<Renewal> {
    let claims = &verified.claims;
    let orig_iat = family_start(claims, now, life.leeway_secs)?;
    let cap = orig_iat.saturating_add(life.max_lifetime_secs);
    if now >= cap {
        return Err(reject(
            Reason::MaxLifetimeExceeded,
            format!(
                "this token's family reached its maximum lifetime at {}; sign in again",
                verify::when(cap as f64)
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    const LIFE: Lifetime = Lifetime {
        ttl_secs: 1800,
        leeway_secs: 0,
        max_lifetime_secs: 86400,
    };

    fn verified(claims: Value) -> Verified {
        let Value::Object(claims) = claims else {
            panic!("claims must be an object")
        };
        Verified {
            alg: Algorithm::HS256,
            header: Map::new(),
            claims,
        }
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
    fn renew_keeps_claims_and_caps_the_lifetime() {
        let token = verified(
            serde_json::json!({"exp": NOW + 100, "iat": NOW - 100, "nbf": NOW - 100, "sub": "a", "x": {"y": [1]}}),
        );
        let r = renew(&token, NOW, LIFE, "new").unwrap();
        assert_eq!(r.claims["x"], serde_json::json!({"y": [1]}));
        assert_eq!(r.claims["jti"], "new");
        assert_eq!((r.orig_iat, r.exp), (NOW - 100, NOW + 1800));
        assert_eq!(
            (r.claims["iat"].as_i64(), r.claims["nbf"].as_i64()),
            (Some(NOW), Some(NOW))
        );
        assert_eq!(r.claims["orig_iat"].as_i64(), Some(NOW - 100));
        // Near the cap, exp stops at orig_iat + max.
        let late = verified(serde_json::json!({"exp": NOW + 100, "orig_iat": NOW - 86000}));
        let r = renew(&late, NOW, LIFE, "j").unwrap();
        assert_eq!(r.exp, NOW - 86000 + 86400);
        // At the cap, no refresh.
        let capped = verified(serde_json::json!({"exp": NOW + 100, "orig_iat": NOW - 86400}));
        let e = renew(&capped, NOW, LIFE, "j").unwrap_err();
        assert_eq!(e.reason(), Reason::MaxLifetimeExceeded);
    }

    #[test]
    fn tokens_without_iat_start_their_family_now() {
        let legacy = verified(serde_json::json!({"user_id": 42, "exp": NOW + 100}));
        let r = renew(&legacy, NOW, LIFE, "j").unwrap();
        assert_eq!((r.orig_iat, r.claims["user_id"].as_i64()), (NOW, Some(42)));
        assert!(!r.claims.contains_key("nbf"));
    }

    #[test]
    fn an_orig_iat_that_would_stretch_the_family_is_refused() {
        for claims in [
            serde_json::json!({"exp": NOW + 100, "iat": NOW - 10, "orig_iat": 4_102_444_800_i64}),
            serde_json::json!({"exp": NOW + 100, "iat": NOW - 10, "orig_iat": NOW - 5}),
            serde_json::json!({"exp": NOW + 100, "orig_iat": NOW + 60}),
            serde_json::json!({"exp": NOW + 100, "orig_iat": "0"}),
            serde_json::json!({"exp": NOW + 100, "iat": NOW + 200}),
        ] {
            let e = renew(&verified(claims.clone()), NOW, LIFE, "j").unwrap_err();
            assert_eq!(e.reason(), Reason::InvalidClaim, "{claims}");
        }
        // Within the leeway, a slightly early clock is tolerated.
        let skewed = verified(serde_json::json!({"exp": NOW + 100, "orig_iat": NOW + 5}));
        let lenient = Lifetime {
            leeway_secs: 10,
            ..LIFE
        };
        let renewed = renew(&skewed, NOW, lenient, "j").unwrap();
        assert_eq!(
            renewed.orig_iat, NOW,
            "a start ahead of now counts from now"
        );
        // ... so the refreshed token refreshes in turn (found by the claims_policy fuzz target).
        let again = verified(serde_json::Value::from(renewed.claims));
        assert!(renew(&again, NOW, lenient, "k").is_ok());
        let ahead = verified(serde_json::json!({"exp": NOW + 100, "iat": NOW + 5}));
        assert_eq!(renew(&ahead, NOW, lenient, "j").unwrap().orig_iat, NOW);
    }
}
