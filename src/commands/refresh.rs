//! `jwtctl refresh`: verify a token exactly as `verify` does, then re-issue it.

use super::{Ctx, load_key, new_jti, note_verified, policy, read_token};
use crate::audit::Record;
use crate::cli::RefreshArgs;
use crate::error::{Error, Result};
use crate::token;

pub fn run(args: &RefreshArgs, ctx: &Ctx, rec: &mut Record) -> Result<String> {
    let (key, alg) = load_key(&args.check.key, ctx, rec, false)?;
    let encoding = key.encoding("refresh")?;
    let input = read_token(args.check.token.as_deref())?;
    let verified = token::verify(
        token::token_text(&input),
        key.decoding(),
        &policy(&args.check, alg),
        ctx.now,
    )?;
    note_verified(rec, &verified);
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
    Ok(format!("{token}\n"))
}
