//! Key material for a command: where it comes from (flags, environment, default file), whether
//! its file is exposed, and which algorithms it is pinned to.

use std::path::Path;

use crate::token::Algorithm;

use super::Ctx;
use crate::audit::Record;
use crate::cli::{Alg, KeyArgs, SecretEncodingArg};
use crate::error::{Error, Result};
use crate::keys::remote::Remote;
use crate::keys::{self, Key, Keyring, LoadOptions, Material, Secret, SecretEncoding, Source};
use crate::trusted::ReadError;

pub(super) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub fn algorithm(alg: Alg) -> Algorithm {
    match alg {
        Alg::HS256 => Algorithm::HS256,
        Alg::HS384 => Algorithm::HS384,
        Alg::HS512 => Algorithm::HS512,
        Alg::RS256 => Algorithm::RS256,
        Alg::RS384 => Algorithm::RS384,
        Alg::RS512 => Algorithm::RS512,
        Alg::PS256 => Algorithm::PS256,
        Alg::PS384 => Algorithm::PS384,
        Alg::PS512 => Algorithm::PS512,
        Alg::ES256 => Algorithm::ES256,
        Alg::ES384 => Algorithm::ES384,
        Alg::ES512 => Algorithm::ES512,
        Alg::EdDSA => Algorithm::EdDSA,
        Alg::Ed25519 => Algorithm::Ed25519,
    }
}

fn algorithms(args: &KeyArgs) -> Vec<Algorithm> {
    args.alg.iter().copied().map(algorithm).collect()
}

/// The keys `key public` and `key thumbprint` read: any private or public key, or a JWK Set.
pub fn any_keys(args: &KeyArgs, jwks: Option<&Path>, ctx: &Ctx, rec: &Record) -> Result<Keyring> {
    load_keys(args, jwks, ctx, rec, false)
}

/// A remote JWK Set (fetched or cached), noted in the record; a stale copy is warned about.
/// The record names the URL (`key_source`) whether the load succeeds or fails.
fn remote_keys(remote: &Remote, kid: Option<&str>, ctx: &Ctx, rec: &mut Record) -> Result<Keyring> {
    let mut notes = keys::remote::Notes::default();
    let loaded = keys::remote::load(remote, ctx.now, kid, &mut notes);
    rec.key_source.clone_from(&notes.url);
    record_notes(remote, &notes, ctx, rec.op, loaded.is_ok())?;
    let fetched = loaded?;
    rec.key_fetch = Some(fetched.freshness.word());
    record_load(ctx, rec.op, &notes, fetched.freshness)?;
    Ok(Keyring::Set(fetched.set))
}

/// Load a remote set again (a batch's refetch for a rotated key), writing its warnings.
pub fn reload_remote(
    remote: &Remote,
    kid: Option<&str>,
    ctx: &Ctx,
    op: &'static str,
) -> Result<Keyring> {
    let mut notes = keys::remote::Notes::default();
    let loaded = keys::remote::load(remote, ctx.now, kid, &mut notes);
    record_notes(remote, &notes, ctx, op, loaded.is_ok())?;
    let fetched = loaded?;
    record_load(ctx, op, &notes, fetched.freshness)?;
    Ok(Keyring::Set(fetched.set))
}

/// What `--log-level debug` adds: a DEBUG record `key_set_loaded` for each load of a remote
/// key set, with its URL (`key_source`) and how it was had (`key_fetch`: `cache`, `network`,
/// `revalidated` or `stale`). A batch that meets a rotated key loads the set again mid-stream;
/// only these records show when.
///
/// Invariant: no record names a token refused before its signature checked out (SECURITY.md).
/// The set is loaded before the token is verified, so the record never names the token's `kid`
/// (a kid the cached set lacks makes it fetch again): a forged token's kid, chosen by whoever
/// sent it, would otherwise reach the log. The operation's own record names the kid once the
/// token is verified.
fn record_load(
    ctx: &Ctx,
    op: &'static str,
    notes: &keys::remote::Notes,
    freshness: keys::remote::Freshness,
) -> Result<()> {
    if !ctx.audit.keeps(tracing::Level::DEBUG) {
        return Ok(());
    }
    let r = Record {
        op,
        event: Some("key_set_loaded"),
        outcome: "detail",
        key_source: notes.url.clone(),
        key_fetch: Some(freshness.word()),
        ..Record::default()
    };
    ctx.audit.emit(tracing::Level::DEBUG, &r)
}

