//! Keys in a PKCS#11 token (an HSM, a YubiKey through OpenSC, a cloud KMS's PKCS#11 library,
//! SoftHSM2 in tests), named by an RFC 7512 URI: the module is loaded only then, the key signs
//! inside the token and is never read out, and its public half verifies and is published.
//!
//! Invariants: the module (code jwtctl runs) is an absolute path to a regular file that only
//! its owner (the running user or root) can change, in a directory others cannot write, and is
//! loaded through the descriptor that was checked; a PIN never comes from argv, is never
//! shown, logged or recorded, and a locked PIN is said plainly.

mod generate;
mod uri;

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

pub use generate::{Made, TokenSpec, generate};
pub use uri::{Uri, is_uri, parse};

use super::{Key, KeyKind, Public, Secret};
use crate::error::{Error, Result};
use crate::token::Algorithm;

/// The variable naming the module when the URI has no `module-path`.
pub const MODULE_VAR: &str = "JWTCTL_PKCS11_MODULE";
/// The variable holding the PIN when the URI has no `pin-source`.
pub const PIN_VAR: &str = "JWTCTL_PKCS11_PIN";

/// Where a module is looked for when neither the URI nor `JWTCTL_PKCS11_MODULE` names one, in
/// this order: p11-kit's proxy (every module the system registers), SoftHSM2, OpenSC.
pub const DEFAULT_MODULES: [&str; 9] = [
    "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib64/p11-kit-proxy.so",
    "/usr/lib/p11-kit-proxy.so",
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
];

/// A private key in a token, with the session it signs in (logged in when the token needs it).
pub struct TokenKey {
    // A session is one caller's at a time (PKCS#11 §5.6); the lock also keeps keys `Sync`.
    session: std::sync::Mutex<Session>,
    handle: ObjectHandle,
    mechanisms: Vec<MechanismType>,
    kind: KeyKind,
    // Declared last: the session closes before the module is finalised.
    _module: Pkcs11,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("kind", &self.kind)
            .finish()
    }
}

/// The module a URI is served by: its `module-path`, else `JWTCTL_PKCS11_MODULE`, else the
/// first of [`DEFAULT_MODULES`] that exists.
pub fn module_path(uri: &Uri, env: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
    if let Some(path) = &uri.module_path {
        return Ok(path.clone());
    }
    if let Some(path) = env(MODULE_VAR).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(Error::usage(format!(
                "{MODULE_VAR} is not an absolute path; give the PKCS#11 module's full path"
            )));
        }
        return Ok(path);
    }
    DEFAULT_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            Error::key(format!(
                "no PKCS#11 module found (looked for p11-kit's proxy, SoftHSM2 and OpenSC); \
                 install one, or name it with ?module-path=/full/path.so in the URI or with \
                 {MODULE_VAR}"
            ))
        })
}

