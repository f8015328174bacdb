//! Token verification: pinned algorithms, key lookup by `kid`, header and claim checks, as of `now`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

use super::Algorithm;
use super::checks::{Policy, check_claims, check_header};
use super::text::{Claims, reject, shown};
use crate::error::{Reason, Result};

/// Where verification finds the key for a token signed with `alg` and carrying `kid`.
pub trait KeySource {
    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<&DecodingKey>;

    /// Whether any configured key could verify `alg` if it were accepted (`--alg`): decides what
    /// a refusal suggests. The default says yes.
    fn could_serve(&self, _alg: Algorithm) -> bool {
        true
    }
}

/// A token whose signature checked out under a pinned algorithm, before any claim was checked
/// (`revoke` accepts expired tokens). Only [`verify`] turns it into a [`Verified`].
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    pub alg: Algorithm,
    pub header: Map<String, Value>,
    pub claims: Claims,
}

impl Authenticated {
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// What the token says about itself (string `iss`, `sub`, `jti`, header `kid`), for the
    /// record of a rejection reached after its signature checked out: authenticated claims, so
    /// they may be recorded (unlike an unverified token's).
    pub fn signed(&self) -> crate::error::Signed {
        let claim = |name: &str| {
            self.claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        crate::error::Signed {
            iss: claim("iss"),
            sub: claim("sub"),
            jti: claim("jti"),
            kid: self.header_str("kid").map(str::to_owned),
        }
    }
}

/// A token that passed every check: its signature, its header and its claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified(Authenticated);

impl Verified {
    /// The verified token's parts.
    pub fn into_inner(self) -> Authenticated {
        self.0
    }

    /// For tests of what follows verification (refresh): a token taken as verified.
    #[cfg(test)]
    pub(super) fn assume(token: Authenticated) -> Verified {
        Verified(token)
    }
}

impl std::ops::Deref for Verified {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.0
    }
}

/// A decoded but unverified token, for `inspect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub header: Map<String, Value>,
    pub claims: Claims,
}

/// The token text from user input: surrounding whitespace and a leading `Bearer ` are accepted.
pub fn token_text(input: &str) -> &str {
    let t = input.trim();
    match t.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => t[7..].trim_start(),
        _ => t,
    }
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

/// The three parts of a compact JWS, checked for size and shape only.
fn split(token: &str, max_size: usize) -> Result<[&str; 3]> {
    if token.is_empty() {
        return Err(reject(
            Reason::Malformed,
            "no token given; pass it as an argument or on stdin",
        ));
    }
    if token.len() > max_size {
        return Err(reject(
            Reason::TooLarge,
            format!(
                "the token is {} bytes, over the {max_size}-byte limit (--max-token-size)",
                token.len()
            ),
        ));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => Err(reject(
            Reason::Malformed,
            "a token is three base64url parts separated by '.'",
        )),
    }
}

/// Decode header and claims without verifying anything (for `inspect`).
pub fn decode_unverified(token: &str, max_size: usize) -> Result<Decoded> {
    let [h, p, s] = split(token, max_size)?;
    let header = decode_json_object(h, "header")?;
    let claims = decode_json_object(p, "payload")?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| reject(Reason::Malformed, "the signature is not base64url"))?;
    Ok(Decoded { header, claims })
}

/// Verify a token fully: signature with a pinned algorithm, header, then claims as of `now`
/// (whole seconds since the epoch).
pub fn verify(token: &str, keys: &dyn KeySource, policy: &Policy, now: i64) -> Result<Verified> {
    verify_precise(token, keys, policy, now as f64)
}

/// [`verify`] as of an instant with a fraction of a second. NumericDates may be fractional (RFC
/// 7519 §2): a token with `nbf` = `time.time()` verified a moment later is valid, and one whose
/// fractional `exp` has passed is expired, whatever the second's fraction.
pub fn verify_precise(
    token: &str,
    keys: &dyn KeySource,
    policy: &Policy,
    now: f64,
) -> Result<Verified> {
    let token = authenticate(token, keys, &policy.algs, policy.max_size)?;
    // From here the signature has checked out: a rejection names the token (Signed).
    let checked = check_header(&token.header, policy.typ.as_deref())
        .and_then(|()| check_claims(&token.claims, policy, now));
    match checked {
        Ok(()) => Ok(Verified(token)),
        Err(e) => Err(e.signed_by(token.signed())),
    }
}

