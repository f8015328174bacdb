//! JSON Web Keys (RFC 7517): single keys and JWK Sets chosen from by `kid`.

use crate::token::Algorithm;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self as sig, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED, ECDSA_P521_SHA512_FIXED_SIGNING,
    EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::der::{ec_private, ed_private, pkcs1_private, pkcs8_private, rsa_key};
use super::{Key, KeyKind, Public, Secret, bad_key};
use crate::error::{Error, Reason, Result};

/// Bytes of a JWK member: base64url without padding (RFC 7515 §2).
#[derive(Debug)]
struct B64(Vec<u8>);

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<B64, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map(B64)
            .map_err(|_| serde::de::Error::custom("a member is not base64url"))
    }
}

/// One JWK (RFC 7517 §4): its key by `kty`, and the members every kind may carry.
#[derive(Debug, Deserialize)]
struct Jwk {
    #[serde(flatten)]
    key: KeyParams,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
}

/// The key members of each `kty` (RFC 7518 §6).
#[derive(Debug, Deserialize)]
#[serde(tag = "kty")]
enum KeyParams {
    #[serde(rename = "oct")]
    Oct { k: B64 },
    #[serde(rename = "RSA")]
    Rsa(RsaParams),
    #[serde(rename = "EC")]
    Ec {
        crv: String,
        x: B64,
        y: B64,
        d: Option<B64>,
    },
    #[serde(rename = "OKP")]
    Okp { crv: String, x: B64, d: Option<B64> },
}

/// RSA members: public `n`, `e`; private `d` and, usually, the CRT members.
#[derive(Debug, Deserialize)]
struct RsaParams {
    n: B64,
    e: B64,
    d: Option<B64>,
    p: Option<B64>,
    q: Option<B64>,
    dp: Option<B64>,
    dq: Option<B64>,
    qi: Option<B64>,
}

/// A JWK object as a typed JWK, or a key error in our words (serde's text can echo input).
fn typed(jwk: &Map<String, Value>) -> Result<Jwk> {
    Jwk::deserialize(Value::Object(jwk.clone())).map_err(|_| {
        Error::key(
            "the JWK is not a key jwtctl reads: it needs kty oct, RSA, EC or OKP with that \
             kind's members as base64url strings (RFC 7518 §6), and string kid/alg/use",
        )
    })
}

/// A single JWK: `oct` (HMAC), `RSA`, `EC` P-256/P-384/P-521 and `OKP` Ed25519 (public or private).
pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Key> {
    if jwk.contains_key("keys") {
        return Err(Error::key("the key file is a JWK Set; give it with --jwks"));
    }
    let jwk = typed(jwk)?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(Error::key(
            "the JWK's 'use' is not 'sig'; it is not a signing key",
        ));
    }
    if !has_op(jwk.key_ops.as_deref(), "sign") && !has_op(jwk.key_ops.as_deref(), "verify") {
        return Err(Error::key(
            "the JWK's 'key_ops' allow neither 'sign' nor 'verify'; it is not a signing key",
        ));
    }
    jwk_key(jwk)
}

/// Whether a JWK's `key_ops` (RFC 7517 §4.3) allow `op`; a JWK without `key_ops` allows any.
fn has_op(key_ops: Option<&[String]>, op: &str) -> bool {
    key_ops.is_none_or(|ops| ops.iter().any(|o| o == op))
}

fn jwk_key(jwk: Jwk) -> Result<Key> {
    let mut key = match jwk.key {
        KeyParams::Oct { k } if k.0.is_empty() => {
            return Err(Error::key("the JWK's secret 'k' is empty"));
        }
        KeyParams::Oct { k } => Key::secret(&k.0)?,
        KeyParams::Rsa(rsa) => rsa_jwk(rsa)?,
        KeyParams::Ec { crv, x, y, d } => ec_jwk(&crv, &x.0, &y.0, d.as_ref())?,
        KeyParams::Okp { crv, x, d } => okp_jwk(&crv, &x.0, d.as_ref())?,
    };
    if let Some(alg) = jwk.alg {
        let alg: Algorithm = alg
            .parse()
            .ok()
            .filter(|a| key.kind.serves(*a))
            .ok_or_else(|| Error::key("the JWK's 'alg' does not fit its key type"))?;
        key.jwk_alg = Some(alg);
    }
    key.jwk_kid = jwk.kid;
    key.retired = !has_op(jwk.key_ops.as_deref(), "sign");
    key.verifies = has_op(jwk.key_ops.as_deref(), "verify");
    Ok(key)
}

