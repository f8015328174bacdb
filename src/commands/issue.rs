//! `jwtctl issue`: sign a new token with `iat`, `exp` and a random `jti`.

use serde_json::Value;

use super::{Ctx, Done, new_jti, read_stdin, signing_key};
use crate::audit::{Record, TokenDigest};
use crate::cli::IssueArgs;
use crate::error::io_words;
use crate::error::{Error, Result};
use crate::token::{self, Claims, IssueRequest};

pub fn run(args: &IssueArgs, ctx: &Ctx, rec: &mut Record) -> Result<Done> {
    // Every argument is checked before ./jwtctl.key may be created: a mistake leaves no key.
    let mut request = IssueRequest {
        base: read_claims_file(args)?,
        claim_flags: args.claims.clone(),
        sub: args.sub.clone(),
        iss: args.iss.clone(),
        aud: args.aud.clone(),
        ttl_secs: i64::try_from(args.ttl.as_secs())
            .map_err(|_| Error::usage("--ttl is too long"))?,
        kid: args.kid.clone(),
        nbf: args.nbf.map(|t| t.resolve(ctx.now)),
        iat: args.iat.map(|t| t.resolve(ctx.now)),
        exp: args.exp.map(|t| t.resolve(ctx.now)),
    };
    token::issue_claims(&request, ctx.now, "")?;
    let jti = match &args.jti {
        Some(jti) if jti.is_empty() => return Err(Error::usage("--jti needs a non-empty id")),
        Some(jti) => jti.clone(),
        None => new_jti()?,
    };
    refuse_alg_for_default_key(args)?;
    let (key, alg) = signing_key(
        &args.key,
        args.jwks.as_deref(),
        args.kid.as_deref(),
        ctx,
        rec,
    )?;
    request.kid = request.kid.or_else(|| key.default_kid());
    let signer = key.signer("issue", alg, request.kid.clone())?;
    let claims = token::issue_claims(&request, ctx.now, &jti)?;
    rec.sub = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
    rec.iss = claims.get("iss").and_then(Value::as_str).map(str::to_owned);
    rec.kid = request.kid.clone();
    rec.exp = claims.get("exp").and_then(Value::as_i64);
    // Times set by flag (a test token) are recorded, so the log shows the token was made so.
    rec.iat = request.iat;
    rec.nbf = request.nbf;
    rec.jti = Some(jti);
    let token = token::sign(&claims, Some(&args.typ), &signer)?;
    rec.token = Some(TokenDigest::of(&token));
    Ok(Done::Print(super::token_output(&token, rec, args.output)))
}

/// The default key `issue` creates is an HMAC secret: an `--alg` it cannot serve is refused
/// before the key is made, with what to do instead.
fn refuse_alg_for_default_key(args: &IssueArgs) -> Result<()> {
    // The one precedence rule (keys::resolve_source) decides whether the default key is used.
    let source = crate::keys::resolve_source(
        args.key.key_file.as_deref(),
        args.key.secret_env.as_deref(),
        |name| std::env::var(name).ok(),
    );
    let no_source =
        args.jwks.is_none() && matches!(source, Ok(crate::keys::Source::DefaultFile(_)));
    let asymmetric = args.key.alg.iter().any(|a| {
        !matches!(
            a,
            crate::cli::Alg::HS256 | crate::cli::Alg::HS384 | crate::cli::Alg::HS512
        )
    });
    if no_source && asymmetric && !std::path::Path::new(crate::keys::DEFAULT_KEY_FILE).exists() {
        return Err(Error::usage(
            "--alg names an asymmetric algorithm, but no key is given and the default key is \
             an HMAC secret; make a key (jwtctl key gen --out key.pem) and pass --key-file",
        ));
    }
    Ok(())
}

/// The `--claims FILE|-` object, or no claims.
fn read_claims_file(args: &IssueArgs) -> Result<Claims> {
    let Some(path) = &args.claims_file else {
        return Ok(Claims::new());
    };
    let text = if path.as_os_str() == "-" {
        read_stdin("a JSON object of claims", Error::usage)?
    } else {
        let bytes = crate::sys::read_file_bounded(path).map_err(|e| {
            if crate::escape::looks_like_material(path) {
                return Error::usage(crate::escape::not_a_file(
                    "--claims",
                    "give the path of a JSON file of claims, or - for stdin",
                ));
            }
            Error::io(format!(
                "cannot read claims file {}: {}",
                path.display(),
                io_words(&e)
            ))
        })?;
        String::from_utf8(bytes)
            .map_err(|_| Error::usage(format!("--claims {} is not UTF-8 JSON", path.display())))?
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(Error::usage(format!(
            "--claims {} is not a JSON object; give one like {{\"role\":\"admin\"}}",
            path.display()
        ))),
    }
}
