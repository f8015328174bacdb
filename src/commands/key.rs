//! `jwtctl key gen|public|thumbprint`: make a key, publish its public half, name it.

use std::path::Path;

use serde_json::{Value, json};

use super::{Ctx, Done, algorithm, any_keys};
use crate::audit::Record;
use crate::cli::{Curve, KeyAction, KeyFormat, KeyGenArgs, KeyPublicArgs, KeyThumbprintArgs};
use crate::cli::{KeyType, PublicFormat};
use crate::error::{Error, Result, io_words};
use crate::keys::{self, Key, KeyKind, Keyring, Spec};

pub fn run(action: &KeyAction, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    match action {
        KeyAction::Gen(args) => generate(args, ctx, rec),
        KeyAction::Public(args) => public(args, ctx, rec),
        KeyAction::Thumbprint(args) => thumbprint(args, ctx, rec),
        KeyAction::Retire(args) => {
            rec.kid = Some(args.kid.clone());
            keys::ring::retire(&args.ring, &args.kid)?;
            Ok(Done::Print(String::new()))
        }
        KeyAction::Remove(args) => {
            rec.kid = Some(args.kid.clone());
            keys::ring::remove(&args.ring, &args.kid)?;
            Ok(Done::Print(String::new()))
        }
    }
}

fn kind_of(args: &KeyGenArgs) -> KeyKind {
    match (args.key_type, args.curve) {
        (KeyType::Hmac, _) => KeyKind::Hmac,
        (KeyType::Rsa, _) => KeyKind::Rsa,
        (KeyType::Ec, Curve::P256) => KeyKind::EcP256,
        (KeyType::Ec, Curve::P384) => KeyKind::EcP384,
        (KeyType::Ec, Curve::P521) => KeyKind::EcP521,
        (KeyType::Ed25519, _) => KeyKind::Ed25519,
    }
}

/// The name a record and the stderr line give a kind of key.
fn type_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Hmac => "hmac",
        KeyKind::Rsa => "rsa",
        KeyKind::EcP256 | KeyKind::EcP384 | KeyKind::EcP521 => "ec",
        KeyKind::Ed25519 => "ed25519",
    }
}

fn generate(args: &KeyGenArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let spec = Spec {
        kind: kind_of(args),
        rsa_bits: args.bits,
        alg: args.alg.map(algorithm),
    };
    if let Some(uri) = &args.pkcs11 {
        return generate_in_token(uri, spec, ctx, rec);
    }
    if let Some(out) = args.out.as_deref().filter(|o| o.as_os_str() != "-")
        && !args.force
        && out.exists()
    {
        return Err(exists(out));
    }
    // Judged before the key is made: a bad password file leaves nothing behind.
    let password = match &args.out {
        Some(_) => super::password(
            args.password_file.as_deref(),
            args.password_env.as_deref(),
            ctx,
            rec,
        )?,
        None => None,
    };
    let mut generated = keys::generate(spec)?;
    if let Some(kid) = &args.kid {
        generated.key.jwk_kid = Some(kid.clone());
    }
    rec.kid = generated.key.jwk_kid.clone();
    rec.alg = Some(crate::token::alg_name(generated.key.pick_alg(None)?));
    rec.key_type = Some(type_name(spec.kind));
    let made = describe(&generated.key, spec, rec.kid.as_deref());
    let Some(out) = &args.out else {
        let ring = args.add_to.as_deref().unwrap_or(Path::new("keys.json"));
        keys::ring::add(ring, generated.private_jwk()?)?;
        crate::sys::eprint_line(&format!("jwtctl: added {made} to {}", ring.display()));
        return Ok(Done::Print(String::new()));
    };
    let text = match (args.format, &password) {
        (KeyFormat::Pem, None) => generated.pem(),
        (KeyFormat::Pem, Some(password)) => generated.encrypted_pem(password)?,
        (KeyFormat::Jwk, None) => format!("{}\n", Value::from(generated.private_jwk()?)),
        (KeyFormat::Jwk, Some(_)) => {
            return Err(Error::usage(
                "a password encrypts PEM keys only; drop --format jwk",
            ));
        }
    };
    if out.as_os_str() == "-" {
        crate::sys::eprint_line(&format!(
            "jwtctl: made {made}; it is on stdout, keep it secret"
        ));
        return Ok(Done::Print(text));
    }
    write_key(out, &text, args.force)?;
    crate::sys::eprint_line(&format!(
        "jwtctl: made {made} in {} (mode 0600)",
        out.display()
    ));
    Ok(Done::Print(String::new()))
}