/// Verify only the form and signature of a token (for `revoke`, which accepts expired tokens).
pub fn authenticate(
    token: &str,
    keys: &dyn KeySource,
    algs: &[Algorithm],
    max_size: usize,
) -> Result<Authenticated> {
    let [h, p, s] = split(token, max_size)?;
    let header = decode_json_object(h, "header")?;
    let alg = pinned_alg(&header, algs, keys)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => {
            return Err(reject(
                Reason::Malformed,
                "the header's 'kid' is not a string",
            ));
        }
    };
    // jku, x5u, jwk and x5c are never consulted: the key comes only from our configuration.
    let key = keys.key_for(alg, kid)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| reject(Reason::Malformed, "the signature is not base64url"))?;
    if signature.is_empty() {
        return Err(reject(Reason::BadSignature, "the token has no signature"));
    }
    let message = &token.as_bytes()[..h.len() + 1 + p.len()];
    if !super::alg::verify(s, &signature, message, key, alg) {
        return Err(reject(
            Reason::BadSignature,
            "the signature does not match the key; check that the right key is used",
        ));
    }
    let claims = decode_json_object(p, "payload")?;
    Ok(Authenticated {
        alg,
        header,
        claims,
    })
}

fn pinned_alg(
    header: &Map<String, Value>,
    algs: &[Algorithm],
    keys: &dyn KeySource,
) -> Result<Algorithm> {
    let Some(alg) = header.get("alg").and_then(Value::as_str) else {
        return Err(reject(Reason::Malformed, "the header has no 'alg' string"));
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(reject(
            Reason::AlgNotAllowed,
            "unsigned tokens (alg none) are never accepted",
        ));
    }
    let allowed = algs
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    match alg.parse::<Algorithm>() {
        Ok(a) if algs.contains(&a) => Ok(a),
        // Suggest --alg only when a configured key could then verify the token.
        Ok(a) if keys.could_serve(a) => Err(reject(
            Reason::AlgNotAllowed,
            format!(
                "the token says alg {a:?} but only {allowed} is allowed; pass --alg {a:?} if it \
                 should be"
            ),
        )),
        _ => Err(reject(
            Reason::AlgNotAllowed,
            format!(
                "the token says alg {} but no configured key can verify it; the keys accept \
                 {allowed}: pass the key the token was signed with (--key-file, --secret-env, \
                 --jwks)",
                shown(alg)
            ),
        )),
    }
}

