//! PEM files as OpenSSL writes them: keys, certificates (a chain uses its first), and the kinds
//! jwtctl refuses with the conversion that helps.

use super::Key;
use super::der::{self, DerKind};
use crate::error::{Error, Result};

pub(super) fn from_pem(bytes: &[u8], password: Option<&super::Secret>) -> Result<Key> {
    let blocks = ::pem::parse_many(bytes)
        .map_err(|_| Error::key("the key file looks like PEM but cannot be parsed"))?;
    // Parameters travel with SEC1 keys; certificates travel with keys (`openssl pkcs12 -nodes`).
    let keys: Vec<&::pem::Pem> = blocks
        .iter()
        .filter(|b| !matches!(b.tag(), "EC PARAMETERS" | "CERTIFICATE"))
        .collect();
    let block = match keys.as_slice() {
        [one] => *one,
        [] => blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| Error::key("the PEM file holds no key"))?,
        _ => {
            return Err(Error::key(
                "the PEM file holds several keys; give a file with exactly one",
            ));
        }
    };
    if is_legacy_encrypted(block) {
        return Err(der::encrypted());
    }
    let contents = block.contents();
    match block.tag() {
        "RSA PRIVATE KEY" => der::pkcs1_private(contents),
        "PRIVATE KEY" => der::pkcs8_private(contents),
        "EC PRIVATE KEY" => der::sec1_private(contents),
        "RSA PUBLIC KEY" | "PUBLIC KEY" => der::spki_public(contents),
        "CERTIFICATE" => der::certificate_public(contents),
        "ENCRYPTED PRIVATE KEY" => der::decrypt_pkcs8(contents, password),
        "OPENSSH PRIVATE KEY" => Err(Error::key(
            "the key file is an OpenSSH private key; convert a copy to PKCS#8 with \
             'ssh-keygen -p -m PKCS8 -f COPY' (RSA and ECDSA keys), or make a PEM key with openssl",
        )),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Err(Error::key(
            "the key file is a certificate request; give the key or the issued certificate",
        )),
        "TRUSTED CERTIFICATE" | "X509 CERTIFICATE" => Err(Error::key(
            "jwtctl cannot use this certificate as it is; take its key out with \
             'openssl x509 -pubkey -noout -in CERT > key.pem'",
        )),
        other => match der::sniff(contents) {
            Some(DerKind::EncryptedPkcs8) => der::decrypt_pkcs8(contents, password),
            _ => Err(Error::key(format!(
                "unsupported PEM block '{}'; jwtctl takes RSA, EC P-256/P-384/P-521 and Ed25519 keys \
                 and certificates",
                other.escape_debug()
            ))),
        },
    }
}

/// OpenSSL's traditional encrypted PEM: `Proc-Type: 4,ENCRYPTED` with a `DEK-Info` header.
fn is_legacy_encrypted(block: &::pem::Pem) -> bool {
    block
        .headers()
        .get("Proc-Type")
        .is_some_and(|v| v.to_ascii_uppercase().contains("ENCRYPTED"))
        || block.headers().get("DEK-Info").is_some()
}