fn ec_jwk(crv: &str, x: &[u8], y: &[u8], d: Option<&B64>) -> Result<Key> {
    let (kind, signing, verifying) = match crv {
        "P-256" => (
            KeyKind::EcP256,
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &ECDSA_P256_SHA256_FIXED,
        ),
        "P-384" => (
            KeyKind::EcP384,
            &ECDSA_P384_SHA384_FIXED_SIGNING,
            &ECDSA_P384_SHA384_FIXED,
        ),
        "P-521" => (
            KeyKind::EcP521,
            &ECDSA_P521_SHA512_FIXED_SIGNING,
            &ECDSA_P521_SHA512_FIXED,
        ),
        _ => {
            return Err(Error::key(
                "unsupported JWK curve; use P-256, P-384 or P-521",
            ));
        }
    };
    let point = [&[4u8][..], x, y].concat();
    match d {
        Some(d) => {
            let pair = EcdsaKeyPair::from_private_key_and_public_key(signing, &d.0, &point)
                .map_err(|_| bad_key("an EC JWK"))?;
            ec_private(kind, &pair)
        }
        None => {
            ParsedPublicKey::new(verifying, &point).map_err(|_| bad_key("an EC JWK"))?;
            Ok(Key::new(kind, None, Public::Ec { point }))
        }
    }
}

fn okp_jwk(crv: &str, x: &[u8], d: Option<&B64>) -> Result<Key> {
    if crv != "Ed25519" {
        return Err(Error::key("unsupported OKP curve; use Ed25519"));
    }
    match d {
        Some(d) => {
            let pair = Ed25519KeyPair::from_seed_and_public_key(&d.0, x)
                .map_err(|_| bad_key("an Ed25519 JWK"))?;
            ed_private(&pair)
        }
        None => {
            ParsedPublicKey::new(&sig::ED25519, x).map_err(|_| bad_key("an OKP JWK"))?;
            Ok(Key::new(
                KeyKind::Ed25519,
                None,
                Public::Ed25519 { x: x.to_vec() },
            ))
        }
    }
}

/// An RSA JWK: public (`n`, `e`), or private with `d` and the CRT members, as node `jose` and
/// jwcrypto export them, or with `d` alone (RFC 7518 §6.3.2 lets a producer omit the rest).
/// Under 2048 bits it is refused, whatever the command.
fn rsa_jwk(rsa: RsaParams) -> Result<Key> {
    let (n, e) = (&rsa.n.0, &rsa.e.0);
    let Some(d) = &rsa.d else {
        return rsa_key(n, e, None);
    };
    rsa_key(n, e, None)?;
    let crt = [&rsa.p, &rsa.q, &rsa.dp, &rsa.dq, &rsa.qi];
    if crt.iter().all(|m| m.is_none()) {
        return rsa_without_crt(n, e, &d.0);
    }
    let [Some(p), Some(q), Some(dp), Some(dq), Some(qi)] = crt else {
        return Err(Error::key(
            "the private RSA JWK has some of 'p', 'q', 'dp', 'dq', 'qi' but not all; RFC 7518 \
             §6.3.2 wants all of them or none",
        ));
    };
    let components = aws_lc_rs::rsa::KeyPairComponents {
        public_key: aws_lc_rs::rsa::PublicKeyComponents {
            n: &n[..],
            e: &e[..],
        },
        d: &d.0[..],
        p: &p.0[..],
        q: &q.0[..],
        dP: &dp.0[..],
        dQ: &dq.0[..],
        qInv: &qi.0[..],
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

/// Where a JWK Set comes from, which decides what it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOrigin {
    /// The operator's own file (`--jwks`, a key ring): any key jwtctl reads, private ones too.
    Local,
    /// Fetched from a provider (`--jwks-url`, `--oidc`): public asymmetric keys only.
    Remote,
}

/// A member of a fetched set that was ignored, and why (the event of its WARN record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub kid: Option<String>,
    /// `jwks_secret_key_ignored` (an `oct` key) or `jwks_private_key_ignored` (`d`, ...).
    pub event: &'static str,
}

/// The members of a JWK that only a secret or private key has (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a fetched set's member is no candidate at all, if it is not: an `oct` key, or any key
/// with private members. Anyone who can GET the set holds what it publishes, and OpenID Connect
/// Core §10.1.1 says a `jwks_uri` set holds public keys only.
fn remote_refusal(entry: &Map<String, Value>) -> Option<&'static str> {
    if entry.get("kty").and_then(Value::as_str) == Some("oct") {
        return Some("jwks_secret_key_ignored");
    }
    PRIVATE_MEMBERS
        .iter()
        .any(|m| entry.contains_key(*m))
        .then_some("jwks_private_key_ignored")
}