/// Open `path` for loading if no other user can change it: a regular file owned by us or root,
/// not writable by group or others, in directories others cannot write (see `crate::trusted`).
fn checked_module(path: &Path) -> Result<File> {
    let p = path.display();
    let file = crate::sys::open_for_reading(path).map_err(|e| {
        Error::key(format!(
            "cannot open the PKCS#11 module {p}: {}; check module-path / {MODULE_VAR} (is the \
             token's software installed?)",
            crate::error::io_words(&e)
        ))
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::key(format!("cannot inspect the PKCS#11 module {p}: {e}")))?;
    if !meta.is_file() {
        return Err(Error::key(format!(
            "the PKCS#11 module {p} is not a regular file; give the module's .so file"
        )));
    }
    if let Some(uid) = crate::trusted::foreign_owner(&meta) {
        return Err(Error::key(format!(
            "refusing the PKCS#11 module {p}: it belongs to another user (uid {uid}), who could \
             replace the code jwtctl would run; use a module you or root own"
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Error::key(format!(
            "refusing the PKCS#11 module {p}: other users can change it (mode {mode:04o}), and \
             loading it runs its code; run chmod go-w {p}"
        )));
    }
    crate::trusted::check_place(path)
        .map_err(|refusal| Error::key(refusal.message("PKCS#11 module", path)))?;
    Ok(file)
}

/// Load and initialise the module at `path`, through the descriptor that was checked (so a
/// swap of the file after the check loads nothing else).
fn load(path: &Path) -> Result<Pkcs11> {
    use std::os::unix::io::AsRawFd;
    let file = checked_module(path)?;
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let target = if by_fd.exists() {
        by_fd
    } else {
        path.to_path_buf()
    };
    let module = Pkcs11::new(&target).map_err(|_| {
        Error::key(format!(
            "cannot load the PKCS#11 module {}: it is not a PKCS#11 library, or a library it \
             needs is missing (try 'pkcs11-tool --module {} -L')",
            path.display(),
            path.display()
        ))
    })?;
    drop(file);
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(module),
        Err(e) => Err(token_error(&e, "initialise the PKCS#11 module")),
    }
}

/// A token error in words, with the PKCS#11 return code's name (never the library's text).
fn token_error(e: &CkError, doing: &str) -> Error {
    let code = match e {
        CkError::Pkcs11(rv, _) => format!("{rv:?}"),
        _ => "an error in the PKCS#11 library".to_owned(),
    };
    Error::key(format!("cannot {doing}: the token says {code}"))
}

/// A label, model or serial as a token pads it, for comparing and showing.
fn field(s: &str) -> String {
    s.trim_end_matches([' ', '\0']).to_owned()
}

/// The one slot whose token the URI names; a refusal listing the tokens seen otherwise.
fn find_slot(module: &Pkcs11, uri: &Uri, module_path: &Path) -> Result<Slot> {
    let slots = module
        .get_slots_with_token()
        .map_err(|e| token_error(&e, "list the module's tokens"))?;
    let mut seen = Vec::new();
    let mut found = Vec::new();
    for slot in slots {
        let Some(info) = module
            .get_token_info(slot)
            .ok()
            .filter(|i| i.token_initialized())
        else {
            continue;
        };
        let label = field(info.label());
        let matches = uri.token.as_deref().is_none_or(|t| t == label)
            && uri
                .manufacturer
                .as_deref()
                .is_none_or(|m| m == field(info.manufacturer_id()))
            && uri
                .model
                .as_deref()
                .is_none_or(|m| m == field(info.model()))
            && uri
                .serial
                .as_deref()
                .is_none_or(|s| s == field(info.serial_number()))
            && uri.slot_id.is_none_or(|id| id == slot.id());
        seen.push(format!("'{}'", label.escape_debug()));
        if matches {
            found.push(slot);
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::key(format!(
            "no token matches the PKCS#11 URI in module {}; the tokens there are: {}; check \
             token= (and serial=, slot-id=) in the URI",
            module_path.display(),
            if seen.is_empty() {
                "none (is the token plugged in, or SOFTHSM2_CONF set?)".to_owned()
            } else {
                seen.join(", ")
            }
        ))),
        _ => Err(Error::key(format!(
            "{} tokens match the PKCS#11 URI ({}); add serial= or slot-id= to name one",
            found.len(),
            seen.join(", ")
        ))),
    }
}

/// Log in with `pin`, saying plainly what went wrong (never the PIN).
fn login(module: &Pkcs11, slot: Slot, session: &Session, pin: &Secret) -> Result<()> {
    let locked = || {
        Error::key(
            "the token's user PIN is locked after too many wrong tries; its security officer \
             must unlock it with the SO PIN (e.g. 'pkcs11-tool --login --login-type so \
             --init-pin', or 'yubico-piv-tool -a unblock-pin') before it signs again",
        )
    };
    if module
        .get_token_info(slot)
        .is_ok_and(|info| info.user_pin_locked())
    {
        return Err(locked());
    }
    let text = std::str::from_utf8(pin.expose())
        .map_err(|_| Error::key("the PKCS#11 PIN is not UTF-8 text; check its file or variable"))?;
    let pin = AuthPin::from(text.to_owned());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(locked()),
        Err(CkError::Pkcs11(
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
            _,
        )) => {
            let last = module
                .get_token_info(slot)
                .is_ok_and(|info| info.user_pin_final_try());
            Err(Error::key(format!(
                "the PKCS#11 PIN is wrong (it is not shown); check the file pin-source names or \
                 {PIN_VAR}{}",
                if last {
                    "; one more wrong PIN locks the token"
                } else {
                    "; too many wrong PINs lock the token"
                }
            )))
        }
        Err(e) => Err(token_error(&e, "log in to the token")),
    }
}

/// The object the URI names, of `class`: none, or exactly one.
fn find(session: &Session, uri: &Uri, class: ObjectClass) -> Result<Option<ObjectHandle>> {
    let mut template = vec![Attribute::Class(class)];
    if let Some(label) = &uri.object {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        template.push(Attribute::Id(id.clone()));
    }
    let found = session
        .find_objects(&template)
        .map_err(|e| token_error(&e, "search the token"))?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(Error::key(
            "several keys on the token match the PKCS#11 URI; add id= (or a unique object=)",
        )),
    }
}

