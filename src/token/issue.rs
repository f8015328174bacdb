//! Issuing: claims from flags and files (reserved claims refused), and signing them.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

use super::text::{Claims, shown};
use crate::error::{Error, Result};

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
    /// `nbf` (`--nbf`), as Unix seconds; absent by default.
    pub nbf: Option<i64>,
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
    if let Some(nbf) = req.nbf {
        let exp = now.saturating_add(req.ttl_secs);
        if nbf >= exp {
            return Err(Error::usage(
                "--nbf is at or after the token's exp; the token would never be valid",
            ));
        }
        claims.insert("nbf".into(), Value::from(nbf));
    }
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

pub(super) fn set_lifetime(claims: &mut Claims, now: i64, ttl_secs: i64, jti: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::error::Reason;

    const NOW: i64 = 1_800_000_000;

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
}
