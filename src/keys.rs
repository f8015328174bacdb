//! Load and classify key material (HMAC secret, PEM, JWK); secrets are redacted in Debug.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{
    self as sig, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair,
    ParsedPublicKey, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{Map, Value};

use crate::error::{Error, Reason, Result};

/// The key file used when no other source is named.
pub const DEFAULT_KEY_FILE: &str = "jwtctl.key";
/// The variable holding the HMAC secret when no other source is named.
pub const SECRET_VAR: &str = "JWTCTL_SECRET";
/// The variable naming the key file when no flag does.
pub const KEY_FILE_VAR: &str = "JWTCTL_KEY_FILE";

/// Where key material comes from, after precedence is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A key file named by `--key-file` or `JWTCTL_KEY_FILE`.
    File(PathBuf),
    /// An HMAC secret in the named environment variable.
    Env(String),
    /// `./jwtctl.key`, the default.
    DefaultFile(PathBuf),
}

/// Apply the precedence rules: a flag beats the environment, the environment beats the default
/// file, and two sources on one level are a usage error naming both. Empty variables are unset.
pub fn resolve_source(
    key_file: Option<&Path>,
    secret_env: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Source> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    match (key_file, secret_env) {
        (Some(_), Some(_)) => Err(Error::usage(
            "--key-file and --secret-env both name a key; give only one",
        )),
        (Some(path), None) => Ok(Source::File(path.to_path_buf())),
        (None, Some(name)) => Ok(Source::Env(name.to_string())),
        (None, None) => match (env(KEY_FILE_VAR), env(SECRET_VAR)) {
            (Some(_), Some(_)) => Err(Error::usage(format!(
                "{KEY_FILE_VAR} and {SECRET_VAR} are both set; unset one of them"
            ))),
            (Some(path), None) => Ok(Source::File(PathBuf::from(path))),
            (None, Some(_)) => Ok(Source::Env(SECRET_VAR.to_string())),
            (None, None) => Ok(Source::DefaultFile(PathBuf::from(DEFAULT_KEY_FILE))),
        },
    }
}

/// Bytes of key material; never printed.
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Read the raw key material a source names. `None` means the default file does not exist.
pub fn read_source(
    source: &Source,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>> {
    match source {
        Source::Env(name) => match env(name).filter(|v| !v.is_empty()) {
            Some(value) => Ok(Some(Secret::new(value.into_bytes()))),
            None => Err(Error::key(format!(
                "environment variable {name} is unset or empty; export the HMAC secret in it"
            ))),
        },
        Source::File(path) => match fs::read(path) {
            Ok(bytes) => Ok(Some(Secret::new(bytes))),
            Err(e) => Err(Error::key(format!(
                "cannot read key file {}: {}; check --key-file / {KEY_FILE_VAR}",
                path.display(),
                io_words(&e)
            ))),
        },
        Source::DefaultFile(path) => match fs::read(path) {
            Ok(bytes) => Ok(Some(Secret::new(bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::key(format!(
                "cannot read key file {}: {}",
                path.display(),
                io_words(&e)
            ))),
        },
    }
}

/// Our words for an I/O error (the OS text, without the library's decoration).
pub fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => e.kind().to_string(),
    }
}

/// Create the default key file: 48 random bytes as 64 base64url characters, mode 0600.
/// Returns `Ok(false)` when another process created it first.
pub fn create_default_key(path: &Path) -> Result<bool> {
    let mut raw = [0u8; 48];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| Error::key("no randomness available"))?;
    let text = URL_SAFE_NO_PAD.encode(raw);
    let opened = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(Error::key(format!(
                "cannot create key file {}: {}",
                path.display(),
                io_words(&e)
            )));
        }
    };
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            Error::key(format!(
                "cannot write key file {}: {}",
                path.display(),
                io_words(&e)
            ))
        })?;
    Ok(true)
}

/// What kind of key this is; decides which algorithms it can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Hmac,
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    pub fn default_alg(self) -> Algorithm {
        match self {
            KeyKind::Hmac => Algorithm::HS256,
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::EcP256 => Algorithm::ES256,
            KeyKind::EcP384 => Algorithm::ES384,
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
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            KeyKind::Hmac => "an HMAC secret",
            KeyKind::Rsa => "an RSA key",
            KeyKind::EcP256 => "an EC P-256 key",
            KeyKind::EcP384 => "an EC P-384 key",
            KeyKind::Ed25519 => "an Ed25519 key",
        }
    }
}

/// A classified key: what it is, how to verify with it, and (for private keys) how to sign.
pub struct Key {
    pub kind: KeyKind,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// Length of an HMAC secret in bytes.
    secret_len: usize,
    /// `kid` and `alg` carried by a JWK.
    pub jwk_kid: Option<String>,
    jwk_alg: Option<Algorithm>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kind", &self.kind)
            .field("private", &self.encoding.is_some())
            .field("material", &"(redacted)")
            .finish()
    }
}

impl Key {
    fn new(kind: KeyKind, encoding: Option<EncodingKey>, decoding: DecodingKey) -> Self {
        Key {
            kind,
            encoding,
            decoding,
            secret_len: 0,
            jwk_kid: None,
            jwk_alg: None,
        }
    }