/// The WARN records a remote load asked for (each naming the URL, and the kid of an ignored
/// member). Only a stale copy is also said on stderr, and only when the load succeeded (a
/// failed operation's stderr is its one error line); the others are for the auditor.
fn record_notes(
    remote: &Remote,
    notes: &keys::remote::Notes,
    ctx: &Ctx,
    op: &'static str,
    loaded: bool,
) -> Result<()> {
    for warning in &notes.warnings {
        let what = match warning.event {
            "jwks_stale" => notes.url.as_deref().unwrap_or("the key set"),
            "discovery_stale" => "the discovery document",
            _ => "",
        };
        if let Some(said) = warning.said.as_deref().filter(|_| loaded) {
            crate::sys::eprint_line(&format!("jwtctl: warning: {said}"));
        }
        if loaded && !what.is_empty() {
            crate::sys::eprint_line(&format!(
                "jwtctl: warning: {what} could not be fetched; using a cached copy up to 24h old"
            ));
        }
        if let (true, "ca_file_exposed", Some(path)) =
            (loaded, warning.event, remote.policy.ca_file.as_deref())
        {
            crate::sys::eprint_line(&format!(
                "jwtctl: warning: --ca-file {p} can be changed by other users; run chmod go-w {p}",
                p = path.display()
            ));
        }
        ctx.audit
            .warning_about(op, warning.event, warning.kid.clone(), notes.url.clone())?;
    }
    Ok(())
}

/// Where the key comes from: `--jwks`, else the key flags, the environment or the default file.
fn source(args: &KeyArgs, jwks: Option<&Path>) -> Result<Source> {
    match jwks {
        Some(path) => Ok(Source::JwkSet(path.to_path_buf())),
        None => keys::resolve_source(
            args.key_file.as_deref(),
            args.secret_env.as_deref(),
            env_var,
        ),
    }
}

/// How a record names a local key source: `file` (a key file, the default key, a `--jwks`
/// file), `env` (a secret in an environment variable), or a token's PKCS#11 URI (which never
/// holds a PIN).
fn local_source_word(source: &Source) -> String {
    match source {
        Source::Env(_) => "env".to_owned(),
        Source::File(_) | Source::DefaultFile(_) | Source::JwkSet(_) => "file".to_owned(),
        Source::Pkcs11(uri) => uri.to_string(),
    }
}

/// A key in a PKCS#11 token: the module is loaded only here, when a `pkcs11:` URI names the
/// key. `issue` and `refresh` open its private key (logging in with the PIN); other commands
/// need only its public half.
fn token_key(uri: &keys::pkcs11::Uri, args: &KeyArgs, ctx: &Ctx, rec: &Record) -> Result<Keyring> {
    if args.password_file.is_some() || args.password_env.is_some() {
        return Err(Error::usage(
            "a key in a PKCS#11 token has no password; its PIN comes from the URI's \
             pin-source=file:PATH or JWTCTL_PKCS11_PIN",
        ));
    }
    let pin = token_pin(uri, ctx, rec)?;
    let signing = matches!(rec.op, "issue" | "refresh");
    keys::pkcs11::open(uri, pin.as_ref(), signing, env_var).map(Keyring::One)
}

