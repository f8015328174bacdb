//! Issuing: claims from flags and files (reserved claims refused), and signing them.

use serde_json::{Map, Value};

use super::text::{Claims, shown};
use crate::error::{Error, Result};

/// Claims jwtctl sets itself; `--claim`/`--claims` may not touch them.
const RESERVED: [(&str, &str); 5] = [
    ("exp", "--ttl or --exp sets it"),
    ("iat", "it is the time of issue, or --iat"),
    ("nbf", "--nbf sets it"),
    ("jti", "it is 128 random bits unless --jti gives it"),
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
    /// `iat` (`--iat`) instead of now, for test tokens.
    pub iat: Option<i64>,
    /// `exp` (`--exp`) instead of iat + ttl, for test tokens (in the past for an expired one).
    pub exp: Option<i64>,
}

/// Turn an issue request into claims: `--claims` < `--claim` < `--sub/--iss/--aud`, then `iat`,
/// `exp` and `jti`.
pub fn issue_claims(req: &IssueRequest, now: i64, jti: &str) -> Result<Claims> {
    let mut claims = Claims::new();
    for (name, value) in &req.base {
        reject_reserved(name, "--claims")?;
        check_ids(name, value, "--claims")?;
        claims.insert(name.clone(), value.clone());
    }
    for flag in &req.claim_flags {
        let (name, value) = parse_claim_flag(flag)?;
        reject_reserved(&name, "--claim")?;
        check_ids(&name, &value, "--claim")?;
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
    // iat: --iat, else now (else, for an --exp already past, --ttl before it); exp: --exp, else
    // iat + --ttl. A token valid at no instant is a mistake, not a test token.
    let iat = match (req.iat, req.exp) {
        (Some(iat), _) => iat,
        (None, Some(exp)) if exp <= now => exp.saturating_sub(req.ttl_secs),
        (None, _) => now,
    };
    let exp = req.exp.unwrap_or_else(|| iat.saturating_add(req.ttl_secs));
    if exp <= iat {
        return Err(Error::usage(
            "the token's exp is not after its iat; give an --exp later than --iat",
        ));
    }
    claims.insert("iat".into(), Value::from(iat));
    claims.insert("exp".into(), Value::from(exp));
    claims.insert("jti".into(), Value::from(jti));
    if let Some(nbf) = req.nbf {
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

/// The registered claims that identify (`iss`, `sub`, each `aud`) hold what the `--iss`,
/// `--sub` and `--aud` flags may ([`crate::id::problem`]), whichever way they are given: a token
/// never carries an issuer, subject or audience no one can type back or tell apart. (A value of
/// the wrong type is refused by [`check_registered_types`].) The value is never echoed.
fn check_ids(name: &str, value: &Value, flag: &str) -> Result<()> {
    let items = match (name, value) {
        ("iss" | "sub", Value::String(_)) => std::slice::from_ref(value),
        ("aud", Value::String(_)) => std::slice::from_ref(value),
        ("aud", Value::Array(items)) => items.as_slice(),
        _ => return Ok(()),
    };
    let problem = items
        .iter()
        .filter_map(Value::as_str)
        .find_map(crate::id::problem);
    match problem {
        None => Ok(()),
        Some(problem) => {
            let what = match (name, value) {
                ("aud", Value::Array(_)) => "an element of the claim 'aud'".to_owned(),
                _ => format!("the claim '{name}'"),
            };
            Err(Error::usage(format!(
                "{what} given with {flag} {problem}; give a printable {name} (as --{name} \
                 takes it), or leave it out"
            )))
        }
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
            match name {
                "exp" => "; use --ttl or --exp",
                "iat" => "; use --iat",
                "nbf" => "; use --nbf",
                "jti" => "; use --jti ID",
                _ => "",
            }
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

/// What the token core needs of a key that signs, wherever the key lives (a file or ring in
/// memory today; a hardware token or a KMS is one more implementation). The core never sees
/// the key itself, only its algorithm, its `kid` and signatures.
pub trait Signer {
    /// The JOSE `alg` this signer signs with (RFC 7518 §3.1 names, RFC 9864 ones too).
    fn alg(&self) -> &'static str;
    /// The `kid` the token's header names, if any.
    fn kid(&self) -> Option<&str>;
    /// The JWS signature over `signing_input` (`BASE64URL(header).BASE64URL(payload)`), as the
    /// raw bytes JWS carries (ECDSA as the fixed-length `r || s`).
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>>;
}

/// Sign claims into a compact JWS (RFC 7515 §7.1): the header names `typ` (when given), the
/// signer's `alg` and `kid`, in that order.
pub fn sign(claims: &Claims, typ: Option<&str>, signer: &dyn Signer) -> Result<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header = Map::new();
    if let Some(typ) = typ {
        header.insert("typ".into(), Value::from(typ));
    }
    header.insert("alg".into(), Value::from(signer.alg()));
    if let Some(kid) = signer.kid() {
        header.insert("kid".into(), Value::from(kid));
    }
    let json = |value: &Map<String, Value>| {
        serde_json::to_vec(value).map_err(|_| Error::usage("the claims cannot be written as JSON"))
    };
    let mut text = URL_SAFE_NO_PAD.encode(json(&header)?);
    text.push('.');
    URL_SAFE_NO_PAD.encode_string(json(claims)?, &mut text);
    let signature = signer.sign(text.as_bytes())?;
    text.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut text);
    Ok(text)
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

    /// A signer that lives elsewhere (a hardware token, say): the core hands it the signing
    /// input and writes whatever algorithm name and signature it returns.
    struct Remote(std::cell::RefCell<Vec<u8>>);

    impl Signer for Remote {
        fn alg(&self) -> &'static str {
            "ES512"
        }
        fn kid(&self) -> Option<&str> {
            Some("hsm-1")
        }
        fn sign(&self, input: &[u8]) -> Result<Vec<u8>> {
            *self.0.borrow_mut() = input.to_vec();
            Ok(vec![0xff, 0x00, 0x7f])
        }
    }

    #[test]
    fn any_signer_signs_what_the_core_frames() {
        use base64::Engine as _;
        let signer = Remote(Default::default());
        let claims: Claims = serde_json::from_str(r#"{"sub":"a"}"#).unwrap();
        let token = sign(&claims, Some("JWT"), &signer).unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        assert_eq!(signer.0.borrow().as_slice(), input.as_bytes());
        assert_eq!(signature, "_wB_");
        let header = input.split('.').next().unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap();
        assert_eq!(header, br#"{"typ":"JWT","alg":"ES512","kid":"hsm-1"}"#);
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
