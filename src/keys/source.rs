//! Where key material comes from: a key file, an environment variable, the default key file, a
//! JWK Set file, or a key in a PKCS#11 token; the one enum a new source is added to.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result, io_words};
use crate::trusted::ReadError;

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
    /// A JWK Set file named by `--jwks`: the key is chosen per token by its `kid`.
    JwkSet(PathBuf),
    /// A key in a PKCS#11 token, named by an RFC 7512 URI where a key file may be named.
    Pkcs11(Box<super::pkcs11::Uri>),
}

impl Source {
    /// The file the material comes from, if any (its mode is checked for exposure).
    pub fn file(&self) -> Option<&Path> {
        match self {
            Source::File(path) | Source::DefaultFile(path) | Source::JwkSet(path) => Some(path),
            Source::Env(_) | Source::Pkcs11(_) => None,
        }
    }
}

/// A key file name, or the PKCS#11 URI given in its place (parsed: a bad one is a usage error).
fn file_or_token(name: PathBuf) -> Result<Source> {
    use std::os::unix::ffi::OsStrExt;
    if !super::pkcs11::is_uri(name.as_os_str().as_bytes()) {
        return Ok(Source::File(name));
    }
    let text = name.to_str().ok_or_else(|| {
        Error::usage("the PKCS#11 URI is not UTF-8; percent-encode other bytes (RFC 7512)")
    })?;
    super::pkcs11::parse(text).map(|uri| Source::Pkcs11(Box::new(uri)))
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
        (Some(path), None) => file_or_token(path.to_path_buf()),
        (None, Some(name)) if is_variable_name(name) => Ok(Source::Env(name.to_string())),
        (None, Some(_)) => Err(Error::usage(
            "--secret-env takes the NAME of an environment variable (letters, digits and _, \
             not starting with a digit), not the secret itself; the value given is not \
             repeated here: export the secret in a variable and pass its name",
        )),
        (None, None) => match (env(KEY_FILE_VAR), env(SECRET_VAR)) {
            (Some(_), Some(_)) => Err(Error::usage(format!(
                "{KEY_FILE_VAR} and {SECRET_VAR} are both set; unset one of them"
            ))),
            (Some(path), None) => file_or_token(PathBuf::from(path)),
            (None, Some(_)) => Ok(Source::Env(SECRET_VAR.to_string())),
            (None, None) => Ok(Source::DefaultFile(PathBuf::from(DEFAULT_KEY_FILE))),
        },
    }
}

/// Whether `name` can be an environment variable's name as shells write them. Anything else
/// given to `--secret-env` is most likely the secret itself, and must not be echoed.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
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

/// Key material and, when it came from a file, that file's permission bits (read from the
/// descriptor the bytes came through).
#[derive(Debug)]
pub struct Material {
    pub secret: Secret,
    pub mode: Option<u32>,
}

/// Read the raw key material a source names. `None` means the default file does not exist.
/// A file another user owns, or whose directory others can write without the sticky bit, is
/// refused (see `crate::trusted`): whoever can replace it decides which tokens pass.
pub fn read_source(
    source: &Source,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Material>> {
    let (path, what, check) = match source {
        Source::Env(name) => {
            return match env(name).filter(|v| !v.is_empty()) {
                Some(value) => Ok(Some(Material {
                    secret: Secret::new(value.into_bytes()),
                    mode: None,
                })),
                None => Err(Error::key(format!(
                    "environment variable {name} is unset or empty; export the HMAC secret in it"
                ))),
            };
        }
        Source::File(path) => (
            path,
            "key file",
            format!("; check --key-file / {KEY_FILE_VAR}"),
        ),
        Source::JwkSet(path) => (path, "JWK Set", "; check --jwks".to_owned()),
        Source::DefaultFile(path) => (path, "key file", String::new()),
        Source::Pkcs11(_) => return Err(Error::key("a key in a token has no material to read")),
    };
    match crate::trusted::read(path) {
        Ok(contents) => Ok(Some(Material {
            secret: Secret::new(contents.bytes),
            mode: Some(contents.mode),
        })),
        Err(ReadError::Io(e))
            if e.kind() == io::ErrorKind::NotFound && matches!(source, Source::DefaultFile(_)) =>
        {
            Ok(None)
        }
        Err(ReadError::Io(_)) if crate::escape::looks_like_material(path) => {
            Err(Error::key(crate::escape::not_a_file(
                if what == "key file" {
                    "--key-file"
                } else {
                    "--jwks"
                },
                "give the path of a key file; a secret goes in the environment (--secret-env \
                 NAME or JWTCTL_SECRET), never on the command line",
            )))
        }
        Err(ReadError::Io(e)) => Err(Error::key(format!(
            "cannot read {} {}: {}{check}",
            if what == "key file" {
                "key file"
            } else {
                "the JWK Set"
            },
            path.display(),
            io_words(&e)
        ))),
        Err(ReadError::Refused(refusal)) => Err(Error::key(refusal.message(what, path))),
    }
}

/// A key file's permission bits `mode` when they let other users at it: read or change a file
/// holding a secret or private key (any group or other bit, as ssh judges private keys), or
/// change any key file (a public key someone else can replace decides which tokens pass).
pub fn loose_mode(mode: u32, secret: bool) -> Option<u32> {
    let others = if secret { 0o077 } else { 0o022 };
    (mode & others != 0).then_some(mode)
}

/// Create the default key file: 48 random bytes as 64 base64url characters, mode 0600.
/// Returns `Ok(false)` when another process created it first.
pub fn create_default_key(path: &Path) -> Result<bool> {
    // Judged before the key is written: a key in a directory others could replace it in would be
    // refused when read, and left behind.
    crate::trusted::check_place(path).map_err(|why| Error::key(why.message("key file", path)))?;
    let mut raw = [0u8; 48];
    crate::sys::random_bytes(&mut raw)
        .map_err(|_| Error::key("no randomness available from the OS"))?;
    let text = URL_SAFE_NO_PAD.encode(raw);
    match write_private_file(path, format!("{text}\n").as_bytes(), false) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::key(format!(
            "cannot create key file {}: {}; choose another path with --key-file / \
             JWTCTL_KEY_FILE, or cd to a writable directory",
            path.display(),
            io_words(&e)
        ))),
    }
}

/// Write a file that holds a secret, mode 0600 whatever the umask.
///
/// Invariant: a reader sees either no file (or, with `replace`, the old one) or the whole new
/// contents. The bytes go to a private temporary file beside `path`, synced, then linked into
/// place (never replacing: `AlreadyExists` if `path` exists) or, with `replace`, renamed over it.
pub fn write_private_file(path: &Path, bytes: &[u8], replace: bool) -> io::Result<()> {
    let mut nonce = [0u8; 8];
    crate::sys::random_bytes(&mut nonce)?;
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        URL_SAFE_NO_PAD.encode(nonce)
    ));
    let tmp = PathBuf::from(tmp_name);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(crate::sys::OPEN_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    let placed = written.and_then(|()| {
        if replace {
            fs::rename(&tmp, path)
        } else {
            fs::hard_link(&tmp, path)
        }
    });
    let _ = fs::remove_file(&tmp);
    placed
}