/// `key gen --pkcs11 URI`: the key pair made in the token, its public JWK on stdout (kid the
/// thumbprint, as `issue` names a token key by default). Judged before the module is loaded: the
/// URI, the type and algorithm, the PIN.
fn generate_in_token(text: &str, spec: Spec, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    if !keys::pkcs11::is_uri(text.as_bytes()) {
        return Err(Error::usage(
            "--pkcs11 takes a PKCS#11 URI naming the token and the new key's label, e.g.              'pkcs11:token=ci;object=jwt-signing'",
        ));
    }
    let uri = keys::pkcs11::parse(text)?;
    rec.key_source = Some(uri.to_string());
    rec.key_type = Some(type_name(spec.kind));
    let alg = spec.alg.unwrap_or(spec.kind.default_alg());
    if !spec.kind.serves(alg) {
        return Err(Error::usage(format!(
            "--alg {alg:?} does not fit {}",
            spec.kind.describe()
        )));
    }
    let pin = super::keys::token_pin(&uri, ctx, rec)?;
    let token_spec = keys::pkcs11::TokenSpec {
        kind: spec.kind,
        rsa_bits: spec.rsa_bits,
    };
    let made = keys::pkcs11::generate(&uri, pin.as_ref(), token_spec, super::keys::env_var)?;
    let jwk = made.key.public_jwk(Some(alg))?;
    rec.kid = made.key.default_kid();
    rec.alg = Some(crate::token::alg_name(alg));
    let named = keys::pkcs11::Uri {
        id: Some(made.id.clone()),
        module_path: None,
        pin_source: None,
        ..uri
    };
    crate::sys::eprint_line(&format!(
        "jwtctl: made {} in the token '{}' as {named}; it cannot leave the token (sensitive, \
         not extractable); its public JWK is on stdout",
        describe(&made.key, spec, rec.kid.as_deref()),
        made.token.escape_debug()
    ));
    Ok(Done::Print(format!("{}\n", Value::from(jwk))))
}

fn exists(path: &Path) -> Error {
    Error::usage(format!(
        "{} exists; pass --force to replace it, or choose another --out",
        path.display()
    ))
}

/// `an Ed25519 key (EdDSA, kid ...)` for the stderr line.
fn describe(key: &Key, spec: Spec, kid: Option<&str>) -> String {
    let size = match spec.kind {
        KeyKind::Rsa => format!(" of {} bits", spec.rsa_bits),
        _ => String::new(),
    };
    let alg = spec
        .alg
        .map_or_else(|| key.pick_alg(None), Ok)
        .map(|a| format!("{a:?}"))
        .unwrap_or_default();
    let kid = kid.map(|k| format!(", kid {k}")).unwrap_or_default();
    format!("{}{size} ({alg}{kid})", key.kind.describe())
}

fn write_key(path: &Path, text: &str, force: bool) -> Result<()> {
    keys::write_private_file(path, text.as_bytes(), force).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            exists(path)
        } else {
            Error::key(format!("cannot write {}: {}", path.display(), io_words(&e)))
        }
    })
}

fn public(args: &KeyPublicArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let ring = any_keys(&args.key, args.jwks.as_deref(), ctx, rec)?;
    let alg = match args.key.alg.as_slice() {
        [] => None,
        [one] => Some(algorithm(*one)),
        _ => return Err(Error::usage("give --alg once: a JWK names one algorithm")),
    };
    let text = match args.format {
        PublicFormat::Jwks => {
            let keys = publishable(&ring)?
                .into_iter()
                .map(|k| {
                    k.public_jwk(alg.filter(|a| k.kind.serves(*a)))
                        .map(Value::from)
                })
                .collect::<Result<Vec<_>>>()?;
            json!({ "keys": keys }).to_string()
        }
        PublicFormat::Jwk => Value::from(only_key(&ring)?.public_jwk(alg)?).to_string(),
        PublicFormat::Pem => only_key(&ring)?.public_pem()?.trim_end().to_string(),
    };
    if let Ok(key) = only_key(&ring) {
        rec.kid = key.default_kid();
        rec.key_type = Some(type_name(key.kind));
    }
    Ok(Done::Print(format!("{text}\n")))
}

/// The keys of a ring that have a public half: an HMAC secret has none (refused when it is the
/// only key; skipped in a set).
fn publishable(ring: &Keyring) -> Result<Vec<&Key>> {
    let keys: Vec<&Key> = ring
        .keys()
        .iter()
        .filter(|k| k.kind != KeyKind::Hmac)
        .collect();
    if keys.is_empty() {
        return Err(Error::key(
            "an HMAC secret has no public half to publish; use an asymmetric key \
             (jwtctl key gen --type ed25519)",
        ));
    }
    Ok(keys)
}

/// The one key to print a JWK or PEM of.
fn only_key(ring: &Keyring) -> Result<&Key> {
    match publishable(ring)?.as_slice() {
        [one] => Ok(one),
        many => Err(Error::usage(format!(
            "the JWK Set has {} keys with a public half; use --format jwks",
            many.len()
        ))),
    }
}

fn thumbprint(args: &KeyThumbprintArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    let ring = any_keys(&args.key, None, ctx, rec)?;
    let key = only_key(&ring)?;
    let print = keys::thumbprint(&key.public)?;
    rec.kid = Some(print.clone());
    rec.key_type = Some(type_name(key.kind));
    Ok(Done::Print(format!("{print}\n")))
}