/// The token's PIN: the file the URI's `pin-source` names (judged as a key file is: refused when
/// another user could replace it, warned about when others can read it), else
/// `JWTCTL_PKCS11_PIN`; never from the command line.
pub(super) fn token_pin(
    uri: &keys::pkcs11::Uri,
    ctx: &Ctx,
    rec: &Record,
) -> Result<Option<Secret>> {
    let Some(path) = &uri.pin_source else {
        // Less one trailing newline, as from a file: a secret mounted into the environment
        // keeps its file's, and a PIN sent with it spends one of the token's few tries.
        let Some(value) = env_var(keys::pkcs11::PIN_VAR).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let bytes = value.as_bytes();
        let pin = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(bytes);
        if blank(pin) {
            return Err(Error::key(format!(
                "{} is blank; export the token's PIN in it",
                keys::pkcs11::PIN_VAR
            )));
        }
        return Ok(Some(Secret::new(pin.to_vec())));
    };
    let contents = crate::trusted::read(path).map_err(|e| match e {
        ReadError::Io(e) => Error::key(format!(
            "cannot read the PIN file {}: {}; check the URI's pin-source",
            path.display(),
            crate::error::io_words(&e)
        )),
        ReadError::Refused(refusal) => Error::key(refusal.message("PIN file", path)),
    })?;
    let bytes = contents.bytes;
    let pin = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(&bytes);
    if blank(pin) {
        return Err(Error::key(format!(
            "the PIN file {} is empty; put the token's PIN in it",
            path.display()
        )));
    }
    warn_if_loose(path, contents.mode, "PIN file", true, ctx, rec)?;
    Ok(Some(Secret::new(pin.to_vec())))
}

/// Find, read and load the keys. `create` lets `issue` make `./jwtctl.key` when no source is
/// named and it is missing.
fn load_keys(
    args: &KeyArgs,
    jwks: Option<&Path>,
    ctx: &Ctx,
    rec: &Record,
    create: bool,
) -> Result<Keyring> {
    let source = source(args, jwks)?;
    if let Source::Pkcs11(uri) = &source {
        return token_key(uri, args, ctx, rec);
    }
    // Read before a default key may be created: a flag that fails leaves no key behind.
    let options = load_options(args, ctx, rec)?;
    let material = match keys::read_source(&source, env_var)? {
        Some(material) => material,
        None => default_key(&source, args, ctx, rec, create)?,
    };
    let ring = Keyring::load(&source, &material.secret, &options)?;
    if let (Some(path), Some(mode)) = (source.file(), material.mode) {
        warn_if_loose(path, mode, "key file", ring.has_secret(), ctx, rec)?;
    }
    Ok(ring)
}

/// The password and secret encoding the key flags give.
fn load_options(args: &KeyArgs, ctx: &Ctx, rec: &Record) -> Result<LoadOptions> {
    let encoding = match args.secret_encoding {
        SecretEncodingArg::Raw => SecretEncoding::Raw,
        SecretEncodingArg::Base64 => SecretEncoding::Base64,
        SecretEncodingArg::Base64url => SecretEncoding::Base64Url,
        SecretEncodingArg::Hex => SecretEncoding::Hex,
    };
    let password = password(
        args.password_file.as_deref(),
        args.password_env.as_deref(),
        ctx,
        rec,
    )?;
    Ok(LoadOptions { password, encoding })
}