/// The error for a set with no usable key, saying why.
fn no_usable_key(origin: SetOrigin, refused: &[(Option<String>, Error)], ignored: usize) -> Error {
    let why = refused.first().map_or(String::new(), |(_, e)| {
        format!(" (the first refused: {})", e.message())
    });
    match origin {
        SetOrigin::Local => Error::key(format!(
            "the JWK Set has no usable signing key (RSA, EC P-256/P-384/P-521, Ed25519 or oct){why}"
        )),
        SetOrigin::Remote => Error::key(format!(
            "the JWK Set has no usable public key (RSA, EC P-256/P-384/P-521 or Ed25519); {ignored} \
             secret or private keys were ignored, as a published set must not hold them{why}"
        )),
    }
}

/// A JWK Set: the keys a token is chosen against by its `kid`.
#[derive(Debug)]
pub struct JwkSet {
    /// The usable signing keys, in the set's order.
    pub(super) keys: Vec<Key>,
    /// Entries of the set that could not be loaded (a weak RSA key, bad members), by `kid`: a
    /// token that names one is told why, instead of only that no key matched.
    refused: Vec<(Option<String>, Error)>,
    /// Members of a fetched set ignored for holding secret or private material.
    pub ignored: Vec<Ignored>,
    /// How many entries the set has in all, counted before any filtering.
    total: usize,
    /// `--allow-weak-secret`: `oct` keys shorter than their algorithm's hash are candidates.
    pub(super) allow_weak: bool,
}

/// Invariant: every kid in a JWK Set file of the operator's own (a key ring) is one an operator
/// can type back ([`crate::id::problem`]): a member with a blank, control or invisible kid would
/// sign tokens under a kid `key retire --kid`/`key remove --kid` refuse, so it could never be
/// retired. Such a ring is refused at load, naming the member by its place, never by its kid.
/// (A fetched set is the provider's: its kids are only escaped where shown.)
fn unnameable_kid(index: usize, kid: Option<&str>) -> Result<()> {
    match kid.and_then(crate::id::problem) {
        None => Ok(()),
        Some(problem) => Err(Error::key(format!(
            "the --jwks file's key #{} (keys[{index}]) has a kid that {problem}, so no --kid \
             could name it to retire or remove it; give it a printable kid, or none",
            index + 1
        ))),
    }
}

impl JwkSet {
    /// Parse a JWK Set file of the operator's own (see [`JwkSet::parse_from`]).
    pub fn parse(material: &Secret) -> Result<JwkSet> {
        Self::parse_from(material, SetOrigin::Local)
    }

