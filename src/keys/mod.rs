//! Load and classify key material (PEM, DER, certificates, JWK, JWK Set, or else an HMAC secret);
//! secrets are redacted in Debug.

mod der;
mod export;
mod generate;
mod jwk;
mod material;
mod pem;
pub mod pkcs11;
pub mod remote;
pub mod ring;
mod signer;
mod source;

use std::fmt;

use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::Value;

use crate::error::{Error, Reason, Result};
use crate::token::Algorithm;

pub use export::thumbprint;
pub use generate::{Generated, Spec, generate};

pub use jwk::{Ignored, JwkSet, SetOrigin, from_jwk};
pub use signer::{Half, KeySigner};
pub use source::{
    DEFAULT_KEY_FILE, KEY_FILE_VAR, Material, SECRET_VAR, Secret, Source, create_default_key,
    loose_mode, read_source, resolve_source, write_private_file,
};

/// What kind of key this is; decides which algorithms it can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Hmac,
    Rsa,
    EcP256,
    EcP384,
    EcP521,
    Ed25519,
}

impl KeyKind {
    pub fn default_alg(self) -> Algorithm {
        match self {
            KeyKind::Hmac => Algorithm::HS256,
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::EcP256 => Algorithm::ES256,
            KeyKind::EcP384 => Algorithm::ES384,
            KeyKind::EcP521 => Algorithm::ES512,
            KeyKind::Ed25519 => Algorithm::EdDSA,
        }
    }

    pub fn serves(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Hmac => matches!(alg, HS256 | HS384 | HS512),
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => alg == ES256,
            KeyKind::EcP384 => alg == ES384,
            KeyKind::EcP521 => alg == ES512,
            KeyKind::Ed25519 => matches!(alg, EdDSA | Ed25519),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            KeyKind::Hmac => "an HMAC secret",
            KeyKind::Rsa => "an RSA key",
            KeyKind::EcP256 => "an EC P-256 key",
            KeyKind::EcP384 => "an EC P-384 key",
            KeyKind::EcP521 => "an EC P-521 key",
            KeyKind::Ed25519 => "an Ed25519 key",
        }
    }
}

/// The public half of a key, in the form JWK members carry it (RFC 7518 §6): what `key public`
/// publishes and the RFC 7638 thumbprint is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Public {
    /// An HMAC secret has no public half.
    Hmac,
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed point `04 || x || y`.
    Ec {
        point: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
}

/// A classified key: what it is, how to verify with it, and (for private keys) how to sign.
pub struct Key {
    pub kind: KeyKind,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// The public half (for an HMAC secret, none).
    pub public: Public,
    /// Length of an HMAC secret in bytes.
    secret_len: usize,
    /// `kid` and `alg` carried by a JWK.
    pub jwk_kid: Option<String>,
    jwk_alg: Option<Algorithm>,
    /// A key ring's key that is kept for verification only (its JWK `key_ops` lacks `sign`).
    pub retired: bool,
    /// Whether the key may verify (a JWK whose `key_ops` lack `verify` may not).
    pub verifies: bool,
    /// The private key in a PKCS#11 token that signs for this public half, if any.
    token: Option<Box<pkcs11::TokenKey>>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kind", &self.kind)
            .field("private", &self.can_sign())
            .field("material", &"(redacted)")
            .finish()
    }
}

impl Key {
    /// An asymmetric key from its public half (and, for a private key, its signing half).
    fn new(kind: KeyKind, encoding: Option<EncodingKey>, public: Public) -> Self {
        let decoding = match &public {
            Public::Rsa { n, e } => DecodingKey::from_rsa_raw_components(n, e),
            Public::Ec { point } => DecodingKey::from_ec_der(point),
            Public::Ed25519 { x } => DecodingKey::from_ed_der(x),
            Public::Hmac => DecodingKey::from_secret(&[]),
        };
        Key {
            kind,
            encoding,
            decoding,
            public,
            secret_len: 0,
            jwk_kid: None,
            jwk_alg: None,
            retired: false,
            verifies: true,
            token: None,
        }
    }

