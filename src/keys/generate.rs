//! New keys: HMAC secrets from the OS, and RSA, EC and Ed25519 key pairs from AWS-LC; written as
//! PKCS#8 PEM (or base64url text for a secret) or as a private JWK.

use crate::token::Algorithm;
use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::der::{ec_private, ed_private, pkcs8_private};
use super::export::required_members;
use super::{Key, KeyKind, classify};
use crate::error::{Error, Result};

/// What to make.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub kind: KeyKind,
    /// RSA modulus size: 2048, 3072 or 4096.
    pub rsa_bits: usize,
    /// The algorithm to pin (`alg` in a JWK); must be one the kind serves.
    pub alg: Option<Algorithm>,
}

/// A new key: the key itself, its private encoding as a file holds it, and its private JWK.
pub struct Generated {
    pub key: Key,
    /// PKCS#8 DER of a key pair, or the text of an HMAC secret file.
    pub file: FileForm,
    /// The private members of the JWK form (`d`, ... or `k`), beyond the public ones.
    private_members: Map<String, Value>,
}

/// How a new key is written to a PEM-format file.
pub enum FileForm {
    Pkcs8(Vec<u8>),
    SecretText(String),
}

fn failed(what: &str) -> Error {
    Error::key(format!(
        "cannot generate {what}: the crypto library refused"
    ))
}

/// Make a key to `spec`, its randomness from the OS (through AWS-LC for key pairs).
pub fn generate(spec: Spec) -> Result<Generated> {
    let alg = spec.alg.unwrap_or(spec.kind.default_alg());
    if !spec.kind.serves(alg) {
        return Err(Error::usage(format!(
            "--alg {alg:?} does not fit {}",
            spec.kind.describe()
        )));
    }
    let mut generated = match spec.kind {
        KeyKind::Hmac => hmac(alg)?,
        KeyKind::Rsa => rsa_pair(spec.rsa_bits)?,
        KeyKind::EcP256 | KeyKind::EcP384 | KeyKind::EcP521 => ec_pair(spec.kind)?,
        KeyKind::Ed25519 => ed_pair()?,
    };
    generated.key.jwk_alg = Some(alg);
    generated.key.jwk_kid = generated.key.default_kid();
    Ok(generated)
}

fn hmac(alg: Algorithm) -> Result<Generated> {
    let len = match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    };
    let mut raw = vec![0u8; len];
    crate::sys::random_bytes(&mut raw).map_err(|_| failed("an HMAC secret"))?;
    let text = URL_SAFE_NO_PAD.encode(&raw);
    // The file form is the text (as ./jwtctl.key); the JWK's `k` is that same secret.
    let key = classify(&super::Secret::new(text.clone().into_bytes()))?;
    let mut private_members = Map::new();
    private_members.insert("k".into(), Value::from(URL_SAFE_NO_PAD.encode(&text)));
    Ok(Generated {
        key,
        file: FileForm::SecretText(format!("{text}\n")),
        private_members,
    })
}

fn rsa_pair(bits: usize) -> Result<Generated> {
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return Err(Error::usage("--bits takes 2048, 3072 or 4096")),
    };
    let pair = KeyPair::generate(size).map_err(|_| failed("an RSA key"))?;
    let pkcs8 = pair.as_der().map_err(|_| failed("an RSA key"))?;
    let key = pkcs8_private(pkcs8.as_ref())?;
    Ok(Generated {
        private_members: rsa_private_members(pkcs8.as_ref())?,
        key,
        file: FileForm::Pkcs8(pkcs8.as_ref().to_vec()),
    })
}

/// `d`, `p`, `q`, `dp`, `dq`, `qi` of an RSA PKCS#8 key (RFC 7518 §6.3.2), read from its
/// RFC 8017 RSAPrivateKey by `pkcs1` (DER only; aws-lc does not expose the members).
fn rsa_private_members(pkcs8: &[u8]) -> Result<Map<String, Value>> {
    use der::Decode;
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8).map_err(|_| failed("an RSA JWK"))?;
    let key = pkcs1::RsaPrivateKey::from_der(info.private_key).map_err(|_| failed("an RSA JWK"))?;
    if key.other_prime_infos.is_some() {
        return Err(failed("an RSA JWK (a multi-prime key)"));
    }
    let b = |n: der::asn1::UintRef<'_>| Value::from(URL_SAFE_NO_PAD.encode(n.as_bytes()));
    let mut m = Map::new();
    for (name, value) in [
        ("d", b(key.private_exponent)),
        ("p", b(key.prime1)),
        ("q", b(key.prime2)),
        ("dp", b(key.exponent1)),
        ("dq", b(key.exponent2)),
        ("qi", b(key.coefficient)),
    ] {
        m.insert(name.into(), value);
    }
    Ok(m)
}

fn ec_pair(kind: KeyKind) -> Result<Generated> {
    let alg = match kind {
        KeyKind::EcP256 => &ECDSA_P256_SHA256_FIXED_SIGNING,
        KeyKind::EcP384 => &ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => &ECDSA_P521_SHA512_FIXED_SIGNING,
    };
    let pair = EcdsaKeyPair::generate(alg).map_err(|_| failed("an EC key"))?;
    let pkcs8 = pair.to_pkcs8v1().map_err(|_| failed("an EC key"))?;
    let d = pair
        .private_key()
        .as_be_bytes()
        .map_err(|_| failed("an EC key"))?;
    let mut private_members = Map::new();
    private_members.insert("d".into(), Value::from(URL_SAFE_NO_PAD.encode(d.as_ref())));
    Ok(Generated {
        key: ec_private(kind, &pair)?,
        file: FileForm::Pkcs8(pkcs8.as_ref().to_vec()),
        private_members,
    })
}

