//! JSON Web Keys (RFC 7517): single keys and JWK Sets chosen from by `kid`.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self as sig, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::der::{ec_private, ed_private, pkcs1_private, pkcs8_private, rsa_key};
use super::{Key, KeyKind, Secret, bad_key};
use crate::error::{Error, Reason, Result};

fn jwk_bytes(jwk: &Map<String, Value>, member: &str) -> Result<Option<Vec<u8>>> {
    match jwk.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => URL_SAFE_NO_PAD
            .decode(s)
            .map(Some)
            .map_err(|_| Error::key(format!("the JWK member '{member}' is not base64url"))),
        Some(_) => Err(Error::key(format!(
            "the JWK member '{member}' must be a string"
        ))),
    }
}

fn jwk_required(jwk: &Map<String, Value>, member: &str) -> Result<Vec<u8>> {
    jwk_bytes(jwk, member)?
        .ok_or_else(|| Error::key(format!("the JWK lacks its '{member}' member")))
}

fn jwk_str<'a>(jwk: &'a Map<String, Value>, member: &str) -> Option<&'a str> {
    jwk.get(member).and_then(Value::as_str)
}

/// A single JWK: `oct` (HMAC), `RSA` (public), `EC` P-256/P-384 and `OKP` Ed25519 (public or
/// private).
pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Key> {
    if jwk.contains_key("keys") {
        return Err(Error::key("the key file is a JWK Set; give it with --jwks"));
    }
    if jwk_str(jwk, "use").is_some_and(|u| u != "sig") {
        return Err(Error::key(
            "the JWK's 'use' is not 'sig'; it is not a signing key",
        ));
    }
    jwk_key(jwk)
}

fn jwk_key(jwk: &Map<String, Value>) -> Result<Key> {
    let mut key = match jwk_str(jwk, "kty") {
        Some("oct") => {
            let k = jwk_required(jwk, "k")?;
            if k.is_empty() {
                return Err(Error::key("the JWK's secret 'k' is empty"));
            }
            Key::secret(&k)
        }
        Some("RSA") => rsa_jwk(jwk)?,
        Some("EC") => {
            let (kind, signing, verifying) = match jwk_str(jwk, "crv") {
                Some("P-256") => (
                    KeyKind::EcP256,
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &ECDSA_P256_SHA256_FIXED,
                ),
                Some("P-384") => (
                    KeyKind::EcP384,
                    &ECDSA_P384_SHA384_FIXED_SIGNING,
                    &ECDSA_P384_SHA384_FIXED,
                ),
                _ => return Err(Error::key("unsupported JWK curve; use P-256 or P-384")),
            };
            let mut point = vec![4u8];
            point.extend(jwk_required(jwk, "x")?);
            point.extend(jwk_required(jwk, "y")?);
            match jwk_bytes(jwk, "d")? {
                Some(d) => {
                    let pair = EcdsaKeyPair::from_private_key_and_public_key(signing, &d, &point)
                        .map_err(|_| bad_key("an EC JWK"))?;
                    ec_private(kind, &pair)?
                }
                None => {
                    ParsedPublicKey::new(verifying, &point).map_err(|_| bad_key("an EC JWK"))?;
                    Key::new(kind, None, DecodingKey::from_ec_der(&point))
                }
            }
        }
        Some("OKP") => {
            if jwk_str(jwk, "crv") != Some("Ed25519") {
                return Err(Error::key("unsupported OKP curve; use Ed25519"));
            }
            let x = jwk_required(jwk, "x")?;
            match jwk_bytes(jwk, "d")? {
                Some(d) => {
                    let pair = Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                        .map_err(|_| bad_key("an Ed25519 JWK"))?;
                    ed_private(&pair)?
                }
                None => {
                    ParsedPublicKey::new(&sig::ED25519, &x).map_err(|_| bad_key("an OKP JWK"))?;
                    Key::new(KeyKind::Ed25519, None, DecodingKey::from_ed_der(&x))
                }
            }
        }
        _ => return Err(Error::key("unsupported JWK 'kty'; use oct, RSA, EC or OKP")),
    };
    if let Some(alg) = jwk_str(jwk, "alg") {
        let alg: Algorithm = alg
            .parse()
            .ok()
            .filter(|a| key.kind.serves(*a))
            .ok_or_else(|| Error::key("the JWK's 'alg' does not fit its key type"))?;
        key.jwk_alg = Some(alg);
    }
    key.jwk_kid = jwk_str(jwk, "kid").map(str::to_owned);
    Ok(key)
}

/// The RSA private members (RFC 7518 §6.3.2) a signing key is built from; all or none of the
/// CRT members must be present.
const RSA_PRIVATE: [&str; 5] = ["p", "q", "dp", "dq", "qi"];

