//! The JWS algorithms jwtctl signs and verifies, and their signature primitives: jsonwebtoken's
//! where it has them, aws-lc-rs's (the one crypto library already linked) for ES512.

use std::str::FromStr;

use jsonwebtoken::{DecodingKey, EncodingKey};

/// Every JOSE signature algorithm jwtctl knows (RFC 7518 §3.1 and RFC 9864's `Ed25519`). The
/// `Debug` form is the name a token's header carries. Ed448 is absent: aws-lc-rs lacks it.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    /// EdDSA as RFC 8037 names it (the curve is the key's: jwtctl takes Ed25519).
    EdDSA,
    /// EdDSA on Ed25519, fully specified (RFC 9864 §2.2).
    Ed25519,
}

impl Algorithm {
    /// Every algorithm, in the order help and messages list them.
    pub const ALL: [Algorithm; 14] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::Ed25519,
    ];

    /// The name a token's header writes (`HS256`), without formatting.
    pub fn name(self) -> &'static str {
        use Algorithm::*;
        match self {
            HS256 => "HS256",
            HS384 => "HS384",
            HS512 => "HS512",
            RS256 => "RS256",
            RS384 => "RS384",
            RS512 => "RS512",
            PS256 => "PS256",
            PS384 => "PS384",
            PS512 => "PS512",
            ES256 => "ES256",
            ES384 => "ES384",
            ES512 => "ES512",
            EdDSA => "EdDSA",
            Ed25519 => "Ed25519",
        }
    }

    /// The jsonwebtoken algorithm that computes the same signature, where it has one (`Ed25519`
    /// is EdDSA on an Ed25519 key); `None` for ES512, which aws-lc-rs signs here.
    fn jwt(self) -> Option<jsonwebtoken::Algorithm> {
        use jsonwebtoken::Algorithm as J;
        Some(match self {
            Algorithm::HS256 => J::HS256,
            Algorithm::HS384 => J::HS384,
            Algorithm::HS512 => J::HS512,
            Algorithm::RS256 => J::RS256,
            Algorithm::RS384 => J::RS384,
            Algorithm::RS512 => J::RS512,
            Algorithm::PS256 => J::PS256,
            Algorithm::PS384 => J::PS384,
            Algorithm::PS512 => J::PS512,
            Algorithm::ES256 => J::ES256,
            Algorithm::ES384 => J::ES384,
            Algorithm::EdDSA | Algorithm::Ed25519 => J::EdDSA,
            Algorithm::ES512 => return None,
        })
    }
}

/// A name no algorithm has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownAlg;

impl FromStr for Algorithm {
    type Err = UnknownAlg;

    /// Exact names only: a header's `alg` is case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, UnknownAlg> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or(UnknownAlg)
    }
}

/// The JWS signature over `message` with a signing key as [`crate::keys`] holds it (for ES512,
/// PKCS#8 DER), as the raw bytes JWS carries (ECDSA as the fixed-length `r || s`); `None` when
/// the key cannot sign with `alg`.
pub fn sign(message: &[u8], key: &EncodingKey, alg: Algorithm) -> Option<Vec<u8>> {
    use aws_lc_rs::signature::{ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair};
    use base64::Engine as _;
    match alg.jwt() {
        Some(j) => {
            let text = jsonwebtoken::crypto::sign(message, key, j).ok()?;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .ok()
        }
        None => {
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, key.as_bytes()).ok()?;
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let sig = pair.sign(&rng, message).ok()?;
            Some(sig.as_ref().to_vec())
        }
    }
}

/// Whether `signature` (the raw bytes, `encoded` being its base64url text as the token carries
/// it) is `alg`'s signature over `message` by `key`.
pub fn verify(
    encoded: &str,
    signature: &[u8],
    message: &[u8],
    key: &DecodingKey,
    alg: Algorithm,
) -> bool {
    use aws_lc_rs::signature::{ECDSA_P521_SHA512_FIXED, UnparsedPublicKey};
    match alg.jwt() {
        Some(j) => jsonwebtoken::crypto::verify(encoded, message, key, j).unwrap_or(false),
        None => key.try_get_as_bytes().is_ok_and(|point| {
            UnparsedPublicKey::new(&ECDSA_P521_SHA512_FIXED, point)
                .verify(message, signature)
                .is_ok()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_the_debug_form() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>(), Ok(alg));
            assert_eq!(format!("{alg:?}"), alg.name());
        }
        assert_eq!("es512".parse::<Algorithm>(), Err(UnknownAlg));
        assert_eq!("none".parse::<Algorithm>(), Err(UnknownAlg));
        assert_eq!("Ed448".parse::<Algorithm>(), Err(UnknownAlg));
    }

    #[test]
    fn es512_signs_and_verifies_with_aws_lc() {
        use aws_lc_rs::signature::{ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let pair = EcdsaKeyPair::generate(&ECDSA_P521_SHA512_FIXED_SIGNING).unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        let signing = EncodingKey::from_ec_der(pkcs8.as_ref());
        let public = DecodingKey::from_ec_der(pair.public_key().as_ref());
        let sig = sign(b"a.b", &signing, Algorithm::ES512).unwrap();
        assert_eq!(sig.len(), 132);
        assert!(verify("", &sig, b"a.b", &public, Algorithm::ES512));
        assert!(!verify("", &sig, b"a.c", &public, Algorithm::ES512));
        // A P-256 signature over the same bytes is not an ES512 one.
        assert!(sign(b"a.b", &signing, Algorithm::ES256).is_none());
    }

    fn b64(text: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap()
    }

    /// RFC 7520 §4.3: ES512 over the cookbook's payload with the P-521 key of §3.1.
    #[test]
    fn rfc_7520_es512_example_verifies() {
        let x = "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt";
        let y = "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1";
        let point = [&[4u8][..], &b64(x), &b64(y)].concat();
        let input = "eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.\
            SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZX\
            Agb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtu\
            b3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4";
        let sig = b64(
            "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1e\
             JAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2",
        );
        let key = DecodingKey::from_ec_der(&point);
        assert!(verify("", &sig, input.as_bytes(), &key, Algorithm::ES512));
        assert!(!verify("", &sig, input.as_bytes(), &key, Algorithm::ES384));
        let mut bad = sig.clone();
        bad[40] ^= 1;
        assert!(!verify("", &bad, input.as_bytes(), &key, Algorithm::ES512));
    }

    /// RFC 8037 §A.4's Ed25519 signature; RFC 9864's `Ed25519` is the same primitive (the
    /// header differs, so the RFC's token itself says EdDSA).
    #[test]
    fn rfc_8037_ed25519_example_verifies_under_both_names() {
        let x = b64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        let encoded = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let key = DecodingKey::from_ed_der(&x);
        for alg in [Algorithm::EdDSA, Algorithm::Ed25519] {
            assert!(verify(encoded, &b64(encoded), input, &key, alg));
        }
        assert!(!verify(
            encoded,
            &b64(encoded),
            b"x.y",
            &key,
            Algorithm::Ed25519
        ));
    }
}
