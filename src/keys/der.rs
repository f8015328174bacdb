//! DER key material: SPKI, PKCS#8, PKCS#1, SEC1 and X.509 certificates, as bytes or inside PEM.

use aws_lc_rs::signature::{
    self as sig, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED, ECDSA_P521_SHA512_FIXED_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair,
};
use der::{Decode, Tagged};
use jsonwebtoken::EncodingKey;

use super::{Key, KeyKind, Public, Secret, bad_key};
use crate::error::{Error, Result};

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub(super) const MIN_RSA_BITS: usize = 2048;

/// What a DER structure holds, as far as jwtctl tells kinds apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DerKind {
    /// SubjectPublicKeyInfo (what `openssl pkey -pubout -outform DER` writes).
    Spki,
    /// PKCS#8 PrivateKeyInfo.
    Pkcs8,
    /// PKCS#8 EncryptedPrivateKeyInfo.
    EncryptedPkcs8,
    /// An X.509 certificate.
    Certificate,
    /// Anything else that is one well-formed DER SEQUENCE (PKCS#1, SEC1, or a kind jwtctl lacks).
    Other,
}

/// The kind of DER structure `bytes` is, or `None` when it is not exactly one DER SEQUENCE.
///
/// Invariant: bytes that form a DER structure are never taken for an HMAC secret, so the bytes
/// of a public key or certificate can't become the secret that forged tokens are MACed with.
pub(super) fn sniff(bytes: &[u8]) -> Option<DerKind> {
    let any = der::asn1::AnyRef::from_der(bytes).ok()?;
    if any.tag() != der::Tag::Sequence {
        return None;
    }
    Some(if spki::SubjectPublicKeyInfoRef::from_der(bytes).is_ok() {
        DerKind::Spki
    } else if pkcs8::PrivateKeyInfo::from_der(bytes).is_ok() {
        DerKind::Pkcs8
    } else if pkcs8::EncryptedPrivateKeyInfo::from_der(bytes).is_ok() {
        DerKind::EncryptedPkcs8
    } else if x509_cert::Certificate::from_der(bytes).is_ok() {
        DerKind::Certificate
    } else {
        DerKind::Other
    })
}

/// A key from DER bytes with no PEM label to say what they are.
pub(super) fn from_der(der: &[u8], kind: DerKind, password: Option<&Secret>) -> Result<Key> {
    match kind {
        DerKind::Spki => spki_public(der),
        DerKind::Pkcs8 => pkcs8_private(der),
        DerKind::EncryptedPkcs8 => decrypt_pkcs8(der, password),
        DerKind::Certificate => certificate_public(der),
        DerKind::Other => {
            if let Ok(key) = pkcs1_private(der) {
                return Ok(key);
            }
            if let Ok(key) = rsa_public(der) {
                return key;
            }
            sec1_private(der).map_err(|_| {
                Error::key(
                    "the key file is DER data of a kind jwtctl does not read; see what it is \
                     with 'openssl asn1parse -inform DER -in FILE', and convert a key with \
                     'openssl pkey -inform DER -in FILE -out key.pem'",
                )
            })
        }
    }
}

/// The error for an encrypted private key jwtctl was given no password for, or cannot decrypt.
pub(super) fn encrypted() -> Error {
    Error::key(
        "the private key is encrypted; give its password with --password-file FILE or \
         --password-env NAME (PKCS#8), or decrypt it with 'openssl pkey -in KEY -out PLAIN.pem' \
         and keep PLAIN.pem mode 0600",
    )
}

/// An encrypted PKCS#8 key (PBES2, as `openssl genpkey -aes256` writes), decrypted by the `pkcs8`
/// crate with `password`.
pub(super) fn decrypt_pkcs8(der: &[u8], password: Option<&Secret>) -> Result<Key> {
    let Some(password) = password else {
        return Err(encrypted());
    };
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der)
        .map_err(|_| bad_key("an encrypted private key"))?;
    let plain = info.decrypt(password.expose()).map_err(|_| {
        Error::key(
            "cannot decrypt the private key: the password is wrong, or the key uses a cipher \
             jwtctl lacks (it reads PBES2 with AES and PBKDF2 or scrypt)",
        )
    })?;
    pkcs8_private(plain.as_bytes())
}

/// The bit length of an unsigned big-endian integer.
pub(super) fn bit_len(n: &[u8]) -> usize {
    let n = &n[n.iter().take_while(|&&b| b == 0).count()..];
    n.first().map_or(0, |top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    })
}

/// An RSA key from its public components: refused under [`MIN_RSA_BITS`], whatever the command.
pub(super) fn rsa_key(n: &[u8], e: &[u8], encoding: Option<EncodingKey>) -> Result<Key> {
    let bits = bit_len(n);
    if bits < MIN_RSA_BITS {
        return Err(Error::key(format!(
            "the RSA key is {bits} bits; jwtctl needs at least {MIN_RSA_BITS} (RFC 7518 §3.3): \
             make a new key, e.g. 'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072'"
        )));
    }
    Ok(Key::new(
        KeyKind::Rsa,
        encoding,
        Public::Rsa {
            n: n.to_vec(),
            e: e.to_vec(),
        },
    ))
}

fn rsa_public(der: &[u8]) -> std::result::Result<Result<Key>, ()> {
    let public = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| ())?;
    let parts = sig::RsaPublicKeyComponents::<Vec<u8>>::from(&public);
    Ok(rsa_key(&parts.n, &parts.e, None))
}

