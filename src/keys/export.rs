//! A key's public half as others read it: a public JWK (RFC 7517), SPKI PEM, and its RFC 7638
//! thumbprint (the default `kid`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::{Key, Public};
use crate::error::{Error, Result};

/// The curve name of a JWK `crv` for an uncompressed EC point of this length.
fn curve(point: &[u8]) -> Result<&'static str> {
    match point.len() {
        65 => Ok("P-256"),
        97 => Ok("P-384"),
        133 => Ok("P-521"),
        _ => Err(Error::key(
            "the EC public key is not an uncompressed P-256, P-384 or P-521 point",
        )),
    }
}

fn b64(bytes: &[u8]) -> Value {
    Value::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// An unsigned integer as JWK members carry it: big-endian, no leading zero octets.
fn uint(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    &bytes[zeros.min(bytes.len().saturating_sub(1))..]
}

/// The members that identify a public key, in the lexicographic order RFC 7638 §3.2 hashes them:
/// `e`, `kty`, `n` (RSA); `crv`, `kty`, `x`, `y` (EC); `crv`, `kty`, `x` (OKP). An HMAC secret
/// has no public half and is refused.
pub fn required_members(public: &Public) -> Result<Map<String, Value>> {
    let value = match public {
        Public::Hmac => {
            return Err(Error::key(
                "an HMAC secret has no public half to publish; share nothing, or use an \
                 asymmetric key (jwtctl key gen --type ed25519)",
            ));
        }
        Public::Rsa { n, e } => json!({"e": b64(uint(e)), "kty": "RSA", "n": b64(uint(n))}),
        Public::Ec { point } => {
            let crv = curve(point)?;
            let half = (point.len() - 1) / 2;
            json!({"crv": crv, "kty": "EC", "x": b64(&point[1..=half]), "y": b64(&point[half + 1..])})
        }
        Public::Ed25519 { x } => json!({"crv": "Ed25519", "kty": "OKP", "x": b64(x)}),
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Error::key("the public key has no JWK form")),
    }
}

/// The RFC 7638 JWK thumbprint: SHA-256 of the required members as compact JSON, base64url.
pub fn thumbprint(public: &Public) -> Result<String> {
    let members = required_members(public)?;
    // serde_json writes object members in insertion order, which required_members made
    // lexicographic, with no whitespace: the canonical form RFC 7638 §3.3 asks for.
    let canonical = serde_json::to_string(&members).map_err(|_| Error::key("no thumbprint"))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

impl Key {
    /// The `kid` this key goes by: its JWK `kid`, else (for an asymmetric key) its thumbprint.
    /// An HMAC secret has no kid unless its JWK gives one.
    pub fn default_kid(&self) -> Option<String> {
        self.jwk_kid
            .clone()
            .or_else(|| thumbprint(&self.public).ok())
    }

    /// The public JWK: `kty`, the public members, `kid`, `alg` (`requested`, else the key's own)
    /// and `use: sig`; never a private member.
    pub fn public_jwk(
        &self,
        requested: Option<crate::token::Algorithm>,
    ) -> Result<Map<String, Value>> {
        let mut jwk = required_members(&self.public)?;
        let kid = self.default_kid().unwrap_or_default();
        jwk.insert("kid".into(), Value::from(kid));
        let alg = self.pick_alg(requested)?;
        jwk.insert("alg".into(), Value::from(format!("{alg:?}")));
        jwk.insert("use".into(), Value::from("sig"));
        Ok(jwk)
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> Result<String> {
        let der = spki_der(&self.public)?;
        Ok(::pem::encode(&::pem::Pem::new("PUBLIC KEY", der)))
    }
}

/// SubjectPublicKeyInfo DER of a public key, encoded by the `spki`/`der` crates.
fn spki_der(public: &Public) -> Result<Vec<u8>> {
    use der::Encode;
    use der::asn1::{BitString, ObjectIdentifier};
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    let failed = |_| Error::key("the public key cannot be encoded as SPKI");
    let (algorithm, key) = match public {
        Public::Hmac => return required_members(public).map(|_| Vec::new()),
        Public::Rsa { n, e } => {
            // RFC 8017 A.1.1 RSAPublicKey, encoded by `pkcs1` (DER only, no big-number maths).
            let cannot = |_| Error::key("the RSA public key cannot be encoded");
            let pkcs1 = pkcs1::RsaPublicKey {
                modulus: der::asn1::UintRef::new(n).map_err(cannot)?,
                public_exponent: der::asn1::UintRef::new(e).map_err(cannot)?,
            }
            .to_der()
            .map_err(cannot)?;
            let null = der::asn1::AnyRef::NULL;
            (
                spki::AlgorithmIdentifier {
                    oid: RSA,
                    parameters: Some(null),
                },
                pkcs1,
            )
        }
        Public::Ec { point } => {
            let curve_oid: &'static ObjectIdentifier = match curve(point)? {
                "P-256" => &P256,
                "P-384" => &P384,
                _ => &P521,
            };
            let params = der::asn1::AnyRef::from(curve_oid);
            (
                spki::AlgorithmIdentifier {
                    oid: EC,
                    parameters: Some(params),
                },
                point.clone(),
            )
        }
        Public::Ed25519 { x } => (
            spki::AlgorithmIdentifier {
                oid: ED25519,
                parameters: None,
            },
            x.clone(),
        ),
    };
    let info = spki::SubjectPublicKeyInfo {
        algorithm,
        subject_public_key: BitString::from_bytes(&key).map_err(failed)?,
    };
    info.to_der().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1: this RSA key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let n = URL_SAFE_NO_PAD.decode(n).unwrap();
        let public = Public::Rsa {
            n,
            e: vec![1, 0, 1],
        };
        assert_eq!(
            thumbprint(&public).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn an_hmac_secret_has_no_public_half() {
        assert!(thumbprint(&Public::Hmac).is_err());
    }
}
