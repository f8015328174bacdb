//! `key gen --pkcs11`: a key pair made inside the token, private half sensitive and never
//! extractable, under a label no other object has; only its public half comes out.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::types::Ulong;

use super::{PIN_VAR, Uri, field, find_slot, load, login, module_path, public_half, token_error};
use crate::error::{Error, Result};
use crate::keys::{Key, KeyKind, Public, Secret};

/// What to make in the token: the kind of key and, for RSA, its size in bits.
#[derive(Debug, Clone, Copy)]
pub struct TokenSpec {
    pub kind: KeyKind,
    pub rsa_bits: usize,
}

/// A key pair made in a token: its public half, and the `CKA_ID` both objects carry.
pub struct Made {
    pub key: Key,
    pub id: Vec<u8>,
    /// The token's label, as it names itself.
    pub token: String,
}

/// `CKA_EC_PARAMS` of each curve: the DER of its OID (RFC 8410's for Ed25519, which PKCS#11
/// 3.0 §2.3.10 allows beside the printable name).
fn ec_params(kind: KeyKind) -> &'static [u8] {
    match kind {
        KeyKind::EcP256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        KeyKind::EcP384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        KeyKind::EcP521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        _ => &[0x06, 0x03, 0x2b, 0x65, 0x70],
    }
}

/// Make a key pair to `spec` in the token `uri` names, labelled with its `object=` (and with its
/// `id=`, else a random `CKA_ID`), logging in with `pin`.
///
/// Invariants: an object with that label (or that id) is never replaced or joined: the key is
/// refused before anything is made; the private key is `CKA_TOKEN`, `CKA_PRIVATE`,
/// `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, and signs; a pair the token made otherwise is
/// destroyed, not left behind, as is one whose public half cannot be read.
pub fn generate(
    uri: &Uri,
    pin: Option<&Secret>,
    spec: TokenSpec,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Made> {
    let Some(label) = uri.object.as_deref() else {
        return Err(Error::usage(
            "key gen --pkcs11 needs the new key's label: add object=LABEL to the URI",
        ));
    };
    let gen_mechanism = match spec.kind {
        KeyKind::Rsa => Mechanism::RsaPkcsKeyPairGen,
        KeyKind::EcP256 | KeyKind::EcP384 | KeyKind::EcP521 => Mechanism::EccKeyPairGen,
        KeyKind::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
        KeyKind::Hmac => {
            return Err(Error::usage(
                "key gen --pkcs11 makes rsa, ec or ed25519 key pairs; an HMAC secret is not \
                 made in a token here",
            ));
        }
    };
    let module_path = module_path(uri, env)?;
    let module = load(&module_path)?;
    let slot = find_slot(&module, uri, &module_path)?;
    let info = module
        .get_token_info(slot)
        .map_err(|e| token_error(&e, "read the token's details"))?;
    let token = field(info.label());
    if info.write_protected() {
        return Err(Error::key(format!(
            "the token '{}' is write-protected; make the key on a token that can store it",
            token.escape_debug()
        )));
    }
    let session = module
        .open_rw_session(slot)
        .map_err(|e| token_error(&e, "open a read-write session with the token"))?;
    let needs_pin = || {
        Error::key(format!(
            "the token needs its PIN to make a key: put it in a file you own (mode 0600) and \
             add ?pin-source=file:PATH to the URI, or export it in {PIN_VAR}"
        ))
    };
    match pin {
        Some(pin) => login(&module, slot, &session, pin)?,
        None if info.login_required() => return Err(needs_pin()),
        None => {}
    }
    let mechanisms = module
        .get_mechanism_list(slot)
        .map_err(|e| token_error(&e, "list the token's mechanisms"))?;
    if !mechanisms.contains(&gen_mechanism.mechanism_type()) {
        return Err(Error::key(format!(
            "the token cannot make {} ({} is not among its mechanisms); choose another --type",
            spec.kind.describe(),
            gen_mechanism.mechanism_type()
        )));
    }
    taken(&session, &[Attribute::Label(label.as_bytes().to_vec())]).map_err(|e| {
        e.unwrap_or_else(|| {
            Error::key(format!(
                "the token already holds an object labelled '{}'; jwtctl never replaces or joins \
                 a key: choose another object= (or delete the old one yourself)",
                label.escape_debug()
            ))
        })
    })?;
    let id = match &uri.id {
        Some(id) => id.clone(),
        None => {
            let mut id = vec![0u8; 16];
            crate::sys::random_bytes(&mut id)
                .map_err(|_| Error::key("no randomness available from the OS for the key's id"))?;
            id
        }
    };
    taken(&session, &[Attribute::Id(id.clone())]).map_err(|e| {
        e.unwrap_or_else(|| {
            Error::key(
                "the token already holds an object with the URI's id=; jwtctl never replaces \
                 or joins a key: choose another id= (or leave it out for a random one)",
            )
        })
    })?;
    let common = |private: bool| {
        vec![
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
        ]
    };
    // A JWT signing key signs and verifies, and is for nothing else (no decrypting, wrapping
    // or deriving with it).
    let mut public_template = common(false);
    public_template.extend([
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
    ]);
    match spec.kind {
        KeyKind::Rsa => {
            let bits = Ulong::try_from(spec.rsa_bits)
                .map_err(|_| Error::usage("--bits takes 2048, 3072 or 4096"))?;
            public_template.push(Attribute::ModulusBits(bits));
            public_template.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
        }
        kind => public_template.push(Attribute::EcParams(ec_params(kind).to_vec())),
    }
    let mut private_template = common(true);
    private_template.extend([
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ]);
    let (public, private) = session
        .generate_key_pair(&gen_mechanism, &public_template, &private_template)
        .map_err(|e| match e {
            cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserNotLoggedIn, _) => {
                needs_pin()
            }
            e => token_error(&e, "make the key pair in the token"),
        })?;
    let made =
        kept_private(&session, private).and_then(|()| public_key(&session, public, spec.kind));
    match made {
        Ok(key) => Ok(Made { key, id, token }),
        Err(e) => {
            // Nothing half-made stays behind under the label.
            let _ = session.destroy_object(private);
            let _ = session.destroy_object(public);
            Err(e)
        }
    }
}

