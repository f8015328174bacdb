//! Refreshing: a verified token's claims under the lifetime policy (TTL, family cap, `orig_iat`).

use serde_json::Value;

use super::issue::set_lifetime;
use super::text::{Claims, reject, when};
use super::verify::Verified;
use crate::error::{Reason, Result};

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
    if let (Some(iat), Some(exp)) = (iat, exp)
        && iat > exp
    {
        return Err(invalid(
            "'iat' is later than 'exp'; the token contradicts itself",
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::token::Algorithm;
    use serde_json::Map;

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
        Verified::assume(crate::token::Authenticated {
            alg: Algorithm::HS256,
            header: Map::new(),
            claims,
        })
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