/// An RSA JWK: public (`n`, `e`), or private with `d` and the CRT members, as node `jose` and
/// jwcrypto export them. Under 2048 bits it is refused, whatever the command.
fn rsa_jwk(jwk: &Map<String, Value>) -> Result<Key> {
    let (n, e) = (jwk_required(jwk, "n")?, jwk_required(jwk, "e")?);
    let Some(d) = jwk_bytes(jwk, "d")? else {
        return rsa_key(&n, &e, None);
    };
    rsa_key(&n, &e, None)?;
    if RSA_PRIVATE.iter().all(|m| !jwk.contains_key(*m)) {
        return rsa_without_crt(&n, &e, &d);
    }
    let crt = RSA_PRIVATE
        .iter()
        .map(|m| jwk_required(jwk, m))
        .collect::<Result<Vec<_>>>()?;
    let components = aws_lc_rs::rsa::KeyPairComponents {
        public_key: aws_lc_rs::rsa::PublicKeyComponents {
            n: &n[..],
            e: &e[..],
        },
        d: &d[..],
        p: &crt[0][..],
        q: &crt[1][..],
        dP: &crt[2][..],
        dQ: &crt[3][..],
        qInv: &crt[4][..],
    };
    let pair = RsaKeyPair::from_components(&components)
        .map_err(|_| bad_key("an RSA JWK whose members do not form one key"))?;
    let pkcs8 = pair.as_der().map_err(|_| bad_key("an RSA JWK"))?;
    pkcs8_private(pkcs8.as_ref())
}

/// A private RSA JWK with only `n`, `e` and `d` (RFC 7518 §6.3.2 lets a producer omit the rest):
/// the `rsa` crate recovers the primes (NIST SP 800-56B Rev. 2, appendix C.2), so aws-lc can sign.
fn rsa_without_crt(n: &[u8], e: &[u8], d: &[u8]) -> Result<Key> {
    use rsa::BigUint;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::from_components(
        BigUint::from_bytes_be(n),
        BigUint::from_bytes_be(e),
        BigUint::from_bytes_be(d),
        Vec::new(),
    )
    .map_err(|_| bad_key("an RSA JWK whose 'd' does not fit its 'n' and 'e'"))?;
    let pkcs1 = key.to_pkcs1_der().map_err(|_| bad_key("an RSA JWK"))?;
    pkcs1_private(pkcs1.as_bytes())
}

/// A JWK Set: the keys a token is chosen against by its `kid`.
#[derive(Debug)]
pub struct JwkSet {
    /// The usable signing keys, in the set's order.
    pub(super) keys: Vec<Key>,
    /// Entries of the set that could not be loaded (a weak RSA key, bad members), by `kid`: a
    /// token that names one is told why, instead of only that no key matched.
    refused: Vec<(Option<String>, Error)>,
    /// How many entries the set has in all, counted before any filtering.
    total: usize,
    /// `--allow-weak-secret`: `oct` keys shorter than their algorithm's hash are candidates.
    pub(super) allow_weak: bool,
}

impl JwkSet {
    /// Parse a JWK Set. Entries whose `use` is not `sig`, and keys that cannot be loaded, are no
    /// candidates (they are skipped); a set with no usable key is an error that says why.
    pub fn parse(material: &Secret) -> Result<JwkSet> {
        let value: Value = serde_json::from_slice(material.expose()).map_err(|_| {
            let bytes = material.expose();
            if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
                Error::key(
                    "the --jwks file is a PEM key or certificate, not a JWK Set; give it with \
                     --key-file",
                )
            } else {
                Error::key("the --jwks file is not valid JSON; a JWK Set is {\"keys\":[...]}")
            }
        })?;
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(Error::key(
                "the --jwks file has no \"keys\" array; a single JWK goes to --key-file",
            ));
        };
        let (mut keys, mut refused) = (Vec::new(), Vec::new());
        let signing = entries
            .iter()
            .filter_map(Value::as_object)
            .filter(|jwk| jwk_str(jwk, "use").is_none_or(|u| u == "sig"));
        for jwk in signing {
            match jwk_key(jwk) {
                Ok(key) => keys.push(key),
                Err(e) => refused.push((jwk_str(jwk, "kid").map(str::to_owned), e)),
            }
        }
        if keys.is_empty() {
            let why = refused.first().map_or(String::new(), |(_, e)| {
                format!(" (the first refused: {})", e.message())
            });
            return Err(Error::key(format!(
                "the JWK Set has no usable signing key (RSA, EC P-256/P-384, Ed25519 or oct){why}"
            )));
        }
        Ok(JwkSet {
            keys,
            refused,
            total: entries.len(),
            allow_weak: false,
        })
    }

    /// The key for a token signed with `alg` carrying `kid`: the one with that exact `kid`; a
    /// token without `kid` may use the set's only key. A key whose `alg` differs, or an `oct` key
    /// too short for `alg`, is no candidate.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key> {
        let no_match = |why: String| Error::rejected(Reason::NoMatchingKey, why);
        let fits = |key: &&Key| key.fits(alg, self.allow_weak);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.jwk_kid.as_deref() == Some(kid))
                .find(fits)
                .ok_or_else(|| {
                    let shown: String = kid.chars().take(40).flat_map(char::escape_debug).collect();
                    match self.refused.iter().find(|(k, _)| k.as_deref() == Some(kid)) {
                        Some((_, e)) => no_match(format!(
                            "the JWK Set's key '{shown}' cannot be used: {}",
                            e.message()
                        )),
                        None => {
                            no_match(format!("no {alg:?} key in the JWK Set has kid '{shown}'"))
                        }
                    }
                }),
            None if self.total == 1 => {
                self.keys.iter().find(fits).ok_or_else(|| {
                    no_match(format!("the JWK Set's only key cannot verify {alg:?}"))
                })
            }
            None => Err(no_match(format!(
                "the token has no kid and the JWK Set has {} keys",
                self.total
            ))),
        }
    }
}