/// A key in a token as jwtctl keys go: its public half from the token, and (when the URI names
/// a private key and a PIN opens it, or the token needs none) the token key that signs.
/// `signing` asks for the private key; without it a public key object suffices.
pub fn open(
    uri: &Uri,
    pin: Option<&Secret>,
    signing: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Key> {
    let module_path = module_path(uri, env)?;
    let module = load(&module_path)?;
    let slot = find_slot(&module, uri, &module_path)?;
    let info = module
        .get_token_info(slot)
        .map_err(|e| token_error(&e, "read the token's details"))?;
    let session = module
        .open_ro_session(slot)
        .map_err(|e| token_error(&e, "open a session with the token"))?;
    match pin {
        Some(pin) => login(&module, slot, &session, pin)?,
        None if signing && info.login_required() => {
            return Err(Error::key(format!(
                "the token needs its PIN to sign: put it in a file you own (mode 0600) and add \
                 ?pin-source=file:PATH to the URI, or export it in {PIN_VAR}"
            )));
        }
        None => {}
    }
    let private = find(&session, uri, ObjectClass::PRIVATE_KEY)?;
    let public_object = find(&session, uri, ObjectClass::PUBLIC_KEY)?;
    let named = uri.to_string();
    if signing && private.is_none() {
        return Err(Error::key(format!(
            "no private key matches {named} on the token; check object= and id= ('pkcs11-tool \
             --module {} --login --list-objects' lists them)",
            module_path.display()
        )));
    }
    let Some(source) = public_object.or(private) else {
        return Err(Error::key(format!(
            "no key matches {named} on the token; check object= and id= ('pkcs11-tool --module \
             {} --list-objects' lists them; a private key needs the PIN to be seen)",
            module_path.display()
        )));
    };
    let (kind, public) = public_half(&session, source, public_object.is_some())?;
    if let (Some(private), Some(_)) = (private, public_object) {
        same_key(&session, private, &public, &named)?;
    }
    let mut key = match public {
        Public::Rsa { n, e } => super::der::rsa_key(&n, &e, None)?,
        public => Key::new(kind, None, public),
    };
    if let Some(handle) = private.filter(|_| signing) {
        let mechanisms = module
            .get_mechanism_list(slot)
            .map_err(|e| token_error(&e, "list the token's mechanisms"))?;
        key.token = Some(Box::new(TokenKey {
            session: std::sync::Mutex::new(session),
            handle,
            mechanisms,
            kind,
            _module: module,
        }));
    }
    Ok(key)
}

/// The public half of a key object: RSA's modulus and exponent, or an EC/Edwards point and the
/// curve its parameters name.
fn public_half(
    session: &Session,
    object: ObjectHandle,
    is_public: bool,
) -> Result<(KeyKind, Public)> {
    let unreadable = || Error::key("cannot read the key's public half from the token");
    let attrs = session
        .get_attributes(object, &[AttributeType::KeyType])
        .map_err(|_| unreadable())?;
    let key_type = attrs.iter().find_map(|a| match a {
        Attribute::KeyType(t) => Some(*t),
        _ => None,
    });
    match key_type {
        Some(KeyType::RSA) => {
            let attrs = session
                .get_attributes(
                    object,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(|_| unreadable())?;
            let mut n = None;
            let mut e = None;
            for a in attrs {
                match a {
                    Attribute::Modulus(v) => n = Some(v),
                    Attribute::PublicExponent(v) => e = Some(v),
                    _ => {}
                }
            }
            match (n, e) {
                (Some(n), Some(e)) => Ok((KeyKind::Rsa, Public::Rsa { n, e })),
                _ => Err(unreadable()),
            }
        }
        Some(KeyType::EC | KeyType::EC_EDWARDS) if !is_public => Err(Error::key(
            "the token holds the private key but no public key object with the same object= \
             and id=; import the public key beside it (pkcs11-tool --write-object pub.der \
             --type pubkey --label ... --id ...)",
        )),
        Some(KeyType::EC | KeyType::EC_EDWARDS) => {
            let attrs = session
                .get_attributes(object, &[AttributeType::EcParams, AttributeType::EcPoint])
                .map_err(|_| unreadable())?;
            let mut params = None;
            let mut point = None;
            for a in attrs {
                match a {
                    Attribute::EcParams(v) => params = Some(v),
                    Attribute::EcPoint(v) => point = Some(v),
                    _ => {}
                }
            }
            let (Some(params), Some(point)) = (params, point) else {
                return Err(unreadable());
            };
            curve_point(&params, &point)
        }
        _ => Err(Error::key(
            "the token's key is of a type jwtctl does not sign with; use an RSA, EC \
             (P-256/P-384/P-521) or Ed25519 key",
        )),
    }
}

/// Refuse a public key object that does not belong to the private key it is labelled with:
/// one the private object's own public attributes (an RSA key's modulus and exponent, an EC
/// key's point where the token keeps it there) contradict. A public object needs no PIN to
/// write, so whoever can open the token could plant one under the label, to be published.
fn same_key(session: &Session, private: ObjectHandle, public: &Public, named: &str) -> Result<()> {
    let planted = || {
        Error::key(format!(
            "the public key object of {named} does not belong to the private key beside it \
             (a public object can be written without the PIN); delete it and import the \
             private key's own public key, or make the key again"
        ))
    };
    let trim = |v: &[u8]| {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    match public {
        Public::Rsa { n, e } => {
            let attrs = session
                .get_attributes(
                    private,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .unwrap_or_default();
            for a in attrs {
                let differs = match a {
                    Attribute::Modulus(v) => trim(&v) != trim(n),
                    Attribute::PublicExponent(v) => trim(&v) != trim(e),
                    _ => false,
                };
                if differs {
                    return Err(planted());
                }
            }
            Ok(())
        }
        Public::Ec { .. } | Public::Ed25519 { .. } => {
            let attrs = session
                .get_attributes(private, &[AttributeType::EcParams, AttributeType::EcPoint])
                .unwrap_or_default();
            let mut params = None;
            let mut point = None;
            for a in attrs {
                match a {
                    Attribute::EcParams(v) => params = Some(v),
                    Attribute::EcPoint(v) => point = Some(v),
                    _ => {}
                }
            }
            // Most tokens keep the point on the public object only; then signing checks it.
            match (params, point) {
                (Some(params), Some(point)) => match curve_point(&params, &point) {
                    Ok((_, theirs)) if theirs == *public => Ok(()),
                    _ => Err(planted()),
                },
                _ => Ok(()),
            }
        }
        Public::Hmac => Ok(()),
    }
}

/// The curve `CKA_EC_PARAMS` names (a DER OID, or Edwards' printable name) and the point of
/// `CKA_EC_POINT` (a DER OCTET STRING, or the raw point as some tokens give it).
fn curve_point(params: &[u8], point: &[u8]) -> Result<(KeyKind, Public)> {
    use der::Decode;
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";
    let (kind, len) = match params {
        P256 => (KeyKind::EcP256, 65),
        P384 => (KeyKind::EcP384, 97),
        P521 => (KeyKind::EcP521, 133),
        ED25519 | ED25519_NAME => (KeyKind::Ed25519, 32),
        _ => {
            return Err(Error::key(
                "the token's key is on a curve jwtctl does not sign with; use P-256, P-384, \
                 P-521 or Ed25519",
            ));
        }
    };
    let raw = if point.len() == len {
        point.to_vec()
    } else {
        der::asn1::OctetStringRef::from_der(point)
            .map(|o| o.as_bytes().to_vec())
            .map_err(|_| Error::key("the token's public key point cannot be read"))?
    };
    if raw.len() != len {
        return Err(Error::key(
            "the token's public key point has the wrong length",
        ));
    }
    // Checked as a JWK's point is (on the curve, not the identity): a key jwtctl publishes or
    // names by its thumbprint is one a verifier can use.
    {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ECDSA_P521_SHA512_FIXED, ED25519,
            ParsedPublicKey, VerificationAlgorithm,
        };
        let alg: &'static dyn VerificationAlgorithm = match kind {
            KeyKind::EcP256 => &ECDSA_P256_SHA256_FIXED,
            KeyKind::EcP384 => &ECDSA_P384_SHA384_FIXED,
            KeyKind::EcP521 => &ECDSA_P521_SHA512_FIXED,
            _ => &ED25519,
        };
        ParsedPublicKey::new(alg, &raw).map_err(|_| {
            Error::key(
                "the token's public key is not a valid point on its curve; check the public key \
                 object (pkcs11-tool --list-objects) or make the key again",
            )
        })?;
    }
    Ok(match kind {
        KeyKind::Ed25519 => (kind, Public::Ed25519 { x: raw }),
        _ => (kind, Public::Ec { point: raw }),
    })
}

impl TokenKey {
    /// `alg`'s JWS signature over `input`, computed in the token (ECDSA turned into JOSE's
    /// fixed-length `r || s`).
    pub fn sign(&self, alg: Algorithm, input: &[u8]) -> Result<Vec<u8>> {
        use aws_lc_rs::digest::{SHA256, SHA384, SHA512, digest};
        use cryptoki::types::Ulong;
        let pss = |hash: MechanismType, mgf: PkcsMgfType, len: u64| PkcsPssParams {
            hash_alg: hash,
            mgf,
            s_len: Ulong::from(len),
        };
        let (mechanism, data): (Mechanism, Vec<u8>) = match alg {
            Algorithm::RS256 => (Mechanism::Sha256RsaPkcs, input.to_vec()),
            Algorithm::RS384 => (Mechanism::Sha384RsaPkcs, input.to_vec()),
            Algorithm::RS512 => (Mechanism::Sha512RsaPkcs, input.to_vec()),
            Algorithm::PS256 => (
                Mechanism::Sha256RsaPkcsPss(pss(
                    MechanismType::SHA256,
                    PkcsMgfType::MGF1_SHA256,
                    32,
                )),
                input.to_vec(),
            ),
            Algorithm::PS384 => (
                Mechanism::Sha384RsaPkcsPss(pss(
                    MechanismType::SHA384,
                    PkcsMgfType::MGF1_SHA384,
                    48,
                )),
                input.to_vec(),
            ),
            Algorithm::PS512 => (
                Mechanism::Sha512RsaPkcsPss(pss(
                    MechanismType::SHA512,
                    PkcsMgfType::MGF1_SHA512,
                    64,
                )),
                input.to_vec(),
            ),
            Algorithm::ES256 => (Mechanism::Ecdsa, digest(&SHA256, input).as_ref().to_vec()),
            Algorithm::ES384 => (Mechanism::Ecdsa, digest(&SHA384, input).as_ref().to_vec()),
            Algorithm::ES512 => (Mechanism::Ecdsa, digest(&SHA512, input).as_ref().to_vec()),
            Algorithm::EdDSA | Algorithm::Ed25519 => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                input.to_vec(),
            ),
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err(Error::key(
                    "a key in a token signs RS, PS, ES and EdDSA algorithms here, not HMAC",
                ));
            }
        };
        if !self.mechanisms.contains(&mechanism.mechanism_type()) {
            return Err(Error::key(format!(
                "the token does not support the mechanism {alg:?} needs ({}); choose another \
                 --alg the key serves, or a token that has it",
                mechanism.mechanism_type()
            )));
        }
        let session = self
            .session
            .lock()
            .map_err(|_| Error::key("the token's session was left broken by a failed signing"))?;
        let signature = session
            .sign(&mechanism, self.handle, &data)
            .map_err(|e| match e {
                CkError::Pkcs11(RvError::UserNotLoggedIn, _) => Error::key(format!(
                    "the token needs its PIN to sign: add ?pin-source=file:PATH to the URI or \
                     export it in {PIN_VAR}"
                )),
                e => token_error(&e, "sign in the token"),
            })?;
        match alg {
            Algorithm::ES256 => fixed_ecdsa(&signature, 32),
            Algorithm::ES384 => fixed_ecdsa(&signature, 48),
            Algorithm::ES512 => fixed_ecdsa(&signature, 66),
            _ => Ok(signature),
        }
    }
}