    /// An HMAC secret. Every secret, however it arrived (raw, decoded by `--secret-encoding`,
    /// a JWK's `k`), passes here, and bytes that are key material are refused (see
    /// [`key_material`]): the classification of [`classify`] holds for decoded bytes too.
    fn secret(bytes: &[u8]) -> Result<Self> {
        if let Some(what) = material::key_material(bytes) {
            return Err(Error::key(format!(
                "the HMAC secret's bytes are {what}, which may be public and is never an HMAC \
                 secret; give the key file itself with --key-file (without --secret-encoding)"
            )));
        }
        Ok(Key {
            kind: KeyKind::Hmac,
            encoding: Some(EncodingKey::from_secret(bytes)),
            decoding: DecodingKey::from_secret(bytes),
            public: Public::Hmac,
            secret_len: bytes.len(),
            jwk_kid: None,
            jwk_alg: None,
            retired: false,
            verifies: true,
            token: None,
        })
    }

    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// True for an HMAC secret or a private key (in memory or in a token).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some() || self.token.is_some()
    }

    /// True for material in memory that must stay secret (an HMAC secret or a private key read
    /// from a file); a key in a token never is.
    pub fn is_secret(&self) -> bool {
        self.encoding.is_some()
    }

    /// Whether the key lives in a PKCS#11 token.
    pub fn in_token(&self) -> bool {
        self.token.is_some()
    }

    /// The signing half, or a key error saying a private key is needed.
    ///
    /// Invariant: a retired key (a JWK whose `key_ops` lacks `sign`, as `key retire` leaves it)
    /// verifies and never signs, whichever command asks and wherever the key came from.
    pub fn encoding(&self, op: &str) -> Result<signer::Half<'_>> {
        if let Some(token) = &self.token {
            return Ok(signer::Half::Token(token));
        }
        if self.retired && self.encoding.is_some() {
            return Err(Error::key(format!(
                "{op} cannot sign with this key: it is retired (its JWK 'key_ops' lacks 'sign'); \
                 it verifies old tokens only. Sign with the key in use (a key ring's newest)"
            )));
        }
        self.encoding
            .as_ref()
            .map(signer::Half::Memory)
            .ok_or_else(|| {
                Error::key(format!(
                    "{op} needs a private key, but the key is public ({}); pass the private key",
                    self.kind.describe()
                ))
            })
    }

    /// The algorithm to pin: `--alg` when given (and the key serves it), else the key's own.
    pub fn pick_alg(&self, requested: Option<Algorithm>) -> Result<Algorithm> {
        let implied = self.jwk_alg.unwrap_or(self.kind.default_alg());
        match requested {
            None => Ok(implied),
            Some(alg) if !self.kind.serves(alg) => Err(Error::key(format!(
                "--alg {alg:?} cannot be used with {}; it serves {}",
                self.kind.describe(),
                served(self.kind)
            ))),
            Some(alg) if self.jwk_alg.is_some_and(|a| a != alg) => Err(Error::key(format!(
                "--alg {alg:?} contradicts the JWK's alg {implied:?}"
            ))),
            Some(alg) => Ok(alg),
        }
    }

    /// Whether this key may check (or sign) a token of `alg`: it serves `alg`, its JWK `alg` (if
    /// any) is `alg`, and an HMAC secret is long enough for `alg` unless `allow_weak`.
    pub fn fits(&self, alg: Algorithm, allow_weak: bool) -> bool {
        self.kind.serves(alg)
            && self.jwk_alg.is_none_or(|a| a == alg)
            && (allow_weak || self.check_strength(alg, false).is_ok())
    }

    /// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output. Returns whether a
    /// weak secret was let through by `allow_weak`, so the caller can record that.
    pub fn check_strength(&self, alg: Algorithm, allow_weak: bool) -> Result<bool> {
        let needed = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => return Ok(false),
        };
        if self.secret_len >= needed {
            return Ok(false);
        }
        if allow_weak {
            return Ok(true);
        }
        Err(Error::key(format!(
            "the HMAC secret is {} bytes; {alg:?} needs at least {needed} (RFC 7518 §3.2); use a \
             longer secret, or --allow-weak-secret to check legacy tokens",
            self.secret_len
        )))
    }
}