/// Seconds past `exp` when a token was accepted only thanks to the grace window.
pub fn grace_used(verified: &Verified, policy: &Policy, now: i64) -> Option<i64> {
    let exp = verified.claims.get("exp").and_then(Value::as_f64)?;
    (now as f64 >= exp + policy.leeway_secs as f64).then(|| (now as f64 - exp).floor() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::DEFAULT_MAX_TOKEN_SIZE;
    use jsonwebtoken::EncodingKey;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    struct One(DecodingKey);

    impl KeySource for One {
        fn key_for(&self, _alg: Algorithm, _kid: Option<&str>) -> Result<&DecodingKey> {
            Ok(&self.0)
        }
    }

    fn policy() -> Policy {
        Policy::new(vec![Algorithm::HS256])
    }

    fn mint(claims: Value) -> String {
        raw(r#"{"alg":"HS256","typ":"JWT"}"#, claims)
    }

    fn raw(header: &str, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{sig}")
    }

    fn check(token: &str, policy: &Policy) -> Result<Verified> {
        verify(token, &One(DecodingKey::from_secret(SECRET)), policy, NOW)
    }

    fn reason(token: &str, policy: &Policy) -> Reason {
        check(token, policy).unwrap_err().reason()
    }

    #[test]
    fn expiry_is_on_or_after_exp_plus_leeway() {
        let at_exp = mint(json!({"exp": NOW}));
        assert_eq!(reason(&at_exp, &policy()), Reason::Expired);
        assert!(check(&mint(json!({"exp": NOW + 1})), &policy()).is_ok());
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
        assert_eq!(reason(&mint(json!({})), &p), Reason::MissingClaim);
        assert_eq!(reason(&mint(json!({"exp": "x"})), &p), Reason::InvalidClaim);
        assert_eq!(
            reason(&mint(json!({"exp": exp, "nbf": NOW + 5})), &p),
            Reason::NotYetValid
        );
        assert_eq!(
            reason(&mint(json!({"exp": exp, "iat": NOW + 5})), &p),
            Reason::IssuedInFuture
        );
        assert_eq!(
            reason(&mint(json!({"exp": exp, "aud": "x"})), &p),
            Reason::ClaimMismatch
        );
        let want_iss = Policy {
            iss: Some("me".into()),
            ..policy()
        };
        assert_eq!(
            reason(&mint(json!({"exp": exp})), &want_iss),
            Reason::MissingClaim
        );
        assert_eq!(
            reason(&mint(json!({"exp": exp, "iss": "you"})), &want_iss),
            Reason::ClaimMismatch
        );
        let want_aud = Policy {
            aud: vec!["a".into(), "b".into()],
            ..policy()
        };
        assert!(check(&mint(json!({"exp": exp, "aud": ["z", "b"]})), &want_aud).is_ok());
        assert_eq!(
            reason(&mint(json!({"exp": exp, "aud": ["z"]})), &want_aud),
            Reason::ClaimMismatch
        );
    }

    #[test]
    fn strict_checks_have_their_own_reasons() {
        let exp = NOW + 100;
        let require = Policy {
            require: vec![crate::token::ClaimPath::name("scope")],
            ..policy()
        };
        assert_eq!(
            reason(&mint(json!({"exp": exp})), &require),
            Reason::MissingClaim
        );
        assert!(check(&mint(json!({"exp": exp, "scope": null})), &require).is_ok());
        let min = Policy {
            min_remaining_secs: Some(300),
            ..policy()
        };
        assert_eq!(
            reason(&mint(json!({"exp": exp})), &min),
            Reason::ExpiresTooSoon
        );
        let max_age = Policy {
            max_age_secs: Some(60),
            ..policy()
        };
        assert_eq!(
            reason(&mint(json!({"exp": exp, "iat": NOW - 61})), &max_age),
            Reason::TooOld
        );
        assert!(check(&mint(json!({"exp": exp, "iat": NOW - 60})), &max_age).is_ok());
        assert_eq!(
            reason(&mint(json!({"exp": exp})), &max_age),
            Reason::MissingClaim
        );
        let small = Policy {
            max_size: 20,
            ..policy()
        };
        assert_eq!(reason(&mint(json!({"exp": exp})), &small), Reason::TooLarge);
    }

    #[test]
    fn crit_is_refused_and_typ_must_fit() {
        let claims = json!({"exp": NOW + 100});
        let crit = raw(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, claims.clone());
        assert_eq!(reason(&crit, &policy()), Reason::CritUnsupported);
        let untyped = raw(r#"{"alg":"HS256"}"#, claims.clone());
        assert!(check(&untyped, &policy()).is_ok());
        let lower = raw(r#"{"alg":"HS256","typ":"jwt"}"#, claims.clone());
        assert!(check(&lower, &policy()).is_ok());
        let at = raw(r#"{"alg":"HS256","typ":"at+jwt"}"#, claims.clone());
        assert_eq!(reason(&at, &policy()), Reason::TypMismatch);
        let want_at = Policy {
            typ: Some("at+JWT".into()),
            ..policy()
        };
        assert!(check(&at, &want_at).is_ok());
        let app = raw(r#"{"alg":"HS256","typ":"application/at+jwt"}"#, claims);
        assert!(check(&app, &want_at).is_ok());
        assert_eq!(reason(&untyped, &want_at), Reason::TypMismatch);
    }

    #[test]
    fn the_algorithm_comes_from_the_policy_not_the_token() {
        let token = mint(json!({"exp": NOW + 100}));
        let hs512 = Policy::new(vec![Algorithm::HS512]);
        assert_eq!(reason(&token, &hs512), Reason::AlgNotAllowed);
        let both = Policy::new(vec![Algorithm::HS512, Algorithm::HS256]);
        assert_eq!(check(&token, &both).unwrap().alg, Algorithm::HS256);
        let body = token.split('.').nth(1).unwrap();
        let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#));
        assert_eq!(reason(&none, &policy()), Reason::AlgNotAllowed);
    }

    #[test]
    fn tampering_and_garbage_are_told_apart() {
        let token = mint(json!({"exp": NOW + 100, "sub": "a"}));
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

    #[test]
    fn grace_extends_exp_only_and_is_measured() {
        let token = mint(json!({"exp": NOW - 30}));
        assert_eq!(reason(&token, &policy()), Reason::Expired);
        let graced = Policy {
            grace_secs: 60,
            ..policy()
        };
        let verified = check(&token, &graced).unwrap();
        assert_eq!(grace_used(&verified, &graced, NOW), Some(30));
        let fresh = check(&mint(json!({"exp": NOW + 30})), &graced).unwrap();
        assert_eq!(grace_used(&fresh, &graced, NOW), None);
        let early = mint(json!({"exp": NOW + 30, "nbf": NOW + 10}));
        assert_eq!(reason(&early, &graced), Reason::NotYetValid);
    }

    #[test]
    fn inspect_decodes_without_a_key() {
        let token = mint(json!({"exp": 1, "sub": "x"}));
        let decoded = decode_unverified(&token, DEFAULT_MAX_TOKEN_SIZE).unwrap();
        assert_eq!(
            (
                decoded.header["alg"].as_str(),
                decoded.claims["sub"].as_str()
            ),
            (Some("HS256"), Some("x"))
        );
        assert_eq!(
            decode_unverified("x.y", 100).unwrap_err().reason(),
            Reason::Malformed
        );
    }
}