/// An ECDSA signature as JWS carries it (RFC 7518 §3.4): `r || s`, each `size` bytes. PKCS#11
/// returns that form; some modules return DER `ECDSA-Sig-Value`, converted here.
fn fixed_ecdsa(signature: &[u8], size: usize) -> Result<Vec<u8>> {
    use der::Decode;
    if signature.len() == 2 * size {
        return Ok(signature.to_vec());
    }
    let bad = || Error::key("the token returned an ECDSA signature jwtctl cannot read");
    let parts: Vec<der::asn1::UintRef> = Vec::from_der(signature).map_err(|_| bad())?;
    let [r, s] = parts.as_slice() else {
        return Err(bad());
    };
    let mut out = vec![0u8; 2 * size];
    for (i, n) in [r, s].into_iter().enumerate() {
        let bytes = n.as_bytes();
        if bytes.len() > size {
            return Err(bad());
        }
        let end = (i + 1) * size;
        out[end - bytes.len()..end].copy_from_slice(bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_ecdsa_signatures_become_fixed_length() {
        // SEQUENCE { INTEGER 0x00ff (leading zero: high bit), INTEGER 0x01 }
        let der = [0x30, 0x07, 0x02, 0x02, 0x00, 0xff, 0x02, 0x01, 0x01];
        let fixed = fixed_ecdsa(&der, 32).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!((fixed[31], fixed[63]), (0xff, 0x01));
        assert!(fixed[..31].iter().all(|&b| b == 0));
        let raw = vec![7u8; 132];
        assert_eq!(fixed_ecdsa(&raw, 66).unwrap(), raw);
        assert!(fixed_ecdsa(&[0x30, 0x00], 32).is_err());
        assert!(fixed_ecdsa(b"garbage", 32).is_err());
    }

    /// A real P-256 point (uncompressed) and Ed25519 public key, from AWS-LC.
    fn real_points() -> (Vec<u8>, Vec<u8>) {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
        };
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ed = Ed25519KeyPair::generate().unwrap();
        (
            ec.public_key().as_ref().to_vec(),
            ed.public_key().as_ref().to_vec(),
        )
    }

    #[test]
    fn curves_are_read_from_their_oids_and_points_from_octet_strings() {
        let (point, x) = real_points();
        let wrapped = [&[0x04, 65][..], &point].concat();
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        assert_eq!(curve_point(&p256, &wrapped).unwrap().0, KeyKind::EcP256);
        assert_eq!(curve_point(&p256, &point).unwrap().0, KeyKind::EcP256);
        let ed = curve_point(b"\x13\x0cedwards25519", &[&[0x04, 32][..], &x].concat());
        assert_eq!(ed.unwrap().0, KeyKind::Ed25519);
        assert!(curve_point(&[0x06, 0x01, 0x00], &wrapped).is_err());
        assert!(curve_point(&p256, &[0x04, 0x01, 0x04]).is_err());
    }

    #[test]
    fn a_token_point_off_its_curve_is_refused() {
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let (mut point, _) = real_points();
        point[64] ^= 1;
        let e = curve_point(&p256, &point).unwrap_err();
        assert!(e.message().contains("not a valid point"), "{}", e.message());
        let off = [&[4u8][..], &[1u8; 64]].concat();
        assert!(curve_point(&p256, &off).is_err());
        // The point at infinity's encoding, and a P-256 point named as P-521, neither.
        assert!(curve_point(&p256, &[0u8]).is_err());
    }

    #[test]
    fn a_module_others_can_change_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.so");
        std::fs::write(&path, b"not a library").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = checked_module(&path).unwrap_err();
        assert!(e.message().contains("chmod go-w"), "{}", e.message());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            e.message().contains("not a PKCS#11 library"),
            "{}",
            e.message()
        );
        let e = checked_module(dir.path()).unwrap_err();
        assert!(
            e.message().contains("not a regular file"),
            "{}",
            e.message()
        );
    }
}
