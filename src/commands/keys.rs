//! Key material for a command: where it comes from (flags, environment, default file), whether
//! its file is exposed, and which algorithms it is pinned to.

use std::path::Path;

use jsonwebtoken::Algorithm;

use super::Ctx;
use crate::audit::Record;
use crate::cli::{Alg, KeyArgs};
use crate::error::{Error, Result};
use crate::keys::{self, JwkSet, Key, Keyring, Source};

fn env_var(name: &str) -> Option<String> {
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
        Alg::EdDSA => Algorithm::EdDSA,
    }
}

fn algorithms(args: &KeyArgs) -> Vec<Algorithm> {
    args.alg.iter().copied().map(algorithm).collect()
}

/// Find, read and classify the key. `create` lets `issue` make `./jwtctl.key` when no source
/// is named and it is missing.
fn read_key(args: &KeyArgs, ctx: &Ctx, rec: &Record, create: bool) -> Result<Key> {
    let source = keys::resolve_source(
        args.key_file.as_deref(),
        args.secret_env.as_deref(),
        env_var,
    )?;
    let material = match (keys::read_source(&source, env_var)?, &source) {
        (Some(material), _) => material,
        (None, Source::DefaultFile(path)) if create => {
            if keys::create_default_key(path)? {
                crate::sys::eprint_line(&format!(
                    "jwtctl: created a new HMAC key in {} (mode 0600); keep it secret",
                    path.display()
                ));
                ctx.audit.warning(rec.op, "key_created")?;
            }
            keys::read_source(&source, env_var)?
                .ok_or_else(|| Error::key(format!("cannot read key file {}", path.display())))?
        }
        (None, _) => {
            return Err(Error::key(format!(
                "no key: pass --key-file PATH, --secret-env NAME or --jwks PATH, or set {} or {} \
                 (./{} does not exist)",
                keys::KEY_FILE_VAR,
                keys::SECRET_VAR,
                keys::DEFAULT_KEY_FILE
            )));
        }
    };
    let key = keys::classify(&material)?;
    if let Source::File(path) | Source::DefaultFile(path) = &source {
        warn_if_loose(path, key.can_sign(), ctx, rec)?;
    }
    Ok(key)
}

/// Warn, on stderr and with a WARN record, about a key file other users can get at (see
/// `keys::loose_mode`). A warning, not a refusal: the key still works, and fixing it is one chmod.
fn warn_if_loose(path: &Path, secret: bool, ctx: &Ctx, rec: &Record) -> Result<()> {
    let Some(mode) = keys::loose_mode(path, secret) else {
        return Ok(());
    };
    let (who, fix) = if secret {
        ("read or changed", "600")
    } else {
        ("changed", "go-w")
    };
    crate::sys::eprint_line(&format!(
        "jwtctl: warning: key file {p} can be {who} by other users (mode {mode:04o}); \
         run chmod {fix} {p}",
        p = path.display()
    ));
    ctx.audit.warning(rec.op, "key_file_exposed")
}

/// The signing key and its one algorithm, for `issue`.
pub fn signing_key(args: &KeyArgs, ctx: &Ctx, rec: &mut Record) -> Result<(Key, Algorithm)> {
    let key = read_key(args, ctx, rec, true)?;
    let alg = match algorithms(args).as_slice() {
        [] => key.pick_alg(None)?,
        [one] => key.pick_alg(Some(*one))?,
        _ => {
            return Err(Error::usage(
                "issue signs with one algorithm; give --alg once",
            ));
        }
    };
    rec.alg = Some(format!("{alg:?}"));
    if key.check_strength(alg, args.allow_weak_secret)? {
        ctx.audit.warning(rec.op, "weak_secret_allowed")?;
    }
    Ok((key, alg))
}

/// The keys a token is checked against (`--jwks`, or one key) and the algorithms accepted.
pub fn verifying_keys(
    args: &KeyArgs,
    jwks: Option<&Path>,
    ctx: &Ctx,
    rec: &mut Record,
) -> Result<(Keyring, Vec<Algorithm>)> {
    let mut ring = match jwks {
        Some(path) => {
            let material = crate::sys::read_file_bounded(path)
                .map(keys::Secret::new)
                .map_err(|e| {
                    Error::key(format!(
                        "cannot read the JWK Set {}: {}; check --jwks",
                        path.display(),
                        crate::error::io_words(&e)
                    ))
                })?;
            let ring = Keyring::Set(JwkSet::parse(&material)?);
            warn_if_loose(path, ring.keys().iter().any(Key::can_sign), ctx, rec)?;
            ring
        }
        None => Keyring::One(read_key(args, ctx, rec, false)?),
    };
    let algs = ring.algorithms(&algorithms(args))?;
    if let [one] = algs.as_slice() {
        rec.alg = Some(format!("{one:?}"));
    }
    if ring.check_strength(&algs, args.allow_weak_secret)? {
        ctx.audit.warning(rec.op, "weak_secret_allowed")?;
    }
    Ok((ring, algs))
}