/// An RSA private key pair, with the signing key jsonwebtoken wants (PKCS#1 DER).
pub(super) fn rsa_private(pair: &RsaKeyPair, pkcs1: &[u8]) -> Result<Key> {
    let public = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    rsa_key(&public.n, &public.e, Some(EncodingKey::from_rsa_der(pkcs1)))
}

/// The size of an RSA private key aws-lc refused, when it is a plain small key; else `None`.
fn small_rsa_private(pkcs1: &[u8]) -> Option<Error> {
    // RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, ... }
    let seq: Vec<der::asn1::AnyRef> = Vec::from_der(pkcs1).ok()?;
    let n = der::asn1::UintRef::try_from(*seq.get(1)?).ok()?;
    let e = der::asn1::UintRef::try_from(*seq.get(2)?).ok()?;
    rsa_key(n.as_bytes(), e.as_bytes(), None).err()
}

pub(super) fn pkcs1_private(der: &[u8]) -> Result<Key> {
    match RsaKeyPair::from_der(der) {
        Ok(pair) => rsa_private(&pair, der),
        Err(_) => Err(small_rsa_private(der).unwrap_or_else(|| bad_key("an RSA private key"))),
    }
}

pub(super) const EC_CURVES: [(KeyKind, &EcdsaSigningAlgorithm); 3] = [
    (KeyKind::EcP256, &ECDSA_P256_SHA256_FIXED_SIGNING),
    (KeyKind::EcP384, &ECDSA_P384_SHA384_FIXED_SIGNING),
    (KeyKind::EcP521, &ECDSA_P521_SHA512_FIXED_SIGNING),
];

pub(super) fn sec1_private(der: &[u8]) -> Result<Key> {
    for (kind, alg) in EC_CURVES {
        if let Ok(pair) = EcdsaKeyPair::from_private_key_der(alg, der) {
            return ec_private(kind, &pair);
        }
    }
    Err(Error::key(
        "unsupported EC curve; jwtctl takes P-256 (ES256), P-384 (ES384) and P-521 (ES512)",
    ))
}

pub(super) fn ec_private(kind: KeyKind, pair: &EcdsaKeyPair) -> Result<Key> {
    // jsonwebtoken signs only with PKCS#8, so SEC1 keys are converted here.
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| bad_key("an EC private key"))?;
    Ok(Key::new(
        kind,
        Some(EncodingKey::from_ec_der(pkcs8.as_ref())),
        Public::Ec {
            point: pair.public_key().as_ref().to_vec(),
        },
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
        Public::Ed25519 {
            x: pair.public_key().as_ref().to_vec(),
        },
    ))
}

pub(super) fn pkcs8_private(der: &[u8]) -> Result<Key> {
    if let Ok(info) = pkcs8::PrivateKeyInfo::from_der(der)
        && info.algorithm.oid == RSA_ENCRYPTION
    {
        return pkcs1_private(info.private_key);
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
        "unsupported private key type; jwtctl takes RSA, EC P-256/P-384/P-521 and Ed25519 keys",
    ))
}

/// rsaEncryption (RFC 8017 appendix A.1).
const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A public key from SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER.
pub(super) fn spki_public(der: &[u8]) -> Result<Key> {
    if let Ok(key) = rsa_public(der) {
        return key;
    }
    let candidates: [(KeyKind, &'static dyn sig::VerificationAlgorithm); 4] = [
        (KeyKind::EcP256, &ECDSA_P256_SHA256_FIXED),
        (KeyKind::EcP384, &ECDSA_P384_SHA384_FIXED),
        (KeyKind::EcP521, &ECDSA_P521_SHA512_FIXED),
        (KeyKind::Ed25519, &sig::ED25519),
    ];
    for (kind, alg) in candidates {
        if let Ok(parsed) = ParsedPublicKey::new(alg, der) {
            // jsonwebtoken wants the raw point (EC) or the 32-byte key (Ed25519).
            let raw = spki::SubjectPublicKeyInfoRef::from_der(der)
                .ok()
                .and_then(|info| info.subject_public_key.as_bytes().map(<[u8]>::to_vec))
                .unwrap_or_else(|| parsed.as_ref().to_vec());
            let public = if kind == KeyKind::Ed25519 {
                Public::Ed25519 { x: raw }
            } else {
                Public::Ec { point: raw }
            };
            return Ok(Key::new(kind, None, public));
        }
    }
    Err(Error::key(
        "unsupported public key type; jwtctl takes RSA, EC P-256/P-384/P-521 and Ed25519 keys",
    ))
}

/// The public key of an X.509 certificate. Its validity dates and issuer are not checked: a
/// certificate here is only a container for the key an identity provider publishes.
pub(super) fn certificate_public(der: &[u8]) -> Result<Key> {
    use der::Encode;
    let cert =
        x509_cert::Certificate::from_der(der).map_err(|_| bad_key("an X.509 certificate"))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| bad_key("an X.509 certificate"))?;
    spki_public(&spki).map_err(|e| {
        Error::key(format!(
            "{}; the certificate's key: see it with 'openssl x509 -pubkey -noout -in CERT'",
            e.message()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths_ignore_leading_zeros() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01, 0xff]), 9);
        assert_eq!(bit_len(&[]), 0);
    }

    #[test]
    fn random_bytes_and_text_are_not_der() {
        assert_eq!(sniff(b"0123456789abcdef0123456789abcdef"), None);
        // A SEQUENCE whose length does not cover the input is not one DER structure.
        assert_eq!(sniff(&[0x30, 0x03, 0x02, 0x01, 0x01, 0xff]), None);
        assert_eq!(sniff(&[0x30, 0x03, 0x02, 0x01, 0x01]), Some(DerKind::Other));
    }
}
