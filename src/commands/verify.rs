//! `jwtctl verify`: check a token with a pinned algorithm and print its claims.

use super::{Ctx, load_key, note_verified, policy, read_token};
use crate::audit::Record;
use crate::cli::VerifyArgs;
use crate::error::Result;
use crate::token;

pub fn run(args: &VerifyArgs, ctx: &Ctx, rec: &mut Record) -> Result<String> {
    let (key, alg) = load_key(&args.check.key, ctx, rec, false)?;
    let input = read_token(args.check.token.as_deref())?;
    let verified = token::verify(
        token::token_text(&input),
        key.decoding(),
        &policy(&args.check, alg),
        ctx.now,
    )?;
    note_verified(rec, &verified);
    let claims = serde_json::to_string(&verified.claims).unwrap_or_default();
    Ok(format!("{claims}\n"))
}