    /// Parse a JWK Set. Entries whose `use` is not `sig`, and keys that cannot be loaded, are no
    /// candidates (they are skipped); a set with no usable key is an error that says why. From
    /// a provider (`Remote`), `oct` keys and members with private parts are ignored (listed in
    /// `ignored`), so a fetched set yields public verification keys only and can never sign.
    pub fn parse_from(material: &Secret, origin: SetOrigin) -> Result<JwkSet> {
        let what = match origin {
            SetOrigin::Local => "the --jwks file",
            SetOrigin::Remote => "the fetched JWK Set",
        };
        let value: Value = serde_json::from_slice(material.expose()).map_err(|_| {
            let bytes = material.expose();
            if origin == SetOrigin::Local && bytes.windows(11).any(|w| w == b"-----BEGIN ") {
                Error::key(
                    "the --jwks file is a PEM key or certificate, not a JWK Set; give it with \
                     --key-file",
                )
            } else {
                Error::key(format!(
                    "{what} is not valid JSON; a JWK Set is {{\"keys\":[...]}}"
                ))
            }
        })?;
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(Error::key(match origin {
                SetOrigin::Local => {
                    "the --jwks file has no \"keys\" array; a single JWK goes to --key-file"
                }
                SetOrigin::Remote => "the fetched JWK Set has no \"keys\" array",
            }));
        };
        let (mut keys, mut refused, mut ignored) = (Vec::new(), Vec::new(), Vec::new());
        for (i, entry) in entries.iter().enumerate() {
            let Some(entry) = entry.as_object() else {
                continue;
            };
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            if origin == SetOrigin::Local {
                unnameable_kid(i, kid.as_deref())?;
            }
            if let Some(event) = (origin == SetOrigin::Remote)
                .then(|| remote_refusal(entry))
                .flatten()
            {
                ignored.push(Ignored { kid, event });
                continue;
            }
            match typed(entry) {
                Ok(jwk) if jwk.use_.as_deref().is_some_and(|u| u != "sig") => {}
                Ok(jwk) => match jwk_key(jwk) {
                    Ok(key) => keys.push(key),
                    Err(e) => refused.push((kid, e)),
                },
                Err(e) => refused.push((kid, e)),
            }
        }
        if keys.is_empty() {
            return Err(no_usable_key(origin, &refused, ignored.len()));
        }
        Ok(JwkSet {
            keys,
            refused,
            ignored,
            total: entries.len(),
            allow_weak: false,
        })
    }

    /// Refuse to sign from a set where two keys share a `kid` (a hand-edited ring): a verifier
    /// picks its key by kid, so which one signed would be anyone's guess, and retiring one
    /// copy must not leave the other signing under the retired kid.
    pub fn check_unique_kids(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        let twice = self
            .keys
            .iter()
            .filter_map(|k| k.jwk_kid.as_deref())
            .find(|kid| !seen.insert(*kid));
        match twice {
            None => Ok(()),
            Some(kid) => {
                let shown: String = kid.chars().take(60).flat_map(char::escape_debug).collect();
                Err(Error::key(format!(
                    "the key ring holds more than one key with kid '{shown}', so it signs \
                     nothing; keep one of them (jwtctl key remove --kid removes them all) or \
                     give each its own kid"
                )))
            }
        }
    }

    /// Whether the set has a usable key with this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.jwk_kid.as_deref() == Some(kid))
    }

    /// The key a key ring signs with: the one named by `kid`, else the newest usable signing key
    /// (the last private key in the set that is not retired).
    ///
    /// Invariant: a ring holding two keys under one `kid` signs nothing. A verifier picks a key
    /// by kid, so a token signed under a kid that `key retire` retired (in one copy) must not
    /// come from the other copy.
    pub fn into_signing_key(mut self, kid: Option<&str>) -> Result<Key> {
        self.check_unique_kids()?;
        let usable = |k: &Key| k.can_sign() && !k.retired;
        let found = match kid {
            Some(kid) => self
                .keys
                .iter()
                .position(|k| k.jwk_kid.as_deref() == Some(kid)),
            None => self.keys.iter().rposition(usable),
        };
        let Some(i) = found else {
            return Err(Error::key(match kid {
                Some(_) => "no key in the key ring has that --kid",
                None => {
                    "the key ring holds no private key in use; add one with 'jwtctl key gen --add-to RING'"
                }
            }));
        };
        let key = self.keys.swap_remove(i);
        if !usable(&key) {
            return Err(Error::key(
                "that key is retired or public; it verifies old tokens but signs no new ones",
            ));
        }
        Ok(key)
    }

    /// The key a ring signs with now: the newest private key that is not retired.
    pub fn current_signer(&self) -> Result<&Key> {
        self.check_unique_kids()?;
        self.keys
            .iter()
            .rev()
            .find(|k| k.can_sign() && !k.retired)
            .ok_or_else(|| {
                Error::key(
                    "the key ring holds no private key in use; add one with 'jwtctl key gen \
                     --add-to RING'",
                )
            })
    }

    /// The key for a token signed with `alg` carrying `kid`: the one with that exact `kid`; a
    /// token without `kid` may use the set's only key. A key whose `alg` differs, or an `oct` key
    /// too short for `alg`, is no candidate.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key> {
        let no_match = |why: String| Error::rejected(Reason::NoMatchingKey, why);
        // A key whose `key_ops` lack `verify` is no verification candidate (RFC 7517 §4.3).
        let fits = |key: &&Key| key.verifies && key.fits(alg, self.allow_weak);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.jwk_kid.as_deref() == Some(kid))
                .find(fits)
                .ok_or_else(|| {
                    let shown: String = kid.chars().take(40).flat_map(char::escape_debug).collect();
                    let named = |k: &&Key| k.jwk_kid.as_deref() == Some(kid);
                    if self.keys.iter().filter(named).all(|k| !k.verifies)
                        && self.keys.iter().any(|k| named(&k))
                    {
                        return no_match(format!(
                            "the JWK Set's key '{shown}' is not for verifying (its key_ops lack \
                             'verify')"
                        ));
                    }
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