fn served(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Hmac => "HS256, HS384, HS512",
        KeyKind::Rsa => "RS256, RS384, RS512, PS256, PS384, PS512",
        KeyKind::EcP256 => "ES256",
        KeyKind::EcP384 => "ES384",
        KeyKind::EcP521 => "ES512",
        KeyKind::Ed25519 => "EdDSA, Ed25519",
    }
}

/// The UTF-8 byte-order mark some editors put at the start of a text file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Classify key material: PEM, JSON (a JWK), DER, OpenSSH and other key text, or else an HMAC
/// secret (less one trailing newline).
///
/// Invariant: anything that is key material in a known format is used as that key or refused,
/// never taken for an HMAC secret. Otherwise a token MACed with the bytes of a *public* key file
/// (which anyone may read) would verify (RFC 8725 §2.1/§3.1, key confusion). Detection looks
/// past a byte-order mark and leading whitespace, as the formats' own readers do.
pub fn classify(material: &Secret) -> Result<Key> {
    classify_with(material, &LoadOptions::default())
}

/// How a secret stored as text is to be read (`--secret-encoding`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SecretEncoding {
    /// The bytes as they are (less one trailing newline).
    #[default]
    Raw,
    Base64,
    Base64Url,
    Hex,
}

/// What reading a key may need besides its bytes.
#[derive(Debug, Default)]
pub struct LoadOptions {
    /// The password of an encrypted PKCS#8 key (`--password-file`, `--password-env`).
    pub password: Option<Secret>,
    /// How an HMAC secret is stored.
    pub encoding: SecretEncoding,
}

/// [`classify`], with a password for an encrypted key and the secret's encoding.
pub fn classify_with(material: &Secret, options: &LoadOptions) -> Result<Key> {
    let bytes = material.expose();
    let text = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let lead = text.trim_ascii_start();
    if contains(text, b"-----BEGIN ") {
        return pem::from_pem(text, options.password.as_ref());
    }
    if let Some(first) = lead.first().filter(|b| matches!(b, b'{' | b'[')) {
        let value: Value = serde_json::from_slice(text).map_err(|_| {
            Error::key("the key is JSON-like but not valid JSON; a JWK must be one JSON object")
        })?;
        return match value {
            Value::Object(jwk) if *first == b'{' => from_jwk(&jwk),
            _ => Err(Error::key("the key is JSON but not a JWK object")),
        };
    }
    if let Some(refusal) = other_key_text(lead) {
        return Err(refusal);
    }
    if let Some(kind) = der::sniff(bytes) {
        return der::from_der(bytes, kind, options.password.as_ref());
    }
    let secret = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes);
    let secret = decode_secret(secret, options.encoding)?;
    if secret.is_empty() {
        return Err(Error::key(
            "the HMAC secret is empty; put a long random secret in the key",
        ));
    }
    Key::secret(&secret)
}

/// The secret's bytes as `--secret-encoding` says they are stored. The strength rule applies to
/// the decoded bytes: `openssl rand -base64 32` is 32 bytes, not 44.
fn decode_secret(text: &[u8], encoding: SecretEncoding) -> Result<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let bad = |what: &str| {
        Error::key(format!(
            "the HMAC secret is not {what} text, as --secret-encoding says; check the encoding"
        ))
    };
    if encoding == SecretEncoding::Raw {
        return Ok(text.to_vec());
    }
    let text = text.trim_ascii();
    match encoding {
        SecretEncoding::Raw => Ok(text.to_vec()),
        SecretEncoding::Base64 => STANDARD.decode(text).map_err(|_| bad("base64")),
        SecretEncoding::Base64Url => {
            let unpadded = text
                .strip_suffix(b"==")
                .or(text.strip_suffix(b"="))
                .unwrap_or(text);
            URL_SAFE_NO_PAD
                .decode(unpadded)
                .map_err(|_| bad("base64url"))
        }
        SecretEncoding::Hex => {
            if !text.len().is_multiple_of(2) {
                return Err(bad("hex"));
            }
            text.chunks(2)
                .map(|pair| {
                    std::str::from_utf8(pair)
                        .ok()
                        .and_then(|p| u8::from_str_radix(p, 16).ok())
                        .ok_or_else(|| bad("hex"))
                })
                .collect()
        }
    }
}