fn ed_pair() -> Result<Generated> {
    let pair = Ed25519KeyPair::generate().map_err(|_| failed("an Ed25519 key"))?;
    // PKCS#8 v1, which every OpenSSL reads (3.0 refuses v2 with its public key).
    let pkcs8 = pair.to_pkcs8v1().map_err(|_| failed("an Ed25519 key"))?;
    let seed = pair.seed().map_err(|_| failed("an Ed25519 key"))?;
    let seed = seed.as_be_bytes().map_err(|_| failed("an Ed25519 key"))?;
    let mut private_members = Map::new();
    private_members.insert(
        "d".into(),
        Value::from(URL_SAFE_NO_PAD.encode(seed.as_ref())),
    );
    Ok(Generated {
        key: ed_private(&pair)?,
        file: FileForm::Pkcs8(pkcs8.as_ref().to_vec()),
        private_members,
    })
}

impl Generated {
    /// The private key as a PEM file holds it: PKCS#8 PEM, or a secret's base64url text.
    pub fn pem(&self) -> String {
        match &self.file {
            FileForm::Pkcs8(der) => ::pem::encode(&::pem::Pem::new("PRIVATE KEY", der.clone())),
            FileForm::SecretText(text) => text.clone(),
        }
    }

    /// The private key as encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA256 with 600,000
    /// iterations, as OWASP advises, and AES-256-CBC; what `openssl pkey` reads), under
    /// `password`. An HMAC secret has no PKCS#8 form.
    pub fn encrypted_pem(&self, password: &super::Secret) -> Result<String> {
        use der::Decode;
        let FileForm::Pkcs8(der) = &self.file else {
            return Err(Error::usage(
                "an HMAC secret cannot be written encrypted; keep it in a 0600 file or a \
                 secret store",
            ));
        };
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|_| failed("the PKCS#8 form"))?;
        let mut salt_iv = [0u8; 32];
        crate::sys::random_bytes(&mut salt_iv).map_err(|_| failed("an encrypted key"))?;
        let (salt, iv) = salt_iv.split_at(16);
        let iv: &[u8; 16] = iv.try_into().map_err(|_| failed("an encrypted key"))?;
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(600_000, salt, iv)
            .map_err(|_| failed("an encrypted key"))?;
        let encrypted = info
            .encrypt_with_params(params, password.expose())
            .map_err(|_| failed("an encrypted key"))?;
        Ok(::pem::encode(&::pem::Pem::new(
            "ENCRYPTED PRIVATE KEY",
            encrypted.as_bytes().to_vec(),
        )))
    }

    /// The private JWK: the public members (or `kty: oct`), the private ones, `kid`, `alg` and
    /// `use: sig`.
    pub fn private_jwk(&self) -> Result<Map<String, Value>> {
        let mut jwk = match self.key.kind {
            KeyKind::Hmac => {
                let mut m = Map::new();
                m.insert("kty".into(), Value::from("oct"));
                m
            }
            _ => required_members(&self.key.public)?,
        };
        jwk.extend(self.private_members.clone());
        if let Some(kid) = &self.key.jwk_kid {
            jwk.insert("kid".into(), Value::from(kid.as_str()));
        }
        let alg = self.key.pick_alg(None)?;
        jwk.insert("alg".into(), Value::from(format!("{alg:?}")));
        jwk.insert("use".into(), Value::from("sig"));
        Ok(jwk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: KeyKind) -> Spec {
        Spec {
            kind,
            rsa_bits: 2048,
            alg: None,
        }
    }

    #[test]
    fn every_generated_key_reads_back_from_both_forms() {
        for kind in [
            KeyKind::Hmac,
            KeyKind::Rsa,
            KeyKind::EcP256,
            KeyKind::EcP384,
            KeyKind::EcP521,
            KeyKind::Ed25519,
        ] {
            let g = generate(spec(kind)).unwrap();
            let from_pem = classify(&super::super::Secret::new(g.pem().into_bytes())).unwrap();
            let jwk = serde_json::to_vec(&g.private_jwk().unwrap()).unwrap();
            let from_jwk = classify(&super::super::Secret::new(jwk)).unwrap();
            assert_eq!(from_pem.kind, kind);
            assert_eq!(from_jwk.kind, kind);
            assert!(from_jwk.can_sign(), "{kind:?} JWK is private");
            assert_eq!(from_pem.public, g.key.public, "{kind:?}");
            assert_eq!(from_jwk.public, g.key.public, "{kind:?}");
        }
    }

    #[test]
    fn hmac_length_follows_the_algorithm() {
        let g = generate(Spec {
            alg: Some(Algorithm::HS512),
            ..spec(KeyKind::Hmac)
        })
        .unwrap();
        assert!(g.key.check_strength(Algorithm::HS512, false).is_ok());
        assert_eq!(g.key.default_kid(), None, "an HMAC key gets no kid");
    }
}