    fn secret(bytes: &[u8]) -> Self {
        let mut key = Key::new(
            KeyKind::Hmac,
            Some(EncodingKey::from_secret(bytes)),
            DecodingKey::from_secret(bytes),
        );
        key.secret_len = bytes.len();
        key
    }

    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The signing half, or a key error saying a private key is needed.
    pub fn encoding(&self, op: &str) -> Result<&EncodingKey> {
        self.encoding.as_ref().ok_or_else(|| {
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
        KeyKind::Ed25519 => "EdDSA",
    }
}

/// Classify key material: PEM, JWK, or else an HMAC secret (less one trailing newline).
pub fn classify(material: &Secret) -> Result<Key> {
    let bytes = material.expose();
    if contains(bytes, b"-----BEGIN ") {
        return from_pem(bytes);
    }
    let trimmed = bytes.trim_ascii_start();
    if trimmed.first() == Some(&b'{') {
        let value: Value = serde_json::from_slice(bytes).map_err(|_| {
            Error::key("the key file starts with '{' but is not valid JSON (a JWK)")
        })?;
        return match value {
            Value::Object(jwk) => from_jwk(&jwk),
            _ => Err(Error::key("the key file is JSON but not a JWK object")),
        };
    }
    let secret = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes);
    if secret.is_empty() {
        return Err(Error::key(
            "the HMAC secret is empty; put a long random secret in the key",
        ));
    }
    Ok(Key::secret(secret))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn bad_key(what: &str) -> Error {
    Error::key(format!(
        "the key file holds {what} that cannot be used; check it with openssl"
    ))
}

fn from_pem(bytes: &[u8]) -> Result<Key> {
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

fn ec_private(kind: KeyKind, pair: &EcdsaKeyPair) -> Result<Key> {
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

fn ed_private(pair: &Ed25519KeyPair) -> Result<Key> {
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
        Some("RSA") => {
            if jwk.contains_key("d") {
                return Err(Error::key(
                    "private RSA JWKs are not supported; give the RSA private key as PEM",
                ));
            }
            let (n, e) = (jwk_required(jwk, "n")?, jwk_required(jwk, "e")?);
            Key::new(
                KeyKind::Rsa,
                None,
                DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
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

/// A JWK Set: the keys a token is chosen against by its `kid`.
#[derive(Debug)]
pub struct JwkSet {
    /// The usable signing keys, in the set's order.
    keys: Vec<Key>,
    /// How many entries the set has in all, counted before any filtering.
    total: usize,
}

impl JwkSet {
    /// Parse a JWK Set. Entries whose `use` is not `sig`, and keys of kinds jwtctl does not
    /// support, are no candidates (they are skipped); a set with no usable key is an error.
    pub fn parse(material: &Secret) -> Result<JwkSet> {
        let value: Value = serde_json::from_slice(material.expose())
            .map_err(|_| Error::key("the JWK Set is not valid JSON"))?;
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(Error::key("the JWK Set has no \"keys\" array"));
        };
        let keys: Vec<Key> = entries
            .iter()
            .filter_map(Value::as_object)
            .filter(|jwk| jwk_str(jwk, "use").is_none_or(|u| u == "sig"))
            .filter_map(|jwk| jwk_key(jwk).ok())
            .collect();
        if keys.is_empty() {
            return Err(Error::key(
                "the JWK Set has no usable signing key (RSA, EC P-256/P-384, Ed25519 or oct)",
            ));
        }
        Ok(JwkSet {
            keys,
            total: entries.len(),
        })
    }

    /// The key for a token signed with `alg` carrying `kid`: the one with that exact `kid`; a
    /// token without `kid` may use the set's only key. A key whose `alg` differs is no candidate.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key> {
        let no_match = |why: String| Error::rejected(Reason::NoMatchingKey, why);
        let fits = |key: &&Key| key.kind.serves(alg) && key.jwk_alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.jwk_kid.as_deref() == Some(kid))
                .find(fits)
                .ok_or_else(|| {
                    let shown: String = kid.chars().take(40).flat_map(char::escape_debug).collect();
                    no_match(format!("no {alg:?} key in the JWK Set has kid '{shown}'"))
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

/// The keys a token may be checked against: one key, or a JWK Set.
#[derive(Debug)]
pub enum Keyring {
    One(Key),
    Set(JwkSet),
}

impl Keyring {
    /// The key to check (or, when private, to re-sign) a token signed with `alg`.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key> {
        match self {
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
        match (self, requested) {
            (_, []) => {
                for key in self.keys() {
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
                        .filter(|a| set.keys.iter().any(|k| k.kind.serves(**a))),
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
    /// `allow_weak` let one through.
    pub fn check_strength(&self, algs: &[Algorithm], allow_weak: bool) -> Result<bool> {
        let mut weak = false;
        for key in self.keys().iter().filter(|k| k.kind == KeyKind::Hmac) {
            for alg in algs.iter().filter(|a| key.kind.serves(**a)) {
                weak |= key.check_strength(*alg, allow_weak)?;
            }
        }
        Ok(weak)
    }
}

impl crate::token::KeySource for Keyring {
    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<&DecodingKey> {
        self.select(alg, kid).map(Key::decoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
