//! `jwtctl refresh`: verify a token exactly as `verify` does, then re-issue it.

use super::{Ctx, check_token, load_key, new_jti};
use crate::audit::{Record, token_sha256};
use crate::cli::RefreshArgs;
use crate::error::{Error, Result};
use crate::token;

pub fn run(args: &RefreshArgs, ctx: &Ctx, rec: &mut Record) -> Result<String> {
    let (key, alg) = load_key(&args.check.key, ctx, rec, false)?;
    let encoding = key.encoding("refresh")?;
    let verified = check_token(&args.check, &key, alg, ctx, rec, true)?;
    let ttl = i64::try_from(args.ttl.as_secs()).map_err(|_| Error::usage("--ttl is too long"))?;
    let jti = new_jti()?;
    let claims = token::refresh_claims(&verified, ctx.now, ttl, &jti);
    rec.parent_jti = rec.jti.replace(jti);
    rec.exp = claims.get("exp").and_then(serde_json::Value::as_i64);
    let token = token::sign(
        &claims,
        alg,
        verified.header_str("kid"),
        verified.header_str("typ"),
        encoding,
    )?;
    rec.token_sha256 = Some(token_sha256(&token));
    Ok(format!("{token}\n"))
}