/// A password from a file (less one trailing newline) or an environment variable, never from
/// the command line.
///
/// Invariant: a password is never empty (a key "encrypted" with "" is a key in the clear), and
/// a password file gets the key files' rule: one that other users can read or change is warned
/// about, on stderr and with a WARN record (`password_file_exposed`).
pub fn password(
    file: Option<&Path>,
    var: Option<&str>,
    ctx: &Ctx,
    rec: &Record,
) -> Result<Option<Secret>> {
    let empty = |what: String| {
        Error::key(format!(
            "{what} is empty; a key encrypted with an empty password is not protected, so put \
             a password in it"
        ))
    };
    if let Some(path) = file {
        let contents = crate::trusted::read(path).map_err(|e| match e {
            // A password typed where its file's path belongs is not echoed: one that opens no
            // file and has no directory part may be the password itself.
            ReadError::Io(_)
                if crate::escape::looks_like_material(path)
                    || !path.to_string_lossy().contains('/') =>
            {
                Error::key(
                    "the --password-file value names no readable file (not shown: it may be \
                     the password itself); give the path of a file holding the password, or \
                     use --password-env NAME"
                        .to_owned(),
                )
            }
            ReadError::Io(e) => Error::key(format!(
                "cannot read the password file {}: {}",
                path.display(),
                crate::error::io_words(&e)
            )),
            ReadError::Refused(refusal) => Error::key(refusal.message("password file", path)),
        })?;
        let bytes = contents.bytes;
        let trimmed = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(&bytes);
        if blank(trimmed) {
            return Err(empty(format!("the password file {}", path.display())));
        }
        warn_if_loose(path, contents.mode, "password file", true, ctx, rec)?;
        return Ok(Some(Secret::new(trimmed.to_vec())));
    }
    let Some(name) = var else { return Ok(None) };
    match std::env::var_os(name).filter(|v| !v.is_empty()) {
        Some(value) if blank(value.as_encoded_bytes()) => {
            Err(empty(format!("the --password-env variable {name}")))
        }
        Some(value) => Ok(Some(Secret::new(value.into_encoded_bytes()))),
        None => Err(Error::key(
            "the --password-env variable is unset or empty; export the password in it",
        )),
    }
}

/// Whether a password holds nothing but whitespace, NULs and byte-order marks: what an editor
/// or `echo` leaves in a file meant to hold one, never a password anyone chose.
fn blank(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        rest = rest.trim_ascii_start();
        if let Some(after) = rest.strip_prefix(b"\xEF\xBB\xBF".as_slice()) {
            rest = after;
        } else if let Some(after) = rest.strip_prefix(b"\0".as_slice()) {
            rest = after;
        } else {
            return rest.is_empty();
        }
    }
}

/// The default key file that does not exist yet: `issue` creates it (and says so); any other
/// command is told where a key can come from.
fn default_key(
    source: &Source,
    args: &KeyArgs,
    ctx: &Ctx,
    rec: &Record,
    create: bool,
) -> Result<Material> {
    let Source::DefaultFile(path) = source else {
        return Err(Error::key("the key source holds no key"));
    };
    if !create {
        return Err(Error::key(format!(
            "no key: pass --key-file PATH, --secret-env NAME or --jwks PATH, or set {} or {} \
             (./{} does not exist)",
            keys::KEY_FILE_VAR,
            keys::SECRET_VAR,
            keys::DEFAULT_KEY_FILE
        )));
    }
    if !matches!(
        args.secret_encoding,
        SecretEncodingArg::Raw | SecretEncodingArg::Base64url
    ) {
        // The new key would be created only to be refused.
        return Err(Error::usage(format!(
            "--secret-encoding cannot read the key issue would create ({} holds base64url \
             text); drop --secret-encoding or pass --key-file",
            path.display()
        )));
    }
    if keys::create_default_key(path)? {
        crate::sys::eprint_line(&format!(
            "jwtctl: created a new HMAC key in {} (mode 0600); keep it secret",
            path.display()
        ));
        ctx.audit.warning(rec.op, "key_created")?;
    }
    keys::read_source(source, env_var)?
        .ok_or_else(|| Error::key(format!("cannot read key file {}", path.display())))
}

/// Warn, on stderr and with a WARN record, about a key or password file other users can get at
/// (see `keys::loose_mode`). A warning, not a refusal: the file still works, and fixing it is
/// one chmod.
fn warn_if_loose(
    path: &Path,
    mode: u32,
    what: &'static str,
    secret: bool,
    ctx: &Ctx,
    rec: &Record,
) -> Result<()> {
    let Some(mode) = keys::loose_mode(mode, secret) else {
        return Ok(());
    };
    let (who, fix) = if secret {
        ("read or changed", "600")
    } else {
        ("changed", "go-w")
    };
    crate::sys::eprint_line(&format!(
        "jwtctl: warning: {what} {p} can be {who} by other users (mode {mode:04o}); \
         run chmod {fix} {p}",
        p = path.display()
    ));
    let event = match what {
        "key file" => "key_file_exposed",
        "PIN file" => "pin_file_exposed",
        _ => "password_file_exposed",
    };
    ctx.audit.warning(rec.op, event)
}