/// `Err(None)` when an object matching `template` exists (the caller says which), `Err(Some)`
/// when the token cannot be searched.
fn taken(session: &Session, template: &[Attribute]) -> std::result::Result<(), Option<Error>> {
    match session.find_objects(template) {
        Ok(found) if found.is_empty() => Ok(()),
        Ok(_) => Err(None),
        Err(e) => Err(Some(token_error(&e, "search the token"))),
    }
}

/// Refuse a private key the token did not make as asked: kept on the token, sensitive, never
/// extractable, signing (read back: a module may ignore a template's attribute).
fn kept_private(session: &Session, private: ObjectHandle) -> Result<()> {
    let attrs = session
        .get_attributes(
            private,
            &[
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Sign,
            ],
        )
        .map_err(|e| token_error(&e, "read the new key's attributes"))?;
    let as_asked = attrs.iter().all(|a| match a {
        Attribute::Token(v) | Attribute::Sensitive(v) | Attribute::Sign(v) => *v,
        Attribute::Extractable(v) => !*v,
        _ => true,
    }) && attrs.len() == 4;
    if as_asked {
        Ok(())
    } else {
        Err(Error::key(
            "the token made the key extractable, not sensitive, not stored or not signing, \
             against what jwtctl asked; it was deleted. Use a token that keeps keys inside",
        ))
    }
}

/// The new pair's public half, as jwtctl keys go (an RSA key under 2048 bits refused).
fn public_key(session: &Session, public: ObjectHandle, kind: KeyKind) -> Result<Key> {
    let (got, half) = public_half(session, public, true)?;
    if got != kind {
        return Err(Error::key(format!(
            "the token made {} when asked for {}; it was deleted",
            got.describe(),
            kind.describe()
        )));
    }
    match half {
        Public::Rsa { n, e } => crate::keys::der::rsa_key(&n, &e, None),
        half => Ok(Key::new(kind, None, half)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_are_named_by_the_oids_the_reader_knows() {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
            ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
        };
        let ec = |alg| {
            let pair = EcdsaKeyPair::generate(alg).unwrap();
            pair.public_key().as_ref().to_vec()
        };
        for (kind, point) in [
            (KeyKind::EcP256, ec(&ECDSA_P256_SHA256_FIXED_SIGNING)),
            (KeyKind::EcP384, ec(&ECDSA_P384_SHA384_FIXED_SIGNING)),
            (KeyKind::EcP521, ec(&ECDSA_P521_SHA512_FIXED_SIGNING)),
            (
                KeyKind::Ed25519,
                Ed25519KeyPair::generate()
                    .unwrap()
                    .public_key()
                    .as_ref()
                    .to_vec(),
            ),
        ] {
            let (read, _) = super::super::curve_point(ec_params(kind), &point).unwrap();
            assert_eq!(read, kind);
        }
    }
}
