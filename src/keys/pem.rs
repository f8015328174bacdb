//! PEM keys as OpenSSL writes them: RSA, EC P-256/P-384 (SEC1 or PKCS#8) and Ed25519.

use aws_lc_rs::signature::{
    self as sig, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair,
    ParsedPublicKey, RsaKeyPair,
};
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::{Key, KeyKind, bad_key};
use crate::error::{Error, Result};

pub(super) fn from_pem(bytes: &[u8]) -> Result<Key> {
    let blocks = pem::parse_many(bytes)
        .map_err(|_| Error::key("the key file looks like PEM but cannot be parsed"))?;
    let mut keys = blocks.iter().filter(|b| b.tag() != "EC PARAMETERS");
    let (Some(block), None) = (keys.next(), keys.next()) else {
        return Err(Error::key(
            "the PEM file must hold exactly one key (found none or several blocks)",
        ));
    };
    let der = block.contents();
    match block.tag() {
        "RSA PRIVATE KEY" => {
            let pair = RsaKeyPair::from_der(der).map_err(|_| bad_key("an RSA private key"))?;
            Ok(rsa_private(&pair, EncodingKey::from_rsa_der(der)))
        }
        "PRIVATE KEY" => pkcs8_private(block),
        "EC PRIVATE KEY" => {
            for (kind, alg) in EC_CURVES {
                if let Ok(pair) = EcdsaKeyPair::from_private_key_der(alg, der) {
                    return ec_private(kind, &pair);
                }
            }
            Err(Error::key(
                "unsupported EC curve; jwtctl takes P-256 (ES256) and P-384 (ES384)",
            ))
        }
        "RSA PUBLIC KEY" | "PUBLIC KEY" => spki_public(block),
        "ENCRYPTED PRIVATE KEY" => Err(Error::key(
            "the private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)",
        )),
        other => Err(Error::key(format!(
            "unsupported PEM block '{}'; jwtctl takes RSA, EC P-256/P-384 and Ed25519 keys",
            other.escape_debug()
        ))),
    }
}

const EC_CURVES: [(KeyKind, &EcdsaSigningAlgorithm); 2] = [
    (KeyKind::EcP256, &ECDSA_P256_SHA256_FIXED_SIGNING),
    (KeyKind::EcP384, &ECDSA_P384_SHA384_FIXED_SIGNING),
];

fn rsa_private(pair: &RsaKeyPair, encoding: EncodingKey) -> Key {
    let public = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let decoding = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
    Key::new(KeyKind::Rsa, Some(encoding), decoding)
}

pub(super) fn ec_private(kind: KeyKind, pair: &EcdsaKeyPair) -> Result<Key> {
    // jsonwebtoken signs only with PKCS#8, so SEC1 keys are converted here.
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| bad_key("an EC private key"))?;
    Ok(Key::new(
        kind,
        Some(EncodingKey::from_ec_der(pkcs8.as_ref())),
        DecodingKey::from_ec_der(pair.public_key().as_ref()),
    ))
}

pub(super) fn ed_private(pair: &Ed25519KeyPair) -> Result<Key> {
    // OpenSSL writes PKCS#8 v1; normalise to v2, which the signer requires.
    let pkcs8 = pair
        .to_pkcs8()
        .map_err(|_| bad_key("an Ed25519 private key"))?;
    Ok(Key::new(
        KeyKind::Ed25519,
        Some(EncodingKey::from_ed_der(pkcs8.as_ref())),
        DecodingKey::from_ed_der(pair.public_key().as_ref()),
    ))
}

fn pkcs8_private(block: &pem::Pem) -> Result<Key> {
    let der = block.contents();
    if RsaKeyPair::from_pkcs8(der).is_ok() {
        let pem_text = pem::encode(block);
        let encoding = EncodingKey::from_rsa_pem(pem_text.as_bytes())
            .map_err(|_| bad_key("an RSA private key"))?;
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| bad_key("an RSA private key"))?;
        return Ok(rsa_private(&pair, encoding));
    }
    for (kind, alg) in EC_CURVES {
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(alg, der) {
            return ec_private(kind, &pair);
        }
    }
    if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
        return ed_private(&pair);
    }
    Err(Error::key(
        "unsupported private key type; jwtctl takes RSA, EC P-256/P-384 and Ed25519 keys",
    ))
}

fn spki_public(block: &pem::Pem) -> Result<Key> {
    let der = block.contents();
    if let Ok(public) = aws_lc_rs::rsa::PublicKey::from_der(der) {
        let parts = sig::RsaPublicKeyComponents::<Vec<u8>>::from(&public);
        let decoding = DecodingKey::from_rsa_raw_components(&parts.n, &parts.e);
        return Ok(Key::new(KeyKind::Rsa, None, decoding));
    }
    let pem_text = pem::encode(block);
    let candidates: [(KeyKind, &'static dyn sig::VerificationAlgorithm); 3] = [
        (KeyKind::EcP256, &ECDSA_P256_SHA256_FIXED),
        (KeyKind::EcP384, &ECDSA_P384_SHA384_FIXED),
        (KeyKind::Ed25519, &sig::ED25519),
    ];
    for (kind, alg) in candidates {
        if ParsedPublicKey::new(alg, der).is_ok() {
            let decoding = if kind == KeyKind::Ed25519 {
                DecodingKey::from_ed_pem(pem_text.as_bytes())
            } else {
                DecodingKey::from_ec_pem(pem_text.as_bytes())
            };
            let decoding = decoding.map_err(|_| bad_key("a public key"))?;
            return Ok(Key::new(kind, None, decoding));
        }
    }
    Err(Error::key(
        "unsupported public key type; jwtctl takes RSA, EC P-256/P-384 and Ed25519 keys",
    ))
}