/// The signing key and its one algorithm, for `issue`.
/// With a key ring (`ring`), the key `kid` names, else the newest one in use.
pub fn signing_key(
    args: &KeyArgs,
    ring: Option<&Path>,
    kid: Option<&str>,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<(Key, Algorithm)> {
    if ring.is_none() {
        // The record names where the key came from: the token's URI for a key in a token.
        if let Source::Pkcs11(uri) = source(args, None)? {
            rec.key_source = Some(uri.to_string());
        }
    }
    let key = match load_keys(args, ring, ctx, rec, ring.is_none())? {
        Keyring::One(key) => key,
        Keyring::Set(set) => set.into_signing_key(kid)?,
    };
    let alg = match algorithms(args).as_slice() {
        [] => key.pick_alg(None)?,
        [one] => key.pick_alg(Some(*one))?,
        _ => {
            return Err(Error::usage(
                "issue signs with one algorithm; give --alg once",
            ));
        }
    };
    rec.alg = Some(crate::token::alg_name(alg));
    judge_signing_strength(&key, alg, args.allow_weak_secret, ctx, rec.op)?;
    Ok((key, alg))
}

/// Invariant: a key signs only with an algorithm its strength was judged for. An HMAC secret
/// too short for `alg` (the algorithm it is about to sign with, not the one it was loaded or
/// verified for) is refused, or let through by `--allow-weak-secret` and that loosening said
/// and recorded (`weak_secret_allowed`).
pub fn judge_signing_strength(
    key: &Key,
    alg: Algorithm,
    allow_weak: bool,
    ctx: &Ctx,
    op: &'static str,
) -> Result<()> {
    if key.check_strength(alg, allow_weak)? {
        super::loosened(ctx, op, "weak_secret_allowed", WEAK_SAID, None)?;
    }
    Ok(())
}

/// What `--allow-weak-secret` letting a short HMAC secret through says on stderr.
const WEAK_SAID: &str = "the HMAC secret is shorter than its algorithm's hash (RFC 7518 §3.2), \
    accepted because of --allow-weak-secret (recorded); replace it with a longer one";

/// Where verification takes its keys from: a key source, or a remote JWK Set.
pub enum KeySet<'a> {
    Local(Option<&'a Path>),
    /// A remote set, and the kid of the token about to be checked (a kid the cached set lacks
    /// triggers a refetch).
    Remote(&'a Remote, Option<&'a str>),
}

/// The keys a token is checked against (`--jwks`, `--jwks-url`, `--oidc`, or one key) and the
/// algorithms accepted.
pub fn verifying_keys(
    args: &KeyArgs,
    set: KeySet,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<(Keyring, Vec<Algorithm>)> {
    let mut ring = match set {
        KeySet::Local(jwks) => {
            // Every verification's record names where its keys came from, as a remote one does.
            rec.key_source = Some(local_source_word(&source(args, jwks)?));
            load_keys(args, jwks, ctx, rec, false)?
        }
        KeySet::Remote(remote, kid) => remote_keys(remote, kid, ctx, rec)?,
    };
    let algs = ring.algorithms(&algorithms(args))?;
    if let [one] = algs.as_slice() {
        rec.alg = Some(crate::token::alg_name(*one));
    }
    if ring.check_strength(&algs, args.allow_weak_secret)? {
        super::loosened(ctx, rec.op, "weak_secret_allowed", WEAK_SAID, None)?;
    }
    Ok((ring, algs))
}