/// Key text in formats jwtctl does not read (OpenSSH and RFC 4716 public keys, PuTTY keys): the
/// refusal that names the conversion, or `None` for anything else.
fn other_key_text(lead: &[u8]) -> Option<Error> {
    const SSH_TYPES: [&[u8]; 4] = [b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-"];
    let first_line = lead.split(|&b| b == b'\n').next().unwrap_or(lead);
    // authorized_keys lines may carry options before the key type.
    let ssh_public = first_line
        .split(|b| b.is_ascii_whitespace())
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| SSH_TYPES.iter().any(|t| w[0].starts_with(t)) && w[1].starts_with(b"AAAA"));
    if ssh_public || lead.starts_with(b"---- BEGIN SSH2 PUBLIC KEY") {
        return Some(Error::key(
            "the key file is an SSH public key; convert it to PEM with \
             'ssh-keygen -e -m PKCS8 -f KEY.pub > key.pem'",
        ));
    }
    if lead.starts_with(b"PuTTY-User-Key-File") {
        return Some(Error::key(
            "the key file is a PuTTY key; export it as OpenSSH or PEM with puttygen first",
        ));
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn bad_key(what: &str) -> Error {
    Error::key(format!(
        "the key file holds {what} that cannot be used; check it with openssl"
    ))
}

/// The keys a token may be checked against: one key, or a JWK Set.
#[derive(Debug)]
pub enum Keyring {
    One(Key),
    Set(JwkSet),
}

impl Keyring {
    /// The keys the material from `source` holds: a JWK Set for `--jwks`, else one key.
    pub fn load(source: &Source, material: &Secret, options: &LoadOptions) -> Result<Keyring> {
        match source {
            Source::JwkSet(_) => JwkSet::parse(material).map(Keyring::Set),
            _ => classify_with(material, options).map(Keyring::One),
        }
    }

    /// Whether any key here must stay secret (an HMAC secret or a private key).
    pub fn has_secret(&self) -> bool {
        self.keys().iter().any(Key::is_secret)
    }

    /// The key to check (or, when private, to re-sign) a token signed with `alg`.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key> {
        match self {
            Keyring::One(key) if !key.verifies => Err(Error::key(
                "the JWK's key_ops lack 'verify'; it cannot verify tokens",
            )),
            Keyring::One(key) if key.kind.serves(alg) => Ok(key),
            Keyring::One(key) => Err(Error::rejected(
                Reason::AlgNotAllowed,
                format!("{} cannot verify {alg:?}", key.kind.describe()),
            )),
            Keyring::Set(set) => set.select(alg, kid),
        }
    }

    /// Every key in the ring.
    pub fn keys(&self) -> &[Key] {
        match self {
            Keyring::One(key) => std::slice::from_ref(key),
            Keyring::Set(set) => &set.keys,
        }
    }

    /// The algorithms to accept: `--alg` when given (for one key, each must be one it serves),
    /// else what each key implies (its JWK `alg`, or its kind's default).
    pub fn algorithms(&self, requested: &[Algorithm]) -> Result<Vec<Algorithm>> {
        let mut algs = Vec::new();
        if let Keyring::One(key) = self
            && !key.verifies
        {
            return Err(Error::key(
                "the JWK's key_ops lack 'verify'; it cannot verify tokens",
            ));
        }
        match (self, requested) {
            (_, []) => {
                for key in self.keys().iter().filter(|k| k.verifies) {
                    algs.push(key.pick_alg(None)?);
                }
            }
            (Keyring::One(key), requested) => {
                for alg in requested {
                    algs.push(key.pick_alg(Some(*alg))?);
                }
            }
            (Keyring::Set(set), requested) => {
                algs.extend(
                    requested
                        .iter()
                        .filter(|a| set.keys.iter().any(|k| k.verifies && k.kind.serves(**a))),
                );
            }
        }
        algs.sort_by_key(|a| format!("{a:?}"));
        algs.dedup();
        if algs.is_empty() {
            return Err(Error::key("no key in the JWK Set serves any --alg given"));
        }
        Ok(algs)
    }

    /// Refuse weak HMAC secrets for the algorithms they would serve; `Ok(true)` when
    /// `allow_weak` let one through. In a JWK Set each `oct` key is judged against its own
    /// algorithms: one too short for an algorithm is no candidate for it (see [`Key::fits`]),
    /// and only a set with no strong enough key at all is refused.
    pub fn check_strength(&mut self, algs: &[Algorithm], allow_weak: bool) -> Result<bool> {
        let weak = hmac_pairs(self.keys(), algs).any(|(key, alg)| !key.fits(alg, false));
        match self {
            Keyring::One(key) => {
                for alg in algs.iter().filter(|a| key.kind.serves(**a)) {
                    key.check_strength(*alg, allow_weak)?;
                }
            }
            Keyring::Set(set) => {
                set.allow_weak = allow_weak;
                let usable = set
                    .keys
                    .iter()
                    .any(|k| algs.iter().any(|a| k.fits(*a, allow_weak)));
                if !usable {
                    let (key, alg) = hmac_pairs(&set.keys, algs).next().ok_or_else(|| {
                        Error::key("no key in the JWK Set serves the algorithms accepted")
                    })?;
                    key.check_strength(alg, false)?;
                }
            }
        }
        Ok(weak && allow_weak)
    }
}

/// Each HMAC key with each accepted algorithm it could serve, strong enough or not.
fn hmac_pairs<'a>(
    keys: &'a [Key],
    algs: &'a [Algorithm],
) -> impl Iterator<Item = (&'a Key, Algorithm)> + 'a {
    keys.iter()
        .filter(|k| k.kind == KeyKind::Hmac)
        .flat_map(move |key| {
            algs.iter()
                .filter(move |a| key.fits(**a, true))
                .map(move |a| (key, *a))
        })
}

impl crate::token::KeySource for Keyring {
    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<&DecodingKey> {
        self.select(alg, kid).map(Key::decoding)
    }

    fn could_serve(&self, alg: Algorithm) -> bool {
        self.keys()
            .iter()
            .any(|k| k.verifies && k.kind.serves(alg) && k.jwk_alg.is_none_or(|a| a == alg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_the_default() {
        let both = env_of(&[("JWTCTL_KEY_FILE", "env.key"), ("JWTCTL_SECRET", "s")]);
        let flag = resolve_source(Some(Path::new("flag.key")), None, &both).unwrap();
        assert_eq!(flag, Source::File("flag.key".into()));
        let env = resolve_source(None, None, env_of(&[("JWTCTL_KEY_FILE", "env.key")])).unwrap();
        assert_eq!(env, Source::File("env.key".into()));
        let none = resolve_source(None, None, env_of(&[("JWTCTL_SECRET", "")])).unwrap();
        assert_eq!(none, Source::DefaultFile("jwtctl.key".into()));
    }

    #[test]
    fn two_sources_on_one_level_are_a_usage_error_naming_both() {
        let e = resolve_source(Some(Path::new("k")), Some("S"), env_of(&[])).unwrap_err();
        assert!(e.message().contains("--key-file") && e.message().contains("--secret-env"));
        let both = env_of(&[("JWTCTL_KEY_FILE", "env.key"), ("JWTCTL_SECRET", "s")]);
        let e = resolve_source(None, None, both).unwrap_err();
        assert!(e.message().contains("JWTCTL_KEY_FILE") && e.message().contains("JWTCTL_SECRET"));
    }

    #[test]
    fn a_secret_loses_exactly_one_trailing_newline() {
        let key = classify(&Secret::new(b"abc\n\n".to_vec())).unwrap();
        assert_eq!((key.kind, key.secret_len), (KeyKind::Hmac, 4));
    }

    #[test]
    fn secret_strength_follows_the_hash_size() {
        let key = classify(&Secret::new(vec![b'x'; 40])).unwrap();
        assert_eq!(key.check_strength(Algorithm::HS256, false), Ok(false));
        assert!(key.check_strength(Algorithm::HS384, false).is_err());
        assert_eq!(key.check_strength(Algorithm::HS384, true), Ok(true));
    }

    #[test]
    fn debug_never_shows_material() {
        let key = classify(&Secret::new(b"supersecretsupersecretsupersecret".to_vec())).unwrap();
        assert!(!format!("{key:?}").contains("supersecret"));
        assert_eq!(
            format!("{:?}", Secret::new(b"hunter2".to_vec())),
            "Secret(redacted)"
        );
    }
}
